//! Reporting: mean ± s.e. over seeds, the paper's figures (PNG and SVG), and a markdown report
//! that sets our numbers beside the paper's.
//!
//! Everything here reads the result files the engine writes (see `docs/REPORTING.md`), never
//! memory, so any figure can be redrawn from a results folder alone.
mod aggregate;
mod alignment;
mod chart;
mod fig2_curves;
mod fig4_seeds;
mod figure;
mod figures;
mod markdown;
mod md;
mod paper;
mod peers;
mod plot;
mod publish;
mod read;
mod render;
mod theme;
mod versus;

pub use aggregate::{aggregate, mean_se, read_aggregate, AggregateRow, MeanSe};
pub use figure::Figure;
pub use markdown::{write_report, Mode, ReportEntry};
pub use plot::plot;
pub use publish::{check_target, publish, thin, Latents, MAX_POINTS};
pub use read::{read_summary, RunRow};
