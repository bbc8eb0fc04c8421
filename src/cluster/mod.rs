//! Cluster batch jobs: `credit submit` runs an experiment as a Slurm job array (one task per
//! shard, requeued on preemption) and collects it with a dependent job. See docs/CLUSTER.md.
pub mod sbatch;
pub mod submit;

pub use submit::{submit, SubmitArgs, Submitted};
