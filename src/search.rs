//! What every random search shares, MLP (`mlp::search`) or CNN (`cnn::search`): how a
//! parameter is drawn, and how finished trials are ranked on validation into search.csv.
//!
//! Each trial's value of a parameter is a function of (search seed, trial, parameter name),
//! so a search is reproducible and trial t draws the same values whatever N is.
use crate::output::{fmt_f64, write_atomic, RunSummary, Status};
use crate::rng::{derive, SplitMix64, Stream};
use anyhow::{bail, Context, Result};
use serde_yaml::{Mapping, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// How one parameter is drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum Dist {
    /// 10^U(log10 lo, log10 hi).
    LogUniform(f64, f64),
    /// U(lo, hi).
    Uniform(f64, f64),
    /// One of the values, each equally likely.
    Choice(Vec<Value>),
}

impl Dist {
    /// Parse `{log_uniform: [lo, hi]}`, `{uniform: [lo, hi]}` or `{choice: [...]}`.
    pub fn from_value(v: &Value, field: &str) -> Result<Self> {
        let map = match v {
            Value::Mapping(m) if m.len() == 1 => m,
            _ => bail!(
                "{field}: give one of {{log_uniform: [lo, hi]}}, {{uniform: [lo, hi]}}, \
                 {{choice: [a, b, ...]}}"
            ),
        };
        let (kind, args) = map.iter().next().expect("one entry");
        let kind = kind.as_str().unwrap_or("");
        let bounds = |log: bool| -> Result<(f64, f64)> {
            let nums: Option<Vec<f64>> = args
                .as_sequence()
                .map(|s| s.iter().map(Value::as_f64).collect::<Option<Vec<f64>>>())
                .unwrap_or(None);
            match nums.as_deref() {
                Some(&[lo, hi]) if lo.is_finite() && hi.is_finite() && lo < hi => {
                    if log && lo <= 0.0 {
                        bail!("{field}.{kind}: the bounds must be positive (got {lo})");
                    }
                    Ok((lo, hi))
                }
                _ => bail!("{field}.{kind}: give [lo, hi], two finite numbers with lo < hi"),
            }
        };
        Ok(match kind {
            "log_uniform" => {
                let (lo, hi) = bounds(true)?;
                Dist::LogUniform(lo, hi)
            }
            "uniform" => {
                let (lo, hi) = bounds(false)?;
                Dist::Uniform(lo, hi)
            }
            "choice" => match args.as_sequence() {
                Some(values) if !values.is_empty() => Dist::Choice(values.clone()),
                _ => bail!("{field}.choice: list at least one value"),
            },
            other => bail!("{field}: '{other}' is unknown; use log_uniform, uniform or choice"),
        })
    }

    /// The value of trial `trial` of the search seeded `seed`, for the parameter `key`.
    pub fn draw(&self, seed: u64, trial: u64, key: &str) -> Value {
        let mut rng = SplitMix64::new(derive(seed ^ fnv1a(key), Stream::Search, trial));
        // 53 random bits: uniform on [0, 1).
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        match self {
            Dist::LogUniform(lo, hi) => {
                let (a, b) = (lo.log10(), hi.log10());
                Value::from(10f64.powf(a + u * (b - a)).clamp(*lo, *hi))
            }
            Dist::Uniform(lo, hi) => Value::from((lo + u * (hi - lo)).clamp(*lo, *hi)),
            Dist::Choice(values) => values[rng.below(values.len() as u64) as usize].clone(),
        }
    }
}

/// FNV-1a: a parameter's name → a 64-bit key, so each parameter has its own stream.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One trial of search.csv.
#[derive(Debug, Clone)]
pub struct Ranked {
    pub label: String,
    /// 1 = best on validation, within its label.
    pub rank: usize,
    pub trial: u64,
    /// The searched settings, as text.
    pub values: BTreeMap<String, String>,
    pub seeds: usize,
    pub diverged: usize,
    /// Mean over seeds of the validation metric; NaN where a seed diverged.
    pub val: f64,
    /// Mean over seeds of the test metric at the same point.
    pub test: f64,
}

/// Which result keys of summary.json select (validation) and score (test) a trial, and
/// which way is better.
#[derive(Debug, Clone)]
pub struct Ranking {
    pub val_key: String,
    pub test_key: String,
    /// Accuracy: higher is better; error and loss: lower.
    pub higher_is_better: bool,
}

/// Rank the trials of each label by the validation metric (mean over seeds, best first).
/// A run belongs to trial `params["trial"]` of the label that starts its condition. A trial
/// with a diverged seed ranks after every trial that finished. `values_of(label, trial)`
/// gives the trial's searched settings, as text.
pub fn rank(
    ranking: &Ranking,
    runs: &[RunSummary],
    values_of: impl Fn(&str, u64) -> BTreeMap<String, String>,
) -> Result<Vec<Ranked>> {
    let mut by_trial: BTreeMap<(String, u64), Vec<&RunSummary>> = BTreeMap::new();
    for r in runs {
        let Some(&t) = r.params.get("trial") else {
            continue;
        };
        let label = r.condition.split(' ').next().unwrap_or("").to_string();
        by_trial.entry((label, t as u64)).or_default().push(r);
    }
    let mut out: Vec<Ranked> = Vec::new();
    for ((label, trial), rs) in by_trial {
        let diverged = rs.iter().filter(|r| r.status == Status::Diverged).count();
        let mean = |key: &str| -> Result<f64> {
            if diverged > 0 {
                return Ok(f64::NAN);
            }
            let mut sum = 0.0;
            for r in &rs {
                sum += r.results.get(key).copied().with_context(|| {
                    format!(
                        "run {} has no {key}: was it trained with a validation split?",
                        r.run
                    )
                })?;
            }
            Ok(sum / rs.len() as f64)
        };
        out.push(Ranked {
            values: values_of(&label, trial),
            label,
            rank: 0,
            trial,
            seeds: rs.len(),
            diverged,
            val: mean(&ranking.val_key)?,
            test: mean(&ranking.test_key)?,
        });
    }
    let sign = if ranking.higher_is_better { -1.0 } else { 1.0 };
    out.sort_by(|a, b| {
        a.label
            .cmp(&b.label)
            .then(a.val.is_nan().cmp(&b.val.is_nan()))
            .then((sign * a.val).total_cmp(&(sign * b.val)))
            .then(a.trial.cmp(&b.trial))
    });
    let mut rank = 0;
    for k in 0..out.len() {
        rank = if k > 0 && out[k - 1].label == out[k].label {
            rank + 1
        } else {
            1
        };
        out[k].rank = rank;
    }
    Ok(out)
}

