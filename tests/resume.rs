//! Runs survive: a real `credit run` child killed with kill -9 at a random iteration, or
//! stopped by SIGTERM, resumes when the same command is run again, and its files are the
//! bytes of an uninterrupted run.
mod common;
use common::{assert_same_results, credit, tmp_dir, write_config};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// On the torch engine (`engine: torch`); `NP_RIDGE_FUSED` is the same on the fused engine.
const NP_RIDGE: &str = r#"
experiment: np-ridge
task: classify
data: { dataset: synthetic-mnist, train_size: 2000, test_size: 300 }
network: { sizes: [784, 30, 20, 10], activations: [sigmoid, sigmoid, identity] }
training: { iterations: 6000, batch_size: 16, log_every: 100, eval_every: 500, seeds: [0, 1], checkpoint_every: 250, test_error_noisy: true, engine: torch }
runs:
  - { rule: np, lr: 0.001, sigma: [0.01, 0.1], solver: ridge, warmup: 100 }
  - { rule: fa, lr: 0.001 }
"#;

/// The fused engine (`auto` on the CPU), on sparse MNIST-shaped inputs; longer, as its steps
/// are faster, so that the kill lands mid-run.
const NP_RIDGE_FUSED: &str = r#"
experiment: np-ridge-fused
task: classify
data: { dataset: synthetic-mnist-sparse, train_size: 2000, test_size: 300 }
network: { sizes: [784, 30, 20, 10], activations: [sigmoid, sigmoid, identity] }
training: { iterations: 40000, batch_size: 16, log_every: 100, eval_every: 4000, seeds: [0, 1], checkpoint_every: 250, test_error_noisy: true }
runs:
  - { rule: np, lr: 0.001, sigma: [0.01, 0.1], solver: ridge, warmup: 100 }
  - { rule: sg, lr: 0.001, solver: sgd, lr_b: 0.0005, train_noise: 0.01 }
"#;

const AE_ADAM: &str = r#"
experiment: ae-adam
task: autoencode
data: { dataset: synthetic-mnist, train_size: 1000, test_size: 200 }
network: { sizes: [784, 32, 2, 32, 784], activations: [tanh, identity, tanh, relu] }
training: { iterations: 4000, batch_size: 16, log_every: 50, eval_every: 250, seeds: [0, 1], checkpoint_every: 100, latent_at: [500] }
# np first: its program is the slow one, so the kill lands inside it. With bp first, an idle
# machine finished bp's program within the random delay after its first checkpoint and the
# kill fell between the two programs, where there is nothing to resume.
runs:
  - { rule: np, lr: 0.001, optimizer: adam, sigma: 0.05, solver: sgd, lr_b: 0.0001, perturb_bias: false }
  - { rule: bp, lr: 0.001, optimizer: adam }
"#;

/// On the torch engine; `PEER_RULES_FUSED` is the same on the fused engine.
const PEER_RULES: &str = r#"
experiment: peer-rules
task: classify
data: { dataset: synthetic-mnist, train_size: 2000, test_size: 300 }
network: { sizes: [784, 30, 20, 10], activations: [sigmoid, sigmoid, sigmoid] }
training: { iterations: 6000, batch_size: 16, log_every: 100, eval_every: 500, seeds: [0, 1], checkpoint_every: 250, loss: sigmoid_cross_entropy, loss_reduction: mean, engine: torch }
runs:
  - { rule: brsf, lr: 0.2 }
  - { rule: wm, lr: 0.05, mirror: decay, mirror_lr: 0.1, mirror_sigma: 1.0, mirror_decay: 0.1, mirror_warmup: 20 }
"#;

/// The fused engine (`auto` on the CPU) on sparse inputs, longer, as `NP_RIDGE_FUSED`.
const PEER_RULES_FUSED: &str = r#"
experiment: peer-rules-fused
task: classify
data: { dataset: synthetic-mnist-sparse, train_size: 2000, test_size: 300 }
network: { sizes: [784, 30, 20, 10], activations: [sigmoid, sigmoid, sigmoid] }
training: { iterations: 20000, batch_size: 16, log_every: 100, eval_every: 4000, seeds: [0, 1], checkpoint_every: 250, loss: sigmoid_cross_entropy, loss_reduction: mean }
runs:
  - { rule: brsf, lr: 0.2 }
  - { rule: wm, lr: 0.05, mirror: decay, mirror_lr: 0.1, mirror_sigma: 1.0, mirror_decay: 0.1, mirror_warmup: 20 }
"#;

fn start(config: &Path, out: &Path) -> Child {
    credit()
        .args(["run", "--device", "cpu", "--out"])
        .arg(out)
        .arg(config)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start credit")
}

