//! Readers for the result files the engine writes (the contract is in docs/REPORTING.md).
//! Columns are found by name, so extra columns are tolerated and missing ones are named.
use crate::output::Status;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

/// Columns of `summary.csv` that every run has; every other column is a param or a result.
use crate::output::SUMMARY_FIXED_COLUMNS as SUMMARY_FIXED;

/// One row of `results/<experiment>/summary.csv`.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub run: String,
    pub rule: String,
    /// Legend label: runs that share it are averaged together.
    pub condition: String,
    pub seed: u64,
    pub status: Status,
    pub diverged_at: Option<u64>,
    pub iterations: u64,
    pub seconds: f64,
    pub device: String,
    /// Every other column (swept params such as `sigma`, results such as
    /// `final_test_error`); `None` where the cell is blank.
    pub values: BTreeMap<String, Option<f64>>,
}

impl RunRow {
    /// A param or result of this run, if the column exists and the cell is filled.
    pub fn value(&self, column: &str) -> Option<f64> {
        self.values.get(column).copied().flatten()
    }

    pub fn completed(&self) -> bool {
        self.status == Status::Completed
    }
}

/// An open CSV file with its header, for reading columns by name.
pub(crate) struct Table {
    path: String,
    header: Vec<String>,
    reader: csv::Reader<File>,
}

impl Table {
    pub(crate) fn open(path: &Path) -> Result<Table> {
        let file = File::open(path).with_context(|| {
            format!(
                "opening {}: run the experiment first (`credit run configs/<experiment>.yaml`) or point at a results/<experiment> folder",
                path.display()
            )
        })?;
        let mut reader = csv::ReaderBuilder::new().from_reader(file);
        let header = reader
            .headers()
            .with_context(|| format!("reading the header of {}", path.display()))?
            .iter()
            .map(str::to_string)
            .collect();
        Ok(Table {
            path: path.display().to_string(),
            header,
            reader,
        })
    }

    pub(crate) fn column(&self, name: &str) -> Result<usize> {
        match self.header.iter().position(|h| h == name) {
            Some(i) => Ok(i),
            None => bail!(
                "{} has no `{name}` column (it has: {}); it was not written by a compatible engine, see docs/REPORTING.md for the format",
                self.path,
                self.header.join(",")
            ),
        }
    }

    /// Every record, with its 1-based line number for error messages.
    pub(crate) fn records(
        &mut self,
    ) -> impl Iterator<Item = Result<(u64, csv::StringRecord)>> + '_ {
        let path = self.path.clone();
        self.reader.records().map(move |r| {
            let record = r.with_context(|| format!("reading {path}"))?;
            let line = record.position().map(|p| p.line()).unwrap_or(0);
            Ok((line, record))
        })
    }

    pub(crate) fn header(&self) -> &[String] {
        &self.header
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }
}

/// Parse one cell, naming file, line and column on failure.
pub(crate) fn cell<T: std::str::FromStr>(
    table_path: &str,
    line: u64,
    column: &str,
    text: &str,
) -> Result<T> {
    text.trim().parse::<T>().map_err(|_| {
        anyhow::anyhow!(
            "{table_path} line {line}: column `{column}` holds `{text}`, which is not a valid {}",
            std::any::type_name::<T>()
        )
    })
}

/// A cell that may be blank.
pub(crate) fn optional_cell<T: std::str::FromStr>(
    table_path: &str,
    line: u64,
    column: &str,
    text: &str,
) -> Result<Option<T>> {
    if text.trim().is_empty() {
        Ok(None)
    } else {
        cell(table_path, line, column, text).map(Some)
    }
}

fn text(record: &csv::StringRecord, index: usize) -> &str {
    record.get(index).unwrap_or_default()
}

/// Read `results/<experiment>/summary.csv`.
pub fn read_summary(exp_dir: &Path) -> Result<Vec<RunRow>> {
    let mut table = Table::open(&exp_dir.join("summary.csv"))?;
    let fixed: Vec<usize> = SUMMARY_FIXED
        .iter()
        .map(|name| table.column(name))
        .collect::<Result<_>>()?;
    let extra: Vec<(usize, String)> = table
        .header()
        .iter()
        .enumerate()
        .filter(|(_, name)| {
            !SUMMARY_FIXED.contains(&name.as_str())
                && !crate::output::SUMMARY_OPTIONAL_COLUMNS.contains(&name.as_str())
        })
        .map(|(i, name)| (i, name.clone()))
        .collect();
    let path = table.path().to_string();
    let mut runs = Vec::new();
    for record in table.records() {
        let (line, record) = record?;
        let get = |k: usize| text(&record, fixed[k]);
        let status = match get(5) {
            "completed" => Status::Completed,
            "diverged" => Status::Diverged,
            other => {
                bail!("{path} line {line}: status `{other}` is neither `completed` nor `diverged`")
            }
        };
        let mut values = BTreeMap::new();
        for (i, name) in &extra {
            values.insert(
                name.clone(),
                optional_cell::<f64>(&path, line, name, text(&record, *i))?,
            );
        }
        runs.push(RunRow {
            run: get(1).to_string(),
            rule: get(2).to_string(),
            condition: get(3).to_string(),
            seed: cell(&path, line, "seed", get(4))?,
            status,
            diverged_at: optional_cell(&path, line, "diverged_at", get(6))?,
            iterations: cell(&path, line, "iterations", get(7))?,
            seconds: cell(&path, line, "seconds", get(8))?,
            device: get(9).to_string(),
            values,
        });
    }
    if runs.is_empty() {
        bail!("{path} lists no runs: the experiment has not finished any run yet");
    }
    Ok(runs)
}

