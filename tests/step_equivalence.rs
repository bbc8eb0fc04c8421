//! The batched engine's training step against a plain, per-sample, float64 reference of the
//! same step, written here from ALGORITHMS.md and sharing no code with the crate's nets, rules
//! or feedback. Both start from the engine's initial W and B (`Trainer::save`) and see the same
//! batches and noise (regenerated from the crate's public `streams`/`rng`); after hundreds of
//! steps their W and B must agree to rounding.
//!
//! Tolerance. The engine runs in f32 (ridge sums in f64), the reference in f64. One f32 step
//! rounds at about 6e-8 relative; the dynamics are stable (small η), so the difference grows
//! slowly. NP adds one amplifier: ΔL = L̃ − L is a difference of two f32 losses, so its relative
//! error is about 6e-8 · L / |ΔL|, larger than one op's but still ≪ 1e-3 at σ = 0.05. We allow
//! a relative Frobenius error of 2e-5 per matrix: observed at most 1.9e-6 after 300 steps (B^2
//! of np; W about 1e-6; fa and bp 7e-7; printed with --nocapture), and 10× that leaves room for
//! other BLAS builds. The guards below show that real differences in the algorithm land far
//! above it: even γ 0.11 for 0.1 gives 6e-4, and Λ̂/σ or the wrong regressor give ≥ 1e-1.
// The reference is deliberately plain: explicit index loops over samples, rows and columns.
#![allow(clippy::needless_range_loop)]
mod common;
use credit_assign::fused;
use credit_assign::mlp::engine::{Engine, EngineKind};
use credit_assign::mlp::streams::{DataOrder, DataOrderKind};
use credit_assign::mlp::{sweep, tasks};
use credit_assign::rng::{NoiseStream, Stream};
use std::path::Path;
use tch::{Device, Kind, Tensor};

const STEPS: u64 = 300;
const TOL: f64 = 2e-5;

/// A teacher task, 3 weight layers (two fitted B), sigmoid and tanh hidden units.
fn config(run: &str) -> String {
    format!(
        "experiment: step-equivalence\ntask: teacher\n\
         data: {{ dataset: gaussian, train_size: 200, test_size: 20 }}\n\
         network: {{ sizes: [20, 12, 8, 5], activations: [sigmoid, tanh, identity] }}\n\
         training: {{ iterations: {STEPS}, batch_size: 16, log_every: {STEPS}, eval_every: {STEPS}, seeds: [3, 11] }}\n\
         runs:\n  - {run}\n"
    )
}

// ---------------------------------------------------------------------------------------------
// The reference: row-major f64 matrices and per-sample loops.

#[derive(Clone, Debug)]
struct Mat {
    rows: usize,
    cols: usize,
    d: Vec<f64>,
}

