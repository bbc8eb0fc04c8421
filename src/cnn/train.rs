//! Table 1 experiments: load the data, train every rule × seed, write the result files.
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
use super::config::{CnnConfig, DataSource, Order, Protocol, RunPlan};
use super::learner::{evaluate, Learner};
use crate::checkpoint::{self, code_version, Meta};
use crate::data::{cifar, synthetic, Dataset};
use crate::mlp::shard::Shard;
use crate::output::{write_atomic, write_summary_csv, MetricsWriter, RunSummary, Status};
use crate::progress::Progress;
use crate::rng::{derive, SplitMix64, Stream};
use crate::signals::{self, Checkpointed};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

const EVAL_BATCH: i64 = 500;
/// Without `checkpoint_every`, checkpoint about this often.
const CHECKPOINT_WALL: Duration = Duration::from_secs(600);
/// Training images (the first, in file order) on which the gradient angles are measured.
const ANGLE_BATCH: i64 = 256;

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

/// [`run_experiment`] of a resolved config; `fresh` drops checkpoints and retrains finished
/// runs. summary.csv is written once every run has finished. With `shard`, only that
/// shard's runs ([`CnnConfig::shard_runs`]), and no summary.csv: `credit collect` (or a
/// later run without `--shard`, which trains nothing finished) gathers them.
///
/// Checkpoints (`<experiment>/checkpoints/<run>.json` + safetensors, [`crate::checkpoint`])
/// hold the weights, D, Adam's state, the epoch's running loss and the loop's position;
/// they are written every `checkpoint_every` steps (else about every 10 minutes) and on
/// SIGTERM/SIGINT/SIGUSR1, which then stop the run with [`Checkpointed`] (exit 75). Every
/// step's randomness (dropout, NP noise) is drawn from (seed, iteration) and the data order
/// from (seed, epoch), so a resumed run writes the same metrics.csv, byte for byte.
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
    // The folder belongs to this config (experiment.yaml); another is refused unless --fresh.
    crate::folder::prepare(
        &exp_dir,
        &serde_yaml::to_value(cfg)?,
        fresh,
        shard.is_some(),
    )?;
    if let Some(s) = shard {
        crate::mlp::collect::record_shards(&exp_dir, s.count)?;
    }
    let mut summaries = Vec::new();
    for run in runs {
        let summary = train_run(cfg, &run, &data, device, &exp_dir, fresh)
            .with_context(|| format!("run {} of {}", run.name, cfg.experiment))?;
        summaries.push(summary);
    }
    // Only once every run has finished, so a summary.csv is never a partial result.
    if shard.is_none() {
        write_summary_csv(&exp_dir.join("summary.csv"), &summaries)?;
    }
    Ok(summaries)
}

/// The loop's position and results so far, in a checkpoint's JSON.
#[derive(Debug, Default, Serialize, Deserialize)]
struct LoopState {
    /// The epoch in progress (1-based) and the next batch of it.
    epoch: usize,
    batch: usize,
    metrics_bytes: u64,
    test_acc: Vec<f64>,
    /// `None` under the paper protocol.
    val_acc: Vec<Option<f64>>,
    train_losses: Vec<f64>,
}

/// The seed of libtorch's generator for the step at `iteration` (dropout, NP noise).
fn step_seed(seed: u64, iteration: u64) -> i64 {
    (derive(seed, Stream::Noise, iteration) >> 1) as i64
}

