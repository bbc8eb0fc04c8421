//! A network, its optimiser and its feedback (D for dfa / np_dfa, B for the layer-wise
//! rules): one training step.
use super::config::RuleSpec;
use super::feedback;
use super::layerwise::feedback_gradients;
use super::net::{Net, NetworkSpec};
use super::rules::{bp_gradients, direct_gradients, init_d, lambda_hat, update_d_except, Rule};
use crate::optim::{Optimizer, OptimizerKind};
use crate::rng::{derive, Stream};
use anyhow::Result;
use tch::{Device, Kind, Tensor};

pub struct Learner {
    pub rule: Rule,
    pub spec: RuleSpec,
    pub net: Net,
    /// The run's seed: every step's draws, fa's B and sign symmetry's M are keyed by it.
    pub seed: u64,
    /// `D^l`, `[D_l, classes]` per hidden block (dfa, np_dfa); empty otherwise.
    pub d: Vec<Tensor>,
    /// `B^l` for l = 2..L+1 (`b[l-2]`, shaped like W^l) of fa and kp; empty otherwise (sign
    /// symmetry builds its B from W every step: [`Learner::feedback`]).
    pub b: Vec<Tensor>,
    /// frsf's fixed `|M^l|`, like `b`; empty otherwise.
    pub m_abs: Vec<Tensor>,
    /// The trainable variables, in creation order (what Adam steps, and checkpoints name).
    params: Vec<Tensor>,
    /// Adam on W ([`crate::optim`], PyTorch's update; its state can be checkpointed).
    opt: Optimizer,
}

impl Learner {
    /// A fresh network (and feedback) for inputs of per-sample shape `input`, seeded run
    /// `seed` (W and D come from libtorch's generator as the caller seeded it; B and M from
    /// `seed` itself).
    pub fn new(
        network: &NetworkSpec,
        input: [i64; 3],
        classes: i64,
        rule: Rule,
        spec: &RuleSpec,
        seed: u64,
        device: Device,
    ) -> Result<Learner> {
        let net = Net::new(network, input, classes, device)?;
        let params = net.vs.trainable_variables();
        let lr = Tensor::from(spec.lr).to_device(device);
        let opt = Optimizer::new(OptimizerKind::Adam, lr, &params, spec.adam_eps);
        let d = if rule.direct() {
            let sizes = net.feedback_sizes();
            init_d(&sizes, classes, network.feedback_init, Kind::Float, device)
        } else {
            Vec::new()
        };
        let (b, m_abs) = tch::no_grad(|| {
            let w = net.weights();
            match rule {
                Rule::Fa | Rule::Kp => (feedback::fa_init(&w, &net.init_bounds(), seed), vec![]),
                Rule::Frsf => (vec![], feedback::frsf_magnitudes(&w, seed)),
                _ => (vec![], vec![]),
            }
        });
        Ok(Learner {
            rule,
            spec: spec.clone(),
            net,
            seed,
            d,
            b,
            m_abs,
            params,
            opt,
        })
    }

    /// The B^l (l = 2..L+1, `[l-2]`) a layer-wise rule sends errors down with at `step`:
    /// fa's and kp's own, sign symmetry's from the current W (brsf with the M of `step`).
    /// Empty for bp, dfa and np_dfa.
    pub fn feedback(&self, step: u64) -> Vec<Tensor> {
        tch::no_grad(|| {
            let w = self.net.weights();
            match self.rule {
                Rule::Fa | Rule::Kp => self.b.iter().map(Tensor::shallow_clone).collect(),
                Rule::Usf => feedback::usf(&w),
                Rule::Brsf => {
                    let m_abs = feedback::brsf_magnitudes(&w, self.seed, step);
                    feedback::sign_concordant(&w, &m_abs)
                }
                Rule::Frsf => feedback::sign_concordant(&w, &self.m_abs),
                Rule::Bp | Rule::Dfa | Rule::NpDfa => Vec::new(),
            }
        })
    }

