//! Which kind an experiment is, MLP (`crate::mlp`) or CNN (`crate::cnn`): the one place
//! that asks, for a config file and for an experiment folder, and sends each command to
//! the kind's own code. The kinds differ in what a shard divides: an MLP experiment's
//! batched programs (runs of one shape train together), a CNN experiment's runs.
use crate::cnn::config::CnnConfig;
use crate::mlp::{self, sweep::Group, Experiment};
use crate::output::RunSummary;
use crate::run_folder::RunState;
use anyhow::{bail, Context, Result};
use serde_yaml::Value;
use std::path::Path;

/// A resolved config of either kind.
pub enum Resolved {
    /// An MLP experiment and its batched programs.
    Mlp(Experiment, Vec<Group>),
    Cnn(CnnConfig),
}

impl Resolved {
    /// Validate a loaded config (`quick:` already applied) as its kind's `credit run` does.
    pub fn from_value(value: Value, origin: &str) -> Result<Self> {
        match crate::config::kind_of(&value).as_str() {
            "mlp" => {
                let exp = Experiment::from_value(value, origin)?;
                let programs = mlp::sweep::programs(&exp)?;
                Ok(Resolved::Mlp(exp, programs))
            }
            "cnn" => Ok(Resolved::Cnn(
                CnnConfig::resolve(value, false).with_context(|| origin.to_string())?,
            )),
            other => bail!("{origin}: kind '{other}' is unknown; use mlp or cnn"),
        }
    }

    pub fn experiment(&self) -> &str {
        match self {
            Resolved::Mlp(exp, _) => &exp.experiment,
            Resolved::Cnn(cfg) => &cfg.experiment,
        }
    }

    /// Train it in this process: every run, or one shard's (`opts.shard`); the runs' summaries.
    /// The MLP trains batched programs and writes summary.csv and aggregate.csv; the CNN
    /// trains run by run and writes summary.csv.
    pub fn train(&self, opts: &mlp::RunOptions) -> Result<Vec<RunSummary>> {
        match self {
            Resolved::Mlp(exp, _) => Ok(mlp::run_experiment(exp, opts)?.1),
            Resolved::Cnn(cfg) => {
                if opts.queue {
                    bail!("{}: --queue is for MLP experiments; split a CNN experiment with --shard i/N or --jobs K", cfg.experiment);
                }
                let (out, data) = (&opts.out_root, &opts.data_dir);
                crate::cnn::train::run_experiment_with(
                    cfg,
                    opts.device,
                    out,
                    data,
                    opts.fresh,
                    opts.shard,
                )
            }
        }
    }

    /// The config as experiment.yaml records it.
    pub fn to_value(&self) -> Result<Value> {
        Ok(match self {
            Resolved::Mlp(exp, _) => serde_yaml::to_value(exp)?,
            Resolved::Cnn(cfg) => serde_yaml::to_value(cfg)?,
        })
    }
}

/// The config of a `kind: cnn` experiment folder (its experiment.yaml); None for an MLP one
/// (or a folder without a manifest, which the MLP side names).
fn cnn_folder(exp_dir: &Path) -> Result<Option<CnnConfig>> {
    match crate::folder::read_manifest(exp_dir)? {
        Some(value) if crate::config::kind_of(&value) == "cnn" => {
            let origin = exp_dir.join(crate::folder::MANIFEST);
            let cfg = CnnConfig::resolve(value, false)
                .with_context(|| format!("{}", origin.display()))?;
            Ok(Some(cfg))
        }
        _ => Ok(None),
    }
}

/// `credit collect` of an experiment folder of either kind.
pub fn collect(exp_dir: &Path) -> Result<Vec<RunSummary>> {
    match cnn_folder(exp_dir)? {
        Some(cfg) => crate::cnn::collect::collect(exp_dir, &cfg),
        None => mlp::collect::collect(exp_dir),
    }
}

/// `credit status` of an experiment folder of either kind: each run and its state.
pub fn status(exp_dir: &Path) -> Result<Vec<(String, RunState)>> {
    match cnn_folder(exp_dir)? {
        Some(cfg) => crate::cnn::collect::status(exp_dir, &cfg),
        None => Ok(mlp::collect::status(exp_dir)?
            .into_iter()
            .map(|(run, state, _)| (run, state))
            .collect()),
    }
}
