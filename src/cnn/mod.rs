//! The CNN of Table 1 trained by backprop (`bp`), direct feedback alignment (`dfa`) and
//! direct feedback learned by node perturbation (`np_dfa`). See docs/CNN.md.
pub mod bench;
pub mod collect;
pub mod config;
pub mod learner;
pub mod net;
pub mod rules;
pub mod run;
pub mod search;
pub mod train;

pub use bench::{bench, BenchRow};
pub use train::run_experiment;