fn train_run(
    cfg: &CnnConfig,
    run: &RunPlan,
    data: &Splits,
    device: Device,
    exp_dir: &Path,
    fresh: bool,
) -> Result<RunSummary> {
    let run_dir = exp_dir.join(&run.name);
    let ckpt_dir = checkpoint::dir_of(exp_dir);
    let run_cfg = serde_yaml::to_value(cfg.for_run(run))?;
    let text = serde_yaml::to_string(&run_cfg)?;
    let config_hash = crate::config::hash(&run_cfg)?;
    if fresh {
        checkpoint::remove(&ckpt_dir, &run.name)?;
    }
    let saved = checkpoint::load(&ckpt_dir, &run.name)?;
    if saved.is_none() && !fresh {
        // A finished run of the same config is not trained again.
        let same = std::fs::read_to_string(run_dir.join("config.yaml")).is_ok_and(|t| t == text);
        if let (true, Ok(json)) = (same, std::fs::read_to_string(run_dir.join("summary.json"))) {
            if let Ok(summary) = serde_json::from_str::<RunSummary>(&json) {
                return Ok(summary);
            }
        }
    }
    write_atomic(&run_dir.join("config.yaml"), text.as_bytes())?;
    tch::manual_seed(run.seed as i64);
    let s = data.train_x.size();
    let input = [s[1], s[2], s[3]];
    let mut learner = Learner::new(
        &cfg.network,
        input,
        data.classes,
        run.rule,
        &run.spec,
        device,
    )?;
    let metrics_path = run_dir.join("metrics.csv");
    let mut loss_sum = Tensor::zeros([], (Kind::Float, device));
    let mut iteration = 0u64;
    let (mut st, mut metrics) = match saved {
        Some((meta, state)) => {
            if meta.config_hash != config_hash {
                bail!(
                    "the checkpoint in {} was written by another config: rerun with --fresh to \
                     start over",
                    ckpt_dir.display()
                );
            }
            tch::no_grad(|| -> Result<()> {
                for (name, t) in learner.state_mut() {
                    state.restore(&name, t)?;
                }
                state.restore("loss_sum", &mut loss_sum)
            })?;
            learner.set_adam_steps(state.int("adam.t")?);
            let st: LoopState = serde_json::from_value(meta.state)?;
            iteration = meta.iteration;
            eprintln!(
                "{}/{}: resuming at iteration {iteration} (epoch {}, batch {})",
                cfg.experiment, run.name, st.epoch, st.batch
            );
            let metrics = MetricsWriter::resume(&metrics_path, st.metrics_bytes)?;
            (st, metrics)
        }
        None => (
            LoopState {
                epoch: 1,
                ..LoopState::default()
            },
            MetricsWriter::create(&metrics_path)?,
        ),
    };

    let n = s[0];
    let batch = run.spec.batch.min(n);
    let steps_per_epoch = (n + batch - 1) / batch;
    let order = cfg.data_order();
    let epochs = run.spec.epochs;
    let mut progress = Progress::new(
        &format!("{}/{}", cfg.experiment, run.name),
        epochs as u64 * steps_per_epoch as u64,
    );
    let start = Instant::now();
    let mut clock = Instant::now();
    let mut diverged_at = None;
    let mut test_acc = std::mem::take(&mut st.test_acc);
    let mut val_acc: Vec<f64> = st.val_acc.iter().map(|v| v.unwrap_or(f64::NAN)).collect();
    let mut train_losses = std::mem::take(&mut st.train_losses);
    let (first_epoch, first_batch) = (st.epoch, st.batch);
    let n_probe = n.min(ANGLE_BATCH);
    let (probe_x, probe_y) = (
        data.train_x.narrow(0, 0, n_probe),
        data.train_y.narrow(0, 0, n_probe),
    );
    for epoch in first_epoch..=epochs {
        let skip = if epoch == first_epoch { first_batch } else { 0 };
        if skip == 0 {
            loss_sum = Tensor::zeros([], (Kind::Float, device));
        }
        let batches = epoch_batches(order, n as usize, batch as usize, run.seed, epoch as u64);
        for (b, idx) in batches.into_iter().enumerate().skip(skip) {
            let idx = Tensor::from_slice(&idx).to_device(device); // [T]
            let x = data.train_x.index_select(0, &idx); // [T, 3, 32, 32]
            let y = data.train_y.index_select(0, &idx); // [T]
            tch::manual_seed(step_seed(run.seed, iteration));
            loss_sum += learner.step(&x, &y);
            iteration += 1;
            progress.set(iteration);
            let signal = signals::received();
            let due = match cfg.checkpoint_every {
                Some(every) => iteration.is_multiple_of(every),
                None => clock.elapsed() >= CHECKPOINT_WALL,
            };
            if due || signal.is_some() {
                let state = LoopState {
                    epoch,
                    batch: b + 1,
                    metrics_bytes: metrics.flushed_len()?,
                    test_acc: test_acc.clone(),
                    val_acc: val_acc
                        .iter()
                        .map(|v: &f64| v.is_finite().then_some(*v))
                        .collect(),
                    train_losses: train_losses.clone(),
                };
                save_checkpoint(
                    &ckpt_dir,
                    &run.name,
                    &mut learner,
                    &loss_sum,
                    iteration,
                    &config_hash,
                    &state,
                )?;
                clock = Instant::now();
                if let Some(signal) = signal {
                    progress.finish();
                    return Err(Checkpointed {
                        iteration: Some(iteration),
                        signal,
                    }
                    .into());
                }
            }
        }

        let train_loss = loss_sum.double_value(&[]) / n as f64;
        let (test_loss, test_accuracy) =
            evaluate(&learner.net, &data.test_x, &data.test_y, EVAL_BATCH);
        let val_accuracy = data
            .val
            .as_ref()
            .map(|(vx, vy)| evaluate(&learner.net, vx, vy, EVAL_BATCH).1);
        let angles = learner.gradient_angles(&probe_x, &probe_y);
        for (l, angle) in angles.iter().enumerate() {
            metrics.row(iteration, "angle", Some(l + 1), *angle)?;
        }
        metrics.row(iteration, "epoch", None, epoch as f64)?;
        metrics.row(iteration, "train_loss", None, train_loss)?;
        metrics.row(iteration, "test_loss", None, test_loss)?;
        metrics.row(iteration, "test_accuracy", None, test_accuracy)?;
        if let Some(v) = val_accuracy {
            metrics.row(iteration, "val_accuracy", None, v)?;
        }
        let per_epoch = start.elapsed().as_secs_f64() / epoch as f64;
        let val_note = val_accuracy.map_or(String::new(), |v| format!(", val_accuracy {v:.4}"));
        progress.message(format!(
            "epoch {epoch}/{epochs}: train_loss {train_loss:.4}, test_accuracy \
             {test_accuracy:.4}{val_note}, {per_epoch:.1} s/epoch"
        ));
        if !train_loss.is_finite() || !test_loss.is_finite() {
            diverged_at = Some(iteration);
            break;
        }
        test_acc.push(test_accuracy);
        val_acc.push(val_accuracy.unwrap_or(f64::NAN));
        train_losses.push(train_loss);
    }
    progress.finish();
    metrics.finish()?;
    checkpoint::remove(&ckpt_dir, &run.name)?;
    let seconds = start.elapsed().as_secs_f64();

    let mut results = BTreeMap::new();
    if let (Some(&last), Some(&loss)) = (test_acc.last(), train_losses.last()) {
        match cfg.protocol {
            Protocol::Paper => {
                results.insert(
                    "max_test_accuracy".into(),
                    test_acc.iter().copied().fold(f64::MIN, f64::max),
                );
            }
            Protocol::Validation => {
                // The first epoch with the highest validation accuracy.
                let best =
                    (0..val_acc.len()).fold(0, |b, i| if val_acc[i] > val_acc[b] { i } else { b });
                results.insert("test_accuracy_at_best_val".into(), test_acc[best]);
                results.insert("best_val_accuracy".into(), val_acc[best]);
            }
        }
        results.insert("final_test_accuracy".into(), last);
        results.insert("final_train_loss".into(), loss);
        results.insert("seconds_per_epoch".into(), seconds / test_acc.len() as f64);
    }
    let mut params = BTreeMap::from([
        ("lr".to_string(), run.spec.lr),
        ("batch".to_string(), run.spec.batch as f64),
        ("epochs".to_string(), epochs as f64),
    ]);
    if let (Some(sigma), Some(beta)) = (run.spec.sigma, run.spec.beta) {
        params.insert("sigma".into(), sigma);
        params.insert("beta".into(), beta);
    }
    if let Some(trial) = run.trial {
        params.insert("trial".into(), trial as f64);
    }
    let summary = RunSummary {
        experiment: cfg.experiment.clone(),
        run: run.name.clone(),
        rule: run.rule.name().into(),
        condition: run.rule.name().into(),
        seed: run.seed,
        status: if diverged_at.is_some() {
            Status::Diverged
        } else {
            Status::Completed
        },
        diverged_at,
        iterations: iteration,
        seconds,
        device: crate::device::name(device),
        params,
        results,
    };
    summary.write_json(&run_dir)?;
    Ok(summary)
}

/// Write `learner`'s checkpoint (see [`run_experiment_with`]).
fn save_checkpoint(
    dir: &Path,
    name: &str,
    learner: &mut Learner,
    loss_sum: &Tensor,
    iteration: u64,
    config_hash: &str,
    state: &LoopState,
) -> Result<()> {
    let adam_t = Tensor::from(learner.adam_steps());
    let mut tensors: Vec<(String, Tensor)> = learner
        .state_mut()
        .into_iter()
        .map(|(k, t)| (k, t.shallow_clone()))
        .collect();
    tensors.push(("adam.t".into(), adam_t));
    tensors.push(("loss_sum".into(), loss_sum.shallow_clone()));
    let meta = Meta {
        iteration,
        config_hash: config_hash.to_string(),
        code_version: code_version(),
        state: serde_json::to_value(state)?,
        tensors: String::new(),
    };
    checkpoint::save(dir, name, &tensors, &meta)
}
