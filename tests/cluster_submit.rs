//! `credit submit`: the scripts it writes, its refusals, and what a real (local) Slurm makes
//! of its jobs.
mod common;
#[path = "common/slurm.rs"]
mod slurm;

use common::tmp_dir;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CONFIG: &str = r#"
experiment: submit-test
task: classify
data: { dataset: synthetic-mnist, train_size: 256, test_size: 64 }
network: { sizes: [784, 12, 10], activations: [sigmoid, identity] }
training: { iterations: 40, batch_size: 16, log_every: 20, eval_every: 20, seeds: [0, 1] }
runs:
  - { rule: bp, lr: 0.05 }
  - { rule: fa, lr: 0.05 }
  - { rule: np, lr: 0.02, sigma: 0.01, solver: sgd, lr_b: 0.001 }
quick:
  training: { iterations: 20 }
"#;

fn write_config(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn credit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_credit"))
        .args(args)
        .output()
        .expect("run credit")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn dry_run_writes_the_array_the_collect_job_and_a_frozen_config() {
    let dir = tmp_dir("submit-dry-run");
    let cfg = write_config(&dir, "c.yaml", CONFIG);
    let out = dir.join("res");
    let o = credit(&[
        "submit",
        s(&cfg),
        "--quick",
        "--out",
        s(&out),
        "--shards",
        "3",
        "--max-parallel",
        "2",
        "--partition",
        "gpu",
        "--account",
        "lab",
        "--time",
        "01:00:00",
        "--gpus-per-task",
        "1",
        "--cpus-per-task",
        "4",
        "--mem",
        "8G",
        "--sbatch-arg=--qos=long",
        "--dry-run",
    ]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}{stderr}");
    let slurm_dir = out.canonicalize().unwrap().join("submit-test-quick/slurm");
    assert!(stdout.contains("dry run: nothing submitted"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "sbatch --parsable {}",
            slurm_dir.join("array.sbatch").display()
        )),
        "{stdout}"
    );
    assert!(stdout.contains("--dependency=afterany:"), "{stdout}");

    // The tasks run a frozen copy: byte for byte the file given, and editing it later changes
    // nothing the tasks see.
    assert_eq!(
        std::fs::read_to_string(slurm_dir.join("config.yaml")).unwrap(),
        CONFIG
    );
    std::fs::write(&cfg, "edited after submitting").unwrap();
    assert_eq!(
        std::fs::read_to_string(slurm_dir.join("config.yaml")).unwrap(),
        CONFIG
    );
    assert!(slurm_dir.join("logs").is_dir());

    let array = std::fs::read_to_string(slurm_dir.join("array.sbatch")).unwrap();
    for line in [
        "#SBATCH --array=0-2%2",
        "#SBATCH --requeue",
        "#SBATCH --signal=B:USR1@120",
        "#SBATCH --open-mode=append",
        "#SBATCH --partition=gpu",
        "#SBATCH --account=lab",
        "#SBATCH --time=01:00:00",
        "#SBATCH --gpus-per-task=1",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --mem=8G",
        "#SBATCH --qos=long",
        &format!(
            "#SBATCH --output={}/%A_%a.out",
            slurm_dir.join("logs").display()
        ),
    ] {
        assert!(
            array.lines().any(|l| l == line),
            "no line {line:?} in:\n{array}"
        );
    }
    let credit_bin = Path::new(env!("CARGO_BIN_EXE_credit"))
        .canonicalize()
        .unwrap();
    let run_line = array
        .lines()
        .find(|l| l.ends_with(" &"))
        .unwrap_or_else(|| panic!("no background credit run in:\n{array}"));
    assert_eq!(
        run_line,
        format!(
            "{} run {} --quick --out {} --shard \"$shard/3\" --device cuda --threads \"${{SLURM_CPUS_PER_TASK:-1}}\" &",
            credit_bin.display(),
            slurm_dir.join("config.yaml").display(),
            out.canonicalize().unwrap().display()
        )
    );
    assert!(array.contains("shard=\"${SLURM_ARRAY_TASK_ID:?"), "{array}");
    assert!(
        array.contains("trap 'forward USR1' USR1") && array.contains("trap 'forward TERM' TERM")
    );
    assert!(array.contains("scontrol requeue \"$SLURM_JOB_ID\""));

    let collect = std::fs::read_to_string(slurm_dir.join("collect.sbatch")).unwrap();
    assert!(
        collect.contains(&format!(
            "{} collect {}",
            credit_bin.display(),
            out.canonicalize()
                .unwrap()
                .join("submit-test-quick")
                .display()
        )),
        "{collect}"
    );
    assert!(collect.contains("#SBATCH --partition=gpu"), "{collect}");
    assert!(
        !collect.contains("--gpus-per-task"),
        "collect needs no GPU:\n{collect}"
    );

    // Both scripts are valid bash.
    for f in ["array.sbatch", "collect.sbatch"] {
        let o = Command::new("bash")
            .arg("-n")
            .arg(slurm_dir.join(f))
            .output()
            .unwrap();
        assert!(o.status.success(), "{f}: {}", text(&o).1);
    }
}

