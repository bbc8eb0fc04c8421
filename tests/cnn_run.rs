//! End-to-end runs on generated CIFAR-format files: every rule learns, files are complete,
//! runs are deterministic, bad data gives a clear error.
use credit_assign::cnn::config::CnnConfig;
use credit_assign::cnn::run_experiment;
use credit_assign::data::cifar::Variant;
use credit_assign::data::synthetic::write_cifar_dir;
use credit_assign::output::Status;
use std::path::Path;
use std::sync::Mutex;
use tch::Device;

/// libtorch's random generator is global to the process: runs in parallel test threads
/// would draw from it in turn, so each test here holds this lock.
static TORCH_RNG: Mutex<()> = Mutex::new(());

fn config(epochs: usize, dataset: &str) -> serde_yaml::Value {
    let text = format!(
        r#"
kind: cnn
experiment: tiny
dataset: {dataset}
protocol: validation
validation: 200
train_images: 600
test_images: 200
seeds: [3]
network:
  activation: tanh
  blocks:
    - conv: {{channels: 8, kernel: 3}}
    - conv: {{channels: 8, kernel: 3}}
    - fc: {{units: 32, dropout: 0.1}}
rules:
  bp: {{lr: 2.0e-3, batch: 32, epochs: {epochs}}}
  dfa: {{lr: 5.0e-3, batch: 32, epochs: {epochs}}}
  np_dfa: {{lr: 5.0e-3, batch: 32, epochs: {epochs}, sigma: 0.05, beta: 1.0e-4}}
"#
    );
    serde_yaml::from_str(&text).unwrap()
}

/// `metric` per logged row of a run's metrics.csv, in order.
fn series(run_dir: &Path, metric: &str) -> Vec<f64> {
    let text = std::fs::read_to_string(run_dir.join("metrics.csv")).unwrap();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[1] == metric).then(|| f[3].parse().unwrap())
        })
        .collect()
}

