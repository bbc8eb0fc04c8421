//! One run of the fused engine: its state, its buffers and one training step, by hand on
//! row-major slices (llm.c's shape: every buffer allocated once, a step of a few calls).
//!
//! The maths is the torch engine's (docs/DESIGN.md, "One step"); names follow the paper.
//! Paper index i (1-based) lives at vector index i−1: `w[i-1]` = W^i, (n_{i-1}+1) × n_i with
//! the bias as the last row; `b` as in `rules::Feedback` (B^i at b[i-2], or D^i at b[i-1]).
use super::data::HostData;
use super::first_layer;
use super::linalg::{self, rm, tr};
use super::noise::StepDraws;
use super::{follow, loss, mirror, sign};
use crate::mlp::config::SolverKind;
use crate::mlp::streams::{DataOrderKind, MemberOrder};
use crate::nets::activation::Activation;
use crate::nets::loss::{Loss, Reduction};
use crate::rng::{Dist, Stream};
use crate::rules::{Form, Rule};

/// What every member of a program shares.
pub struct Plan {
    /// n_0 .. n_{N+1}
    pub sizes: Vec<usize>,
    /// σ_1 .. σ_{N+1}
    pub act: Vec<Activation>,
    pub rule: Rule,
    pub solver: Option<SolverKind>,
    pub gamma: f64,
    /// The bias unit is perturbed, and B's bias row fitted (`perturb_bias`).
    pub perturb_bias: bool,
    pub warmup: u64,
    pub freeze_w: bool,
    /// T
    pub batch: usize,
    /// How batches walk the training set, and its size n.
    pub order: (DataOrderKind, usize),
    /// The "+noise" controls' hidden noise std on the training pass.
    pub train_noise: Option<f32>,
    /// The output loss and how a batch's terms combine.
    pub loss: (Loss, Reduction),
    /// Kolen–Pollack's decay λ (0 for every other rule).
    pub decay: f64,
    /// The weight mirror (wm).
    pub mirror: Option<mirror::Mirror>,
}

impl Plan {
    /// N + 1, the number of weight layers.
    pub fn depth(&self) -> usize {
        self.sizes.len() - 1
    }

    /// Noise columns of hidden layer i = 1..N: n_i, plus the bias unit's where perturbed.
    fn cols(&self, i: usize) -> usize {
        self.sizes[i] + self.perturb_bias as usize
    }

    /// Unit normals per step for all hidden layers: Σ_i T c_i.
    fn noise_len(&self) -> usize {
        (1..self.depth()).map(|i| self.batch * self.cols(i)).sum()
    }

    /// Fitted matrix k = i−1 (i = 1..N): (rows fitted, regressor width).
    fn fit_shape(&self, i: usize) -> (usize, usize) {
        let n_out = self.sizes[self.depth()];
        match self.rule.form() {
            Form::Direct => (self.sizes[i], n_out),
            _ => (
                self.sizes[i] + self.perturb_bias as usize,
                self.sizes[i + 1],
            ),
        }
    }
}

/// Online ridge sums of one fitted matrix (f64): V = γI + Σ RᵀR (n × n), S = Σ targetᵀR.
pub struct Ridge {
    pub v: Vec<f64>,
    pub s: Vec<f64>,
}

/// One run's state.
pub struct Member {
    pub seed: u64,
    /// η, σ and the SGD fit's step β.
    pub lr: f32,
    pub sigma: f32,
    pub beta: f32,
    pub w: Vec<Vec<f32>>,
    pub b: Vec<Vec<f32>>,
    /// frSF's fixed |M^i| (m_abs[i-2], shaped like W^i); empty for every other rule.
    pub m_abs: Vec<Vec<f32>>,
    pub ridge: Vec<Ridge>,
    /// Σ over steps since the last log of the batch loss.
    pub loss_sum: f64,
    pub buf: Buffers,
    /// Where this member's noise and draws come from.
    pub noise: Box<dyn StepDraws>,
    /// This member's data order.
    order: MemberOrder,
}

