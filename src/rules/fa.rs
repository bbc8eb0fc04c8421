//! Feedback alignment (Lillicrap et al. 2016): a fixed random B, drawn from W's init
//! distribution. The same initial B also starts np, matched, sg, kp and wm.
use crate::nets::init::Init;
use crate::rng::Stream;
use tch::{Device, Tensor};

/// b[i-2] = B^i for i = 2..N+1: [M, n_{i-1}+1, n_i], drawn from `init` with W^i's fans.
pub fn init_b(sizes: &[i64], seeds: &[u64], init: Init, device: Device) -> Vec<Tensor> {
    (2..sizes.len())
        .map(|i| {
            let shape = [sizes[i - 1] + 1, sizes[i]];
            let fans = (sizes[i - 1], sizes[i]);
            init.draw(seeds, Stream::Feedback, i as u64, shape, fans, device)
        })
        .collect()
}
