//! An experiment's folder belongs to one config: `experiment.yaml` records the resolved
//! config that writes it. A different config is refused, naming the fields that differ,
//! unless `--fresh`, which starts the folder over: it removes what credit wrote there and
//! nothing else (a user's notes, an analysis folder, an experiment nested inside stay).
use crate::output::write_atomic;
use anyhow::{bail, Context, Result};
use serde_yaml::Value;
use std::fs;
use std::path::Path;

pub const MANIFEST: &str = "experiment.yaml";
/// Lock files live here; starting over keeps them (their holders are this process).
pub const LOCKS: &str = "locks";

/// What credit writes in an experiment folder, besides figures, run folders and locks.
const WRITTEN_FILES: [&str; 5] = [
    MANIFEST,
    "summary.csv",
    "aggregate.csv",
    SHARDS,
    "search.csv",
];
/// Folders credit writes whole in an experiment folder: checkpoints and `credit submit`'s
/// scripts and logs.
const WRITTEN_DIRS: [&str; 2] = ["checkpoints", "slurm"];
/// What credit writes in a run folder.
const RUN_FILES: [&str; 5] = [
    "config.yaml",
    "metrics.csv",
    "summary.json",
    "latent.csv",
    "reconstructions.csv",
];

/// Make `exp_dir` the folder of `resolved`. With `fresh`, start it over first (`partial`:
/// only some programs are being run, e.g. one shard, so the folder is never wiped).
pub fn prepare(exp_dir: &Path, resolved: &Value, fresh: bool, partial: bool) -> Result<()> {
    // Shards started together claim the folder one after another, so none sees another's
    // half-written manifest as a stranger's files.
    let _claim = crate::lock::Lock::wait(&exp_dir.join(LOCKS).join("folder.lock"))?;
    if check(exp_dir, resolved, fresh, partial)? == Claim::StartOver {
        wipe(exp_dir)?;
    }
    write_atomic(
        &exp_dir.join(MANIFEST),
        serde_yaml::to_string(resolved)?.as_bytes(),
    )
}

/// What [`prepare`] will do with a folder.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// Empty, or this config's already: write into it.
    Use,
    /// `--fresh` on another config's results: remove them first.
    StartOver,
}

/// Whether `exp_dir` can become the folder of `resolved`, touching nothing: an error (naming
/// the fields that differ, or the strangers' files) where [`prepare`] would refuse, so that a
/// command can check the folder before it writes anything.
pub fn check(exp_dir: &Path, resolved: &Value, fresh: bool, partial: bool) -> Result<Claim> {
    let manifest = exp_dir.join(MANIFEST);
    match read_manifest(exp_dir)? {
        Some(old) => {
            let fields = crate::config::diff(&old, resolved);
            if !fields.is_empty() && (partial || !fresh) {
                bail!(
                    "{} holds results of another config ({} differ from {}). {}",
                    exp_dir.display(),
                    fields.join(", "),
                    manifest.display(),
                    if partial {
                        "Finish or remove it first, or write elsewhere with --out (--fresh with --shard never wipes the other shards' runs)"
                    } else {
                        "Rerun with --fresh to replace those results, or write elsewhere with --out"
                    }
                );
            }
            Ok(if fresh && !partial {
                Claim::StartOver
            } else {
                Claim::Use
            })
        }
        None if has_entries(exp_dir)? => {
            if !fresh || partial || !looks_like_results(exp_dir)? {
                bail!(
                    "{} exists and holds files that no config of this version of credit claims \
                     (no {MANIFEST}); {}",
                    exp_dir.display(),
                    if looks_like_results(exp_dir)? {
                        "rerun with --fresh (without --shard) to replace them, or write elsewhere with --out"
                    } else {
                        "it is not a results folder: write elsewhere with --out"
                    }
                );
            }
            Ok(Claim::StartOver)
        }
        None => Ok(Claim::Use),
    }
}

