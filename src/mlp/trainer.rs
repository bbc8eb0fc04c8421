//! `Trainer`: all mutable state of one batched program, and one training step.
//!
//! The state is W, B or D, the solver's sums (ridge V and S, in f64), the optimizer's
//! moments and step count, the running training loss and the iteration. Data order and
//! every noise stream are functions of (seed, stream, step) (`super::streams`), so the
//! iteration is the only stream position, and `save`/`load` of the tensors below is a
//! complete checkpoint.
use super::config::{Experiment, RunSpec, SolverKind};
use super::streams::{per_member, DataOrder, HiddenNoise};
use super::sweep::Group;
use super::tasks::TaskData;
use crate::checkpoint::State;
use crate::feedback::{ridge::Ridge, Solver};
use crate::metrics::{self, Measured};
use crate::nets::mlp::{Mlp, Trace};
use crate::optim::Optimizer;
use crate::rng::{NoiseStream, Stream};
use crate::rules::wm;
use crate::rules::{brsf, dfa, fa, frsf, np, Extra, Feedback, Form, Rule, Signals};
use anyhow::Result;
use tch::{Device, Kind, Tensor};

pub struct Trainer {
    pub net: Mlp,
    pub fb: Feedback,
    opt: Optimizer,
    /// Node perturbation's σ per member: [M, 1, 1].
    pub sigma: Tensor,
    rule: Rule,
    freeze_w: bool,
    warmup: u64,
    /// T, the minibatch size.
    batch: i64,
    order: DataOrder,
    np_noise: Option<HiddenNoise>,
    /// The "+noise" controls' hidden noise on the training pass, with its std.
    train_noise: Option<(HiddenNoise, Tensor)>,
    /// The denoising autoencoder's input noise, with its std.
    input_noise: Option<(NoiseStream, f64)>,
    /// Σ over steps since the last log of each member's batch loss: [M].
    loss_sum: Tensor,
    loss_steps: i64,
    /// The next step to run.
    pub iteration: u64,
}

impl Trainer {
    /// A program's initial state: every member drawn from its own seed.
    pub fn new(exp: &Experiment, group: &Group, n_train: i64, device: Device) -> Result<Self> {
        let spec = &group.spec;
        let t = exp.training.batch_size;
        anyhow::ensure!(
            n_train >= t,
            "training.batch_size {t} is larger than the training set ({n_train} examples)"
        );
        let seeds: Vec<u64> = group.members.iter().map(|m| m.seed).collect();
        let init_seeds = exp.training.init_seeds(&seeds);
        let sizes = &group.sizes;
        let act = &exp.network.activations;
        let mut net = Mlp::with_init(sizes, act, &init_seeds, spec.w_init, device);
        net.loss = exp.training.loss;
        net.reduction = exp.training.loss_reduction;
        // B (or D) from W's init or its own; a learned one may start at zero, as the authors'
        // code did (validated: only rules that learn their feedback take it).
        let b_init = spec.b_init.init(spec.w_init);
        let b = match spec.rule.form() {
            Form::Backprop => Vec::new(),
            Form::Feedback => fa::init_b(sizes, &init_seeds, b_init.unwrap_or_default(), device),
            Form::Direct => dfa::init_d(sizes, &init_seeds, b_init.unwrap_or_default(), device),
        };
        let b = match b_init {
            Some(_) => b,
            None => b.iter().map(Tensor::zeros_like).collect(),
        };
        let solver = spec.solver.map(|kind| match kind {
            SolverKind::Ridge => Solver::Ridge(ridge_sums(group, device)),
            SolverKind::Sgd => Solver::Sgd {
                beta: per_member(group.members.iter().map(|m| m.lr_b), device),
            },
        });
        let mut fb = Feedback::new(spec.rule, b, spec.perturb_bias, solver).with_extra(extra(
            spec,
            sizes,
            (&seeds, &init_seeds),
            n_train,
            device,
        ));
        fb.prepare(&net, 0);
        fb.warm_up(&net);
        let lr = per_member(group.members.iter().map(|m| m.lr), device);
        let opt = Optimizer::new(spec.optimizer, lr, &net.w, spec.adam_eps);
        let hidden = |stream| HiddenNoise::new(&seeds, stream, sizes, t, spec.perturb_bias, device);
        Ok(Self {
            sigma: per_member(group.members.iter().map(|m| m.sigma), device),
            np_noise: spec.rule.perturbs().then(|| hidden(Stream::Noise)),
            train_noise: spec.train_noise.map(|std| {
                (
                    hidden(Stream::TrainNoise),
                    Tensor::from(std as f32).to_device(device),
                )
            }),
            input_noise: spec.input_noise.map(|std| {
                (
                    NoiseStream::new(&seeds, Stream::InputNoise, t * sizes[0], device),
                    std,
                )
            }),
            order: DataOrder::new(exp.training.data_order, &seeds, n_train, t, device),
            loss_sum: Tensor::zeros([seeds.len() as i64], (Kind::Float, device)),
            loss_steps: 0,
            iteration: 0,
            rule: spec.rule,
            freeze_w: spec.freeze_w,
            warmup: spec.warmup,
            batch: t,
            net,
            fb,
            opt,
        })
    }

