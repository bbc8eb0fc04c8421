//! CIFAR-10 and CIFAR-100 binary batches, and the two input preprocessings.
//!
//! A record is the label byte(s) then 3072 pixel bytes: the R, G and B planes, each 32×32
//! row-major, so a record's pixels are already one CHW image. CIFAR-10: 1 label byte
//! (3073-byte records). CIFAR-100: coarse then fine label byte (3074); we use the fine one.
//!
//! Our own reader rather than `tch::vision::cifar::load_dir`: that one copies record by
//! record, insists on all five training batches of exactly 10,000 records, and has no
//! CIFAR-100. This one accepts any non-empty subset of the training batches.
use super::Dataset;
use anyhow::{bail, ensure, Context, Result};
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

pub const PIXELS: usize = 3 * 32 * 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Cifar10,
    Cifar100,
}

impl Variant {
    /// Name on the command line (`credit data fetch NAME`).
    pub fn name(self) -> &'static str {
        match self {
            Variant::Cifar10 => "cifar10",
            Variant::Cifar100 => "cifar100",
        }
    }

    pub fn classes(self) -> i64 {
        match self {
            Variant::Cifar10 => 10,
            Variant::Cifar100 => 100,
        }
    }

    /// Bytes before the pixels of each record.
    pub fn label_bytes(self) -> usize {
        match self {
            Variant::Cifar10 => 1,
            Variant::Cifar100 => 2,
        }
    }

    pub fn record_bytes(self) -> usize {
        self.label_bytes() + PIXELS
    }

    /// Training batch files, in order; a subset of them is accepted.
    pub fn train_files(self) -> &'static [&'static str] {
        match self {
            Variant::Cifar10 => &[
                "data_batch_1.bin",
                "data_batch_2.bin",
                "data_batch_3.bin",
                "data_batch_4.bin",
                "data_batch_5.bin",
            ],
            Variant::Cifar100 => &["train.bin"],
        }
    }

    pub fn test_file(self) -> &'static str {
        match self {
            Variant::Cifar10 => "test_batch.bin",
            Variant::Cifar100 => "test.bin",
        }
    }

    /// The folder the official archive unpacks into.
    pub fn archive_folder(self) -> &'static str {
        match self {
            Variant::Cifar10 => "cifar-10-batches-bin",
            Variant::Cifar100 => "cifar-100-binary",
        }
    }
}

/// One binary batch: images `[N, 3, 32, 32]` uint8 and fine labels `[N]` int64, on CPU.
pub fn read_batch(path: &Path, variant: Variant) -> Result<(Tensor, Tensor)> {
    let fix = format!(
        "Delete it and run `credit data fetch {}` (the binary version of the data set).",
        variant.name()
    );
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "cannot read {}. Run `credit data fetch {}`.",
            path.display(),
            variant.name()
        )
    })?;
    let rec = variant.record_bytes();
    let (full, extra) = (bytes.len() / rec, bytes.len() % rec);
    ensure!(
        full > 0 && extra == 0,
        "{} holds {} bytes = {full} complete records of {rec} bytes plus {extra} stray bytes: \
         it is truncated, or not a {} binary batch ({}). {fix}",
        path.display(),
        bytes.len(),
        variant.name(),
        match variant {
            Variant::Cifar10 => "CIFAR-10 records are 1 label byte + 3072 pixels",
            Variant::Cifar100 => "CIFAR-100 records are 2 label bytes + 3072 pixels",
        }
    );
    let max_label = variant.classes() as u8;
    for (i, r) in bytes.chunks_exact(rec).enumerate() {
        let fine = r[variant.label_bytes() - 1];
        let coarse_ok = variant == Variant::Cifar10 || r[0] < 20;
        if fine >= max_label || !coarse_ok {
            bail!(
                "{}: record {i} has label byte(s) {:?}, out of range for {}: the file is \
                 corrupt or of another layout (CIFAR-10 vs CIFAR-100). {fix}",
                path.display(),
                &r[..variant.label_bytes()],
                variant.name()
            );
        }
    }
    let n = full as i64;
    let all = Tensor::from_slice(&bytes).view([n, rec as i64]); // [N, rec] uint8
    let lb = variant.label_bytes() as i64;
    let y = all.narrow(1, lb - 1, 1).reshape([n]).to_kind(Kind::Int64); // [N]
    let x = all.narrow(1, lb, PIXELS as i64).reshape([n, 3, 32, 32]); // [N, C=RGB, H, W]
    Ok((x, y))
}

