//! `--device cuda` on a machine without a GPU fails at once with a clear message, for
//! `credit run` and `credit bench`, and writes nothing. On a machine with an NVIDIA driver
//! the test has nothing to check and says so.
use std::path::Path;
use std::process::Command;

const TINY: &str = r#"
experiment: cuda-check
task: classify
data: { dataset: synthetic-mnist, train_size: 64, test_size: 16 }
network: { sizes: [784, 10, 10], activations: [sigmoid, identity] }
training: { iterations: 4, batch_size: 8, log_every: 2, eval_every: 2, seeds: [0] }
runs:
  - { rule: bp, lr: 0.01 }
"#;

fn gpu_machine() -> bool {
    Path::new("/proc/driver/nvidia/version").exists() || Path::new("/dev/nvidiactl").exists()
}

/// What the message must say here: where the linked libtorch has libtorch_cuda.so (the
/// PyPI wheel), it loads and finds no device; where it has none, loading it fails.
fn expected_reason() -> &'static str {
    let libtorch = Path::new(env!("CARGO_MANIFEST_DIR")).join(".libtorch");
    let lib = std::env::var_os("LIBTORCH")
        .map(|l| Path::new(&l).join("lib"))
        .unwrap_or_else(|| libtorch.join("lib"));
    if lib.join("libtorch_cuda.so").exists() {
        "no CUDA device found (no NVIDIA driver"
    } else {
        "libtorch_cuda.so could not be loaded"
    }
}

fn assert_clear_failure(args: &[&str], cwd: &Path) {
    let o = Command::new(env!("CARGO_BIN_EXE_credit"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
    let reason = expected_reason();
    assert!(
        err.contains(reason),
        "{args:?}: expected '{reason}' in:\n{err}"
    );
    assert!(
        err.contains("--device cuda:0") && err.contains("Use --device cpu"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        String::from_utf8_lossy(&o.stdout).trim().is_empty(),
        "{args:?} printed before failing"
    );
}

#[test]
fn cuda_without_a_gpu_is_refused_clearly() {
    if gpu_machine() {
        eprintln!("skipped: this machine has an NVIDIA driver; scripts/device-check.sh covers it");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("tiny.yaml");
    std::fs::write(&cfg, TINY).unwrap();
    assert_clear_failure(
        &[
            "run",
            cfg.to_str().unwrap(),
            "--device",
            "cuda",
            "--out",
            "results",
        ],
        tmp.path(),
    );
    assert!(
        !tmp.path().join("results").exists(),
        "a refused run wrote results"
    );
    assert_clear_failure(
        &[
            "bench",
            "--device",
            "cuda",
            "--network",
            "fig2",
            "--members",
            "1",
            "--steps",
            "2",
        ],
        tmp.path(),
    );
    assert_clear_failure(
        &["reproduce", "theory", "--quick", "--device", "cuda"],
        tmp.path(),
    );
    assert!(!tmp.path().join("results").exists());
}