#[test]
fn without_gpus_tasks_run_on_the_cpu_with_one_shard_per_program_by_default() {
    let dir = tmp_dir("submit-cpu");
    let cfg = write_config(&dir, "c.yaml", CONFIG);
    let out = dir.join("res");
    let o = credit(&["submit", s(&cfg), "--out", s(&out), "--dry-run"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let array = std::fs::read_to_string(out.join("submit-test/slurm/array.sbatch")).unwrap();
    // Three rules, their seeds batched: three programs, three shards.
    assert!(array.lines().any(|l| l == "#SBATCH --array=0-2"), "{array}");
    assert!(
        array.contains("--shard \"$shard/3\" --device cpu"),
        "{array}"
    );
    assert!(!array.contains("--quick"), "{array}");
    assert!(!array.contains("--partition"), "{array}");
    assert!(!array.contains("--gpus"), "{array}");
}

#[test]
fn more_shards_than_programs_and_fresh_with_dry_run_are_refused() {
    let dir = tmp_dir("submit-too-many");
    let cfg = write_config(&dir, "c.yaml", CONFIG);
    let out = dir.join("res");
    let o = credit(&[
        "submit",
        s(&cfg),
        "--out",
        s(&out),
        "--shards",
        "4",
        "--dry-run",
    ]);
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("has 3 batched program(s), so at most 3 shard(s)"),
        "{stderr}"
    );
    let o = credit(&["submit", s(&cfg), "--out", s(&out), "--fresh", "--dry-run"]);
    assert!(text(&o).1.contains("--fresh deletes"), "{:?}", text(&o));
    assert!(!out.join("submit-test").exists());
}

#[test]
fn no_sbatch_on_path_says_how_to_install_it_or_to_dry_run() {
    let dir = tmp_dir("submit-no-sbatch");
    let cfg = write_config(&dir, "c.yaml", CONFIG);
    let empty = dir.join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let out = dir.join("res");
    let o = Command::new(env!("CARGO_BIN_EXE_credit"))
        .args(["submit", s(&cfg), "--out", s(&out)])
        .env("PATH", &empty)
        .output()
        .unwrap();
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    for needle in [
        "sbatch is not on PATH",
        "slurm-wlm",
        "scripts/setup-slurm.sh",
        "--dry-run",
    ] {
        assert!(stderr.contains(needle), "no {needle:?} in: {stderr}");
    }
    assert!(
        !out.join("submit-test").exists(),
        "a refused submit wrote files"
    );
}

#[test]
fn zero_shards_and_zero_parallel_are_refused() {
    let dir = tmp_dir("submit-zero");
    let cfg = write_config(&dir, "c.yaml", CONFIG);
    let out = dir.join("res");
    let o = credit(&[
        "submit",
        s(&cfg),
        "--out",
        s(&out),
        "--shards",
        "0",
        "--dry-run",
    ]);
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--shards 0: give at least one shard"),
        "{stderr}"
    );
    let o = credit(&[
        "submit",
        s(&cfg),
        "--out",
        s(&out),
        "--max-parallel",
        "0",
        "--dry-run",
    ]);
    assert!(text(&o).1.contains("--max-parallel 0"), "{:?}", text(&o));
    assert!(!out.join("submit-test").exists());
}