/// Remove a config's `search:` block, to expand it.
pub fn take_block(value: &mut Value, origin: &str) -> Result<Value> {
    let Value::Mapping(map) = value else {
        bail!("{origin}: the top level must be a mapping")
    };
    map.remove("search")
        .with_context(|| format!("{origin} has no `search:` block; see configs/README.md"))
}

/// A `search:` block as a mapping whose keys are all in `fields`, and its `trials:` (a
/// positive whole number, if given). Errors are relative to the block (`search.trials: ...`).
pub fn block_fields<'v>(block: &'v Value, fields: &[&str]) -> Result<(&'v Mapping, Option<usize>)> {
    let list = fields.join(", ");
    let Value::Mapping(map) = block else {
        bail!("search: a mapping with {list}")
    };
    for key in map.keys() {
        let k = key.as_str().unwrap_or("");
        if !fields.contains(&k) {
            bail!("search.{k}: unknown field; use {list}");
        }
    }
    let trials = match map.get("trials") {
        None => None,
        Some(t) => match t.as_u64() {
            Some(n) if n > 0 => Some(n as usize),
            _ => bail!("search.trials: a positive whole number"),
        },
    };
    Ok((map, trials))
}

/// The most trials one search expands: each is a run (or a member) listed in the expanded
/// config, and validating that list grows faster than it.
pub const MAX_TRIALS: usize = 10_000;

/// How many trials: `--trials` if given, else the block's `trials:`.
pub fn trial_count(asked: Option<usize>, block: Option<usize>, origin: &str) -> Result<usize> {
    match asked.or(block) {
        None => bail!("{origin}: give --trials N (or search.trials)"),
        Some(0) => bail!("--trials 0: give at least one trial"),
        Some(n) if n > MAX_TRIALS => bail!(
            "--trials {n} (or search.trials): a search expands at most {MAX_TRIALS} trials, \
             each a run of the expanded config; give fewer"
        ),
        Some(n) => Ok(n),
    }
}

/// Write an expanded search (or its --top rerun) as a config file, `<out>/<experiment>.yaml`,
/// that `credit run` and `credit submit` can run as it is.
pub fn write_config(
    experiment: &str,
    cfg: &impl serde::Serialize,
    out: &Path,
    note: &str,
) -> Result<std::path::PathBuf> {
    let path = out.join(format!("{experiment}.yaml"));
    let text = format!("# {note}\n{}", serde_yaml::to_string(cfg)?);
    std::fs::create_dir_all(out)?;
    write_atomic(&path, text.as_bytes())?;
    Ok(path)
}

/// A setting's value as search.csv shows it.
pub fn value_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::Number(n)) => n.as_f64().map(fmt_f64).unwrap_or(n.to_string()),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(v) => serde_yaml::to_string(v)
            .unwrap_or_default()
            .trim()
            .to_string(),
        None => String::new(),
    }
}

/// `search.csv`: every trial, ranked within its label.
pub fn write_csv(path: &Path, ranking: &Ranking, ranked: &[Ranked]) -> Result<()> {
    let fields: std::collections::BTreeSet<&String> =
        ranked.iter().flat_map(|r| r.values.keys()).collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = ["label", "rank", "trial"].map(String::from).to_vec();
    header.extend(fields.iter().map(|f| f.to_string()));
    header.extend([
        "seeds".into(),
        "diverged".into(),
        ranking.val_key.clone(),
        ranking.test_key.clone(),
    ]);
    w.write_record(&header)?;
    for r in ranked {
        let mut row = vec![r.label.clone(), r.rank.to_string(), r.trial.to_string()];
        row.extend(
            fields
                .iter()
                .map(|f| r.values.get(*f).cloned().unwrap_or_default()),
        );
        let num = |v: f64| {
            if v.is_finite() {
                fmt_f64(v)
            } else {
                String::new()
            }
        };
        row.extend([
            r.seeds.to_string(),
            r.diverged.to_string(),
            num(r.val),
            num(r.test),
        ]);
        w.write_record(&row)?;
    }
    let bytes = w.into_inner().context("finishing search.csv")?;
    write_atomic(path, &bytes)
}

/// Print the best `n` trials of each label to stderr.
pub fn print_best(ranking: &Ranking, ranked: &[Ranked], n: usize) {
    for r in ranked.iter().filter(|r| r.rank <= n) {
        let values: Vec<String> = r.values.iter().map(|(k, v)| format!("{k}={v}")).collect();
        eprintln!(
            "  {} #{} trial {}: {} {}={} {}={}",
            r.label,
            r.rank,
            r.trial,
            values.join(" "),
            ranking.val_key,
            fmt_f64(r.val),
            ranking.test_key,
            fmt_f64(r.test)
        );
    }
}