/// One step's activations and signals, [T × width] each, kept until the next step (the
/// alignment metrics read them).
pub struct Buffers {
    pub idx: Vec<usize>,
    /// aug(X): [T × (n_0+1)]; filled on the dense path and for metrics.
    pub x_aug: Vec<f32>,
    pub y: Vec<f32>,
    /// a[i-1] = A^i, h[i-1] = σ_i(A^i): [T × n_i], i = 1..N+1.
    pub a: Vec<Vec<f32>>,
    pub h: Vec<Vec<f32>>,
    /// h_aug[i-1] = aug(H^i) (+ the controls' noise), hidden i = 1..N: [T × (n_i+1)].
    pub h_aug: Vec<Vec<f32>>,
    /// e[i-1] = Ẽ^i, i = 1..N+1 (the last is E^{N+1}).
    pub e: Vec<Vec<f32>>,
    loss: Vec<f32>,
    /// Node perturbation: Ξ (σ · unit normals, per hidden layer [T × c_i] back to back), the
    /// noisy pass (aug(H̃^i) + Ξ^i, Ã^i), ΔL and Λ̂^i.
    xi: Vec<f32>,
    noisy_aug: Vec<Vec<f32>>,
    noisy_a: Vec<Vec<f32>>,
    delta_l: Vec<f32>,
    lambda_hat: Vec<Vec<f32>>,
    /// The controls' unit normals; sg's true errors and targets; −η Ẽ; ΔW for `matched`.
    z_train: Vec<f32>,
    e_true: Vec<Vec<f32>>,
    target: Vec<f32>,
    g: Vec<f32>,
    dw: Vec<f32>,
    /// The ridge fit's f64 copies, its Cholesky factor, solution, and L⁻¹ and V⁻¹.
    r64: Vec<f64>,
    t64: Vec<f64>,
    chol: Vec<f64>,
    x64: Vec<f64>,
    inv64: Vec<f64>,
    /// brSF's draws of a step, then its |M|; the weight mirror's.
    draws: Vec<f32>,
    mirror: mirror::Scratch,
}

impl Buffers {
    fn new(p: &Plan) -> Self {
        let (t, n) = (p.batch, p.depth());
        let per_layer = |f: &dyn Fn(usize) -> usize, from: usize, to: usize| -> Vec<Vec<f32>> {
            (from..=to).map(|i| vec![0.0; t * f(i)]).collect()
        };
        let widest = p.sizes.iter().max().copied().unwrap_or(0) + 1;
        // The widest regressor of a ridge fit (n of its n × n V).
        let fit_n = (1..n).map(|i| p.fit_shape(i).1).max().unwrap_or(0);
        let perturbs = p.rule.perturbs();
        Self {
            idx: vec![0; t],
            x_aug: vec![0.0; t * (p.sizes[0] + 1)],
            y: vec![0.0; t * p.sizes[n]],
            a: per_layer(&|i| p.sizes[i], 1, n),
            h: per_layer(&|i| p.sizes[i], 1, n),
            h_aug: per_layer(&|i| p.sizes[i] + 1, 1, n - 1),
            e: per_layer(&|i| p.sizes[i], 1, n),
            loss: vec![0.0; t],
            xi: vec![0.0; if perturbs { p.noise_len() } else { 0 }],
            noisy_aug: per_layer(&|i| p.sizes[i] + 1, 1, if perturbs { n - 1 } else { 0 }),
            noisy_a: per_layer(&|i| p.sizes[i], 2, if perturbs { n } else { 1 }),
            delta_l: vec![0.0; t],
            lambda_hat: per_layer(&|i| p.cols(i), 1, if perturbs { n - 1 } else { 0 }),
            z_train: vec![
                0.0;
                if p.train_noise.is_some() {
                    p.noise_len()
                } else {
                    0
                }
            ],
            e_true: per_layer(&|i| p.sizes[i], 1, if p.rule == Rule::Sg { n } else { 0 }),
            target: vec![0.0; t * widest],
            g: vec![0.0; t * widest],
            dw: vec![0.0; widest * widest],
            r64: vec![0.0; t * widest],
            t64: vec![0.0; t * widest],
            chol: vec![0.0; widest * widest],
            x64: vec![0.0; widest * widest],
            inv64: vec![0.0; 2 * fit_n * fit_n],
            draws: vec![0.0; sign::draws_per_step(p)],
            mirror: mirror::Scratch::new(p),
        }
    }
}

