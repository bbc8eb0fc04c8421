//! One run's folder (`<experiment>/<run>/`) and the questions asked of it: is it finished,
//! is it whole (its files agree with each other and with the experiment), and where does
//! it stand (`credit status`). The experiment folder around it is `crate::folder`'s.
use crate::output::RunSummary;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// What a run folder records.
#[derive(Debug, Clone)]
pub enum Record {
    /// No summary.json: the run has not finished.
    Absent,
    /// A summary.json whose run, config and log agree.
    Whole(Box<RunSummary>),
    /// A summary.json that the folder's other files contradict: why, naming the file.
    Damaged(String),
}

/// The record of run `run` of experiment `experiment` in `run_dir`, written under the run
/// config `config` (the text of the config.yaml its run writes). A summary.json counts only
/// if it names this run and experiment (not one copied from another run), the folder's
/// config.yaml is `config` (the same config hash), and metrics.csv is whole: complete rows
/// up to the iteration the summary says the run reached, each `final_` result of a
/// completed run the last logged value of its metric (a log cut at a row boundary loses
/// those).
pub fn record(run_dir: &Path, experiment: &str, run: &str, config: &str) -> Result<Record> {
    let path = run_dir.join("summary.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Record::Absent),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let s: RunSummary = match serde_json::from_str(&text) {
        Ok(s) => s,
        Err(e) => return Ok(Record::Damaged(format!("summary.json is unreadable ({e})"))),
    };
    if s.run != run || s.experiment != experiment {
        return Ok(Record::Damaged(format!(
            "summary.json is run `{}` of `{}`, not `{run}` of `{experiment}` (copied from \
             another run?)",
            s.run, s.experiment
        )));
    }
    if !std::fs::read_to_string(run_dir.join("config.yaml")).is_ok_and(|t| t == config) {
        return Ok(Record::Damaged(
            "config.yaml is missing or is not this run's config in experiment.yaml (its \
             config hash differs)"
                .into(),
        ));
    }
    let Ok(log) = std::fs::read_to_string(run_dir.join("metrics.csv")) else {
        return Ok(Record::Damaged(
            "metrics.csv is missing or unreadable".into(),
        ));
    };
    Ok(match log_disagrees(&log, &s) {
        Some(why) => Record::Damaged(format!("{why} (the log was cut short?)")),
        None => Record::Whole(Box::new(s)),
    })
}

/// How metrics.csv text `log` contradicts the run's summary `s`, if it does.
fn log_disagrees(log: &str, s: &RunSummary) -> Option<String> {
    let last = last_logged(log);
    if !log.ends_with('\n') || last != Some(s.iterations) {
        let at = last.map_or("no complete row".into(), |k| format!("iteration {k}"));
        return Some(format!(
            "metrics.csv ends at {at}, but summary.json says the run reached iteration {}",
            s.iterations
        ));
    }
    // The last value of each metric, keyed as summary.json's results are (`rel_err_l2`).
    let mut last_value: BTreeMap<String, &str> = BTreeMap::new();
    for row in log.lines().skip(1) {
        let cells: Vec<&str> = row.split(',').collect();
        if let [_, metric, layer, value] = cells[..] {
            let key = match layer {
                "" => metric.to_string(),
                l => format!("{metric}_l{l}"),
            };
            last_value.insert(key, value);
        }
    }
    // A diverged run's results (a CNN keeps some) are from before its last, non-finite log.
    let finals = s.results.iter().filter(|_| s.diverged_at.is_none());
    for (key, v) in finals {
        let Some(metric) = key.strip_prefix("final_") else {
            continue;
        };
        let Some(text) = last_value.get(metric) else {
            continue;
        };
        // Logged to float32's precision where the value is one (`output::fmt_metric`).
        let same = text
            .parse::<f64>()
            .is_ok_and(|x| x == *v || (x as f32) == (*v as f32) || (x.is_nan() && v.is_nan()));
        if !same {
            return Some(format!(
                "metrics.csv's last {metric} is {text}, but summary.json's {key} is {v}"
            ));
        }
    }
    None
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
    /// Its summary.json is contradicted by its other files.
    Damaged(String),
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
            RunState::Damaged(why) => write!(f, "damaged: {why}"),
        }
    }
}

/// One line on a whole experiment: how many runs are in each state, e.g. "65 runs: 20 done,
/// 10 running, 35 missing" (states in the order of `RunState`, leaving out those no run is
/// in).
pub fn tally<'a>(states: impl IntoIterator<Item = &'a RunState>) -> String {
    let names = [
        "done",
        "diverged",
        "running",
        "held",
        "checkpointed",
        "missing",
        "damaged",
    ];
    let mut counts = [0usize; 7];
    for state in states {
        counts[match state {
            RunState::Done => 0,
            RunState::Diverged(_) => 1,
            RunState::Running(_) => 2,
            RunState::Held => 3,
            RunState::Checkpointed(_) => 4,
            RunState::Missing => 5,
            RunState::Damaged(_) => 6,
        }] += 1;
    }
    let parts: Vec<String> = (names.iter().zip(counts))
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| format!("{n} {name}"))
        .collect();
    let total = counts.iter().sum::<usize>();
    match parts.is_empty() {
        true => format!("{total} runs"),
        false => format!("{total} runs: {}", parts.join(", ")),
    }
}

/// One run's state: finished (a whole summary.json, and no checkpoint left to resume), else
/// held by a live process (`running`: the lock of its program or run), else checkpointed at
/// `ckpt_at`, else damaged (a summary its files contradict), else missing. A process locks
/// every run it will train when it starts, so a finished run can be locked too: the summary
/// is asked first.
pub fn run_state(record: Record, running: bool, run_dir: &Path, ckpt_at: Option<u64>) -> RunState {
    match (record, running, ckpt_at) {
        (Record::Whole(s), _, None) => match s.diverged_at {
            Some(k) => RunState::Diverged(k),
            None => RunState::Done,
        },
        (_, true, _) => last_iteration(run_dir).map_or(RunState::Held, RunState::Running),
        (_, false, Some(k)) => RunState::Checkpointed(k),
        (Record::Damaged(why), false, None) => RunState::Damaged(why),
        (Record::Absent, false, None) => RunState::Missing,
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
    use super::{last_logged, tally, RunState};

    #[test]
    fn the_tally_counts_each_state_once_in_order() {
        let states = [
            RunState::Missing,
            RunState::Done,
            RunState::Running(3000),
            RunState::Done,
            RunState::Checkpointed(1000),
            RunState::Missing,
        ];
        assert_eq!(
            tally(&states),
            "6 runs: 2 done, 1 running, 1 checkpointed, 2 missing"
        );
        assert_eq!(tally(&[]), "0 runs");
    }

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
