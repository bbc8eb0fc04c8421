//! Helpers shared by the integration tests.
#![allow(dead_code)]
use credit_assign::mlp::{run_experiment, Experiment, RunOptions};
use credit_assign::output::RunSummary;
use std::path::{Path, PathBuf};
use tch::Device;

pub fn experiment(yaml: &str) -> Experiment {
    let value: serde_yaml::Value = serde_yaml::from_str(yaml).expect("test YAML parses");
    Experiment::from_value(value, "test").expect("test config is valid")
}

pub fn run(yaml: &str, out: &Path) -> Vec<RunSummary> {
    let exp = experiment(yaml);
    let opts = RunOptions {
        quick: false,
        device: Device::Cpu,
        out_root: out.to_path_buf(),
        data_dir: PathBuf::from("data"),
        fresh: false,
        shard: None,
        queue: false,
    };
    run_experiment(&exp, &opts).expect("experiment runs").1
}

/// A fresh temporary folder under target/, removed at the start of each use.
pub fn tmp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

pub fn result(s: &RunSummary, key: &str) -> f64 {
    *s.results
        .get(key)
        .unwrap_or_else(|| panic!("run {} has no result {key}: {:?}", s.run, s.results.keys()))
}

/// The `credit` binary of this build.
pub fn credit() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_credit"))
}

/// How many lines of `credit status` output end in `: <state>` ("done", "missing", ...).
pub fn count_state(status: &str, state: &str) -> usize {
    let suffix = format!(": {state}");
    status.lines().filter(|l| l.ends_with(&suffix)).count()
}

/// Write `yaml` to `dir/name.yaml` and return its path.
pub fn write_config(dir: &Path, name: &str, yaml: &str) -> PathBuf {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, yaml).expect("write config");
    path
}

/// summary.csv without its wall-clock columns (`seconds`, and the CNN's `seconds_per_epoch`).
pub fn summary_without_seconds(path: &Path) -> String {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let header: Vec<&str> = text.lines().next().expect("a header").split(',').collect();
    let wall = |c: &&str| *c == "seconds" || *c == "seconds_per_epoch";
    assert!(header.contains(&"seconds"), "a seconds column");
    let mut out = String::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split(',').collect();
        let kept: Vec<&str> = (cells.iter().zip(&header))
            .filter(|(_, h)| !wall(h))
            .map(|(c, _)| *c)
            .collect();
        out.push_str(&kept.join(","));
        out.push('\n');
    }
    out
}

/// Every result file of two experiment folders is the same bytes: each run's metrics.csv,
/// config.yaml and (where present) latent.csv and reconstructions.csv, and summary.csv
/// but for its wall-clock column. Returns how many files were compared.
pub fn assert_same_results(a: &Path, b: &Path) -> usize {
    let mut compared = 0;
    let mut runs: Vec<PathBuf> = std::fs::read_dir(a)
        .expect("results folder")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("summary.json").exists())
        .collect();
    runs.sort();
    assert!(!runs.is_empty(), "{} has no finished runs", a.display());
    for run in runs {
        let name = run.file_name().unwrap();
        for file in [
            "metrics.csv",
            "config.yaml",
            "latent.csv",
            "reconstructions.csv",
        ] {
            let (fa, fb) = (run.join(file), b.join(name).join(file));
            if !fa.exists() && file.ends_with(".csv") && file != "metrics.csv" {
                assert!(!fb.exists(), "{} exists only in one", fb.display());
                continue;
            }
            let (x, y) = (std::fs::read(&fa), std::fs::read(&fb));
            let (x, y) = (
                x.unwrap_or_else(|e| panic!("{}: {e}", fa.display())),
                y.unwrap_or_else(|e| panic!("{}: {e}", fb.display())),
            );
            assert!(x == y, "{} and {} differ", fa.display(), fb.display());
            compared += 1;
        }
    }
    assert_eq!(
        summary_without_seconds(&a.join("summary.csv")),
        summary_without_seconds(&b.join("summary.csv"))
    );
    let (ga, gb) = (a.join("aggregate.csv"), b.join("aggregate.csv"));
    assert!(
        std::fs::read(&ga).ok() == std::fs::read(&gb).ok() && ga.exists(),
        "{} and {} differ (or are missing)",
        ga.display(),
        gb.display()
    );
    compared + 2
}
