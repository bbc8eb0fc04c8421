//! Feedback alignment (Lillicrap et al. 2016): a fixed random B, drawn from W's init
//! distribution. The same initial B also starts np, matched and sg.
use crate::nets::mlp::init_like_w;
use crate::rng::Stream;
use tch::{Device, Tensor};

/// b[i-2] = B^i for i = 2..N+1: [M, n_{i-1}+1, n_i], randn · sqrt(2 / n_{i-1}).
pub fn init_b(sizes: &[i64], seeds: &[u64], device: Device) -> Vec<Tensor> {
    (2..sizes.len())
        .map(|i| {
            init_like_w(
                seeds,
                Stream::Feedback,
                i as u64,
                sizes[i - 1] + 1,
                sizes[i],
                sizes[i - 1],
                device,
            )
        })
        .collect()
}
