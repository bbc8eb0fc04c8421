//! Weight mirror (Akrout et al. 2019, "Deep learning without weight transport"): B learns W
//! from the layer's response to its own noise. Per mirror step and layer i ≥ 2, X of shape
//! N_m × n_{i-1}:
//!
//! - `decay` (the paper): X ~ N(0, σ_m²), Y = X W^i[:n_{i-1}],
//!   B^i[:n_{i-1}] ← (1−λ_m) B^i[:n_{i-1}] + (η_m/N_m) Xᵀ Y. In expectation B → (η_m σ_m²/λ_m) W.
//! - `akrout` (their code): X = 0.1 (U[0,1) − 0.5), Y = σ_i(aug(X) W^i) (the layer's own
//!   activation and bias; sigmoid in their nets), B^i[:n_{i-1}] += 0.01 Xᵀ Y, no decay.
//!
//! The mirror steps run after every training step; `mirror_warmup` more run before the first.
//! Mirror step k draws X from (seed, `Stream::Mirror`, k), so nothing but B is state.
use crate::mlp::config::RunSpec;
use crate::nets::mlp::{aug, Mlp};
use crate::rng::{Dist, NoiseStream, Stream};
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MirrorKind {
    Decay,
    Akrout,
}

/// Akrout et al.'s code: X = 0.1 (U − 0.5), B += 0.01 Xᵀ Y, 128 samples per mirror step.
pub const AKROUT_SCALE: f64 = 0.1;
pub const AKROUT_LR: f64 = 0.01;
pub const AKROUT_BATCH: i64 = 128;

/// One mirror step's settings.
#[derive(Clone, Copy, Debug)]
pub enum Settings {
    /// η_m, σ_m, λ_m.
    Decay {
        lr: f64,
        sigma: f64,
        decay: f64,
    },
    Akrout,
}

/// A run's mirror settings, N_m and warm-up (mirror steps before training) from its
/// config entry, with the defaults: N_m = 128; ⌊n_train/N_m⌋ warm-up steps for akrout (their
/// code's one pass), none for decay.
pub fn resolve(spec: &RunSpec, n_train: i64) -> (Settings, i64, u64) {
    let batch = spec.mirror_batch.unwrap_or(AKROUT_BATCH);
    let (settings, warmup) = match spec.mirror {
        Some(MirrorKind::Decay) => (
            Settings::Decay {
                lr: spec.mirror_lr.unwrap_or_default(),
                sigma: spec.mirror_sigma.unwrap_or_default(),
                decay: spec.mirror_decay.unwrap_or_default(),
            },
            0,
        ),
        _ => (Settings::Akrout, (n_train / batch) as u64),
    };
    (settings, batch, spec.mirror_warmup.unwrap_or(warmup))
}

/// Decay mode on one layer: b_rows ← (1−λ) b_rows + (η/N) Xᵀ (X w_rows).
/// b_rows, w_rows: [M, n_{i-1}, n_i]; x: [M, N, n_{i-1}].
pub fn decay_step(b_rows: &mut Tensor, w_rows: &Tensor, x: &Tensor, lr: f64, decay: f64) {
    let n = x.size()[1] as f64;
    let y = x.bmm(w_rows); // [M, N, n_i]
    let _ = b_rows.g_mul_scalar_(1.0 - decay);
    let _ = b_rows.baddbmm_(&(x.transpose(1, 2) * (lr / n)), &y);
}

/// Akrout mode on one layer: b_rows += η Xᵀ σ(aug(X) W). w: [M, n_{i-1}+1, n_i].
pub fn akrout_step(
    b_rows: &mut Tensor,
    w: &Tensor,
    x: &Tensor,
    act: crate::nets::activation::Activation,
) {
    let y = act.forward(&aug(x).bmm(w)); // [M, N, n_i]
    let _ = b_rows.baddbmm_(&(x.transpose(1, 2) * AKROUT_LR), &y);
}

/// The mirror's draws and settings.
pub struct Mirror {
    settings: Settings,
    /// N_m.
    batch: i64,
    /// Mirror steps before training: training step t runs mirror step warmup + t.
    pub warmup: u64,
    /// n_{i-1} for i = 2..N+1.
    cols: Vec<i64>,
    stream: NoiseStream,
}

impl Mirror {
    pub fn new(
        settings: Settings,
        batch: i64,
        warmup: u64,
        sizes: &[i64],
        seeds: &[u64],
        device: Device,
    ) -> Self {
        let cols = sizes[1..sizes.len() - 1].to_vec();
        let per_step = batch * cols.iter().sum::<i64>();
        let dist = match settings {
            Settings::Decay { .. } => Dist::Normal,
            Settings::Akrout => Dist::Uniform,
        };
        let stream = NoiseStream::of(seeds, Stream::Mirror, per_step, dist, device);
        Self {
            settings,
            batch,
            warmup,
            cols,
            stream,
        }
    }

    /// Mirror step `k` on every B^i, i = 2..N+1 (b[i-2]).
    pub fn step(&mut self, net: &Mlp, b: &mut [Tensor], k: u64) {
        let z = self.stream.at(k); // [M, N_m Σ n_{i-1}]
        let mut offset = 0;
        for (j, &n) in self.cols.iter().enumerate() {
            let len = self.batch * n;
            let z_i = z.narrow(1, offset, len).view([-1, self.batch, n]);
            offset += len;
            let w = &net.w[j + 1]; // W^{j+2}
            let mut b_rows = b[j].narrow(1, 0, n);
            match self.settings {
                Settings::Decay { lr, sigma, decay } => {
                    decay_step(&mut b_rows, &w.narrow(1, 0, n), &(z_i * sigma), lr, decay)
                }
                Settings::Akrout => {
                    let x = (z_i - 0.5) * AKROUT_SCALE;
                    akrout_step(&mut b_rows, w, &x, net.act[j + 1])
                }
            }
        }
    }

    /// The mirror steps before training: 0..warmup.
    pub fn warm_up(&mut self, net: &Mlp, b: &mut [Tensor]) {
        for k in 0..self.warmup {
            self.step(net, b, k);
        }
    }
}
