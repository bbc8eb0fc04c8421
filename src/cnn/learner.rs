//! A network, its optimiser and (for dfa / np_dfa) its feedback matrices: one training step.
use super::config::RuleSpec;
use super::net::{Net, NetworkSpec};
use super::rules::{bp_gradients, direct_gradients, init_d, lambda_hat, update_d_except, Rule};
use crate::optim::{Optimizer, OptimizerKind};
use anyhow::Result;
use tch::{Device, Kind, Tensor};

pub struct Learner {
    pub rule: Rule,
    pub spec: RuleSpec,
    pub net: Net,
    /// `D^l`, `[D_l, classes]` per hidden block; empty for bp.
    pub d: Vec<Tensor>,
    /// The trainable variables, in creation order (what Adam steps, and checkpoints name).
    params: Vec<Tensor>,
    /// Adam on W ([`crate::optim`], PyTorch's update; its state can be checkpointed).
    opt: Optimizer,
}

impl Learner {
    /// A fresh network (and feedback) for inputs of per-sample shape `input`.
    pub fn new(
        network: &NetworkSpec,
        input: [i64; 3],
        classes: i64,
        rule: Rule,
        spec: &RuleSpec,
        device: Device,
    ) -> Result<Learner> {
        let net = Net::new(network, input, classes, device)?;
        let params = net.vs.trainable_variables();
        let lr = Tensor::from(spec.lr).to_device(device);
        let opt = Optimizer::new(OptimizerKind::Adam, lr, &params, spec.adam_eps);
        let d = match rule {
            Rule::Bp => Vec::new(),
            Rule::Dfa | Rule::NpDfa => init_d(
                &net.feedback_sizes(),
                classes,
                network.feedback_init,
                Kind::Float,
                device,
            ),
        };
        Ok(Learner {
            rule,
            spec: spec.clone(),
            net,
            d,
            params,
            opt,
        })
    }

    /// An Adam step on every variable from its gradient.
    fn adam_step(&mut self) {
        let grads: Vec<Tensor> = self.params.iter().map(Tensor::grad).collect();
        let deltas = tch::no_grad(|| self.opt.delta(&grads));
        tch::no_grad(|| {
            for (p, d) in self.params.iter_mut().zip(&deltas) {
                *p += d;
            }
        });
    }

    /// Every tensor of the learner's state, named: weights, D, Adam's moments and step count.
    pub fn state_mut(&mut self) -> Vec<(String, &mut Tensor)> {
        let mut out: Vec<(String, &mut Tensor)> = Vec::new();
        for (i, p) in self.params.iter_mut().enumerate() {
            out.push((format!("w.{i}"), p));
        }
        for (i, d) in self.d.iter_mut().enumerate() {
            out.push((format!("d.{i}"), d));
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

    /// One step on batch `x` `[T, 3, H, W]`, `y` `[T]`: gradients by the rule, an Adam step
    /// on W, and for np_dfa an SGD step on D. Returns the clean pass's loss (cross-entropy
    /// summed over the batch), detached and on the device.
    pub fn step(&mut self, x: &Tensor, y: &Tensor) -> Tensor {
        zero_grads(&self.net);
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
        }
    }
}

impl Learner {
    /// Per hidden block, the angle in degrees (0..180) between the rule's weight gradient
    /// and backprop's, over the batch `x`, `y` without dropout. Empty for bp. Leaves the
    /// gradients it made behind (the next [`Learner::step`] clears them).
    pub fn gradient_angles(&self, x: &Tensor, y: &Tensor) -> Vec<f64> {
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
        let _ = direct_gradients(&self.net, x, y, &self.d, false);
        let rule_grads = block_grads(&self.net);
        true_grads
            .iter()
            .zip(&rule_grads)
            .map(|(g, g_rule)| {
                let cos = g.dot(g_rule).double_value(&[])
                    / (g.norm().double_value(&[]) * g_rule.norm().double_value(&[]));
                cos.clamp(-1.0, 1.0).acos().to_degrees()
            })
            .collect()
    }
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
