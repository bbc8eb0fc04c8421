//! SGD on ½||R Bᵀ − target||², summed over the batch (Fig. 3 and Table 1).
use tch::Tensor;

/// B ← B − β (R Bᵀ − target)ᵀ R, in place. b: [M, rows, n]; r: [M, T, n];
/// target: [M, T, rows]; beta: [M, 1, 1].
pub fn step(b: &mut Tensor, r: &Tensor, target: &Tensor, beta: &Tensor) {
    let residual = r.bmm(&b.transpose(1, 2)) - target; // [M, T, rows]
    let grad = residual.transpose(1, 2).bmm(r); // [M, rows, n]
    *b -= grad * beta;
}
