//! The member-batched MLP with augmented weights (ALGORITHMS.md, "Notation").
//!
//! Every tensor carries a leading member dimension M; all products are `bmm`. Paper index i
//! (1-based) lives at vector index i-1: `w[i-1]` is W^i.
use crate::nets::activation::{times_derivative, Activation};
use crate::nets::init::Init;
use crate::nets::loss::{Loss, Reduction};
use crate::rng::Stream;
use tch::{Device, Tensor};

pub struct Mlp {
    /// [n_0, n_1, ..., n_{N+1}]
    pub sizes: Vec<i64>,
    /// σ_1 .. σ_{N+1}
    pub act: Vec<Activation>,
    /// w[i-1] = W^i: [M, n_{i-1}+1, n_i]; the last row is the bias.
    pub w: Vec<Tensor>,
    /// The output loss and how a batch's terms are combined.
    pub loss: Loss,
    pub reduction: Reduction,
}

/// One forward pass: what the error signals and weight gradients need.
pub struct Trace {
    /// h_aug[i] = aug(H^i) (+ Ξ^i on a noisy pass), i = 0..N: [M, T, n_i+1]
    pub h_aug: Vec<Tensor>,
    /// a[i-1] = A^i, i = 1..N+1: [M, T, n_i]
    pub a: Vec<Tensor>,
    /// h[i-1] = σ_i(A^i) before any noise, i = 1..N+1: [M, T, n_i]; h[N] = Ŷ.
    pub h: Vec<Tensor>,
}

impl Trace {
    pub fn y_hat(&self) -> &Tensor {
        self.h.last().expect("a trace has an output layer")
    }

    /// A^{N+1}, the output's pre-activation.
    pub fn a_out(&self) -> &Tensor {
        self.a.last().expect("a trace has an output layer")
    }
}

/// aug(H) = [H, 1]: [M, T, n] → [M, T, n+1]
pub fn aug(h: &Tensor) -> Tensor {
    h.pad([0, 1], "constant", 1.0)
}

impl Mlp {
    /// W drawn from the default init, squared-error loss summed over the batch.
    pub fn new(sizes: &[i64], act: &[Activation], seeds: &[u64], device: Device) -> Self {
        Self::with_init(sizes, act, seeds, Init::HeNormal, device)
    }

    /// W^i drawn from `init` (fans n_{i-1}, n_i), squared-error loss summed over the batch.
    pub fn with_init(
        sizes: &[i64],
        act: &[Activation],
        seeds: &[u64],
        init: Init,
        device: Device,
    ) -> Self {
        let w = (1..sizes.len())
            .map(|i| {
                let shape = [sizes[i - 1] + 1, sizes[i]];
                let fans = (sizes[i - 1], sizes[i]);
                init.draw(seeds, Stream::Init, i as u64, shape, fans, device)
            })
            .collect();
        Self {
            sizes: sizes.to_vec(),
            act: act.to_vec(),
            w,
            loss: Loss::SquaredError,
            reduction: Reduction::Sum,
        }
    }

    /// N + 1, the number of weight layers.
    pub fn depth(&self) -> usize {
        self.w.len()
    }

    pub fn members(&self) -> i64 {
        self.w[0].size()[0]
    }

    /// Forward pass from x: [M, T, n_0]. `xi[i-1]`, when given, is added to aug(H^i) of hidden
    /// layer i: [M, T, n_i+1]. The output layer is never perturbed.
    pub fn forward(&self, x: &Tensor, xi: Option<&[Option<Tensor>]>) -> Trace {
        let n = self.depth();
        let mut h_aug = Vec::with_capacity(n);
        let mut a = Vec::with_capacity(n);
        let mut h = Vec::with_capacity(n);
        h_aug.push(aug(x));
        for i in 1..=n {
            let a_i = h_aug[i - 1].bmm(&self.w[i - 1]); // [M, T, n_i]
            let h_i = self.act[i - 1].forward(&a_i);
            if i < n {
                let mut next = aug(&h_i);
                if let Some(Some(x_i)) = xi.map(|xi| &xi[i - 1]) {
                    next += x_i;
                }
                h_aug.push(next);
            }
            a.push(a_i);
            h.push(h_i);
        }
        Trace { h_aug, a, h }
    }

    /// Ŷ̃ of the noisy pass, reusing the clean pass below the first perturbed layer
    /// (noise enters after σ, so Ã^i = A^i up to there). xi as in `forward`.
    pub fn forward_noisy(&self, clean: &Trace, xi: &[Option<Tensor>]) -> Tensor {
        self.forward_noisy_out(clean, xi).1
    }

