//! Direct feedback alignment (Nøkland 2016): a fixed random D^i from the output error to each
//! hidden layer. The same initial D also starts np_dfa.
use crate::nets::init::Init;
use crate::rng::Stream;
use tch::{Device, Tensor};

/// d[i-1] = D^i for i = 1..N: [M, n_i, n_{N+1}], drawn from `init` with fans (n_i, n_{N+1})
/// (the default's scale, sqrt(2 / n_i), is that of the B^{i+1} it stands in for).
pub fn init_d(sizes: &[i64], seeds: &[u64], init: Init, device: Device) -> Vec<Tensor> {
    let n_out = *sizes.last().expect("validated sizes");
    (1..sizes.len() - 1)
        .map(|i| {
            let fans = (sizes[i], n_out);
            init.draw(
                seeds,
                Stream::Feedback,
                i as u64,
                [sizes[i], n_out],
                fans,
                device,
            )
        })
        .collect()
}
