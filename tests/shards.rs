//! Sharded runs: `--shard i/N` partitions an experiment's programs, `credit collect`
//! gathers them into the bytes of a one-process run, `--jobs K` does both locally, and
//! `credit status` says where each run stands.
mod common;
use common::{assert_same_results, count_state, credit, tmp_dir, write_config};
use std::path::Path;
use std::process::Output;

const EXP: &str = r#"
experiment: sharded
task: classify
data: { dataset: synthetic-mnist, train_size: 600, test_size: 200 }
network: { sizes: [784, 20, 10, 10], activations: [sigmoid, sigmoid, identity] }
training: { iterations: 300, batch_size: 16, log_every: 50, eval_every: 100, seeds: [0, 1] }
runs:
  - { rule: bp, lr: 0.01 }
  - { rule: fa, lr: 0.01 }
  - { rule: np, lr: 0.01, sigma: 0.01, solver: ridge, warmup: 20 }
"#;

fn credit_ok(args: &[&str], dirs: &[&Path]) -> Output {
    let o = credit().args(args).args(dirs).output().expect("run credit");
    assert!(
        o.status.success(),
        "credit {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn run_args<'a>(extra: &'a [&'a str]) -> Vec<&'a str> {
    let mut v = vec!["run", "--device", "cpu", "--threads", "1"];
    v.extend_from_slice(extra);
    v.push("--out");
    v
}

#[test]
fn three_shards_then_collect_give_the_bytes_of_one_process() {
    let dir = tmp_dir("shards-collect");
    let config = write_config(&dir, "sharded", EXP);
    let (one, sharded) = (dir.join("one"), dir.join("sharded"));
    credit_ok(&run_args(&[]), &[&one, &config]);
    for i in 0..3 {
        let shard = format!("{i}/3");
        credit_ok(&run_args(&["--shard", &shard]), &[&sharded, &config]);
        if i == 1 {
            // Two of three shards: collect names what is missing and the shard to rerun.
            let o = credit()
                .arg("collect")
                .arg(sharded.join("sharded"))
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(1), "{err}");
            assert!(
                err.contains("2 of 6 runs of sharded have not finished"),
                "{err}"
            );
            assert!(err.contains(": missing (shard 2/3)"), "{err}");
            assert!(err.contains("--shard 2/3"), "{err}");
            let st = credit_ok(&["status"], &[&sharded.join("sharded")]);
            let st = String::from_utf8_lossy(&st.stdout);
            assert_eq!(count_state(&st, "done"), 4, "{st}");
            assert_eq!(count_state(&st, "missing"), 2, "{st}");
            // A live process locks every program it will train when it starts: finished
            // runs stay done, the ones it has not reached are held, not "running".
            let locks: Vec<_> = (0..3)
                .map(|p| {
                    let path = sharded.join(format!("sharded/locks/prog{p:03}.lock"));
                    credit_assign::lock::Lock::acquire(&path, "the test").unwrap()
                })
                .collect();
            let st = credit_ok(&["status"], &[&sharded.join("sharded")]);
            let st = String::from_utf8_lossy(&st.stdout);
            let held = "held by a running process, nothing logged yet";
            assert_eq!(count_state(&st, "done"), 4, "{st}");
            assert_eq!(count_state(&st, held), 2, "{st}");
            drop(locks);
        }
    }
    assert!(
        !sharded.join("sharded/summary.csv").exists(),
        "shards leave summary.csv to collect"
    );
    credit_ok(&["collect"], &[&sharded.join("sharded")]);
    assert_same_results(&one.join("sharded"), &sharded.join("sharded"));
    assert!(sharded.join("sharded/aggregate.csv").exists());
    assert_eq!(
        std::fs::read(one.join("sharded/experiment.yaml")).unwrap(),
        std::fs::read(sharded.join("sharded/experiment.yaml")).unwrap()
    );
}

#[test]
fn two_local_jobs_give_the_bytes_of_one_process() {
    let dir = tmp_dir("shards-jobs");
    let config = write_config(&dir, "sharded", EXP);
    let (one, jobs) = (dir.join("one"), dir.join("jobs"));
    credit_ok(&run_args(&[]), &[&one, &config]);
    credit_ok(&run_args(&["--jobs", "2"]), &[&jobs, &config]);
    assert_same_results(&one.join("sharded"), &jobs.join("sharded"));
}

/// `--queue` workers share one folder's programs: a worker skips the program a sibling
/// holds, trains the rest and leaves summary.csv to collect; the next worker trains only
/// what is left. The result is the bytes of one process.
#[test]
fn queue_workers_skip_what_a_sibling_trains() {
    let dir = tmp_dir("shards-queue");
    let config = write_config(&dir, "sharded", EXP);
    let (one, queue) = (dir.join("one"), dir.join("queue"));
    credit_ok(&run_args(&[]), &[&one, &config]);
    // A sibling is training np's program (the third, and the costliest).
    let held = queue.join("sharded/locks/prog002.lock");
    std::fs::create_dir_all(held.parent().unwrap()).unwrap();
    let lock = credit_assign::lock::Lock::acquire(&held, "the test").unwrap();
    let o = credit_ok(&run_args(&["--queue"]), &[&queue, &config]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("nothing left in the queue"), "{err}");
    assert!(
        !queue.join("sharded/summary.csv").exists(),
        "a worker leaves it to collect"
    );
    let st = credit_ok(&["status"], &[&queue.join("sharded")]);
    let st = String::from_utf8_lossy(&st.stdout);
    assert_eq!(count_state(&st, "done"), 4, "{st}");
    drop(lock);
    let o = credit_ok(&run_args(&["--queue"]), &[&queue, &config]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("sharded np (M=2)"), "np trained: {err}");
    assert!(!err.contains("sharded bp (M=2)"), "bp trained twice: {err}");
    credit_ok(&["collect"], &[&queue.join("sharded")]);
    assert_same_results(&one.join("sharded"), &queue.join("sharded"));
    // A queue cannot start over beside its siblings.
    let o = (credit().args(run_args(&["--queue", "--fresh"])))
        .arg(&queue)
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("--fresh"), "{err}");
}

#[test]
fn bad_shards_are_refused_clearly() {
    let dir = tmp_dir("shards-bad");
    let config = write_config(&dir, "sharded", EXP);
    let out = dir.join("out");
    for (shard, needle) in [
        ("3/3", "the index runs from 0 to 2 for 3 shards"),
        ("0/0", "N must be at least 1"),
        ("one", "write it as i/N"),
        ("0/4", "has 3 batched program(s), so at most 3 shard(s)"),
    ] {
        let o = credit()
            .args(["run", "--device", "cpu", "--shard", shard, "--out"])
            .arg(&out)
            .arg(&config)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "--shard {shard} was accepted");
        assert!(err.contains(needle), "--shard {shard}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let o = credit()
        .arg("collect")
        .arg(dir.join("nowhere"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("not an experiment folder written by `credit run`"),
        "{err}"
    );
}
