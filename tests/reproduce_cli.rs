//! `credit reproduce` end to end on a tiny theory config: runs, figures, REPORT.md; and a
//! figure whose data is missing is skipped with a clear line while the rest goes on.
mod common;
use common::tmp_dir;
use std::path::Path;
use std::process::Command;

#[test]
fn reproduce_runs_plots_reports_and_skips_missing_data() {
    let dir = tmp_dir("reproduce-cli");
    let configs = dir.join("configs");
    std::fs::create_dir_all(&configs).unwrap();
    std::fs::write(
        configs.join("theory.yaml"),
        r#"
experiment: theory
task: teacher
data: { dataset: gaussian, train_size: 512, test_size: 64, seed: 1 }
network: { sizes: [6, 5, 3, 4], activations: [identity, identity, identity] }
training: { iterations: 100, batch_size: 32, log_every: 50, eval_every: 100, seeds: [0, 1] }
runs:
  - { rule: np, freeze_w: true, sigma: [0.1, 0.001], solver: ridge }
  - { rule: np_dfa, freeze_w: true, sigma: [0.1, 0.001], solver: ridge }
quick:
  training: { iterations: 60, log_every: 30, eval_every: 60 }
"#,
    )
    .unwrap();
    let out = dir.join("results");
    let o = Command::new(env!("CARGO_BIN_EXE_credit"))
        .args([
            "reproduce",
            "theory",
            "--quick",
            "--device",
            "cpu",
            "--out",
            out.to_str().unwrap(),
        ])
        .env("CREDIT_CONFIGS", &configs)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let exp = out.join("theory-quick");
    assert!(exp.join("summary.csv").exists() && exp.join("aggregate.csv").exists());
    let pngs: Vec<_> = std::fs::read_dir(&exp)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "png"))
        .collect();
    assert!(!pngs.is_empty(), "no figure drawn in {}", exp.display());
    let report = std::fs::read_to_string(out.join("REPORT.md")).unwrap();
    assert!(report.contains("theory-quick"), "{report}");

    // fig2's configs are not in this folder: each is reported as skipped, with its reason.
    let o = Command::new(env!("CARGO_BIN_EXE_credit"))
        .args([
            "reproduce",
            "fig2",
            "--quick",
            "--device",
            "cpu",
            "--out",
            out.to_str().unwrap(),
        ])
        .env("CREDIT_CONFIGS", &configs)
        .env("CREDIT_DATA_DIR", dir.join("no-data"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("skipped"), "{err}");
    let report = std::fs::read_to_string(out.join("REPORT.md")).unwrap();
    assert!(report.to_lowercase().contains("skipped"), "{report}");
}

/// A full-length (non-quick) theory experiment of four runs, for report and publish.
const SMALL_THEORY: &str = r#"
experiment: theory
task: teacher
data: { dataset: gaussian, train_size: 512, test_size: 64, seed: 1 }
network: { sizes: [6, 5, 3, 4], activations: [identity, identity, identity] }
training: { iterations: 100, batch_size: 32, log_every: 50, eval_every: 100, seeds: [0, 1] }
runs:
  - { rule: np, freeze_w: true, sigma: [0.1, 0.001], solver: ridge }
"#;

