//! One CNN run, from its start (or its checkpoint) to its summary: the epoch loop of
//! Table 1. `Run` holds everything a checkpoint keeps; `train_run` is the loop.
//!
//! Checkpoints (`<experiment>/checkpoints/<run>.json` + safetensors, [`crate::checkpoint`])
//! hold the weights, D or B (and frsf's |M|), Adam's state, the epoch's running loss and the
//! loop's position; they are written every `checkpoint_every` steps (else about every 10
//! minutes) and on SIGTERM/SIGINT/SIGUSR1, which then stop the run with [`Checkpointed`]
//! (exit 75). Every step's randomness (dropout, NP noise, brsf's M) is drawn from (seed,
//! iteration) and the data order from (seed, epoch), so a resumed run writes the same
//! metrics.csv, byte for byte.
use super::config::{CnnConfig, Protocol, RunPlan};
use super::learner::{evaluate, Learner};
use super::train::{epoch_batches, Splits};
use crate::checkpoint::{self, code_version, Meta, State};
use crate::output::{write_atomic, MetricsWriter, RunSummary, Status};
use crate::progress::Progress;
use crate::run_folder::{record, Record};
use crate::signals::{self, Checkpointed};
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tch::{Device, Kind, Tensor};

const EVAL_BATCH: i64 = 500;
/// Without `checkpoint_every`, checkpoint about this often.
const CHECKPOINT_WALL: Duration = Duration::from_secs(600);
/// Training images (the first, in file order) on which the gradient angles are measured.
const ANGLE_BATCH: i64 = 256;

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

/// One run between steps: the learner, the epoch's running loss (a device scalar, so no
/// host round-trip per step), the iteration, the loop's state and the open metrics.csv.
struct Run<'a> {
    cfg: &'a CnnConfig,
    plan: &'a RunPlan,
    device: Device,
    ckpt_dir: PathBuf,
    config_hash: String,
    learner: Learner,
    loss_sum: Tensor,
    iteration: u64,
    st: LoopState,
    metrics: MetricsWriter,
    /// Since the last checkpoint.
    clock: Instant,
}

/// Train one run and write its summary.json; a finished run of the same config is read back,
/// not trained again.
pub fn train_run(
    cfg: &CnnConfig,
    plan: &RunPlan,
    data: &Splits,
    device: Device,
    exp_dir: &Path,
    fresh: bool,
) -> Result<RunSummary> {
    let run_dir = exp_dir.join(&plan.name);
    let run_cfg = serde_yaml::to_value(cfg.for_run(plan))?;
    let text = serde_yaml::to_string(&run_cfg)?;
    let ckpt_dir = checkpoint::dir_of(exp_dir);
    if fresh {
        checkpoint::remove(&ckpt_dir, &plan.name)?;
    }
    let saved = checkpoint::load(&ckpt_dir, &plan.name)?;
    if saved.is_none() && !fresh {
        // A damaged run (its files disagree) is trained again.
        if let Record::Whole(done) = record(&run_dir, &cfg.experiment, &plan.name, &text)? {
            return Ok(*done);
        }
    }
    write_atomic(&run_dir.join("config.yaml"), text.as_bytes())?;
    let hash = crate::config::hash(&run_cfg)?;
    let mut run = Run::start(cfg, plan, data, device, ckpt_dir, hash, &run_dir, saved)?;
    let start = Instant::now();
    let diverged_at = run.epochs(data, start)?;
    run.finish(&run_dir, start.elapsed().as_secs_f64(), diverged_at)
}

impl<'a> Run<'a> {
    /// A fresh learner, or the one in `saved` (refused if another config wrote it).
    #[allow(clippy::too_many_arguments)]
    fn start(
        cfg: &'a CnnConfig,
        plan: &'a RunPlan,
        data: &Splits,
        device: Device,
        ckpt_dir: PathBuf,
        config_hash: String,
        run_dir: &Path,
        saved: Option<(Meta, State)>,
    ) -> Result<Self> {
        tch::manual_seed(plan.seed as i64);
        let s = data.train_x.size();
        let input = [s[1], s[2], s[3]];
        let mut learner = Learner::new(
            &cfg.network,
            input,
            data.classes,
            plan.rule,
            &plan.spec,
            plan.seed,
            device,
        )?;
        let mut loss_sum = Tensor::zeros([], (Kind::Float, device));
        let metrics_path = run_dir.join("metrics.csv");
        let (iteration, st, metrics) = match saved {
            None => {
                let st = LoopState {
                    epoch: 1,
                    ..LoopState::default()
                };
                (0, st, MetricsWriter::create(&metrics_path)?)
            }
            Some((meta, state)) => {
                if meta.config_hash != config_hash {
                    bail!(
                        "the checkpoint in {} was written by another config: rerun with --fresh \
                         to start over",
                        ckpt_dir.display()
                    );
                }
                checkpoint::warn_if_other_code(&meta, &plan.name);
                tch::no_grad(|| -> Result<()> {
                    for (name, t) in learner.state_mut() {
                        state.restore(&name, t)?;
                    }
                    state.restore("loss_sum", &mut loss_sum)
                })?;
                learner.set_adam_steps(state.int("adam.t")?);
                let st: LoopState = serde_json::from_value(meta.state)?;
                eprintln!(
                    "{}/{}: resuming at iteration {} (epoch {}, batch {})",
                    cfg.experiment, plan.name, meta.iteration, st.epoch, st.batch
                );
                let metrics = MetricsWriter::resume(&metrics_path, st.metrics_bytes)?;
                (meta.iteration, st, metrics)
            }
        };
        Ok(Self {
            cfg,
            plan,
            device,
            ckpt_dir,
            config_hash,
            learner,
            loss_sum,
            iteration,
            st,
            metrics,
            clock: Instant::now(),
        })
    }

