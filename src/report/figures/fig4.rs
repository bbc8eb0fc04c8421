//! Figure 4 (supplement B): convergence of B with W fixed. A–C: relative error, angle and
//! sign congruence against iteration for each σ at the base width; D, E: final relative error
//! and angle against the width N of a 784-N-50-10 network, at the width sweep's σ.
use super::fig2::ALIGNMENT;
use super::{metric_panel, MetricView, Results};
use crate::report::chart::{draw_panel, Line, Panel, Spread};
use crate::report::render::{render, Figure};
use crate::report::theme::{colour, FONT};
use anyhow::Result;
use plotters::chart::SeriesLabelPosition;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// A–C: Fig. 2's panels, with the angle on a log scale: with W fixed it falls from about 80°
/// to about 1°, which a linear axis flattens onto zero.
fn alignment_views() -> [MetricView<'static>; 3] {
    let [a, b, c] = ALIGNMENT;
    let b = MetricView {
        log_y: true,
        y_range: None,
        legend: SeriesLabelPosition::UpperRight,
        ..b
    };
    [a, b, c]
}

struct Fig4 {
    results: Results,
    name: String,
    /// Conditions of the σ sweep: those at the base width (or without a `width` param).
    sigma: Vec<String>,
    /// Conditions of the width sweep (one σ) with their N, ascending.
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
                for (a, view) in area.split_evenly((1, 3)).iter().zip(&alignment_views()) {
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

/// Split the conditions into the σ sweep and the width sweep. When any entry of a config sets
/// `sizes`, the engine gives every run a `width` param, so the σ sweep is the conditions at
/// the base width (the width most conditions share), and the width sweep is the conditions at
/// the σ most of the other widths use; the base-width run at that σ belongs to both.
fn split(results: &Results) -> (Vec<String>, Vec<(String, f64)>) {
    let param = |c: &String, name| {
        let run = results.runs.iter().find(|r| &r.condition == c);
        run.and_then(|r| r.value(name))
    };
    let widths: Vec<Option<f64>> = results
        .conditions
        .iter()
        .map(|c| param(c, "width"))
        .collect();
    let base = mode(widths.iter().flatten().copied());
    let sigma = results
        .conditions
        .iter()
        .zip(&widths)
        .filter(|(_, w)| w.is_none() || *w == &base)
        .map(|(c, _)| c.clone())
        .collect();
    let with_width = results.conditions.iter().zip(&widths);
    let swept_sigma = mode(
        with_width
            .clone()
            .filter(|(_, w)| w.is_some() && *w != &base)
            .filter_map(|(c, _)| param(c, "sigma")),
    );
    let mut width: Vec<(String, f64)> = match swept_sigma {
        None => Vec::new(),
        Some(s) => with_width
            .filter(|(c, _)| param(c, "sigma") == Some(s))
            .filter_map(|(c, w)| Some((c.clone(), (*w)?)))
            .collect(),
    };
    width.sort_by(|a, b| a.1.total_cmp(&b.1));
    (sigma, width)
}

/// The most frequent value (the first of equals), if any.
fn mode(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut counts: Vec<(f64, usize)> = Vec::new();
    for v in values {
        match counts.iter_mut().find(|(x, _)| *x == v) {
            Some((_, n)) => *n += 1,
            None => counts.push((v, 1)),
        }
    }
    let max = counts.iter().map(|(_, n)| *n).max()?;
    counts.into_iter().find(|(_, n)| *n == max).map(|(v, _)| v)
}

/// Draw `exp_dir/<name>.png` and `.svg`.
pub fn draw(exp_dir: &Path, name: &str) -> Result<Vec<PathBuf>> {
    let results = Results::load(exp_dir)?;
    let (sigma, width) = split(&results);
    let figure = Fig4 {
        results,
        name: name.to_string(),
        sigma,
        width,
    };
    render(&figure, &exp_dir.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Status;
    use crate::report::read::RunRow;

    /// A run as the engine writes fig4.yaml's: every run carries `width` and `sigma`.
    fn run(width: f64, sigma: f64) -> RunRow {
        RunRow {
            run: format!("np-width{width}-sigma{sigma}-seed0"),
            rule: "np".into(),
            condition: format!("np width={width} sigma={sigma}"),
            seed: 0,
            status: Status::Completed,
            diverged_at: None,
            iterations: 1000,
            seconds: 1.0,
            device: "cpu".into(),
            values: [("width", width), ("sigma", sigma)]
                .map(|(k, v)| (k.to_string(), Some(v)))
                .into(),
        }
    }

    fn results(runs: Vec<RunRow>) -> Results {
        let conditions = runs.iter().map(|r| r.condition.clone()).collect();
        Results {
            runs,
            conditions,
            rows: Vec::new(),
        }
    }

    #[test]
    fn base_width_runs_form_the_sigma_panel_and_one_sigma_the_width_panel() {
        let r = results(vec![
            run(50.0, 1e-3),
            run(50.0, 1e-2),
            run(50.0, 1e-1),
            run(1000.0, 1e-2),
            run(30.0, 1e-2),
        ]);
        let (sigma, width) = split(&r);
        assert_eq!(
            sigma,
            [
                "np width=50 sigma=0.001",
                "np width=50 sigma=0.01",
                "np width=50 sigma=0.1"
            ]
        );
        let n: Vec<f64> = width.iter().map(|(_, n)| *n).collect();
        assert_eq!(n, [30.0, 50.0, 1000.0], "{width:?}");
        assert_eq!(width[1].0, "np width=50 sigma=0.01");
    }

    #[test]
    fn without_a_width_param_every_condition_is_the_sigma_sweep() {
        let mut a = run(50.0, 1e-3);
        a.values.remove("width");
        let mut b = run(50.0, 1e-2);
        b.values.remove("width");
        let (sigma, width) = split(&results(vec![a, b]));
        assert_eq!(sigma.len(), 2);
        assert!(width.is_empty());
    }
}
