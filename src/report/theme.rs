//! Shared look of every figure: the embedded font, colours, text sizes and tick labels.
use anyhow::{anyhow, Result};
use plotters::style::{register_font, FontStyle, RGBColor};
use std::sync::OnceLock;

/// The family every text element asks for; [`ensure_font`] registers DejaVu Sans under it.
pub const FONT: &str = "sans-serif";

/// Register the embedded DejaVu Sans once per process. No system font is looked up, so text
/// renders the same on a machine without fonts.
pub fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let fonts = [
                (FontStyle::Normal, dejavu::sans::regular()),
                (FontStyle::Bold, dejavu::sans::bold()),
                (FontStyle::Oblique, dejavu::sans::oblique()),
                (FontStyle::Italic, dejavu::sans::oblique()),
            ];
            for (style, bytes) in fonts {
                register_font(FONT, style, bytes)
                    .map_err(|_| "the embedded DejaVu Sans font could not be parsed".to_string())?;
            }
            Ok(())
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

/// Colours for conditions, in order: matplotlib's tab10, then black and brown-grey, so
/// eleven methods (Fig. 3) stay distinct, then navy, teal, maroon and dark olive for up to
/// sixteen (`rules-fig2` has thirteen).
const PALETTE: [RGBColor; 16] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 0),
    RGBColor(120, 90, 20),
    RGBColor(0, 0, 128),
    RGBColor(0, 128, 128),
    RGBColor(128, 0, 64),
    RGBColor(85, 107, 47),
];

/// The colour of the i-th condition (cycling past sixteen).
pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// The colour of digit `d` in latent scatter plots (tab10, as matplotlib would).
pub fn digit_colour(d: u8) -> RGBColor {
    PALETTE[usize::from(d) % 10]
}

/// Text sizes in pixels.
pub const LETTER_SIZE: u32 = 34;
pub const TITLE_SIZE: u32 = 22;
pub const LABEL_SIZE: u32 = 18;
pub const TICK_SIZE: u32 = 15;
pub const LEGEND_SIZE: u32 = 14;

/// A tick label: short, without float noise (`2e-3`, `0.25`, `150k`, `2M`).
pub fn tick(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if a >= 1e6 {
        trim(format!("{:.2}", v / 1e6)) + "M"
    } else if a >= 1e4 {
        trim(format!("{:.2}", v / 1e3)) + "k"
    } else if a >= 0.01 {
        trim(format!("{v:.3}"))
    } else {
        let exp = a.log10().floor() as i32;
        let mant = v / 10f64.powi(exp);
        if (mant.abs() - 1.0).abs() < 1e-9 {
            format!("{}1e{exp}", if v < 0.0 { "-" } else { "" })
        } else {
            format!("{}e{exp}", trim(format!("{mant:.1}")))
        }
    }
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::tick;

    #[test]
    fn ticks_are_short() {
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(tick(0.30000000000000004), "0.3");
        assert_eq!(tick(0.001), "1e-3");
        assert_eq!(tick(0.0025), "2.5e-3");
        assert_eq!(tick(150_000.0), "150k");
        assert_eq!(tick(2_000_000.0), "2M");
        assert_eq!(tick(90.0), "90");
        assert_eq!(tick(5000.0), "5000");
    }
}
