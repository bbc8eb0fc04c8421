//! Counter-based draws: the draws of step k are a function of (seed, stream, k) alone, so a
//! resumed run redraws exactly what an uninterrupted one drew, and a member's noise does not
//! depend on its company or on the thread that steps it. The torch engine draws from
//! libtorch's generator instead, so the two engines see different draws of the same
//! distribution.
//!
//! **Normals.** The key `rng::derive(seed, stream, step)` seeds 16 lanes of xoshiro128++
//! (Blackman & Vigna 2018: 128 bits of state, 32-bit words, passes BigCrush), lane j with
//! the outputs 2j and 2j + 1 of SplitMix64 from the key (two consecutive outputs are never
//! both 0, so no lane starts at the all-zero state). A block of 32 normals takes two words
//! from every lane, a radius's and an angle's, through Box–Muller (`box_muller.rs`): normal
//! j of the block is r_j cos φ_j and normal 16 + j is r_j sin φ_j. A fill's draws are thus a
//! function of their index alone: a fill of n gives the first n of any longer fill (a last,
//! partial block is drawn whole and cut). The lanes and the transform are plain array loops
//! that the compiler vectorises, 16 wide with AVX-512, 8 wide with AVX2, 4 wide (SSE2)
//! otherwise, with the same bits on every path.
//!
//! Why this form: rand_distr's ziggurat on xoshiro256++ (the previous generator) draws an
//! f64 per f32 normal and branches per draw, so it stays scalar. Box–Muller spends a
//! logarithm, a square root and a sine–cosine pair per two normals, but with no branch and no
//! table it runs 16 normals at a time: 4× faster with AVX-512, 2.4× with AVX2 alone, 1.3× on
//! the portable path (`cargo test --release --lib normal_speed -- --ignored --nocapture`
//! prints every path beside the ziggurat; docs/PERFORMANCE.md has the numbers). The 32-bit
//! uniforms bound |z| by 6.764 (a true normal passes it with probability 1.3e-11) and the
//! f32 transform is within 3 ulp of f64 (tested). The tests below check the moments, the
//! distribution (Kolmogorov–Smirnov), the tails and the independence of neighbouring draws,
//! lanes, steps and streams.
//!
//! **Uniforms** on [0, 1) keep the previous generator, so that brsf's and the akrout
//! mirror's runs resume onto the draws they started with: xoshiro256++ keyed the same way,
//! the top 24 bits of a word each.
use super::box_muller::normal_pair;
use crate::rng::{derive, Dist, SplitMix64, Stream};
use rand_distr::{Distribution, StandardUniform};
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// Fill `out` with the standard normals of (seed, stream, step).
pub fn fill(seed: u64, stream: Stream, step: u64, out: &mut [f32]) {
    let mut lanes = Lanes::new(derive(seed, stream, step));
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F (checked above).
        return unsafe { normals_avx512(&mut lanes, out) };
    } else if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked above).
        return unsafe { normals_avx2(&mut lanes, out) };
    }
    normals(&mut lanes, out)
}

/// Fill `out` with the U[0, 1) draws of (seed, stream, step).
pub fn fill_uniform(seed: u64, stream: Stream, step: u64, out: &mut [f32]) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(derive(seed, stream, step));
    for u in out.iter_mut() {
        *u = StandardUniform.sample(&mut rng);
    }
}

const LANES: usize = 16;

/// 16 xoshiro128++ generators side by side: state word i of lane j is `s[i][j]`, so that a
/// step of all lanes is 16-wide integer arithmetic (one AVX-512 register, two AVX2 ones).
struct Lanes {
    s: [[u32; LANES]; 4],
}

impl Lanes {
    fn new(key: u64) -> Self {
        // Lane j's state: SplitMix64's outputs 2j and 2j + 1, low word first.
        let mut mix = SplitMix64::new(key);
        let lane: [[u32; 4]; LANES] = std::array::from_fn(|_| {
            let (a, b) = (mix.next_u64(), mix.next_u64());
            [a as u32, (a >> 32) as u32, b as u32, (b >> 32) as u32]
        });
        Self {
            s: std::array::from_fn(|i| std::array::from_fn(|j| lane[j][i])),
        }
    }