fn finish(config: &Path, out: &Path) -> String {
    let o = credit()
        .args(["run", "--device", "cpu", "--out"])
        .arg(out)
        .arg(config)
        .output()
        .expect("run credit");
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "credit run failed: {err}");
    err
}

/// Wait until the first checkpoint of the experiment is written.
fn wait_for_checkpoint(exp_dir: &Path, child: &mut Child) {
    let t0 = Instant::now();
    while !std::fs::read_dir(exp_dir.join("checkpoints"))
        .map(|d| {
            d.flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "json"))
        })
        .unwrap_or(false)
    {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before its first checkpoint"
        );
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no checkpoint after 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A delay in [0, max) ms drawn from the clock: the kill lands at a random iteration.
fn random_delay(max: u64) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    Duration::from_millis(nanos % max)
}

/// Returns the resumed experiment's folder.
fn kill9_and_resume(name: &str, exp: &str, yaml: &str) -> PathBuf {
    let dir = tmp_dir(name);
    let config = write_config(&dir, "exp", yaml);
    let (reference, resumed) = (dir.join("reference"), dir.join("resumed"));
    finish(&config, &reference);

    let mut child = start(&config, &resumed);
    wait_for_checkpoint(&resumed.join(exp), &mut child);
    let delay = random_delay(1500);
    std::thread::sleep(delay);
    let finished_early = child.try_wait().unwrap().is_some();
    child.kill().expect("kill -9"); // SIGKILL
    child.wait().unwrap();
    assert!(
        !finished_early,
        "the run finished within {delay:?} of its first checkpoint: make it longer"
    );
    let err = finish(&config, &resumed);
    assert!(
        err.contains("resuming from the checkpoint at iteration"),
        "{err}"
    );
    let n = assert_same_results(&reference.join(exp), &resumed.join(exp));
    eprintln!("{name}: killed {delay:?} after the first checkpoint; {n} files identical");
    assert!(
        !resumed
            .join(exp)
            .join("checkpoints")
            .read_dir()
            .unwrap()
            .any(|e| { e.unwrap().path().extension().is_some_and(|x| x == "json") }),
        "a finished experiment keeps no checkpoint"
    );
    resumed.join(exp)
}

#[test]
fn np_with_ridge_resumes_after_kill9_byte_identical() {
    kill9_and_resume("resume-np-ridge", "np-ridge", NP_RIDGE);
}

#[test]
fn the_fused_engine_resumes_after_kill9_byte_identical() {
    kill9_and_resume("resume-np-ridge-fused", "np-ridge-fused", NP_RIDGE_FUSED);
}

#[test]
fn autoencoder_with_adam_resumes_after_kill9_byte_identical() {
    kill9_and_resume("resume-ae-adam", "ae-adam", AE_ADAM);
}

#[test]
fn brsf_and_weight_mirror_resume_after_kill9_byte_identical() {
    // brSF's |M| and the mirror's X are drawn from (seed, step): nothing else to restore.
    kill9_and_resume("resume-peer-rules", "peer-rules", PEER_RULES);
}

#[test]
fn brsf_and_weight_mirror_on_the_fused_engine_resume_after_kill9_byte_identical() {
    let folder = kill9_and_resume(
        "resume-peer-rules-fused",
        "peer-rules-fused",
        PEER_RULES_FUSED,
    );
    let summary = std::fs::read_to_string(folder.join("summary.csv")).unwrap();
    assert!(
        summary.lines().skip(1).all(|l| l.contains(",fused,")),
        "not trained by the fused engine: {summary}"
    );
}

#[test]
fn sigterm_checkpoints_says_so_and_the_rerun_finishes_identically() {
    let dir = tmp_dir("resume-sigterm");
    let config = write_config(&dir, "exp", NP_RIDGE);
    let (reference, resumed) = (dir.join("reference"), dir.join("resumed"));
    finish(&config, &reference);

    let mut child = start(&config, &resumed);
    wait_for_checkpoint(&resumed.join("np-ridge"), &mut child);
    std::thread::sleep(random_delay(500));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(75),
        "exit status after SIGTERM: {err}"
    );
    let line = err
        .lines()
        .find(|l| l.contains("checkpointed at iteration"))
        .unwrap_or_else(|| panic!("no checkpoint message: {err}"));
    assert!(line.contains("rerun the same command to resume"), "{line}");
    let iteration: u64 = line
        .split("checkpointed at iteration ")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no iteration in: {line}"));
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(resumed.join("np-ridge/checkpoints/prog000.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(meta["iteration"].as_u64(), Some(iteration));
    assert!(
        !resumed.join("np-ridge/summary.csv").exists(),
        "a stopped run has no summary.csv"
    );
    finish(&config, &resumed);
    assert_same_results(&reference.join("np-ridge"), &resumed.join("np-ridge"));
}
