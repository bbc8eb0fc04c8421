//! The two solvers that fit a feedback matrix to its regression target (ALGORITHMS.md,
//! "Fitting the feedback matrices"): find B with R Bᵀ ≈ target.
pub mod ridge;
pub mod sgd;

use tch::Tensor;

pub enum Solver {
    /// Online ridge regression, one accumulator per feedback matrix.
    Ridge(Vec<ridge::Ridge>),
    /// SGD with per-member step size β: [M, 1, 1].
    Sgd { beta: Tensor },
}

impl Solver {
    /// One fit of feedback matrix k. `b_rows` is a view of the rows being fitted:
    /// [M, rows, n]; r: [M, T, n]; target: [M, T, rows].
    pub fn fit(&mut self, k: usize, b_rows: &mut Tensor, r: &Tensor, target: &Tensor) {
        match self {
            Solver::Ridge(acc) => {
                let b_new = acc[k].fit(r, target);
                b_rows.copy_(&b_new);
            }
            Solver::Sgd { beta } => sgd::step(b_rows, r, target, beta),
        }
    }
}