    /// Train from the current position through the last epoch. Returns the iteration at
    /// which the loss went non-finite, if it did.
    fn epochs(&mut self, data: &Splits, start: Instant) -> Result<Option<u64>> {
        let n = data.train_x.size()[0];
        let batch = self.plan.spec.batch.min(n);
        let steps_per_epoch = (n + batch - 1) / batch;
        let label = format!("{}/{}", self.cfg.experiment, self.plan.name);
        let total = self.plan.spec.epochs as u64 * steps_per_epoch as u64;
        let mut progress = Progress::new(&label, total, self.iteration);
        let (first_epoch, first_batch) = (self.st.epoch, self.st.batch);
        for epoch in first_epoch..=self.plan.spec.epochs {
            let skip = if epoch == first_epoch { first_batch } else { 0 };
            if skip == 0 {
                self.loss_sum = Tensor::zeros([], (Kind::Float, self.device));
            }
            if let Err(e) = self.train_epoch(data, epoch, skip, batch, &mut progress) {
                progress.stop();
                return Err(e);
            }
            if !self.end_epoch(data, epoch, &progress, start)? {
                progress.finish();
                return Ok(Some(self.iteration));
            }
        }
        progress.finish();
        Ok(None)
    }

    /// The batches of `epoch` from batch `skip` on, each one step.
    fn train_epoch(
        &mut self,
        data: &Splits,
        epoch: usize,
        skip: usize,
        batch: i64,
        progress: &mut Progress,
    ) -> Result<()> {
        let n = data.train_x.size()[0] as usize;
        let order = self.cfg.data_order();
        let batches = epoch_batches(order, n, batch as usize, self.plan.seed, epoch as u64);
        for (b, idx) in batches.into_iter().enumerate().skip(skip) {
            let idx = Tensor::from_slice(&idx).to_device(self.device); // [T]
            let x = data.train_x.index_select(0, &idx); // [T, 3, 32, 32]
            let y = data.train_y.index_select(0, &idx); // [T]
            self.loss_sum += self.learner.step(&x, &y, self.iteration);
            self.iteration += 1;
            progress.set(self.iteration);
            self.checkpoint_if_due(epoch, b + 1)?;
        }
        Ok(())
    }

    /// Checkpoint when due or signalled (the next step is batch `next` of `epoch`); after a
    /// signal, stop the run with [`Checkpointed`].
    fn checkpoint_if_due(&mut self, epoch: usize, next: usize) -> Result<()> {
        let signal = signals::received();
        let due = match self.cfg.checkpoint_every {
            Some(every) => self.iteration.is_multiple_of(every),
            None => self.clock.elapsed() >= CHECKPOINT_WALL,
        };
        if !due && signal.is_none() {
            return Ok(());
        }
        (self.st.epoch, self.st.batch) = (epoch, next);
        self.st.metrics_bytes = self.metrics.flushed_len()?;
        self.save()?;
        self.clock = Instant::now();
        match signal {
            Some(signal) => Err(Checkpointed {
                iteration: Some(self.iteration),
                signal,
            }
            .into()),
            None => Ok(()),
        }
    }

    /// The learner, its running loss and the loop's state, as one checkpoint.
    fn save(&mut self) -> Result<()> {
        let adam_t = Tensor::from(self.learner.adam_steps());
        let mut tensors: Vec<(String, Tensor)> = (self.learner.state_mut().into_iter())
            .map(|(k, t)| (k, t.shallow_clone()))
            .collect();
        tensors.push(("adam.t".into(), adam_t));
        tensors.push(("loss_sum".into(), self.loss_sum.shallow_clone()));
        let meta = Meta {
            engine: None,
            iteration: self.iteration,
            config_hash: self.config_hash.clone(),
            code_version: code_version(),
            state: serde_json::to_value(&self.st)?,
            tensors: String::new(),
        };
        checkpoint::save(&self.ckpt_dir, &self.plan.name, &tensors, &meta)
    }

