//! The CNN of Table 1 trained by backprop (`bp`), direct feedback alignment (`dfa`), direct
//! feedback learned by node perturbation (`np_dfa`), and the peers' layer-wise rules (`fa`,
//! `usf`, `brsf`, `frsf`, `kp`). See docs/CNN.md.
pub mod bench;
pub mod collect;
pub mod config;
pub mod feedback;
pub mod layerwise;
pub mod learner;
pub mod net;
pub mod rules;
pub mod run;
pub mod search;
pub mod train;

pub use bench::{bench, BenchRow};
pub use train::run_experiment;
