//! `credit search` for `kind: cnn`: the random search behind the paper's Table 1 (the
//! authors drew 30 trials of σ, lr and β log-uniformly).
//!
//! ```yaml
//! protocol: validation          # trials are selected on held-out training images
//! search:
//!   trials: 30                  # default for --trials
//!   metric: val_accuracy        # the best validation accuracy over epochs (the only one)
//!   params:
//!     rules.np_dfa.lr:    { log_uniform: [1.0e-6, 1.0e-3] }
//!     rules.np_dfa.sigma: { log_uniform: [1.0e-4, 1.0e-1] }
//!     rules.np_dfa.beta:  { log_uniform: [1.0e-6, 1.0e-3] }
//! ```
//!
//! A searched rule leaves `rules:` and becomes `trials:`: trial t is the rule's settings with
//! trial t's draws ([`crate::search::Dist::draw`]). A draw is keyed by the setting's name, not
//! the rule's, so trial t of every searched rule that shares a setting and its range draws the
//! same value: dfa's trial t is np_dfa's trial t with D fixed, the code's DFA control (the
//! same search with β = 0). Rules with nothing searched run as they are (controls). The expanded config is an ordinary CNN config, run by the normal loop, so
//! checkpoints, `--shard` and `credit submit` work on it. Each trial is its own run (a CNN
//! trains one network per process step; trials are not batched as members).
use super::config::{CnnConfig, Protocol, Trial};
use super::rules::Rule;
use crate::output::RunSummary;
use crate::search::{value_text, Dist, Ranked, Ranking};
use anyhow::{bail, Context, Result};
use serde_yaml::{Mapping, Value};
use std::collections::BTreeMap;

/// A CNN search expanded into an ordinary config.
pub struct Expanded {
    pub cfg: CnnConfig,
    pub trials: usize,
    pub seed: u64,
    /// Per searched rule: its searched fields, in the block's order.
    pub searched: BTreeMap<String, Vec<String>>,
}

/// The selection: the best validation accuracy over epochs, and the test accuracy of that
/// epoch (the validation protocol's `test_accuracy_at_best_val`).
pub fn ranking() -> Ranking {
    Ranking {
        val_key: "best_val_accuracy".into(),
        test_key: "test_accuracy_at_best_val".into(),
        higher_is_better: true,
    }
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
    let (n_default, params) = parse_block(&block, origin)?;
    let n = crate::search::trial_count(trials, n_default, origin)?;
    let Some(Value::Mapping(rules)) = value.get_mut("rules") else {
        bail!("{origin}: rules: name the rules whose settings are searched")
    };
    let mut searched: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, rule, field, _) in &params {
        if !rules.contains_key(rule.as_str()) {
            bail!("{origin}: search.params.{key}: the config has no rules.{rule} to search");
        }
        searched
            .entry(rule.clone())
            .or_default()
            .push(field.clone());
    }
    let mut trial_list = Vec::new();
    let mut probes = Vec::new();
    for rule in searched.keys() {
        let base = rules.remove(rule.as_str()).expect("checked above");
        let mine: Vec<&Param> = params.iter().filter(|p| p.1 == *rule).collect();
        for t in 0..n as u64 {
            trial_list.push(trial(rule, &base, &mine, seed, t, None).context(origin.to_string())?);
        }
        // Every value of a `choice`, not only those the trials happen to draw.
        for p in &mine {
            if let Dist::Choice(values) = &p.3 {
                for v in values {
                    let probe = trial(rule, &base, &mine, seed, 0, Some((&p.0, v)))?;
                    probes.push((p.0.clone(), v.clone(), probe));
                }
            }
        }
    }
    for (key, v, probe) in probes {
        let mut one = value.clone();
        if let Value::Mapping(map) = &mut one {
            map.insert("trials".into(), Value::Sequence(vec![probe]));
        }
        CnnConfig::resolve(one, false).with_context(|| {
            format!(
                "{origin}: search.params.{key}.choice: {} is not a valid value",
                value_text(Some(&v))
            )
        })?;
    }
    let Value::Mapping(map) = &mut value else {
        unreachable!("take_block checked the mapping")
    };
    map.insert("trials".into(), Value::Sequence(trial_list));
    let cfg =
        CnnConfig::resolve(value, false).with_context(|| format!("{origin} (expanded search)"))?;
    if cfg.protocol != Protocol::Validation {
        bail!(
            "{origin}: a search selects trials on validation: set `protocol: validation` (the \
             last `validation` training images are held out)"
        );
    }
    Ok(Expanded {
        cfg,
        trials: n,
        seed,
        searched,
    })
}

