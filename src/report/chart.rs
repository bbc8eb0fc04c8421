//! One panel of curves with s.e. bands or error bars, a panel letter, and a legend: the
//! building block of every figure.
use super::theme::{tick, FONT, LABEL_SIZE, LEGEND_SIZE, LETTER_SIZE, TICK_SIZE, TITLE_SIZE};
use anyhow::Result;
use plotters::coord::combinators::{LogCoord, WithKeyPoints};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::FontStyle;

/// One curve: `(x, mean, se)` points; a NaN `se` draws no band or bar at that point.
#[derive(Debug, Clone)]
pub struct Line {
    /// Legend text; `None` keeps the curve out of the legend.
    pub label: Option<String>,
    pub colour: RGBColor,
    pub dashed: bool,
    /// Draw a dot at every point (for sparse x such as σ or width).
    pub markers: bool,
    pub points: Vec<(f64, f64, f64)>,
}

impl Line {
    pub fn new(label: Option<String>, colour: RGBColor, points: Vec<(f64, f64, f64)>) -> Line {
        Line {
            label,
            colour,
            dashed: false,
            markers: false,
            points,
        }
    }

    /// A legend-only entry (no points), e.g. "dashed: layer 2".
    pub fn key(label: &str, colour: RGBColor, dashed: bool) -> Line {
        Line {
            label: Some(label.to_string()),
            colour,
            dashed,
            markers: false,
            points: Vec::new(),
        }
    }
}

/// How the spread is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spread {
    /// Shaded mean ± s.e. band (curves against iteration).
    Band,
    /// Vertical mean ± s.e. bars (a few x values).
    Bars,
}

#[derive(Debug, Clone)]
pub struct Panel {
    pub letter: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub log_y: bool,
    /// A fixed y range (e.g. 0–90° for angles); otherwise fitted to the data.
    pub y_range: Option<(f64, f64)>,
    pub spread: Spread,
    /// Label the x axis at exactly these values (e.g. the widths run) instead of 1-2-5 ticks.
    pub x_ticks: Option<Vec<f64>>,
    /// Where the legend sits: pick the corner the curves leave empty.
    pub legend: SeriesLabelPosition,
    pub lines: Vec<Line>,
}

impl Panel {
    pub fn new(letter: &str, title: &str, x_label: &str, y_label: &str) -> Panel {
        Panel {
            letter: letter.to_string(),
            title: title.to_string(),
            x_label: x_label.to_string(),
            y_label: y_label.to_string(),
            log_x: false,
            log_y: false,
            y_range: None,
            spread: Spread::Band,
            x_ticks: None,
            legend: SeriesLabelPosition::UpperRight,
            lines: Vec::new(),
        }
    }
}

/// The panel letter, large and bold, in the top-left corner of `area`.
pub fn draw_letter<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, letter: &str) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let style = (FONT, LETTER_SIZE, FontStyle::Bold)
        .into_font()
        .color(&BLACK);
    area.draw_text(letter, &style, (8, 6))?;
    Ok(())
}

/// A centred message in place of a chart, so a missing metric shows rather than vanishes.
pub fn draw_message<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    message: &str,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (w, h) = area.dim_in_pixel();
    let title_style = (FONT, TITLE_SIZE).into_font().color(&BLACK);
    area.draw_text(title, &title_style, (60, 12))?;
    let style = (FONT, LABEL_SIZE).into_font().color(&RGBColor(150, 0, 0));
    area.draw_text(message, &style, (40, h as i32 / 2))?;
    area.draw(&Rectangle::new(
        [(2, 2), (w as i32 - 2, h as i32 - 2)],
        RGBColor(200, 200, 200),
    ))?;
    Ok(())
}

/// Draw `panel` into `area`.
pub fn draw_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, panel: &Panel) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let finite = |v: f64, log: bool| v.is_finite() && (!log || v > 0.0);
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for line in &panel.lines {
        for &(x, m, se) in &line.points {
            if !finite(x, panel.log_x) || !finite(m, panel.log_y) {
                continue;
            }
            xs.push(x);
            ys.push(m);
            if se.is_finite() {
                ys.push(m + se);
                if finite(m - se, panel.log_y) {
                    ys.push(m - se);
                }
            }
        }
    }
    if xs.is_empty() {
        draw_message(area, &panel.title, "no data for this panel in the results")?;
        return draw_letter(area, &panel.letter);
    }
    let (x0, x1) = padded(min(&xs), max(&xs), panel.log_x, 0.02);
    let (y0, y1) = match panel.y_range {
        Some(r) => r,
        None => padded(min(&ys), max(&ys), panel.log_y, 0.06),
    };
    let log_x = log_axis(x0, x1, panel.x_ticks.as_deref());
    match (panel.log_x, panel.log_y) {
        (false, false) => draw_chart(area, x0..x1, y0..y1, panel, y0)?,
        (true, false) => draw_chart(area, log_x, y0..y1, panel, y0)?,
        (false, true) => draw_chart(area, x0..x1, log_axis(y0, y1, None), panel, y0)?,
        (true, true) => draw_chart(area, log_x, log_axis(y0, y1, None), panel, y0)?,
    }
    draw_letter(area, &panel.letter)
}

