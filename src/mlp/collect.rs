//! What an experiment folder holds, run by run: `credit collect` gathers finished runs into
//! summary.csv (the same bytes a one-process run writes), `credit status` says where each
//! run stands.
use super::config::Experiment;
use super::run::Context;
use super::shard;
use super::sweep::{self, Group};
use crate::checkpoint;
use crate::lock::Lock;
use crate::output::{write_atomic, write_summary_csv, RunSummary, Status};
use anyhow::{bail, Context as _, Result};
use std::path::Path;

/// The summaries of a program whose runs all finished (and which has no checkpoint to
/// resume), or None.
pub fn finished(cx: &Context, g: &Group) -> Result<Option<Vec<RunSummary>>> {
    if checkpoint::read_meta(&cx.checkpoint_dir(), &g.id())?.is_some() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(g.members.len());
    for m in &g.members {
        match read_run_summary(&cx.exp_dir.join(&m.run))? {
            Some(s) => out.push(s),
            None => return Ok(None),
        }
    }
    Ok(Some(out))
}

/// A run's summary.json, if it has one.
pub fn read_run_summary(run_dir: &Path) -> Result<Option<RunSummary>> {
    let path = run_dir.join("summary.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(serde_json::from_str(&text).with_context(|| {
            format!("{} is damaged; rerun the run with --fresh", path.display())
        })?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

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

const SHARDS: &str = "shards.txt";

/// Remember into how many shards the folder was last split, for collect's messages.
/// (Checkpoints belong to programs, not shards, so a later split of another N resumes them.)
pub fn record_shards(exp_dir: &Path, count: usize) -> Result<()> {
    write_atomic(&exp_dir.join(SHARDS), format!("{count}\n").as_bytes())
}

/// Where one run stands.
#[derive(Debug, Clone, PartialEq)]
pub enum RunState {
    Done,
    Diverged(u64),
    /// A live process is training it, at the iteration of its last metrics row.
    Running(u64),
    /// A live process holds it (it locks every run it will train at its start) but has
    /// logged nothing for it yet: queued behind that process's other runs, or starting.
    Held,
    Checkpointed(u64),
    Missing,
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            RunState::Done => write!(f, "done"),
            RunState::Diverged(k) => write!(f, "diverged at iteration {k}"),
            RunState::Running(k) => write!(f, "running at iteration {k}"),
            RunState::Held => write!(f, "held by a running process, nothing logged yet"),
            RunState::Checkpointed(k) => write!(f, "checkpointed at iteration {k}"),
            RunState::Missing => write!(f, "missing"),
        }
    }
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
    let (_, programs) = open(exp_dir)?;
    let mut out = Vec::new();
    for g in &programs {
        let running = Lock::is_held(&super::experiment::lock_path(exp_dir, g));
        let ckpt = checkpoint::read_meta(&checkpoint::dir_of(exp_dir), &g.id())?;
        for m in &g.members {
            let dir = exp_dir.join(&m.run);
            let ckpt_at = ckpt.as_ref().map(|m| m.iteration);
            let state = run_state(read_run_summary(&dir)?, running, &dir, ckpt_at);
            out.push((m.run.clone(), state, g.index));
        }
    }
    Ok(out)
}

/// One run's state: finished (its summary.json, and no checkpoint left to resume), else held
/// by a live process (`running`: the lock of its program or run), else checkpointed at
/// `ckpt_at`, else missing. A process locks every run it will train when it starts, so a
/// finished run can be locked too: the summary is asked first.
pub fn run_state(
    summary: Option<RunSummary>,
    running: bool,
    run_dir: &Path,
    ckpt_at: Option<u64>,
) -> RunState {
    match (summary, running, ckpt_at) {
        (Some(s), _, None) => match s.diverged_at {
            Some(k) => RunState::Diverged(k),
            None => RunState::Done,
        },
        (_, true, _) => last_iteration(run_dir).map_or(RunState::Held, RunState::Running),
        (_, false, Some(k)) => RunState::Checkpointed(k),
        (None, false, None) => RunState::Missing,
    }
}

/// The iteration of the last row of a run's metrics file in progress.
fn last_iteration(run_dir: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(run_dir.join("metrics.csv.tmp")).ok()?;
    last_logged(&text)
}

/// The iteration of the last complete row of metrics.csv text: the writer's buffer may have
/// reached the file in the middle of a row (`51` of `519000,...`), so a row counts only
/// with its newline.
fn last_logged(text: &str) -> Option<u64> {
    let complete = &text[..text.rfind('\n')?];
    let last = complete.lines().rev().find(|l| !l.is_empty())?;
    last.split(',').next()?.parse().ok()
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
        let shards = std::fs::read_to_string(exp_dir.join(SHARDS))
            .ok()
            .and_then(|t| t.trim().parse::<usize>().ok());
        let shard_of = match shards {
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
             (the same command resumes from a checkpoint), then collect again",
            unfinished.len(),
            states.len(),
            exp.experiment,
            lines.join("\n"),
            rerun.into_iter().collect::<Vec<_>>().join(" / ")
        );
    }
    let mut all = Vec::new();
    for m in programs.iter().flat_map(|g| &g.members) {
        all.extend(read_run_summary(&exp_dir.join(&m.run))?);
    }
    write_summary(exp_dir, &all)?;
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::last_logged;

    #[test]
    fn a_row_counts_only_once_its_newline_is_written() {
        let head = "iteration,metric,layer,value\n";
        assert_eq!(last_logged(head), None);
        assert_eq!(
            last_logged(&format!("{head}1000,rel_err,3,0.5\n51")),
            Some(1000)
        );
        assert_eq!(
            last_logged(&format!("{head}1000,rel_err,3,0.5\n2000,rel_err,3,0.4\n")),
            Some(2000)
        );
        assert_eq!(last_logged("1000,rel_er"), None);
    }
}
