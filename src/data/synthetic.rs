//! Small generated data sets for tests and benchmarks, deterministic from a seed.
//!
//! Each class has a fixed random template; an image is a blend of its class template and
//! uniform noise, so the classes can be learnt but not trivially. The numbers come from a
//! splitmix64 stream in Rust, so the same seed gives the same data on every device.
use super::cifar::{Variant, PIXELS};
use super::Dataset;
use anyhow::{Context, Result};
use std::path::Path;
use tch::{Kind, Tensor};

/// splitmix64: a tiny, well-mixed 64-bit generator.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Pixel bytes and labels: `n` images of `dims` pixels, templates smooth over `block`×`block`
/// patches of a `side`×`side` plane (block 1: every pixel independent). Pixels whose template
/// value is below `keep` are 0 (a class's "strokes" are where it is at least `keep`).
fn generate(
    n: usize,
    classes: usize,
    (planes, side, block): (usize, usize, usize),
    keep: f32,
    rng: &mut Rng,
) -> Bytes {
    let per_image = planes * side * side;
    let coarse = side / block;
    let templates: Vec<Vec<f32>> = (0..classes)
        .map(|_| {
            let cells: Vec<f32> = (0..planes * coarse * coarse)
                .map(|_| rng.uniform())
                .collect();
            (0..per_image)
                .map(|i| {
                    let (p, r, c) = (i / (side * side), (i / side) % side, i % side);
                    cells[(p * coarse + r / block) * coarse + c / block]
                })
                .collect()
        })
        .collect();
    let mut pixels = Vec::with_capacity(n * per_image);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let y = rng.below(classes as u64) as usize;
        labels.push(y as u8);
        for &t in &templates[y] {
            let v = 0.6 * t + 0.4 * rng.uniform();
            pixels.push(if t >= keep {
                (v * 255.0).round() as u8
            } else {
                0
            });
        }
    }
    (pixels, labels)
}

fn to_dataset(train: Bytes, test: Bytes, shape: &[i64], classes: usize) -> Dataset {
    let images = |px: &[u8], n: usize| {
        let mut s = vec![n as i64];
        s.extend_from_slice(shape);
        Tensor::from_slice(px)
            .view(s.as_slice())
            .to_kind(Kind::Float)
            / 255.0
    };
    let labels = |y: &[u8]| Tensor::from_slice(y).to_kind(Kind::Int64);
    Dataset {
        train_x: images(&train.0, train.1.len()),
        train_y: labels(&train.1),
        test_x: images(&test.0, test.1.len()),
        test_y: labels(&test.1),
        classes: classes as i64,
    }
}

/// MNIST-shaped: x `[N, 784]` in [0, 1], 10 classes.
pub fn mnist_like(n_train: usize, n_test: usize, seed: u64) -> Dataset {
    let all = generate(n_train + n_test, 10, (1, 28, 1), 0.0, &mut Rng(seed));
    let (train, test) = split(all, n_train, 784);
    to_dataset(train, test, &[784], 10)
}

/// As [`mnist_like`], with MNIST's sparsity: each class lights 19% of the pixels (MNIST's
/// training images have 19% non-zero pixels on average), the rest are 0. For benchmarks of
/// the fused engine's sparse first layer.
pub fn mnist_like_sparse(n_train: usize, n_test: usize, seed: u64) -> Dataset {
    let all = generate(n_train + n_test, 10, (1, 28, 1), 0.81, &mut Rng(seed));
    let (train, test) = split(all, n_train, 784);
    to_dataset(train, test, &[784], 10)
}

/// CIFAR-shaped: x `[N, 3, 32, 32]` in [0, 1] with `classes` classes.
pub fn cifar_like(n_train: usize, n_test: usize, classes: usize, seed: u64) -> Dataset {
    let all = cifar_bytes(n_train + n_test, classes, seed);
    let (train, test) = split(all, n_train, PIXELS);
    to_dataset(train, test, &[3, 32, 32], classes)
}

type Bytes = (Vec<u8>, Vec<u8>);

/// The first `at` images and the rest.
fn split((px, y): Bytes, at: usize, per_image: usize) -> (Bytes, Bytes) {
    let (px_a, px_b) = px.split_at(at * per_image);
    let (y_a, y_b) = y.split_at(at);
    ((px_a.to_vec(), y_a.to_vec()), (px_b.to_vec(), y_b.to_vec()))
}

/// Pixel bytes `[N, 3, 32, 32]` and labels of `n` CIFAR-shaped images.
fn cifar_bytes(n: usize, classes: usize, seed: u64) -> Bytes {
    generate(n, classes, (3, 32, 4), 0.0, &mut Rng(seed))
}

/// Write CIFAR-shaped generated images as official binary batch files into `dir`:
/// `n_train` records split over `train_batches` training files, and `n_test` test records.
/// For CIFAR-100 the coarse label byte is `fine / 5`.
pub fn write_cifar_dir(
    dir: &Path,
    variant: Variant,
    n_train: usize,
    n_test: usize,
    train_batches: usize,
    seed: u64,
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let (px, y) = cifar_bytes(n_train + n_test, variant.classes() as usize, seed);
    let record = |i: usize| {
        let mut r = Vec::with_capacity(variant.record_bytes());
        if variant == Variant::Cifar100 {
            r.push(y[i] / 5);
        }
        r.push(y[i]);
        r.extend_from_slice(&px[i * PIXELS..(i + 1) * PIXELS]);
        r
    };
    let per_batch = n_train.div_ceil(train_batches);
    for (b, name) in variant.train_files()[..train_batches].iter().enumerate() {
        let range = b * per_batch..((b + 1) * per_batch).min(n_train);
        let bytes: Vec<u8> = range.flat_map(record).collect();
        std::fs::write(dir.join(name), bytes).with_context(|| format!("writing {name}"))?;
    }
    let test: Vec<u8> = (n_train..n_train + n_test).flat_map(record).collect();
    let path = dir.join(variant.test_file());
    std::fs::write(&path, test).with_context(|| format!("writing {}", path.display()))
}
