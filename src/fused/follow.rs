//! The rules whose B follows W's step, on the fused engine (rules/matched.rs, kp.rs): W and
//! B take the same ΔW and the same decay, x ← (1−λ)x + ΔW; λ = 0 is `matched`, λ > 0
//! Kolen–Pollack, which decays W^1 too.

/// W^i and B^i (the same shape) take ΔW^i = `dw` after the decay λ.
pub fn step(w: &mut [f32], b: &mut [f32], dw: &[f32], lambda: f64) {
    for x in [w, b] {
        decay(x, lambda);
        x.iter_mut().zip(dw).for_each(|(x, d)| *x += d);
    }
}

/// x ← (1−λ)x; nothing to do at λ = 0 (matched, or kp at Akrout's λ = 0).
pub fn decay(x: &mut [f32], lambda: f64) {
    if lambda != 0.0 {
        let keep = (1.0 - lambda) as f32;
        x.iter_mut().for_each(|x| *x *= keep);
    }
}
