//! Figures drawn from a results tree the test writes: the files exist, PNGs decode to the
//! stated size and are not blank, SVGs are SVG.
mod report_fixture;

use credit_assign::report::plot;
use std::fs;
use std::path::{Path, PathBuf};

fn tree(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    report_fixture::write_tree(&root);
    root
}

/// Decode a PNG; check its size and that a fair share of it is drawn on.
fn check_png(path: &Path, width: u32, height: u32) {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.len() > 20_000,
        "{} is only {} bytes",
        path.display(),
        bytes.len()
    );
    let image = image::load_from_memory(&bytes).unwrap().to_rgb8();
    assert_eq!(image.dimensions(), (width, height), "{}", path.display());
    let inked = image.pixels().filter(|p| p.0 != [255, 255, 255]).count();
    let share = inked as f64 / (width * height) as f64;
    assert!(
        share > 0.02,
        "{} is {:.1}% drawn on",
        path.display(),
        share * 100.0
    );
}

fn check_svg(path: &Path, must_contain: &[&str]) {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(text.contains("<svg"), "{} is not SVG", path.display());
    for needle in must_contain {
        assert!(text.contains(needle), "{} lacks `{needle}`", path.display());
    }
}

fn names(written: &[PathBuf]) -> Vec<String> {
    let mut n: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    n.sort();
    n
}

#[test]
fn every_figure_is_drawn_as_png_and_svg() {
    let root = tree("report_plot");

    let fig2 = root.join("fig2-quick");
    assert_eq!(
        names(&plot(&fig2).unwrap()),
        ["fig2-quick.png", "fig2-quick.svg"]
    );
    assert!(
        fig2.join("aggregate.csv").exists(),
        "plot must aggregate first"
    );
    check_png(&fig2.join("fig2-quick.png"), 1600, 1200);
    check_svg(
        &fig2.join("fig2-quick.svg"),
        &[
            "relative error of B",
            "test error (%)",
            "np σ=0.0001",
            "layer 2",
        ],
    );

    let fig3 = root.join("fig3-quick");
    assert_eq!(
        names(&plot(&fig3).unwrap()),
        [
            "fig3-quick-reconstructions.png",
            "fig3-quick-reconstructions.svg",
            "fig3-quick.png",
            "fig3-quick.svg"
        ]
    );
    // Title 44, loss panel 520, latent title 40, one row of four latent panels 280, key 40.
    check_png(&fig3.join("fig3-quick.png"), 1900, 44 + 520 + 40 + 280 + 40);
    // 200 px of labels + 10 columns of 3×28+4 px; a title + 5 rows (originals, 4 methods).
    check_png(
        &fig3.join("fig3-quick-reconstructions.png"),
        200 + 10 + 880,
        48 + 10 + 440,
    );
    check_svg(
        &fig3.join("fig3-quick-reconstructions.svg"),
        &["data:image/png;base64,", "original", "adam+noise"],
    );

    let fig4 = root.join("fig4-quick");
    plot(&fig4).unwrap();
    check_png(&fig4.join("fig4-quick.png"), 1800, 44 + 2 * 560);
    check_svg(
        &fig4.join("fig4-quick.svg"),
        &[
            "relative error of B",
            "np width=50 σ=0.001",
            "final relative error against width",
            "hidden width N",
        ],
    );

    let theory = root.join("theory-quick");
    plot(&theory).unwrap();
    check_png(&theory.join("theory-quick.png"), 1100, 800);
    check_svg(
        &theory.join("theory-quick.svg"),
        &["D1 (np_dfa)", "B3 (np)"],
    );

    let table = root.join("table1-cifar10-quick");
    assert_eq!(
        names(&plot(&table).unwrap()),
        [
            "table1-cifar10-quick.md",
            "table1-cifar10-quick.png",
            "table1-cifar10-quick.svg"
        ]
    );
    check_png(&table.join("table1-cifar10-quick.png"), 1500, 1000);
    let md = fs::read_to_string(table.join("table1-cifar10-quick.md")).unwrap();
    assert!(md.contains("| np_dfa |"), "{md}");
}

#[test]
fn an_experiment_of_no_known_figure_is_refused() {
    let root = tree("report_plot_unknown");
    let odd = root.join("fig9-quick");
    fs::rename(root.join("fig2-quick"), &odd).unwrap();
    let err = format!("{:#}", plot(&odd).unwrap_err());
    assert!(err.contains("fig9-quick") && err.contains("fig2"), "{err}");
}
