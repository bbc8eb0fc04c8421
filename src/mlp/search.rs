//! `credit search`: random hyperparameter search over an MLP config's `search:` block.
//!
//! ```yaml
//! search:
//!   trials: 30              # default for --trials
//!   metric: val_error       # val_error | val_loss: needs data.validation
//!   select: final           # final | min: the last evaluation's value, or the best one
//!   params:
//!     runs[0].lr:    { log_uniform: [1.0e-6, 1.0e-3] }
//!     runs[0].sigma: { log_uniform: [1.0e-4, 1.0e-1] }
//!     runs[0].b_init: { choice: [zero, random] }
//! ```
//!
//! Each trial's value of a parameter is a function of (search seed, trial, parameter), so a
//! search is reproducible and trial t draws the same values whatever N is. A searched entry
//! becomes entries with `trials:` lists: trials that agree on every setting except lr,
//! sigma and lr_b (which vary per member) train as members of one batched program. The
//! expanded experiment is an ordinary config, written to `<out>/<experiment>.yaml` and run
//! by the normal engine, so checkpoints, `--shard`, `--jobs` and `credit run` on it work.
//! Entries without searched parameters run as they are (controls).
use super::config::{Experiment, RunSpec, Task};
use crate::output::RunSummary;
use crate::search::{value_text, Ranking};
pub use crate::search::{Dist, Ranked};
use anyhow::{bail, Context, Result};
use serde_yaml::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Settings that vary per member: a trial's values of these go in `trials:`.
const MEMBER_FIELDS: [&str; 3] = ["lr", "sigma", "lr_b"];
/// Entry settings a search may not set.
const FIXED_FIELDS: [&str; 5] = ["name", "rule", "seeds", "sizes", "trials"];

/// One searched parameter: `runs[entry].field`.
#[derive(Debug, Clone)]
pub struct Param {
    pub key: String,
    pub entry: usize,
    pub field: String,
    pub dist: Dist,
}

/// What trials are selected on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Select {
    /// The value at the last evaluation; the test value there.
    Final,
    /// The lowest value over evaluations; the test value at that evaluation.
    Min,
}

/// A config's `search:` block.
#[derive(Debug, Clone)]
pub struct Search {
    pub trials: Option<usize>,
    /// `val_error` or `val_loss`.
    pub metric: String,
    pub select: Select,
    pub params: Vec<Param>,
}

impl Search {
    /// Parse and check the block against the config's `runs:` (`n_runs` entries).
    pub fn from_value(v: &Value, runs: &[Value]) -> Result<Self> {
        let (map, trials) =
            crate::search::block_fields(v, &["trials", "metric", "select", "params"])?;
        let metric = match map.get("metric").map(|m| m.as_str()) {
            None => "val_error".to_string(),
            Some(Some(m @ ("val_error" | "val_loss"))) => m.to_string(),
            Some(_) => bail!("search.metric: use val_error or val_loss (validation metrics)"),
        };
        let select = match map.get("select").map(|m| m.as_str()) {
            None | Some(Some("final")) => Select::Final,
            Some(Some("min")) => Select::Min,
            Some(_) => bail!("search.select: use final (the last evaluation) or min (the best)"),
        };
        let Some(Value::Mapping(params)) = map.get("params") else {
            bail!(
                "search.params: a mapping like {{ runs[0].lr: {{log_uniform: [1.0e-6, 1.0e-3]}} }}"
            )
        };
        if params.is_empty() {
            bail!("search.params: name at least one parameter");
        }
        let mut out = Vec::new();
        for (key, dist) in params {
            let key = key.as_str().unwrap_or("").to_string();
            let field_path = format!("search.params.{key}");
            let (entry, field) = parse_key(&key).with_context(|| {
                format!("{field_path}: name a run entry's setting, e.g. runs[0].lr")
            })?;
            if entry >= runs.len() {
                bail!(
                    "{field_path}: the config has {} run entries (runs[0] to runs[{}])",
                    runs.len(),
                    runs.len() - 1
                );
            }
            if FIXED_FIELDS.contains(&field.as_str()) {
                bail!("{field_path}: {field} cannot be searched; search a run's settings (lr, sigma, lr_b, gamma, ...)");
            }
            let dist = Dist::from_value(dist, &field_path)?;
            if MEMBER_FIELDS.contains(&field.as_str()) {
                if let Dist::Choice(values) = &dist {
                    if values.iter().any(|v| v.as_f64().is_none()) {
                        bail!("{field_path}.choice: {field} takes numbers");
                    }
                }
            }
            out.push(Param {
                key,
                entry,
                field,
                dist,
            });
        }
        Ok(Self {
            trials,
            metric,
            select,
            params: out,
        })
    }

    /// The result keys of summary.json that select (validation) and score (test) a run.
    pub fn ranking(&self) -> Ranking {
        let m = self.metric.trim_start_matches("val_");
        let (val_key, test_key) = match self.select {
            Select::Final => (format!("final_val_{m}"), format!("final_test_{m}")),
            Select::Min => (format!("min_val_{m}"), format!("test_{m}_at_min_val_{m}")),
        };
        Ranking {
            val_key,
            test_key,
            higher_is_better: false,
        }
    }

