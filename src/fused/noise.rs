//! Counter-based draws: the draws of step k are a function of (seed, stream, k) alone, so a
//! resumed run redraws exactly what an uninterrupted one drew, and a member's noise does not
//! depend on its company or on the thread that steps it.
//!
//! Each (seed, stream, step) keys a xoshiro256++ generator (`rng::derive` mixes the key);
//! normals come from rand_distr's ziggurat (a few ns each, no transcendental functions on the
//! common path), uniforms on [0, 1) from the top 24 bits of a word. The torch engine draws
//! from libtorch's generator instead, so the two engines see different draws of the same
//! distribution.
use crate::rng::{derive, Dist, Stream};
use rand_distr::{Distribution, StandardNormal, StandardUniform};
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// Fill `out` with the standard normals of (seed, stream, step).
pub fn fill(seed: u64, stream: Stream, step: u64, out: &mut [f32]) {
    fill_from(StandardNormal, seed, stream, step, out);
}

/// Fill `out` with the U[0, 1) draws of (seed, stream, step).
pub fn fill_uniform(seed: u64, stream: Stream, step: u64, out: &mut [f32]) {
    fill_from(StandardUniform, seed, stream, step, out);
}

fn fill_from(dist: impl Distribution<f32>, seed: u64, stream: Stream, step: u64, out: &mut [f32]) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(derive(seed, stream, step));
    for z in out.iter_mut() {
        *z = dist.sample(&mut rng);
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

    #[test]
    fn the_same_key_gives_the_same_draws_and_another_key_others() {
        let draw = |seed, stream, step| {
            let mut z = vec![0.0f32; 64];
            fill(seed, stream, step, &mut z);
            z
        };
        assert_eq!(draw(3, Stream::Noise, 7), draw(3, Stream::Noise, 7));
        assert_ne!(draw(3, Stream::Noise, 7), draw(3, Stream::Noise, 8));
        assert_ne!(draw(3, Stream::Noise, 7), draw(4, Stream::Noise, 7));
        assert_ne!(draw(3, Stream::Noise, 7), draw(3, Stream::TrainNoise, 7));
    }

    /// Mean 0 and variance 1 within 5 standard errors, over 200k draws of many steps.
    #[test]
    fn the_draws_are_standard_normal() {
        let (mut sum, mut sq, mut n) = (0.0f64, 0.0f64, 0.0f64);
        let mut z = vec![0.0f32; 2000];
        for step in 0..100 {
            fill(11, Stream::Noise, step, &mut z);
            for &v in &z {
                sum += v as f64;
                sq += (v as f64).powi(2);
                n += 1.0;
            }
        }
        let mean = sum / n;
        let var = sq / n - mean * mean;
        assert!(mean.abs() < 5.0 / n.sqrt(), "mean {mean}");
        // The variance of a sample variance of normals is 2/n.
        assert!((var - 1.0).abs() < 5.0 * (2.0 / n).sqrt(), "variance {var}");
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
}
