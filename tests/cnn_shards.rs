//! CNN experiments in shards: `credit run --shard i/N` splits the runs, `credit collect`
//! names what is missing and then writes the summary.csv one process writes; `credit submit`
//! makes one array task per run; the folder belongs to one config.
mod common;
use common::{count_state, credit, summary_without_seconds, tmp_dir, write_config};
use std::path::Path;

const TINY: &str = r#"
kind: cnn
experiment: tiny-shards
dataset: synthetic-cifar
protocol: validation
validation: 200
train_images: 400
test_images: 200
seeds: [3, 4]
network:
  activation: tanh
  blocks:
    - conv: {channels: 4, kernel: 3}
    - fc: {units: 16, dropout: 0.1}
rules:
  bp: {lr: 2.0e-3, batch: 50, epochs: 1}
  dfa: {lr: 1.0e-3, batch: 50, epochs: 2}
  np_dfa: {lr: 1.0e-3, batch: 50, epochs: 2, sigma: 0.05, beta: 1.0e-4}
"#;

fn ok(args: &[&str], cfg: &Path, out: &Path) -> String {
    let o = credit()
        .args(["--threads", "1"])
        .args(&args[..1])
        .arg(cfg)
        .args(["--device", "cpu", "--out"])
        .arg(out)
        .args(&args[1..])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "credit {args:?}: {stderr}");
    stderr
}

#[test]
fn shards_then_collect_equal_one_process_and_missing_runs_are_named() {
    let dir = tmp_dir("cnn_shards");
    let cfg = write_config(&dir, "tiny", TINY);
    ok(&["run"], &cfg, &dir.join("one"));
    let sharded = dir.join("sharded");
    ok(&["run", "--shard", "0/3"], &cfg, &sharded);
    ok(&["run", "--shard", "1/3"], &cfg, &sharded);
    let exp = sharded.join("tiny-shards");
    assert!(
        !exp.join("summary.csv").exists(),
        "a shard writes no summary.csv"
    );
    let early = credit().arg("collect").arg(&exp).output().unwrap();
    let stderr = String::from_utf8_lossy(&early.stderr);
    assert!(
        !early.status.success(),
        "collect before the last shard must fail"
    );
    assert!(
        stderr.contains("have not finished") && stderr.contains("--shard 2/3"),
        "{stderr}"
    );
    // `credit status` reads a CNN folder too: 4 runs done, shard 2's two missing.
    let st = status(&exp);
    assert_eq!(count_state(&st, "done"), 4, "{st}");
    assert_eq!(count_state(&st, "missing"), 2, "{st}");
    ok(&["run", "--shard", "2/3"], &cfg, &sharded);
    let done = credit().arg("collect").arg(&exp).output().unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert_eq!(
        summary_without_seconds(&exp.join("summary.csv")),
        summary_without_seconds(&dir.join("one/tiny-shards/summary.csv")),
        "the shards' summary.csv is the one process's"
    );
    // Six runs, cost-balanced: np_dfa (2 epochs × noisy pass) weighs most.
    let bad = credit()
        .args(["run"])
        .arg(&cfg)
        .args(["--shard", "0/7", "--out"])
        .arg(&sharded)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("6 runs, so at most 6 shards"), "{stderr}");
}

fn status(exp: &Path) -> String {
    let o = credit().arg("status").arg(exp).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// A second process on a run that another holds is refused at once, naming the run, and
/// writes nothing; `credit status` shows the run as held.
#[test]
fn a_run_held_by_another_process_is_refused_and_shown_as_held() {
    let dir = tmp_dir("cnn_held");
    let cfg = write_config(&dir, "tiny", TINY);
    ok(&["run", "--shard", "0/3"], &cfg, &dir);
    let exp = dir.join("tiny-shards");
    let runs: Vec<String> = status(&exp)
        .lines()
        .filter(|l| l.ends_with(": missing"))
        .map(|l| l.split(':').next().unwrap().to_string())
        .collect();
    let held = &runs[0];
    let lock = exp.join("locks").join(format!("{held}.lock"));
    let _other = credit_assign::lock::Lock::acquire(&lock, "the test's other process").unwrap();
    let o = credit()
        .args(["--threads", "1", "run"])
        .arg(&cfg)
        .args(["--device", "cpu", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "a held run must be refused");
    assert!(
        err.contains(&format!(
            "tiny-shards/{held} is being written by another process"
        )),
        "{err}"
    );
    let st = status(&exp);
    assert!(
        st.contains(&format!(
            "{held}: held by a running process, nothing logged yet"
        )),
        "{st}"
    );
    // Refused before training: the other missing runs are still missing.
    assert_eq!(count_state(&st, "missing"), runs.len() - 1, "{st}");
}

#[test]
fn another_config_in_the_same_folder_is_refused_naming_the_fields() {
    let dir = tmp_dir("cnn_folder_claim");
    let cfg = write_config(&dir, "tiny", &TINY.replace("seeds: [3, 4]", "seeds: [3]").replace("  dfa: {lr: 1.0e-3, batch: 50, epochs: 2}\n  np_dfa: {lr: 1.0e-3, batch: 50, epochs: 2, sigma: 0.05, beta: 1.0e-4}\n", ""));
    let out = dir.join("res");
    ok(&["run"], &cfg, &out);
    let other = write_config(
        &dir,
        "other",
        &std::fs::read_to_string(&cfg)
            .unwrap()
            .replace("lr: 2.0e-3", "lr: 3.0e-3"),
    );
    let o = credit()
        .arg("run")
        .arg(&other)
        .args(["--device", "cpu", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains("rules.bp.lr") && stderr.contains("--fresh"),
        "{stderr}"
    );
    ok(&["run", "--fresh"], &other, &out);
}

#[test]
fn submit_makes_one_array_task_per_cnn_run() {
    let dir = tmp_dir("cnn_submit");
    let cfg = write_config(&dir, "tiny", TINY);
    let out = dir.join("res");
    let o = credit()
        .arg("submit")
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .arg("--dry-run")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let array = std::fs::read_to_string(out.join("tiny-shards/slurm/array.sbatch")).unwrap();
    assert!(array.lines().any(|l| l == "#SBATCH --array=0-5"), "{array}");
    assert!(array.contains("--shard \"$shard/6\""), "{array}");
    let collect = std::fs::read_to_string(out.join("tiny-shards/slurm/collect.sbatch")).unwrap();
    assert!(collect.contains(" collect "), "{collect}");
    let o = credit()
        .arg("submit")
        .arg(&cfg)
        .args(["--shards", "7", "--dry-run", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && stderr.contains("at most 6 shards"),
        "{stderr}"
    );
}

#[test]
fn jobs_run_a_cnn_experiment_as_local_processes_then_collect() {
    let dir = tmp_dir("cnn_jobs");
    let cfg = write_config(&dir, "tiny", TINY);
    ok(&["run"], &cfg, &dir.join("one"));
    ok(&["run", "--jobs", "2"], &cfg, &dir.join("jobs"));
    assert_eq!(
        summary_without_seconds(&dir.join("jobs/tiny-shards/summary.csv")),
        summary_without_seconds(&dir.join("one/tiny-shards/summary.csv")),
        "--jobs 2 writes what one process writes"
    );
}
