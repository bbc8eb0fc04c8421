//! An experiment's folder belongs to one config: `experiment.yaml` records the resolved
//! config that writes it. A different config is refused, naming the fields that differ,
//! unless `--fresh`, which starts the folder over.
use crate::output::write_atomic;
use anyhow::{bail, Context, Result};
use serde_yaml::Value;
use std::fs;
use std::path::Path;

pub const MANIFEST: &str = "experiment.yaml";
/// Lock files live here; starting over keeps them (their holders are this process).
pub const LOCKS: &str = "locks";

/// Make `exp_dir` the folder of `resolved`. With `fresh`, start it over first (`partial`:
/// only some programs are being run, e.g. one shard, so the folder is never wiped).
pub fn prepare(exp_dir: &Path, resolved: &Value, fresh: bool, partial: bool) -> Result<()> {
    // Shards started together claim the folder one after another, so none sees another's
    // half-written manifest as a stranger's files.
    let _claim = crate::lock::Lock::wait(&exp_dir.join(LOCKS).join("folder.lock"))?;
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
            if fresh && !partial {
                wipe(exp_dir)?;
            }
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
            wipe(exp_dir)?;
        }
        None => {}
    }
    write_atomic(&manifest, serde_yaml::to_string(resolved)?.as_bytes())
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

/// Remove everything in `dir` but the lock files.
fn wipe(dir: &Path) -> Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name() == LOCKS {
            continue;
        }
        let path = entry.path();
        let gone = if entry.file_type()?.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        gone.with_context(|| format!("removing {}", path.display()))?;
    }
    Ok(())
}
