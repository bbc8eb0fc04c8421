//! Optimizers for W, batched over members (each member has its own learning rate).
//!
//! `delta` returns the update ΔW to add, so that the matched rule can hand B the same step.
//! Adam follows PyTorch's `torch.optim.Adam` exactly (tested against tch's).
use serde::{Deserialize, Serialize};
use tch::Tensor;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Sgd,
    Adam,
}

pub enum Optimizer {
    /// W ← W − η ∇W
    Sgd {
        lr: Tensor,
    },
    Adam(Adam),
}

pub struct Adam {
    lr: Tensor, // [M, 1, 1]
    beta1: f64,
    beta2: f64,
    eps: f64,
    t: i32,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
}

impl Optimizer {
    /// lr: [M, 1, 1]; shapes: the parameter shapes.
    pub fn new(kind: OptimizerKind, lr: Tensor, params: &[Tensor], adam_eps: f64) -> Self {
        match kind {
            OptimizerKind::Sgd => Optimizer::Sgd { lr },
            OptimizerKind::Adam => Optimizer::Adam(Adam {
                lr,
                beta1: 0.9,
                beta2: 0.999,
                eps: adam_eps,
                t: 0,
                m: params.iter().map(Tensor::zeros_like).collect(),
                v: params.iter().map(Tensor::zeros_like).collect(),
            }),
        }
    }

    /// Adam's moments, named for checkpoints (SGD has none).
    pub fn state_mut(&mut self) -> Vec<(String, &mut Tensor)> {
        match self {
            Optimizer::Sgd { .. } => Vec::new(),
            Optimizer::Adam(a) => {
                let m =
                    a.m.iter_mut()
                        .enumerate()
                        .map(|(i, t)| (format!("adam.m.{i}"), t));
                let v =
                    a.v.iter_mut()
                        .enumerate()
                        .map(|(i, t)| (format!("adam.v.{i}"), t));
                m.chain(v).collect()
            }
        }
    }

    /// Adam's step count t (0 for SGD), for checkpoints.
    pub fn steps(&self) -> i64 {
        match self {
            Optimizer::Sgd { .. } => 0,
            Optimizer::Adam(a) => a.t as i64,
        }
    }

    pub fn set_steps(&mut self, t: i64) {
        if let Optimizer::Adam(a) = self {
            a.t = t as i32;
        }
    }

    /// The update ΔW for each parameter, given its gradient.
    pub fn delta(&mut self, grads: &[Tensor]) -> Vec<Tensor> {
        match self {
            Optimizer::Sgd { lr } => grads.iter().map(|g| -(g * &*lr)).collect(),
            Optimizer::Adam(a) => a.delta(grads),
        }
    }
}

impl Adam {
    /// torch.optim.Adam's step, in place where it can be: Adam is element-wise and
    /// memory-bound (fig3's W¹ and W⁴ are 0.6 MB each), so each temporary costs a pass over
    /// memory and an allocation: eight kernels and two temporaries per parameter here, where
    /// the plain expression took eleven and seven (docs/PERFORMANCE.md has the timings).
    fn delta(&mut self, grads: &[Tensor]) -> Vec<Tensor> {
        self.t += 1;
        let bc1 = 1.0 - self.beta1.powi(self.t);
        let bc2_sqrt = (1.0 - self.beta2.powi(self.t)).sqrt();
        let step = &self.lr / -bc1; // [M, 1, 1]: −η / (1 − β1ᵗ)
        let mut out = Vec::with_capacity(grads.len());
        for ((g, m), v) in grads.iter().zip(&mut self.m).zip(&mut self.v) {
            // m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²
            let _ = m.lerp_(g, 1.0 - self.beta1);
            let _ = v.lerp_(&g.square(), 1.0 - self.beta2);
            // Δ = −(η / bc1) · m / (√v / √bc2 + ε), built in the one buffer d
            let mut d = v.sqrt();
            let _ = d.g_div_scalar_(bc2_sqrt).g_add_scalar_(self.eps);
            let _ = m.div_out(&d, &d);
            let _ = d.g_mul_(&step);
            out.push(d);
        }
        out
    }
}
