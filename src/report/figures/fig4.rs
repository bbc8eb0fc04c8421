//! Figure 4 (supplement B): convergence of B with W fixed. A–C: relative error, angle and
//! sign congruence against iteration for each σ; D, E: final relative error and angle against
//! the width N of a 784-N-50-10 network (runs that carry the param `width`).
use super::fig2::ALIGNMENT;
use super::{metric_panel, Results};
use crate::report::chart::{draw_panel, Line, Panel, Spread};
use crate::report::render::{render, Figure};
use crate::report::theme::{colour, FONT};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

struct Fig4 {
    results: Results,
    name: String,
    /// Conditions of the σ sweep (runs without a `width` param).
    sigma: Vec<String>,
    /// Conditions of the width sweep with their N, ascending.
    width: Vec<(String, f64)>,
}

impl Fig4 {
    fn rows(&self) -> u32 {
        u32::from(!self.sigma.is_empty()) + u32::from(!self.width.is_empty())
    }

    /// Final value of `metric` against N, one line per layer.
    fn width_panel(&self, letter: &str, title: &str, metric: &str, y_label: &str) -> Panel {
        let mut panel = Panel::new(letter, title, "hidden width N (784-N-50-10)", y_label);
        panel.log_x = true;
        panel.log_y = metric == "rel_err";
        panel.spread = Spread::Bars;
        panel.x_ticks = Some(self.width.iter().map(|(_, n)| *n).collect());
        for (i, layer) in self.results.layers(metric).iter().enumerate() {
            let points = self
                .width
                .iter()
                .filter_map(|(c, n)| {
                    let s = self.results.final_value(c, metric, *layer)?;
                    Some((*n, s.mean, s.se))
                })
                .collect();
            let label = layer.map_or_else(|| metric.to_string(), |l| format!("layer {l}"));
            let mut line = Line::new(Some(label), colour(i), points);
            line.markers = true;
            panel.lines.push(line);
        }
        panel
    }
}

impl Figure for Fig4 {
    fn size(&self) -> (u32, u32) {
        (1800, 44 + 560 * self.rows())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (title, body) = root.split_vertically(44);
        title.titled(
            &format!(
                "Fig. 4 ({}): W fixed, B fitted by ridge regression; mean ± s.e. over seeds",
                self.name
            ),
            (FONT, 26),
        )?;
        let rows = body.split_evenly((self.rows() as usize, 1));
        let mut row = rows.iter();
        if !self.sigma.is_empty() {
            if let Some(area) = row.next() {
                for (a, view) in area.split_evenly((1, 3)).iter().zip(ALIGNMENT.iter()) {
                    draw_panel(a, &metric_panel(&self.results, &self.sigma, view))?;
                }
            }
        }
        if !self.width.is_empty() {
            if let Some(area) = row.next() {
                let halves = area.split_evenly((1, 2));
                let d = self.width_panel(
                    "D",
                    "final relative error against width",
                    "rel_err",
                    "‖W − B‖F / ‖W‖F",
                );
                let e = self.width_panel(
                    "E",
                    "final angle against width",
                    "angle_paper",
                    "angle (degrees)",
                );
                draw_panel(&halves[0], &d)?;
                draw_panel(&halves[1], &e)?;
            }
        }
        Ok(())
    }
}

/// Draw `exp_dir/<name>.png` and `.svg`.
pub fn draw(exp_dir: &Path, name: &str) -> Result<Vec<PathBuf>> {
    let results = Results::load(exp_dir)?;
    let mut sigma = Vec::new();
    let mut width = Vec::new();
    for condition in &results.conditions {
        let run = results.runs.iter().find(|r| &r.condition == condition);
        match run.and_then(|r| r.value("width")) {
            Some(n) => width.push((condition.clone(), n)),
            None => sigma.push(condition.clone()),
        }
    }
    width.sort_by(|a, b| a.1.total_cmp(&b.1));
    let figure = Fig4 {
        results,
        name: name.to_string(),
        sigma,
        width,
    };
    render(&figure, &exp_dir.join(name))
}
