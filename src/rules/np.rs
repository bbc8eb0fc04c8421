//! Node perturbation (paper §2.2–2.4): the noisy pass's change in loss, correlated with the
//! noise, estimates ∂L/∂h, and B^{i+1} is fitted so that Ẽ^{i+1} B^{i+1}ᵀ ≈ Λ̂^i.
use crate::feedback::Solver;
use crate::rules::Signals;
use tch::Tensor;

/// Λ̂^i = Ξ^i ΔL / σ², with Ξ^i ~ N(0, σ²) element-wise: [M, T, n_i+1].
/// delta_l: [M, T]; sigma: [M, 1, 1]. Dividing by σ² (not σ) because Ξ already carries one σ:
/// this is the paper's (L̃ − L) ξ / c_h with unit-variance ξ.
pub fn lambda_hat(xi: &Tensor, delta_l: &Tensor, sigma: &Tensor) -> Tensor {
    xi * delta_l.unsqueeze(-1) / sigma.square()
}

/// Fit every B^{i+1}, i = 1..N, with regressor R = Ẽ^{i+1} (the true E^{N+1} at the top, the
/// synthetic error below) and target Λ̂^i.
pub fn fit(b: &mut [Tensor], solver: &mut Solver, fit_bias_row: bool, s: &Signals) {
    let lambda_hat = s.lambda_hat.expect("np needs the noisy pass");
    for i in 1..s.net.depth() {
        let rows = s.net.sizes[i] + fit_bias_row as i64;
        let target = lambda_hat[i - 1].narrow(2, 0, rows);
        let mut b_rows = b[i - 1].narrow(1, 0, rows);
        solver.fit(i - 1, &mut b_rows, &s.e_tilde[i], &target);
    }
}
