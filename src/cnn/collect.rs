//! `credit collect` of a `kind: cnn` experiment folder (after `--shard` runs): every run of
//! the recorded config must have finished; summary.csv then gets the bytes one process
//! would have written.
use super::config::CnnConfig;
use crate::output::{write_summary_csv, RunSummary};
use anyhow::{bail, Context, Result};
use std::path::Path;

/// Each run's summary, in config order, once all have finished; else an error that names the
/// unfinished runs and the `--shard` to rerun for them.
pub fn collect(exp_dir: &Path, cfg: &CnnConfig) -> Result<Vec<RunSummary>> {
    let runs = cfg.runs();
    let shards = std::fs::read_to_string(exp_dir.join("shards.txt"))
        .ok()
        .and_then(|t| t.trim().parse::<usize>().ok());
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
        let expected = serde_yaml::to_string(&serde_yaml::to_value(cfg.for_run(run))?)?;
        let same = std::fs::read_to_string(dir.join("config.yaml")).is_ok_and(|t| t == expected);
        match std::fs::read_to_string(dir.join("summary.json")) {
            Ok(json) if same => done.push(serde_json::from_str(&json).with_context(|| {
                format!("{}/summary.json is damaged; rerun the run", dir.display())
            })?),
            _ => missing.push(match shard_of(&run.name) {
                Some(s) => format!("  {} ({s})", run.name),
                None => format!("  {}", run.name),
            }),
        }
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
