//! σ(a) = 1 / (1 + e^{−a}) over a slice, with an exponential the compiler vectorises: libm's
//! `expf` is a call per entry (a tenth of an np step on Fig. 2's network went to it). The
//! exponential is Cephes' `expf` (range reduction by ln 2, a degree-6 polynomial, 2^n by
//! the exponent bits), within 2 ulp of e^x; libtorch's vectorised sigmoid is within 1 ulp.
#[cfg(target_arch = "x86_64")]
use super::linalg::has_fma;

/// h = σ(a), element-wise.
pub fn sigmoid(a: &[f32], h: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if has_fma() {
        // SAFETY: the CPU has AVX2 and FMA (checked by has_fma).
        return unsafe { sigmoid_fma(a, h) };
    }
    sigmoid_with::<false>(a, h)
}

// 8 lanes and fused multiply-adds where the CPU has AVX2 and FMA; the last bit differs
// between the two paths.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn sigmoid_fma(a: &[f32], h: &mut [f32]) {
    sigmoid_with::<true>(a, h)
}

#[inline(always)]
fn sigmoid_with<const FMA: bool>(a: &[f32], h: &mut [f32]) {
    for (h, &a) in h.iter_mut().zip(a) {
        *h = 1.0 / (1.0 + exp::<FMA>(-a));
    }
}

/// e^x for x in [−87, 88], clamped there (where e^x nears f32's smallest normal and its
/// largest value: σ is then within 6.1e-39 of 0, or 1 to f32 precision), NaN for NaN.
#[inline(always)]
pub fn exp<const FMA: bool>(x: f32) -> f32 {
    let mul_add = |a: f32, b: f32, c: f32| if FMA { a.mul_add(b, c) } else { a * b + c };
    let x = x.clamp(-87.0, 88.0);
    // x = n ln 2 + r, |r| ≤ ln 2 / 2; ln 2 in two parts, 355/512 (exact in f32, so that n times
    // it is exact) and the rest.
    let n = mul_add(x, std::f32::consts::LOG2_E, 0.5).floor();
    let r = mul_add(n, 2.121_944_4e-4, mul_add(n, -355.0 / 512.0, x));
    let mut p = 1.987_569_1e-4;
    for c in [
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        0.166_666_65,
        0.5,
    ] {
        p = mul_add(p, r, c);
    }
    let e_r = mul_add(p, r * r, r + 1.0);
    // 2^n from the exponent bits (n in [−125, 127] after the clamp; NaN gives n = 0 and a
    // NaN e_r).
    e_r * f32::from_bits(((n as i32 + 127) << 23) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative error against f64's exp, in units of f32's epsilon.
    fn worst_ulps<const FMA: bool>() -> f64 {
        (0..=200_000)
            .map(|i| -87.0 + 175.0 * i as f64 / 200_000.0)
            .map(|x| {
                let x = x as f32;
                let want = (x as f64).exp();
                ((exp::<FMA>(x) as f64 - want) / want).abs() / f32::EPSILON as f64
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn exp_is_within_two_ulp_over_its_range() {
        assert!(worst_ulps::<false>() < 2.0, "{}", worst_ulps::<false>());
        assert!(worst_ulps::<true>() < 2.0, "{}", worst_ulps::<true>());
    }

    #[test]
    fn sigmoid_matches_the_closed_form_and_keeps_nan() {
        let a: Vec<f32> = (-400..=400)
            .map(|i| i as f32 * 0.25)
            .chain([f32::NAN])
            .collect();
        let mut h = vec![0.0; a.len()];
        sigmoid(&a, &mut h);
        for (&a, &h) in a.iter().zip(&h).take(a.len() - 1) {
            let want = 1.0 / (1.0 + (-(a as f64)).exp());
            // Beyond a = −88, where e^{−a} would overflow f32, σ is below 6.1e-39.
            let err = (h as f64 - want).abs();
            assert!(err <= 4e-7 * want + 6.1e-39, "σ({a}) = {h}, want {want}");
        }
        assert!(h.last().unwrap().is_nan());
    }
}