#[test]
fn every_rule_learns_on_generated_cifar_files() {
    let _rng = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_cifar_dir(&data.join("cifar-10"), Variant::Cifar10, 1200, 300, 2, 11).unwrap();
    let out = tmp.path().join("results");
    let runs = run_experiment(config(3, "cifar10"), false, Device::Cpu, &out, &data).unwrap();
    assert_eq!(runs.len(), 3);
    for r in &runs {
        assert_eq!(r.status, Status::Completed, "{}", r.run);
        let dir = out.join("tiny").join(&r.run);
        for f in ["metrics.csv", "config.yaml", "summary.json"] {
            assert!(dir.join(f).is_file(), "{}: {f}", r.run);
        }
        let text = std::fs::read_to_string(dir.join("config.yaml")).unwrap();
        let again = CnnConfig::resolve(serde_yaml::from_str(&text).unwrap(), false).unwrap();
        assert_eq!((again.seeds, again.rules.len()), (vec![3], 1), "{}", r.run);
        let loss = series(&dir, "train_loss");
        assert_eq!(loss.len(), 3);
        assert!(loss[2] < 0.8 * loss[0], "{}: train loss {loss:?}", r.run);
        let angles = series(&dir, "angle");
        let want = if r.rule == "bp" { 0 } else { 3 * 3 };
        assert_eq!(
            angles.len(),
            want,
            "{}: one angle per block per epoch",
            r.run
        );
        assert!(
            angles.iter().all(|a| (0.0..=180.0).contains(a)),
            "{angles:?}"
        );
        let acc = r.results["test_accuracy_at_best_val"];
        assert!(acc > 0.3, "{}: test accuracy at best val {acc}", r.run);
        assert!(
            !r.results.contains_key("max_test_accuracy"),
            "{}: a validation-protocol row must not carry the paper's metric",
            r.run
        );
        assert_eq!(series(&dir, "val_accuracy").len(), 3);
        assert_eq!(r.iterations, 3 * 600_u64.div_ceil(32));
        assert_eq!(r.condition, r.rule);
    }
    let csv = std::fs::read_to_string(out.join("tiny").join("summary.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
}

#[test]
fn every_layerwise_rule_learns_and_logs_its_angles() {
    let _rng = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(3, "synthetic-cifar");
    let rules = "{fa: {lr: 5.0e-3, batch: 32, epochs: 3}, usf: {lr: 5.0e-3, batch: 32, epochs: 3}, \
                 brsf: {lr: 5.0e-3, batch: 32, epochs: 3}, frsf: {lr: 5.0e-3, batch: 32, epochs: 3}, \
                 kp: {lr: 5.0e-3, batch: 32, epochs: 3, decay: 1.0e-3}}";
    cfg["rules"] = serde_yaml::from_str(rules).unwrap();
    let runs = run_experiment(cfg, false, Device::Cpu, tmp.path(), tmp.path()).unwrap();
    assert_eq!(runs.len(), 5);
    for r in &runs {
        assert_eq!(r.status, Status::Completed, "{}", r.run);
        let dir = tmp.path().join("tiny").join(&r.run);
        let loss = series(&dir, "train_loss");
        assert!(loss[2] < 0.8 * loss[0], "{}: train loss {loss:?}", r.run);
        // per epoch: one gradient angle per hidden block (3), one weight angle per B^l
        // (B^2, B^3 and the output layer's B^4)
        let angles = series(&dir, "angle");
        let weight_angles = series(&dir, "weight_angle");
        assert_eq!((angles.len(), weight_angles.len()), (9, 9), "{}", r.run);
        let all = angles.iter().chain(&weight_angles);
        assert!(
            all.into_iter().all(|a| (0.0..=180.0).contains(a)),
            "{}",
            r.run
        );
    }
    let by_rule = |rule: &str| runs.iter().find(|r| r.rule == rule).unwrap();
    assert_eq!(by_rule("kp").params["decay"], 1.0e-3);
}

#[test]
fn the_same_seed_gives_identical_metrics() {
    let _rng = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let mut texts = Vec::new();
    for i in 0..2 {
        let out = tmp.path().join(format!("r{i}"));
        run_experiment(
            config(1, "synthetic-cifar"),
            false,
            Device::Cpu,
            &out,
            tmp.path(),
        )
        .unwrap();
        let run = out.join("tiny").join("np_dfa-seed3");
        texts.push(std::fs::read_to_string(run.join("metrics.csv")).unwrap());
    }
    assert_eq!(texts[0], texts[1]);
}

#[test]
fn a_truncated_batch_stops_the_experiment_with_the_file_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cifar-10");
    write_cifar_dir(&dir, Variant::Cifar10, 300, 50, 1, 1).unwrap();
    let f = dir.join("data_batch_1.bin");
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() - 5]).unwrap();
    let e = run_experiment(
        config(1, "cifar10"),
        false,
        Device::Cpu,
        tmp.path(),
        tmp.path(),
    );
    let e = format!("{:#}", e.unwrap_err());
    assert!(
        e.contains("data_batch_1.bin") && e.contains("299 complete records"),
        "{e}"
    );
}

#[test]
fn missing_data_says_how_to_fetch_it() {
    let tmp = tempfile::tempdir().unwrap();
    let e = run_experiment(
        config(1, "cifar100"),
        false,
        Device::Cpu,
        tmp.path(),
        tmp.path(),
    );
    let e = format!("{:#}", e.unwrap_err());
    assert!(e.contains("credit data fetch cifar100"), "{e}");
}

#[test]
fn a_diverging_run_is_marked_and_the_others_go_on() {
    let _rng = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(2, "synthetic-cifar");
    // a step size for D far too large: D overshoots further every step until it overflows
    cfg["rules"]["np_dfa"]["beta"] = serde_yaml::Value::from(1.0e3);
    cfg["rules"]
        .as_mapping_mut()
        .unwrap()
        .remove("dfa")
        .unwrap();
    let runs = run_experiment(cfg, false, Device::Cpu, tmp.path(), tmp.path()).unwrap();
    let by_rule = |r: &str| runs.iter().find(|s| s.rule == r).unwrap();
    let np = by_rule("np_dfa");
    assert_eq!(np.status, Status::Diverged);
    let at = np.diverged_at.expect("diverged_at");
    assert!(at >= 1 && at <= np.iterations, "{at}");
    assert_eq!(by_rule("bp").status, Status::Completed);
    let csv = std::fs::read_to_string(tmp.path().join("tiny").join("summary.csv")).unwrap();
    assert!(csv.contains("diverged"), "{csv}");
}