impl Member {
    /// A member with the given state (`m_abs`: frSF's |M|, else empty); buffers sized by the
    /// plan; draws from `noise`.
    pub fn new(
        p: &Plan,
        seed: u64,
        (lr, sigma, beta): (f32, f32, f32),
        w: Vec<Vec<f32>>,
        b: Vec<Vec<f32>>,
        m_abs: Vec<Vec<f32>>,
        noise: Box<dyn StepDraws>,
    ) -> Self {
        let fits = p.rule.fits_feedback() && p.solver == Some(SolverKind::Ridge);
        let ridge = (1..p.depth())
            .filter(|_| fits)
            .map(|i| {
                let (rows, n) = p.fit_shape(i);
                let mut v = vec![0.0; n * n];
                (0..n).for_each(|k| v[k * n + k] = p.gamma);
                Ridge {
                    v,
                    s: vec![0.0; rows * n],
                }
            })
            .collect();
        Self {
            seed,
            lr,
            sigma,
            beta,
            w,
            b,
            m_abs,
            ridge,
            loss_sum: 0.0,
            buf: Buffers::new(p),
            noise,
            order: MemberOrder::new(p.order.0, seed, p.order.1, p.batch),
        }
    }

    /// One training step on batch `step`: sign symmetry's B, the clean pass, NP's noisy pass,
    /// the error signals, the feedback fit, after the warm-up W's update, and the mirror.
    /// With `dense_x`, the batch's aug(X) is filled even on the sparse path (for metrics).
    pub fn step(&mut self, p: &Plan, data: &HostData, step: u64, dense_x: bool) {
        self.prepare(p, step);
        self.batch(p, data, step, dense_x);
        // The next batch's rows travel from memory while this step computes.
        (self.order.rows(step + 1).iter()).for_each(|&r| data.prefetch(r as usize));
        if let Some(std) = p.train_noise {
            let seed = self.seed;
            let z = &mut self.buf.z_train;
            self.noise
                .fill(seed, Stream::TrainNoise, step, Dist::Normal, z);
            self.buf.z_train.iter_mut().for_each(|z| *z *= std);
        }
        self.forward(p, data, p.train_noise.is_some());
        self.loss_sum += self.buf.loss.iter().map(|&l| l as f64).sum::<f64>();
        if p.rule.perturbs() {
            let seed = self.seed;
            let xi = &mut self.buf.xi;
            self.noise.fill(seed, Stream::Noise, step, Dist::Normal, xi);
            self.noisy_pass(p);
        }
        self.errors(p);
        self.fit(p);
        if !p.freeze_w && step >= p.warmup {
            self.update_w(p, data);
        }
        if let Some(m) = &p.mirror {
            self.mirror(p, m, m.warmup + step);
        }
    }

    /// B of step `step` where the rule builds it from the current W (sign symmetry).
    pub fn prepare(&mut self, p: &Plan, step: u64) {
        let magnitude = match p.rule {
            Rule::Usf => sign::Magnitude::Scale,
            Rule::Frsf => sign::Magnitude::Fixed(&self.m_abs),
            Rule::Brsf => {
                let u = &mut self.buf.draws;
                let stream = Stream::SignMagnitudeSteps;
                self.noise.fill(self.seed, stream, step, Dist::Uniform, u);
                sign::magnitudes(p, u);
                sign::Magnitude::Drawn(u)
            }
            _ => return,
        };
        sign::feedback(p, &self.w, magnitude, &mut self.b);
    }

    /// The weight mirror's steps before training: 0..warmup.
    pub fn warm_up(&mut self, p: &Plan) {
        if let Some(m) = &p.mirror {
            (0..m.warmup).for_each(|k| self.mirror(p, m, k));
        }
    }

    /// Mirror step `k` on every B^i from the current W.
    fn mirror(&mut self, p: &Plan, m: &mirror::Mirror, k: u64) {
        let z = &mut self.buf.mirror.z;
        self.noise.fill(self.seed, Stream::Mirror, k, m.dist(), z);
        mirror::step(p, m, &self.w, &mut self.b, &mut self.buf.mirror);
    }

    /// The clean pass and error signals of batch `step`, with no update and no noise: what
    /// the final alignment metrics read.
    pub fn observe(&mut self, p: &Plan, data: &HostData, step: u64) {
        self.prepare(p, step);
        self.batch(p, data, step, true);
        self.forward(p, data, false);
        self.errors(p);
    }