/// `credit report` writes REPORT.md from what has finished, training nothing: a finished
/// experiment is reported, one with an unfinished run is listed as such, an absent one as
/// not run, each with the command that runs it.
#[test]
fn report_reports_finished_experiments_and_names_the_rest() {
    let dir = tmp_dir("report-cli");
    let configs = dir.join("configs");
    std::fs::create_dir_all(&configs).unwrap();
    std::fs::write(configs.join("theory.yaml"), SMALL_THEORY).unwrap();
    let out = dir.join("results");
    let credit = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_credit"))
            .args(args)
            .env("CREDIT_CONFIGS", &configs)
            .output()
            .unwrap()
    };
    let cfg = configs.join("theory.yaml");
    let o = credit(&[
        "run",
        cfg.to_str().unwrap(),
        "--device",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = credit(&["report", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report = std::fs::read_to_string(out.join("REPORT.md")).unwrap();
    assert!(
        report.contains("| theory | `theory` | full | reported |"),
        "{report}"
    );
    assert!(
        report.contains("`fig2-official` | full | skipped: not run here"),
        "{report}"
    );
    assert!(
        report.contains("credit run configs/fig2-official.yaml")
            || report.contains("fig2-official.yaml`"),
        "{report}"
    );
    assert!(
        out.join("theory/theory.png").exists(),
        "report draws the figures it reports"
    );

    // An experiment of the figure that is none of its configs (a shorter run, its config
    // outside configs/) is reported after them as a subset, with its description; a folder
    // of no figure is left alone.
    let short = dir.join("theory-short.yaml");
    let short_yaml = SMALL_THEORY
        .replace(
            "experiment: theory",
            "experiment: theory-short\ndescription: seed 0 only",
        )
        .replace("iterations: 100,", "iterations: 50,")
        .replace("seeds: [0, 1]", "seeds: [0]");
    std::fs::write(&short, short_yaml).unwrap();
    let o = credit(&[
        "run",
        short.to_str().unwrap(),
        "--device",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::create_dir_all(out.join("scratch")).unwrap();
    let o = credit(&["report", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report = std::fs::read_to_string(out.join("REPORT.md")).unwrap();
    let (full, subset) = (
        report.find("| theory | `theory` | full | reported |"),
        report.find("| theory | `theory-short` | subset | reported |"),
    );
    assert!(full.is_some() && subset > full, "{report}");
    assert!(
        report.contains(
            "- Mode: **a subset of the protocol**, not the paper's length or seeds: seed 0 only"
        ),
        "{report}"
    );
    assert!(report.contains("theory-short/experiment.yaml`"), "{report}");
    assert!(!report.contains("scratch"), "{report}");
    assert!(out.join("theory-short/theory-short.png").exists());

    // A run folder removed (as if its shard never ran): listed as unfinished, not reported.
    std::fs::remove_dir_all(out.join("theory/np-sigma0.001-seed1")).unwrap();
    let o = credit(&["report", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report = std::fs::read_to_string(out.join("REPORT.md")).unwrap();
    assert!(
        report.contains("skipped: 1 of 4 runs unfinished"),
        "{report}"
    );
}

/// scripts/publish-results.sh copies a finished experiment into ./results/ (summary files,
/// figures, runs.tar.xz) and reports it; an unfinished one is refused.
#[test]
fn publish_results_copies_a_finished_experiment_and_refuses_an_unfinished_one() {
    let dir = tmp_dir("publish-results");
    let configs = dir.join("configs");
    std::fs::create_dir_all(&configs).unwrap();
    let cfg = configs.join("theory.yaml");
    std::fs::write(&cfg, SMALL_THEORY).unwrap();
    let out = dir.join("out");
    let credit = env!("CARGO_BIN_EXE_credit");
    let o = Command::new(credit)
        .args([
            "run",
            cfg.to_str().unwrap(),
            "--device",
            "cpu",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/publish-results.sh");
    let publish = |exp: &str| {
        Command::new(&script)
            .args([out.to_str().unwrap(), exp, credit])
            .current_dir(&dir)
            .env("CREDIT_CONFIGS", &configs)
            .output()
            .unwrap()
    };
    let o = publish("theory");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pub_dir = dir.join("results/theory");
    for f in [
        "summary.csv",
        "aggregate.csv",
        "experiment.yaml",
        "theory.png",
        "theory.svg",
        "runs.tar.xz",
    ] {
        assert!(pub_dir.join(f).exists(), "{f} not published");
    }
    assert_eq!(
        std::fs::read(pub_dir.join("np-sigma0.1-seed0/metrics.csv")).unwrap(),
        std::fs::read(out.join("theory/np-sigma0.1-seed0/metrics.csv")).unwrap(),
        "runs.tar.xz holds the run folders as they are"
    );
    let report = std::fs::read_to_string(dir.join("results/REPORT.md")).unwrap();
    assert!(
        report.contains("| theory | `theory` | full | reported |"),
        "{report}"
    );
    assert_eq!(
        std::fs::read(pub_dir.join("aggregate.csv")).unwrap(),
        std::fs::read(out.join("theory/aggregate.csv")).unwrap(),
        "three logged iterations are published whole"
    );

    // A clone has the published files but not the run folders (git ignores them): its
    // figures and report are drawn from the published CSVs, and nothing is rewritten, even
    // where the checkout wrote summary.csv after aggregate.csv (git writes in name order).
    let clone = dir.join("clone/results/theory");
    std::fs::create_dir_all(&clone).unwrap();
    for f in ["aggregate.csv", "experiment.yaml", "summary.csv"] {
        std::fs::copy(pub_dir.join(f), clone.join(f)).unwrap();
    }
    let o = Command::new(credit)
        .arg("plot")
        .arg(&clone)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(clone.join("theory.png").exists());
    let o = Command::new(credit)
        .args(["report", "--out"])
        .arg(dir.join("clone/results"))
        .env("CREDIT_CONFIGS", &configs)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report = std::fs::read_to_string(dir.join("clone/results/REPORT.md")).unwrap();
    assert!(
        report.contains("| theory | `theory` | full | reported |"),
        "a clone's report skipped the published experiment: {report}"
    );
    assert_eq!(
        std::fs::read(clone.join("aggregate.csv")).unwrap(),
        std::fs::read(pub_dir.join("aggregate.csv")).unwrap()
    );

    // --points thins the published aggregate: of iterations 0, 50, 100, two are kept (the
    // stride 100 is a round multiple of the logging interval 50), the last among them.
    let o = Command::new(credit)
        .arg("publish")
        .arg(out.join("theory"))
        .arg("--to")
        .arg(dir.join("thin"))
        .args(["--points", "2"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let thin = std::fs::read_to_string(dir.join("thin/theory/aggregate.csv")).unwrap();
    let mut iterations: Vec<&str> = thin
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(3).unwrap())
        .collect();
    iterations.sort();
    iterations.dedup();
    assert_eq!(iterations, ["0", "100"], "{thin}");
    assert!(dir.join("thin/theory/theory.svg").exists());
    // The published run folders beside it do not make it stale: a redraw keeps it thinned.
    assert!(dir
        .join("thin/theory/np-sigma0.1-seed0/metrics.csv")
        .exists());
    let o = Command::new(credit)
        .arg("plot")
        .arg(dir.join("thin/theory"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(dir.join("thin/theory/aggregate.csv")).unwrap(),
        thin,
        "redrawing re-aggregated the published aggregate"
    );

    // An unfinished experiment is refused, naming the run.
    std::fs::remove_dir_all(out.join("theory/np-sigma0.001-seed1")).unwrap();
    let o = publish("theory");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("np-sigma0.001-seed1"),
        "{err}"
    );
}

/// `credit reproduce --quick` sets each quick result beside the published full-length result
/// of the same config: the checkout's results/<config name>/ next to its configs/.
#[test]
fn quick_report_shows_the_published_full_length_result() {
    let dir = tmp_dir("reproduce-quick-published");
    let configs = dir.join("configs");
    std::fs::create_dir_all(&configs).unwrap();
    let quick_block = "quick:\n  training: { iterations: 60, log_every: 30, eval_every: 60 }\n";
    std::fs::write(
        configs.join("theory.yaml"),
        format!("{SMALL_THEORY}{quick_block}"),
    )
    .unwrap();
    let results = dir.join("results");
    let credit = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_credit"))
            .args(args)
            .env("CREDIT_CONFIGS", &configs)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let cfg = configs.join("theory.yaml");
    credit(&[
        "run",
        cfg.to_str().unwrap(),
        "--device",
        "cpu",
        "--out",
        results.to_str().unwrap(),
    ]);
    let quick = results.join("quick");
    credit(&[
        "reproduce",
        "theory",
        "--quick",
        "--device",
        "cpu",
        "--out",
        quick.to_str().unwrap(),
    ]);
    let report = std::fs::read_to_string(quick.join("REPORT.md")).unwrap();
    assert!(
        report.contains("- Beside it: the published full-length result of the same config"),
        "{report}"
    );
    assert!(
        report.contains(
            "| rule | layer | σ | ours, quick: final relative error | published, full length |"
        ),
        "{report}"
    );
    // The published column holds the full-length runs' mean over seeds, read here from their
    // summary.csv: np, layer 3, σ = 0.1.
    let summary = std::fs::read_to_string(results.join("theory/summary.csv")).unwrap();
    let mut lines = summary.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let values: Vec<f64> = lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|r| r[col("condition")] == "np sigma=0.1")
        .map(|r| r[col("final_rel_err_l3")].parse().unwrap())
        .collect();
    assert_eq!(values.len(), 2);
    let mean = format!("{:.3e}", (values[0] + values[1]) / 2.0);
    let row = report
        .lines()
        .find(|l| l.starts_with("| np | 3 | 0.1 |"))
        .unwrap_or_else(|| panic!("no np layer 3 σ 0.1 row: {report}"));
    let published = row.split(" | ").nth(4).unwrap();
    assert!(published.starts_with(&mean), "{row} against {mean}");
}
