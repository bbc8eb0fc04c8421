//! The "SG" ablation of Fig. 3: B^{i+1} is regressed onto the true gradient ∂L/∂h^i =
//! E^{i+1} W^{i+1}ᵀ instead of the noisy Λ̂^i, which node perturbation estimates. It is the
//! best that learning B this way can do.
use crate::feedback::Solver;
use crate::rules::{bp, Signals};

pub fn fit(b: &mut [tch::Tensor], solver: &mut Solver, fit_bias_row: bool, s: &Signals) {
    let e_true = bp::errors(s.net, s.trace, s.e_out);
    for i in 1..s.net.depth() {
        let rows = s.net.sizes[i] + fit_bias_row as i64;
        let w_rows = s.net.w[i].narrow(1, 0, rows); // W^{i+1}[:rows]: [M, rows, n_{i+1}]
        let target = e_true[i].bmm(&w_rows.transpose(1, 2)); // [M, T, rows]
        let mut b_rows = b[i - 1].narrow(1, 0, rows);
        solver.fit(i - 1, &mut b_rows, &s.e_tilde[i], &target);
    }
}
