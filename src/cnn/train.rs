//! Table 1 experiments: load the data, train every rule × seed (one run: `super::run`),
//! write the result files.
//!
//! Per run, `results/<experiment>/<run>/` gets `config.yaml` (the config narrowed to that
//! run), `metrics.csv` (per epoch, at the iteration that ends it: `epoch`, `train_loss`,
//! `test_loss`, `test_accuracy`, and `val_accuracy` under the validation protocol) and
//! `summary.json`; `results/<experiment>/summary.csv` has one row per run.
//!
//! A row carries the accuracy of its protocol only, never both: `protocol: paper` (every
//! training image in file order, no split) gives `max_test_accuracy`, the paper's metric;
//! `protocol: validation` gives `test_accuracy_at_best_val` (the test accuracy of the epoch
//! with the best validation accuracy, the honest figure) and `best_val_accuracy`. Both give
//! `final_test_accuracy`, `final_train_loss`, `seconds_per_epoch`. For dfa and np_dfa,
//! metrics.csv also has `angle` per hidden block (layer 1 = first block): the angle in
//! degrees between the rule's weight gradient and backprop's, on the first 256 training
//! images (file order) without dropout.
use super::config::{CnnConfig, DataSource, Order, Protocol};
use crate::data::{cifar, synthetic, Dataset};
use crate::lock::Lock;
use crate::mlp::shard::Shard;
use crate::output::{write_summary_csv, RunSummary};
use crate::rng::{derive, SplitMix64, Stream};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use tch::{Device, Tensor};

/// Training, validation and test images on the device, preprocessed.
pub struct Splits {
    pub train_x: Tensor, // [N_train, 3, 32, 32]
    pub train_y: Tensor, // [N_train]
    /// `[N_val, 3, 32, 32]` and `[N_val]`; `None` under the paper protocol.
    pub val: Option<(Tensor, Tensor)>,
    pub test_x: Tensor, // [N_test, 3, 32, 32]
    pub test_y: Tensor,
    pub classes: i64,
}

/// The batches of one epoch, as indices into the training images: `file` order is
/// 0, 1, ..., n−1 every epoch; `shuffled` is a permutation drawn from (seed, epoch) alone
/// (SplitMix64, not libtorch's generator), so an epoch's order never depends on what ran
/// before it. The last batch may be short.
pub fn epoch_batches(order: Order, n: usize, batch: usize, seed: u64, epoch: u64) -> Vec<Vec<i64>> {
    let idx: Vec<i64> = match order {
        Order::File => (0..n as i64).collect(),
        Order::Shuffled => SplitMix64::new(derive(seed, Stream::DataOrder, epoch)).permutation(n),
    };
    idx.chunks(batch.max(1)).map(<[i64]>::to_vec).collect()
}

/// Load the config's data set, preprocess it, hold out the validation images (the last
/// `validation` of the training set; none under the paper protocol) and apply the
/// `train_images` / `test_images` limits (the first images, in file order).
pub fn load_splits(cfg: &CnnConfig, data_dir: &Path, device: Device) -> Result<Splits> {
    let data: Dataset = match cfg.dataset {
        // crate::data::load checks the md5 first (refuses corrupt files).
        DataSource::Cifar10 => crate::data::load("cifar10", data_dir, Device::Cpu)?,
        DataSource::Cifar100 => crate::data::load("cifar100", data_dir, Device::Cpu)?,
        DataSource::SyntheticCifar => synthetic::cifar_like(
            cfg.train_images.unwrap_or(2000) + cfg.validation_images(),
            cfg.test_images.unwrap_or(500),
            10,
            0,
        ),
    };
    let data = cifar::preprocess(data, cfg.preprocess).to_device(device);
    let n = data.n_train();
    let v = cfg.validation_images() as i64;
    if cfg.protocol == Protocol::Validation && v >= n {
        bail!(
            "validation is {v}, but it must be fewer than the {n} training images found: \
             lower `validation` (or add training batches)"
        );
    }
    cfg.check_sizes(n - v, data.n_test())?;
    let n_fit = cfg.train_images.map_or(n - v, |t| t as i64);
    let n_test = cfg.test_images.map_or(data.n_test(), |t| t as i64);
    let val = (v > 0).then(|| {
        (
            data.train_x.narrow(0, n - v, v),
            data.train_y.narrow(0, n - v, v),
        )
    });
    Ok(Splits {
        train_x: data.train_x.narrow(0, 0, n_fit),
        train_y: data.train_y.narrow(0, 0, n_fit),
        val,
        test_x: data.test_x.narrow(0, 0, n_test),
        test_y: data.test_y.narrow(0, 0, n_test),
        classes: data.classes,
    })
}

