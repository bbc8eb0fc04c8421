//! The matched rule (Rombouts et al. 2015): B starts random and receives exactly W's update,
//! ΔB^i = ΔW^i, whatever the optimizer made of the gradient.
use tch::Tensor;

/// b[i-2] += ΔW^i for i = 2..N+1; delta_w[i-1] = ΔW^i.
pub fn follow(b: &mut [Tensor], delta_w: &[Tensor]) {
    for (i, b_i) in b.iter_mut().enumerate() {
        *b_i += &delta_w[i + 1];
    }
}