    /// The searched fields of entry `k`, in the block's order.
    fn fields_of(&self, k: usize) -> Vec<&Param> {
        self.params.iter().filter(|p| p.entry == k).collect()
    }
}

/// `runs[3].lr` → (3, "lr").
fn parse_key(key: &str) -> Result<(usize, String)> {
    let rest = key
        .strip_prefix("runs[")
        .context("it must start with runs[")?;
    let (index, field) = rest.split_once("].").context("expected runs[K].field")?;
    let index: usize = index.parse().context("K must be a whole number")?;
    if field.is_empty() || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        bail!("'{field}' is not a setting name");
    }
    Ok((index, field.to_string()))
}

/// A search expanded into an ordinary experiment.
pub struct Expanded {
    pub exp: Experiment,
    pub search: Search,
    pub trials: usize,
    pub seed: u64,
    /// Per searched label: its searched fields.
    pub searched: BTreeMap<String, Vec<String>>,
}

/// Expand a loaded config (`quick:` already applied) into its trials. `trials` overrides
/// `search.trials`.
pub fn expand(
    mut value: Value,
    trials: Option<usize>,
    seed: u64,
    origin: &str,
) -> Result<Expanded> {
    let block = crate::search::take_block(&mut value, origin)?;
    let base = value.clone();
    let Value::Mapping(map) = &mut value else {
        unreachable!("take_block checked the mapping")
    };
    let Some(Value::Sequence(runs)) = map.get("runs").cloned() else {
        bail!("{origin}: runs: list at least one run")
    };
    let search = Search::from_value(&block, &runs).with_context(|| format!("{origin}: search"))?;
    let n = crate::search::trial_count(trials, search.trials, origin)?;
    let mut searched: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut label_of: BTreeMap<String, usize> = BTreeMap::new();
    let mut new_runs = Vec::new();
    for (k, entry) in runs.iter().enumerate() {
        let params = search.fields_of(k);
        if params.is_empty() {
            new_runs.push(entry.clone());
            continue;
        }
        let label = entry
            .get("name")
            .or_else(|| entry.get("rule"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if let Some(j) = label_of.insert(label.clone(), k) {
            bail!(
                "{origin}: search: runs[{j}] and runs[{k}] are both searched under the label \
                 '{label}'; give them different `name:`s"
            );
        }
        searched.insert(label, params.iter().map(|p| p.field.clone()).collect());
        check_choices(&base, entry, &params, seed, origin)?;
        // Entries that differ in settings other than the per-member ones, each with its trials
        // (found by a map: a search of N trials expands in O(N log N)).
        let mut groups: Vec<(Value, Vec<Value>)> = Vec::new();
        let mut group_of: BTreeMap<String, usize> = BTreeMap::new();
        for t in 0..n as u64 {
            let (e, trial) = trial_entry(entry, &params, seed, t, None)
                .with_context(|| format!("{origin}: runs[{k}]"))?;
            let key = serde_yaml::to_string(&e)?;
            match group_of.get(&key) {
                Some(&g) => groups[g].1.push(Value::Mapping(trial)),
                None => {
                    group_of.insert(key, groups.len());
                    groups.push((e, vec![Value::Mapping(trial)]));
                }
            }
        }
        for (mut e, ts) in groups {
            if let Value::Mapping(m) = &mut e {
                m.insert("trials".into(), Value::Sequence(ts));
            }
            new_runs.push(e);
        }
    }
    map.insert("runs".into(), Value::Sequence(new_runs));
    let desc = map
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    map.insert(
        "description".into(),
        Value::from(format!(
            "{desc}{}random search: {n} trials, seed {seed}",
            if desc.is_empty() { "" } else { " | " }
        )),
    );
    let exp = Experiment::from_value(value, &format!("{origin} (expanded search)"))?;
    if exp.data.validation.is_none() {
        bail!(
            "{origin}: a search selects trials on validation: set data.validation (e.g. 5000 \
             images held out of the training set)"
        );
    }
    if search.metric == "val_error" && exp.task != Task::Classify {
        bail!("{origin}: search.metric val_error needs task: classify; use val_loss");
    }
    Ok(Expanded {
        exp,
        search,
        trials: n,
        seed,
        searched,
    })
}

/// Entry `entry` with trial `t`'s draws of `params` (`fixed`: one parameter's key and the
/// value it takes instead of its draw), and the trial's `trials:` item: the per-member
/// settings go in the item, the others in the entry.
fn trial_entry(
    entry: &Value,
    params: &[&Param],
    seed: u64,
    t: u64,
    fixed: Option<(&str, &Value)>,
) -> Result<(Value, serde_yaml::Mapping)> {
    let mut e = entry.clone();
    let Value::Mapping(m) = &mut e else {
        bail!("an entry must be a mapping")
    };
    let mut trial = serde_yaml::Mapping::new();
    trial.insert("trial".into(), Value::from(t));
    for p in params {
        let v = match fixed {
            Some((key, v)) if key == p.key => v.clone(),
            _ => p.dist.draw(seed, t, &p.key),
        };
        if MEMBER_FIELDS.contains(&p.field.as_str()) {
            m.remove(p.field.as_str());
            trial.insert(p.field.as_str().into(), v);
        } else {
            m.insert(p.field.as_str().into(), v);
        }
    }
    Ok((e, trial))
}

/// Every value of a `choice` is checked, not only those the trials happen to draw: the
/// config (`value`, its `search:` block taken out) with `entry` alone, as trial 0 with that
/// value, must be valid.
fn check_choices(
    value: &Value,
    entry: &Value,
    params: &[&Param],
    seed: u64,
    origin: &str,
) -> Result<()> {
    for p in params {
        let Dist::Choice(values) = &p.dist else {
            continue;
        };
        for v in values {
            let (mut e, trial) = trial_entry(entry, params, seed, 0, Some((&p.key, v)))?;
            if let Value::Mapping(m) = &mut e {
                m.insert(
                    "trials".into(),
                    Value::Sequence(vec![Value::Mapping(trial)]),
                );
            }
            let mut probe = value.clone();
            if let Value::Mapping(m) = &mut probe {
                m.insert("runs".into(), Value::Sequence(vec![e]));
            }
            Experiment::from_value(probe, origin).with_context(|| {
                format!(
                    "{origin}: search.params.{}.choice: {} is not a valid value",
                    p.key,
                    value_text(Some(v))
                )
            })?;
        }
    }
    Ok(())
}

/// Write an expanded experiment as a config file: `<out>/<experiment>.yaml`, which
/// `credit run` (and `credit submit`) can run as it is.
pub fn write_config(exp: &Experiment, out: &Path, note: &str) -> Result<PathBuf> {
    crate::search::write_config(&exp.experiment, exp, out, note)
}

/// Rank the trials of each searched label on the search's validation metric (mean over
/// seeds, lowest first); see [`crate::search::rank`].
pub fn rank(
    exp: &Experiment,
    searched: &BTreeMap<String, Vec<String>>,
    search: &Search,
    runs: &[RunSummary],
) -> Result<Vec<Ranked>> {
    crate::search::rank(&search.ranking(), runs, |label, trial| {
        let fields = searched.get(label).cloned().unwrap_or_default();
        trial_values(exp, label, trial, &fields)
    })
}

/// A trial's searched settings, read from the expanded experiment.
fn trial_values(
    exp: &Experiment,
    label: &str,
    trial: u64,
    fields: &[String],
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for spec in &exp.runs {
        let spec_label = spec
            .name
            .clone()
            .unwrap_or_else(|| spec.rule.name().to_string());
        let Some(t) = spec
            .trials
            .iter()
            .flatten()
            .find(|t| t.trial == trial && spec_label == label)
        else {
            continue;
        };
        let one = serde_yaml::to_value(spec.for_trial(t)).unwrap_or(Value::Null);
        for f in fields {
            out.insert(f.clone(), value_text(one.get(f.as_str())));
        }
    }
    out
}

/// `search.csv`: every trial, ranked within its label.
pub fn write_csv(path: &Path, search: &Search, ranked: &[Ranked]) -> Result<()> {
    crate::search::write_csv(path, &search.ranking(), ranked)
}

/// The rerun of the best `k` trials of each searched label with `seeds` (and the controls
/// with them too): the experiment `<experiment>-top`.
pub fn top(exp: &Experiment, ranked: &[Ranked], k: usize, seeds: &[u64]) -> Result<Experiment> {
    if k == 0 || seeds.is_empty() {
        bail!("--top K --seeds S,...: give K ≥ 1 and at least one seed");
    }
    let mut out = exp.clone();
    out.experiment = format!("{}-top", exp.experiment);
    out.description = format!("{} | the best {k} trials, seeds {seeds:?}", exp.description);
    let mut runs: Vec<RunSpec> = Vec::new();
    for spec in &exp.runs {
        let mut spec = spec.clone();
        spec.seeds = Some(seeds.to_vec());
        if let Some(trials) = &spec.trials {
            let label = spec
                .name
                .clone()
                .unwrap_or_else(|| spec.rule.name().to_string());
            let best: Vec<u64> = ranked
                .iter()
                .filter(|r| r.label == label && r.rank <= k && r.val.is_finite())
                .map(|r| r.trial)
                .collect();
            let kept: Vec<_> = trials
                .iter()
                .filter(|t| best.contains(&t.trial))
                .cloned()
                .collect();
            if kept.is_empty() {
                continue;
            }
            spec.trials = Some(kept);
        }
        runs.push(spec);
    }
    out.runs = runs;
    out.validate().context("the --top experiment")?;
    Ok(out)
}
