//! Checkpoint and resume of a CNN run, through the binary: killed with SIGKILL mid-epoch, or
//! stopped by SIGTERM (exit 75), rerunning the same command writes the same metrics.csv,
//! byte for byte, as a run never interrupted. For np_dfa (its D and NP noise) and brsf (its
//! M redrawn every step, the layer-wise pathway).
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One run, `<rule>-seed4`, of `train_images` generated images.
fn config(train_images: usize, rule: &str) -> String {
    format!(
        r#"
kind: cnn
experiment: resume
dataset: synthetic-cifar
protocol: paper
train_images: {train_images}
test_images: 100
checkpoint_every: 10
seeds: [4]
network:
  activation: tanh
  init: input_fan_in
  feedback_init: sqrt_units
  pool_padding: tf_same
  blocks:
    - conv: {{channels: 8, kernel: 5}}
    - conv: {{channels: 8, kernel: 3}}
    - fc: {{units: 32, dropout: 0.5}}
rules:
  {rule}
"#
    )
}

fn command(dir: &Path, out: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_credit"));
    c.args(["run", "cfg.yaml", "--device", "cpu", "--out", out])
        .current_dir(dir)
        .env("CREDIT_DATA_DIR", dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

fn metrics(dir: &Path, out: &str, run: &str) -> String {
    let path: PathBuf = dir.join(out).join("resume").join(run).join("metrics.csv");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Wait until the run's checkpoint is past `iteration`; fails if the run ends first.
fn wait_for_checkpoint(child: &mut Child, dir: &Path, out: &str, run: &str, iteration: u64) {
    let json = (dir.join(out).join("resume").join("checkpoints")).join(format!("{run}.json"));
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(&json) {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            if v["iteration"].as_u64().unwrap() >= iteration {
                break;
            }
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run finished before it could be interrupted"
        );
        assert!(start.elapsed() < Duration::from_secs(300), "no checkpoint");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn finish(dir: &Path, out: &str) -> String {
    let o = command(dir, out).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{stderr}");
    stderr
}

#[test]
fn a_killed_or_terminated_run_resumes_to_the_same_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let rule = "np_dfa: {lr: 1.0e-3, batch: 16, epochs: 3, sigma: 0.05, beta: 1.0e-3}";
    std::fs::write(dir.join("cfg.yaml"), config(1500, rule)).unwrap();
    let run = "np_dfa-seed4";
    finish(dir, "whole");
    let whole = metrics(dir, "whole", run);
    assert_eq!(whole.lines().filter(|l| l.contains(",epoch,")).count(), 3);
    // 94 steps per epoch: iteration 30 is mid-epoch
    killed_at(dir, run, 30, &whole);

    let mut child = command(dir, "term").spawn().unwrap();
    wait_for_checkpoint(&mut child, dir, "term", run, 120);
    // SAFETY: sending a signal to our own child process.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(75), "{stderr}");
    assert!(
        stderr.contains("checkpointed at iteration")
            && stderr.contains("rerun the same command to resume"),
        "{stderr}"
    );
    finish(dir, "term");
    assert_eq!(
        metrics(dir, "term", run),
        whole,
        "SIGTERM, then the same command"
    );
}

#[test]
fn a_killed_brsf_run_resumes_to_the_same_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let rule = "brsf: {lr: 1.0e-3, batch: 16, epochs: 2}";
    std::fs::write(dir.join("cfg.yaml"), config(1000, rule)).unwrap();
    let run = "brsf-seed4";
    finish(dir, "whole");
    let whole = metrics(dir, "whole", run);
    assert_eq!(
        whole
            .lines()
            .filter(|l| l.contains(",weight_angle,"))
            .count(),
        2 * 3
    );
    // 63 steps per epoch: iteration 30 is mid-epoch
    killed_at(dir, run, 30, &whole);
}

/// Run into `killed/`, SIGKILL it once its checkpoint is past `iteration`, rerun the same
/// command: metrics.csv must be `whole`, and no checkpoint left behind.
fn killed_at(dir: &Path, run: &str, iteration: u64, whole: &str) {
    let mut child = command(dir, "killed").spawn().unwrap();
    wait_for_checkpoint(&mut child, dir, "killed", run, iteration);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let stderr = finish(dir, "killed");
    assert!(stderr.contains("resuming at iteration"), "{stderr}");
    assert_eq!(
        metrics(dir, "killed", run),
        whole,
        "kill -9, then the same command"
    );
    let json = dir.join(format!("killed/resume/checkpoints/{run}.json"));
    assert!(!json.exists(), "a finished run leaves no checkpoint");
}