    /// Batch `step` of this member's data order: indices, targets, and aug(X) where the
    /// inputs are dense or `dense_x` asks for it.
    fn batch(&mut self, p: &Plan, data: &HostData, step: u64, dense_x: bool) {
        let dense_x = dense_x || matches!(data.inputs, super::data::Inputs::Dense(_));
        let (n0, n_out) = (p.sizes[0], p.sizes[p.depth()]);
        let b = &mut self.buf;
        for (t, &r) in self.order.rows(step).iter().enumerate() {
            let r = r as usize;
            b.idx[t] = r;
            b.y[t * n_out..(t + 1) * n_out].copy_from_slice(data.target(r));
            if dense_x {
                let row = &mut b.x_aug[t * (n0 + 1)..(t + 1) * (n0 + 1)];
                data.input_into(r, &mut row[..n0]);
                row[n0] = 1.0;
            }
        }
    }

    /// The clean forward pass, per-sample losses, with the controls' noise if `noisy`.
    fn forward(&mut self, p: &Plan, data: &HostData, noisy: bool) {
        let (t, n) = (p.batch, p.depth());
        let b = &mut self.buf;
        let n1 = p.sizes[1];
        first_layer::forward(&data.inputs, &b.idx, &b.x_aug, &self.w[0], &mut b.a[0], n1);
        for i in 1..=n {
            if i > 1 {
                let k = p.sizes[i - 1] + 1;
                linalg::gemm(
                    (t, k, p.sizes[i]),
                    1.0,
                    &b.h_aug[i - 2],
                    rm(k),
                    &self.w[i - 1],
                    rm(p.sizes[i]),
                    0.0,
                    &mut b.a[i - 1],
                    p.sizes[i],
                );
            }
            linalg::activate(p.act[i - 1], &b.a[i - 1], &mut b.h[i - 1]);
            if i < n {
                aug_into(&b.h[i - 1], p.sizes[i], &mut b.h_aug[i - 1]);
                if noisy {
                    add_noise(
                        &mut b.h_aug[i - 1],
                        layer_noise(p, &b.z_train, i),
                        p.cols(i),
                        p.sizes[i] + 1,
                    );
                }
            }
        }
        let (a, y_hat) = (&b.a[n - 1], &b.h[n - 1]);
        loss::terms(p.loss, a, y_hat, &b.y, p.sizes[n], &mut b.loss);
    }

    /// NP's noisy pass from the first hidden layer up (Ã^1 = A^1), ΔL and Λ̂^i = Ξ^i ΔL / σ².
    /// `xi` holds unit normals on entry and Ξ = σ · them on exit.
    fn noisy_pass(&mut self, p: &Plan) {
        let (t, n) = (p.batch, p.depth());
        let b = &mut self.buf;
        b.xi.iter_mut().for_each(|z| *z *= self.sigma);
        for i in 1..n {
            if i == 1 {
                b.noisy_aug[0].copy_from_slice(&b.h_aug[0]);
            } else {
                let h_tilde = &mut b.target[..t * p.sizes[i]];
                linalg::activate(p.act[i - 1], &b.noisy_a[i - 2], h_tilde);
                aug_into(h_tilde, p.sizes[i], &mut b.noisy_aug[i - 1]);
            }
            add_noise(
                &mut b.noisy_aug[i - 1],
                layer_noise(p, &b.xi, i),
                p.cols(i),
                p.sizes[i] + 1,
            );
            let k = p.sizes[i] + 1;
            linalg::gemm(
                (t, k, p.sizes[i + 1]),
                1.0,
                &b.noisy_aug[i - 1],
                rm(k),
                &self.w[i],
                rm(p.sizes[i + 1]),
                0.0,
                &mut b.noisy_a[i - 1],
                p.sizes[i + 1],
            );
        }
        let n_out = p.sizes[n];
        let y_tilde = &mut b.target[..t * n_out];
        linalg::activate(p.act[n - 1], &b.noisy_a[n - 2], y_tilde);
        let a_tilde = &b.noisy_a[n - 2];
        loss::terms(p.loss, a_tilde, y_tilde, &b.y, n_out, &mut b.delta_l);
        b.delta_l.iter_mut().zip(&b.loss).for_each(|(d, l)| *d -= l);
        let var = self.sigma * self.sigma;
        for i in 1..n {
            let c = p.cols(i);
            let xi = layer_noise(p, &b.xi, i);
            for ((lam, xi), dl) in b.lambda_hat[i - 1]
                .chunks_mut(c)
                .zip(xi.chunks(c))
                .zip(&b.delta_l)
            {
                lam.iter_mut().zip(xi).for_each(|(l, x)| *l = x * dl / var);
            }
        }
    }

