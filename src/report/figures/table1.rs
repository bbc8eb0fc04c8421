//! Table 1: CNN accuracy on CIFAR-10/100. Written as `<name>.md`, and drawn as a figure with
//! A: test (solid) and validation (dashed) accuracy curves, B: the table itself.
use super::{display, Results};
use crate::output::write_atomic;
use crate::report::aggregate::{result_stats, ResultStats};
use crate::report::chart::{draw_letter, draw_panel, Line, Panel};
use crate::report::render::{render, Figure};
use crate::report::theme::{FONT, LABEL_SIZE, TITLE_SIZE};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// One rule's accuracies in %, over its completed runs.
pub struct AccuracyRow {
    pub condition: String,
    /// The paper's metric: the best test accuracy over epochs.
    pub max_test: ResultStats,
    /// Test accuracy at the epoch with the best validation accuracy (the honest figure).
    pub at_best_val: ResultStats,
    pub last: ResultStats,
}

pub fn accuracy_rows(results: &Results) -> Vec<AccuracyRow> {
    results
        .conditions
        .iter()
        .map(|c| AccuracyRow {
            condition: c.clone(),
            max_test: result_stats(&results.runs, c, "max_test_accuracy", 100.0),
            at_best_val: result_stats(&results.runs, c, "test_accuracy_at_best_val", 100.0),
            last: result_stats(&results.runs, c, "final_test_accuracy", 100.0),
        })
        .collect()
}

/// `12.34 ± 0.56`, `12.34` for one run, `—` for none.
pub fn mean_pm_se(s: &ResultStats, decimals: usize) -> String {
    match s.stats.n {
        0 => "—".to_string(),
        1 => format!("{:.decimals$}", s.stats.mean),
        _ => format!("{:.decimals$} ± {:.decimals$}", s.stats.mean, s.stats.se),
    }
}

/// `(n=3)`, `(n=2, 1 diverged)`, `(n=2, 1 non-finite)`.
pub fn count_note(s: &ResultStats) -> String {
    let mut note = format!("(n={}", s.stats.n);
    if s.diverged > 0 {
        note.push_str(&format!(", {} diverged", s.diverged));
    }
    if s.stats.nonfinite > 0 {
        note.push_str(&format!(", {} non-finite", s.stats.nonfinite));
    }
    note.push(')');
    note
}

const HEADER: [&str; 4] = [
    "rule",
    "max test acc. % (paper's metric)",
    "test acc. % at best val.",
    "final test acc. %",
];

fn cells(row: &AccuracyRow) -> [String; 4] {
    [
        display(&row.condition),
        format!(
            "{} {}",
            mean_pm_se(&row.max_test, 2),
            count_note(&row.max_test)
        ),
        mean_pm_se(&row.at_best_val, 2),
        mean_pm_se(&row.last, 2),
    ]
}

/// The table as markdown (mean ± s.e. over completed runs).
pub fn markdown(rows: &[AccuracyRow]) -> String {
    let mut out = format!(
        "| {} |\n|{}\n",
        HEADER.join(" | "),
        "---|".repeat(HEADER.len())
    );
    for row in rows {
        out.push_str(&format!("| {} |\n", cells(row).join(" | ")));
    }
    out
}

struct Table1 {
    results: Results,
    name: String,
}

impl Figure for Table1 {
    fn size(&self) -> (u32, u32) {
        (1500, 1000)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (title, body) = root.split_vertically(44);
        title.titled(
            &format!(
                "Table 1 ({}): CNN accuracy, mean ± s.e. over runs",
                self.name
            ),
            (FONT, 26),
        )?;
        let (a, b) = body.split_vertically(640);
        let mut panel = Panel::new("A", "accuracy during training", "iteration", "accuracy (%)");
        self.results
            .solid_and_dashed(&mut panel, "test_accuracy", "val_accuracy", 100.0);
        panel.legend = SeriesLabelPosition::LowerRight;
        let grey = RGBColor(90, 90, 90);
        panel.lines.push(Line::key("test", grey, false));
        panel.lines.push(Line::key("validation", grey, true));
        draw_panel(&a, &panel)?;

        let widths = [170, 420, 300, 260];
        let header = (FONT, LABEL_SIZE, FontStyle::Bold)
            .into_font()
            .color(&BLACK);
        let body_style = (FONT, TITLE_SIZE).into_font().color(&BLACK);
        let mut y = 60;
        let mut x = 60;
        for (text, w) in HEADER.iter().zip(widths) {
            b.draw_text(text, &header, (x, y))?;
            x += w;
        }
        b.draw(&PathElement::new(
            vec![(60, y + 28), (60 + 1150, y + 28)],
            BLACK,
        ))?;
        for row in accuracy_rows(&self.results) {
            y += 44;
            x = 60;
            for (text, w) in cells(&row).iter().zip(widths) {
                b.draw_text(text, &body_style, (x, y))?;
                x += w;
            }
        }
        draw_letter(&b, "B")
    }
}

/// Write `<name>.md` and draw `<name>.png/.svg`.
pub fn draw(exp_dir: &Path, name: &str) -> Result<Vec<PathBuf>> {
    let results = Results::load(exp_dir)?;
    let md_path = exp_dir.join(format!("{name}.md"));
    let md = format!(
        "# Table 1 ({name})\n\nMean ± s.e. over completed runs; accuracies in %.\n\n{}",
        markdown(&accuracy_rows(&results))
    );
    write_atomic(&md_path, md.as_bytes())?;
    let figure = Table1 {
        results,
        name: name.to_string(),
    };
    let mut written = vec![md_path];
    written.extend(render(&figure, &exp_dir.join(name))?);
    Ok(written)
}
