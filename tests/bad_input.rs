//! Bad input gets a clear error and a non-zero exit, and nothing that looks complete.
mod common;
use common::{run, tmp_dir};
use credit_assign::output::Status;
use std::path::Path;
use std::process::Command;

const GOOD: &str = r#"
experiment: bad
task: classify
data: { dataset: synthetic-mnist, train_size: 200, test_size: 50 }
network: { sizes: [784, 20, 10], activations: [sigmoid, identity] }
training: { iterations: 20, batch_size: 10, log_every: 10, eval_every: 10, seeds: [0] }
runs:
  - { rule: np, lr: 0.01, sigma: 0.01, solver: ridge }
"#;

/// Run `credit run` on `yaml`; return (exit success, stderr, out dir).
fn credit_run(name: &str, yaml: &str, data_dir: &Path) -> (bool, String, std::path::PathBuf) {
    let dir = tmp_dir(name);
    let cfg = dir.join("config.yaml");
    std::fs::write(&cfg, yaml).unwrap();
    let out = dir.join("results");
    let o = Command::new(env!("CARGO_BIN_EXE_credit"))
        .args([
            "run",
            cfg.to_str().unwrap(),
            "--device",
            "cpu",
            "--out",
            out.to_str().unwrap(),
        ])
        .env("CREDIT_DATA_DIR", data_dir)
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        out,
    )
}

fn assert_rejected(name: &str, yaml: &str, needles: &[&str]) {
    let (ok, err, out) = credit_run(name, yaml, Path::new("data"));
    assert!(!ok, "{name}: a bad config was accepted");
    for n in needles {
        assert!(
            err.contains(n),
            "{name}: error should mention '{n}':\n{err}"
        );
    }
    assert!(
        !err.contains("panicked"),
        "{name}: panicked instead of a clear error:\n{err}"
    );
    assert!(
        !out.join("bad").join("summary.csv").exists(),
        "{name}: wrote a summary for a failed run"
    );
}

#[test]
fn the_good_config_runs() {
    let (ok, err, out) = credit_run("good", GOOD, Path::new("data"));
    assert!(ok, "{err}");
    assert!(out.join("bad/summary.csv").exists() && out.join("bad/np-seed0/summary.json").exists());
}

#[test]
fn unknown_and_mistyped_fields_are_named() {
    assert_rejected(
        "unknown",
        &GOOD.replace("solver: ridge", "solver: ridge, sigmaa: 3"),
        &["sigmaa"],
    );
    assert_rejected(
        "mistyped",
        &GOOD.replace("iterations: 20", "iterations: twenty"),
        &["iterations"],
    );
    assert_rejected(
        "bad-rule",
        &GOOD.replace("rule: np", "rule: nodeperturb"),
        &["nodeperturb"],
    );
    assert_rejected(
        "bad-act",
        &GOOD.replace("[sigmoid, identity]", "[sigmoid, softplus]"),
        &["softplus"],
    );
}

#[test]
fn inconsistent_layers_and_bad_numbers_are_named() {
    assert_rejected(
        "layers",
        &GOOD.replace("[sigmoid, identity]", "[sigmoid, sigmoid, identity]"),
        &["activations", "network.sizes"],
    );
    assert_rejected(
        "sigma0",
        &GOOD.replace("sigma: 0.01", "sigma: 0"),
        &["sigma", "positive"],
    );
    assert_rejected(
        "sigma-neg",
        &GOOD.replace("sigma: 0.01", "sigma: [0.1, -0.01]"),
        &["sigma"],
    );
    assert_rejected(
        "lr0",
        &GOOD.replace("lr: 0.01", "lr: 0"),
        &["lr", "freeze_w"],
    );
    assert_rejected(
        "batch",
        &GOOD.replace("batch_size: 10", "batch_size: 0"),
        &["batch_size"],
    );
    assert_rejected(
        "no-solver",
        &GOOD.replace(", solver: ridge", ""),
        &["solver"],
    );
    assert_rejected(
        "classes",
        &GOOD.replace("[784, 20, 10]", "[784, 20, 7]"),
        &["10 classes"],
    );
}

