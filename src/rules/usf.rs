//! Uniform sign-concordant feedback, uSF (Liao, Leibo & Poggio 2016; biotorch's
//! `fa_constructor`): B^i = s_i · sign(W^i), s_i = √(2/(fan_in + fan_out)), a constant from the
//! init, recomputed from the current W every step. sign(0) = 0.
use tch::Tensor;

/// s_i = √(2/(fan_in + fan_out)) with fans (n_{i-1}, n_i).
pub fn scale(fan_in: i64, fan_out: i64) -> f64 {
    (2.0 / (fan_in + fan_out) as f64).sqrt()
}

/// b[i-2] = s_i · sign(W^i) for i = 2..N+1, from w[i-1] = W^i: [M, n_{i-1}+1, n_i].
pub fn feedback(w: &[Tensor], sizes: &[i64]) -> Vec<Tensor> {
    (2..sizes.len())
        .map(|i| w[i - 1].sign() * scale(sizes[i - 1], sizes[i]))
        .collect()
}
