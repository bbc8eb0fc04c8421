//! `credit run` for MLP experiments: a config → its batched programs (all, or one shard's)
//! → results/<experiment>/. Programs that finished are not trained again; a program with a
//! checkpoint resumes from it.
use super::collect;
use super::config::Experiment;
use super::engine::{self, EngineKind};
use super::run::{run_program, Context};
use super::shard::{self, Shard};
use super::sweep::{self, Group};
use super::{memory, tasks};
use crate::checkpoint;
use crate::lock::Lock;
use crate::output::RunSummary;
use crate::run_folder::{record, Record};
use anyhow::{bail, Context as _, Result};
use std::path::{Path, PathBuf};
use tch::Device;

pub struct RunOptions {
    pub quick: bool,
    pub device: Device,
    /// results/ (the experiment's folder goes inside).
    pub out_root: PathBuf,
    pub data_dir: PathBuf,
    /// Start over: the experiment's folder (or, with a shard, that shard's programs).
    pub fresh: bool,
    /// Only this shard's programs; the experiment's summary is then `credit collect`'s.
    pub shard: Option<Shard>,
    /// One of several workers on the folder: take each program, costliest first, that no
    /// other is training, until none is left (`--queue`; `--jobs` starts its processes so).
    /// The summary is then `credit collect`'s.
    pub queue: bool,
}

/// Run one MLP experiment file. Returns the experiment folder and its run summaries.
pub fn run_file(path: &Path, opts: &RunOptions) -> Result<(PathBuf, Vec<RunSummary>)> {
    let value = crate::config::load_value(path, opts.quick)?;
    let kind = crate::config::kind_of(&value);
    if kind != "mlp" {
        bail!("{}: kind '{kind}' is not an MLP experiment", path.display());
    }
    let exp = Experiment::from_value(value, &path.display().to_string())?;
    run_experiment(&exp, opts)
}

/// Train the experiment's programs (one shard's, with `opts.shard`) and, for a whole run,
/// write summary.csv. Returns the summaries of the runs this call covered.
pub fn run_experiment(exp: &Experiment, opts: &RunOptions) -> Result<(PathBuf, Vec<RunSummary>)> {
    let programs = sweep::programs(exp)?;
    let selected: Vec<&Group> = match opts.shard {
        None if opts.queue => shard::costliest_first(exp, &programs),
        None => programs.iter().collect(),
        Some(s) => {
            let of = shard::assign(exp, &programs, s.count)?;
            programs.iter().filter(|g| of[g.index] == s.index).collect()
        }
    };
    let partial = opts.shard.is_some() || opts.queue;
    if opts.queue && opts.fresh {
        bail!("--queue cannot start over (--fresh): its siblings may be training; start over with `credit run --fresh` alone, or remove the folder first");
    }
    let data = tasks::load(exp, &opts.data_dir, opts.device)?;
    preflight(exp, data.train_len())?;
    memory::check(
        exp,
        &programs,
        opts.device,
        data.train_len(),
        data.test_x.size()[0],
    )?;
    let exp_dir = opts.out_root.join(&exp.experiment);
    // A queue's worker locks each program as it takes it; otherwise every one up front.
    let _locks = (selected.iter())
        .filter(|_| !opts.queue)
        .map(|g| lock_program(&exp_dir, exp, g))
        .collect::<Result<Vec<Lock>>>()?;
    let resolved = serde_yaml::to_value(exp)?;
    let config_hash = crate::config::hash(&resolved)?;
    crate::folder::prepare(&exp_dir, &resolved, opts.fresh, partial)?;
    let cx = Context {
        exp,
        exp_dir: &exp_dir,
        device: opts.device,
        config_hash: &config_hash,
        engine: engine::command_line().unwrap_or(exp.training.engine),
    };
    if let Some(s) = opts.shard {
        crate::folder::record_shards(&exp_dir, s.count)?;
        if opts.fresh {
            for g in &selected {
                checkpoint::remove(&cx.checkpoint_dir(), &g.id())?;
            }
        }
    }
    let mut all = Vec::new();
    for g in selected {
        let _taken = match opts.queue {
            true => match Lock::try_acquire(&lock_path(&exp_dir, g))? {
                Some(lock) => Some(lock),
                None => continue, // another worker trains it
            },
            false => None,
        };
        let summaries = match finished(&cx, g)? {
            Some(done) => {
                let kind = EngineKind::choose(cx.engine, exp, g, opts.device)?;
                for s in &done {
                    let what = format!("{}/{}", exp.experiment, s.run);
                    kind.ensure_same(Some(&s.engine), &what)?;
                }
                done
            }
            None => run_program(&cx, g, &data).with_context(|| {
                format!(
                    "{}: training runs[{}] ({})",
                    exp.experiment,
                    g.spec_index,
                    g.spec.rule.name()
                )
            })?,
        };
        all.extend(summaries);
    }
    for s in all.iter().filter(|s| s.diverged_at.is_some()) {
        eprintln!(
            "{}: run {} diverged at iteration {}",
            exp.experiment,
            s.run,
            s.diverged_at.unwrap_or(0)
        );
    }
    match opts.shard {
        None if opts.queue => eprintln!(
            "{}: nothing left in the queue; once every worker is done, `credit collect {}`",
            exp.experiment,
            exp_dir.display()
        ),
        None => collect::write_summary(&exp_dir, &all)?,
        Some(s) => eprintln!(
            "{}: shard {s} done ({} runs); once every shard is, `credit collect {}`",
            exp.experiment,
            all.len(),
            exp_dir.display()
        ),
    }
    Ok((exp_dir, all))
}

/// What the config's own validation cannot see, checked before the folder is written: a
/// batch the training set cannot fill.
fn preflight(exp: &Experiment, n_train: i64) -> Result<()> {
    let t = exp.training.batch_size;
    if t > n_train {
        bail!(
            "training.batch_size {t} is larger than the training set ({n_train} examples): give \
             at most {n_train}"
        );
    }
    Ok(())
}

/// The summaries of a program whose runs all finished, each whole (and which has no
/// checkpoint to resume), or None: it is trained. A damaged run is said, and trained again.
fn finished(cx: &Context, g: &Group) -> Result<Option<Vec<RunSummary>>> {
    if checkpoint::read_meta(&cx.checkpoint_dir(), &g.id())?.is_some() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(g.members.len());
    for m in &g.members {
        let config = g.run_config(cx.exp, m)?;
        match record(
            &cx.exp_dir.join(&m.run),
            &cx.exp.experiment,
            &m.run,
            &config,
        )? {
            Record::Whole(s) => out.push(*s),
            Record::Absent => return Ok(None),
            Record::Damaged(why) => {
                eprintln!("{}/{}: {why}; training it again", cx.exp.experiment, m.run);
                return Ok(None);
            }
        }
    }
    Ok(Some(out))
}

/// Where the lock of one program's runs lives.
pub fn lock_path(exp_dir: &Path, g: &Group) -> PathBuf {
    exp_dir
        .join(crate::folder::LOCKS)
        .join(format!("{}.lock", g.id()))
}

/// The lock of one program's runs: a second process writing them fails at once.
pub fn lock_program(exp_dir: &Path, exp: &Experiment, g: &Group) -> Result<Lock> {
    let path = lock_path(exp_dir, g);
    let first = &g.members[0].run;
    Lock::acquire(
        &path,
        &format!("{}/{first} (and the rest of {})", exp.experiment, g.id()),
    )
}
