//! Online ridge regression for a feedback matrix (the authors' code; Fig. 2 and Fig. 4).
//!
//! V = γI + Σ_steps RᵀR and S = Σ_steps targetᵀR, and after every step B = S V⁻¹, solved by
//! Cholesky (never an explicit inverse). No forgetting. The sums run over millions of steps,
//! so they are kept in f64.
use tch::{Device, Kind, Tensor};

pub struct Ridge {
    v: Tensor, // [M, n, n]
    s: Tensor, // [M, rows, n]
}

impl Ridge {
    pub fn new(members: i64, rows: i64, n: i64, gamma: f64, device: Device) -> Self {
        let v = (Tensor::eye(n, (Kind::Double, device)) * gamma)
            .expand([members, n, n], false)
            .contiguous();
        let s = Tensor::zeros([members, rows, n], (Kind::Double, device));
        Self { v, s }
    }

    /// The running sums V and S, for checkpoints.
    pub fn state_mut(&mut self) -> [(&'static str, &mut Tensor); 2] {
        [("v", &mut self.v), ("s", &mut self.s)]
    }

    /// Add one batch (r: [M, T, n], target: [M, T, rows]) and return B: [M, rows, n].
    pub fn fit(&mut self, r: &Tensor, target: &Tensor) -> Tensor {
        let r = r.to_kind(Kind::Double); // [M, T, n]
        let target = target.to_kind(Kind::Double); // [M, T, rows]
        let _ = self.v.baddbmm_(&r.transpose(1, 2), &r); // V += RᵀR, in place
        let _ = self.s.baddbmm_(&target.transpose(1, 2), &r); // S += targetᵀR

        // A member whose V is not positive definite (a diverged run) gets NaN, not an abort.
        let (l, _info) = self.v.linalg_cholesky_ex(false, false);
        let b_t = self.s.transpose(1, 2).cholesky_solve(&l, false); // V Bᵀ = Sᵀ: [M, n, rows]
        b_t.transpose(1, 2).to_kind(Kind::Float)
    }
}
