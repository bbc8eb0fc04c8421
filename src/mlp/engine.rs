//! The seam between the run loop and the engines that train a program: `torch` (libtorch,
//! any device, every config) and `fused` (the hand-written CPU step of `crate::fused`).
//! The run loop, checkpoints and logs call `Engine` and never ask which one runs.
//!
//! The two engines draw different noise, so a run belongs to the engine that started it: its
//! checkpoint and summary.json record the engine, and `ensure_same` refuses the other.
use super::config::Experiment;
use super::sweep::Group;
use super::tasks::TaskData;
use super::trainer::Trainer;
use crate::checkpoint::State;
use crate::metrics::Measured;
use crate::nets::mlp::Mlp;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use tch::{Device, Kind, Tensor};

/// `--engine`, for the whole process (like `--threads`): it overrides `training.engine` and
/// travels to the processes of `--jobs` and Slurm's array tasks.
static COMMAND_LINE: Mutex<Option<EngineChoice>> = Mutex::new(None);

pub fn set_command_line(choice: Option<EngineChoice>) {
    *COMMAND_LINE.lock().unwrap_or_else(|p| p.into_inner()) = choice;
}

pub fn command_line() -> Option<EngineChoice> {
    *COMMAND_LINE.lock().unwrap_or_else(|p| p.into_inner())
}

/// `training.engine` and `--engine`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum EngineChoice {
    /// fused on the CPU for every config it supports, torch otherwise.
    #[default]
    Auto,
    Fused,
    Torch,
}

/// The engine that trains one program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineKind {
    Torch,
    Fused,
}

impl EngineChoice {
    pub fn name(self) -> &'static str {
        match self {
            EngineChoice::Auto => "auto",
            EngineChoice::Fused => "fused",
            EngineChoice::Torch => "torch",
        }
    }
}

impl EngineKind {
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Torch => "torch",
            EngineKind::Fused => "fused",
        }
    }

    /// Which engine `choice` gives `group` on `device`. `fused` on a config it cannot train
    /// is an error naming the field, never a silent fallback.
    pub fn choose(
        choice: EngineChoice,
        exp: &Experiment,
        group: &Group,
        device: Device,
    ) -> Result<Self> {
        match choice {
            EngineChoice::Torch => Ok(EngineKind::Torch),
            EngineChoice::Fused => {
                crate::fused::check(exp, group, device)?;
                Ok(EngineKind::Fused)
            }
            EngineChoice::Auto => Ok(match crate::fused::check(exp, group, device) {
                Ok(()) => EngineKind::Fused,
                Err(_) => EngineKind::Torch,
            }),
        }
    }

    /// Refuse to continue, in one folder, a run that `written` by another engine started.
    /// `what` names the run or checkpoint. Files of before engines were recorded are torch's.
    pub fn ensure_same(self, written: Option<&str>, what: &str) -> Result<()> {
        let written = written.unwrap_or("torch");
        if written != self.name() {
            bail!(
                "{what} was written by the {written} engine, and this run uses the {} engine: the \
                 two draw different noise, so one run cannot mix them. Rerun with --engine \
                 {written} to continue it, or with --fresh to start over",
                self.name()
            );
        }
        Ok(())
    }
}

/// A program's trainer, on one engine.
pub enum Engine {
    Torch(Box<Trainer>),
    Fused(Box<crate::fused::Trainer>),
}

impl Engine {
    pub fn new(
        kind: EngineKind,
        exp: &Experiment,
        group: &Group,
        data: &TaskData,
        device: Device,
    ) -> Result<Self> {
        Ok(match kind {
            EngineKind::Torch => Engine::Torch(Box::new(Trainer::new(
                exp,
                group,
                data.train_len(),
                device,
            )?)),
            EngineKind::Fused => {
                let threads = crate::device::cpu_threads_for(group.members.len());
                Engine::Fused(Box::new(crate::fused::Trainer::new(
                    exp, group, data, threads,
                )?))
            }
        })
    }

    /// `fused (2 threads)`, `torch`: for the log.
    pub fn describe(&self) -> String {
        match self {
            Engine::Torch(_) => "torch".into(),
            Engine::Fused(f) => format!(
                "fused ({} threads; inputs {:.0}% non-zero, {} first layer)",
                f.threads(),
                100.0 * f.input_density(),
                if f.sparse_inputs() { "sparse" } else { "dense" }
            ),
        }
    }

    pub fn kind(&self) -> EngineKind {
        match self {
            Engine::Torch(_) => EngineKind::Torch,
            Engine::Fused(_) => EngineKind::Fused,
        }
    }

    /// The next step to run.
    pub fn iteration(&self) -> u64 {
        match self {
            Engine::Torch(t) => t.iteration,
            Engine::Fused(f) => f.iteration,
        }
    }

    /// One step; with `measure`, the alignment metrics of its batch before its updates.
    pub fn step(&mut self, data: &TaskData, measure: bool) -> Result<Vec<Measured>> {
        match self {
            Engine::Torch(t) => Ok(t.step(data, measure)),
            Engine::Fused(f) => f.step(measure),
        }
    }

    /// Steps up to `until` with no metrics. The torch engine stops early when a signal
    /// arrives (its steps can be slow); the fused one runs the whole stretch.
    pub fn advance(&mut self, data: &TaskData, until: u64) {
        match self {
            Engine::Torch(t) => {
                while t.iteration < until && crate::signals::received().is_none() {
                    t.step(data, false);
                }
            }
            Engine::Fused(f) => f.advance(until),
        }
    }

    /// The alignment metrics on the next batch, with no update (the final ones).
    pub fn measure(&mut self, data: &TaskData) -> Result<Vec<Measured>> {
        match self {
            Engine::Torch(t) => Ok(t.measure(data)),
            Engine::Fused(f) => f.measure(),
        }
    }

    /// Each member's mean batch loss since the last call, or None if no step ran.
    pub fn take_train_loss(&mut self) -> Result<Option<Vec<f64>>> {
        match self {
            Engine::Torch(t) => t
                .take_train_loss()
                .map(|l| Ok(Vec::<f64>::try_from(l.to_kind(Kind::Double))?))
                .transpose(),
            Engine::Fused(f) => Ok(f.take_train_loss()),
        }
    }

    /// The network (evaluation and the latent code read it).
    pub fn net(&self) -> Mlp {
        match self {
            Engine::Torch(t) => Mlp {
                sizes: t.net.sizes.clone(),
                act: t.net.act.clone(),
                w: t.net.w.iter().map(Tensor::shallow_clone).collect(),
                loss: t.net.loss,
                reduction: t.net.reduction,
            },
            Engine::Fused(f) => f.net(),
        }
    }

    /// σ per member: [M, 1, 1].
    pub fn sigma(&self) -> Tensor {
        match self {
            Engine::Torch(t) => t.sigma.shallow_clone(),
            Engine::Fused(f) => f.sigma(),
        }
    }

    pub fn save(&mut self) -> Vec<(String, Tensor)> {
        match self {
            Engine::Torch(t) => t.save(),
            Engine::Fused(f) => f.save(),
        }
    }

    pub fn load(&mut self, state: &State) -> Result<()> {
        match self {
            Engine::Torch(t) => t.load(state),
            Engine::Fused(f) => f.load(state),
        }
    }
}
