//! YAML config files shared by every experiment kind: reading with the `quick:` overrides,
//! parsing with the path of a bad field in the error, and comparing two resolved configs
//! (a hash for checkpoints, and the fields that differ for the refusal messages).
//!
//! A file may carry a `quick:` mapping; `--quick` deep-merges it over the file (mappings
//! merge, everything else is replaced) and suffixes the experiment name with `-quick`.
use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;
use serde_yaml::Value;
use std::path::Path;

/// Read a config file to a YAML value, applying its `quick:` block when asked.
pub fn load_value(path: &Path, quick: bool) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read config {}: check the path (configs live in configs/)",
            path.display()
        )
    })?;
    let value: Value = serde_yaml::from_str(&text)
        .with_context(|| format!("{} is not valid YAML", path.display()))?;
    apply_quick(value, quick, &path.display().to_string())
}

/// Remove the `quick:` block; with `quick`, deep-merge it over the rest and suffix the
/// experiment name with `-quick`.
pub fn apply_quick(mut value: Value, quick: bool, origin: &str) -> Result<Value> {
    let Value::Mapping(map) = &mut value else {
        bail!("{origin}: the top level must be a mapping with `experiment:`, `runs:`, ...")
    };
    let overrides = map.remove("quick");
    if quick {
        let Some(overrides) = overrides else {
            bail!("{origin}: --quick asked for, but the file has no `quick:` block")
        };
        if !overrides.is_mapping() {
            bail!("{origin}: `quick:` must be a mapping of overrides");
        }
        merge(&mut value, overrides);
        if let Some(Value::String(name)) = value.get_mut("experiment") {
            name.push_str("-quick");
        }
    }
    Ok(value)
}

fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// The `kind:` of a loaded config (mlp when absent).
pub fn kind_of(value: &Value) -> String {
    value
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("mlp")
        .to_string()
}

/// Deserialize a config; a bad field is named by its path (`runs[2].sigma`).
pub fn parse<T: DeserializeOwned>(value: Value, origin: &str) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        anyhow::anyhow!(
            "{origin}: field `{}`: {}. Fix that field; configs/README.md lists the schema",
            e.path(),
            e.inner()
        )
    })
}

/// md5 of a resolved config's canonical YAML: equal configs, equal hashes.
pub fn hash(value: &Value) -> Result<String> {
    let text = serde_yaml::to_string(value)?;
    Ok(crate::data::fetch::md5_hex(text.as_bytes()))
}

/// The paths of the fields in which two resolved configs differ (`training.iterations`,
/// `runs[1].lr`), in document order; empty when they are equal.
pub fn diff(old: &Value, new: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff_at("", old, new, &mut out);
    out
}

fn diff_at(path: &str, old: &Value, new: &Value, out: &mut Vec<String>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match (old, new) {
        (Value::Mapping(a), Value::Mapping(b)) => {
            for (k, va) in a {
                let key = k.as_str().map(str::to_string).unwrap_or(format!("{k:?}"));
                match b.get(k) {
                    Some(vb) => diff_at(&join(&key), va, vb, out),
                    None => out.push(join(&key)),
                }
            }
            for (k, _) in b.iter().filter(|(k, _)| !a.contains_key(*k)) {
                let key = k.as_str().map(str::to_string).unwrap_or(format!("{k:?}"));
                out.push(join(&key));
            }
        }
        (Value::Sequence(a), Value::Sequence(b)) if a.len() == b.len() => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                diff_at(&format!("{path}[{i}]"), va, vb, out);
            }
        }
        (a, b) if a != b => out.push(if path.is_empty() {
            "(the whole config)".into()
        } else {
            path.to_string()
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_changed_added_and_removed_fields() {
        let a: Value =
            serde_yaml::from_str("t: {iterations: 10, seeds: [0, 1]}\nruns: [{lr: 1}]").unwrap();
        let b: Value =
            serde_yaml::from_str("t: {iterations: 20, seeds: [0, 2]}\nruns: [{lr: 1, x: 2}]")
                .unwrap();
        assert_eq!(diff(&a, &b), ["t.iterations", "t.seeds[1]", "runs[0].x"]);
        assert!(diff(&a, &a).is_empty());
        assert_ne!(hash(&a).unwrap(), hash(&b).unwrap());
    }
}
