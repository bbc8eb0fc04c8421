//! The run loop of one batched program: log, evaluate, checkpoint, step, and finish.
//!
//! Checkpoints are taken at the top of an iteration, before its logs: the state is "steps
//! 0..k−1 done, rows of iterations < k written". A rerun of the same command resumes there,
//! cuts each metrics.csv back to the checkpoint and continues, so its files are the bytes an
//! uninterrupted run writes.
use super::autoencoder;
use super::config::Experiment;
use super::engine::{Engine, EngineChoice, EngineKind};
use super::eval::{evaluate, evaluate_val, NoisyScore};
use super::log::{RunLog, Saved};
use super::sweep::Group;
use super::tasks::TaskData;
use crate::checkpoint::{self, code_version, Meta};
use crate::metrics::Measured;
use crate::output::{write_atomic, RunSummary, Status};
use crate::progress::Progress;
use crate::signals::{self, Checkpointed};
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tch::{Device, Kind};

/// Without `training.checkpoint_every`, checkpoint about this often.
const CHECKPOINT_WALL: Duration = Duration::from_secs(600);

/// What every program of one experiment shares.
pub struct Context<'a> {
    pub exp: &'a Experiment,
    pub exp_dir: &'a Path,
    pub device: Device,
    /// [`crate::config::hash`] of the resolved experiment.
    pub config_hash: &'a str,
    /// `--engine`, else `training.engine`.
    pub engine: EngineChoice,
}

impl Context<'_> {
    pub fn checkpoint_dir(&self) -> PathBuf {
        checkpoint::dir_of(self.exp_dir)
    }
}

/// The run loop's own state in a checkpoint, beside the trainer's tensors.
#[derive(Serialize, Deserialize)]
struct LoopState {
    logs: Vec<Saved>,
    latent: Option<Vec<Option<u64>>>,
    /// Training seconds before this process.
    seconds: f64,
}

/// A program in training: its trainer and the logs of its runs.
struct Program<'a> {
    cx: &'a Context<'a>,
    group: &'a Group,
    engine: Engine,
    logs: Vec<RunLog>,
    latent: Option<autoencoder::Outputs>,
    run_dirs: Vec<PathBuf>,
    /// Seconds spent before this process (resumed runs).
    seconds_before: f64,
    started: Instant,
    /// Checkpoints written by this process, and the seconds they took.
    checkpoints: (u32, f64),
}

/// Train one program to the end (or to a signal) and write its runs' summaries.
pub fn run_program(cx: &Context, group: &Group, data: &TaskData) -> Result<Vec<RunSummary>> {
    let mut p = Program::start(cx, group, data)?;
    let tr = &cx.exp.training;
    let mut progress = Progress::new(&label(cx.exp, group), tr.iterations, p.engine.iteration());
    let (mut last_checkpoint, mut clock) = (p.engine.iteration(), Instant::now());
    loop {
        let step = p.engine.iteration();
        let due = match tr.checkpoint_every {
            Some(every) => step % every == 0,
            None => clock.elapsed() >= CHECKPOINT_WALL,
        };
        if let Some(signal) = signals::received() {
            p.checkpoint()?;
            progress.stop();
            return Err(Checkpointed {
                iteration: Some(step),
                signal,
            }
            .into());
        }
        if due && step > last_checkpoint && step < tr.iterations {
            p.checkpoint()?;
            (last_checkpoint, clock) = (step, Instant::now());
        }
        let log_now = step % tr.log_every == 0 || step == tr.iterations;
        let eval_now = step % tr.eval_every == 0 || step == tr.iterations;
        p.observe(data, step, log_now, eval_now)?;
        if p.logs.iter().all(|l| !l.alive()) {
            break;
        }
        if step == tr.iterations {
            if log_now {
                let measured = p.engine.measure(data)?;
                p.record(step, &measured)?;
            }
            break;
        }
        let measured = p.engine.step(data, log_now)?;
        p.record(step, &measured)?;
        // Nothing is observed before the next event: those steps run as one stretch.
        p.engine.advance(data, next_event(cx.exp, step + 1));
        progress.set(p.engine.iteration());
    }
    progress.finish();
    p.finish(data)
}

