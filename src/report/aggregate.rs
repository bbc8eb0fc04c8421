//! Mean ± standard error over seeds → `results/<experiment>/aggregate.csv`.
//!
//! Rules (docs/REPORTING.md):
//! - runs are grouped by `condition` (everything but the seed);
//! - diverged runs are left out, and the `diverged` column counts how many of the condition's
//!   runs were left out;
//! - at each (condition, metric, layer, iteration) the finite values of the remaining runs are
//!   averaged; `n` counts them, and `n_nonfinite` counts the NaN / ±inf values left out, so
//!   a NaN logged by a completed run is never dropped silently;
//! - `se` is the sample standard deviation (n − 1 denominator) over √n, blank when n < 2.
use super::read::{cell, optional_cell, read_metrics, read_summary, RunRow, Table};
use crate::output::{fmt_metric, write_atomic};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const AGGREGATE_FILE: &str = "aggregate.csv";

/// Mean, standard error and count of one set of values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanSe {
    /// NaN when `n` is 0.
    pub mean: f64,
    /// NaN when `n` < 2.
    pub se: f64,
    /// Finite values averaged.
    pub n: usize,
    /// Non-finite values (NaN, ±inf) left out of `mean` and `se`.
    pub nonfinite: usize,
}

/// Mean ± s.e. of the finite values; the non-finite ones are counted in `nonfinite`, not `n`.
pub fn mean_se(values: &[f64]) -> MeanSe {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let n = finite.len();
    let nonfinite = values.len() - n;
    if n == 0 {
        return MeanSe {
            mean: f64::NAN,
            se: f64::NAN,
            n,
            nonfinite,
        };
    }
    let mean = finite.iter().sum::<f64>() / n as f64;
    let se = if n < 2 {
        f64::NAN
    } else {
        let ss: f64 = finite.iter().map(|v| (v - mean).powi(2)).sum();
        (ss / (n - 1) as f64).sqrt() / (n as f64).sqrt()
    };
    MeanSe {
        mean,
        se,
        n,
        nonfinite,
    }
}

/// A summary result (e.g. `final_test_error`) of one condition over its completed runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResultStats {
    pub stats: MeanSe,
    /// Runs of the condition, and how many of them diverged (left out of `stats`).
    pub runs: usize,
    pub diverged: usize,
}

/// Mean ± s.e. of `column` × `scale` over the completed runs of `condition` in summary.csv.
/// A blank cell (the run has no such result) is left out; a NaN or ±inf one is counted in
/// `nonfinite`.
pub fn result_stats(runs: &[RunRow], condition: &str, column: &str, scale: f64) -> ResultStats {
    let of_condition: Vec<&RunRow> = runs.iter().filter(|r| r.condition == condition).collect();
    let values: Vec<f64> = of_condition
        .iter()
        .filter(|r| r.completed())
        .filter_map(|r| r.value(column).map(|v| v * scale))
        .collect();
    ResultStats {
        stats: mean_se(&values),
        runs: of_condition.len(),
        diverged: of_condition.iter().filter(|r| !r.completed()).count(),
    }
}

/// One row of `aggregate.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateRow {
    pub condition: String,
    pub metric: String,
    pub layer: Option<u32>,
    pub iteration: u64,
    pub stats: MeanSe,
    /// Runs of this condition left out because they diverged.
    pub diverged: usize,
}