/// Run a `kind: cnn` experiment (every rule × seed) and write its results under
/// `out_root/<experiment>/`. A diverged run is recorded as such and the others go on.
/// Resumes from checkpoints and skips finished runs of the same config; see
/// [`run_experiment_with`].
pub fn run_experiment(
    cfg: serde_yaml::Value,
    quick: bool,
    device: Device,
    out_root: &Path,
    data_dir: &Path,
) -> Result<Vec<RunSummary>> {
    let cfg = CnnConfig::resolve(cfg, quick)?;
    run_experiment_with(&cfg, device, out_root, data_dir, false, None)
}

/// Where the lock of one run lives.
pub fn lock_path(exp_dir: &Path, run: &str) -> PathBuf {
    exp_dir
        .join(crate::folder::LOCKS)
        .join(format!("{run}.lock"))
}

/// [`run_experiment`] of a resolved config; `fresh` drops checkpoints and retrains finished
/// runs. summary.csv is written once every run has finished. With `shard`, only that
/// shard's runs ([`CnnConfig::shard_runs`]), and no summary.csv: `credit collect` (or a
/// later run without `--shard`, which trains nothing finished) gathers them.
///
/// Each run resumes from its checkpoint ([`super::run`]).
pub fn run_experiment_with(
    cfg: &CnnConfig,
    device: Device,
    out_root: &Path,
    data_dir: &Path,
    fresh: bool,
    shard: Option<Shard>,
) -> Result<Vec<RunSummary>> {
    let runs = cfg.shard_runs(shard)?;
    // The data are checked before the folder is touched: a refused run writes nothing.
    let data = load_splits(cfg, data_dir, device)?;
    let exp_dir = out_root.join(&cfg.experiment);
    // Every run this process will train is locked first: a second process (a requeued job, a
    // command typed twice) is refused at once instead of writing the same folders.
    let _locks = (runs.iter())
        .map(|r| {
            Lock::acquire(
                &lock_path(&exp_dir, &r.name),
                &format!("{}/{}", cfg.experiment, r.name),
            )
        })
        .collect::<Result<Vec<Lock>>>()?;
    // The folder belongs to this config (experiment.yaml); another is refused unless --fresh.
    crate::folder::prepare(
        &exp_dir,
        &serde_yaml::to_value(cfg)?,
        fresh,
        shard.is_some(),
    )?;
    if let Some(s) = shard {
        crate::folder::record_shards(&exp_dir, s.count)?;
    }
    let mut summaries = Vec::new();
    for run in runs {
        let summary = super::run::train_run(cfg, &run, &data, device, &exp_dir, fresh)
            .with_context(|| format!("run {} of {}", run.name, cfg.experiment))?;
        summaries.push(summary);
    }
    // Only once every run has finished, so a summary.csv is never a partial result.
    match shard {
        None => write_summary_csv(&exp_dir.join("summary.csv"), &summaries)?,
        Some(s) => eprintln!(
            "{}: shard {s} done; once every shard is, run it again without --shard to write \
             summary.csv (nothing is retrained)",
            cfg.experiment
        ),
    }
    Ok(summaries)
}