    /// One training step on batch `iteration`, then `iteration += 1`. With `measure`, also
    /// the alignment metrics of this batch, before this step's updates.
    pub fn step(&mut self, data: &TaskData, measure: bool) -> Vec<Measured> {
        let step = self.iteration;
        self.fb.prepare(&self.net, step);
        let (x, y) = self.batch(data, step); // [M, T, n_0], [M, T, n_{N+1}]
        let x_in = match self.input_noise.as_mut() {
            Some((noise, std)) => &x + noise.at(step).view_as(&x) * *std,
            None => x,
        };
        let xi_train = self
            .train_noise
            .as_mut()
            .map(|(noise, std)| noise.at(step, std));
        let trace = self.net.forward(&x_in, xi_train.as_deref());
        let loss_t = self.net.loss_terms(trace.a_out(), trace.y_hat(), &y); // [M, T]
        self.loss_sum += loss_t.sum_dim_intlist(1, false, None);
        self.loss_steps += 1;
        let e_out = self.net.output_error(&trace, &y);
        let lambda_hat = self.lambda_hat(&trace, &y, &loss_t, step);
        let e_tilde = self.fb.errors(&self.net, &trace, &e_out);
        let measured = if measure {
            metrics::alignment(&self.net, &trace, &e_out, &self.fb, &e_tilde)
        } else {
            Vec::new()
        };
        self.fb.fit(&Signals {
            net: &self.net,
            trace: &trace,
            e_out: &e_out,
            e_tilde: &e_tilde,
            lambda_hat: lambda_hat.as_deref(),
        });
        if !self.freeze_w && step >= self.warmup {
            self.update_w(&trace, &e_tilde);
        }
        self.fb.mirror(&self.net, step);
        self.iteration += 1;
        measured
    }

    /// The alignment metrics on batch `iteration`, with no update (the final ones).
    pub fn measure(&mut self, data: &TaskData) -> Vec<Measured> {
        self.fb.prepare(&self.net, self.iteration);
        let (x, y) = self.batch(data, self.iteration);
        let trace = self.net.forward(&x, None);
        let e_out = self.net.output_error(&trace, &y);
        let e_tilde = self.fb.errors(&self.net, &trace, &e_out);
        metrics::alignment(&self.net, &trace, &e_out, &self.fb, &e_tilde)
    }

    /// Each member's mean batch loss since the last call ([M]), or None if no step ran.
    pub fn take_train_loss(&mut self) -> Option<Tensor> {
        if self.loss_steps == 0 {
            return None;
        }
        let mean = &self.loss_sum / self.loss_steps as f64;
        let _ = self.loss_sum.zero_();
        self.loss_steps = 0;
        Some(mean)
    }

    /// Every tensor of the state, named.
    pub fn save(&mut self) -> Vec<(String, Tensor)> {
        let mut out: Vec<(String, Tensor)> = self
            .state_mut()
            .into_iter()
            .map(|(k, t)| (k, t.shallow_clone()))
            .collect();
        let counters = [
            ("iteration", self.iteration as i64),
            ("loss_steps", self.loss_steps),
            ("opt.steps", self.opt.steps()),
        ];
        out.extend(counters.map(|(k, v)| (k.to_string(), Tensor::from(v))));
        out
    }

    /// Restore a state written by `save` into this trainer (built by `new` for the same group).
    pub fn load(&mut self, state: &State) -> Result<()> {
        for (name, t) in self.state_mut() {
            state.restore(&name, t)?;
        }
        self.iteration = state.int("iteration")? as u64;
        self.loss_steps = state.int("loss_steps")?;
        self.opt.set_steps(state.int("opt.steps")?);
        Ok(())
    }

