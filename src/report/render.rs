//! Draw one figure twice, as PNG and as SVG, each written atomically.
use super::theme::ensure_font;
use crate::output::write_atomic;
use anyhow::{Context, Result};
use image::codecs::png::PngEncoder;
use image::{ColorType, ImageEncoder};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// A figure that can draw itself on any plotters backend.
pub trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static;
}

/// Write `<stem>.png` and `<stem>.svg`; returns both paths.
pub fn render(figure: &impl Figure, stem: &Path) -> Result<Vec<PathBuf>> {
    ensure_font()?;
    let (w, h) = figure.size();
    let png = stem.with_extension("png");
    let svg = stem.with_extension("svg");

    let mut pixels = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
        root.fill(&WHITE)?;
        figure
            .draw(&root)
            .with_context(|| format!("drawing {}", png.display()))?;
        root.present()?;
    }
    let mut encoded = Vec::new();
    PngEncoder::new(&mut encoded)
        .write_image(&pixels, w, h, ColorType::Rgb8)
        .with_context(|| format!("encoding {}", png.display()))?;
    write_atomic(&png, &encoded)?;

    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (w, h)).into_drawing_area();
        root.fill(&WHITE)?;
        figure
            .draw(&root)
            .with_context(|| format!("drawing {}", svg.display()))?;
        root.present()?;
    }
    // plotters-svg embeds bitmaps as `data:png;...`, which browsers refuse; use the MIME type.
    let text = text.replace("\"data:png;base64,", "\"data:image/png;base64,");
    write_atomic(&svg, text.as_bytes())?;
    Ok(vec![png, svg])
}
