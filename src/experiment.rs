//! `credit run`: a config file → every group trained → results/<experiment>/.
use crate::config::{self, Experiment};
use crate::output::{write_summary_csv, RunSummary, Status};
use crate::tasks;
use crate::train::train_group;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use tch::Device;

pub struct RunOptions {
    pub quick: bool,
    pub device: Device,
    /// results/ (the experiment's folder goes inside).
    pub out_root: PathBuf,
    pub data_dir: PathBuf,
}

/// Run one MLP experiment file. Returns the experiment folder and its run summaries.
pub fn run_file(path: &Path, opts: &RunOptions) -> Result<(PathBuf, Vec<RunSummary>)> {
    let value = config::load_value(path, opts.quick)?;
    let kind = config::kind_of(&value);
    if kind != "mlp" {
        bail!("{}: kind '{kind}' is not an MLP experiment", path.display());
    }
    let exp = Experiment::from_value(value, &path.display().to_string())?;
    run_experiment(&exp, opts)
}

pub fn run_experiment(exp: &Experiment, opts: &RunOptions) -> Result<(PathBuf, Vec<RunSummary>)> {
    let exp_dir = opts.out_root.join(&exp.experiment);
    std::fs::create_dir_all(&exp_dir).with_context(|| format!("creating {}", exp_dir.display()))?;
    let data = tasks::load(exp, &opts.data_dir, opts.device)?;
    let mut all = Vec::new();
    for group in exp.groups() {
        let result = train_group(exp, &group, &data, opts.device, &exp_dir).with_context(|| {
            format!(
                "{}: training runs[{}] ({})",
                exp.experiment,
                group.spec_index,
                group.spec.rule.name()
            )
        })?;
        for s in &result.summaries {
            if s.status == Status::Diverged {
                eprintln!(
                    "{}: run {} diverged at iteration {}; the others go on",
                    exp.experiment,
                    s.run,
                    s.diverged_at.unwrap_or(0)
                );
            }
        }
        all.extend(result.summaries);
    }
    write_summary_csv(&exp_dir.join("summary.csv"), &all)?;
    Ok((exp_dir, all))
}
