//! What one step of a program costs, in floating-point operations counted from the shapes
//! (multiply-add = 2). One model for every user: the threads a torch program gets
//! (`mlp::run`), the balance of shards (`mlp::sweep::Group::cost`), and the bench's GFLOP/s.
//! The fused engine's first layer touches only non-zero inputs: `first_layer_share` says how
//! much of a step that layer is, so its cost can be scaled by the input density.

/// Floating-point operations of one member's step (multiply-add = 2), from the shapes.
pub fn step_flops(sizes: &[i64], batch: i64, rule: &str) -> f64 {
    let n = sizes.len() - 1;
    let layer = |i: usize| ((sizes[i - 1] + 1) * sizes[i]) as f64; // W^i's entries
    let forward: f64 = (1..=n).map(layer).sum();
    let down: f64 = (2..=n).map(|i| (sizes[i - 1] * sizes[i]) as f64).sum();
    let grads = forward;
    let mut per_sample = forward + down + grads;
    let noisy: f64 = (2..=n).map(layer).sum(); // from the first perturbed layer up
    match rule {
        "np" => {
            // The noisy pass and the B fits (R Bᵀ, Rᵀ R, λ̂ᵀ R).
            let fit: f64 = (2..=n)
                .map(|i| layer(i) * 2.0 + (sizes[i] * sizes[i]) as f64)
                .sum();
            per_sample += noisy + fit;
        }
        "np_dfa" => {
            // The noisy pass and the D fits: regressor E^{N+1}, one D^i per hidden layer.
            let out = sizes[n] as f64;
            let fit: f64 = (1..n)
                .map(|i| 3.0 * sizes[i] as f64 * out + out * out)
                .sum();
            per_sample += noisy + fit;
        }
        _ => {}
    }
    2.0 * batch as f64 * per_sample
}

/// The fused engine's step: as `step_flops`, with the first layer's forward product and
/// update (its two products with aug(X)) scaled by the share of non-zero inputs.
pub fn fused_step_flops(sizes: &[i64], batch: i64, rule: &str, density: f64) -> f64 {
    let first = 2.0 * 2.0 * batch as f64 * (sizes[0] * sizes[1]) as f64;
    step_flops(sizes, batch, rule) - first * (1.0 - density)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// bp on 784-50-20-10, batch 32: forward 785·50 + 51·20 + 21·10 = 40,480 weights, the
    /// error path 50·20 + 20·10 = 1,200, the gradients again 40,480: 2 · 32 · 82,160.
    #[test]
    fn bp_on_fig2_counts_every_product_once() {
        assert_eq!(
            step_flops(&[784, 50, 20, 10], 32, "bp"),
            2.0 * 32.0 * 82_160.0
        );
    }

    #[test]
    fn the_fused_first_layer_scales_with_the_input_density() {
        let sizes = [784, 50, 20, 10];
        assert_eq!(
            fused_step_flops(&sizes, 32, "np", 1.0),
            step_flops(&sizes, 32, "np")
        );
        let saved = step_flops(&sizes, 32, "np") - fused_step_flops(&sizes, 32, "np", 0.25);
        assert_eq!(saved, 0.75 * 4.0 * 32.0 * 784.0 * 50.0);
    }
}