const SHARDS: &str = "shards.txt";

/// Remember into how many shards the folder was last split, for collect's messages.
/// (Checkpoints belong to programs, not shards, so a later split of another N resumes them.)
pub fn record_shards(exp_dir: &Path, count: usize) -> Result<()> {
    write_atomic(&exp_dir.join(SHARDS), format!("{count}\n").as_bytes())
}

/// Into how many shards the folder was last split, if it was.
pub fn recorded_shards(exp_dir: &Path) -> Option<usize> {
    let text = fs::read_to_string(exp_dir.join(SHARDS)).ok()?;
    text.trim().parse().ok()
}

/// The resolved config recorded in an experiment folder, if any.
pub fn read_manifest(exp_dir: &Path) -> Result<Option<Value>> {
    let path = exp_dir.join(MANIFEST);
    match fs::read_to_string(&path) {
        Ok(text) => Ok(Some(serde_yaml::from_str(&text).with_context(|| {
            format!("{} is damaged; rerun with --fresh", path.display())
        })?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn has_entries(dir: &Path) -> Result<bool> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(false);
    };
    for entry in entries {
        if entry?.file_name() != LOCKS {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A folder of earlier results: summary.csv, or a run folder with metrics or a summary.
fn looks_like_results(dir: &Path) -> Result<bool> {
    if dir.join("summary.csv").exists() {
        return Ok(true);
    }
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if [
            "summary.json",
            "metrics.csv",
            "metrics.csv.tmp",
            "config.yaml",
        ]
        .iter()
        .any(|f| path.join(f).exists())
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Remove what credit wrote in the experiment folder `dir` (its files, figures,
/// checkpoints, and the files of its run folders), keeping the lock files, and say what was
/// left: anything else, and any folder that holds an experiment.yaml of its own.
fn wipe(dir: &Path) -> Result<()> {
    let experiment = dir
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string();
    let mut left = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().to_string();
        let path = entry.path();
        if name == LOCKS {
            continue;
        }
        if entry.file_type()?.is_dir() {
            if WRITTEN_DIRS.contains(&name.as_str()) {
                fs::remove_dir_all(&path)
                    .with_context(|| format!("removing {}", path.display()))?;
            } else if path.join(MANIFEST).exists() {
                left.push(format!("{name}/ (an experiment of its own)"));
            } else {
                left.extend(wipe_run(&path)?.into_iter().map(|f| format!("{name}/{f}")));
            }
        } else if written_file(&name, &experiment) {
            remove(&path)?;
        } else {
            left.push(name);
        }
    }
    if !left.is_empty() {
        left.sort();
        eprintln!(
            "{}: --fresh removed credit's earlier results and left what it did not write: {}",
            dir.display(),
            left.join(", ")
        );
    }
    Ok(())
}

/// Remove credit's files from a run folder, and the folder once it is empty; returns the
/// names of what is left in it.
fn wipe_run(dir: &Path) -> Result<Vec<String>> {
    let mut left = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().to_string();
        let file = name.strip_suffix(".tmp").unwrap_or(&name);
        if entry.file_type()?.is_file() && RUN_FILES.contains(&file) {
            remove(&entry.path())?;
        } else {
            left.push(name);
        }
    }
    if left.is_empty() {
        fs::remove_dir(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    Ok(left)
}

/// A file credit writes at the top of the folder of `experiment`: its records (or their
/// temporary files) and the figures named after it.
fn written_file(name: &str, experiment: &str) -> bool {
    let file = name.strip_suffix(".tmp").unwrap_or(name);
    let figure = file.starts_with(experiment)
        && [".png", ".svg", ".md"]
            .iter()
            .any(|ext| file.ends_with(ext));
    WRITTEN_FILES.contains(&file) || figure
}

fn remove(path: &Path) -> Result<()> {
    fs::remove_file(path).with_context(|| format!("removing {}", path.display()))
}
