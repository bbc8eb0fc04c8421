//! Result files: tidy `metrics.csv`, `summary.json` per run, `summary.csv` per experiment.
//!
//! Every file is written to `NAME.tmp` and renamed into place when complete, so a killed run
//! never leaves a file that looks finished.
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Write `bytes` to `path` atomically (temporary file in the same folder, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating folder {}", dir.display()))?;
    }
    let tmp = tmp_path(path);
    fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("renaming {} into place", tmp.display()))
}

pub fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Long, tidy metrics: `iteration,metric,layer,value`; `layer` is empty for task metrics.
pub struct MetricsWriter {
    path: PathBuf,
    out: csv::Writer<fs::File>,
}

impl MetricsWriter {
    pub fn create(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let tmp = tmp_path(path);
        let file = fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut out = csv::Writer::from_writer(file);
        out.write_record(["iteration", "metric", "layer", "value"])?;
        Ok(Self {
            path: path.to_path_buf(),
            out,
        })
    }

    /// Continue a file of an interrupted run: its first `bytes` bytes (everything up to the
    /// checkpoint) are kept, the rest dropped. A file that was already moved into place goes
    /// back to `.tmp` first.
    pub fn resume(path: &Path, bytes: u64) -> Result<Self> {
        let file = reopen(path, bytes)?;
        Ok(Self {
            path: path.to_path_buf(),
            out: csv::Writer::from_writer(file),
        })
    }

    /// Flush, and return the length of the file so far (a checkpoint's resume point).
    pub fn flushed_len(&mut self) -> Result<u64> {
        self.out
            .flush()
            .with_context(|| format!("writing {}", self.path.display()))?;
        Ok(self.out.get_ref().metadata()?.len())
    }

    pub fn row(
        &mut self,
        iteration: u64,
        metric: &str,
        layer: Option<usize>,
        value: f64,
    ) -> Result<()> {
        let layer = layer.map(|l| l.to_string()).unwrap_or_default();
        self.out
            .write_record([
                iteration.to_string(),
                metric.to_string(),
                layer,
                fmt_metric(value),
            ])
            .with_context(|| format!("writing {}", self.path.display()))
    }

    /// Flush and move into place. Dropping a writer without `finish` leaves only `.tmp`.
    pub fn finish(mut self) -> Result<()> {
        self.out.flush()?;
        let tmp = tmp_path(&self.path);
        fs::rename(&tmp, &self.path).with_context(|| format!("renaming {}", tmp.display()))
    }
}

/// Open `path`'s `.tmp` (moving a finished `path` back to it first), cut it to `bytes`, and
/// position at its end for appending.
pub fn reopen(path: &Path, bytes: u64) -> Result<fs::File> {
    let tmp = tmp_path(path);
    if !tmp.exists() && path.exists() {
        fs::rename(path, &tmp).with_context(|| format!("renaming {}", path.display()))?;
    }
    let file = fs::OpenOptions::new()
        .write(true)
        .open(&tmp)
        .with_context(|| {
            format!(
                "{} is missing, but the checkpoint needs it: rerun with --fresh to start over",
                tmp.display()
            )
        })?;
    let len = file.metadata()?.len();
    if len < bytes {
        anyhow::bail!(
            "{} has {len} bytes, fewer than the {bytes} the checkpoint wrote: rerun with --fresh",
            tmp.display()
        );
    }
    file.set_len(bytes)?;
    let mut file = file;
    std::io::Seek::seek(&mut file, std::io::SeekFrom::End(0))?;
    Ok(file)
}

/// Shortest text that reads back as the same f64 (`NaN`, `inf`, `-inf` for non-finite).
pub fn fmt_f64(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else {
        format!("{v}")
    }
}

/// A logged value's text, to the precision it was computed in: a value that is exactly an
/// f32 (libtorch's float32 results: alignments, angles, batch losses) in f32's shortest form,
/// at most 9 digits, which reads back as that f32; any other (test losses and error rates,
/// summed in f64) as [`fmt_f64`]. The 17 digits of an f32 widened to f64 say nothing more,
/// and they are a third of a run's compressed log.
pub fn fmt_metric(v: f64) -> String {
    let single = v as f32;
    if v.is_finite() && f64::from(single) == v {
        format!("{single}")
    } else {
        fmt_f64(v)
    }
}