/// The first iteration at or after `from` that logs, evaluates, saves a latent code, is due
/// a checkpoint by `training.checkpoint_every`, or ends the run.
fn next_event(exp: &Experiment, from: u64) -> u64 {
    let tr = &exp.training;
    let next_multiple = |every: u64| from.div_ceil(every) * every;
    let mut at = tr
        .iterations
        .min(next_multiple(tr.log_every))
        .min(next_multiple(tr.eval_every));
    if let Some(every) = tr.checkpoint_every {
        at = at.min(next_multiple(every));
    }
    tr.latent_at
        .iter()
        .filter(|&&k| k >= from)
        .fold(at, |at, &k| at.min(k))
}

/// `fig2 np (M=20)`: the progress label of a program.
fn label(exp: &Experiment, group: &Group) -> String {
    let condition = &group.members[0].condition;
    let first = condition.split(' ').next().unwrap_or("");
    format!("{} {first} (M={})", exp.experiment, group.members.len())
}

impl<'a> Program<'a> {
    /// A new program, or the one its checkpoint describes.
    fn start(cx: &'a Context<'a>, group: &'a Group, data: &TaskData) -> Result<Self> {
        let exp = cx.exp;
        let kind = EngineKind::choose(cx.engine, exp, group, cx.device)?;
        if kind == EngineKind::Torch {
            let flops = crate::cost::step_flops(
                &group.sizes,
                exp.training.batch_size,
                group.spec.rule.name(),
            );
            crate::device::threads_for(cx.device, flops * group.members.len() as f64);
        }
        let mut engine = Engine::new(kind, exp, group, data, cx.device)?;
        eprintln!("{}: engine {}", label(exp, group), engine.describe());
        let run_dirs: Vec<PathBuf> = group
            .members
            .iter()
            .map(|m| cx.exp_dir.join(&m.run))
            .collect();
        for (m, dir) in group.members.iter().zip(&run_dirs) {
            write_atomic(
                &dir.join("config.yaml"),
                group.run_config(exp, m)?.as_bytes(),
            )?;
            remove_if_present(&dir.join("summary.json"))?;
        }
        let saved = checkpoint::load(&cx.checkpoint_dir(), &group.id())?;
        let (logs, latent, seconds_before) = match saved {
            None => {
                let logs = run_dirs
                    .iter()
                    .map(|d| RunLog::create(d))
                    .collect::<Result<_>>()?;
                let latent = autoencoder::Outputs::new(exp, &group.sizes, data, &run_dirs, None)?;
                (logs, latent, 0.0)
            }
            Some((meta, state)) => {
                check_meta(cx, group, &meta, kind)?;
                engine.load(&state)?;
                let s: LoopState = serde_json::from_value(meta.state)?;
                let logs = run_dirs
                    .iter()
                    .zip(&s.logs)
                    .map(|(d, saved)| RunLog::resume(d, saved))
                    .collect::<Result<_>>()?;
                let latent = autoencoder::Outputs::new(
                    exp,
                    &group.sizes,
                    data,
                    &run_dirs,
                    s.latent.as_deref(),
                )?;
                eprintln!(
                    "{}: resuming from the checkpoint at iteration {}",
                    label(exp, group),
                    meta.iteration
                );
                (logs, latent, s.seconds)
            }
        };
        Ok(Self {
            cx,
            group,
            engine,
            logs,
            latent,
            run_dirs,
            seconds_before,
            started: Instant::now(),
            checkpoints: (0, 0.0),
        })
    }

    /// Write the checkpoint of the engine's next iteration, logs flushed to it.
    fn checkpoint(&mut self) -> Result<()> {
        let t0 = Instant::now();
        let state = LoopState {
            logs: self
                .logs
                .iter_mut()
                .map(RunLog::save)
                .collect::<Result<_>>()?,
            latent: self.latent.as_mut().map(|l| l.save()).transpose()?,
            seconds: self.seconds_before + self.started.elapsed().as_secs_f64(),
        };
        let meta = Meta {
            engine: Some(self.engine.kind().name().to_string()),
            iteration: self.engine.iteration(),
            config_hash: self.cx.config_hash.to_string(),
            code_version: code_version(),
            state: serde_json::to_value(state)?,
            tensors: String::new(),
        };
        let tensors = self.engine.save();
        checkpoint::save(&self.cx.checkpoint_dir(), &self.group.id(), &tensors, &meta)?;
        self.checkpoints.0 += 1;
        self.checkpoints.1 += t0.elapsed().as_secs_f64();
        Ok(())
    }

