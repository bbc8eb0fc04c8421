//! What an experiment folder holds, run by run: `credit collect` gathers finished runs into
//! summary.csv (the same bytes a one-process run writes), `credit status` says where each
//! run stands.
use super::config::Experiment;
use super::shard;
use super::sweep::{self, Group};
use crate::checkpoint;
use crate::lock::Lock;
use crate::output::{write_summary_csv, RunSummary, Status};
use crate::run_folder::{record, run_state, Record, RunState};
use anyhow::{bail, Result};
use std::path::Path;

/// summary.csv of every run, in config order, and aggregate.csv over seeds. An experiment
/// in which every run diverged is an error (after the files are written, so the record
/// stays visible).
pub fn write_summary(exp_dir: &Path, runs: &[RunSummary]) -> Result<()> {
    write_summary_csv(&exp_dir.join("summary.csv"), runs)?;
    crate::report::aggregate(exp_dir)?;
    if !runs.is_empty() && runs.iter().all(|r| r.status == Status::Diverged) {
        bail!(
            "every run of {} diverged (see {}): lower the learning rates or σ",
            exp_dir.display(),
            exp_dir.join("summary.csv").display()
        );
    }
    Ok(())
}

/// An experiment folder's config and programs, from its experiment.yaml.
pub fn open(exp_dir: &Path) -> Result<(Experiment, Vec<Group>)> {
    let Some(value) = crate::folder::read_manifest(exp_dir)? else {
        bail!(
            "{} has no {}: it is not an experiment folder written by `credit run` (check the path)",
            exp_dir.display(),
            crate::folder::MANIFEST
        )
    };
    let origin = exp_dir.join(crate::folder::MANIFEST).display().to_string();
    let exp = Experiment::from_value(value, &origin)?;
    let programs = sweep::programs(&exp)?;
    Ok((exp, programs))
}

/// Every run of the experiment with its state and its program, in config order.
pub fn status(exp_dir: &Path) -> Result<Vec<(String, RunState, usize)>> {
    let (exp, programs) = open(exp_dir)?;
    let mut out = Vec::new();
    for g in &programs {
        let running = Lock::is_held(&super::experiment::lock_path(exp_dir, g));
        let ckpt = checkpoint::read_meta(&checkpoint::dir_of(exp_dir), &g.id())?;
        for m in &g.members {
            let dir = exp_dir.join(&m.run);
            let ckpt_at = ckpt.as_ref().map(|m| m.iteration);
            let found = record(&dir, &exp.experiment, &m.run, &g.run_config(&exp, m)?)?;
            let state = run_state(found, running, &dir, ckpt_at);
            out.push((m.run.clone(), state, g.index));
        }
    }
    Ok(out)
}

/// `credit collect`: check that every run finished (completed or diverged) and write
/// summary.csv. Otherwise name the runs that did not, and the shards to rerun.
pub fn collect(exp_dir: &Path) -> Result<Vec<RunSummary>> {
    let (exp, programs) = open(exp_dir)?;
    let states = status(exp_dir)?;
    let unfinished: Vec<&(String, RunState, usize)> = states
        .iter()
        .filter(|(_, s, _)| !matches!(s, RunState::Done | RunState::Diverged(_)))
        .collect();
    if !unfinished.is_empty() {
        let shard_of = match crate::folder::recorded_shards(exp_dir) {
            Some(n) => Some((n, shard::assign(&exp, &programs, n)?)),
            None => None,
        };
        let lines: Vec<String> = unfinished
            .iter()
            .map(|(run, state, p)| match &shard_of {
                Some((n, of)) => format!("  {run}: {state} (shard {}/{n})", of[*p]),
                None => format!("  {run}: {state}"),
            })
            .collect();
        let rerun: std::collections::BTreeSet<String> = match &shard_of {
            Some((n, of)) => unfinished
                .iter()
                .map(|(_, _, p)| format!("--shard {}/{n}", of[*p]))
                .collect(),
            None => [String::new()].into(),
        };
        bail!(
            "{} of {} runs of {} have not finished:\n{}\nRerun `credit run <config> {}` for them \
             (the same command resumes from a checkpoint and trains a damaged run again), then \
             collect again",
            unfinished.len(),
            states.len(),
            exp.experiment,
            lines.join("\n"),
            rerun.into_iter().collect::<Vec<_>>().join(" / ")
        );
    }
    let mut all = Vec::new();
    for g in &programs {
        for m in &g.members {
            let dir = exp_dir.join(&m.run);
            if let Record::Whole(s) =
                record(&dir, &exp.experiment, &m.run, &g.run_config(&exp, m)?)?
            {
                all.push(*s);
            }
        }
    }
    write_summary(exp_dir, &all)?;
    Ok(all)
}