    /// (Ã^{N+1}, Ŷ̃) of the noisy pass: the losses on logits need the pre-activation.
    pub fn forward_noisy_out(&self, clean: &Trace, xi: &[Option<Tensor>]) -> (Tensor, Tensor) {
        let n = self.depth();
        let first = match xi.iter().position(Option::is_some) {
            Some(k) => k + 1, // paper index of the first perturbed hidden layer
            None => return (clean.a_out().shallow_clone(), clean.y_hat().shallow_clone()),
        };
        let mut h_tilde = &clean.h_aug[first] + xi[first - 1].as_ref().expect("found above");
        for i in first + 1..=n {
            let a_i = h_tilde.bmm(&self.w[i - 1]);
            let h_i = self.act[i - 1].forward(&a_i);
            if i == n {
                return (a_i, h_i);
            }
            h_tilde = aug(&h_i);
            if let Some(x_i) = &xi[i - 1] {
                h_tilde += x_i;
            }
        }
        unreachable!("the loop returns at the output layer")
    }

    /// E^{N+1} = ∂L/∂A^{N+1}: [M, T, n_{N+1}]. For the default L = ½ Σ_t ||ŷ_t − y_t||² this
    /// is (Ŷ − Y) ∘ σ'_{N+1}(A^{N+1}); for the cross-entropies Ŷ − Y (÷T with mean reduction).
    pub fn output_error(&self, trace: &Trace, y: &Tensor) -> Tensor {
        let n = self.depth();
        let e = self
            .loss
            .error(self.act[n - 1], &trace.a[n - 1], &trace.h[n - 1], y);
        match self.reduction {
            Reduction::Sum => e,
            Reduction::Mean => e * self.reduction.scale(y.size()[1]),
        }
    }

    /// Each sample's term of the batch loss L, L = Σ_t of them: [M, T]. From the output's
    /// pre-activation a_out and ŷ = σ(a_out), both [M, T, n_{N+1}].
    pub fn loss_terms(&self, a_out: &Tensor, y_hat: &Tensor, y: &Tensor) -> Tensor {
        let l_t = self.loss.per_sample(a_out, y_hat, y);
        match self.reduction {
            Reduction::Sum => l_t,
            Reduction::Mean => l_t * self.reduction.scale(y.size()[1]),
        }
    }

    /// Error signals in feedback form: `f[i-2]` plays W^i for i = 2..N+1 (pass `&w[1..]`
    /// for backprop, B for the feedback rules). Returns e[i-1] = Ẽ^i for i = 1..N+1: [M, T, n_i].
    ///   Ẽ^i = (Ẽ^{i+1} F^{i+1}[:n_i]ᵀ) ∘ σ'_i(A^i)
    pub fn errors_fa(&self, trace: &Trace, e_out: &Tensor, f: &[Tensor]) -> Vec<Tensor> {
        let n = self.depth();
        let mut e = vec![e_out.shallow_clone()];
        for i in (1..n).rev() {
            let f_next = f[i - 1].narrow(1, 0, self.sizes[i]); // [M, n_i, n_{i+1}]
            let down = e.last().expect("nonempty").bmm(&f_next.transpose(1, 2)); // [M, T, n_i]
            e.push(times_derivative(
                down,
                self.act[i - 1],
                &trace.a[i - 1],
                &trace.h[i - 1],
            ));
        }
        e.reverse();
        e
    }

    /// Error signals in direct form: d[i-1] = D^i: [M, n_i, n_{N+1}] for i = 1..N.
    ///   Ẽ^i = (E^{N+1} D^iᵀ) ∘ σ'_i(A^i)
    pub fn errors_direct(&self, trace: &Trace, e_out: &Tensor, d: &[Tensor]) -> Vec<Tensor> {
        let n = self.depth();
        let mut e: Vec<Tensor> = (1..n)
            .map(|i| {
                let down = e_out.bmm(&d[i - 1].transpose(1, 2)); // [M, T, n_i]
                times_derivative(down, self.act[i - 1], &trace.a[i - 1], &trace.h[i - 1])
            })
            .collect();
        e.push(e_out.shallow_clone());
        e
    }

    /// ∇W^i = aug(H^{i-1})ᵀ Ẽ^i: [M, n_{i-1}+1, n_i], for i = 1..N+1.
    pub fn weight_grads(&self, trace: &Trace, e: &[Tensor]) -> Vec<Tensor> {
        trace
            .h_aug
            .iter()
            .zip(e)
            .map(|(h, e)| h.transpose(1, 2).bmm(e))
            .collect()
    }

    /// Plain SGD, W^i ← W^i − η aug(H^{i-1})ᵀ Ẽ^i, as one in-place GEMM per layer:
    /// W^i += aug(H^{i-1})ᵀ (−η Ẽ^i). No ∇W or ΔW tensor is formed, so W^1 (97% of the
    /// bytes) is read and written once per step instead of four times. lr: [M, 1, 1].
    pub fn sgd_step(&mut self, trace: &Trace, e: &[Tensor], lr: &Tensor) {
        for ((w, h), e) in self.w.iter_mut().zip(&trace.h_aug).zip(e) {
            let _ = w.baddbmm_(&h.transpose(1, 2), &(e * -lr)); // [M, n_{i-1}+1, n_i]
        }
    }
}

/// Per-sample loss L_t = ½ ||ŷ_t − y_t||²: [M, T, n] → [M, T]
pub fn mse_per_sample(y_hat: &Tensor, y: &Tensor) -> Tensor {
    Loss::SquaredError.per_sample(y_hat, y_hat, y)
}