    /// Score the epoch just trained and log it; false if its loss is not finite (diverged).
    fn end_epoch(
        &mut self,
        data: &Splits,
        epoch: usize,
        progress: &Progress,
        start: Instant,
    ) -> Result<bool> {
        let n = data.train_x.size()[0];
        let net = &self.learner.net;
        let train_loss = self.loss_sum.double_value(&[]) / n as f64;
        let (test_loss, test_accuracy) = evaluate(net, &data.test_x, &data.test_y, EVAL_BATCH);
        let val_accuracy = (data.val.as_ref()).map(|(vx, vy)| evaluate(net, vx, vy, EVAL_BATCH).1);
        let probe = n.min(ANGLE_BATCH);
        // with the feedback the next step will use
        let angles = self.learner.gradient_angles(
            &data.train_x.narrow(0, 0, probe),
            &data.train_y.narrow(0, 0, probe),
            self.iteration,
        );
        let weight_angles = self.learner.weight_angles(self.iteration);
        let (m, it) = (&mut self.metrics, self.iteration);
        for (l, angle) in angles.iter().enumerate() {
            m.row(it, "angle", Some(l + 1), *angle)?;
        }
        for (k, angle) in weight_angles.iter().enumerate() {
            m.row(it, "weight_angle", Some(k + 2), *angle)?; // B^l, l = k+2
        }
        m.row(it, "epoch", None, epoch as f64)?;
        m.row(it, "train_loss", None, train_loss)?;
        m.row(it, "test_loss", None, test_loss)?;
        m.row(it, "test_accuracy", None, test_accuracy)?;
        if let Some(v) = val_accuracy {
            m.row(it, "val_accuracy", None, v)?;
        }
        let per_epoch = start.elapsed().as_secs_f64() / epoch as f64;
        let val_note = val_accuracy.map_or(String::new(), |v| format!(", val_accuracy {v:.4}"));
        progress.message(format!(
            "epoch {epoch}/{}: train_loss {train_loss:.4}, test_accuracy \
             {test_accuracy:.4}{val_note}, {per_epoch:.1} s/epoch",
            self.plan.spec.epochs
        ));
        if !train_loss.is_finite() || !test_loss.is_finite() {
            return Ok(false);
        }
        self.st.test_acc.push(test_accuracy);
        self.st.val_acc.push(val_accuracy);
        self.st.train_losses.push(train_loss);
        Ok(true)
    }

    /// Close metrics.csv, drop the checkpoint, write summary.json.
    fn finish(self, run_dir: &Path, seconds: f64, diverged_at: Option<u64>) -> Result<RunSummary> {
        self.metrics.finish()?;
        checkpoint::remove(&self.ckpt_dir, &self.plan.name)?;
        let plan = self.plan;
        let summary = RunSummary {
            experiment: self.cfg.experiment.clone(),
            run: plan.name.clone(),
            rule: plan.rule.name().into(),
            condition: plan.rule.name().into(),
            seed: plan.seed,
            status: match diverged_at {
                Some(_) => Status::Diverged,
                None => Status::Completed,
            },
            diverged_at,
            iterations: self.iteration,
            seconds,
            device: crate::device::name(self.device),
            engine: "torch".into(),
            params: params(plan),
            results: results(self.cfg.protocol, &self.st, seconds),
        };
        summary.write_json(run_dir)?;
        Ok(summary)
    }
}

/// A run's settings in summary.csv: lr, batch, epochs; σ and β for np_dfa; λ for kp; the
/// trial.
fn params(plan: &RunPlan) -> BTreeMap<String, f64> {
    let spec = &plan.spec;
    let mut out = BTreeMap::from([
        ("lr".to_string(), spec.lr),
        ("batch".to_string(), spec.batch as f64),
        ("epochs".to_string(), spec.epochs as f64),
    ]);
    if let (Some(sigma), Some(beta)) = (spec.sigma, spec.beta) {
        out.insert("sigma".into(), sigma);
        out.insert("beta".into(), beta);
    }
    if let Some(decay) = spec.decay {
        out.insert("decay".into(), decay);
    }
    if let Some(trial) = plan.trial {
        out.insert("trial".into(), trial as f64);
    }
    out
}

/// A run's results: its protocol's accuracy only (never both), and the final values.
fn results(protocol: Protocol, st: &LoopState, seconds: f64) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let (Some(&last), Some(&loss)) = (st.test_acc.last(), st.train_losses.last()) else {
        return out;
    };
    match protocol {
        Protocol::Paper => {
            let max = st.test_acc.iter().copied().fold(f64::MIN, f64::max);
            out.insert("max_test_accuracy".into(), max);
        }
        Protocol::Validation => {
            // The first epoch with the highest validation accuracy.
            let val: Vec<f64> = st.val_acc.iter().map(|v| v.unwrap_or(f64::NAN)).collect();
            let best = (0..val.len()).fold(0, |b, i| if val[i] > val[b] { i } else { b });
            out.insert("test_accuracy_at_best_val".into(), st.test_acc[best]);
            out.insert("best_val_accuracy".into(), val[best]);
        }
    }
    out.insert("final_test_accuracy".into(), last);
    out.insert("final_train_loss".into(), loss);
    out.insert(
        "seconds_per_epoch".into(),
        seconds / st.test_acc.len() as f64,
    );
    out
}
