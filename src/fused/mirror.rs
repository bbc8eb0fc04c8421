//! The weight mirror on the fused engine (rules/wm.rs has the maths and the modes). Mirror
//! step k draws X for every layer i = 2..N+1 from (seed, `Stream::Mirror`, k), N_m × n_{i-1}
//! each, back to back as the torch engine lays them out, and moves the non-bias rows of B^i:
//!
//! - decay: X = σ_m Z, B^i[:n] ← (1−λ_m) B^i[:n] + (η_m/N_m) Xᵀ (X W^i[:n]);
//! - akrout: X = 0.1 (U − 0.5), B^i[:n] += 0.01 Xᵀ σ_i(aug(X) W^i).
use super::linalg::{self, rm, tr};
use super::member::Plan;
use crate::rng::Dist;
use crate::rules::wm::{Settings, AKROUT_LR, AKROUT_SCALE};

/// A program's mirror: its settings, N_m and the mirror steps before training.
pub struct Mirror {
    pub settings: Settings,
    /// N_m
    pub batch: usize,
    /// Training step t runs mirror step warmup + t.
    pub warmup: u64,
}

impl Mirror {
    /// Normals for decay, uniforms for akrout.
    pub fn dist(&self) -> Dist {
        match self.settings {
            Settings::Decay { .. } => Dist::Normal,
            Settings::Akrout => Dist::Uniform,
        }
    }

    /// Draws per mirror step: N_m Σ_i n_{i-1}, i = 2..N+1.
    pub fn draws_per_step(&self, p: &Plan) -> usize {
        self.batch * p.sizes[1..p.depth()].iter().sum::<usize>()
    }
}

/// One member's buffers for a mirror step.
pub struct Scratch {
    /// The step's draws, turned into X in place: [N_m × n_{i-1}] per layer, back to back.
    pub z: Vec<f32>,
    /// aug(X) (akrout): [N_m × (n_{i-1}+1)].
    x_aug: Vec<f32>,
    /// X W (pre-activation) and Y: [N_m × n_i].
    a: Vec<f32>,
    y: Vec<f32>,
}

impl Scratch {
    /// Sized for `p`'s mirror; empty where the rule has none.
    pub fn new(p: &Plan) -> Self {
        let Some(m) = &p.mirror else {
            return Self {
                z: Vec::new(),
                x_aug: Vec::new(),
                a: Vec::new(),
                y: Vec::new(),
            };
        };
        let widest = p.sizes.iter().max().copied().unwrap_or(0) + 1;
        Self {
            z: vec![0.0; m.draws_per_step(p)],
            x_aug: vec![0.0; m.batch * widest],
            a: vec![0.0; m.batch * widest],
            y: vec![0.0; m.batch * widest],
        }
    }
}

/// One mirror step on b[i-2] = B^i, i = 2..N+1, with w[i-1] = W^i; `s.z` holds the step's
/// draws on entry.
pub fn step(p: &Plan, m: &Mirror, w: &[Vec<f32>], b: &mut [Vec<f32>], s: &mut Scratch) {
    let nm = m.batch;
    let mut z: &mut [f32] = &mut s.z;
    for i in 2..=p.depth() {
        let (n, c) = (p.sizes[i - 1], p.sizes[i]);
        let (x, rest) = std::mem::take(&mut z).split_at_mut(nm * n);
        z = rest;
        let (b_rows, y) = (&mut b[i - 2][..n * c], &mut s.y[..nm * c]);
        let lr = match m.settings {
            Settings::Decay { lr, sigma, decay } => {
                x.iter_mut().for_each(|x| *x *= sigma as f32);
                // Y = X W^i[:n]: the bias row is not read.
                linalg::gemm((nm, n, c), 1.0, x, rm(n), &w[i - 1], rm(c), 0.0, y, c);
                super::follow::decay(b_rows, decay);
                lr / nm as f64
            }
            Settings::Akrout => {
                x.iter_mut()
                    .for_each(|x| *x = (*x - 0.5) * AKROUT_SCALE as f32);
                let (x_aug, a) = (&mut s.x_aug[..nm * (n + 1)], &mut s.a[..nm * c]);
                super::member::aug_into(x, n, x_aug);
                linalg::gemm(
                    (nm, n + 1, c),
                    1.0,
                    x_aug,
                    rm(n + 1),
                    &w[i - 1],
                    rm(c),
                    0.0,
                    a,
                    c,
                );
                linalg::activate(p.act[i - 1], a, y);
                AKROUT_LR
            }
        };
        // B^i[:n] += lr Xᵀ Y
        linalg::gemm((n, nm, c), lr as f32, x, tr(n), y, rm(c), 1.0, b_rows, c);
    }
}
