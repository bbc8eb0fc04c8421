//! Learning rules: what sends the error down, and how the feedback matrices change
//! (ALGORITHMS.md, "Rules to provide"). Each rule's own maths lives in its own file.
pub mod bp;
pub mod brsf;
pub mod dfa;
pub mod fa;
pub mod frsf;
pub mod kp;
pub mod matched;
pub mod np;
pub mod np_dfa;
pub mod sg;
pub mod usf;
pub mod wm;

use crate::feedback::Solver;
use crate::nets::mlp::{Mlp, Trace};
use serde::{Deserialize, Serialize};
use tch::Tensor;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Bp,
    Fa,
    Dfa,
    Np,
    NpDfa,
    Matched,
    Sg,
    Usf,
    Brsf,
    Frsf,
    Kp,
    Wm,
}

/// How error signals travel down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// Through W itself.
    Backprop,
    /// Layer by layer through B^{i+1} (paper §4.1).
    Feedback,
    /// Straight from the output through D^i (paper §4.3).
    Direct,
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Rule::Bp => "bp",
            Rule::Fa => "fa",
            Rule::Dfa => "dfa",
            Rule::Np => "np",
            Rule::NpDfa => "np_dfa",
            Rule::Matched => "matched",
            Rule::Sg => "sg",
            Rule::Usf => "usf",
            Rule::Brsf => "brsf",
            Rule::Frsf => "frsf",
            Rule::Kp => "kp",
            Rule::Wm => "wm",
        }
    }

    pub fn form(self) -> Form {
        match self {
            Rule::Bp => Form::Backprop,
            Rule::Fa | Rule::Np | Rule::Matched | Rule::Sg => Form::Feedback,
            Rule::Usf | Rule::Brsf | Rule::Frsf | Rule::Kp | Rule::Wm => Form::Feedback,
            Rule::Dfa | Rule::NpDfa => Form::Direct,
        }
    }

    /// Needs the extra noisy forward pass of node perturbation.
    pub fn perturbs(self) -> bool {
        matches!(self, Rule::Np | Rule::NpDfa)
    }

    /// Fits its feedback matrices with a solver (ridge or SGD).
    pub fn fits_feedback(self) -> bool {
        matches!(self, Rule::Np | Rule::NpDfa | Rule::Sg)
    }

    /// B is sign(W) times a magnitude, rebuilt from W every step (no initial B).
    pub fn sign_symmetric(self) -> bool {
        matches!(self, Rule::Usf | Rule::Brsf | Rule::Frsf)
    }

    /// B receives W's own step (matched, kp).
    pub fn follows_w(self) -> bool {
        matches!(self, Rule::Matched | Rule::Kp)
    }

    /// Its B (or D) changes from a starting value during training.
    pub fn learns_feedback(self) -> bool {
        self.fits_feedback() || matches!(self, Rule::Matched | Rule::Kp | Rule::Wm)
    }

    /// Starts from a drawn B (or D): every rule with feedback but sign symmetry.
    pub fn draws_feedback(self) -> bool {
        self.form() != Form::Backprop && !self.sign_symmetric()
    }
}

/// What a rule keeps beyond B and its solver.
pub enum Extra {
    None,
    /// frSF's fixed |M^i|, i = 2..N+1 (`frsf::draw_once`).
    Magnitude(Vec<Tensor>),
    /// brSF's |M| of every step.
    Draws(brsf::Draws),
    /// Kolen–Pollack's decay λ.
    Decay(f64),
    /// The weight mirror.
    Mirror(wm::Mirror),
}

/// What one step hands to the feedback update.
pub struct Signals<'a> {
    pub net: &'a Mlp,
    pub trace: &'a Trace,
    /// E^{N+1}: [M, T, n_{N+1}]
    pub e_out: &'a Tensor,
    /// e_tilde[i-1] = Ẽ^i, i = 1..N+1, computed with the feedback before this update.
    pub e_tilde: &'a [Tensor],
    /// lambda_hat[i-1] = Λ̂^i, i = 1..N: [M, T, n_i+1] (node perturbation only).
    pub lambda_hat: Option<&'a [Tensor]>,
}