#[test]
fn a_folder_holding_another_config_is_refused_with_the_fields_that_differ() {
    let dir = tmp_dir("submit-other-config");
    let cfg = write_config(&dir, "c.yaml", CONFIG);
    let out = dir.join("res");
    let first = credit(&["submit", s(&cfg), "--out", s(&out), "--dry-run"]);
    assert!(first.status.success(), "{:?}", text(&first));
    // The same config again is fine (resubmitting after a failure).
    let again = credit(&[
        "submit",
        s(&cfg),
        "--out",
        s(&out),
        "--dry-run",
        "--shards",
        "2",
    ]);
    assert!(again.status.success(), "{:?}", text(&again));

    let other = write_config(
        &dir,
        "other.yaml",
        &CONFIG
            .replace("iterations: 40", "iterations: 80")
            .replace("{ rule: fa, lr: 0.05 }", "{ rule: fa, lr: 0.01 }"),
    );
    let o = credit(&["submit", s(&other), "--out", s(&out), "--dry-run"]);
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    for needle in [
        "already holds experiment submit-test submitted with another config",
        "training.iterations: 40 → 80",
        "runs[1].lr: 0.05 → 0.01",
        "another --out",
        "--fresh",
    ] {
        assert!(stderr.contains(needle), "no {needle:?} in: {stderr}");
    }
    let frozen = out.join("submit-test/slurm/config.yaml");
    assert_eq!(
        std::fs::read_to_string(&frozen).unwrap(),
        CONFIG,
        "the refusal changed the folder"
    );

    // The experiment's own record refuses too, when the frozen copy is gone (e.g. the folder
    // was written by `credit run`).
    std::fs::remove_dir_all(out.join("submit-test/slurm")).unwrap();
    let o = credit(&["submit", s(&other), "--out", s(&out), "--dry-run"]);
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    for needle in [
        "holds results of another config",
        "training.iterations",
        "--out",
        "--fresh",
    ] {
        assert!(stderr.contains(needle), "no {needle:?} in: {stderr}");
    }
}

#[test]
fn an_unknown_partition_passes_slurms_error_through_with_the_command() {
    slurm::cluster();
    let dir = tmp_dir("submit-bad-partition");
    let cfg = write_config(&dir, "c.yaml", CONFIG);
    let out = dir.join("res");
    let o = slurm::credit()
        .args([
            "submit",
            s(&cfg),
            "--out",
            s(&out),
            "--partition",
            "no-such-partition",
        ])
        .output()
        .unwrap();
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    let array = out
        .canonicalize()
        .unwrap()
        .join("submit-test/slurm/array.sbatch");
    for needle in [
        "sbatch failed",
        // Slurm's own words.
        "Invalid partition name specified",
        &format!("command: sbatch --parsable {}", array.display()),
        "sinfo -s",
    ] {
        assert!(stderr.contains(needle), "no {needle:?} in: {stderr}");
    }
}

#[test]
fn a_real_submission_is_an_array_of_requeueable_shards_and_a_dependent_collect_job() {
    slurm::cluster();
    let dir = tmp_dir("submit-held");
    let cfg = write_config(&dir, "c.yaml", CONFIG);
    let out = dir.join("res");
    // Held, so that nothing runs: this test looks at what Slurm was asked for.
    let o = slurm::credit()
        .args([
            "submit",
            s(&cfg),
            "--out",
            s(&out),
            "--shards",
            "3",
            "--max-parallel",
            "2",
        ])
        .arg("--sbatch-arg=--hold")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}{stderr}");
    let (array, collect) = slurm::submitted_ids(&o);
    assert!(
        stdout.contains(&format!("squeue -j {array},{collect}")),
        "{stdout}"
    );
    assert!(stdout.contains("credit status "), "{stdout}");

    let shown = slurm::slurm_ok("scontrol", &["-o", "show", "job", &array]);
    assert!(shown.contains("ArrayTaskId=0-2%2"), "{shown}");
    assert!(shown.contains("Requeue=1"), "{shown}");
    assert!(shown.contains("JobName=credit-submit-test"), "{shown}");
    let shown = slurm::slurm_ok("scontrol", &["-o", "show", "job", &collect]);
    assert!(
        shown.contains(&format!("Dependency=afterany:{array}_*")),
        "{shown}"
    );
    let jobs = std::fs::read_to_string(out.join("submit-test/slurm/jobs.txt")).unwrap();
    assert_eq!(jobs, format!("array {array} collect {collect} shards 3\n"));
    slurm::slurm_ok("scancel", &[&array, &collect]);

    // Another config into the same folder: refused, then started over with --fresh.
    let other = write_config(
        &dir,
        "other.yaml",
        &CONFIG.replace("iterations: 40", "iterations: 60"),
    );
    let args = ["submit", s(&other), "--out", s(&out), "--sbatch-arg=--hold"];
    let o = slurm::credit().args(args).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    let o = slurm::credit().args(args).arg("--fresh").output().unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    let (array2, collect2) = slurm::submitted_ids(&o);
    slurm::slurm_ok("scancel", &[&array2, &collect2]);
    let exp = out.join("submit-test");
    assert!(std::fs::read_to_string(exp.join("slurm/config.yaml"))
        .unwrap()
        .contains("iterations: 60"));
    assert!(std::fs::read_to_string(exp.join("experiment.yaml"))
        .unwrap()
        .contains("iterations: 60"));
    // The old submission's record went with the folder.
    let jobs = std::fs::read_to_string(exp.join("slurm/jobs.txt")).unwrap();
    assert_eq!(
        jobs,
        format!("array {array2} collect {collect2} shards 3\n")
    );
}
