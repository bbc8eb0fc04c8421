//! Publishing a finished experiment into a results tree that lives in git (results/README.md):
//! its summary.csv and experiment.yaml, its aggregate thinned to at most `max_points`
//! iterations per curve, and the figures drawn from those files alone, so that `credit plot`
//! in a fresh clone redraws them exactly. The run folders (every logged value) travel
//! separately, as `runs.tar.xz` (scripts/publish-results.sh).
//!
//! Why thin: a 2M-iteration protocol logged every 1000 iterations has about 160k aggregate
//! rows (14 MB); at 250 points per curve it is about 1.5 MB and draws the same figure.
use super::aggregate::{read_aggregate, write_aggregate, AggregateRow, AGGREGATE_FILE};
use super::plot::plot;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Points per curve that a published aggregate keeps, at most (plus each curve's last).
pub const MAX_POINTS: usize = 250;

/// Publish the collected experiment `exp_dir` into `dest`: copy summary.csv and
/// experiment.yaml, write aggregate.csv thinned by [`thin`], draw the figures from them.
/// Returns the files written.
pub fn publish(exp_dir: &Path, dest: &Path, max_points: usize) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    let mut written = Vec::new();
    for name in ["summary.csv", "experiment.yaml"] {
        let (from, to) = (exp_dir.join(name), dest.join(name));
        fs::copy(&from, &to).with_context(|| format!("copying {}", from.display()))?;
        written.push(to);
    }
    let rows = read_aggregate(&exp_dir.join(AGGREGATE_FILE))?;
    let aggregate = dest.join(AGGREGATE_FILE);
    // Written after summary.csv, so that it is not older than it (and so not stale).
    write_aggregate(&aggregate, &thin(rows, max_points))?;
    written.push(aggregate);
    written.extend(plot(dest)?);
    Ok(written)
}

/// Keep the rows at multiples of a round stride (1, 2 or 5 × 10^k logging intervals, the
/// interval being the gcd of the iterations) chosen so that at most `max_points` iterations
/// remain, and every curve's last row (its final value). Round strides keep the iterations
/// the report reads (30k, 200k) and every evaluation that falls on them.
pub fn thin(rows: Vec<AggregateRow>, max_points: usize) -> Vec<AggregateRow> {
    let max_points = max_points.max(1); // iteration 0 alone; 0 would search forever
    let step = rows.iter().map(|r| r.iteration).fold(0, gcd);
    let mut iterations: Vec<u64> = rows.iter().map(|r| r.iteration).collect();
    iterations.sort_unstable();
    iterations.dedup();
    if step == 0 || iterations.len() <= max_points {
        return rows;
    }
    let kept = |stride: u64| iterations.iter().filter(|i| *i % stride == 0).count();
    let stride = round_multiples(step)
        .find(|s| kept(*s) <= max_points)
        .expect("a stride beyond the last iteration keeps at most iteration 0");
    let mut last: BTreeMap<(&str, &str, Option<u32>), u64> = BTreeMap::new();
    for r in &rows {
        let end = last.entry((&r.condition, &r.metric, r.layer)).or_default();
        *end = (*end).max(r.iteration);
    }
    let keep: Vec<bool> = rows
        .iter()
        .map(|r| {
            r.iteration % stride == 0 || last[&(&*r.condition, &*r.metric, r.layer)] == r.iteration
        })
        .collect();
    rows.into_iter()
        .zip(keep)
        .filter_map(|(r, k)| k.then_some(r))
        .collect()
}

/// step × 1, 2, 5, 10, 20, 50, ...
fn round_multiples(step: u64) -> impl Iterator<Item = u64> {
    (0u32..).flat_map(move |k| [1, 2, 5].map(|m| step.saturating_mul(m * 10u64.saturating_pow(k))))
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::MeanSe;

    fn row(condition: &str, metric: &str, iteration: u64) -> AggregateRow {
        AggregateRow {
            condition: condition.into(),
            metric: metric.into(),
            layer: None,
            iteration,
            stats: MeanSe {
                mean: iteration as f64,
                se: 0.0,
                n: 2,
                nonfinite: 0,
            },
            diverged: 0,
        }
    }

    /// Fig. 2's shape: training loss every 1000 iterations to 2M, test error every 10k, and a
    /// curve that stopped early (its last row must stay).
    #[test]
    fn two_thousand_logs_keep_every_ten_thousandth_and_each_curves_last() {
        let mut rows: Vec<AggregateRow> = (0..=2000)
            .map(|k| row("np", "train_loss", k * 1000))
            .collect();
        rows.extend((0..=200).map(|k| row("np", "test_error", k * 10_000)));
        rows.extend((0..=1234).map(|k| row("fa", "train_loss", k * 1000)));
        let thinned = thin(rows, MAX_POINTS);
        let its = |c: &str, m: &str| -> Vec<u64> {
            thinned
                .iter()
                .filter(|r| r.condition == c && r.metric == m)
                .map(|r| r.iteration)
                .collect()
        };
        let np = its("np", "train_loss");
        assert_eq!(np.len(), 201, "0, 10k, ..., 2M");
        assert!(np.iter().all(|i| i % 10_000 == 0));
        assert!(np.contains(&30_000) && np.contains(&200_000) && np.contains(&2_000_000));
        assert_eq!(
            its("np", "test_error").len(),
            201,
            "every evaluation on the stride"
        );
        let fa = its("fa", "train_loss");
        assert_eq!(fa.last(), Some(&1_234_000), "a curve's last row is kept");
        assert_eq!(fa.len(), 125);
        // Values travel unchanged.
        assert!(thinned.iter().all(|r| r.stats.mean == r.iteration as f64));
    }

    #[test]
    fn at_most_zero_points_is_one_point_and_the_finals() {
        let rows: Vec<AggregateRow> = (0..=300).map(|k| row("np", "rel_err", k * 1000)).collect();
        let its: Vec<u64> = thin(rows, 0).iter().map(|r| r.iteration).collect();
        assert_eq!(its, [0, 300_000]);
    }

    #[test]
    fn short_experiments_are_left_whole() {
        let rows: Vec<AggregateRow> = (0..=100).map(|k| row("np", "rel_err", k * 500)).collect();
        assert_eq!(thin(rows.clone(), MAX_POINTS), rows);
    }

    #[test]
    fn strides_are_round_multiples_of_the_logging_interval() {
        let first: Vec<u64> = round_multiples(1000).take(6).collect();
        assert_eq!(first, [1000, 2000, 5000, 10_000, 20_000, 50_000]);
        assert_eq!(gcd(30_000, 2_000_000), 10_000);
    }
}