/// Trial `t` of `rule`: its settings `base` with the trial's draws of `params` (`fixed`: one
/// parameter's key and the value it takes instead of its draw).
fn trial(
    rule: &str,
    base: &Value,
    params: &[&Param],
    seed: u64,
    t: u64,
    fixed: Option<(&str, &Value)>,
) -> Result<Value> {
    let mut settings = base.clone();
    let Value::Mapping(s) = &mut settings else {
        bail!("rules.{rule} must be a mapping of settings")
    };
    for (key, _, field, dist) in params {
        let v = match fixed {
            Some((k, v)) if k == key => v.clone(),
            _ => dist.draw(seed, t, field),
        };
        s.insert(field.as_str().into(), v);
    }
    let mut trial = Mapping::new();
    trial.insert("trial".into(), Value::from(t));
    trial.insert("rule".into(), Value::from(rule));
    trial.insert("settings".into(), settings);
    Ok(Value::Mapping(trial))
}

/// One searched parameter: (key, rule, field, distribution).
type Param = (String, String, String, Dist);

/// `search:` → (trials, params). Keys are `rules.<rule>.<setting>`.
fn parse_block(block: &Value, origin: &str) -> Result<(Option<usize>, Vec<Param>)> {
    let (map, trials) = crate::search::block_fields(block, &["trials", "metric", "params"])
        .with_context(|| origin.to_string())?;
    match map.get("metric").map(Value::as_str) {
        None | Some(Some("val_accuracy")) => {}
        Some(_) => bail!(
            "{origin}: search.metric: a CNN search selects on val_accuracy (the best validation \
             accuracy over epochs)"
        ),
    }
    let Some(Value::Mapping(params)) = map.get("params") else {
        bail!("{origin}: search.params: a mapping like {{ rules.np_dfa.lr: {{log_uniform: [1.0e-6, 1.0e-3]}} }}")
    };
    if params.is_empty() {
        bail!("{origin}: search.params: name at least one parameter");
    }
    let mut out = Vec::new();
    for (key, dist) in params {
        let key = key.as_str().unwrap_or("").to_string();
        let at = format!("{origin}: search.params.{key}");
        let parts: Vec<&str> = key.split('.').collect();
        let &["rules", rule, field] = parts.as_slice() else {
            bail!("{at}: name a rule's setting, e.g. rules.np_dfa.lr")
        };
        if serde_yaml::from_value::<Rule>(Value::from(rule)).is_err() {
            bail!("{at}: '{rule}' is not a CNN rule ({})", Rule::names());
        }
        let dist = Dist::from_value(dist, &at)?;
        out.push((key.clone(), rule.to_string(), field.to_string(), dist));
    }
    Ok((trials, out))
}

/// Rank the trials of each searched rule on the best validation accuracy (mean over seeds,
/// highest first).
pub fn rank(ex: &Expanded, cfg: &CnnConfig, runs: &[RunSummary]) -> Result<Vec<Ranked>> {
    crate::search::rank(&ranking(), runs, |label, trial| {
        let fields = ex.searched.get(label).cloned().unwrap_or_default();
        trial_values(cfg, label, trial, &fields)
    })
}

/// A trial's searched settings, read from the expanded config.
fn trial_values(
    cfg: &CnnConfig,
    label: &str,
    trial: u64,
    fields: &[String],
) -> BTreeMap<String, String> {
    let Some(t) = (cfg.trials.iter()).find(|t| t.trial == trial && t.rule.name() == label) else {
        return BTreeMap::new();
    };
    let settings = serde_yaml::to_value(&t.settings).unwrap_or(Value::Null);
    fields
        .iter()
        .map(|f| (f.clone(), value_text(settings.get(f.as_str()))))
        .collect()
}

/// The rerun of the best `k` trials of each searched rule with `seeds` (the controls too):
/// the experiment `<experiment>-top`.
pub fn top(cfg: &CnnConfig, ranked: &[Ranked], k: usize, seeds: &[u64]) -> Result<CnnConfig> {
    if k == 0 || seeds.is_empty() {
        bail!("--top K --seeds S,...: give K ≥ 1 and at least one seed");
    }
    let best = |t: &Trial| {
        ranked.iter().any(|r| {
            r.label == t.rule.name() && r.trial == t.trial && r.rank <= k && r.val.is_finite()
        })
    };
    let out = CnnConfig {
        experiment: format!("{}-top", cfg.experiment),
        seeds: seeds.to_vec(),
        trials: cfg.trials.iter().filter(|t| best(t)).cloned().collect(),
        ..cfg.clone()
    };
    out.validate().context("the --top experiment")?;
    Ok(out)
}
