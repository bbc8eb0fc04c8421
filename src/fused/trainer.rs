//! The fused engine's `Trainer`: all state of one batched program of M members, stepped
//! by hand on the CPU (`member.rs`), members spread over threads.
//!
//! Members are independent between logs, so `advance` runs each member through every step
//! up to the next event on one thread, with no barrier per step: a thread that loses its
//! core to another process slows its own members only.
use super::data::HostData;
use super::member::{Member, Plan};
use super::mirror::Mirror;
use super::noise::{Counter, StepDraws};
use crate::checkpoint::State;
use crate::metrics::{self, Measured};
use crate::mlp::config::Experiment;
use crate::mlp::sweep::Group;
use crate::mlp::tasks::TaskData;
use crate::nets::mlp::{Mlp, Trace};
use crate::rules::{dfa, fa, frsf, wm, Feedback, Form, Rule};
use anyhow::Result;
use tch::{Device, Kind, Tensor};

pub struct Trainer {
    plan: Plan,
    members: Vec<Member>,
    data: HostData,
    threads: usize,
    /// Steps since the last log (the train loss's denominator).
    loss_steps: u64,
    /// The next step to run.
    pub iteration: u64,
}

impl Trainer {
    /// A program's initial state, drawn exactly as the torch engine draws it (the same W and
    /// B for the same seeds); `threads` CPU threads step its members.
    pub fn new(exp: &Experiment, group: &Group, data: &TaskData, threads: usize) -> Result<Self> {
        Self::with_draws(exp, group, data, threads, |_| Box::new(Counter))
    }

