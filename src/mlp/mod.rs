//! MLP experiments (Fig. 2, 3, 4 and the theory checks), mirroring `crate::cnn`: the schema
//! (`config`), its runs and batched programs (`sweep`), the data (`tasks`), the trainer that
//! owns all state of a program (`trainer`, `streams`), evaluation (`eval`), per-run logs
//! (`log`), the autoencoder's outputs (`autoencoder`), the run loop with checkpoints (`run`),
//! a whole experiment or one shard of it (`experiment`, `shard`, `memory`), collection and
//! status (`collect`), `credit search` (`search`), and `credit bench` (`bench`).
pub mod autoencoder;
pub mod bench;
pub mod collect;
pub mod config;
pub mod engine;
pub mod eval;
pub mod experiment;
pub mod log;
pub mod memory;
pub mod run;
pub mod search;
pub mod shard;
pub mod streams;
pub mod sweep;
pub mod tasks;
pub mod trainer;

pub use config::Experiment;
pub use experiment::{run_experiment, run_file, RunOptions};
pub use trainer::Trainer;
