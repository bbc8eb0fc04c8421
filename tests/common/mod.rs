//! Helpers shared by the integration tests.
#![allow(dead_code)]
use credit_assign::config::Experiment;
use credit_assign::experiment::{run_experiment, RunOptions};
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
