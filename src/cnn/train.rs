//! Table 1 experiments: load the data, train every rule × seed, write the result files.
//!
//! Per run, `results/<experiment>/<run>/` gets `config.yaml` (the config narrowed to that
//! run), `metrics.csv` (per epoch, at the iteration that ends it: `epoch`, `train_loss`,
//! `test_loss`, `test_accuracy`, `val_accuracy`) and `summary.json`;
//! `results/<experiment>/summary.csv` has one row per run. Results per run:
//! `max_test_accuracy` (the paper's metric), `test_accuracy_at_best_val` (the honest one:
//! the test accuracy of the epoch with the best validation accuracy), `final_test_accuracy`,
//! `best_val_accuracy`, `final_train_loss`, `seconds_per_epoch`. For dfa and np_dfa,
//! metrics.csv also has `angle` per hidden block (layer 1 = first block): the angle in
//! degrees between the rule's weight gradient and backprop's, on the first 256 validation
//! images without dropout.
use super::config::{CnnConfig, DataSource, RunPlan};
use super::learner::{evaluate, Learner};
use crate::data::{cifar, synthetic, Dataset};
use crate::output::{write_atomic, write_summary_csv, MetricsWriter, RunSummary, Status};
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

const EVAL_BATCH: i64 = 500;
/// Validation images on which the gradient angles are measured.
const ANGLE_BATCH: i64 = 256;

/// Training, validation and test images on the device, preprocessed.
pub struct Splits {
    pub train_x: Tensor, // [N_train, 3, 32, 32]
    pub train_y: Tensor, // [N_train]
    pub val_x: Tensor,   // [N_val, 3, 32, 32]
    pub val_y: Tensor,
    pub test_x: Tensor, // [N_test, 3, 32, 32]
    pub test_y: Tensor,
    pub classes: i64,
}

/// Load the config's data set, preprocess it, hold out the validation images (the last
/// `validation` of the training set) and apply the `train_images` / `test_images` limits.
pub fn load_splits(cfg: &CnnConfig, data_dir: &Path, device: Device) -> Result<Splits> {
    let data: Dataset = match cfg.dataset {
        // crate::data::load checks the md5 first (refuses corrupt files).
        DataSource::Cifar10 => crate::data::load("cifar10", data_dir, Device::Cpu)?,
        DataSource::Cifar100 => crate::data::load("cifar100", data_dir, Device::Cpu)?,
        DataSource::SyntheticCifar => synthetic::cifar_like(
            cfg.train_images.unwrap_or(2000) + cfg.validation,
            cfg.test_images.unwrap_or(500),
            10,
            0,
        ),
    };
    let data = cifar::preprocess(data, cfg.preprocess).to_device(device);
    let n = data.n_train();
    let v = cfg.validation as i64;
    if v < 1 || v >= n {
        bail!(
            "validation is {v}, but it must be at least 1 and fewer than the {n} training \
             images found: lower `validation` (or add training batches)"
        );
    }
    cfg.check_sizes(n - v, data.n_test())?;
    let n_fit = cfg.train_images.map_or(n - v, |t| t as i64);
    let n_test = cfg.test_images.map_or(data.n_test(), |t| t as i64);
    Ok(Splits {
        train_x: data.train_x.narrow(0, 0, n_fit),
        train_y: data.train_y.narrow(0, 0, n_fit),
        val_x: data.train_x.narrow(0, n - v, v),
        val_y: data.train_y.narrow(0, n - v, v),
        test_x: data.test_x.narrow(0, 0, n_test),
        test_y: data.test_y.narrow(0, 0, n_test),
        classes: data.classes,
    })
}

/// Run a `kind: cnn` experiment (every rule × seed) and write its results under
/// `out_root/<experiment>/`. A diverged run is recorded as such and the others go on.
pub fn run_experiment(
    cfg: serde_yaml::Value,
    quick: bool,
    device: Device,
    out_root: &Path,
    data_dir: &Path,
) -> Result<Vec<RunSummary>> {
    let cfg = CnnConfig::resolve(cfg, quick)?;
    let data = load_splits(&cfg, data_dir, device)?;
    let exp_dir = out_root.join(&cfg.experiment);
    let mut summaries = Vec::new();
    for run in cfg.runs() {
        let summary = train_run(&cfg, &run, &data, device, &exp_dir)
            .with_context(|| format!("run {} of {}", run.name, cfg.experiment))?;
        summaries.push(summary);
        write_summary_csv(&exp_dir.join("summary.csv"), &summaries)?;
    }
    Ok(summaries)
}

