//! One run's log while its program trains: metrics.csv rows, its divergence, and the
//! final and best values that go into summary.json. A checkpoint keeps `Saved`.
use crate::output::{as_logged, MetricsWriter};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub struct RunLog {
    writer: MetricsWriter,
    /// The first iteration at which a logged loss was not finite.
    pub diverged_at: Option<u64>,
    /// `final_<metric>[_l<layer>]` and `min_<test metric>`.
    pub results: BTreeMap<String, f64>,
}

/// What a checkpoint keeps of a run's log. Values are kept as f64 bits, so that a resumed
/// run's summary is exactly an uninterrupted one's (NaN included).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Saved {
    metrics_bytes: u64,
    diverged_at: Option<u64>,
    results: BTreeMap<String, u64>,
}

impl RunLog {
    pub fn create(run_dir: &Path) -> Result<Self> {
        Ok(Self {
            writer: MetricsWriter::create(&run_dir.join("metrics.csv"))?,
            diverged_at: None,
            results: BTreeMap::new(),
        })
    }

    pub fn resume(run_dir: &Path, saved: &Saved) -> Result<Self> {
        Ok(Self {
            writer: MetricsWriter::resume(&run_dir.join("metrics.csv"), saved.metrics_bytes)?,
            diverged_at: saved.diverged_at,
            results: saved
                .results
                .iter()
                .map(|(k, v)| (k.clone(), f64::from_bits(*v)))
                .collect(),
        })
    }

    /// Flush metrics.csv and describe the log for a checkpoint.
    pub fn save(&mut self) -> Result<Saved> {
        Ok(Saved {
            metrics_bytes: self.writer.flushed_len()?,
            diverged_at: self.diverged_at,
            results: self
                .results
                .iter()
                .map(|(k, v)| (k.clone(), v.to_bits()))
                .collect(),
        })
    }

    pub fn alive(&self) -> bool {
        self.diverged_at.is_none()
    }

    /// One metrics.csv row; also the run's `final_` (and for test metrics `min_`) value.
    /// Nothing is recorded once the run has diverged.
    pub fn record(&mut self, it: u64, metric: &str, layer: Option<usize>, v: f64) -> Result<()> {
        if !self.alive() {
            return Ok(());
        }
        let v = as_logged(v);
        self.writer.row(it, metric, layer, v)?;
        let key = match layer {
            Some(l) => format!("final_{metric}_l{l}"),
            None => format!("final_{metric}"),
        };
        self.results.insert(key, v);
        if metric.starts_with("test_") || metric.starts_with("val_") {
            let best = self.results.entry(format!("min_{metric}")).or_insert(v);
            if v < *best {
                *best = v;
            }
        }
        Ok(())
    }

    /// One evaluation's rows. Where a validation metric reaches a new minimum, also
    /// `argmin_val_<m>` (the iteration) and `test_<m>_at_min_val_<m>` (the test value there):
    /// the test score of the model that validation would select.
    pub fn record_eval(&mut self, it: u64, values: &[(&str, f64)]) -> Result<()> {
        if !self.alive() {
            return Ok(());
        }
        for (metric, v) in values {
            let v = as_logged(*v);
            let old = self.results.get(&format!("min_{metric}")).copied();
            self.record(it, metric, None, v)?;
            let Some(m) = metric.strip_prefix("val_") else {
                continue;
            };
            // A strictly lower value (the first one counts): the earliest best iteration.
            if old.is_none_or(|old| v < old) {
                self.results.insert(format!("argmin_{metric}"), it as f64);
                let test = format!("test_{m}");
                if let Some((_, t)) = values.iter().find(|(n, _)| *n == test) {
                    self.results
                        .insert(format!("{test}_at_min_{metric}"), as_logged(*t));
                }
            }
        }
        Ok(())
    }

    /// A loss that is not finite marks the run diverged at `it`; its log stops there.
    pub fn check_finite(&mut self, it: u64, loss: f64) {
        if self.alive() && !loss.is_finite() {
            self.diverged_at = Some(it);
        }
    }

    /// Move metrics.csv into place; return the results for summary.json. A diverged run
    /// keeps none: its values before divergence are not final results.
    pub fn finish(self) -> Result<BTreeMap<String, f64>> {
        self.writer.finish()?;
        Ok(match self.diverged_at {
            Some(_) => BTreeMap::new(),
            None => self.results,
        })
    }
}