/// One row of a run's `metrics.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    pub iteration: u64,
    pub metric: String,
    /// `None` for task metrics such as `test_error`.
    pub layer: Option<u32>,
    pub value: f64,
}

/// Read `results/<experiment>/<run>/metrics.csv`.
pub fn read_metrics(path: &Path) -> Result<Vec<MetricRow>> {
    let mut table = Table::open(path)?;
    let (iteration, metric, layer, value) = (
        table.column("iteration")?,
        table.column("metric")?,
        table.column("layer")?,
        table.column("value")?,
    );
    let path_text = table.path().to_string();
    let mut rows = Vec::new();
    for record in table.records() {
        let (line, record) = record?;
        rows.push(MetricRow {
            iteration: cell(&path_text, line, "iteration", text(&record, iteration))?,
            metric: text(&record, metric).to_string(),
            layer: optional_cell(&path_text, line, "layer", text(&record, layer))?,
            value: cell(&path_text, line, "value", text(&record, value))?,
        });
    }
    Ok(rows)
}

/// One test image's 2-D latent code (`latent.csv` of the autoencoder).
#[derive(Debug, Clone, PartialEq)]
pub struct LatentPoint {
    pub iteration: u64,
    pub label: u8,
    pub z1: f64,
    pub z2: f64,
}

/// Read `results/<experiment>/<run>/latent.csv`.
pub fn read_latent(path: &Path) -> Result<Vec<LatentPoint>> {
    let mut table = Table::open(path)?;
    let (iteration, label, z1, z2) = (
        table.column("iteration")?,
        table.column("label")?,
        table.column("z1")?,
        table.column("z2")?,
    );
    let p = table.path().to_string();
    let mut points = Vec::new();
    for record in table.records() {
        let (line, r) = record?;
        points.push(LatentPoint {
            iteration: cell(&p, line, "iteration", text(&r, iteration))?,
            label: cell(&p, line, "label", text(&r, label))?,
            z1: cell(&p, line, "z1", text(&r, z1))?,
            z2: cell(&p, line, "z2", text(&r, z2))?,
        });
    }
    Ok(points)
}

/// Pixels per MNIST image (28 × 28, row-major).
pub const IMAGE_PIXELS: usize = 784;

/// One 28 × 28 image of `reconstructions.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct Digit {
    pub test_index: u64,
    pub label: u8,
    /// `true` for the network's output, `false` for the original test image.
    pub reconstruction: bool,
    /// 784 values in [0, 1], row-major.
    pub pixels: Vec<f32>,
}

/// Read `results/<experiment>/<run>/reconstructions.csv`.
pub fn read_reconstructions(path: &Path) -> Result<Vec<Digit>> {
    let mut table = Table::open(path)?;
    let (test_index, label, source) = (
        table.column("test_index")?,
        table.column("label")?,
        table.column("source")?,
    );
    let pixel_cols: Vec<usize> = (0..IMAGE_PIXELS)
        .map(|i| table.column(&format!("p{i}")))
        .collect::<Result<_>>()?;
    let p = table.path().to_string();
    let mut digits = Vec::new();
    for record in table.records() {
        let (line, r) = record?;
        let reconstruction = match text(&r, source) {
            "reconstruction" => true,
            "original" => false,
            other => bail!(
                "{p} line {line}: source `{other}` is neither `original` nor `reconstruction`"
            ),
        };
        let pixels = pixel_cols
            .iter()
            .map(|&c| cell::<f32>(&p, line, "p*", text(&r, c)))
            .collect::<Result<_>>()?;
        digits.push(Digit {
            test_index: cell(&p, line, "test_index", text(&r, test_index))?,
            label: cell(&p, line, "label", text(&r, label))?,
            reconstruction,
            pixels,
        });
    }
    Ok(digits)
}