/// The folder holding the batch files: `dir` itself, or the archive's own folder inside it.
fn batch_dir(dir: &Path, variant: Variant) -> PathBuf {
    let nested = dir.join(variant.archive_folder());
    if !dir.join(variant.test_file()).exists() && nested.join(variant.test_file()).exists() {
        nested
    } else {
        dir.to_path_buf()
    }
}

/// The training batch files present in `dir`, in order.
pub fn present_train_files(dir: &Path, variant: Variant) -> Vec<PathBuf> {
    let dir = batch_dir(dir, variant);
    variant
        .train_files()
        .iter()
        .map(|f| dir.join(f))
        .filter(|p| p.is_file())
        .collect()
}

/// Load CIFAR-10 or CIFAR-100 from `dir` (all training batches present, at least one), on
/// CPU, as float32 in [0, 1].
pub fn load_dir(dir: &Path, variant: Variant) -> Result<Dataset> {
    let bdir = batch_dir(dir, variant);
    let test = bdir.join(variant.test_file());
    let train = present_train_files(dir, variant);
    if train.is_empty() || !test.is_file() {
        let python = bdir.join("data_batch_1").exists() || bdir.join("train").exists();
        bail!(
            "{} data not found in {}: it needs {} and at least one of {}.{} Run `credit data \
             fetch {}`, or unpack the official binary archive there by hand.",
            variant.name(),
            dir.display(),
            variant.test_file(),
            variant.train_files().join(", "),
            if python {
                " The files there look like the Python (pickle) version; this reader needs \
                 the binary version."
            } else {
                ""
            },
            variant.name()
        );
    }
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for path in &train {
        let (x, y) = read_batch(path, variant)?;
        xs.push(x);
        ys.push(y);
    }
    let (test_x, test_y) = read_batch(&test, variant)?;
    Ok(Dataset {
        train_x: Tensor::cat(&xs, 0).to_kind(Kind::Float) / 255.0, // [N, 3, 32, 32]
        train_y: Tensor::cat(&ys, 0),                              // [N]
        test_x: test_x.to_kind(Kind::Float) / 255.0,
        test_y,
        classes: variant.classes(),
    })
}

/// How images are normalised before the network sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preprocess {
    /// Pixels in [0, 1] as loaded.
    None,
    /// Each image to zero mean and unit variance (the authors' code).
    PerImage,
    /// Each channel to zero mean and unit variance, with statistics of the training set.
    PerChannel,
}

/// `tf.image.per_image_standardization` on pixel values 0..255:
/// `(x − mean) / max(std, 1/sqrt(numel))`, mean and population std over each whole image.
pub fn per_image_standardize(x: &Tensor) -> Tensor {
    let n = x.size()[0];
    let x255 = x.reshape([n, -1]) * 255.0; // [N, C·H·W]
    let numel = x255.size()[1] as f64;
    let mean = x255.mean_dim(1, true, Kind::Float); // [N, 1]
    let std = x255.std_dim(1, false, true); // [N, 1]
    let floor = 1.0 / numel.sqrt();
    ((x255 - &mean) / std.clamp_min(floor)).view(x.size().as_slice())
}

/// Per-channel mean and population std of `x` `[N, C, H, W]`, each `[C]`.
pub fn channel_stats(x: &Tensor) -> (Tensor, Tensor) {
    let mean = x.mean_dim([0, 2, 3].as_slice(), false, Kind::Float); // [C]
    let std = x.std_dim([0, 2, 3].as_slice(), false, false); // [C]
    (mean, std)
}

/// Apply `p` to train and test images (per-channel statistics come from the training set).
pub fn preprocess(data: Dataset, p: Preprocess) -> Dataset {
    let (train_x, test_x) = match p {
        Preprocess::None => (data.train_x, data.test_x),
        Preprocess::PerImage => (
            per_image_standardize(&data.train_x),
            per_image_standardize(&data.test_x),
        ),
        Preprocess::PerChannel => {
            let (mean, std) = channel_stats(&data.train_x);
            let mean = mean.view([1, -1, 1, 1]);
            let std = std.view([1, -1, 1, 1]);
            (
                (&data.train_x - &mean) / &std,
                (&data.test_x - &mean) / &std,
            )
        }
    };
    Dataset {
        train_x,
        test_x,
        ..data
    }
}