    fn state_mut(&mut self) -> Vec<(String, &mut Tensor)> {
        let mut out: Vec<(String, &mut Tensor)> = self
            .net
            .w
            .iter_mut()
            .enumerate()
            .map(|(i, w)| (format!("w.{i}"), w))
            .collect();
        out.extend(self.fb.state_mut());
        out.extend(self.opt.state_mut());
        out.push(("loss_sum".into(), &mut self.loss_sum));
        out
    }

    /// Step `step`'s batch: inputs [M, T, n_0] and targets [M, T, n_{N+1}].
    fn batch(&mut self, data: &TaskData, step: u64) -> (Tensor, Tensor) {
        let idx = self.order.batch(step); // [M, T]
        let n0 = data.train_x.size()[1];
        let x = data.train_x.index_select(0, &idx.reshape([-1])).view([
            self.net.members(),
            self.batch,
            n0,
        ]);
        let y = data.train_targets(&idx, &x);
        (x, y)
    }

    /// Λ̂^i = Ξ^i ΔL / σ² from one noisy pass (np, np_dfa): [M, T, n_i+1] per hidden layer.
    fn lambda_hat(
        &mut self,
        trace: &Trace,
        y: &Tensor,
        loss_t: &Tensor,
        step: u64,
    ) -> Option<Vec<Tensor>> {
        let xi = self.np_noise.as_mut()?.at(step, &self.sigma);
        let (a_noisy, y_noisy) = self.net.forward_noisy_out(trace, &xi);
        let delta_l = self.net.loss_terms(&a_noisy, &y_noisy, y) - loss_t; // [M, T]
        let lambda = xi.iter().map(|x| {
            let x = x.as_ref().expect("all hidden layers perturbed");
            np::lambda_hat(x, &delta_l, &self.sigma)
        });
        Some(lambda.collect())
    }

    /// ΔW from the optimizer on ∇W^i = aug(H^{i-1})ᵀ Ẽ^i; `matched` and `kp` move B by the
    /// same ΔW (`Feedback::apply_w_step`).
    fn update_w(&mut self, trace: &Trace, e_tilde: &[Tensor]) {
        if let (Optimizer::Sgd { lr }, false) = (&self.opt, self.rule.follows_w()) {
            self.net.sgd_step(trace, e_tilde, lr);
            return;
        }
        let grads = self.net.weight_grads(trace, e_tilde);
        let delta = self.opt.delta(&grads);
        self.fb.apply_w_step(&mut self.net.w, &delta);
    }
}

/// The rule's own state beyond B: frSF's fixed |M|, brSF's draws, KP's λ, WM's mirror.
/// A rule's state beyond B; frSF's |M| is part of the initial network (`init_seeds`), brSF's
/// and the mirror's per-step draws come from the runs' own `seeds`.
fn extra(
    spec: &RunSpec,
    sizes: &[i64],
    (seeds, init_seeds): (&[u64], &[u64]),
    n_train: i64,
    device: Device,
) -> Extra {
    match spec.rule {
        Rule::Frsf => Extra::Magnitude(frsf::draw_once(sizes, init_seeds, device)),
        Rule::Brsf => Extra::Draws(brsf::Draws::new(sizes, seeds, device)),
        Rule::Kp => Extra::Decay(spec.decay.unwrap_or_default()),
        Rule::Wm => {
            let (settings, batch, warmup) = wm::resolve(spec, n_train);
            Extra::Mirror(wm::Mirror::new(
                settings, batch, warmup, sizes, seeds, device,
            ))
        }
        _ => Extra::None,
    }
}

/// One ridge accumulator per fitted feedback matrix: B^{i+1} (rows n_i (+1 for the bias
/// row), regressor Ẽ^{i+1}) in feedback form, D^i (rows n_i, regressor E^{N+1}) in direct.
fn ridge_sums(group: &Group, device: Device) -> Vec<Ridge> {
    let (sizes, spec) = (&group.sizes, &group.spec);
    let m = group.members.len() as i64;
    let top = sizes.len() - 1;
    (1..top)
        .map(|i| match spec.rule.form() {
            Form::Direct => Ridge::new(m, sizes[i], sizes[top], spec.gamma, device),
            _ => Ridge::new(
                m,
                sizes[i] + spec.perturb_bias as i64,
                sizes[i + 1],
                spec.gamma,
                device,
            ),
        })
        .collect()
}