/// `v` as metrics.csv reads it back (see [`fmt_metric`]), so that summary.json's final
/// values are the logged ones to the last digit.
pub fn as_logged(v: f64) -> f64 {
    fmt_metric(v).parse().unwrap_or(v)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Completed,
    Diverged,
}

/// One run's `summary.json`, and one row of the experiment's `summary.csv`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSummary {
    pub experiment: String,
    pub run: String,
    pub rule: String,
    /// Everything but the seed, as a legend label: runs that share it are averaged together.
    pub condition: String,
    pub seed: u64,
    pub status: Status,
    /// First logged iteration at which the loss was NaN or infinite.
    pub diverged_at: Option<u64>,
    pub iterations: u64,
    pub seconds: f64,
    pub device: String,
    /// The engine that trained it (`torch` or `fused`; the CNN's is torch). Summaries from
    /// before there were two engines are torch's.
    #[serde(default = "torch")]
    pub engine: String,
    /// The run's swept settings (sigma, lr, width...), as they appear in its name.
    #[serde(with = "json_f64")]
    pub params: BTreeMap<String, f64>,
    /// Final and best values: `final_test_error`, `min_test_loss`, ... A metric that is
    /// undefined at the end (an angle to a zero vector) is NaN, and the run still finished.
    #[serde(with = "json_f64")]
    pub results: BTreeMap<String, f64>,
}

