//! Batchwise random-magnitude sign-concordant feedback, brSF (Moskovitz et al. 2018;
//! biotorch): B^i = |M^i| ∘ sign(W^i), M^i ~ U(−a_i, a_i) element-wise with
//! a_i = √(6/(fan_in + fan_out)), M redrawn every step. frSF shares the formula with M fixed.
use crate::rng::{Dist, NoiseStream, Stream};
use tch::{Device, Tensor};

/// a_i = √(6/(fan_in + fan_out)) with fans (n_{i-1}, n_i): the bound of W's Xavier init.
pub fn bound(fan_in: i64, fan_out: i64) -> f64 {
    (6.0 / (fan_in + fan_out) as f64).sqrt()
}

/// b[i-2] = |M^i| ∘ sign(W^i) for i = 2..N+1; m_abs[i-2] = |M^i|, shaped like W^i.
pub fn feedback(w: &[Tensor], m_abs: &[Tensor]) -> Vec<Tensor> {
    m_abs
        .iter()
        .enumerate()
        .map(|(k, m)| m * w[k + 1].sign())
        .collect()
}

/// |M^i| = |a_i (2u − 1)| from u ~ U[0, 1): [M, rows, cols].
pub(super) fn magnitude(u: &Tensor, a: f64) -> Tensor {
    ((u * 2.0 - 1.0) * a).abs()
}

/// The shape [n_{i-1}+1, n_i] and bound a_i of every B^i, i = 2..N+1.
pub(super) fn layers(sizes: &[i64]) -> Vec<([i64; 2], f64)> {
    (2..sizes.len())
        .map(|i| ([sizes[i - 1] + 1, sizes[i]], bound(sizes[i - 1], sizes[i])))
        .collect()
}

/// brSF's |M| of every step: a function of (seed, step), so nothing to checkpoint.
pub struct Draws {
    stream: NoiseStream,
    layers: Vec<([i64; 2], f64)>,
}

impl Draws {
    pub fn new(sizes: &[i64], seeds: &[u64], device: Device) -> Self {
        let layers = layers(sizes);
        let per_step = layers.iter().map(|(s, _)| s[0] * s[1]).sum();
        let stream = NoiseStream::of(
            seeds,
            Stream::SignMagnitudeSteps,
            per_step,
            Dist::Uniform,
            device,
        );
        Self { stream, layers }
    }

    /// m_abs[i-2] = |M^i| of step `step`: [M, n_{i-1}+1, n_i].
    pub fn at(&mut self, step: u64) -> Vec<Tensor> {
        let u = self.stream.at(step); // [M, Σ rows·cols]
        let mut offset = 0;
        self.layers
            .iter()
            .map(|&([rows, cols], a)| {
                let block = u.narrow(1, offset, rows * cols).view([-1, rows, cols]);
                offset += rows * cols;
                magnitude(&block, a)
            })
            .collect()
    }
}
