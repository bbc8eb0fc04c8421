//! The Box–Muller transform in f32, branch-free so that the compiler vectorises it across
//! lanes: two 32-bit words (a, b) give two independent standard normals
//!
//!   z₁ = r cos φ,  z₂ = r sin φ,  r = √(−2 ln u),  u = (a + ½)·2⁻³²,  φ = 2π (b + ½)·2⁻³².
//!
//! ln is Cephes' `logf`: the exponent and a mantissa m in [√½, √2) from the bits, then
//! x − x²/2 + x³ P(x) in x = m − 1 with P of degree 8; within 1 ulp of f64 over its input
//! range [2⁻³³, 1] (0.78 at worst on every 61st f32 of it). sin and cos take the octant of φ
//! from b's top three bits, in integers (no floating-point range reduction, no table), then
//! Cephes' `sinf` and `cosf` polynomials on [0, π/4] (degrees 7 and 8); within 3 ulp of f64
//! over the turn (2.6 at worst on every 1021st word, from rounding θ and the polynomials).
//! Every operation is an IEEE add, multiply or square root, or an integer bit operation,
//! with no fused multiply-add, so the 16-, 8- and 4-wide compilations give the same bits
//! (fused multiply-adds would take a fifth off the time of the AVX-512 path, at the cost of
//! draws that depend on the CPU).
//!
//! **The tail.** u is never 0: its smallest value is 2⁻³³ (a = 0), so |z| ≤ r ≤ √(66 ln 2)
//! = 6.764, where a true normal lies beyond ±6.764 with probability 1.3e-11. u is a + ½
//! rounded to f32's 24 bits, which coarsens only r near 0: for a ≥ 2³² − 128 (probability
//! 3e-8) u rounds to 1 and r to 0, where it would be below 2.5e-4.

/// The pair (z₁, z₂) of words a (the radius) and b (the angle).
#[inline(always)]
pub fn normal_pair(a: u32, b: u32) -> (f32, f32) {
    let u = (a as f32 + 0.5) * TWO_TO_MINUS_32;
    let r = (-2.0 * ln(u)).sqrt();
    let (sin, cos) = sin_cos_turn(b);
    (r * cos, r * sin)
}

const TWO_TO_MINUS_32: f32 = 1.0 / 4_294_967_296.0;

/// The bits of √½ in f32 (0.70710677).
const SQRT_HALF_BITS: i32 = 0x3f35_04f3;

/// ln x for x in [2⁻³³, 1] (a normal f32, where `normal_pair` uses it).
#[inline(always)]
pub fn ln(x: f32) -> f32 {
    // x = 2^e m with m in [√½, √2), read from the bits as musl's logf does: x's bits less
    // √½'s have e in the exponent field and m's offset from √½ in the mantissa (x − 1 = m − 1
    // is then exact).
    let offset = x.to_bits() as i32 - SQRT_HALF_BITS;
    let e = (offset >> 23) as f32;
    let m = f32::from_bits(((offset & 0x007f_ffff) + SQRT_HALF_BITS) as u32);
    let x = m - 1.0;
    let z = x * x;
    // P(x) = p₀ + p₁ x + … + p₈ x⁸ by Estrin's scheme: pairs p_i + p_{i+1} x, pairs of those
    // in z = x², then x⁴; 4 dependent steps where Horner's rule takes 9 (the step's latency,
    // not its arithmetic, bounds the loop).
    let x4 = z * z;
    let pair = |lo: f32, hi: f32| lo + hi * x;
    let low_half = pair(3.333_333e-1, -2.499_999_4e-1) + pair(2.000_071_4e-1, -1.666_805_7e-1) * z;
    let high_half =
        pair(1.424_932_3e-1, -1.242_014_1e-1) + pair(1.167_699_84e-1, -1.151_461e-1) * z;
    let p = low_half + (high_half + 7.037_683_6e-2 * x4) * x4;
    // ln x = x − x²/2 + x³ P(x) + e ln 2, with ln 2 in two parts: 355/512 (exact in f32, so
    // that e times it is exact) and the rest, added smallest first.
    let y = p * x * z + e * -2.121_944_4e-4 - 0.5 * z;
    x + y + e * (355.0 / 512.0)
}