/// Aggregate every run of `exp_dir` over seeds and write `exp_dir/aggregate.csv`.
/// Returns the path written.
pub fn aggregate(exp_dir: &Path) -> Result<PathBuf> {
    let runs = read_summary(exp_dir)?;
    // Conditions keep the order of their first run in summary.csv.
    let mut order: Vec<String> = Vec::new();
    let mut diverged: BTreeMap<String, usize> = BTreeMap::new();
    for run in &runs {
        if !order.contains(&run.condition) {
            order.push(run.condition.clone());
        }
        *diverged.entry(run.condition.clone()).or_default() += usize::from(!run.completed());
    }
    type Key = (usize, String, Option<u32>, u64);
    let mut values: BTreeMap<Key, Vec<f64>> = BTreeMap::new();
    // A condition whose runs all diverged keeps its rows, with n = 0 and its diverged count
    // (keys from its runs' metrics), so that it stays visible.
    let all_diverged = |c: &str| {
        runs.iter()
            .filter(|r| r.condition == c)
            .all(|r| !r.completed())
    };
    for run in runs
        .iter()
        .filter(|r| r.completed() || all_diverged(&r.condition))
    {
        let path = exp_dir.join(&run.run).join("metrics.csv");
        let rows = read_metrics(&path)
            .with_context(|| format!("aggregating run `{}` of {}", run.run, exp_dir.display()))?;
        let c = order.iter().position(|o| o == &run.condition).unwrap_or(0);
        for row in rows {
            let cell = values
                .entry((c, row.metric, row.layer, row.iteration))
                .or_default();
            if run.completed() {
                cell.push(row.value);
            }
        }
    }
    let rows: Vec<AggregateRow> = values
        .iter()
        .map(|((c, metric, layer, iteration), v)| AggregateRow {
            condition: order[*c].clone(),
            metric: metric.clone(),
            layer: *layer,
            iteration: *iteration,
            stats: mean_se(v),
            diverged: diverged.get(&order[*c]).copied().unwrap_or(0),
        })
        .collect();
    let path = exp_dir.join(AGGREGATE_FILE);
    write_aggregate(&path, &rows)?;
    Ok(path)
}

/// Write `rows` as an `aggregate.csv` at `path` (atomically).
pub fn write_aggregate(path: &Path, rows: &[AggregateRow]) -> Result<()> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(AGGREGATE_COLUMNS)?;
    for row in rows {
        let s = &row.stats;
        out.write_record([
            row.condition.clone(),
            row.metric.clone(),
            row.layer.map(|l| l.to_string()).unwrap_or_default(),
            row.iteration.to_string(),
            fmt_stat(s.mean),
            if s.n < 2 {
                String::new()
            } else {
                fmt_stat(s.se)
            },
            s.n.to_string(),
            s.nonfinite.to_string(),
            row.diverged.to_string(),
        ])?;
    }
    let bytes = out.into_inner().context("finishing aggregate.csv")?;
    write_atomic(path, &bytes)
}

/// A mean or standard error in float32's shortest form (at most 9 digits). The values
/// averaged are float32 results or error rates of a few thousand images, so the 17 digits of
/// f64 carry nothing a reader can use, and they were a third of a published aggregate's bytes.
fn fmt_stat(v: f64) -> String {
    fmt_metric(f64::from(v as f32))
}

/// `exp_dir/aggregate.csv`, rewritten first when it is missing, older than `summary.csv`
/// or any completed run's `metrics.csv`, written with other columns (an older version), or
/// incomplete ([`incomplete`]: cut short, it still parses). A run folder that is absent does
/// not make it stale: a published experiment (results/) comes without its run folders, and
/// its aggregate is then the only record there is, so an incomplete one is an error. With
/// none of them there, summary.csv's time says nothing either: a git checkout writes files
/// in its own order.
pub(crate) fn fresh_aggregate(exp_dir: &Path) -> Result<PathBuf> {
    let path = exp_dir.join(AGGREGATE_FILE);
    let Some(written) = modified(&path) else {
        return aggregate(exp_dir);
    };
    let header_now = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| t.lines().next().map(str::to_string));
    if header_now.as_deref() != Some(AGGREGATE_COLUMNS.join(",").as_str()) {
        return aggregate(exp_dir);
    }
    let runs = read_summary(exp_dir)?;
    let mut inputs: Vec<PathBuf> = runs
        .iter()
        .filter(|r| r.completed())
        .map(|r| exp_dir.join(&r.run).join("metrics.csv"))
        .filter(|m| m.exists())
        .collect();
    if inputs.is_empty() {
        if let Some(why) = incomplete(&path, &runs) {
            bail!(
                "{} is incomplete ({why}) and there are no run folders to aggregate again: \
                 restore it (e.g. `git checkout` of a published experiment)",
                path.display()
            );
        }
        return Ok(path);
    }
    inputs.push(exp_dir.join("summary.csv"));
    let stale = inputs
        .iter()
        .any(|input| modified(input).is_some_and(|m| m >= written));
    if stale || incomplete(&path, &runs).is_some() {
        aggregate(exp_dir)
    } else {
        Ok(path)
    }
}

