//! What a report table sets our numbers beside. A full-length run: the paper's number and our
//! difference to it. A quick run (a few thousand iterations where the paper ran millions):
//! the published full-length result of the same config and the paper's number, with the
//! published result's difference; the quick run's own difference to the paper would mean
//! nothing at its length and is left out.
use super::aggregate::{result_stats, ResultStats};
use super::figures::table1::{count_note, mean_pm_se};
use super::figures::{display, Results};
use super::md::signed;
use super::paper;
use super::read::RunRow;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// The published full-length experiment of a quick run's config (`results/<config>/`).
pub struct Published {
    pub dir: PathBuf,
    pub results: Results,
}

impl Published {
    /// The published experiment of `config` (`<root>/configs/<name>.yaml`): the committed
    /// `<root>/results/<name>/`, i.e. the checkout whose configs ran. `None` where nothing of
    /// that config is published (no summary.csv there).
    pub fn of_config(config: &Path) -> Result<Option<Published>> {
        let (Some(stem), Some(root)) = (config.file_stem(), config.parent().and_then(Path::parent))
        else {
            return Ok(None);
        };
        let dir = root.join("results").join(stem);
        if !dir.join("summary.csv").exists() {
            return Ok(None);
        }
        let results = Results::load(&dir)?;
        Ok(Some(Published { dir, results }))
    }

    /// `2000000 iterations` (or a range), for the column header.
    fn length(&self) -> String {
        let iters = self.results.runs.iter().map(|r| r.iterations);
        match (iters.clone().min(), iters.max()) {
            (Some(a), Some(b)) if a == b => format!("{a} iterations"),
            (Some(a), Some(b)) => format!("{a}–{b} iterations"),
            _ => "no runs".to_string(),
        }
    }
}

/// What a table sets our numbers beside.
pub enum Beside<'a> {
    /// The paper's number and ours − paper; `percent` adds the relative difference, which
    /// means something only where our runs had the paper's length.
    Paper { percent: bool },
    /// A quick run: the published full-length result of its config (`None`: none is
    /// published) and the paper's number, with published − paper.
    Published(Option<&'a Published>),
}

impl Beside<'_> {
    /// The header cells after the condition: ours, [published,] paper, the difference.
    pub fn header(&self, what: &str, unit: &str) -> Vec<String> {
        match self {
            Beside::Paper { .. } => vec![
                format!("ours: {what}{unit}"),
                format!("paper{unit}"),
                format!("ours − paper{}", diff_unit(unit)),
            ],
            Beside::Published(p) => vec![
                format!("ours, quick: {what}{unit}"),
                match p {
                    Some(p) => format!("published, {}{unit}", p.length()),
                    None => format!("published, full length{unit}"),
                },
                format!("paper{unit}"),
                format!("published − paper{}", diff_unit(unit)),
            ],
        }
    }

    /// The published results, if this is a quick table and they exist.
    pub fn published(&self) -> Option<&Results> {
        match self {
            Beside::Published(Some(p)) => Some(&p.results),
            _ => None,
        }
    }

    /// The cells after the condition. `ours` and `published` are (cell, mean); `paper` is
    /// (cell, value).
    pub fn cells(
        &self,
        ours: (String, Option<f64>),
        published: Option<(String, Option<f64>)>,
        paper: Option<(String, f64)>,
        decimals: usize,
    ) -> Vec<String> {
        let paper_cell = paper.as_ref().map_or("—".to_string(), |(c, _)| c.clone());
        let diff = |mean: Option<f64>, percent: bool| match (mean, &paper) {
            (Some(m), Some((_, p))) if m.is_finite() => {
                let d = m - p;
                if percent {
                    format!("{} ({:+.1}%)", signed(d, decimals), 100.0 * d / p)
                } else {
                    signed(d, decimals)
                }
            }
            _ => "—".to_string(),
        };
        match self {
            Beside::Paper { percent } => vec![ours.0, paper_cell, diff(ours.1, *percent)],
            Beside::Published(p) => {
                let (cell, mean) = match (p, published) {
                    (None, _) => ("not published".to_string(), None),
                    (Some(_), None) => ("not run".to_string(), None),
                    (Some(_), Some(published)) => published,
                };
                vec![ours.0, cell, paper_cell, diff(mean, true)]
            }
        }
    }
}

/// `(pp)` for a percentage, else the unit itself.
fn diff_unit(unit: &str) -> String {
    if unit == " (%)" {
        " (pp)".to_string()
    } else {
        unit.to_string()
    }
}

/// A summary result's cell and mean: `3.62 ± 0.15 (n=5)`.
fn result_cell(s: &ResultStats, decimals: usize) -> (String, Option<f64>) {
    let mean = (s.stats.n > 0).then_some(s.stats.mean);
    (
        format!("{} {}", mean_pm_se(s, decimals), count_note(s)),
        mean,
    )
}

/// Rows setting each paper value beside ours (`column` × `scale` from summary.csv), then
/// rows for our conditions the paper does not have. Each row comes with our condition
/// (`None` for a paper condition we did not run) and the paper's value, if any.
pub fn versus_paper(
    runs: &[RunRow],
    beside: &Beside,
    paper_values: &[(&str, f64)],
    column: &str,
    scale: f64,
    decimals: usize,
) -> Vec<(Option<String>, Option<f64>, Vec<String>)> {
    let mut ours: Vec<String> = Vec::new();
    for r in runs {
        if !ours.contains(&r.condition) {
            ours.push(r.condition.clone());
        }
    }
    let published = |c: &str| {
        let p = beside.published()?;
        let found = p
            .conditions
            .iter()
            .find(|pc| paper::same_condition(pc, c))?;
        Some(result_cell(
            &result_stats(&p.runs, found, column, scale),
            decimals,
        ))
    };
    let paper_cell = |value: f64| (format!("{value:.decimals$}"), value);
    let mut rows = Vec::new();
    for (label, value) in paper_values {
        let row = match ours.iter().find(|c| paper::same_condition(c, label)) {
            Some(c) => {
                let s = result_stats(runs, c, column, scale);
                let mut cells = vec![display(c)];
                cells.extend(beside.cells(
                    result_cell(&s, decimals),
                    published(c),
                    Some(paper_cell(*value)),
                    decimals,
                ));
                (Some(c.clone()), Some(*value), cells)
            }
            None => {
                let mut cells = vec![display(label)];
                cells.extend(beside.cells(
                    ("not run".to_string(), None),
                    published(label),
                    Some(paper_cell(*value)),
                    decimals,
                ));
                (None, Some(*value), cells)
            }
        };
        rows.push(row);
    }
    for c in ours.iter().filter(|c| {
        !paper_values
            .iter()
            .any(|(l, _)| paper::same_condition(c, l))
    }) {
        let s = result_stats(runs, c, column, scale);
        let mut cells = vec![display(c)];
        cells.extend(beside.cells(result_cell(&s, decimals), published(c), None, decimals));
        rows.push((Some(c.clone()), None, cells));
    }
    rows
}