    /// An Adam step on every variable from its gradient; kp decays W and B by (1−λ) and
    /// adds W's step to both.
    fn adam_step(&mut self) {
        let grads: Vec<Tensor> = self.params.iter().map(Tensor::grad).collect();
        let deltas = tch::no_grad(|| self.opt.delta(&grads));
        let decay = (self.rule == Rule::Kp).then(|| self.spec.decay.unwrap_or_default());
        tch::no_grad(|| {
            if let Some(lambda) = decay {
                let delta_w = self.layer_deltas(&deltas);
                feedback::kp_step(&mut self.b, &delta_w[1..], lambda);
            }
            for (p, d) in self.params.iter_mut().zip(&deltas) {
                if let Some(lambda) = decay {
                    let _ = p.g_mul_scalar_(1.0 - lambda);
                }
                *p += d;
            }
        });
    }

    /// ΔW^1..ΔW^{L+1} among the steps of every variable (`deltas`, in `params` order).
    fn layer_deltas<'d>(&self, deltas: &'d [Tensor]) -> Vec<&'d Tensor> {
        let at = |w: &Tensor| {
            self.params
                .iter()
                .position(|p| p.data_ptr() == w.data_ptr())
        };
        (self.net.weights().into_iter())
            .map(|w| &deltas[at(w).expect("every W^l is a trainable variable")])
            .collect()
    }

    /// Every tensor of the learner's state, named: weights, D, B, frsf's |M|, Adam's moments
    /// and step count.
    pub fn state_mut(&mut self) -> Vec<(String, &mut Tensor)> {
        let mut out: Vec<(String, &mut Tensor)> = Vec::new();
        for (i, p) in self.params.iter_mut().enumerate() {
            out.push((format!("w.{i}"), p));
        }
        for (i, d) in self.d.iter_mut().enumerate() {
            out.push((format!("d.{i}"), d));
        }
        for (i, b) in self.b.iter_mut().enumerate() {
            out.push((format!("b.{i}"), b));
        }
        for (i, m) in self.m_abs.iter_mut().enumerate() {
            out.push((format!("m.{i}"), m));
        }
        out.extend(self.opt.state_mut());
        out
    }

    /// Adam's step count (for checkpoints).
    pub fn adam_steps(&self) -> i64 {
        self.opt.steps()
    }

    pub fn set_adam_steps(&mut self, t: i64) {
        self.opt.set_steps(t);
    }

    /// Step `step` on batch `x` `[T, 3, H, W]`, `y` `[T]`: gradients by the rule, an Adam step
    /// on W (kp: and on B), and for np_dfa an SGD step on D. Its dropout masks and NP noise
    /// come from libtorch's generator seeded from (seed, step). Returns the clean pass's loss
    /// (cross-entropy summed over the batch), detached and on the device.
    pub fn step(&mut self, x: &Tensor, y: &Tensor, step: u64) -> Tensor {
        zero_grads(&self.net);
        // before seeding: brsf's M is a keyed draw, which re-seeds the generator
        let b = self.feedback(step);
        tch::manual_seed(step_seed(self.seed, step));
        match self.rule {
            Rule::Bp => {
                let loss = bp_gradients(&self.net, x, y, true);
                self.adam_step();
                loss
            }
            Rule::Dfa => {
                let s = direct_gradients(&self.net, x, y, &self.d, true);
                self.adam_step();
                s.loss
            }
            Rule::NpDfa => {
                let s = direct_gradients(&self.net, x, y, &self.d, true);
                let sigma = self.spec.sigma.unwrap_or_default();
                let lambda_hat = lambda_hat(
                    &self.net,
                    x,
                    y,
                    &s.local.logits.detach(),
                    &s.local.masks,
                    sigma,
                    self.spec.np_loss.unwrap_or_default(),
                    self.spec.shared_dropout_mask.unwrap_or(false),
                    true,
                );
                self.adam_step();
                update_d_except(
                    &mut self.d,
                    &s.e,
                    &lambda_hat,
                    self.spec.beta.unwrap_or_default(),
                    self.spec.fixed_d_blocks.as_deref().unwrap_or_default(),
                );
                s.loss
            }
            Rule::Fa | Rule::Usf | Rule::Brsf | Rule::Frsf | Rule::Kp => {
                let s = feedback_gradients(&self.net, x, y, &b, true);
                self.adam_step();
                s.loss
            }
        }
    }
}