#[test]
fn missing_mnist_names_the_folder_and_the_fix() {
    let empty = tmp_dir("no-mnist-data");
    let (ok, err, out) = credit_run(
        "no-mnist",
        &GOOD.replace("synthetic-mnist, train_size: 200, test_size: 50", "mnist"),
        &empty,
    );
    assert!(!ok);
    assert!(err.contains("credit data fetch mnist"), "{err}");
    assert!(err.contains(empty.to_str().unwrap()), "{err}");
    assert!(!out.join("bad/summary.csv").exists());
}

#[test]
fn a_diverging_run_is_marked_and_the_others_go_on() {
    let out = tmp_dir("diverge");
    let yaml = GOOD
        .replace(
            "rule: np, lr: 0.01, sigma: 0.01, solver: ridge",
            "rule: bp, lr: [0.01, 1.0e6]",
        )
        .replace("iterations: 20", "iterations: 60");
    let runs = run(&yaml, &out);
    let (fine, blown) = (&runs[0], &runs[1]);
    assert_eq!(fine.status, Status::Completed);
    assert_eq!(
        blown.status,
        Status::Diverged,
        "lr 1e6 should diverge: {:?}",
        blown.results
    );
    assert!(blown.diverged_at.is_some());
    let summary = std::fs::read_to_string(out.join("bad/summary.csv")).unwrap();
    assert!(
        summary.contains("diverged") && summary.contains("completed"),
        "{summary}"
    );
}

/// `credit [--threads N] run` of `yaml` into `out`: (exit code, stderr).
fn credit_run_into(
    yaml: &str,
    dir: &Path,
    out: &Path,
    threads: Option<&str>,
) -> (Option<i32>, String) {
    let cfg = dir.join("config.yaml");
    std::fs::write(&cfg, yaml).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_credit"));
    if let Some(n) = threads {
        cmd.args(["--threads", n]);
    }
    let o = cmd
        .args(["run", cfg.to_str().unwrap(), "--device", "cpu", "--out"])
        .arg(out)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn what_the_data_or_the_run_length_forbid_is_refused_before_anything_is_written() {
    let dir = tmp_dir("checks-first");
    let out = dir.join("results");
    let cases = [
        // train_size 200: a batch of 500 cannot be drawn.
        (
            GOOD.replace("batch_size: 10", "batch_size: 500"),
            vec!["training.batch_size 500", "200 examples"],
        ),
        // W would never train: the run would end at chance, reported as completed.
        (
            GOOD.replace("solver: ridge", "solver: ridge, warmup: 20"),
            vec![
                "runs[0]",
                "warmup 20 is not shorter than training.iterations 20",
            ],
        ),
        // One run that cannot fit: the way out is not `max_members`, it has one member.
        (
            GOOD.replace("[784, 20, 10]", "[784, 30000000, 10]"),
            vec!["one run", "training.batch_size", "GiB"],
        ),
    ];
    for (yaml, needles) in cases {
        let (code, err) = credit_run_into(&yaml, &dir, &out, None);
        assert_eq!(code, Some(1), "{err}");
        for n in needles {
            assert!(err.contains(n), "expected '{n}' in: {err}");
        }
        assert!(
            !err.contains("max_members") && !err.contains("panicked"),
            "{err}"
        );
        assert!(
            !out.exists(),
            "a refused config wrote into {}",
            out.display()
        );
    }
    // The corrected config then runs: nothing of the refused one claims the folder.
    let (code, err) = credit_run_into(GOOD, &dir, &out, None);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn threads_beyond_the_cores_are_refused_naming_the_option() {
    let dir = tmp_dir("threads");
    let out = dir.join("results");
    let cores = std::thread::available_parallelism().unwrap().get();
    for n in [
        (cores + 1).to_string(),
        "100000".to_string(),
        "0".to_string(),
    ] {
        let (code, err) = credit_run_into(GOOD, &dir, &out, Some(&n));
        assert_eq!(code, Some(1), "--threads {n}: {err}");
        assert!(
            err.contains(&format!("--threads {n}")) && err.contains(&format!("1 to {cores}")),
            "{err}"
        );
        assert!(!out.exists());
    }
    let (code, err) = credit_run_into(GOOD, &dir, &out, Some(&cores.to_string()));
    assert_eq!(code, Some(0), "{err}");
}
