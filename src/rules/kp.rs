//! Kolen–Pollack (Kolen & Pollack 1994; Akrout et al. 2019): W and B get the same step and
//! the same decay, W ← (1−λ)W + ΔW and B ← (1−λ)B + ΔW, so W − B shrinks as (1−λ)^t. ΔW is
//! the optimizer's step (with momentum or Adam, B must get W's transformed step). With λ = 0
//! this is `matched` exactly.
use tch::Tensor;

/// One step on every layer: w[i-1] = W^i (W^1 decays too), b[i-2] = B^i, delta_w[i-1] = ΔW^i.
pub fn step(w: &mut [Tensor], b: &mut [Tensor], delta_w: &[Tensor], lambda: f64) {
    for (w_i, d) in w.iter_mut().zip(delta_w) {
        decay_and_add(w_i, d, lambda);
    }
    for (b_i, d) in b.iter_mut().zip(&delta_w[1..]) {
        decay_and_add(b_i, d, lambda);
    }
}

/// x ← (1−λ)x + d, in place.
fn decay_and_add(x: &mut Tensor, d: &Tensor, lambda: f64) {
    let _ = x.g_mul_scalar_(1.0 - lambda);
    *x += d;
}
