//! Direct feedback alignment (Nøkland 2016): a fixed random D^i from the output error to each
//! hidden layer. The same initial D also starts np_dfa.
use crate::nets::mlp::init_like_w;
use crate::rng::Stream;
use tch::{Device, Tensor};

/// d[i-1] = D^i for i = 1..N: [M, n_i, n_{N+1}], randn · sqrt(2 / n_i) (the scale of the B^{i+1}
/// it stands in for).
pub fn init_d(sizes: &[i64], seeds: &[u64], device: Device) -> Vec<Tensor> {
    let n_out = *sizes.last().expect("validated sizes");
    (1..sizes.len() - 1)
        .map(|i| {
            init_like_w(
                seeds,
                Stream::Feedback,
                i as u64,
                sizes[i],
                n_out,
                sizes[i],
                device,
            )
        })
        .collect()
}
