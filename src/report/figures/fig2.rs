//! Figure 2: alignment of learned feedback and test error against iteration (MNIST MLP).
//! A: relative error ‖W − B‖/‖W‖, B: angle (paper's definition), C: sign congruence, D: test
//! error in %. Mean ± s.e. over seeds.
use super::{metric_panel, MetricView, Results};
use crate::report::chart::draw_panel;
use crate::report::render::{render, Figure};
use anyhow::Result;
use plotters::chart::SeriesLabelPosition;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// The four panels of Fig. 2 (and of Fig. 4 A–C, which share them).
pub const ALIGNMENT: [MetricView<'static>; 3] = [
    MetricView {
        letter: "A",
        title: "relative error of B",
        metric: "rel_err",
        y_label: "‖W − B‖F / ‖W‖F",
        scale: 1.0,
        log_y: true,
        y_range: None,
        legend: SeriesLabelPosition::LowerLeft,
    },
    MetricView {
        letter: "B",
        title: "angle between B and W updates",
        metric: "angle_paper",
        y_label: "angle (degrees)",
        scale: 1.0,
        log_y: false,
        y_range: Some((0.0, 90.0)),
        legend: SeriesLabelPosition::LowerLeft,
    },
    MetricView {
        letter: "C",
        title: "sign congruence of B and W",
        metric: "sign_congruence",
        y_label: "fraction of signs equal",
        scale: 1.0,
        log_y: false,
        y_range: None,
        legend: SeriesLabelPosition::LowerRight,
    },
];

const TEST_ERROR: MetricView<'static> = MetricView {
    letter: "D",
    title: "test error",
    metric: "test_error",
    y_label: "test error (%)",
    scale: 100.0,
    log_y: true,
    y_range: None,
    legend: SeriesLabelPosition::UpperRight,
};

struct Fig2 {
    results: Results,
    name: String,
}

impl Figure for Fig2 {
    fn size(&self) -> (u32, u32) {
        (1600, 1200)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (title, body) = root.split_vertically(44);
        title.titled(
            &format!("Fig. 2 ({}): mean ± s.e. over seeds", self.name),
            (crate::report::theme::FONT, 26),
        )?;
        let areas = body.split_evenly((2, 2));
        let views = ALIGNMENT.iter().chain(std::iter::once(&TEST_ERROR));
        for (area, view) in areas.iter().zip(views) {
            let panel = metric_panel(&self.results, &self.results.conditions, view);
            draw_panel(area, &panel)?;
        }
        Ok(())
    }
}

/// Draw `exp_dir/<name>.png` and `.svg`.
pub fn draw(exp_dir: &Path, name: &str) -> Result<Vec<PathBuf>> {
    let figure = Fig2 {
        results: Results::load(exp_dir)?,
        name: name.to_string(),
    };
    render(&figure, &exp_dir.join(name))
}