    /// As `new`, with each member's per-step draws from `source(seed)` instead of the
    /// engine's own generator (a test feeds the torch engine's draws this way). The draws
    /// before the first step (brSF's B of step 0, the mirror's warm-up) come from it too.
    pub fn with_draws(
        exp: &Experiment,
        group: &Group,
        data: &TaskData,
        threads: usize,
        source: impl Fn(u64) -> Box<dyn StepDraws>,
    ) -> Result<Self> {
        super::check(exp, group, Device::Cpu)?;
        let spec = &group.spec;
        let data = HostData::new(data)?;
        anyhow::ensure!(
            data.len >= exp.training.batch_size as usize,
            "training.batch_size {} is larger than the training set ({} examples)",
            exp.training.batch_size,
            data.len
        );
        let seeds: Vec<u64> = group.members.iter().map(|m| m.seed).collect();
        let init_seeds = exp.training.init_seeds(&seeds);
        let (sizes, cpu) = (&group.sizes, Device::Cpu);
        let net = Mlp::with_init(
            sizes,
            &exp.network.activations,
            &init_seeds,
            spec.w_init,
            cpu,
        );
        let b_init = spec.b_init.init(spec.w_init);
        let b = match spec.rule.form() {
            Form::Backprop => Vec::new(),
            Form::Feedback => fa::init_b(sizes, &init_seeds, b_init.unwrap_or_default(), cpu),
            Form::Direct => dfa::init_d(sizes, &init_seeds, b_init.unwrap_or_default(), cpu),
        };
        let zero_b = b_init.is_none();
        let m_abs = match spec.rule {
            Rule::Frsf => frsf::draw_once(sizes, &init_seeds, cpu),
            _ => Vec::new(),
        };
        let mirror = (spec.rule == Rule::Wm).then(|| {
            let (settings, batch, warmup) = wm::resolve(spec, data.len as i64);
            Mirror {
                settings,
                batch: batch as usize,
                warmup,
            }
        });
        let plan = Plan {
            sizes: group.sizes.iter().map(|&n| n as usize).collect(),
            act: exp.network.activations.clone(),
            rule: spec.rule,
            solver: spec.solver,
            gamma: spec.gamma,
            perturb_bias: spec.perturb_bias,
            warmup: spec.warmup,
            freeze_w: spec.freeze_w,
            batch: exp.training.batch_size as usize,
            order: (exp.training.data_order, data.len),
            train_noise: spec.train_noise.map(|s| s as f32),
            loss: (exp.training.loss, exp.training.loss_reduction),
            decay: spec.decay.unwrap_or(0.0), // validated: kp's only
            mirror,
        };
        let mut members = group
            .members
            .iter()
            .enumerate()
            .map(|(k, m)| {
                let host = |t: &Tensor| host_f32(&t.get(k as i64));
                let w = net.w.iter().map(host).collect::<Result<Vec<_>>>()?;
                let mut b = b.iter().map(host).collect::<Result<Vec<_>>>()?;
                if zero_b {
                    b.iter_mut().for_each(|b| b.fill(0.0));
                }
                let m_abs = m_abs.iter().map(host).collect::<Result<Vec<_>>>()?;
                let rates = (m.lr as f32, m.sigma as f32, m.lr_b as f32);
                let noise = source(m.seed);
                Ok(Member::new(&plan, m.seed, rates, w, b, m_abs, noise))
            })
            .collect::<Result<Vec<_>>>()?;
        let threads = threads.clamp(1, members.len().max(1));
        // As the torch engine: sign symmetry's B of step 0, then the mirror's warm-up.
        on_threads(&mut members, threads, |m| {
            m.prepare(&plan, 0);
            m.warm_up(&plan);
        });
        Ok(Self {
            plan,
            members,
            data,
            threads,
            loss_steps: 0,
            iteration: 0,
        })
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Share of non-zero training inputs (the first layer's cost scales with it).
    pub fn input_density(&self) -> f64 {
        self.data.density
    }

    /// Whether the first layer runs on the non-zero inputs only.
    pub fn sparse_inputs(&self) -> bool {
        matches!(self.data.inputs, super::data::Inputs::Sparse { .. })
    }

    /// Run steps `iteration..until` with no metrics; each member on one thread throughout.
    pub fn advance(&mut self, until: u64) {
        let from = self.iteration;
        if until <= from {
            return;
        }
        let (plan, data) = (&self.plan, &self.data);
        on_threads(&mut self.members, self.threads, |m| {
            (from..until).for_each(|k| m.step(plan, data, k, false))
        });
        self.loss_steps += until - from;
        self.iteration = until;
    }

    /// One step; with `measure`, also the alignment metrics of this batch before its updates,
    /// for the B this step uses (sign symmetry's is built from W first; the step rebuilds the
    /// same one).
    pub fn step(&mut self, measure: bool) -> Result<Vec<Measured>> {
        let k = self.iteration;
        if measure && self.plan.rule.sign_symmetric() {
            let plan = &self.plan;
            on_threads(&mut self.members, self.threads, |m| m.prepare(plan, k));
        }
        let before = measure.then(|| self.weights());
        let (plan, data) = (&self.plan, &self.data);
        on_threads(&mut self.members, self.threads, |m| {
            m.step(plan, data, k, measure)
        });
        self.loss_steps += 1;
        self.iteration += 1;
        match before {
            Some((w, b)) => self.alignment(w, b),
            None => Ok(Vec::new()),
        }
    }

    /// The alignment metrics on batch `iteration`, with no update (the final ones).
    pub fn measure(&mut self) -> Result<Vec<Measured>> {
        let k = self.iteration;
        let (plan, data) = (&self.plan, &self.data);
        on_threads(&mut self.members, self.threads, |m| {
            m.observe(plan, data, k)
        });
        let (w, b) = self.weights();
        self.alignment(w, b)
    }

    /// Each member's mean batch loss since the last call, or None if no step ran.
    pub fn take_train_loss(&mut self) -> Option<Vec<f64>> {
        if self.loss_steps == 0 {
            return None;
        }
        let steps = self.loss_steps as f64;
        self.loss_steps = 0;
        Some(
            self.members
                .iter_mut()
                .map(|m| std::mem::take(&mut m.loss_sum) / steps)
                .collect(),
        )
    }

    /// The network as the torch engine holds it (for evaluation and the latent code).
    pub fn net(&self) -> Mlp {
        let w = (0..self.plan.depth())
            .map(|i| self.stack(|m| &m.w[i], self.w_shape(i)))
            .collect();
        Mlp {
            sizes: self.plan.sizes.iter().map(|&n| n as i64).collect(),
            act: self.plan.act.clone(),
            w,
            loss: self.plan.loss.0,
            reduction: self.plan.loss.1,
        }
    }

    /// σ per member: [M, 1, 1].
    pub fn sigma(&self) -> Tensor {
        let s: Vec<f32> = self.members.iter().map(|m| m.sigma).collect();
        Tensor::from_slice(&s).view([-1, 1, 1])
    }

    /// Every part of the state, named: W, B, frSF's |M|, the ridge sums, the loss and the
    /// counters.
    pub fn save(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for i in 0..self.plan.depth() {
            out.push((format!("w.{i}"), self.stack(|m| &m.w[i], self.w_shape(i))));
        }
        for k in 0..self.members[0].b.len() {
            let shape = self.b_shape(k);
            out.push((format!("b.{k}"), self.stack(|m| &m.b[k], shape)));
        }
        for k in 0..self.members[0].m_abs.len() {
            let shape = self.b_shape(k);
            out.push((format!("m.{k}"), self.stack(|m| &m.m_abs[k], shape)));
        }
        for k in 0..self.members[0].ridge.len() {
            for (name, pick) in [("v", 0), ("s", 1)] {
                let parts: Vec<Tensor> = self
                    .members
                    .iter()
                    .map(|m| {
                        let r = &m.ridge[k];
                        let n = (r.v.len() as f64).sqrt() as i64;
                        Tensor::from_slice(if pick == 0 { &r.v } else { &r.s }).view([-1, n])
                    })
                    .collect();
                out.push((format!("ridge.{k}.{name}"), Tensor::stack(&parts, 0)));
            }
        }
        let loss: Vec<f64> = self.members.iter().map(|m| m.loss_sum).collect();
        out.push(("loss_sum".into(), Tensor::from_slice(&loss)));
        out.push(("iteration".into(), Tensor::from(self.iteration as i64)));
        out.push(("loss_steps".into(), Tensor::from(self.loss_steps as i64)));
        out
    }

    /// Restore a state written by `save` into this trainer (built by `new` for the same group).
    pub fn load(&mut self, state: &State) -> Result<()> {
        for (name, mut t) in self.save() {
            if t.dim() == 0 {
                continue;
            }
            state.restore(&name, &mut t)?;
            self.set(&name, &t)?;
        }
        self.iteration = state.int("iteration")? as u64;
        self.loss_steps = state.int("loss_steps")? as u64;
        Ok(())
    }

    /// Write the saved tensor `name` ([M, ...]) back into each member.
    fn set(&mut self, name: &str, t: &Tensor) -> Result<()> {
        let parts: Vec<&str> = name.split('.').collect();
        for (k, m) in self.members.iter_mut().enumerate() {
            let row = t.get(k as i64);
            match parts.as_slice() {
                ["w", i] => m.w[i.parse::<usize>()?] = host_f32(&row)?,
                ["b", i] => m.b[i.parse::<usize>()?] = host_f32(&row)?,
                ["m", i] => m.m_abs[i.parse::<usize>()?] = host_f32(&row)?,
                ["ridge", i, which] => {
                    let v = Vec::<f64>::try_from(row.reshape([-1]))?;
                    let r = &mut m.ridge[i.parse::<usize>()?];
                    *(if *which == "v" { &mut r.v } else { &mut r.s }) = v;
                }
                ["loss_sum"] => m.loss_sum = row.double_value(&[]),
                _ => anyhow::bail!("the fused engine has no state `{name}`"),
            }
        }
        Ok(())
    }

    /// Copies of every member's W and B (the metrics compare the pre-update matrices).
    #[allow(clippy::type_complexity)]
    fn weights(&self) -> (Vec<Vec<Vec<f32>>>, Vec<Vec<Vec<f32>>>) {
        let w = self.members.iter().map(|m| m.w.clone()).collect();
        let b = self.members.iter().map(|m| m.b.clone()).collect();
        (w, b)
    }

    /// The torch engine's metrics on this step's buffers and the given W and B.
    fn alignment(&self, w: Vec<Vec<Vec<f32>>>, b: Vec<Vec<Vec<f32>>>) -> Result<Vec<Measured>> {
        let p = &self.plan;
        let n = p.depth();
        let stack_of = |parts: Vec<&[f32]>, cols: usize| -> Tensor {
            let all: Vec<Tensor> = parts.into_iter().map(Tensor::from_slice).collect();
            Tensor::stack(&all, 0).view([self.members.len() as i64, -1, cols as i64])
        };
        let per = |f: &dyn Fn(&Member) -> &[f32], cols: usize| {
            stack_of(self.members.iter().map(f).collect(), cols)
        };
        let net = Mlp {
            sizes: p.sizes.iter().map(|&n| n as i64).collect(),
            act: p.act.clone(),
            w: (0..n)
                .map(|i| stack_of(w.iter().map(|m| m[i].as_slice()).collect(), p.sizes[i + 1]))
                .collect(),
            loss: Default::default(),
            reduction: Default::default(),
        };
        let mut h_aug = vec![per(&|m| &m.buf.x_aug, p.sizes[0] + 1)];
        h_aug.extend((1..n).map(|i| per(&|m| &m.buf.h_aug[i - 1], p.sizes[i] + 1)));
        let trace = Trace {
            h_aug,
            a: (1..=n)
                .map(|i| per(&|m| &m.buf.a[i - 1], p.sizes[i]))
                .collect(),
            h: (1..=n)
                .map(|i| per(&|m| &m.buf.h[i - 1], p.sizes[i]))
                .collect(),
        };
        let e_tilde: Vec<Tensor> = (1..=n)
            .map(|i| per(&|m| &m.buf.e[i - 1], p.sizes[i]))
            .collect();
        let b_cols = |k: usize| self.b_shape(k)[1] as usize;
        let b: Vec<Tensor> = (0..self.members[0].b.len())
            .map(|k| stack_of(b.iter().map(|m| m[k].as_slice()).collect(), b_cols(k)))
            .collect();
        let fb = Feedback::new(p.rule, b, p.perturb_bias, None);
        Ok(metrics::alignment(
            &net,
            &trace,
            &e_tilde[n - 1],
            &fb,
            &e_tilde,
        ))
    }

    /// [rows, cols] of W^{i+1}.
    fn w_shape(&self, i: usize) -> [i64; 2] {
        let s = &self.plan.sizes;
        [s[i] as i64 + 1, s[i + 1] as i64]
    }

    /// [rows, cols] of b[k]: B^{k+2} in feedback form, D^{k+1} in direct form.
    fn b_shape(&self, k: usize) -> [i64; 2] {
        let s = &self.plan.sizes;
        match self.plan.rule.form() {
            Form::Direct => [s[k + 1] as i64, s[self.plan.depth()] as i64],
            _ => [s[k + 1] as i64 + 1, s[k + 2] as i64],
        }
    }

    /// [M, rows, cols] from each member's slice.
    fn stack<'a>(&'a self, f: impl Fn(&'a Member) -> &'a Vec<f32>, shape: [i64; 2]) -> Tensor {
        let parts: Vec<Tensor> = self
            .members
            .iter()
            .map(|m| Tensor::from_slice(f(m)).view(shape))
            .collect();
        Tensor::stack(&parts, 0)
    }
}

/// Run `f` on every member, the members split over `threads` scoped threads.
fn on_threads(members: &mut [Member], threads: usize, f: impl Fn(&mut Member) + Sync) {
    if threads <= 1 {
        members.iter_mut().for_each(f);
        return;
    }
    let per_thread = members.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        for part in members.chunks_mut(per_thread) {
            s.spawn(move || part.iter_mut().for_each(f));
        }
    });
}

fn host_f32(t: &Tensor) -> Result<Vec<f32>> {
    Ok(Vec::<f32>::try_from(
        t.to_kind(Kind::Float).contiguous().reshape([-1]),
    )?)
}
