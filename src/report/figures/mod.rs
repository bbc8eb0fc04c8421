//! The paper's figures, each drawn from one experiment's result files.
pub mod fig2;
pub mod fig3;
pub mod fig4;
pub mod peers;
pub mod table1;
pub mod theory;

use super::aggregate::{fresh_aggregate, read_aggregate, AggregateRow, MeanSe};
use super::chart::{Line, Panel};
use super::read::{read_summary, RunRow};
use super::theme::colour;
use anyhow::Result;
use plotters::chart::SeriesLabelPosition;
use std::collections::BTreeSet;
use std::path::Path;

/// One experiment's summary and aggregate, with the lookups figures need.
pub struct Results {
    pub runs: Vec<RunRow>,
    /// Conditions in the order of their first run in summary.csv (fixes colours).
    pub conditions: Vec<String>,
    rows: Vec<AggregateRow>,
}

impl Results {
    /// Read `summary.csv` and `aggregate.csv`, re-aggregating first if that is stale.
    pub fn load(exp_dir: &Path) -> Result<Results> {
        let runs = read_summary(exp_dir)?;
        let rows = read_aggregate(&fresh_aggregate(exp_dir)?)?;
        let mut conditions: Vec<String> = Vec::new();
        for run in &runs {
            if !conditions.contains(&run.condition) {
                conditions.push(run.condition.clone());
            }
        }
        Ok(Results {
            runs,
            conditions,
            rows,
        })
    }

    /// Colour of a condition, stable across every panel of a figure.
    pub fn colour(&self, condition: &str) -> plotters::style::RGBColor {
        colour(
            self.conditions
                .iter()
                .position(|c| c == condition)
                .unwrap_or(0),
        )
    }

    /// `(iteration, mean·scale, se·scale)` of one metric of one condition, by iteration.
    pub fn series(
        &self,
        condition: &str,
        metric: &str,
        layer: Option<u32>,
        scale: f64,
    ) -> Vec<(f64, f64, f64)> {
        self.rows
            .iter()
            .filter(|r| r.condition == condition && r.metric == metric && r.layer == layer)
            .filter(|r| r.stats.n > 0) // rows of a condition whose runs all diverged
            .map(|r| (r.iteration as f64, r.stats.mean * scale, r.stats.se * scale))
            .collect()
    }

    /// A condition's legend label, saying how many of its runs diverged, if any.
    pub fn legend(&self, condition: &str) -> String {
        let runs = self.runs.iter().filter(|r| r.condition == condition);
        let (n, diverged) = runs.fold((0, 0), |(n, d), r| (n + 1, d + usize::from(!r.completed())));
        match diverged {
            0 => display(condition),
            d if d == n => format!("{} (all {n} diverged)", display(condition)),
            d => format!("{} ({d} of {n} diverged)", display(condition)),
        }
    }

    /// Per condition, `solid` as a labelled solid line and `dashed` unlabelled in the same
    /// colour (test against train loss, test against validation accuracy).
    pub fn solid_and_dashed(&self, panel: &mut Panel, solid: &str, dashed: &str, scale: f64) {
        for c in &self.conditions {
            let colour = self.colour(c);
            panel.lines.push(Line::new(
                Some(self.legend(c)),
                colour,
                self.series(c, solid, None, scale),
            ));
            let mut line = Line::new(None, colour, self.series(c, dashed, None, scale));
            line.dashed = true;
            panel.lines.push(line);
        }
    }

    /// Layers at which `metric` was logged, ascending (`[None]` for task metrics).
    pub fn layers(&self, metric: &str) -> Vec<Option<u32>> {
        let set: BTreeSet<Option<u32>> = self
            .rows
            .iter()
            .filter(|r| r.metric == metric)
            .map(|r| r.layer)
            .collect();
        set.into_iter().collect()
    }

    /// The value at the last logged iteration of one condition's metric.
    pub fn final_value(&self, condition: &str, metric: &str, layer: Option<u32>) -> Option<MeanSe> {
        self.rows
            .iter()
            .filter(|r| r.condition == condition && r.metric == metric && r.layer == layer)
            .max_by_key(|r| r.iteration)
            .map(|r| r.stats)
    }

    /// The value at the last logged iteration ≤ `at` of one condition's metric, with that
    /// iteration.
    pub fn value_at(
        &self,
        condition: &str,
        metric: &str,
        layer: Option<u32>,
        at: u64,
    ) -> Option<(u64, MeanSe)> {
        self.rows
            .iter()
            .filter(|r| r.condition == condition && r.metric == metric && r.layer == layer)
            .filter(|r| r.iteration <= at)
            .max_by_key(|r| r.iteration)
            .map(|r| (r.iteration, r.stats))
    }

    /// The first completed run of a condition, by seed: the one whose images are shown.
    pub fn first_completed(&self, condition: &str) -> Option<&RunRow> {
        self.runs
            .iter()
            .filter(|r| r.condition == condition && r.completed())
            .min_by_key(|r| r.seed)
    }
}

/// How one metric is shown against iteration.
pub struct MetricView<'a> {
    pub letter: &'a str,
    pub title: &'a str,
    pub metric: &'a str,
    pub y_label: &'a str,
    pub scale: f64,
    pub log_y: bool,
    pub y_range: Option<(f64, f64)>,
    pub legend: SeriesLabelPosition,
}

/// A legend label: the condition as the engine wrote it, with σ for `sigma`.
pub fn display(condition: &str) -> String {
    condition.replace("sigma=", "σ=")
}

/// A panel of `metric` against iteration for `conditions`: colour by condition; with several
/// layers, the top layer solid and lower layers dashed.
pub fn metric_panel(results: &Results, conditions: &[String], view: &MetricView) -> Panel {
    let mut panel = Panel::new(view.letter, view.title, "iteration", view.y_label);
    panel.log_y = view.log_y;
    panel.y_range = view.y_range;
    panel.legend = view.legend.clone();
    let layers = results.layers(view.metric);
    let top = layers.last().copied().flatten();
    for condition in conditions {
        let mut labelled = false;
        for layer in layers.iter().rev() {
            let points = results.series(condition, view.metric, *layer, view.scale);
            if points.is_empty() {
                continue;
            }
            let label = (!labelled).then(|| results.legend(condition));
            labelled = true;
            let mut line = Line::new(label, results.colour(condition), points);
            line.dashed = *layer != top;
            panel.lines.push(line);
        }
        if !labelled && results.runs.iter().any(|r| &r.condition == condition) {
            // Nothing to draw (every run diverged): the legend still names the condition.
            let key = results.legend(condition);
            panel
                .lines
                .push(Line::key(&key, results.colour(condition), false));
        }
    }
    if layers.len() > 1 {
        let grey = plotters::style::RGBColor(90, 90, 90);
        for layer in layers.iter().rev().flatten() {
            let key = format!("layer {layer}");
            panel.lines.push(Line::key(&key, grey, Some(*layer) != top));
        }
    }
    panel
}
