//! `credit plot results/<experiment>`: draw the experiment's figure from its CSVs alone.
use super::figure::Figure;
use super::figures::{fig2, fig3, fig4, peers, table1, theory};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Draw the figure of `exp_dir` (chosen by the experiment name's prefix) as PNG and SVG
/// beside its CSVs, re-aggregating first when `aggregate.csv` is missing or stale.
/// Returns every file written.
pub fn plot(exp_dir: &Path) -> Result<Vec<PathBuf>> {
    let (figure, name) = Figure::from_dir(exp_dir)?;
    let drawn = match figure {
        Figure::Fig2 => fig2::draw(exp_dir, &name),
        Figure::Fig3 => fig3::draw(exp_dir, &name),
        Figure::Fig4 => fig4::draw(exp_dir, &name),
        Figure::Theory => theory::draw(exp_dir, &name),
        Figure::Table1 => table1::draw(exp_dir, &name),
        Figure::Peers | Figure::Rules => peers::draw(exp_dir, &name),
    };
    drawn.with_context(|| format!("plotting {} ({figure})", exp_dir.display()))
}
