//! `credit submit` end to end on a real (local, one-node) Slurm: a job array of shards and its
//! collect job give the same bytes as one local `credit run`, also when an array task is
//! requeued mid-run (`scontrol requeue`) and resumes from its checkpoint.
mod common;
#[path = "common/slurm.rs"]
mod slurm;

use common::tmp_dir;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Three rules, two seeds: three batched programs, so three shards of one program each.
const CONFIG: &str = r#"
experiment: slurm-e2e
task: classify
data: { dataset: synthetic-mnist, train_size: 512, test_size: 100 }
network: { sizes: [784, 24, 10], activations: [sigmoid, identity] }
training: { iterations: ITERS, batch_size: 16, log_every: LOG, eval_every: EVAL, seeds: [0, 1] }
runs:
  - { rule: bp, lr: 0.005 }
  - { rule: fa, lr: 0.005 }
  - { rule: np, lr: 0.002, sigma: 0.01, solver: sgd, lr_b: 0.001 }
"#;
const SHARDS: &str = "3";
/// Short for the plain comparison; long enough for the requeue test to catch a task mid-run.
const ITERS_SHORT: u32 = 300;
const ITERS_LONG: u32 = 30000;
const LIMIT: Duration = Duration::from_secs(170);

fn config(iters: u32) -> String {
    let (log, eval) = if iters == ITERS_SHORT {
        (25, 100)
    } else {
        (100, 1000)
    };
    CONFIG
        .replace("ITERS", &iters.to_string())
        .replace("LOG", &log.to_string())
        .replace("EVAL", &eval.to_string())
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("config.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The same config trained by one local process (the reference), once per config.
fn local_reference(iters: u32) -> PathBuf {
    static SHORT: OnceLock<PathBuf> = OnceLock::new();
    static LONG: OnceLock<PathBuf> = OnceLock::new();
    let cell = if iters == ITERS_SHORT { &SHORT } else { &LONG };
    cell.get_or_init(|| {
        let dir = tmp_dir(&format!("slurm-local-ref-{iters}"));
        let cfg = write_config(&dir, &config(iters));
        let out = dir.join("res");
        let o = Command::new(env!("CARGO_BIN_EXE_credit"))
            .args([
                "run",
                cfg.to_str().unwrap(),
                "--device",
                "cpu",
                "--threads",
                "1",
                "--out",
            ])
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "local reference run failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        out.join("slurm-e2e")
    })
    .clone()
}

/// summary.csv without its wall-clock column.
fn summary_without_seconds(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().clone();
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| &header[i] != "seconds")
        .collect();
    let mut rows = vec![keep
        .iter()
        .map(|&i| header[i].to_string())
        .collect::<Vec<_>>()];
    for rec in r.records() {
        let rec = rec.unwrap();
        rows.push(keep.iter().map(|&i| rec[i].to_string()).collect());
    }
    rows
}

fn metrics_files(exp: &Path) -> Vec<String> {
    let mut runs: Vec<String> = std::fs::read_dir(exp)
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            e.path()
                .join("metrics.csv")
                .is_file()
                .then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    runs.sort();
    runs
}

/// Every byte the issue asks for: summary.csv (less seconds), aggregate.csv, each metrics.csv.
fn assert_same_results(cluster: &Path, local: &Path) {
    assert_eq!(
        summary_without_seconds(&cluster.join("summary.csv")),
        summary_without_seconds(&local.join("summary.csv")),
        "summary.csv differs"
    );
    assert_eq!(
        std::fs::read(cluster.join("aggregate.csv")).unwrap(),
        std::fs::read(local.join("aggregate.csv")).unwrap(),
        "aggregate.csv differs"
    );
    let runs = metrics_files(local);
    assert_eq!(runs.len(), 6, "3 rules × 2 seeds: {runs:?}");
    assert_eq!(metrics_files(cluster), runs);
    for run in &runs {
        let a = std::fs::read(cluster.join(run).join("metrics.csv")).unwrap();
        let b = std::fs::read(local.join(run).join("metrics.csv")).unwrap();
        assert!(
            a == b,
            "{run}/metrics.csv differs between the cluster and the local run"
        );
    }
}

fn submit(cfg: &Path, out: &Path) -> (String, String) {
    let o = slurm::credit()
        .args([
            "submit",
            cfg.to_str().unwrap(),
            "--shards",
            SHARDS,
            "--cpus-per-task",
            "1",
        ])
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "credit submit failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    slurm::submitted_ids(&o)
}

fn logs(exp: &Path) -> String {
    let mut all = String::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(exp.join("slurm/logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        all.push_str(&format!("==== {}\n", f.display()));
        all.push_str(&std::fs::read_to_string(&f).unwrap_or_default());
    }
    all
}

fn assert_all_completed(ids: &[&str], exp: &Path) {
    for id in ids {
        for state in slurm::job_states(id) {
            assert_eq!(state, "COMPLETED", "job {id}; logs:\n{}", logs(exp));
        }
    }
}

#[test]
fn a_job_array_of_shards_gives_the_bytes_of_one_local_run() {
    slurm::cluster();
    let dir = tmp_dir("slurm-e2e-array");
    let cfg = write_config(&dir, &config(ITERS_SHORT));
    let out = dir.join("res");
    let t = Instant::now();
    let (array, collect) = submit(&cfg, &out);
    // The local reference trains while the cluster does.
    let local = local_reference(ITERS_SHORT);
    slurm::wait_for(&[&array, &collect], LIMIT);
    eprintln!(
        "array of {SHARDS} shards and collect: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let exp = out.join("slurm-e2e");
    assert_all_completed(&[&array, &collect], &exp);
    let shard_logs: Vec<_> = std::fs::read_dir(exp.join("slurm/logs"))
        .unwrap()
        .filter(|e| {
            let n = e.as_ref().unwrap().file_name();
            n.to_string_lossy().starts_with(&format!("{array}_"))
        })
        .collect();
    assert_eq!(shard_logs.len(), 3, "one log per shard:\n{}", logs(&exp));
    assert_same_results(&exp, &local);
}

/// The iteration of the first run that `credit status` says is running, if any.
fn running_iteration(exp: &Path) -> Option<u64> {
    let o = Command::new(env!("CARGO_BIN_EXE_credit"))
        .arg("status")
        .arg(exp)
        .output()
        .ok()?;
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .find_map(|l| l.split("running at iteration ").nth(1)?.trim().parse().ok())
}

/// How a running array task is interrupted.
enum Interrupt {
    /// `scontrol requeue`, as an admin or a preempting scheduler does: SIGTERM to the task,
    /// which Slurm puts back in the queue itself.
    Requeue,
    /// Slurm's warning before the time limit (`--signal=B:USR1@120`), sent at once: the batch
    /// script passes it on and requeues its own task after the checkpoint.
    Usr1,
}

/// Submit with one task at a time, interrupt the running task once it is past its first
/// logged iterations, let it start again at once, and check that it resumed and that the
/// collected result is the bytes of one local run.
fn interrupted_task_resumes(name: &str, how: Interrupt) {
    slurm::cluster();
    let dir = tmp_dir(name);
    let cfg = write_config(&dir, &config(ITERS_LONG));
    let out = dir.join("res");
    let exp = out.join("slurm-e2e");
    let o = slurm::credit()
        .args([
            "submit",
            cfg.to_str().unwrap(),
            "--shards",
            SHARDS,
            "--max-parallel",
            "1",
        ])
        .args(["--cpus-per-task", "1", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "credit submit: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (array, collect) = slurm::submitted_ids(&o);

    // One task runs at a time (--max-parallel 1): the running task is the one training.
    let t = Instant::now();
    let (task, task_job_id) = loop {
        assert!(
            t.elapsed() < LIMIT,
            "no task showed progress; logs:\n{}",
            logs(&exp)
        );
        let running = slurm::slurm_ok("squeue", &["-h", "-j", &array, "-t", "R", "-o", "%K %A"]);
        if running.lines().count() == 1 && running_iteration(&exp).is_some_and(|k| k > 0) {
            let (task, id) = running.trim().split_once(' ').unwrap();
            break (task.to_string(), id.to_string());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let job = format!("{array}_{task}");
    match how {
        Interrupt::Requeue => slurm::slurm_ok("scontrol", &["requeue", &job]),
        // scancel may deliver the signal and still answer "Job can not be altered now, try
        // again later" (the array's pending tasks): judge by the task's log instead.
        Interrupt::Usr1 => {
            let o = slurm::slurm("scancel")
                .args(["--batch", "--signal=USR1", &task_job_id])
                .output()
                .unwrap();
            let log = exp.join(format!("slurm/logs/{array}_{task}.out"));
            let t = Instant::now();
            while !std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("got SIGUSR1")
            {
                assert!(
                    t.elapsed() < Duration::from_secs(20),
                    "the batch script never got USR1 (scancel: {})\n{}",
                    String::from_utf8_lossy(&o.stderr),
                    logs(&exp)
                );
                std::thread::sleep(Duration::from_millis(100));
            }
            String::new()
        }
    };
    // Slurm holds a requeued job for about two minutes (BeginTime); let it start at once.
    let t = Instant::now();
    loop {
        let st = slurm::squeue(&[&job]);
        if st.contains("PENDING") {
            slurm::slurm_ok(
                "scontrol",
                &["update", &format!("JobId={job}"), "StartTime=now"],
            );
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "{job} was not requeued: {st}\n{}",
            logs(&exp)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let local = local_reference(ITERS_LONG);
    slurm::wait_for(&[&array, &collect], LIMIT);
    assert_all_completed(&[&array, &collect], &exp);

    let log = std::fs::read_to_string(exp.join(format!("slurm/logs/{array}_{task}.out"))).unwrap();
    for needle in [
        "checkpointed at iteration",
        "credit exited with code 75",
        "restart 1",
        "resuming from the checkpoint at iteration",
    ] {
        assert!(
            log.contains(needle),
            "no {needle:?} in the interrupted task's log:\n{log}"
        );
    }
    if let Interrupt::Usr1 = how {
        assert!(log.contains("requeueing job"), "{log}");
    }
    assert_same_results(&exp, &local);
}

#[test]
fn a_requeued_array_task_resumes_from_its_checkpoint_and_the_result_is_the_same() {
    interrupted_task_resumes("slurm-e2e-requeue", Interrupt::Requeue);
}

#[test]
fn a_task_warned_by_usr1_checkpoints_requeues_itself_and_resumes() {
    interrupted_task_resumes("slurm-e2e-usr1", Interrupt::Usr1);
}