    /// The next word of every lane.
    #[inline(always)]
    fn next(&mut self) -> [u32; LANES] {
        let [s0, s1, s2, s3] = &mut self.s;
        let mut out = [0; LANES];
        for j in 0..LANES {
            out[j] = s0[j].wrapping_add(s3[j]).rotate_left(7).wrapping_add(s0[j]);
            let t = s1[j] << 9;
            s2[j] ^= s0[j];
            s3[j] ^= s1[j];
            s1[j] ^= s2[j];
            s0[j] ^= s3[j];
            s2[j] ^= t;
            s3[j] = s3[j].rotate_left(11);
        }
        out
    }
}

// The same loops compiled 16 wide (AVX-512) and 8 wide (AVX2) where the CPU has them; the
// portable path is 4 wide (SSE2). All three give the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn normals_avx512(lanes: &mut Lanes, out: &mut [f32]) {
    normals(lanes, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn normals_avx2(lanes: &mut Lanes, out: &mut [f32]) {
    normals(lanes, out)
}

#[inline(always)]
fn normals(lanes: &mut Lanes, out: &mut [f32]) {
    let mut blocks = out.chunks_exact_mut(2 * LANES);
    for block in &mut blocks {
        normal_block(lanes, block.try_into().unwrap());
    }
    let rest = blocks.into_remainder();
    if !rest.is_empty() {
        let mut block = [0.0; 2 * LANES];
        normal_block(lanes, &mut block);
        rest.copy_from_slice(&block[..rest.len()]);
    }
}

/// 32 normals: r_j cos φ_j in the first 16, r_j sin φ_j in the last 16.
#[inline(always)]
fn normal_block(lanes: &mut Lanes, block: &mut [f32; 2 * LANES]) {
    let (radius, angle) = (lanes.next(), lanes.next());
    let (cos, sin) = block.split_at_mut(LANES);
    for j in 0..LANES {
        (cos[j], sin[j]) = normal_pair(radius[j], angle[j]);
    }
}

/// Where a program's per-step draws come from (NP's and the controls' normals, brSF's
/// magnitudes, the weight mirror's inputs). The engine uses [`Counter`]; a test can hand it
/// another source (the torch engine's draws) to compare the two engines step by step.
pub trait StepDraws: Send {
    /// Fill `out` with the `dist` draws of (seed, stream, step): all of that step's draws of
    /// the stream, in one call.
    fn fill(&mut self, seed: u64, stream: Stream, step: u64, dist: Dist, out: &mut [f32]);
}

/// The engine's own source: [`fill`] and [`fill_uniform`].
#[derive(Clone, Copy, Default)]
pub struct Counter;

impl StepDraws for Counter {
    fn fill(&mut self, seed: u64, stream: Stream, step: u64, dist: Dist, out: &mut [f32]) {
        match dist {
            Dist::Normal => fill(seed, stream, step, out),
            Dist::Uniform => fill_uniform(seed, stream, step, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::StandardNormal;
    use rand_xoshiro::rand_core::RngCore;
    use rand_xoshiro::Xoshiro128PlusPlus;

    fn draw(seed: u64, stream: Stream, step: u64, n: usize) -> Vec<f32> {
        let mut z = vec![0.0f32; n];
        fill(seed, stream, step, &mut z);
        z
    }

    #[test]
    fn the_same_key_gives_the_same_draws_and_another_key_others() {
        let draw = |seed, stream, step| draw(seed, stream, step, 64);
        assert_eq!(draw(3, Stream::Noise, 7), draw(3, Stream::Noise, 7));
        assert_ne!(draw(3, Stream::Noise, 7), draw(3, Stream::Noise, 8));
        assert_ne!(draw(3, Stream::Noise, 7), draw(4, Stream::Noise, 7));
        assert_ne!(draw(3, Stream::Noise, 7), draw(3, Stream::TrainNoise, 7));
    }

    #[test]
    fn a_shorter_fill_is_the_prefix_of_a_longer_one() {
        let long = draw(5, Stream::Noise, 9, 2263);
        for n in [0, 1, 15, 16, 17, 31, 32, 33, 100, 2243] {
            assert_eq!(draw(5, Stream::Noise, 9, n), long[..n], "n = {n}");
        }
    }

    /// The AVX-512, AVX2 and portable paths give the same bits, and their fills are prefixes.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn every_path_gives_the_same_bits() {
        use std::arch::is_x86_feature_detected as has;
        type Path<'a> = &'a dyn Fn(&mut Lanes, &mut [f32]);
        let bits = |path: Path, key, n| {
            let mut z = vec![0.0f32; n];
            path(&mut Lanes::new(key), &mut z);
            z.iter().map(|z| z.to_bits()).collect::<Vec<_>>()
        };
        let mut paths: Vec<(&str, Path)> = vec![("portable", &normals)];
        // SAFETY (both): the CPU has the path's features (checked beside it).
        let avx2 = |l: &mut Lanes, z: &mut [f32]| unsafe { normals_avx2(l, z) };
        let avx512 = |l: &mut Lanes, z: &mut [f32]| unsafe { normals_avx512(l, z) };
        if has!("avx2") {
            paths.push(("avx2", &avx2));
        }
        if has!("avx512f") {
            paths.push(("avx512", &avx512));
        }
        for step in 0..50 {
            let key = derive(1, Stream::Noise, step);
            let want = bits(&normals, key, 4101);
            for (name, path) in &paths {
                assert_eq!(bits(path, key, 4101), want, "{name}, step {step}");
                assert_eq!(bits(path, key, 4093), want[..4093], "{name}, step {step}");
            }
        }
    }

    /// Each lane is rand_xoshiro's xoshiro128++ (an independent implementation) from the
    /// lane's seed.
    #[test]
    fn every_lane_is_xoshiro128_plus_plus() {
        let key = derive(2, Stream::Noise, 3);
        let mut lanes = Lanes::new(key);
        let words: Vec<[u32; LANES]> = (0..100).map(|_| lanes.next()).collect();
        let mut mix = SplitMix64::new(key);
        for j in 0..LANES {
            let mut seed = [0u8; 16];
            seed[..8].copy_from_slice(&mix.next_u64().to_le_bytes());
            seed[8..].copy_from_slice(&mix.next_u64().to_le_bytes());
            let mut reference = Xoshiro128PlusPlus::from_seed(seed);
            for w in &words {
                assert_eq!(w[j], reference.next_u32(), "lane {j}");
            }
        }
    }

    /// Φ(x) by Marsaglia's series (J. Stat. Softw. 11(4), 2004): Φ(x) = ½ + φ(x) Σ x^(2k+1) /
    /// (1·3···(2k+1)), absolute error near 1e-15.
    fn phi(x: f64) -> f64 {
        let (q, mut term, mut sum, mut i) = (x * x, x, x, 1.0);
        loop {
            i += 2.0;
            term *= q / i;
            if sum + term == sum {
                break;
            }
            sum += term;
        }
        0.5 + sum * (-0.5 * q - 0.918_938_533_204_672_7).exp()
    }

    #[test]
    fn phi_matches_the_tables() {
        for (x, want) in [
            (0.0, 0.5),
            (1.0, 0.841_344_746_068_542_9),
            (-2.0, 0.022_750_131_948_179_21),
            (3.0, 0.998_650_101_968_369_9),
            (-6.0, 9.865_876_450_377e-10),
        ] {
            assert!((phi(x) - want).abs() < 1e-14, "Φ({x}) = {}", phi(x));
        }
    }

    /// 1.12M draws as the engine makes them: 500 steps of 2,243 (a partial last block).
    fn many(seed: u64) -> Vec<f64> {
        (0..500)
            .flat_map(|step| draw(seed, Stream::Noise, step, 2243))
            .map(f64::from)
            .collect()
    }

    /// The raw moments E z, E z², E z³, E z⁴ against 0, 1, 0, 3, each within 5 standard
    /// errors (√(E z^2k − (E z^k)²) / √n: 1, √2, √15, √96).
    #[test]
    fn the_first_four_moments_are_the_normals() {
        let z = many(11);
        let n = z.len() as f64;
        for (k, want, sd) in [(1, 0.0, 1.0), (2, 1.0, 2.0), (3, 0.0, 15.0), (4, 3.0, 96.0)] {
            let got = z.iter().map(|z| z.powi(k)).sum::<f64>() / n;
            let se = f64::sqrt(sd / n);
            assert!(
                (got - want).abs() < 5.0 * se,
                "E z^{k} = {got}, want {want} ± {se}"
            );
        }
    }

    /// The Kolmogorov–Smirnov distance to Φ below its 1% critical value, 1.63/√n.
    #[test]
    fn the_draws_pass_kolmogorov_smirnov_against_phi() {
        let mut z = many(12);
        z.sort_by(f64::total_cmp);
        let n = z.len() as f64;
        let d = z
            .iter()
            .enumerate()
            .map(|(i, &z)| {
                let p = phi(z);
                (p - i as f64 / n).max((i + 1) as f64 / n - p)
            })
            .fold(0.0, f64::max);
        assert!(d < 1.63 / n.sqrt(), "D = {d}, critical {}", 1.63 / n.sqrt());
    }

    /// P(|z| > 2) and P(|z| > 3) within 5 standard errors of 2Φ(−2) and 2Φ(−3), and nothing
    /// beyond the bound that 32-bit uniforms set (6.764).
    #[test]
    fn the_tails_have_the_normals_mass() {
        let z = many(13);
        let n = z.len() as f64;
        for c in [2.0, 3.0] {
            let want = 2.0 * phi(-c);
            let got = z.iter().filter(|z| z.abs() > c).count() as f64 / n;
            let se = (want * (1.0 - want) / n).sqrt();
            assert!(
                (got - want).abs() < 5.0 * se,
                "P(|z| > {c}) = {got}, want {want}"
            );
        }
        assert!(z.iter().all(|z| z.abs() < 6.765));
    }

    /// Pearson's correlation of the pairs.
    fn correlation(pairs: &[(f64, f64)]) -> f64 {
        let n = pairs.len() as f64;
        let (mx, my) = pairs
            .iter()
            .fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
        let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
        for (x, y) in pairs {
            sxy += (x - mx) * (y - my);
            sxx += (x - mx).powi(2);
            syy += (y - my).powi(2);
        }
        sxy / (sxx * syy).sqrt()
    }

    /// Neighbouring draws are uncorrelated (|ρ| < 5/√n): within a step at lag 1 (the next
    /// lane), 16 (a lane's sine and its cosine; also their squares, which share r) and 32
    /// (the lane's next block); the same index of adjacent steps, streams and seeds.
    #[test]
    fn neighbouring_draws_steps_and_streams_are_uncorrelated() {
        let len = 2243;
        let step = |seed, stream, k| draw(seed, stream, k, len);
        let mut cases: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
        let within = |lag: usize, f: fn(f32) -> f64| {
            (0..500u64)
                .flat_map(|k| {
                    let z = step(14, Stream::Noise, k);
                    (0..len - lag)
                        .map(move |i| (f(z[i]), f(z[i + lag])))
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        };
        for lag in [1, LANES, 2 * LANES] {
            cases.push((format!("lag {lag}"), within(lag, |z| z as f64)));
        }
        let squares = within(LANES, |z| (z as f64).powi(2));
        cases.push(("squares at lag 16".into(), squares));
        let across = |a: &dyn Fn(u64) -> Vec<f32>, b: &dyn Fn(u64) -> Vec<f32>| {
            (0..500u64)
                .flat_map(|k| a(k).into_iter().zip(b(k)))
                .map(|(x, y)| (x as f64, y as f64))
                .collect::<Vec<_>>()
        };
        let noise = |k| step(14, Stream::Noise, k);
        cases.push((
            "adjacent steps".into(),
            across(&noise, &|k| step(14, Stream::Noise, k + 1)),
        ));
        cases.push((
            "streams".into(),
            across(&noise, &|k| step(14, Stream::TrainNoise, k)),
        ));
        cases.push((
            "seeds".into(),
            across(&noise, &|k| step(15, Stream::Noise, k)),
        ));
        for (name, pairs) in &cases {
            let (rho, bound) = (correlation(pairs), 5.0 / (pairs.len() as f64).sqrt());
            assert!(rho.abs() < bound, "{name}: ρ = {rho}, bound {bound}");
        }
    }

    /// In [0, 1), mean 1/2 and variance 1/12 within 5 standard errors, over 200k draws.
    #[test]
    fn the_uniform_draws_are_uniform_on_0_1() {
        let (mut sum, mut sq, mut n) = (0.0f64, 0.0f64, 0.0f64);
        let mut u = vec![0.0f32; 2000];
        for step in 0..100 {
            fill_uniform(11, Stream::Mirror, step, &mut u);
            assert!(u.iter().all(|&v| (0.0..1.0).contains(&v)));
            for &v in &u {
                sum += v as f64;
                sq += (v as f64).powi(2);
                n += 1.0;
            }
        }
        let mean = sum / n;
        let var = sq / n - mean * mean;
        // A uniform's variance is 1/12 and its mean's standard error √(1/12n); the sample
        // variance's is √(1/180n) (fourth central moment 1/80).
        assert!(
            (mean - 0.5).abs() < 5.0 * (1.0 / (12.0 * n)).sqrt(),
            "mean {mean}"
        );
        assert!(
            (var - 1.0 / 12.0).abs() < 5.0 * (1.0 / (180.0 * n)).sqrt(),
            "variance {var}"
        );
    }

    /// Not a check: ns per normal of the previous generator (xoshiro256++ and rand_distr's
    /// ziggurat) and of every path of `fill`, in one run, in fills of 2,304 as Fig. 2's np
    /// step makes them.
    #[test]
    #[ignore]
    fn normal_speed() {
        let key = |step| derive(1, Stream::Noise, step);
        let ziggurat = |step, out: &mut [f32]| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(key(step));
            out.iter_mut()
                .for_each(|z| *z = StandardNormal.sample(&mut rng));
        };
        let fill = |step, out: &mut [f32]| fill(1, Stream::Noise, step, out);
        let portable = |step, out: &mut [f32]| normals(&mut Lanes::new(key(step)), out);
        type Path<'a> = &'a dyn Fn(u64, &mut [f32]);
        let mut paths: Vec<(&str, Path)> = vec![
            ("xoshiro256++ and ziggurat (before)", &ziggurat),
            ("fill (the CPU's widest path)", &fill),
            ("portable path", &portable),
        ];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has AVX2 (checked below).
        let avx2 = |step, out: &mut [f32]| unsafe { normals_avx2(&mut Lanes::new(key(step)), out) };
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            paths.push(("AVX2 path", &avx2));
        }
        let (mut z, calls) = (vec![0.0f32; 2304], 10_000);
        println!("ns per normal, best of 5 × {calls} fills of 2,304:");
        let mut before = 0.0;
        for (name, path) in paths {
            let ns = (0..5)
                .map(|_| {
                    let t = std::time::Instant::now();
                    (0..calls).for_each(|k| path(k, &mut z));
                    std::hint::black_box(&z);
                    t.elapsed().as_nanos() as f64 / (calls as f64 * 2304.0)
                })
                .fold(f64::INFINITY, f64::min);
            if before == 0.0 {
                before = ns;
            }
            println!(
                "  {name}: {ns:.3} ({:.2}× the ziggurat's speed)",
                before / ns
            );
        }
    }
}
