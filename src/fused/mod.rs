//! The fused CPU engine: the MLP step written by hand over row-major slices, for the
//! programs where libtorch's per-call overhead dominates (Fig. 2, Fig. 4, theory, their
//! searches). One struct holds a program (`Trainer`), one a run (`member::Member`); a step is
//! a few calls: gather, forward, noisy pass, error signals, fit, update.
//!
//! It covers the classify and teacher tasks (W trained or fixed), every rule of
//! `rules::Rule` that the torch engine has for them (bp, fa, dfa, np, np_dfa, matched, sg), both
//! feedback solvers, warm-up, `w_init` and `b_init`, `perturb_bias`, the "+noise" controls and
//! plain SGD on the squared error. The autoencoder (input noise, Adam), Adam anywhere, the
//! cross-entropy losses, the peers' rules (usf, brsf, frsf, kp, wm) and CUDA stay on the torch
//! engine; `check` names the field that sends a config there.
pub mod data;
pub mod first_layer;
pub mod linalg;
pub mod member;
pub mod noise;
pub mod sigmoid;
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
    if !exp.training.loss.is_default() || !exp.training.loss_reduction.is_default() {
        bail!("training.loss: the fused engine has the squared error summed over the batch only; use --engine torch or auto for the cross-entropies and mean reduction");
    }
    if spec.input_noise.is_some() {
        bail!("runs[{k}].input_noise is not on the fused engine; use --engine torch or auto");
    }
    let supported = matches!(
        spec.rule,
        Rule::Bp | Rule::Fa | Rule::Dfa | Rule::Np | Rule::NpDfa | Rule::Matched | Rule::Sg
    );
    if !supported {
        bail!(
            "runs[{k}].rule: {} is not on the fused engine yet; use --engine torch or auto",
            spec.rule.name()
        );
    }
    Ok(())
}
