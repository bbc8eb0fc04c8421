//! The two engines are the same algorithm: fed the same data order and the same noise (the
//! torch engine's draws, handed to the fused engine), their W and B agree after 300 steps
//! on MNIST-shaped sparse inputs, for every rule, solver and option the fused engine has.
//! And the engine is part of a run's identity: the other one never continues it.
mod common;
use common::{credit, tmp_dir, write_config};
use credit_assign::fused::{self, noise::UnitNormals};
use credit_assign::mlp::engine::Engine;
use credit_assign::mlp::{sweep, tasks};
use credit_assign::rng::{NoiseStream, Stream};
use std::path::Path;
use tch::Device;

const STEPS: u64 = 300;
/// Relative Frobenius difference allowed per matrix after STEPS steps. The engines round
/// differently (FMA, summation order); NP amplifies that where ΔL = L̃ − L, a difference of
/// two f32 losses, cancels (tests/step_equivalence.rs has the analysis and the same 2e-5).
/// Observed (printed with --nocapture): at most 3.5e-6 for every config but np with
/// `perturb_bias: false`, whose B differs by 1.1e-5 from step 60 on without growing.
const TOL: f64 = 2e-5;

fn config(run: &str) -> String {
    format!(
        "experiment: engines\ntask: classify\n\
         data: {{ dataset: synthetic-mnist-sparse, train_size: 640, test_size: 32 }}\n\
         network: {{ sizes: [784, 30, 20, 10], activations: [sigmoid, tanh, identity] }}\n\
         training: {{ iterations: {STEPS}, batch_size: 32, log_every: {STEPS}, eval_every: {STEPS}, seeds: [5, 9] }}\n\
         runs:\n  - {run}\n"
    )
}

/// The torch engine's unit normals of one member, one stream per purpose.
struct TorchNormals {
    noise: NoiseStream,
    train_noise: NoiseStream,
    /// Hand over step k + shift's draws at step k (0: aligned).
    shift: u64,
}

impl UnitNormals for TorchNormals {
    fn fill(&mut self, _seed: u64, stream: Stream, step: u64, out: &mut [f32]) {
        let z = match stream {
            Stream::TrainNoise => self.train_noise.at(step + self.shift),
            _ => self.noise.at(step + self.shift),
        };
        let z = Vec::<f32>::try_from(z.reshape([-1])).unwrap();
        out.copy_from_slice(&z);
    }
}

/// Train both engines STEPS steps; the largest relative difference of any W, B or ridge sum.
fn largest_difference(run: &str) -> f64 {
    largest_difference_shifted(run, 0)
}

fn largest_difference_shifted(run: &str, shift: u64) -> f64 {
    let exp = common::experiment(&config(run));
    let group = &sweep::programs(&exp).unwrap()[0];
    let data = tasks::load(&exp, Path::new("data"), Device::Cpu).unwrap();
    let spec = &group.spec;
    let mut torch = Engine::Torch(Box::new(
        credit_assign::mlp::Trainer::new(&exp, group, data.train_len(), Device::Cpu).unwrap(),
    ));
    let cols: i64 = group.sizes[1..group.sizes.len() - 1]
        .iter()
        .map(|n| n + spec.perturb_bias as i64)
        .sum();
    let per_step = cols * exp.training.batch_size;
    let fused = fused::Trainer::new(&exp, group, &data, 2)
        .unwrap()
        .with_noise(|seed| {
            let stream = |s| NoiseStream::new(&[seed], s, per_step, Device::Cpu);
            Box::new(TorchNormals {
                noise: stream(Stream::Noise),
                train_noise: stream(Stream::TrainNoise),
                shift,
            })
        });
    let mut fused = Engine::Fused(Box::new(fused));
    for _ in 0..STEPS {
        torch.step(&data, false).unwrap();
        fused.step(&data, false).unwrap();
    }
    let (a, b) = (torch.save(), fused.save());
    let mut worst: f64 = 0.0;
    for (name, t) in &a {
        let skip = ["loss_sum", "iteration", "loss_steps", "opt.steps"];
        if skip.contains(&name.as_str()) {
            continue;
        }
        let (_, f) = b.iter().find(|(n, _)| n == name).expect("same names");
        let (t, f) = (t.to_kind(tch::Kind::Double), f.to_kind(tch::Kind::Double));
        assert!(
            bool::try_from(t.isfinite().all()).unwrap(),
            "{run}: the torch engine's {name} is not finite: pick a stable setting"
        );
        let rel = (&t - &f).norm().double_value(&[]) / t.norm().double_value(&[]);
        eprintln!("{run}: {name} relative difference {rel:.2e}");
        worst = worst.max(rel);
    }
    worst
}

