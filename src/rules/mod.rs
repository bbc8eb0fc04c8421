//! Learning rules: what sends the error down, and how the feedback matrices change
//! (ALGORITHMS.md, "Rules to provide"). Each rule's own maths lives in its own file.
pub mod bp;
pub mod dfa;
pub mod fa;
pub mod matched;
pub mod np;
pub mod np_dfa;
pub mod sg;

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
        }
    }

    pub fn form(self) -> Form {
        match self {
            Rule::Bp => Form::Backprop,
            Rule::Fa | Rule::Np | Rule::Matched | Rule::Sg => Form::Feedback,
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
}

impl Feedback {
    pub fn new(rule: Rule, b: Vec<Tensor>, fit_bias_row: bool, solver: Option<Solver>) -> Self {
        Self {
            rule,
            b,
            fit_bias_row,
            solver,
        }
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
        out
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
