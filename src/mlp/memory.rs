//! How much memory a batched program needs, estimated from its shapes, so that a config
//! whose programs cannot fit is refused before any training, with a way out.
use super::config::{Experiment, Task};
use super::sweep::Group;
use anyhow::{bail, Result};
use tch::Device;

/// Test examples per evaluation chunk (as `super::eval`).
const EVAL_CHUNK: f64 = 2048.0;
/// Floats per member in one chunk of a noise stream (as `crate::rng::NoiseStream`).
const NOISE_CHUNK: f64 = (1 << 20) as f64;

/// Bytes one member of `group` needs (f32 tensors unless said), a generous estimate.
pub fn member_bytes(exp: &Experiment, group: &Group, n_train: f64, n_test: f64) -> f64 {
    let s: Vec<f64> = group.sizes.iter().map(|&n| n as f64).collect();
    let t = exp.training.batch_size as f64;
    let widths: f64 = s.iter().map(|n| n + 1.0).sum();
    let params: f64 = s.windows(2).map(|w| (w[0] + 1.0) * w[1]).sum();
    let spec = &group.spec;
    let hidden_noise = t * s[1..s.len() - 1].iter().map(|n| n + 1.0).sum::<f64>();
    let streams = [
        spec.rule.perturbs().then_some(hidden_noise),
        spec.train_noise.map(|_| hidden_noise),
        spec.input_noise.map(|_| t * s[0]),
    ];
    // A chunk of up to 256 steps, stacked from per-member draws (twice while stacking).
    let noise: f64 = streams
        .iter()
        .flatten()
        .map(|per_step| 2.0 * 4.0 * (256.0 * per_step).min(NOISE_CHUNK.max(*per_step)))
        .sum();
    let ridge: f64 = match spec.solver {
        Some(super::config::SolverKind::Ridge) => s
            .windows(2)
            .skip(1)
            .map(|w| 3.0 * 8.0 * (w[1] * w[1] + (w[0] + 1.0) * w[1]))
            .sum(),
        _ => 0.0,
    };
    let latent = match exp.task {
        Task::Autoencode => 2.0 * 4.0 * n_test * s.iter().copied().fold(f64::MAX, f64::min),
        _ => 0.0,
    };
    noise
        + ridge
        + latent
        + 8.0 * n_train // the epoch's permutation (int64)
        + 4.0 * 8.0 * params // W, B, gradients, updates, Adam's moments, temporaries
        + 4.0 * 6.0 * t * widths // one step's traces
        + 4.0 * 4.0 * EVAL_CHUNK * widths // one evaluation chunk's traces
}

/// Refuse programs that would not fit in this machine's memory (CPU only: the CUDA
/// allocator reports its own errors).
pub fn check(
    exp: &Experiment,
    programs: &[Group],
    device: Device,
    n_train: i64,
    n_test: i64,
) -> Result<()> {
    let Some(available) = available_bytes().filter(|_| device == Device::Cpu) else {
        return Ok(());
    };
    for g in programs {
        let per_member = member_bytes(exp, g, n_train as f64, n_test as f64);
        let need = per_member * g.members.len() as f64;
        if need > 0.8 * available && g.members.len() == 1 {
            bail!(
                "runs[{}] ({}, one run) needs about {:.1} GiB, but this machine has {:.1} GiB \
                 available: lower training.batch_size ({}) or the network's sizes, or run it on \
                 a machine with more memory",
                g.spec_index,
                g.spec.rule.name(),
                need / GIB,
                available / GIB,
                exp.training.batch_size
            );
        }
        if need > 0.8 * available {
            let fits = ((0.5 * available / per_member).floor() as usize).max(1);
            bail!(
                "runs[{}] ({}, {} runs in one batched program) needs about {:.1} GiB, but this \
                 machine has {:.1} GiB available. Set `training.max_members: {fits}` (or fewer) \
                 to split it into smaller programs, and spread them over processes or machines \
                 with `credit run --shard i/N` (or `--jobs K`, `credit submit`)",
                g.spec_index,
                g.spec.rule.name(),
                g.members.len(),
                need / GIB,
                available / GIB
            );
        }
    }
    Ok(())
}

const GIB: f64 = (1u64 << 30) as f64;

/// MemAvailable from /proc/meminfo, in bytes (Linux).
fn available_bytes() -> Option<f64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}