/// Why the aggregate at `path` does not cover the completed runs of summary.csv, if it does
/// not: it does not read, a condition has no rows, or a curve stops before its runs' last
/// iteration (every metric is logged at the last one). Rows are sorted by condition and
/// curve, so an aggregate cut at a row boundary shows one of these, unless the cut falls
/// exactly between two curves of one condition.
fn incomplete(path: &Path, runs: &[RunRow]) -> Option<String> {
    let rows = match read_aggregate(path) {
        Ok(rows) => rows,
        Err(e) => return Some(format!("{e:#}")),
    };
    let mut reached: BTreeMap<&str, u64> = BTreeMap::new();
    for run in runs.iter().filter(|r| r.completed()) {
        let end = reached.entry(run.condition.as_str()).or_default();
        *end = (*end).max(run.iterations);
    }
    let mut last: BTreeMap<(&str, &str, Option<u32>), u64> = BTreeMap::new();
    for r in &rows {
        let end = last.entry((&r.condition, &r.metric, r.layer)).or_default();
        *end = (*end).max(r.iteration);
    }
    for condition in reached.keys() {
        if !last.keys().any(|(c, _, _)| c == condition) {
            return Some(format!("no rows of condition `{condition}`"));
        }
    }
    for ((condition, metric, _), k) in last {
        let n = reached.get(condition).copied().unwrap_or(0);
        if k < n {
            return Some(format!(
                "the `{metric}` curve of `{condition}` stops at iteration {k}, its runs reached {n}"
            ));
        }
    }
    None
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The columns of `aggregate.csv`, in order.
const AGGREGATE_COLUMNS: [&str; 9] = [
    "condition",
    "metric",
    "layer",
    "iteration",
    "mean",
    "se",
    "n",
    "n_nonfinite",
    "diverged",
];

/// Read an `aggregate.csv` written by [`aggregate`].
pub fn read_aggregate(path: &Path) -> Result<Vec<AggregateRow>> {
    let mut table = Table::open(path)?;
    let cols = AGGREGATE_COLUMNS.map(|c| table.column(c));
    let mut idx = [0usize; 9];
    for (i, c) in cols.into_iter().enumerate() {
        idx[i] = c?;
    }
    let p = table.path().to_string();
    let mut rows = Vec::new();
    for record in table.records() {
        let (line, r) = record?;
        let t = |k: usize| r.get(idx[k]).unwrap_or_default();
        rows.push(AggregateRow {
            condition: t(0).to_string(),
            metric: t(1).to_string(),
            layer: optional_cell(&p, line, "layer", t(2))?,
            iteration: cell(&p, line, "iteration", t(3))?,
            stats: MeanSe {
                mean: cell(&p, line, "mean", t(4))?,
                se: optional_cell(&p, line, "se", t(5))?.unwrap_or(f64::NAN),
                n: cell(&p, line, "n", t(6))?,
                nonfinite: cell(&p, line, "n_nonfinite", t(7))?,
            },
            diverged: cell(&p, line, "diverged", t(8))?,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_standard_error_by_hand() {
        // mean 2; sample variance ((1)^2 + 0 + 1^2) / 2 = 1; se = 1/√3.
        let s = mean_se(&[1.0, 2.0, 3.0]);
        assert_eq!(s.n, 3);
        assert!((s.mean - 2.0).abs() < 1e-15);
        assert!((s.se - 1.0 / 3f64.sqrt()).abs() < 1e-15);
    }

    #[test]
    fn one_value_has_no_standard_error_and_nan_is_not_counted() {
        let s = mean_se(&[5.0, f64::NAN, f64::INFINITY]);
        assert_eq!((s.n, s.nonfinite), (1, 2));
        assert_eq!(s.mean, 5.0);
        assert!(s.se.is_nan());
        let none = mean_se(&[f64::NAN]);
        assert_eq!((none.n, none.nonfinite), (0, 1));
        assert!(none.mean.is_nan());
    }
}
