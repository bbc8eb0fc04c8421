//! The md5 check a run makes before it loads a data set, cached by file size and mtime.
//!
//! [`super::load`] calls [`verify_with`] first. The md5 each file must have:
//! - MNIST and Fashion-MNIST: the md5 of the uncompressed IDX content ([`FetchSpec`]), so a
//!   plain file and its `.gz` verify alike;
//! - CIFAR-10/100: the folder's `MD5SUMS`, written by `credit data fetch` after the archive's
//!   own md5 check. A folder filled by hand (no `MD5SUMS`) has nothing to check against and
//!   loads unverified, as `credit data check` reports it.
//!
//! A file whose md5 differs is refused with its path and the command that replaces it. Each
//! file that passed is recorded in `<data set folder>/.verified.json` with its size, mtime and
//! md5; a later load hashes only files whose size or mtime changed since (or whose expected
//! md5 did). A file that is missing is left to the reader, which names it and the fix.
//! `credit data check` always hashes everything and removes the record of a data set it finds
//! damaged.
use super::fetch::{md5_file, md5_hex, FetchSpec, FileSpec, SUMS};
use super::{dataset_dir, mnist};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The record of verified files, one per data set folder.
pub const CACHE_FILE: &str = ".verified.json";

/// What one verification did, file names as they are on disk.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Files hashed now (new, changed, or not in the record).
    pub hashed: Vec<String>,
    /// Files whose record (size, mtime, md5) still held: not read.
    pub cached: Vec<String>,
    /// True when there is nothing to verify against (CIFAR filled by hand, no `MD5SUMS`).
    pub unverified: bool,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    files: BTreeMap<String, Stamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    size: u64,
    mtime_s: u64,
    mtime_ns: u32,
    md5: String,
}

impl Stamp {
    fn of(path: &Path, md5: &str) -> Result<Stamp> {
        let meta = fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .unwrap_or_default();
        Ok(Stamp {
            size: meta.len(),
            mtime_s: mtime.as_secs(),
            mtime_ns: mtime.subsec_nanos(),
            md5: md5.to_string(),
        })
    }
}

/// Verify data set `name` in `data_dir` against the real checksums ([`FetchSpec::from_env`]).
pub fn verify(name: &str, data_dir: &Path) -> Result<Verified> {
    verify_with(name, data_dir, &FetchSpec::from_env())
}

/// [`verify`] against explicit checksums.
pub fn verify_with(name: &str, data_dir: &Path, spec: &FetchSpec) -> Result<Verified> {
    let dir = dataset_dir(name, data_dir)?;
    let idx = matches!(name, "mnist" | "fashion-mnist");
    let expected: Vec<FileSpec> = match name {
        "mnist" => spec.mnist_files.clone(),
        "fashion-mnist" => spec.fashion_files.clone(),
        _ => match read_sums(&dir, name)? {
            Some(files) => files,
            None => {
                return Ok(Verified {
                    unverified: true,
                    ..Verified::default()
                })
            }
        },
    };
    let old = read_record(&dir);
    let mut new = Record::default();
    let mut out = Verified::default();
    for file in &expected {
        let path = if idx {
            mnist::find_file(&dir, &file.name)
        } else {
            Some(dir.join(&file.name)).filter(|p| p.is_file())
        };
        let Some(path) = path else { continue };
        let key = file_name(&path);
        let stamp = Stamp::of(&path, &file.md5)?;
        if old.files.get(&key) == Some(&stamp) {
            out.cached.push(key.clone());
            new.files.insert(key, stamp);
            continue;
        }
        let got = if idx {
            md5_hex(&mnist::read_bytes(&dir, &file.name, name)?.1)
        } else {
            md5_file(&path)?
        };
        if got != file.md5 {
            bail!(
                "{} has md5 {got}{}, expected {}: the file is corrupt or not the original. \
                 Run `credit data fetch {name}` to replace it (it fetches what fails its md5).",
                path.display(),
                if idx && key.ends_with(".gz") {
                    " once uncompressed"
                } else {
                    ""
                },
                file.md5
            );
        }
        out.hashed.push(key.clone());
        new.files.insert(key, stamp);
    }
    if new != old {
        if let Err(e) = write_record(&dir, &new) {
            eprintln!(
                "note: {name}: the md5 check passed but could not be recorded ({e:#}); the next \
                 run will hash the files again"
            );
        }
    }
    Ok(out)
}

/// Remove the record of verified files of data set folder `dir` (when `check` finds damage).
pub fn forget(dir: &Path) {
    let _ = fs::remove_file(dir.join(CACHE_FILE));
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The files listed in a CIFAR folder's `MD5SUMS`; `None` when there is no such file.
fn read_sums(dir: &Path, name: &str) -> Result<Option<Vec<FileSpec>>> {
    let path = dir.join(SUMS);
    let Ok(text) = fs::read_to_string(&path) else {
        return Ok(None);
    };
    let mut files = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Some((md5, file)) = line.split_once("  ") else {
            bail!(
                "{}: line '{line}' is not 'MD5  NAME': the file is damaged. Run `credit data \
                 fetch {name}`.",
                path.display()
            );
        };
        files.push(FileSpec {
            name: file.to_string(),
            md5: md5.to_string(),
        });
    }
    Ok(Some(files))
}

/// The record in `dir`; an absent or unreadable one is empty (everything is hashed again).
fn read_record(dir: &Path) -> Record {
    fs::read(dir.join(CACHE_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Write the record under a temporary name unique to this process, then rename it into
/// place: concurrent runs each leave a complete file.
fn write_record(dir: &Path, record: &Record) -> Result<()> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".verified-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(&serde_json::to_vec_pretty(record)?)?;
    // readable by whoever shares the data folder, like the data (tempfile makes it 0600)
    use std::os::unix::fs::PermissionsExt;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(0o644))?;
    let dest: PathBuf = dir.join(CACHE_FILE);
    tmp.persist(&dest)
        .with_context(|| format!("renaming into {}", dest.display()))?;
    Ok(())
}
