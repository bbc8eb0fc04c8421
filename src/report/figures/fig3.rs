//! Figure 3: MNIST autoencoder. A: train (dashed) and test (solid) loss against iteration;
//! B: the 2-D latent code of the test set, coloured by digit, one panel per method; C: sample
//! reconstructions, originals on top and one row per method (also drawn on its own).
use super::{display, Results};
use crate::report::chart::{draw_letter, draw_message, draw_panel, Line, Panel};
use crate::report::read::{read_latent, read_reconstructions, LatentPoint};
use crate::report::render::{render, Figure};
use crate::report::theme::{digit_colour, tick, FONT, LABEL_SIZE, TICK_SIZE, TITLE_SIZE};
use anyhow::{Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Latent points drawn per method panel (every k-th test image, so panels stay light in SVG).
const MAX_LATENT_POINTS: usize = 1500;
/// Columns of the reconstruction grid: one test image per digit where possible.
const GRID_COLUMNS: usize = 10;
const SIDE: usize = 28;

/// Reconstructions of the same test images by every method.
struct Grid {
    title: String,
    /// Row label and, per column, the image (`None` where that run did not save it).
    rows: Vec<(String, Vec<Option<Vec<f32>>>)>,
}

impl Grid {
    fn columns(&self) -> usize {
        self.rows.first().map_or(0, |r| r.1.len())
    }

    /// Draw into `area`, scaling 28 × 28 images by a whole factor that fits.
    fn draw_into<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (w, h) = area.dim_in_pixel();
        let (label_w, title_h, gap) = (200usize, 48usize, 4usize);
        let cols = self.columns().max(1);
        let rows = self.rows.len().max(1);
        let cell_w = (w as usize).saturating_sub(label_w + 10) / cols;
        let cell_h = (h as usize).saturating_sub(title_h + 10) / rows;
        let scale = (cell_w.min(cell_h).saturating_sub(gap) / SIDE).max(1);
        let cell = SIDE * scale + gap;
        let (img_w, img_h) = (cols * cell, rows * cell);
        let mut rgb = vec![255u8; img_w * img_h * 3];
        for (r, (_, images)) in self.rows.iter().enumerate() {
            for (c, image) in images.iter().enumerate() {
                for py in 0..SIDE * scale {
                    for px in 0..SIDE * scale {
                        let v = match image {
                            Some(p) => {
                                (p[(py / scale) * SIDE + px / scale].clamp(0.0, 1.0) * 255.0)
                                    .round() as u8
                            }
                            None => 160, // missing image: flat grey, visibly not a digit
                        };
                        let (x, y) = (c * cell + px, r * cell + py);
                        let i = (y * img_w + x) * 3;
                        rgb[i..i + 3].copy_from_slice(&[v, v, v]);
                    }
                }
            }
        }
        area.draw_text(
            &self.title,
            &(FONT, TITLE_SIZE).into_font().color(&BLACK),
            (label_w as i32, 14),
        )?;
        let element = BitMapElement::with_owned_buffer(
            (label_w as i32, title_h as i32),
            (img_w as u32, img_h as u32),
            rgb,
        )
        .context("building the reconstruction grid image")?;
        area.draw(&element)?;
        let style = (FONT, LABEL_SIZE).into_font().color(&BLACK);
        for (r, (label, _)) in self.rows.iter().enumerate() {
            let y = (title_h + r * cell + cell / 2) as i32 - LABEL_SIZE as i32 / 2;
            area.draw_text(label, &style, (12, y))?;
        }
        Ok(())
    }
}

struct GridAlone(Grid);

impl Figure for GridAlone {
    fn size(&self) -> (u32, u32) {
        let cell = 3 * SIDE + 4;
        (
            (200 + 10 + self.0.columns() * cell) as u32,
            (48 + 10 + self.0.rows.len() * cell) as u32,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        self.0.draw_into(root)
    }
}

struct Fig3 {
    results: Results,
    name: String,
    /// Final latent code of each method's first completed run (`None`: every run diverged).
    latent: Vec<(String, Option<Vec<LatentPoint>>)>,
    grid: Grid,
}

impl Fig3 {
    fn loss_panel(&self) -> Panel {
        let mut panel = Panel::new(
            "A",
            "reconstruction loss",
            "iteration",
            "loss (½Σ‖output − input‖², batch of 32)",
        );
        panel.log_y = true;
        self.results
            .solid_and_dashed(&mut panel, "test_loss", "train_loss", 1.0);
        let grey = RGBColor(90, 90, 90);
        panel.lines.push(Line::key("test", grey, false));
        panel.lines.push(Line::key("train", grey, true));
        panel
    }

    fn draw_latent<DB: DrawingBackend>(
        area: &DrawingArea<DB, Shift>,
        condition: &str,
        points: &Option<Vec<LatentPoint>>,
    ) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let Some(points) = points.as_ref().filter(|p| !p.is_empty()) else {
            return draw_message(area, &display(condition), "no completed run");
        };
        let range = |f: fn(&LatentPoint) -> f64| {
            let lo = points.iter().map(f).fold(f64::INFINITY, f64::min);
            let hi = points.iter().map(f).fold(f64::NEG_INFINITY, f64::max);
            let pad = ((hi - lo) * 0.05).max(1e-6);
            (lo - pad)..(hi + pad)
        };
        let mut chart = ChartBuilder::on(area)
            .margin(6)
            .caption(display(condition), (FONT, LABEL_SIZE))
            .x_label_area_size(28)
            .y_label_area_size(44)
            .build_cartesian_2d(range(|p| p.z1), range(|p| p.z2))?;
        chart
            .configure_mesh()
            .x_labels(4)
            .y_labels(4)
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .label_style((FONT, 12))
            .light_line_style(WHITE)
            .draw()?;
        let step = points.len().div_ceil(MAX_LATENT_POINTS).max(1);
        chart.draw_series(
            points
                .iter()
                .step_by(step)
                .map(|p| Circle::new((p.z1, p.z2), 2, digit_colour(p.label).filled())),
        )?;
        Ok(())
    }
}

