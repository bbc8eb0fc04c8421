//! Theory (§3, Theorem 2 and Corollary 1): in a deep linear network with W fixed, the final
//! relative error of every B^l against W^l (rule `np`) and of every D^i against the product of
//! the W above it (rule `np_dfa`), against σ on log–log axes.
use super::Results;
use crate::report::chart::{draw_panel, Line, Panel, Spread};
use crate::report::render::{render, Figure};
use crate::report::theme::{colour, FONT};
use anyhow::{bail, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The feedback form a rule learns, as the legend names it.
fn form(rule: &str) -> &'static str {
    if rule.contains("dfa") {
        "D"
    } else {
        "B"
    }
}

/// `(σ, mean, se)` points of one line.
pub type Points = Vec<(f64, f64, f64)>;

/// One line per (rule, layer): `(σ, mean, se)` of the final `rel_err`, ascending σ.
pub fn lines(results: &Results) -> BTreeMap<(String, u32), Points> {
    let mut out: BTreeMap<(String, u32), Points> = BTreeMap::new();
    for condition in &results.conditions {
        let Some(run) = results.runs.iter().find(|r| &r.condition == condition) else {
            continue;
        };
        let Some(sigma) = run.value("sigma") else {
            continue;
        };
        for layer in results.layers("rel_err").into_iter().flatten() {
            if let Some(s) = results.final_value(condition, "rel_err", Some(layer)) {
                out.entry((run.rule.clone(), layer))
                    .or_default()
                    .push((sigma, s.mean, s.se));
            }
        }
    }
    for points in out.values_mut() {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

struct Theory {
    name: String,
    panel: Panel,
}

impl Figure for Theory {
    fn size(&self) -> (u32, u32) {
        (1100, 800)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (title, body) = root.split_vertically(44);
        title.titled(
            &format!("Theory ({}): deep linear network, W fixed", self.name),
            (FONT, 26),
        )?;
        draw_panel(&body, &self.panel)
    }
}

/// Draw `exp_dir/<name>.png` and `.svg`.
pub fn draw(exp_dir: &Path, name: &str) -> Result<Vec<PathBuf>> {
    let results = Results::load(exp_dir)?;
    let lines = lines(&results);
    if lines.is_empty() {
        bail!(
            "{}: no run has both a `sigma` param in summary.csv and a per-layer `rel_err` metric; the theory figure needs both",
            exp_dir.display()
        );
    }
    let mut panel = Panel::new(
        "A",
        "final relative error of learned feedback against σ",
        "perturbation noise σ",
        "relative error (Frobenius)",
    );
    panel.log_x = true;
    panel.log_y = true;
    panel.spread = Spread::Bars;
    panel.legend = SeriesLabelPosition::LowerRight;
    for (i, ((rule, layer), points)) in lines.into_iter().enumerate() {
        let label = format!("{}{layer} ({rule})", form(&rule));
        let mut line = Line::new(Some(label), colour(i), points);
        line.markers = true;
        line.dashed = form(&rule) == "D";
        panel.lines.push(line);
    }
    let figure = Theory {
        name: name.to_string(),
        panel,
    };
    render(&figure, &exp_dir.join(name))
}