/// (sin φ, cos φ) for φ = 2π (b + ½)·2⁻³²: b's top three bits are the octant o, the other
/// 29 the position t in it, and φ = o π/4 + θ with θ = t π/4 for even o, π/4 − θ' for odd.
#[inline(always)]
pub fn sin_cos_turn(b: u32) -> (f32, f32) {
    let octant = b >> 29;
    let odd = octant & 1;
    // The reflection t → 1 − t of the odd octants, in integers: 2²⁹ − 1 − k for k.
    let k = (b & 0x1fff_ffff) ^ (0x1fff_ffff * odd);
    let theta = (k as f32 + 0.5) * (std::f32::consts::FRAC_PI_4 / 536_870_912.0);
    let z = theta * theta;
    // Cephes' sinf and cosf on [0, π/4]: θ + θ³ S(θ²) and 1 − θ²/2 + θ⁴ C(θ²).
    let s = ((-1.951_529_6e-4 * z + 8.332_161e-3) * z - 1.666_665_5e-1) * z;
    let s = s * theta + theta;
    let c = ((2.443_315_7e-5 * z - 1.388_731_6e-3) * z + 4.166_664_6e-2) * z;
    let c = c * z - 0.5 * z + 1.0;
    // Octants 1, 2, 5, 6 read sin from cos and back; sin is negative in 4..7, cos in 2..5.
    let swap = (octant + 1) & 2 != 0;
    let (sin, cos) = if swap { (c, s) } else { (s, c) };
    let sin_sign = (octant & 4) << 29;
    let cos_sign = ((octant + 2) & 4) << 29;
    (
        f32::from_bits(sin.to_bits() ^ sin_sign),
        f32::from_bits(cos.to_bits() ^ cos_sign),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// |got − want| in units of f32's spacing at want (ulp).
    fn ulps(got: f32, want: f64) -> f64 {
        let binade = (want.abs() as f32).max(f32::MIN_POSITIVE).to_bits() & 0x7f80_0000;
        (got as f64 - want).abs() / (f32::from_bits(binade) as f64 * f32::EPSILON as f64)
    }

    #[test]
    fn ln_is_within_one_ulp_over_its_range() {
        // Every 61st f32 from 2⁻³³ to 1 (4.5M of them, all exponents and mantissas), and 1.
        let (first, last) = (2f32.powi(-33).to_bits(), 1f32.to_bits());
        let worst = (first..=last)
            .step_by(61)
            .chain([last])
            .map(f32::from_bits)
            .map(|x| ulps(ln(x), (x as f64).ln()))
            .fold(0.0, f64::max);
        assert!(worst <= 1.0, "{worst} ulp");
    }

    #[test]
    fn sin_and_cos_are_within_three_ulp_over_the_turn() {
        // Every 1021st word (4.2M, all octants), and both sides of every octant's edge.
        let edges = (0..8u32).flat_map(|o| [o << 29, (o << 29).wrapping_sub(1)]);
        let worst = (0..=u32::MAX)
            .step_by(1021)
            .chain(edges)
            .map(|b| {
                // The turn in (−½, ½] (exact in f64), so that φ near 2π keeps its precision.
                let turn = (b as f64 + 0.5) / 2f64.powi(32);
                let phi = std::f64::consts::TAU * (turn - turn.round());
                let (sin, cos) = sin_cos_turn(b);
                ulps(sin, phi.sin()).max(ulps(cos, phi.cos()))
            })
            .fold(0.0, f64::max);
        assert!(worst <= 3.0, "{worst} ulp");
    }

    #[test]
    fn the_largest_draw_is_at_a_0_and_u_is_never_0() {
        let bound = (66.0 * std::f64::consts::LN_2).sqrt();
        let (z, _) = normal_pair(0, 0);
        assert!((z as f64 - bound).abs() < 1e-5, "{z} against {bound}");
        assert_eq!(normal_pair(u32::MAX, 0), (0.0, 0.0));
    }
}
