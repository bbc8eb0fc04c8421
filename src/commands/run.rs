//! `credit run CONFIG`: one config file of either kind, in this process.
use crate::mlp::{self, shard::Shard};
use crate::{cnn, config, data};
use anyhow::{bail, Result};
use std::path::Path;

/// How to run one config.
pub struct RunArgs<'a> {
    pub quick: bool,
    pub device: tch::Device,
    pub out: &'a Path,
    pub fresh: bool,
    pub shard: Option<Shard>,
}

/// Run one config file of any kind; returns the number of runs.
pub fn run_config(path: &Path, run: &RunArgs) -> Result<usize> {
    let value = config::load_value(path, run.quick)?;
    let data_dir = data::default_data_dir();
    match config::kind_of(&value).as_str() {
        "mlp" => {
            let opts = mlp::RunOptions {
                quick: run.quick,
                device: run.device,
                out_root: run.out.to_path_buf(),
                data_dir,
                fresh: run.fresh,
                shard: run.shard,
            };
            let exp = mlp::Experiment::from_value(value, &path.display().to_string())?;
            Ok(mlp::run_experiment(&exp, &opts)?.1.len())
        }
        "cnn" => {
            let cfg = cnn::config::CnnConfig::resolve(value, false)?;
            let runs = cnn::train::run_experiment_with(
                &cfg, run.device, run.out, &data_dir, run.fresh, run.shard,
            )?;
            if let Some(shard) = run.shard {
                eprintln!(
                    "{}: shard {shard} done; once every shard is, run it again without --shard \
                     to write summary.csv (nothing is retrained)",
                    cfg.experiment
                );
            }
            Ok(runs.len())
        }
        other => bail!(
            "{}: kind '{other}' is unknown; use mlp or cnn",
            path.display()
        ),
    }
}