/// Latent scatter panels per row, and the height of a row (about square panels).
const LATENT_COLS: usize = 4;
const LATENT_ROW: u32 = 280;
const WIDTH: u32 = 1900;
const LEFT: u32 = 1000;
const LOSS_HEIGHT: u32 = 520;

impl Fig3 {
    fn latent_rows(&self) -> u32 {
        self.latent.len().div_ceil(LATENT_COLS).max(1) as u32
    }
}

impl Figure for Fig3 {
    fn size(&self) -> (u32, u32) {
        let left = 44 + LOSS_HEIGHT + 40 + self.latent_rows() * LATENT_ROW + 40;
        let right = 44 + 48 + 10 + self.grid.rows.len() as u32 * (3 * SIDE as u32 + 4);
        (WIDTH, left.max(right))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (title, body) = root.split_vertically(44);
        title.titled(
            &format!(
                "Fig. 3 ({}): MNIST autoencoder 784-w-2-w-784 (w = 200, or 50 for NP in -official)",
                self.name
            ),
            (FONT, 26),
        )?;
        let (left, right) = body.split_horizontally(LEFT);
        let (a, b) = left.split_vertically(LOSS_HEIGHT);
        draw_panel(&a, &self.loss_panel())?;

        let (b_title, b_rest) = b.split_vertically(40);
        b_title.draw_text(
            "latent code of the test set (final), coloured by digit",
            &(FONT, TITLE_SIZE).into_font().color(&BLACK),
            (60, 10),
        )?;
        let rows = self.latent_rows();
        let (b_grid, key) = b_rest.split_vertically(rows * LATENT_ROW);
        let cells = b_grid.split_evenly((rows as usize, LATENT_COLS));
        for (cell, (condition, points)) in cells.iter().zip(&self.latent) {
            Fig3::draw_latent(cell, condition, points)?;
        }
        for d in 0..10u8 {
            let x = 80 + i32::from(d) * 80;
            key.draw(&Circle::new((x, 16), 7, digit_colour(d).filled()))?;
            key.draw_text(
                &d.to_string(),
                &(FONT, TICK_SIZE).into_font().color(&BLACK),
                (x + 12, 8),
            )?;
        }
        draw_letter(&b, "B")?;

        self.grid.draw_into(&right)?;
        draw_letter(&right, "C")?;
        Ok(())
    }
}

/// Read each method's images and pick one test image per digit for the grid.
fn build_grid(exp_dir: &Path, results: &Results) -> Result<Grid> {
    let mut originals: BTreeMap<u64, (u8, Vec<f32>)> = BTreeMap::new();
    let mut methods: Vec<(String, BTreeMap<u64, Vec<f32>>)> = Vec::new();
    for condition in &results.conditions {
        let mut recon = BTreeMap::new();
        if let Some(run) = results.first_completed(condition) {
            let path = exp_dir.join(&run.run).join("reconstructions.csv");
            for d in read_reconstructions(&path)? {
                if d.reconstruction {
                    recon.insert(d.test_index, d.pixels);
                } else {
                    originals.entry(d.test_index).or_insert((d.label, d.pixels));
                }
            }
        }
        methods.push((display(condition), recon));
    }
    let mut columns: Vec<u64> = (0..10u8)
        .filter_map(|digit| {
            originals
                .iter()
                .find(|(_, (l, _))| *l == digit)
                .map(|(i, _)| *i)
        })
        .collect();
    for index in originals.keys() {
        if columns.len() >= GRID_COLUMNS {
            break;
        }
        if !columns.contains(index) {
            columns.push(*index);
        }
    }
    columns.truncate(GRID_COLUMNS);
    let mut rows = vec![(
        "original".to_string(),
        columns
            .iter()
            .map(|i| originals.get(i).map(|o| o.1.clone()))
            .collect(),
    )];
    for (label, recon) in methods {
        rows.push((
            label,
            columns.iter().map(|i| recon.get(i).cloned()).collect(),
        ));
    }
    Ok(Grid {
        title: "test images (top) and their reconstructions".to_string(),
        rows,
    })
}

/// Draw `<name>.png/.svg` (panels A–C) and `<name>-reconstructions.png/.svg`.
pub fn draw(exp_dir: &Path, name: &str) -> Result<Vec<PathBuf>> {
    let results = Results::load(exp_dir)?;
    let mut latent = Vec::new();
    for condition in &results.conditions {
        let points = match results.first_completed(condition) {
            Some(run) => {
                let all = read_latent(&exp_dir.join(&run.run).join("latent.csv"))?;
                let last = all.iter().map(|p| p.iteration).max();
                Some(
                    all.into_iter()
                        .filter(|p| Some(p.iteration) == last)
                        .collect(),
                )
            }
            None => None,
        };
        latent.push((condition.clone(), points));
    }
    let grid = build_grid(exp_dir, &results)?;
    let alone = GridAlone(Grid {
        title: format!("Fig. 3C ({name}): reconstructions, originals on top"),
        rows: grid.rows.clone(),
    });
    let figure = Fig3 {
        results,
        name: name.to_string(),
        latent,
        grid,
    };
    let mut written = render(&figure, &exp_dir.join(name))?;
    written.extend(render(
        &alone,
        &exp_dir.join(format!("{name}-reconstructions")),
    )?);
    Ok(written)
}
