//! Per-member randomness that does not depend on which other members share the program.
//!
//! A member's weights, data order and noise come from its own seed alone, so member m of a
//! batched program reproduces the same run trained alone. Host-side draws (data order) use
//! SplitMix64; tensor draws re-seed libtorch's generator from a hash of (seed, stream, index)
//! and draw that member's block on its own.
use std::sync::Mutex;
use tch::{Device, Kind, Tensor};

/// libtorch has one global generator per device: seeding and drawing must not interleave
/// with another thread's, or a member's draws would depend on what else runs.
static GENERATOR: Mutex<()> = Mutex::new(());

/// Streams keep the draws for different purposes independent.
#[derive(Clone, Copy, Debug)]
pub enum Stream {
    Init = 1,
    Feedback = 2,
    DataOrder = 3,
    Noise = 4,
    InputNoise = 5,
    Teacher = 6,
    /// Hidden noise on the training pass (the "+noise" controls), apart from NP's.
    TrainNoise = 7,
    /// Test-time noise for `test_error_noisy`.
    EvalNoise = 8,
    /// `credit search`'s draws of hyperparameters.
    Search = 9,
    /// frSF's |M|, drawn once.
    SignMagnitude = 10,
    /// brSF's |M|, redrawn every step.
    SignMagnitudeSteps = 11,
    /// The weight mirror's input X, every mirror step.
    Mirror = 12,
}

/// The distribution of a tensor draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dist {
    /// N(0, 1)
    Normal,
    /// U[0, 1)
    Uniform,
}

/// SplitMix64 (Steele, Lea & Flood 2014): tiny, fast, and good enough for data order.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (Lemire's multiply-shift; the bias is below 2^-32 for our n).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() >> 32) * n) >> 32
    }

    /// A uniformly random permutation of 0..n (Fisher–Yates).
    pub fn permutation(&mut self, n: usize) -> Vec<i64> {
        let mut p: Vec<i64> = (0..n as i64).collect();
        for i in (1..n).rev() {
            let j = self.below(i as u64 + 1) as usize;
            p.swap(i, j);
        }
        p
    }
}

/// A seed for (seed, stream, index), well mixed so that nearby inputs give unrelated seeds.
pub fn derive(seed: u64, stream: Stream, index: u64) -> u64 {
    let mut s = SplitMix64::new(seed ^ ((stream as u64) << 56));
    let a = s.next_u64();
    let mut t = SplitMix64::new(a ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
    t.next_u64()
}

/// Standard normal draws for one member, reproducible from (seed, stream, index).
pub fn randn(seed: u64, stream: Stream, index: u64, shape: &[i64], device: Device) -> Tensor {
    draw(seed, stream, index, shape, Dist::Normal, device)
}

/// Draws of `dist` for one member, reproducible from (seed, stream, index).
pub fn draw(
    seed: u64,
    stream: Stream,
    index: u64,
    shape: &[i64],
    dist: Dist,
    device: Device,
) -> Tensor {
    let _lock = GENERATOR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    tch::manual_seed((derive(seed, stream, index) >> 1) as i64);
    match dist {
        Dist::Normal => Tensor::randn(shape, (Kind::Float, device)),
        Dist::Uniform => Tensor::rand(shape, (Kind::Float, device)),
    }
}

/// Member-stacked standard normals: `[M, shape...]`, member m drawn from `seeds[m]` alone.
pub fn randn_members(
    seeds: &[u64],
    stream: Stream,
    index: u64,
    shape: &[i64],
    device: Device,
) -> Tensor {
    draw_members(seeds, stream, index, shape, Dist::Normal, device)
}

/// Member-stacked draws of `dist`: `[M, shape...]`, member m drawn from `seeds[m]` alone.
pub fn draw_members(
    seeds: &[u64],
    stream: Stream,
    index: u64,
    shape: &[i64],
    dist: Dist,
    device: Device,
) -> Tensor {
    let draws: Vec<Tensor> = seeds
        .iter()
        .map(|&s| draw(s, stream, index, shape, dist, device))
        .collect();
    Tensor::stack(&draws, 0)
}

/// Unit-variance noise (or U[0, 1) draws) for every step, drawn per member in chunks of steps
/// so that the per-member re-seeding is paid once per chunk, not once per step.
pub struct NoiseStream {
    seeds: Vec<u64>,
    stream: Stream,
    dist: Dist,
    per_step: i64,
    chunk: u64,
    device: Device,
    cached: Option<(u64, Tensor)>, // (chunk index, [M, chunk, per_step])
}

impl NoiseStream {
    pub fn new(seeds: &[u64], stream: Stream, per_step: i64, device: Device) -> Self {
        Self::of(seeds, stream, per_step, Dist::Normal, device)
    }

    /// A stream of `dist` draws instead of standard normals.
    pub fn of(seeds: &[u64], stream: Stream, per_step: i64, dist: Dist, device: Device) -> Self {
        // About 1 Mi floats per member and chunk, at most 256 steps. The chunk length must not
        // depend on the member count, or a member's noise would change with its company.
        let budget = (1 << 20) / per_step.max(1);
        let chunk = budget.clamp(1, 256) as u64;
        Self {
            seeds: seeds.to_vec(),
            stream,
            dist,
            per_step,
            chunk,
            device,
            cached: None,
        }
    }

    /// `[M, per_step]` draws for `step`.
    pub fn at(&mut self, step: u64) -> Tensor {
        let c = step / self.chunk;
        if self.cached.as_ref().map(|(i, _)| *i) != Some(c) {
            let block = draw_members(
                &self.seeds,
                self.stream,
                c,
                &[self.chunk as i64, self.per_step],
                self.dist,
                self.device,
            );
            self.cached = Some((c, block));
        }
        let (_, block) = self.cached.as_ref().expect("filled above");
        block.select(1, (step % self.chunk) as i64)
    }
}