impl Mat {
    fn zeros(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            d: vec![0.0; rows * cols],
        }
    }
    fn at(&self, r: usize, c: usize) -> f64 {
        self.d[r * self.cols + c]
    }
    fn add(&mut self, r: usize, c: usize, v: f64) {
        self.d[r * self.cols + c] += v;
    }
    fn from_tensor(t: &Tensor) -> Self {
        let s = t.size();
        let (rows, cols) = (s[s.len() - 2] as usize, s[s.len() - 1] as usize);
        let d = Vec::<f64>::try_from(t.to_kind(Kind::Double).reshape([-1])).unwrap();
        assert_eq!(d.len(), rows * cols);
        Self { rows, cols, d }
    }
    /// ||self − other||_F / ||other||_F
    fn rel_err(&self, other: &Mat) -> f64 {
        let diff: f64 = self
            .d
            .iter()
            .zip(&other.d)
            .map(|(a, b)| (a - b).powi(2))
            .sum();
        let norm: f64 = other.d.iter().map(|b| b * b).sum();
        (diff / norm).sqrt()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Act {
    Sigmoid,
    Tanh,
    Identity,
}

impl Act {
    fn f(self, a: f64) -> f64 {
        match self {
            Act::Sigmoid => 1.0 / (1.0 + (-a).exp()),
            Act::Tanh => a.tanh(),
            Act::Identity => a,
        }
    }
    /// σ'(a) from h = σ(a).
    fn df(self, h: f64) -> f64 {
        match self {
            Act::Sigmoid => h * (1.0 - h),
            Act::Tanh => 1.0 - h * h,
            Act::Identity => 1.0,
        }
    }
}

const ACTS: [Act; 3] = [Act::Sigmoid, Act::Tanh, Act::Identity];

#[derive(Clone, Copy, PartialEq)]
enum RuleRef {
    Bp,
    Fa,
    NpRidge,
    NpSgd,
}

/// Deliberate mistakes, to show that the comparison can fail.
#[derive(Clone, Copy, PartialEq)]
enum Bug {
    None,
    /// Λ̂ = Ξ ΔL / σ instead of / σ².
    SigmaNotSquared,
    /// The lower B regressed on the true error E instead of the synthetic Ẽ.
    TrueRegressor,
    /// The ridge's γ is 0.11 instead of 0.1.
    Gamma,
}

struct Reference {
    rule: RuleRef,
    bug: Bug,
    /// w[i-1] = W^i: (n_{i-1}+1) × n_i; b[i-2] = B^i for i ≥ 2.
    w: Vec<Mat>,
    b: Vec<Mat>,
    /// Ridge sums per fitted B^{i+1}: V (n_{i+1} × n_{i+1}) and S ((n_i+1) × n_{i+1}).
    v: Vec<Mat>,
    s: Vec<Mat>,
    sizes: Vec<usize>,
    sigma: f64,
    lr: f64,
    lr_b: f64,
    warmup: u64,
}

/// One sample's forward pass: aug(H^i) for i = 0..N and H^i for i = 1..N+1. `xi[i-1]` is added
/// to aug(H^i) of hidden layer i.
fn forward(w: &[Mat], x: &[f64], xi: Option<&[Vec<f64>]>) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let n = w.len();
    let mut h_aug = vec![[x, &[1.0]].concat()];
    let mut h = Vec::new();
    for i in 1..=n {
        let wi = &w[i - 1];
        let below = &h_aug[i - 1];
        let out: Vec<f64> = (0..wi.cols)
            .map(|k| ACTS[i - 1].f((0..wi.rows).map(|j| below[j] * wi.at(j, k)).sum()))
            .collect();
        if i < n {
            let mut a = [out.as_slice(), &[1.0]].concat();
            if let Some(xi) = xi {
                for (a, z) in a.iter_mut().zip(&xi[i - 1]) {
                    *a += z;
                }
            }
            h_aug.push(a);
        }
        h.push(out);
    }
    (h_aug, h)
}

fn half_sq(y_hat: &[f64], y: &[f64]) -> f64 {
    0.5 * y_hat
        .iter()
        .zip(y)
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
}

/// Errors e[i-1] for i = 1..N+1, sent down through `f[i-2]` (W^i or B^i), without the bias row.
fn errors(f: &[Mat], h: &[Vec<f64>], e_out: Vec<f64>) -> Vec<Vec<f64>> {
    let n = h.len();
    let mut e = vec![e_out];
    for i in (1..n).rev() {
        let above = e.last().unwrap();
        let fi = &f[i - 1]; // F^{i+1}
        let down: Vec<f64> = (0..h[i - 1].len())
            .map(|j| {
                let s: f64 = (0..fi.cols).map(|k| above[k] * fi.at(j, k)).sum();
                s * ACTS[i - 1].df(h[i - 1][j])
            })
            .collect();
        e.push(down);
    }
    e.reverse();
    e
}

/// Solve B V = S for B (V symmetric positive definite) by Cholesky, row by row.
fn ridge_solve(v: &Mat, s: &Mat) -> Mat {
    let n = v.rows;
    let mut l = Mat::zeros(n, n);
    for i in 0..n {
        for j in 0..=i {
            let dot: f64 = (0..j).map(|k| l.at(i, k) * l.at(j, k)).sum();
            let val = if i == j {
                (v.at(i, i) - dot).sqrt()
            } else {
                (v.at(i, j) - dot) / l.at(j, j)
            };
            l.d[i * n + j] = val;
        }
    }
    let mut b = Mat::zeros(s.rows, n);
    for r in 0..s.rows {
        // V bᵀ = sᵀ: L z = sᵀ, then Lᵀ bᵀ = z.
        let mut z = vec![0.0; n];
        for i in 0..n {
            z[i] = (s.at(r, i) - (0..i).map(|k| l.at(i, k) * z[k]).sum::<f64>()) / l.at(i, i);
        }
        for i in (0..n).rev() {
            let rest: f64 = (i + 1..n).map(|k| l.at(k, i) * b.at(r, k)).sum();
            b.d[r * n + i] = (z[i] - rest) / l.at(i, i);
        }
    }
    b
}

