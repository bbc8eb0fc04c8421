//! One run's folder (`<experiment>/<run>/`) and the questions asked of it: is it finished
//! (its summary.json, for a CNN run under its own config.yaml), and where does it stand
//! (`credit status`). The experiment folder around it is `crate::folder`'s.
use crate::output::RunSummary;
use anyhow::{Context, Result};
use std::path::Path;

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

/// Whether the run folder holds a summary.json written under `config` (its config.yaml,
/// which a CNN run writes before it trains).
pub fn finished_under(run_dir: &Path, config: &str) -> bool {
    run_dir.join("summary.json").exists()
        && std::fs::read_to_string(run_dir.join("config.yaml")).is_ok_and(|t| t == config)
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
