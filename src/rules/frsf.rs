//! Fixed random-magnitude sign-concordant feedback, frSF (Moskovitz et al. 2018; biotorch):
//! B^i = |M^i| ∘ sign(W^i) with M^i ~ U(−a_i, a_i) drawn once and the sign taken from the
//! current W every step (the formula is brSF's, `super::brsf::feedback`).
use super::brsf::{layers, magnitude};
use crate::rng::{draw_members, Dist, Stream};
use tch::{Device, Tensor};

/// m_abs[i-2] = |M^i| for i = 2..N+1, drawn once per member from (seed, SignMagnitude, i).
pub fn draw_once(sizes: &[i64], seeds: &[u64], device: Device) -> Vec<Tensor> {
    layers(sizes)
        .into_iter()
        .enumerate()
        .map(|(k, (shape, a))| {
            let index = k as u64 + 2;
            let u = draw_members(
                seeds,
                Stream::SignMagnitude,
                index,
                &shape,
                Dist::Uniform,
                device,
            );
            magnitude(&u, a)
        })
        .collect()
}