impl Reference {
    /// One step on the batch (xs, ys); xi[t][i-1] is sample t's noise Ξ^i (already × σ).
    fn step(&mut self, step: u64, xs: &[Vec<f64>], ys: &[Vec<f64>], xi: &[Vec<Vec<f64>>]) {
        let n = self.w.len();
        let mut grad_w: Vec<Mat> = self.w.iter().map(|w| Mat::zeros(w.rows, w.cols)).collect();
        let mut grad_b: Vec<Mat> = self.b.iter().map(|b| Mat::zeros(b.rows, b.cols)).collect();
        for t in 0..xs.len() {
            let (h_aug, h) = forward(&self.w, &xs[t], None);
            let y_hat = &h[n - 1];
            let e_out: Vec<f64> = y_hat.iter().zip(&ys[t]).map(|(a, b)| a - b).collect();
            let e = match self.rule {
                RuleRef::Bp => errors(&self.w[1..], &h, e_out.clone()),
                _ => errors(&self.b, &h, e_out.clone()),
            };
            for i in 1..=n {
                for j in 0..h_aug[i - 1].len() {
                    for k in 0..e[i - 1].len() {
                        grad_w[i - 1].add(j, k, h_aug[i - 1][j] * e[i - 1][k]);
                    }
                }
            }
            if matches!(self.rule, RuleRef::NpRidge | RuleRef::NpSgd) {
                let loss = half_sq(y_hat, &ys[t]);
                let (_, h_noisy) = forward(&self.w, &xs[t], Some(&xi[t]));
                let delta_l = half_sq(&h_noisy[n - 1], &ys[t]) - loss;
                let div = match self.bug {
                    Bug::SigmaNotSquared => self.sigma,
                    _ => self.sigma * self.sigma,
                };
                let e_true = errors(&self.w[1..], &h, e_out.clone());
                for i in 1..n {
                    // Fit B^{i+1}: regressor r = Ẽ^{i+1}, target λ = Ξ^i ΔL / σ².
                    let r = if self.bug == Bug::TrueRegressor && i + 1 < n {
                        &e_true[i]
                    } else {
                        &e[i]
                    };
                    let lambda: Vec<f64> = xi[t][i - 1].iter().map(|z| z * delta_l / div).collect();
                    let (v, s, b, gb) = (
                        &mut self.v[i - 1],
                        &mut self.s[i - 1],
                        &self.b[i - 1],
                        &mut grad_b[i - 1],
                    );
                    for p in 0..r.len() {
                        for q in 0..r.len() {
                            v.add(p, q, r[p] * r[q]);
                        }
                    }
                    for row in 0..lambda.len() {
                        let pred: f64 = (0..r.len()).map(|k| b.at(row, k) * r[k]).sum();
                        for k in 0..r.len() {
                            s.add(row, k, lambda[row] * r[k]);
                            gb.add(row, k, (pred - lambda[row]) * r[k]);
                        }
                    }
                }
            }
        }
        match self.rule {
            RuleRef::NpRidge => {
                for k in 0..self.b.len() {
                    self.b[k] = ridge_solve(&self.v[k], &self.s[k]);
                }
            }
            RuleRef::NpSgd => {
                for (b, g) in self.b.iter_mut().zip(&grad_b) {
                    b.d.iter_mut()
                        .zip(&g.d)
                        .for_each(|(b, g)| *b -= self.lr_b * g);
                }
            }
            _ => {}
        }
        if step >= self.warmup {
            for (w, g) in self.w.iter_mut().zip(&grad_w) {
                w.d.iter_mut()
                    .zip(&g.d)
                    .for_each(|(w, g)| *w -= self.lr * g);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Driving both.

/// Member m's state out of a trainer: (W, B).
fn state(trainer: &mut Engine, m: i64) -> (Vec<Mat>, Vec<Mat>) {
    let saved = trainer.save();
    let pick = |prefix: &str| -> Vec<Mat> {
        (0..)
            .map_while(|k| {
                let name = format!("{prefix}.{k}");
                saved
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, t)| Mat::from_tensor(&t.get(m)))
            })
            .collect()
    };
    (pick("w"), pick("b"))
}

fn rows(t: &Tensor) -> Vec<Vec<f64>> {
    let m = Mat::from_tensor(t);
    m.d.chunks(m.cols).map(<[f64]>::to_vec).collect()
}

/// A member's unit normals of step k, as the engine draws them: [T · Σ c_i].
enum Normals {
    /// The torch engine's: libtorch's generator, in chunks of steps.
    Torch(NoiseStream),
    /// The fused engine's: counter-keyed by (seed, stream, step).
    Fused { seed: u64, len: usize },
}

impl Normals {
    fn at(&mut self, step: u64) -> Vec<f64> {
        match self {
            Normals::Torch(s) => {
                Vec::<f64>::try_from(s.at(step).to_kind(Kind::Double).reshape([-1])).unwrap()
            }
            Normals::Fused { seed, len } => {
                let mut z = vec![0.0f32; *len];
                fused::noise::fill(*seed, Stream::Noise, step, &mut z);
                z.into_iter().map(f64::from).collect()
            }
        }
    }
}

/// Train the torch engine and the reference side by side for STEPS steps; return the
/// largest relative error of any W or B, over both members.
fn compare(run: &str, rule: RuleRef, bug: Bug) -> f64 {
    compare_on(EngineKind::Torch, run, rule, bug)
}

/// As `compare`, on either engine.
fn compare_on(engine: EngineKind, run: &str, rule: RuleRef, bug: Bug) -> f64 {
    let exp = common::experiment(&config(run));
    let group = &sweep::programs(&exp).unwrap()[0];
    assert_eq!(group.members.len(), 2, "both seeds in one batched program");
    let data = tasks::load(&exp, Path::new("data"), Device::Cpu).unwrap();
    let n_train = data.train_len();
    let (train_x, train_y) = (rows(&data.train_x), rows(data.train_y.as_ref().unwrap()));
    let mut trainer = Engine::new(engine, &exp, group, &data, Device::Cpu).unwrap();
    let sizes: Vec<usize> = group.sizes.iter().map(|&s| s as usize).collect();
    let t = exp.training.batch_size;
    let spec = &group.spec;
    // Noise as laid out per step: for each hidden layer i, T × (n_i + 1) unit normals.
    let cols: Vec<usize> = sizes[1..sizes.len() - 1].iter().map(|n| n + 1).collect();
    let per_step = cols.iter().sum::<usize>() as i64 * t;

    let mut refs: Vec<(Reference, DataOrder, Normals)> = group
        .members
        .iter()
        .enumerate()
        .map(|(m, member)| {
            let (w, b) = state(&mut trainer, m as i64);
            let fitted = &b;
            let gamma = if bug == Bug::Gamma { 0.11 } else { spec.gamma };
            let v = fitted
                .iter()
                .map(|b| {
                    let mut v = Mat::zeros(b.cols, b.cols);
                    (0..b.cols).for_each(|k| v.add(k, k, gamma));
                    v
                })
                .collect();
            let s = fitted.iter().map(|b| Mat::zeros(b.rows, b.cols)).collect();
            let reference = Reference {
                rule,
                bug,
                w,
                b,
                v,
                s,
                sizes: sizes.clone(),
                sigma: member.sigma,
                lr: member.lr,
                lr_b: member.lr_b,
                warmup: spec.warmup,
            };
            let seeds = [member.seed];
            let normals = match engine {
                EngineKind::Torch => Normals::Torch(NoiseStream::new(
                    &seeds,
                    Stream::Noise,
                    per_step,
                    Device::Cpu,
                )),
                EngineKind::Fused => Normals::Fused {
                    seed: member.seed,
                    len: per_step as usize,
                },
            };
            (
                reference,
                DataOrder::new(DataOrderKind::Epochs, &seeds, n_train, t, Device::Cpu),
                normals,
            )
        })
        .collect();

    for step in 0..STEPS {
        trainer.step(&data, false).unwrap();
        for (r, order, noise) in refs.iter_mut() {
            let idx = Vec::<i64>::try_from(order.batch(step).reshape([-1])).unwrap();
            let xs: Vec<Vec<f64>> = idx.iter().map(|&i| train_x[i as usize].clone()).collect();
            let ys: Vec<Vec<f64>> = idx.iter().map(|&i| train_y[i as usize].clone()).collect();
            let z = noise.at(step);
            // Sample s's Ξ^i: z[offset_i + s·c_i .. + c_i] · σ.
            let xi: Vec<Vec<Vec<f64>>> = (0..t as usize)
                .map(|s| {
                    let mut offset = 0;
                    cols.iter()
                        .map(|&c| {
                            let start = offset + s * c;
                            offset += t as usize * c;
                            z[start..start + c].iter().map(|v| v * r.sigma).collect()
                        })
                        .collect()
                })
                .collect();
            r.step(step, &xs, &ys, &xi);
        }
    }

    let mut worst: f64 = 0.0;
    for (m, (r, _, _)) in refs.iter().enumerate() {
        let (w, b) = state(&mut trainer, m as i64);
        assert_eq!(r.sizes, sizes);
        for (k, (ours, theirs)) in w.iter().zip(&r.w).enumerate() {
            worst = worst.max(report(run, m, &format!("W^{}", k + 1), ours, theirs));
        }
        for (k, (ours, theirs)) in b.iter().zip(&r.b).enumerate() {
            worst = worst.max(report(run, m, &format!("B^{}", k + 2), ours, theirs));
        }
    }
    worst
}

fn report(run: &str, m: usize, name: &str, ours: &Mat, theirs: &Mat) -> f64 {
    let e = ours.rel_err(theirs);
    eprintln!("{run} member {m} {name}: relative error {e:.2e}");
    e
}

const NP_RIDGE: &str = "{ rule: np, lr: 0.01, sigma: 0.05, solver: ridge, gamma: 0.1, warmup: 50 }";
const NP_SGD: &str = "{ rule: np, lr: 0.01, sigma: 0.05, solver: sgd, lr_b: 0.002, warmup: 50 }";

#[test]
fn np_ridge_with_warmup_matches_the_reference() {
    let e = compare(NP_RIDGE, RuleRef::NpRidge, Bug::None);
    assert!(e < TOL, "np ridge: relative error {e:.2e}");
}

#[test]
fn np_sgd_matches_the_reference() {
    let e = compare(NP_SGD, RuleRef::NpSgd, Bug::None);
    assert!(e < TOL, "np sgd: relative error {e:.2e}");
}

#[test]
fn fa_and_bp_match_the_reference() {
    let e = compare("{ rule: fa, lr: 0.01 }", RuleRef::Fa, Bug::None);
    assert!(e < TOL, "fa: relative error {e:.2e}");
    let e = compare("{ rule: bp, lr: 0.01 }", RuleRef::Bp, Bug::None);
    assert!(e < TOL, "bp: relative error {e:.2e}");
}

/// The comparison can fail: each deliberate mistake in the reference shows up far above TOL.
#[test]
fn a_wrong_reference_is_caught() {
    for (bug, name) in [
        (Bug::SigmaNotSquared, "Λ̂ divided by σ"),
        (Bug::TrueRegressor, "true E as the lower regressor"),
        (Bug::Gamma, "γ = 0.11"),
    ] {
        let e = compare(NP_RIDGE, RuleRef::NpRidge, bug);
        assert!(
            e > 10.0 * TOL,
            "{name}: only {e:.2e} apart; the test cannot tell"
        );
    }
    // And a wrong rule for the same config (fa's fixed B against np's fitted one).
    let e = compare(NP_RIDGE, RuleRef::Fa, Bug::None);
    assert!(e > 10.0 * TOL, "fa against np: only {e:.2e} apart");
}

/// The fused engine's step is the same maths: every rule and solver it has against the same
/// reference, with the same tolerance (its noise comes from its own generator, regenerated
/// here by `fused::noise::fill`).
#[test]
fn the_fused_engine_matches_the_reference() {
    let fused = |run, rule| compare_on(EngineKind::Fused, run, rule, Bug::None);
    for (name, run, rule) in [
        ("np ridge", NP_RIDGE, RuleRef::NpRidge),
        ("np sgd", NP_SGD, RuleRef::NpSgd),
        ("fa", "{ rule: fa, lr: 0.01 }", RuleRef::Fa),
        ("bp", "{ rule: bp, lr: 0.01 }", RuleRef::Bp),
    ] {
        let e = fused(run, rule);
        assert!(e < TOL, "fused {name}: relative error {e:.2e}");
    }
    let e = compare_on(EngineKind::Fused, NP_RIDGE, RuleRef::NpRidge, Bug::Gamma);
    assert!(e > 10.0 * TOL, "fused, γ = 0.11: only {e:.2e} apart");
}
