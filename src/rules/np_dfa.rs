//! Node perturbation in direct form (paper §4.3): D^i is fitted so that E^{N+1} D^iᵀ ≈ Λ̂^i.
use crate::feedback::Solver;
use crate::rules::Signals;

/// Fit every D^i, i = 1..N, with regressor R = E^{N+1} and target Λ̂^i[:, :, :n_i].
pub fn fit(d: &mut [tch::Tensor], solver: &mut Solver, s: &Signals) {
    let lambda_hat = s.lambda_hat.expect("np_dfa needs the noisy pass");
    for i in 1..s.net.depth() {
        let target = lambda_hat[i - 1].narrow(2, 0, s.net.sizes[i]);
        solver.fit(i - 1, &mut d[i - 1], s.e_out, &target);
    }
}