/// f64 values in summary.json: numbers, and what JSON has no number for as the text
/// summary.csv gives it ("NaN", "inf", "-inf"). serde_json alone writes those as null and
/// then cannot read them back; a null from such a file reads as NaN.
mod json_f64 {
    use super::fmt_f64;
    use serde::{de::Error, Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Value {
        Number(f64),
        Text(String),
        Null,
    }

    pub fn serialize<S: Serializer>(map: &BTreeMap<String, f64>, s: S) -> Result<S::Ok, S::Error> {
        let value = |v: f64| match v.is_finite() {
            true => Value::Number(v),
            false => Value::Text(fmt_f64(v)),
        };
        s.collect_map(map.iter().map(|(k, v)| (k, value(*v))))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, f64>, D::Error> {
        let raw = BTreeMap::<String, Value>::deserialize(d)?;
        raw.into_iter()
            .map(|(k, v)| match v {
                Value::Number(x) => Ok((k, x)),
                Value::Null => Ok((k, f64::NAN)),
                Value::Text(t) => match t.parse::<f64>() {
                    Ok(x) if !x.is_finite() => Ok((k, x)),
                    _ => Err(D::Error::custom(format!("{k}: {t:?} is not a number"))),
                },
            })
            .collect()
    }
}

fn torch() -> String {
    "torch".into()
}

impl RunSummary {
    pub fn write_json(&self, run_dir: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        write_atomic(&run_dir.join("summary.json"), text.as_bytes())
    }
}

/// The columns every row of `summary.csv` has; params and results follow.
pub const SUMMARY_FIXED_COLUMNS: [&str; 10] = [
    "experiment",
    "run",
    "rule",
    "condition",
    "seed",
    "status",
    "diverged_at",
    "iterations",
    "seconds",
    "device",
];

/// Columns of `summary.csv` that are neither params nor results, but that files written
/// before they existed lack: `engine`.
pub const SUMMARY_OPTIONAL_COLUMNS: [&str; 1] = ["engine"];

/// `summary.csv`: one row per run; params and results become columns (blank where absent).
pub fn write_summary_csv(path: &Path, runs: &[RunSummary]) -> Result<()> {
    let params: BTreeSet<&str> = runs
        .iter()
        .flat_map(|r| r.params.keys().map(String::as_str))
        .collect();
    let results: BTreeSet<&str> = runs
        .iter()
        .flat_map(|r| r.results.keys().map(String::as_str))
        .collect();
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = SUMMARY_FIXED_COLUMNS
        .iter()
        .chain(&SUMMARY_OPTIONAL_COLUMNS)
        .map(|s| s.to_string())
        .collect();
    header.extend(params.iter().map(|p| p.to_string()));
    header.extend(results.iter().map(|r| r.to_string()));
    out.write_record(&header)?;
    for r in runs {
        let mut row = vec![
            r.experiment.clone(),
            r.run.clone(),
            r.rule.clone(),
            r.condition.clone(),
            r.seed.to_string(),
            serde_json::to_value(r.status)?
                .as_str()
                .unwrap_or_default()
                .to_string(),
            r.diverged_at.map(|i| i.to_string()).unwrap_or_default(),
            r.iterations.to_string(),
            format!("{:.3}", r.seconds),
            r.device.clone(),
            r.engine.clone(),
        ];
        row.extend(
            params
                .iter()
                .map(|p| r.params.get(*p).map(|v| fmt_f64(*v)).unwrap_or_default()),
        );
        row.extend(
            results
                .iter()
                .map(|k| r.results.get(*k).map(|v| fmt_f64(*v)).unwrap_or_default()),
        );
        out.write_record(&row)?;
    }
    let bytes = out.into_inner().context("finishing summary.csv")?;
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_f32_value_is_written_short_and_reads_back_as_the_same_f32() {
        for x in [0.688_101_65_f32, 1.0e-7, 14.150_131, -3.0, 0.0, f32::MAX] {
            let v = f64::from(x);
            let text = fmt_metric(v);
            assert!(text.len() <= fmt_f64(v).len(), "{text}");
            assert_eq!(text.parse::<f32>().unwrap(), x, "{text}");
            assert_eq!(as_logged(v) as f32, x);
        }
        assert_eq!(fmt_metric(f64::from(0.688_101_65_f32)), "0.68810165");
    }

    #[test]
    fn an_f64_value_keeps_every_digit() {
        for v in [
            0.0345,
            139.467_973_516_845_72,
            1.0 / 3.0,
            f64::NAN,
            f64::INFINITY,
        ] {
            assert_eq!(fmt_metric(v), fmt_f64(v));
            assert_eq!(as_logged(v).to_bits(), v.to_bits());
        }
    }

    /// A finished run whose final metric is NaN or infinite writes a summary.json that reads
    /// back (serde_json alone writes null and refuses it), and an older file's null reads as
    /// NaN.
    #[test]
    fn a_summary_with_non_finite_results_round_trips() {
        let summary = RunSummary {
            experiment: "e".into(),
            run: "wm-seed0".into(),
            rule: "wm".into(),
            condition: "wm".into(),
            seed: 0,
            status: Status::Completed,
            diverged_at: None,
            iterations: 10,
            seconds: 1.5,
            device: "cpu".into(),
            engine: "fused".into(),
            params: BTreeMap::from([("lr".into(), 0.1)]),
            results: BTreeMap::from([
                ("final_delta_angle_l2".into(), f64::NAN),
                ("final_norm_ratio_l3".into(), f64::INFINITY),
                ("final_rel_err_l2".into(), f64::NEG_INFINITY),
                ("final_test_error".into(), 0.0567),
            ]),
        };
        let text = serde_json::to_string_pretty(&summary).unwrap();
        assert!(text.contains(r#""final_delta_angle_l2": "NaN""#), "{text}");
        assert!(text.contains(r#""final_norm_ratio_l3": "inf""#), "{text}");
        let back: RunSummary = serde_json::from_str(&text).unwrap();
        let r = &back.results;
        assert!(r["final_delta_angle_l2"].is_nan());
        assert_eq!(r["final_norm_ratio_l3"], f64::INFINITY);
        assert_eq!(r["final_rel_err_l2"], f64::NEG_INFINITY);
        assert_eq!(r["final_test_error"], 0.0567);
        let old = text.replace(r#""NaN""#, "null");
        let back: RunSummary = serde_json::from_str(&old).unwrap();
        assert!(back.results["final_delta_angle_l2"].is_nan());
        let bad = text.replace(r#""NaN""#, r#""1.5""#);
        let err = serde_json::from_str::<RunSummary>(&bad).unwrap_err();
        assert!(err.to_string().contains("final_delta_angle_l2"), "{err}");
    }
}
