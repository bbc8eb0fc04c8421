//! Publishing a finished experiment into a results tree that lives in git (results/README.md):
//! its summary.csv and experiment.yaml, its aggregate thinned to at most `max_points`
//! iterations per curve, and the figures drawn from those files alone, so that `credit plot`
//! in a fresh clone redraws them exactly; and the run folders (every logged value), which
//! scripts/publish-results.sh archives as `runs.tar.xz`.
//!
//! Why thin: a 2M-iteration protocol logged every 1000 iterations has about 160k aggregate
//! rows (14 MB); at 250 points per curve it is about 1.5 MB and draws the same figure.
use super::aggregate::{read_aggregate, write_aggregate, AggregateRow, AGGREGATE_FILE};
use super::plot::plot;
use super::read::read_summary;
use crate::output::{fmt_metric, write_atomic};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Points per curve that a published aggregate keeps, at most (plus each curve's last).
pub const MAX_POINTS: usize = 250;

/// Which snapshots of an autoencoder run's latent.csv (the 2-D code of the 10k test images
/// at each `training.latent_at` and at the end, about 330 KB each) a published run keeps.
/// The figure and the notebook draw the final one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Latents {
    All,
    Final,
}

/// Refuse to publish `exp_dir` into `dest` when they are the same folder (e.g. `credit
/// publish results/x` with the default `--to results`): copying a file onto itself empties it.
pub fn check_target(exp_dir: &Path, dest: &Path) -> Result<()> {
    if let (Ok(from), Ok(to)) = (exp_dir.canonicalize(), dest.canonicalize()) {
        if from == to {
            bail!(
                "{} would be published onto itself ({} is the same folder), which would empty \
                 its files: give --to another results tree (e.g. --to published)",
                exp_dir.display(),
                dest.display()
            );
        }
    }
    Ok(())
}

/// Publish the collected experiment `exp_dir` into `dest` (never itself, [`check_target`]):
/// copy the run folders by [`copy_run`], summary.csv and experiment.yaml, write
/// aggregate.csv thinned by [`thin`], draw the figures from them. Returns the files written.
pub fn publish(
    exp_dir: &Path,
    dest: &Path,
    max_points: usize,
    latents: Latents,
) -> Result<Vec<PathBuf>> {
    check_target(exp_dir, dest)?;
    fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    // The run folders first: aggregate.csv must be newer than their metrics.csv, or
    // `credit plot` and `credit report` would take it as stale and re-aggregate it unthinned.
    let mut written = Vec::new();
    for run in read_summary(exp_dir)? {
        let (from, to) = (exp_dir.join(&run.run), dest.join(&run.run));
        written.extend(copy_run(&from, &to, latents)?);
    }
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

/// Copy a run folder's files, metrics.csv's values rewritten as the engine logs them now
/// ([`fmt_metric`]): binaries before it wrote float32 values (alignments, angles, batch
/// losses) in the 17 digits of their f64 widening, 40% of a compressed log. Each rewritten
/// value is checked to read back as the same float32 (the others are left to the bit);
/// read as f64 it moves by under half a float32 ulp, as the engine's own logs do.
/// latent.csv keeps the snapshots `latents` says.
fn copy_run(from: &Path, to: &Path, latents: Latents) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    let mut written = Vec::new();
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let path = entry?.path();
        let dest = to.join(path.file_name().expect("a directory entry has a name"));
        let read =
            || fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()));
        match path.file_name().and_then(|n| n.to_str()) {
            Some("metrics.csv") => {
                let relogged =
                    relog_metrics(&read()?).with_context(|| format!("in {}", path.display()))?;
                write_atomic(&dest, relogged.as_bytes())?;
            }
            Some("latent.csv") if latents == Latents::Final => {
                write_atomic(&dest, final_snapshot(&read()?).as_bytes())?;
            }
            _ if path.is_file() => {
                fs::copy(&path, &dest).with_context(|| format!("copying {}", path.display()))?;
            }
            _ => continue,
        }
        written.push(dest);
    }
    Ok(written)
}

/// latent.csv (`iteration,test_index,label,z1,...`) with only the rows of its last iteration.
fn final_snapshot(text: &str) -> String {
    let iteration = |line: &str| line.split(',').next().and_then(|i| i.parse::<u64>().ok());
    let last = text.lines().skip(1).filter_map(iteration).max();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        if i == 0 || iteration(line) == last {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// metrics.csv (`iteration,metric,layer,value`) with each value as [`fmt_metric`] writes it.
fn relog_metrics(text: &str) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.lines().enumerate() {
        let relogged = match line.rsplit_once(',') {
            Some((head, value)) if i > 0 => {
                let v: f64 = value
                    .parse()
                    .with_context(|| format!("line {}: value {value:?}", i + 1))?;
                let text = fmt_metric(v);
                let back: f64 = text.parse()?;
                // A float32 value must read back as that float32, any other to the bit.
                let same = if f64::from(v as f32) == v {
                    back as f32 == v as f32
                } else {
                    back.to_bits() == v.to_bits() || (v.is_nan() && back.is_nan())
                };
                if !same {
                    bail!("line {}: {value} would be logged as {text}", i + 1);
                }
                format!("{head},{text}")
            }
            _ => line.to_string(),
        };
        out.push_str(&relogged);
        out.push('\n');
    }
    Ok(out)
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

    /// A log of the frozen binary (float32 values in 17 digits) loses 40% of its text and
    /// none of its float32 values; one of today's logs is left byte for byte.
    #[test]
    fn relogged_metrics_keep_every_value() {
        let old = "iteration,metric,layer,value\n\
                   0,test_loss,,139.46797351684572\n\
                   0,angle,1,NaN\n\
                   1000,angle,1,10.795303344726563\n\
                   1000,grad_rel_err,1,0.18858543038368225\n\
                   1000,test_error,,0.8977\n";
        let new = relog_metrics(old).unwrap();
        assert_eq!(
            new,
            "iteration,metric,layer,value\n\
             0,test_loss,,139.46797351684572\n\
             0,angle,1,NaN\n\
             1000,angle,1,10.795303\n\
             1000,grad_rel_err,1,0.18858543\n\
             1000,test_error,,0.8977\n"
        );
        assert_eq!(relog_metrics(&new).unwrap(), new);
        let values = |t: &str| -> Vec<u32> {
            t.lines()
                .skip(1)
                .map(|l| {
                    l.rsplit_once(',')
                        .unwrap()
                        .1
                        .parse::<f32>()
                        .unwrap()
                        .to_bits()
                })
                .collect()
        };
        assert_eq!(values(old), values(&new));
        assert!(relog_metrics("iteration,metric,layer,value\n0,angle,1,x\n").is_err());
    }

    #[test]
    fn the_final_latent_snapshot_is_the_last_iterations_rows() {
        let text = "iteration,test_index,label,z1,z2\n\
                    0,0,7,0.5,0.25\n0,1,2,-0.5,1\n\
                    10000,0,7,1.5,2\n10000,1,2,3,4\n";
        assert_eq!(
            final_snapshot(text),
            "iteration,test_index,label,z1,z2\n10000,0,7,1.5,2\n10000,1,2,3,4\n"
        );
    }

    #[test]
    fn strides_are_round_multiples_of_the_logging_interval() {
        let first: Vec<u64> = round_multiples(1000).take(6).collect();
        assert_eq!(first, [1000, 2000, 5000, 10_000, 20_000, 50_000]);
        assert_eq!(gcd(30_000, 2_000_000), 10_000);
    }
}