    /// The logs of iteration `step`: train loss (log), test metrics (eval), latent code.
    fn observe(&mut self, data: &TaskData, step: u64, log_now: bool, eval_now: bool) -> Result<()> {
        if log_now {
            if let Some(loss) = self.engine.take_train_loss()? {
                for (log, &v) in self.logs.iter_mut().zip(&loss) {
                    log.record(step, "train_loss", None, v)?;
                    log.check_finite(step, v);
                }
            }
        }
        if eval_now {
            self.evaluate(data, step)?;
        }
        if let Some(latent) = self.latent.as_mut() {
            latent.step(&self.engine.net(), data, step, &alive(&self.logs))?;
        }
        Ok(())
    }

    fn evaluate(&mut self, data: &TaskData, step: u64) -> Result<()> {
        let exp = self.cx.exp;
        let seeds: Vec<u64> = self.group.members.iter().map(|m| m.seed).collect();
        let (net, sigma) = (self.engine.net(), self.engine.sigma());
        let noisy = (exp.training.test_error_noisy && self.group.spec.rule.perturbs()).then(|| {
            NoisyScore {
                seeds: &seeds,
                sigma: &sigma,
                perturb_bias: self.group.spec.perturb_bias,
            }
        });
        let t = exp.training.batch_size;
        let mut results = evaluate(&net, data, exp.task, t, step, noisy.as_ref())?;
        results.extend(evaluate_val(&net, data, exp.task, t)?);
        for (k, log) in self.logs.iter_mut().enumerate() {
            let values: Vec<(&str, f64)> = results.iter().map(|(n, v)| (*n, v[k])).collect();
            log.record_eval(step, &values)?;
            log.check_finite(step, results[0].1[k]);
        }
        Ok(())
    }

    /// Alignment metrics of one step, into each run's log.
    fn record(&mut self, step: u64, measured: &[Measured]) -> Result<()> {
        for m in measured {
            let values = Vec::<f64>::try_from(m.values.to_kind(Kind::Double))?;
            for (log, &v) in self.logs.iter_mut().zip(&values) {
                log.record(step, m.metric, Some(m.layer), v)?;
            }
        }
        Ok(())
    }

    /// Move every file into place, write each run's summary.json, drop the checkpoint.
    fn finish(self, data: &TaskData) -> Result<Vec<RunSummary>> {
        let (cx, exp) = (self.cx, self.cx.exp);
        if let Some(latent) = self.latent {
            latent.finish(&self.engine.net(), data, &alive(&self.logs))?;
        }
        let seconds = self.seconds_before + self.started.elapsed().as_secs_f64();
        if let (n @ 1.., spent) = self.checkpoints {
            let share = 100.0 * spent / self.started.elapsed().as_secs_f64();
            eprintln!(
                "{}: {n} checkpoints, {spent:.3} s in all ({share:.2}% of the run)",
                label(exp, self.group)
            );
        }
        let mut summaries = Vec::new();
        for ((m, log), dir) in self.group.members.iter().zip(self.logs).zip(&self.run_dirs) {
            let diverged_at = log.diverged_at;
            let summary = RunSummary {
                experiment: exp.experiment.clone(),
                run: m.run.clone(),
                rule: self.group.spec.rule.name().to_string(),
                condition: m.condition.clone(),
                seed: m.seed,
                status: if diverged_at.is_some() {
                    Status::Diverged
                } else {
                    Status::Completed
                },
                diverged_at,
                iterations: diverged_at.unwrap_or(exp.training.iterations),
                seconds,
                device: crate::device::name(cx.device),
                engine: self.engine.kind().name().to_string(),
                params: m.params.clone(),
                results: log.finish()?,
            };
            summary.write_json(dir)?;
            summaries.push(summary);
        }
        checkpoint::remove(&cx.checkpoint_dir(), &self.group.id())?;
        Ok(summaries)
    }
}

/// A checkpoint written for another config, or by another engine, is never resumed.
fn check_meta(cx: &Context, group: &Group, meta: &Meta, engine: EngineKind) -> Result<()> {
    let what = format!("{}: the checkpoint of {}", cx.exp.experiment, group.id());
    engine.ensure_same(meta.engine.as_deref(), &what)?;
    if meta.config_hash != cx.config_hash {
        bail!(
            "{}: the checkpoint of {} was written for another config (hash {} against {}); \
             rerun with --fresh to start over",
            cx.exp.experiment,
            group.id(),
            meta.config_hash,
            cx.config_hash
        );
    }
    checkpoint::warn_if_other_code(meta, &group.id());
    Ok(())
}

/// Which members have not diverged.
fn alive(logs: &[RunLog]) -> Vec<bool> {
    logs.iter().map(RunLog::alive).collect()
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}