/// A log axis over [lo, hi] labelled at `ticks` if given, else at 1, 2 and 5 × 10^k (every
/// 10^k over many decades), with light grid lines at every integer multiple of 10^k.
fn log_axis(lo: f64, hi: f64, ticks: Option<&[f64]>) -> WithKeyPoints<LogCoord<f64>> {
    let (first, last) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let within = |v: &f64| *v >= lo && *v <= hi;
    let decade = |mults: &[f64]| -> Vec<f64> {
        (first..=last)
            .flat_map(|k| mults.iter().map(move |m| m * 10f64.powi(k)))
            .filter(within)
            .collect()
    };
    let all: Vec<f64> = decade(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    let mut bold = if last - first > 5 {
        decade(&[1.0])
    } else {
        decade(&[1.0, 2.0, 5.0])
    };
    if bold.len() < 3 {
        bold = all.clone();
    }
    if let Some(ticks) = ticks {
        bold = ticks.iter().copied().filter(within).collect();
    }
    let light = if last - first > 5 { Vec::new() } else { all };
    (lo..hi)
        .log_scale()
        .with_key_points(bold)
        .with_light_points(light)
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// A range around [lo, hi] with a margin, never empty.
fn padded(lo: f64, hi: f64, log: bool, margin: f64) -> (f64, f64) {
    if log {
        let (l, h) = (lo.log10(), hi.log10());
        let pad = ((h - l) * margin).max(0.05);
        (10f64.powf(l - pad), 10f64.powf(h + pad))
    } else if hi > lo {
        let pad = (hi - lo) * margin;
        (lo - pad, hi + pad)
    } else {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo - pad, hi + pad)
    }
}

fn draw_chart<DB, X, Y>(
    area: &DrawingArea<DB, Shift>,
    x: X,
    y: Y,
    panel: &Panel,
    y_floor: f64,
) -> Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .margin_left(44)
        .caption(&panel.title, (FONT, TITLE_SIZE))
        .x_label_area_size(52)
        .y_label_area_size(78)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .x_desc(panel.x_label.as_str())
        .y_desc(panel.y_label.as_str())
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .x_labels(7)
        .y_labels(8)
        .label_style((FONT, TICK_SIZE))
        .axis_desc_style((FONT, LABEL_SIZE))
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()?;

    let keep = |&(x, m, _): &(f64, f64, f64)| {
        x.is_finite() && m.is_finite() && (!panel.log_x || x > 0.0) && (!panel.log_y || m > 0.0)
    };
    // Spread first, so every curve is drawn over every band.
    for line in &panel.lines {
        let pts: Vec<(f64, f64, f64)> = line.points.iter().copied().filter(keep).collect();
        let with_se: Vec<&(f64, f64, f64)> = pts.iter().filter(|p| p.2.is_finite()).collect();
        let lower = |m: f64, se: f64| {
            if panel.log_y {
                (m - se).max(y_floor)
            } else {
                m - se
            }
        };
        match panel.spread {
            Spread::Band if with_se.len() >= 2 => {
                let mut outline: Vec<(f64, f64)> =
                    with_se.iter().map(|&&(x, m, se)| (x, m + se)).collect();
                outline.extend(with_se.iter().rev().map(|&&(x, m, se)| (x, lower(m, se))));
                chart.draw_series(std::iter::once(Polygon::new(
                    outline,
                    line.colour.mix(0.18).filled(),
                )))?;
            }
            Spread::Band => {}
            Spread::Bars => {
                chart.draw_series(with_se.iter().map(|&&(x, m, se)| {
                    PathElement::new(
                        vec![(x, lower(m, se)), (x, m + se)],
                        line.colour.stroke_width(2),
                    )
                }))?;
            }
        }
    }
    for line in &panel.lines {
        let pts: Vec<(f64, f64)> = line
            .points
            .iter()
            .copied()
            .filter(keep)
            .map(|(x, m, _)| (x, m))
            .collect();
        let style = line.colour.stroke_width(2);
        let anno = if line.dashed {
            chart.draw_series(DashedLineSeries::new(pts.clone(), 9, 6, style))?
        } else {
            chart.draw_series(LineSeries::new(pts.clone(), style))?
        };
        if let Some(label) = &line.label {
            let anno = anno.label(label.as_str());
            if line.dashed {
                anno.legend(move |(x, y)| {
                    DashedPathElement::new(vec![(x, y), (x + 24, y)], 6, 4, style)
                });
            } else {
                anno.legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
            }
        }
        if line.markers {
            chart.draw_series(
                pts.iter()
                    .map(|&(x, y)| Circle::new((x, y), 4, line.colour.filled())),
            )?;
        }
    }
    if panel.lines.iter().any(|l| l.label.is_some()) {
        chart
            .configure_series_labels()
            .position(panel.legend.clone())
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .label_font((FONT, LEGEND_SIZE))
            .draw()?;
    }
    Ok(())
}