    /// E^{N+1} = ∂L/∂A^{N+1} (`loss::output_error`), and Ẽ^i below it by the rule's pathway.
    fn errors(&mut self, p: &Plan) {
        let n = p.depth();
        let b = &mut self.buf;
        let out = (b.a[n - 1].as_slice(), b.h[n - 1].as_slice(), b.y.as_slice());
        loss::output_error(p.loss, p.act[n - 1], out, p.sizes[n], &mut b.e[n - 1]);
        let via: &[Vec<f32>] = match p.rule.form() {
            Form::Backprop => &self.w[1..],
            _ => &self.b,
        };
        send_down(p, p.rule.form(), via, b.e.as_mut_slice(), &b.a, &b.h);
        if p.rule == Rule::Sg {
            b.e_true[n - 1].copy_from_slice(&b.e[n - 1]);
            send_down(
                p,
                Form::Backprop,
                &self.w[1..],
                b.e_true.as_mut_slice(),
                &b.a,
                &b.h,
            );
        }
    }

    /// Fit B^{i+1} (or D^i) for every hidden layer i (np, np_dfa, sg).
    fn fit(&mut self, p: &Plan) {
        let Some(solver) = p.solver.filter(|_| p.rule.fits_feedback()) else {
            return;
        };
        let t = p.batch;
        for i in 1..p.depth() {
            let (rows, n) = p.fit_shape(i);
            let b = &mut self.buf;
            // The regressor R [T × n] and the target [T × rows] (row stride `ld`).
            let (r, target, ld): (&[f32], &[f32], usize) = match p.rule {
                Rule::Np => (&b.e[i], &b.lambda_hat[i - 1], p.cols(i)),
                Rule::NpDfa => (&b.e[p.depth() - 1], &b.lambda_hat[i - 1], p.cols(i)),
                _ => {
                    // sg: the true ∂L/∂h^i = E^{i+1} W^{i+1}[:rows]ᵀ.
                    linalg::gemm(
                        (t, n, rows),
                        1.0,
                        &b.e_true[i],
                        rm(n),
                        &self.w[i],
                        tr(n),
                        0.0,
                        &mut b.target,
                        rows,
                    );
                    (&b.e[i], &b.target, rows)
                }
            };
            let bk = &mut self.b[i - 1][..rows * n];
            match solver {
                SolverKind::Ridge => ridge_fit(
                    &mut self.ridge[i - 1],
                    (t, rows, n),
                    r,
                    target,
                    ld,
                    bk,
                    [
                        &mut b.r64,
                        &mut b.t64,
                        &mut b.chol,
                        &mut b.x64,
                        &mut b.inv64,
                    ],
                ),
                SolverKind::Sgd => {
                    // B ← B − β (R Bᵀ − target)ᵀ R
                    let resid = &mut b.g[..t * rows];
                    linalg::gemm((t, n, rows), 1.0, r, rm(n), bk, tr(n), 0.0, resid, rows);
                    for (res, tg) in resid.chunks_mut(rows).zip(target.chunks(ld)) {
                        res.iter_mut().zip(tg).for_each(|(x, y)| *x -= y);
                    }
                    linalg::gemm(
                        (rows, t, n),
                        -self.beta,
                        resid,
                        tr(rows),
                        r,
                        rm(n),
                        1.0,
                        bk,
                        n,
                    );
                }
            }
        }
    }

    /// SGD on W: W^i += aug(H^{i-1})ᵀ (−η Ẽ^i); `matched` and `kp` give B^i the same ΔW^i
    /// (`follow`), kp after decaying both.
    fn update_w(&mut self, p: &Plan, data: &HostData) {
        let t = p.batch;
        let follows = p.rule.follows_w();
        for i in 1..=p.depth() {
            let (k, n) = (p.sizes[i - 1] + 1, p.sizes[i]);
            let b = &mut self.buf;
            let g = &mut b.g[..t * n];
            g.iter_mut()
                .zip(&b.e[i - 1])
                .for_each(|(g, e)| *g = -self.lr * e);
            if i == 1 {
                follow::decay(&mut self.w[0], p.decay);
                first_layer::update(&data.inputs, &b.idx, &b.x_aug, g, &mut self.w[0], n);
            } else if follows {
                let dw = &mut b.dw[..k * n];
                linalg::gemm((k, t, n), 1.0, &b.h_aug[i - 2], tr(k), g, rm(n), 0.0, dw, n);
                follow::step(&mut self.w[i - 1], &mut self.b[i - 2], dw, p.decay);
            } else {
                linalg::gemm(
                    (k, t, n),
                    1.0,
                    &b.h_aug[i - 2],
                    tr(k),
                    g,
                    rm(n),
                    1.0,
                    &mut self.w[i - 1],
                    n,
                );
            }
        }
    }
}

