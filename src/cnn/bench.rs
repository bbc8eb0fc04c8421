//! `credit bench` for the CNN: time one training step of each rule on the chosen device.
use super::config::RuleSpec;
use super::learner::Learner;
use super::net::NetworkSpec;
use super::rules::Rule;
use anyhow::Result;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// One timed configuration.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchRow {
    pub network: String,
    pub rule: String,
    pub batch: i64,
    pub ms_per_step: f64,
    pub images_per_s: f64,
}

const WARMUP: usize = 2;
const BATCH: i64 = 128;

fn sync(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

/// Time `steps` training steps (after warm-up steps, not timed) of bp, dfa, np_dfa, fa (the
/// layer-wise pathway) and brsf (the pathway and a fresh M every step) on the code's
/// architecture, batch 128, 10 classes, random CIFAR-shaped input on `device`.
pub fn bench(device: Device, steps: usize) -> Result<Vec<BenchRow>> {
    let network = NetworkSpec::official();
    let x = Tensor::randn([BATCH, 3, 32, 32], (Kind::Float, device)); // [T, 3, 32, 32]
    let y = Tensor::randint(10, [BATCH], (Kind::Int64, device)); // [T]
    let mut rows = Vec::new();
    for rule in [Rule::Bp, Rule::Dfa, Rule::NpDfa, Rule::Fa, Rule::Brsf] {
        let np = rule == Rule::NpDfa;
        let spec = RuleSpec {
            lr: 1e-4,
            adam_eps: 1e-5,
            batch: BATCH,
            epochs: 1,
            beta: np.then_some(8.32e-6),
            sigma: np.then_some(0.067),
            np_loss: None,
            shared_dropout_mask: None,
            fixed_d_blocks: None,
            decay: None,
        };
        tch::manual_seed(0);
        let mut learner = Learner::new(&network, [3, 32, 32], 10, rule, &spec, 0, device)?;
        for step in 0..WARMUP {
            let _ = learner.step(&x, &y, step as u64);
        }
        sync(device);
        let start = Instant::now();
        for step in WARMUP..WARMUP + steps.max(1) {
            let _ = learner.step(&x, &y, step as u64);
        }
        sync(device);
        let ms = start.elapsed().as_secs_f64() * 1e3 / steps.max(1) as f64;
        rows.push(BenchRow {
            network: "table1-official".into(),
            rule: rule.name().into(),
            batch: BATCH,
            ms_per_step: ms,
            images_per_s: BATCH as f64 / (ms / 1e3),
        });
    }
    Ok(rows)
}