/// A rule's feedback pathway and its state.
pub struct Feedback {
    pub rule: Rule,
    /// Feedback form: b[i-2] = B^i, i = 2..N+1: [M, n_{i-1}+1, n_i].
    /// Direct form:   b[i-1] = D^i, i = 1..N:   [M, n_i, n_{N+1}].
    /// Backprop: empty.
    pub b: Vec<Tensor>,
    /// Whether B's bias row is fitted (false when the bias unit is not perturbed).
    pub fit_bias_row: bool,
    solver: Option<Solver>,
    extra: Extra,
}

impl Feedback {
    pub fn new(rule: Rule, b: Vec<Tensor>, fit_bias_row: bool, solver: Option<Solver>) -> Self {
        Self {
            rule,
            b,
            fit_bias_row,
            solver,
            extra: Extra::None,
        }
    }

    /// The rule's own state or draws (brsf, frsf, kp, wm).
    pub fn with_extra(mut self, extra: Extra) -> Self {
        self.extra = extra;
        self
    }

    /// B (or D) and the solver's state, named for checkpoints.
    pub fn state_mut(&mut self) -> Vec<(String, &mut Tensor)> {
        let mut out: Vec<(String, &mut Tensor)> = self
            .b
            .iter_mut()
            .enumerate()
            .map(|(k, b)| (format!("b.{k}"), b))
            .collect();
        if let Some(solver) = self.solver.as_mut() {
            out.extend(solver.state_mut());
        }
        if let Extra::Magnitude(m_abs) = &mut self.extra {
            out.extend(
                m_abs
                    .iter_mut()
                    .enumerate()
                    .map(|(k, m)| (format!("m.{k}"), m)),
            );
        }
        out
    }

    /// Set the B of step `step` where it is a function of the current W: sign symmetry.
    pub fn prepare(&mut self, net: &Mlp, step: u64) {
        match (&mut self.extra, self.rule) {
            (_, Rule::Usf) => self.b = usf::feedback(&net.w, &net.sizes),
            (Extra::Draws(draws), Rule::Brsf) => self.b = brsf::feedback(&net.w, &draws.at(step)),
            (Extra::Magnitude(m_abs), Rule::Frsf) => self.b = brsf::feedback(&net.w, m_abs),
            _ => {}
        }
    }

    /// Apply the optimizer's ΔW (delta_w[i-1] = ΔW^i) to W, and to B where the rule says:
    /// matched adds it, kp decays both and adds it.
    pub fn apply_w_step(&mut self, w: &mut [Tensor], delta_w: &[Tensor]) {
        if let Extra::Decay(lambda) = self.extra {
            return kp::step(w, &mut self.b, delta_w, lambda);
        }
        for (w_i, d) in w.iter_mut().zip(delta_w) {
            *w_i += d;
        }
        if self.rule == Rule::Matched {
            matched::follow(&mut self.b, delta_w);
        }
    }

    /// The weight mirror's steps before training.
    pub fn warm_up(&mut self, net: &Mlp) {
        if let Extra::Mirror(mirror) = &mut self.extra {
            mirror.warm_up(net, &mut self.b);
        }
    }

    /// The weight mirror's step after training step `step`.
    pub fn mirror(&mut self, net: &Mlp, step: u64) {
        if let Extra::Mirror(mirror) = &mut self.extra {
            let k = mirror.warmup + step;
            mirror.step(net, &mut self.b, k);
        }
    }

    /// Ẽ^i for i = 1..N+1 (the last is E^{N+1} itself).
    pub fn errors(&self, net: &Mlp, trace: &Trace, e_out: &Tensor) -> Vec<Tensor> {
        match self.rule.form() {
            Form::Backprop => bp::errors(net, trace, e_out),
            Form::Feedback => net.errors_fa(trace, e_out, &self.b),
            Form::Direct => net.errors_direct(trace, e_out, &self.b),
        }
    }

    /// Fit the feedback matrices to this step's targets (np, np_dfa, sg).
    pub fn fit(&mut self, s: &Signals) {
        let Some(solver) = self.solver.as_mut() else {
            return;
        };
        match self.rule {
            Rule::Np => np::fit(&mut self.b, solver, self.fit_bias_row, s),
            Rule::NpDfa => np_dfa::fit(&mut self.b, solver, s),
            Rule::Sg => sg::fit(&mut self.b, solver, self.fit_bias_row, s),
            _ => {}
        }
    }
}