/// Ẽ^i = (Ẽ^{i+1} F^{i+1}[:n_i]ᵀ) ∘ σ'_i for i = N..1 (feedback form and backprop, `f[i-1]` =
/// F^{i+1}), or Ẽ^i = (E^{N+1} D^iᵀ) ∘ σ'_i (direct form, `f[i-1]` = D^i). e[N] is E^{N+1}.
fn send_down(
    p: &Plan,
    form: Form,
    f: &[Vec<f32>],
    e: &mut [Vec<f32>],
    a: &[Vec<f32>],
    h: &[Vec<f32>],
) {
    let (t, n) = (p.batch, p.depth());
    for i in (1..n).rev() {
        let (below, above) = e.split_at_mut(i);
        let src = match form {
            Form::Direct => &above[n - 1 - i],
            _ => &above[0],
        };
        let w = src.len() / t; // n_{i+1}, or n_{N+1} in direct form
        linalg::gemm(
            (t, w, p.sizes[i]),
            1.0,
            src,
            rm(w),
            &f[i - 1],
            tr(w),
            0.0,
            &mut below[i - 1],
            p.sizes[i],
        );
        linalg::times_derivative(p.act[i - 1], &a[i - 1], &h[i - 1], &mut below[i - 1]);
    }
}

/// V += RᵀR, S += targetᵀR (f64), then B = S V⁻¹ by Cholesky; NaN where V is not positive
/// definite (a diverged run), as on the torch engine.
fn ridge_fit(
    acc: &mut Ridge,
    (t, rows, n): (usize, usize, usize),
    r: &[f32],
    target: &[f32],
    ld: usize,
    b: &mut [f32],
    [r64, t64, chol, x64, inv64]: [&mut Vec<f64>; 5],
) {
    let (r64, t64) = (&mut r64[..t * n], &mut t64[..t * rows]);
    r64.iter_mut()
        .zip(&r[..t * n])
        .for_each(|(d, s)| *d = *s as f64);
    for (d, s) in t64.chunks_mut(rows).zip(target.chunks(ld)) {
        d.iter_mut().zip(s).for_each(|(d, s)| *d = *s as f64);
    }
    linalg::gemm((n, t, n), 1.0, r64, tr(n), r64, rm(n), 1.0, &mut acc.v, n);
    linalg::gemm(
        (rows, t, n),
        1.0,
        t64,
        tr(rows),
        r64,
        rm(n),
        1.0,
        &mut acc.s,
        n,
    );
    let (chol, x64) = (&mut chol[..n * n], &mut x64[..rows * n]);
    if linalg::cholesky(&acc.v, n, chol) {
        linalg::cholesky_solve_rows(chol, n, &acc.s, x64, inv64);
        b.iter_mut()
            .zip(x64.iter())
            .for_each(|(b, x)| *b = *x as f32);
    } else {
        b.fill(f32::NAN);
    }
}

/// aug(H) = [H, 1]: [T × n] → [T × (n+1)].
pub(super) fn aug_into(h: &[f32], n: usize, out: &mut [f32]) {
    for (o, h) in out.chunks_mut(n + 1).zip(h.chunks(n)) {
        o[..n].copy_from_slice(h);
        o[n] = 1.0;
    }
}

/// Hidden layer i's block of a step's noise: [T × c_i].
fn layer_noise<'a>(p: &Plan, all: &'a [f32], i: usize) -> &'a [f32] {
    let start: usize = (1..i).map(|j| p.batch * p.cols(j)).sum();
    &all[start..start + p.batch * p.cols(i)]
}

/// Add [T × c] noise to the first c columns of a [T × width] buffer.
fn add_noise(h: &mut [f32], xi: &[f32], c: usize, width: usize) {
    for (row, x) in h.chunks_mut(width).zip(xi.chunks(c)) {
        row[..c].iter_mut().zip(x).for_each(|(h, x)| *h += x);
    }
}
