//! `credit run CONFIG`: one config file of either kind, in this process.
use crate::kind::Resolved;
use crate::mlp::{self, shard::Shard};
use crate::{config, data};
use anyhow::Result;
use std::path::Path;

/// How to run one config.
pub struct RunArgs<'a> {
    pub quick: bool,
    pub device: tch::Device,
    pub out: &'a Path,
    pub fresh: bool,
    pub shard: Option<Shard>,
    /// Take programs from the folder's queue beside other workers (MLP only).
    pub queue: bool,
}

/// Run one config file of any kind; returns the number of runs.
pub fn run_config(path: &Path, run: &RunArgs) -> Result<usize> {
    let value = config::load_value(path, run.quick)?;
    let resolved = Resolved::from_value(value, &path.display().to_string())?;
    let opts = mlp::RunOptions {
        quick: run.quick,
        device: run.device,
        out_root: run.out.to_path_buf(),
        data_dir: data::default_data_dir(),
        fresh: run.fresh,
        shard: run.shard,
        queue: run.queue,
    };
    Ok(resolved.train(&opts)?.len())
}
