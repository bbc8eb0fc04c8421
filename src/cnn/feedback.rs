//! The feedback weights B^l (l = 2..L+1, `b[l-2]`, each shaped like W^l) of the CNN's
//! layer-wise rules, following the MLP's (`crate::rules::{fa, usf, brsf, frsf, kp}`) and
//! biotorch's conv layers: sign symmetry acts element-wise on a kernel, with torch's fans
//! (C_in·k·k, C_out·k·k). B^1 would send an error to the image: it is never built.
//!
//! - `fa`: B^l ~ U(−a_l, a_l), a_l the bound of W^l's init (`network.init`), drawn once;
//! - `usf`: B^l = s_l · sign(W^l), s_l = √(2/(fan_in + fan_out)), from the current W;
//! - `brsf`: B^l = |M^l| ∘ sign(W^l), M^l ~ U(−a_l, a_l), a_l = √(6/(fan_in + fan_out)),
//!   redrawn every step from (seed, step);
//! - `frsf`: the same with |M^l| drawn once from (seed, l);
//! - `kp`: B^l starts as fa's and takes W^l's step and decay (`kp_step`).
//!
//! Every draw is keyed by (seed, stream, index) (`crate::rng`), so a resumed run redraws the
//! same B and M.
use crate::rng::{self, Dist, Stream};
use crate::rules::{brsf, usf};
use tch::Tensor;

/// (fan_in, fan_out) of a weight as torch counts them: conv `[out, in, k, k]` gives
/// (in·k·k, out·k·k), fc `[out, in]` gives (in, out).
pub fn fans(w: &Tensor) -> (i64, i64) {
    let s = w.size();
    let receptive: i64 = s[2..].iter().product();
    (s[1] * receptive, s[0] * receptive)
}

/// fa's (and kp's initial) B^l ~ U(−a_l, a_l) for l = 2..L+1, from (seed, Feedback, l).
/// `w` and `bounds` are W^1..W^{L+1} and their init bounds (`Net::weights`, `init_bounds`).
pub fn fa_init(w: &[&Tensor], bounds: &[f64], seed: u64) -> Vec<Tensor> {
    (1..w.len())
        .map(|k| {
            let u = draw(seed, Stream::Feedback, k as u64 + 1, &w[k].size(), w[k]);
            (u * 2.0 - 1.0) * bounds[k]
        })
        .collect()
}

/// uSF's B^l = s_l · sign(W^l) for l = 2..L+1, from the current W^1..W^{L+1}.
pub fn usf(w: &[&Tensor]) -> Vec<Tensor> {
    (w[1..].iter())
        .map(|w| {
            let (fan_in, fan_out) = fans(w);
            w.sign() * usf::scale(fan_in, fan_out)
        })
        .collect()
}

/// brSF's |M^l| of step `step` for l = 2..L+1, one draw from (seed, SignMagnitudeSteps, step).
pub fn brsf_magnitudes(w: &[&Tensor], seed: u64, step: u64) -> Vec<Tensor> {
    let sizes: Vec<i64> = w[1..].iter().map(|w| w.numel() as i64).collect();
    let total = sizes.iter().sum::<i64>();
    let u = draw(seed, Stream::SignMagnitudeSteps, step, &[total], w[0]); // [Σ_l |W^l|]
    let parts = u.split_with_sizes(sizes.as_slice(), 0);
    (w[1..].iter().zip(parts))
        .map(|(w, u)| magnitude(&u.view_as(w), w))
        .collect()
}

/// frSF's fixed |M^l| for l = 2..L+1, each drawn once from (seed, SignMagnitude, l).
pub fn frsf_magnitudes(w: &[&Tensor], seed: u64) -> Vec<Tensor> {
    (1..w.len())
        .map(|k| {
            let u = draw(
                seed,
                Stream::SignMagnitude,
                k as u64 + 1,
                &w[k].size(),
                w[k],
            );
            magnitude(&u, w[k])
        })
        .collect()
}

/// B^l = |M^l| ∘ sign(W^l) for l = 2..L+1 (brSF and frSF).
pub fn sign_concordant(w: &[&Tensor], m_abs: &[Tensor]) -> Vec<Tensor> {
    (w[1..].iter().zip(m_abs))
        .map(|(w, m)| m * w.sign())
        .collect()
}

/// Kolen–Pollack on B: B^l ← (1−λ) B^l + ΔW^l, `delta_w[l-2] = ΔW^l` (the optimizer's step).
pub fn kp_step(b: &mut [Tensor], delta_w: &[&Tensor], lambda: f64) {
    for (b, d) in b.iter_mut().zip(delta_w) {
        let _ = b.g_mul_scalar_(1.0 - lambda);
        *b += *d;
    }
}

/// |M| = |a (2u − 1)| from u ~ U[0, 1), with W's fans' bound a = √(6/(fan_in + fan_out)).
fn magnitude(u: &Tensor, w: &Tensor) -> Tensor {
    let (fan_in, fan_out) = fans(w);
    ((u * 2.0 - 1.0) * brsf::bound(fan_in, fan_out)).abs()
}

/// U[0, 1) draws of `shape` from (seed, stream, index), on the device and of the kind of `like`.
fn draw(seed: u64, stream: Stream, index: u64, shape: &[i64], like: &Tensor) -> Tensor {
    let u = rng::draw(seed, stream, index, shape, Dist::Uniform, like.device());
    u.to_kind(like.kind())
}