#[test]
fn fused_and_torch_agree_step_by_step_for_every_rule() {
    for run in [
        "{ rule: np, lr: 0.002, sigma: 0.05, solver: ridge, gamma: 0.1, warmup: 50, b_init: zero }",
        "{ rule: np, lr: 0.002, sigma: 0.05, solver: sgd, lr_b: 0.002 }",
        "{ rule: np, lr: 0.002, sigma: 0.05, solver: ridge, warmup: 50, perturb_bias: false }",
        "{ rule: np_dfa, lr: 0.002, sigma: 0.05, solver: ridge, warmup: 50 }",
        "{ rule: sg, lr: 0.002, solver: sgd, lr_b: 0.002 }",
        "{ rule: fa, lr: 0.002 }",
        "{ rule: dfa, lr: 0.002 }",
        "{ rule: bp, lr: 0.002, train_noise: 0.05 }",
        "{ rule: matched, lr: 0.002 }",
        "{ rule: np, freeze_w: true, sigma: 0.05, solver: ridge }",
    ] {
        let d = largest_difference(run);
        assert!(d < TOL, "{run}: the engines differ by {d:.2e}");
    }
}

/// The comparison can fail: noise handed over one step late (a plausible bug) is far outside
/// TOL.
#[test]
fn misaligned_noise_is_caught() {
    let d = largest_difference_shifted(
        "{ rule: np, lr: 0.002, sigma: 0.05, solver: ridge, warmup: 50 }",
        1,
    );
    assert!(d > 100.0 * TOL, "noise one step late: only {d:.2e} apart");
}

const RUN: &str = r#"
experiment: engine-identity
task: classify
data: { dataset: synthetic-mnist-sparse, train_size: 1000, test_size: 100 }
network: { sizes: [784, 20, 10], activations: [sigmoid, identity] }
training: { iterations: 400, batch_size: 16, log_every: 100, eval_every: 200, seeds: [0], checkpoint_every: 100 }
runs:
  - { rule: fa, lr: 0.001 }
"#;

/// A folder trained by one engine is refused by the other, naming both; the same engine
/// finds it finished.
#[test]
fn the_other_engine_never_continues_a_run() {
    let dir = tmp_dir("engine-identity");
    let config = write_config(&dir, "exp", RUN);
    let run = |engine: &str| {
        credit()
            .args(["run", "--device", "cpu", "--engine", engine, "--out"])
            .arg(dir.join("out"))
            .arg(&config)
            .output()
            .unwrap()
    };
    let first = run("fused");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let summary = std::fs::read_to_string(dir.join("out/engine-identity/summary.csv")).unwrap();
    assert!(
        summary.lines().next().unwrap().contains(",engine"),
        "{summary}"
    );
    assert!(
        summary.lines().nth(1).unwrap().contains(",fused,"),
        "{summary}"
    );
    let other = run("torch");
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(
        !other.status.success(),
        "the torch engine continued a fused run: {err}"
    );
    assert!(
        err.contains("fused engine") && err.contains("torch engine"),
        "{err}"
    );
    assert!(
        err.contains("--engine fused"),
        "the way out is named: {err}"
    );
    let again = run("auto");
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

/// `--engine fused` on a config it cannot train names the field; it never falls back.
#[test]
fn fused_on_an_unsupported_config_names_the_field() {
    let dir = tmp_dir("engine-unsupported");
    let yaml = RUN.replace(
        "{ rule: fa, lr: 0.001 }",
        "{ rule: fa, lr: 0.001, optimizer: adam }",
    );
    let config = write_config(&dir, "exp", &yaml);
    let out = credit()
        .args(["run", "--device", "cpu", "--engine", "fused", "--out"])
        .arg(dir.join("out"))
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("runs[0].optimizer"), "{err}");
}