/// The seed of libtorch's generator for step `step` (dropout, NP noise).
fn step_seed(seed: u64, step: u64) -> i64 {
    (derive(seed, Stream::Noise, step) >> 1) as i64
}

impl Learner {
    /// Per hidden block, the angle in degrees (0..180) between the rule's weight gradient
    /// and backprop's, over the batch `x`, `y` without dropout, with the feedback of step
    /// `step`. Empty for bp. Leaves the gradients it made behind (the next
    /// [`Learner::step`] clears them).
    pub fn gradient_angles(&self, x: &Tensor, y: &Tensor, step: u64) -> Vec<f64> {
        if self.rule == Rule::Bp {
            return Vec::new();
        }
        let block_grads = |net: &Net| -> Vec<Tensor> {
            net.blocks
                .iter()
                .map(|b| b.w.grad().reshape([-1]).copy())
                .collect()
        };
        zero_grads(&self.net);
        let _ = bp_gradients(&self.net, x, y, false);
        let true_grads = block_grads(&self.net);
        zero_grads(&self.net);
        if self.rule.direct() {
            let _ = direct_gradients(&self.net, x, y, &self.d, false);
        } else {
            let _ = feedback_gradients(&self.net, x, y, &self.feedback(step), false);
        }
        let rule_grads = block_grads(&self.net);
        (true_grads.iter().zip(&rule_grads))
            .map(|(g, g_rule)| angle_deg(g, g_rule))
            .collect()
    }

    /// Per B^l (l = 2..L+1) of a layer-wise rule at `step`, the angle in degrees (0..180)
    /// between vec B^l and vec W^l (the peers' `weight_angle`). Empty for the other rules.
    pub fn weight_angles(&self, step: u64) -> Vec<f64> {
        let w = self.net.weights();
        (self.feedback(step).iter().zip(&w[1..]))
            .map(|(b, w)| tch::no_grad(|| angle_deg(&b.reshape([-1]), &w.reshape([-1]))))
            .collect()
    }
}

/// The angle in degrees (0..180) between two vectors.
fn angle_deg(a: &Tensor, b: &Tensor) -> f64 {
    let cos =
        a.dot(b).double_value(&[]) / (a.norm().double_value(&[]) * b.norm().double_value(&[]));
    cos.clamp(-1.0, 1.0).acos().to_degrees()
}

fn zero_grads(net: &Net) {
    for v in net.vs.trainable_variables() {
        let mut g = v.grad();
        if g.defined() {
            let _ = g.zero_();
        }
    }
}

/// Mean cross-entropy and accuracy of `net` on `x`, `y`, in batches, without dropout.
pub fn evaluate(net: &Net, x: &Tensor, y: &Tensor, batch: i64) -> (f64, f64) {
    tch::no_grad(|| {
        let n = x.size()[0];
        let mut loss = 0.0;
        let mut correct = 0i64;
        let mut start = 0;
        while start < n {
            let len = batch.min(n - start);
            let xb = x.narrow(0, start, len);
            let yb = y.narrow(0, start, len);
            let logits = net.forward(&xb, false); // [len, classes]
            loss += super::rules::ce_sum(&logits, &yb).double_value(&[]);
            correct += logits
                .argmax(-1, false)
                .eq_tensor(&yb)
                .sum(Kind::Int64)
                .int64_value(&[]);
            start += len;
        }
        (loss / n as f64, correct as f64 / n as f64)
    })
}
