//! Checkpoints: all of a trainer's tensors in safetensors, beside a small JSON with the
//! iteration, a hash of the resolved config, the code version and the run loop's own state
//! (log offsets, results so far).
//!
//! Files, for checkpoint `name` in `dir`: `<name>-<iteration>.safetensors`, then
//! `<name>.json`, each written to a temporary name and renamed. The JSON is the commit point:
//! it names its tensor file, so a kill between the two renames leaves the previous
//! checkpoint whole. Older tensor files are removed after the JSON is in place.
use crate::output::write_atomic;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use tch::{Device, Tensor};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    /// The next iteration to run: everything before it is in the state.
    pub iteration: u64,
    /// [`crate::config::hash`] of the resolved config that wrote it.
    pub config_hash: String,
    /// [`code_version`] of the binary that wrote it.
    pub code_version: String,
    /// The run loop's own state (per-run log offsets and results).
    pub state: serde_json::Value,
    /// The tensor file, relative to the JSON.
    #[serde(default)]
    pub tensors: String,
    /// The engine that wrote it (`mlp::engine`); absent in checkpoints of the torch engine
    /// from before there were two, and in the CNN's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
}

/// Where an experiment folder keeps its checkpoints (MLP programs and CNN runs alike).
pub fn dir_of(exp_dir: &Path) -> PathBuf {
    exp_dir.join("checkpoints")
}

/// The crate version and the git commit it was built from.
pub fn code_version() -> String {
    format!(
        "{} ({})",
        env!("CARGO_PKG_VERSION"),
        env!("CREDIT_GIT_COMMIT")
    )
}

/// Say so when a checkpoint written by another build is resumed: the run then mixes two
/// binaries, which its results should not hide.
pub fn warn_if_other_code(meta: &Meta, what: &str) {
    if meta.code_version != code_version() {
        eprintln!(
            "warning: {what} was checkpointed by credit {}; resuming with {}",
            meta.code_version,
            code_version()
        );
    }
}

fn json_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.json"))
}

/// Write a checkpoint atomically (see the module docs). Tensors may live on any device.
pub fn save(dir: &Path, name: &str, tensors: &[(String, Tensor)], meta: &Meta) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let file = format!("{name}-{}.safetensors", meta.iteration);
    let tmp = dir.join(format!("{file}.tmp"));
    let host: Vec<(String, Tensor)> = tensors
        .iter()
        .map(|(k, t)| (k.clone(), t.to_device(Device::Cpu).contiguous()))
        .collect();
    Tensor::write_safetensors(&host, &tmp).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, dir.join(&file)).with_context(|| format!("renaming {}", tmp.display()))?;
    let meta = Meta {
        tensors: file.clone(),
        ..meta.clone()
    };
    write_atomic(&json_path(dir, name), &serde_json::to_vec_pretty(&meta)?)?;
    for old in tensor_files(dir, name)? {
        if old.file_name().is_some_and(|f| f != file.as_str()) {
            fs::remove_file(&old).with_context(|| format!("removing {}", old.display()))?;
        }
    }
    Ok(())
}

/// Read only the JSON of a checkpoint, if there is one.
pub fn read_meta(dir: &Path, name: &str) -> Result<Option<Meta>> {
    let path = json_path(dir, name);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let meta = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is damaged; remove it (or rerun with --fresh) to start over",
            path.display()
        )
    })?;
    Ok(Some(meta))
}

/// A checkpoint's JSON and its tensors (on the CPU), if there is one.
pub fn load(dir: &Path, name: &str) -> Result<Option<(Meta, State)>> {
    let Some(meta) = read_meta(dir, name)? else {
        return Ok(None);
    };
    let path = dir.join(&meta.tensors);
    let tensors = Tensor::read_safetensors(&path).with_context(|| {
        format!(
            "reading {}: the checkpoint is damaged; rerun with --fresh to start over",
            path.display()
        )
    })?;
    Ok(Some((meta, State(tensors.into_iter().collect()))))
}

/// Remove a checkpoint (after its runs finished, or on --fresh).
pub fn remove(dir: &Path, name: &str) -> Result<()> {
    for path in tensor_files(dir, name)?
        .into_iter()
        .chain([json_path(dir, name)])
    {
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing {}", path.display()))
            }
            _ => {}
        }
    }
    Ok(())
}

fn tensor_files(dir: &Path, name: &str) -> Result<Vec<PathBuf>> {
    let prefix = format!("{name}-");
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let file = path.file_name().and_then(|f| f.to_str()).unwrap_or("");
        if let Some(rest) = file.strip_prefix(&prefix) {
            let iteration = rest
                .trim_end_matches(".tmp")
                .trim_end_matches(".safetensors");
            if iteration.parse::<u64>().is_ok() {
                out.push(path);
            }
        }
    }
    Ok(out)
}

/// Saved tensors by name; `restore` copies one into the live tensor of the same shape.
pub struct State(BTreeMap<String, Tensor>);

impl State {
    pub fn restore(&self, name: &str, into: &mut Tensor) -> Result<()> {
        let Some(saved) = self.0.get(name) else {
            bail!("the checkpoint has no tensor `{name}`; rerun with --fresh to start over")
        };
        if saved.size() != into.size() || saved.kind() != into.kind() {
            bail!(
                "the checkpoint's `{name}` is {:?} {:?}, the trainer's {:?} {:?}; rerun with --fresh",
                saved.kind(),
                saved.size(),
                into.kind(),
                into.size()
            );
        }
        into.copy_(saved);
        Ok(())
    }

    /// A saved scalar counter.
    pub fn int(&self, name: &str) -> Result<i64> {
        match self.0.get(name) {
            Some(t) => Ok(t.int64_value(&[])),
            None => bail!("the checkpoint has no `{name}`; rerun with --fresh to start over"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_roundtrip_keeps_bits_and_only_the_latest_tensor_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = Tensor::randn([3, 4], (tch::Kind::Double, Device::Cpu));
        let meta = |iteration| Meta {
            iteration,
            config_hash: "h".into(),
            code_version: code_version(),
            state: serde_json::json!({"k": 1}),
            tensors: String::new(),
            engine: None,
        };
        save(
            dir.path(),
            "p0",
            &[("a".into(), a.shallow_clone())],
            &meta(5),
        )
        .unwrap();
        save(dir.path(), "p0", &[("a".into(), &a * 2.0)], &meta(9)).unwrap();
        let (m, state) = load(dir.path(), "p0").unwrap().unwrap();
        assert_eq!(m.iteration, 9);
        let mut b = Tensor::zeros([3, 4], (tch::Kind::Double, Device::Cpu));
        state.restore("a", &mut b).unwrap();
        assert!(b.equal(&(&a * 2.0)));
        assert_eq!(tensor_files(dir.path(), "p0").unwrap().len(), 1);
        let mut wrong = Tensor::zeros([4, 3], (tch::Kind::Double, Device::Cpu));
        assert!(state.restore("a", &mut wrong).is_err());
        remove(dir.path(), "p0").unwrap();
        assert!(load(dir.path(), "p0").unwrap().is_none());
    }
}
