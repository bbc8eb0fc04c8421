//! The peers' benchmarks and every rule on Fig. 2's network (`peers-*`, `rules-*`): test error
//! and the peers' alignment metrics against iteration, one line per rule. A: test error in %,
//! B: weight angle between B and W, C: delta angle (Akrout et al.'s), D: ‖B‖/‖W‖. The top
//! layer solid, lower layers dashed. Mean ± s.e. over seeds.
use super::{metric_panel, MetricView, Results};
use crate::report::chart::draw_panel;
use crate::report::render::{render, Figure};
use anyhow::Result;
use plotters::chart::SeriesLabelPosition;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

const PANELS: [MetricView<'static>; 4] = [
    MetricView {
        letter: "A",
        title: "test error",
        metric: "test_error",
        y_label: "test error (%)",
        scale: 100.0,
        log_y: true,
        y_range: None,
        legend: SeriesLabelPosition::UpperRight,
    },
    MetricView {
        letter: "B",
        title: "weight angle between B and W",
        metric: "weight_angle",
        y_label: "angle (degrees)",
        scale: 1.0,
        log_y: false,
        y_range: Some((0.0, 180.0)),
        legend: SeriesLabelPosition::UpperRight,
    },
    MetricView {
        letter: "C",
        title: "delta angle (the rule's hidden delta against backprop's)",
        metric: "delta_angle",
        y_label: "angle (degrees)",
        scale: 1.0,
        log_y: false,
        y_range: Some((0.0, 180.0)),
        legend: SeriesLabelPosition::UpperRight,
    },
    MetricView {
        letter: "D",
        title: "norm ratio of B to W",
        metric: "norm_ratio",
        y_label: "‖B‖F / ‖W‖F",
        scale: 1.0,
        log_y: true,
        y_range: None,
        legend: SeriesLabelPosition::LowerLeft,
    },
];

struct Peers {
    results: Results,
    name: String,
}

impl Figure for Peers {
    fn size(&self) -> (u32, u32) {
        (1600, 1200)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (title, body) = root.split_vertically(44);
        title.titled(
            &format!("{}: mean ± s.e. over seeds", self.name),
            (crate::report::theme::FONT, 26),
        )?;
        for (area, view) in body.split_evenly((2, 2)).iter().zip(&PANELS) {
            draw_panel(
                area,
                &metric_panel(&self.results, &self.results.conditions, view),
            )?;
        }
        Ok(())
    }
}

/// Draw `exp_dir/<name>.png` and `.svg`.
pub fn draw(exp_dir: &Path, name: &str) -> Result<Vec<PathBuf>> {
    let figure = Peers {
        results: Results::load(exp_dir)?,
        name: name.to_string(),
    };
    render(&figure, &exp_dir.join(name))
}
