//! `credit collect` of a `kind: cnn` experiment folder (after `--shard` runs): every run of
//! the recorded config must have finished; summary.csv then gets the bytes one process
//! would have written; `credit status` of one.
use super::config::{CnnConfig, RunPlan};
use crate::checkpoint;
use crate::lock::Lock;
use crate::output::{write_summary_csv, RunSummary};
use crate::run_folder::{record, run_state, Record, RunState};
use anyhow::{bail, Result};
use std::path::Path;

/// Every run of the recorded config with its state, in config order (`credit status`): a
/// summary counts only if the run's folder is whole ([`record`]: its config.yaml is this
/// config's, its metrics.csv complete).
pub fn status(exp_dir: &Path, cfg: &CnnConfig) -> Result<Vec<(String, RunState)>> {
    let ckpt_dir = checkpoint::dir_of(exp_dir);
    let mut out = Vec::new();
    for run in cfg.runs() {
        let dir = exp_dir.join(&run.name);
        let found = record(
            &dir,
            &cfg.experiment,
            &run.name,
            &expected_config(cfg, &run)?,
        )?;
        let running = Lock::is_held(&super::train::lock_path(exp_dir, &run.name));
        let ckpt_at = checkpoint::read_meta(&ckpt_dir, &run.name)?.map(|m| m.iteration);
        out.push((run.name.clone(), run_state(found, running, &dir, ckpt_at)));
    }
    Ok(out)
}

/// The config.yaml a run of `cfg` writes.
fn expected_config(cfg: &CnnConfig, run: &RunPlan) -> Result<String> {
    Ok(serde_yaml::to_string(&serde_yaml::to_value(
        cfg.for_run(run),
    )?)?)
}

/// Each run's summary, in config order, once all have finished; else an error that names the
/// unfinished runs and the `--shard` to rerun for them.
pub fn collect(exp_dir: &Path, cfg: &CnnConfig) -> Result<Vec<RunSummary>> {
    let runs = cfg.runs();
    let shards = crate::folder::recorded_shards(exp_dir);
    let shard_of = |name: &str| -> Option<String> {
        let n = shards?;
        (0..n).find_map(|i| {
            let shard = crate::mlp::shard::Shard { index: i, count: n };
            let mine = cfg.shard_runs(Some(shard)).ok()?;
            mine.iter()
                .any(|r| r.name == name)
                .then(|| format!("--shard {shard}"))
        })
    };
    let mut done = Vec::new();
    let mut missing = Vec::new();
    for run in &runs {
        let dir = exp_dir.join(&run.name);
        let why = match record(
            &dir,
            &cfg.experiment,
            &run.name,
            &expected_config(cfg, run)?,
        )? {
            Record::Whole(s) => {
                done.push(*s);
                continue;
            }
            Record::Damaged(why) => format!(": damaged: {why}"),
            Record::Absent => String::new(),
        };
        missing.push(match shard_of(&run.name) {
            Some(s) => format!("  {}{why} ({s})", run.name),
            None => format!("  {}{why}", run.name),
        });
    }
    if !missing.is_empty() {
        bail!(
            "{} of {} runs of {} have not finished:\n{}\nRerun `credit run <config>` with the \
             --shard shown (the same command resumes from a checkpoint), then collect again",
            missing.len(),
            runs.len(),
            cfg.experiment,
            missing.join("\n")
        );
    }
    write_summary_csv(&exp_dir.join("summary.csv"), &done)?;
    Ok(done)
}