fn device_name(device: Device) -> String {
    match device {
        Device::Cuda(i) => format!("cuda:{i}"),
        Device::Mps => "mps".into(),
        Device::Vulkan => "vulkan".into(),
        Device::Cpu => "cpu".into(),
    }
}

/// Progress: an indicatif bar on a terminal, otherwise a plain line per epoch.
struct Progress {
    bar: Option<ProgressBar>,
    label: String,
}

impl Progress {
    fn new(label: String, total_steps: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total_steps);
            let style = ProgressStyle::with_template(
                "{prefix} {bar:30} {pos}/{len} it, {per_sec}, ETA {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_prefix(label.clone());
            bar
        });
        Progress { bar, label }
    }

    fn step(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    fn epoch(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.set_message(line),
            None => eprintln!("{}: {line}", self.label),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

fn train_run(
    cfg: &CnnConfig,
    run: &RunPlan,
    data: &Splits,
    device: Device,
    exp_dir: &Path,
) -> Result<RunSummary> {
    let run_dir = exp_dir.join(&run.name);
    let text = serde_yaml::to_string(&cfg.for_run(run))?;
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
    let mut metrics = MetricsWriter::create(&run_dir.join("metrics.csv"))?;

    let n = s[0];
    let batch = run.spec.batch.min(n);
    let steps_per_epoch = (n + batch - 1) / batch;
    let epochs = run.spec.epochs;
    let progress = Progress::new(
        format!("{}/{}", cfg.experiment, run.name),
        epochs as u64 * steps_per_epoch as u64,
    );
    let start = Instant::now();
    let mut iteration = 0u64;
    let mut diverged_at = None;
    let (mut test_acc, mut val_acc, mut train_losses) = (Vec::new(), Vec::new(), Vec::new());
    for epoch in 1..=epochs {
        let perm = Tensor::randperm(n, (Kind::Int64, device));
        let mut loss_sum = Tensor::zeros([], (Kind::Float, device));
        for b in 0..steps_per_epoch {
            let idx = perm.narrow(0, b * batch, batch.min(n - b * batch));
            let x = data.train_x.index_select(0, &idx); // [T, 3, 32, 32]
            let y = data.train_y.index_select(0, &idx); // [T]
            loss_sum += learner.step(&x, &y);
            iteration += 1;
            progress.step();
        }
        let train_loss = loss_sum.double_value(&[]) / n as f64;
        let (test_loss, test_accuracy) =
            evaluate(&learner.net, &data.test_x, &data.test_y, EVAL_BATCH);
        let (_, val_accuracy) = evaluate(&learner.net, &data.val_x, &data.val_y, EVAL_BATCH);
        let n_probe = data.val_x.size()[0].min(ANGLE_BATCH);
        let angles = learner.gradient_angles(
            &data.val_x.narrow(0, 0, n_probe),
            &data.val_y.narrow(0, 0, n_probe),
        );
        for (l, angle) in angles.iter().enumerate() {
            metrics.row(iteration, "angle", Some(l + 1), *angle)?;
        }
        metrics.row(iteration, "epoch", None, epoch as f64)?;
        metrics.row(iteration, "train_loss", None, train_loss)?;
        metrics.row(iteration, "test_loss", None, test_loss)?;
        metrics.row(iteration, "test_accuracy", None, test_accuracy)?;
        metrics.row(iteration, "val_accuracy", None, val_accuracy)?;
        let per_epoch = start.elapsed().as_secs_f64() / epoch as f64;
        progress.epoch(format!(
            "epoch {epoch}/{epochs}: train_loss {train_loss:.4}, test_accuracy \
             {test_accuracy:.4}, val_accuracy {val_accuracy:.4}, {per_epoch:.1} s/epoch"
        ));
        if !train_loss.is_finite() || !test_loss.is_finite() {
            diverged_at = Some(iteration);
            break;
        }
        test_acc.push(test_accuracy);
        val_acc.push(val_accuracy);
        train_losses.push(train_loss);
    }
    progress.finish();
    metrics.finish()?;
    let seconds = start.elapsed().as_secs_f64();

    let mut results = BTreeMap::new();
    if let (Some(&last), Some(&loss)) = (test_acc.last(), train_losses.last()) {
        let best = (0..val_acc.len())
            .max_by(|&i, &j| val_acc[i].total_cmp(&val_acc[j]))
            .unwrap_or(0);
        results.insert(
            "max_test_accuracy".into(),
            test_acc.iter().copied().fold(f64::MIN, f64::max),
        );
        results.insert("test_accuracy_at_best_val".into(), test_acc[best]);
        results.insert("best_val_accuracy".into(), val_acc[best]);
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
        device: device_name(device),
        params,
        results,
    };
    summary.write_json(&run_dir)?;
    Ok(summary)
}
