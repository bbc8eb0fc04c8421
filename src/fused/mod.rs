//! The fused CPU engine: the MLP step written by hand over row-major slices, for the
//! programs where libtorch's per-call overhead dominates (Fig. 2, Fig. 4, theory, the peers'
//! benchmarks, their searches). One struct holds a program (`Trainer`), one a run
//! (`member::Member`); a step is a few calls: sign symmetry's B, gather, forward, noisy pass,
//! error signals, fit, update, mirror.
//!
//! It covers the classify and teacher tasks (W trained or fixed), every rule of
//! `rules::Rule` (bp, fa, dfa, np, np_dfa, matched, sg, and the peers' usf, brsf, frsf, kp,
//! wm: `sign.rs`, `follow.rs`, `mirror.rs`), both feedback solvers, warm-up, `w_init` and
//! `b_init`, `perturb_bias`, the "+noise" controls, every loss and reduction (`loss.rs`) and
//! plain SGD. The autoencoder (input noise), Adam and CUDA stay on the torch engine;
//! `check` names the field that sends a config there. Dense inputs (CIFAR) take the dense
//! first layer, sparse ones (MNIST) the sparse one (`data.rs`).
pub mod blocks;
pub mod box_muller;
pub mod data;
pub mod first_layer;
pub mod follow;
pub mod linalg;
pub mod loss;
pub mod member;
pub mod mirror;
pub mod noise;
pub mod sigmoid;
pub mod sign;
pub mod small;
pub mod trainer;

pub use trainer::Trainer;

use crate::mlp::config::{Experiment, Task};
use crate::mlp::sweep::Group;
use crate::optim::OptimizerKind;
use crate::rules::Rule;
use anyhow::{bail, Result};
use tch::Device;

/// Whether the fused engine can train `group` on `device`; the error names the field.
pub fn check(exp: &Experiment, group: &Group, device: Device) -> Result<()> {
    let (k, spec) = (group.spec_index, &group.spec);
    if device != Device::Cpu {
        bail!("the fused engine runs on the CPU only (this run is on {}); use --device cpu, or --engine torch", crate::device::name(device));
    }
    if exp.task == Task::Autoencode {
        bail!("task: autoencode is not on the fused engine (classify and teacher are); use --engine torch or auto");
    }
    if spec.optimizer != OptimizerKind::Sgd {
        bail!("runs[{k}].optimizer: the fused engine trains with sgd only; use --engine torch or auto for adam");
    }
    if spec.input_noise.is_some() {
        bail!("runs[{k}].input_noise is not on the fused engine; use --engine torch or auto");
    }
    // Every rule has its step here; a new rule fails to build until it is written here too
    // (and tested in tests/engines.rs) or refused by name.
    match spec.rule {
        Rule::Bp | Rule::Fa | Rule::Dfa | Rule::Np | Rule::NpDfa | Rule::Matched | Rule::Sg => {}
        Rule::Usf | Rule::Brsf | Rule::Frsf | Rule::Kp | Rule::Wm => {}
    }
    Ok(())
}
