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
    /// The solver's own state (the ridge sums; SGD has none), named for checkpoints.
    pub fn state_mut(&mut self) -> Vec<(String, &mut Tensor)> {
        match self {
            Solver::Ridge(acc) => acc
                .iter_mut()
                .enumerate()
                .flat_map(|(k, r)| r.state_mut().map(|(n, t)| (format!("ridge.{k}.{n}"), t)))
                .collect(),
            Solver::Sgd { .. } => Vec::new(),
        }
    }

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
