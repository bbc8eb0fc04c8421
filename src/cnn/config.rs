//! `kind: cnn` configs: YAML schema, the `quick:` overrides, validation, and the run list.
//!
//! A file is one experiment: a data set, a network, the rules to compare (a mapping from
//! rule name to its settings) and seeds. Every rule × seed is one run. `quick:` holds
//! overrides deep-merged onto the file under `--quick` (mappings merge key by key; anything
//! else, lists included, is replaced); the experiment name then gets the suffix `-quick`.
use super::net::NetworkSpec;
use super::rules::{NpLoss, Rule};
use crate::data::cifar::Preprocess;
use crate::mlp::shard::Shard;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use serde_yaml::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataSource {
    Cifar10,
    Cifar100,
    /// Generated CIFAR-shaped images ([`crate::data::synthetic::cifar_like`]), 10 classes.
    SyntheticCifar,
}

/// How the training data is split and ordered, and which accuracy a run reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// The paper's figure: every training image in file order every epoch, no validation
    /// split; the run reports `max_test_accuracy` (the maximum over epochs).
    Paper,
    /// The honest figure: the last `validation` training images are held out; the run
    /// reports `test_accuracy_at_best_val` (the test accuracy of the epoch with the best
    /// validation accuracy).
    Validation,
}

/// The order of the training images within an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// File order, every epoch (the authors' code).
    File,
    /// A fresh permutation each epoch, a function of (seed, epoch) alone.
    Shuffled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Adam learning rate for W.
    pub lr: f64,
    #[serde(default = "adam_eps")]
    pub adam_eps: f64,
    pub batch: i64,
    pub epochs: usize,
    /// np_dfa: SGD step size for D.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<f64>,
    /// np_dfa: std of the perturbation noise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigma: Option<f64>,
    /// np_dfa: the per-sample loss NP measures (default mse, as the code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub np_loss: Option<NpLoss>,
    /// np_dfa: reuse the clean pass's dropout mask in the noisy pass (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_dropout_mask: Option<bool>,
    /// np_dfa: blocks (1-based, as `layer` in metrics.csv) whose D is not learned but stays
    /// at its random init (the authors' CIFAR-100 script leaves fc1's out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_d_blocks: Option<Vec<usize>>,
    /// kp: the decay λ of W and B, in [0, 1) (0 is Akrout's code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decay: Option<f64>,
}

fn adam_eps() -> f64 {
    1e-8
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CnnConfig {
    pub kind: String,
    pub experiment: String,
    /// What the experiment is, in a line (the report names a subset by it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub dataset: DataSource,
    /// `paper` or `validation` (required: it decides which accuracy the rows carry).
    pub protocol: Protocol,
    /// `validation` protocol: images held out of the end of the training set for model
    /// selection (default 5000). Not allowed with `protocol: paper`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<usize>,
    /// Order of the training images: `file` (default for `paper`, the only one allowed
    /// there) or `shuffled` (default for `validation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Order>,
    /// Train on only the first N of the remaining training images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_images: Option<usize>,
    /// Evaluate on only the first N test images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_images: Option<usize>,
    #[serde(default = "per_image")]
    pub preprocess: Preprocess,
    /// Checkpoint every this many steps (default: about every 10 minutes); see
    /// [`crate::cnn::train::run_experiment_with`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_every: Option<u64>,
    pub seeds: Vec<u64>,
    pub network: NetworkSpec,
    /// One setting per rule. May be empty when `trials` is not.
    #[serde(default)]
    pub rules: BTreeMap<Rule, RuleSpec>,
    /// Random-search trials (written by `credit search`): a rule with its own settings each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trials: Vec<Trial>,
}

/// One trial of a random search: trial `trial` of `rule`, with its drawn settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trial {
    pub trial: u64,
    pub rule: Rule,
    pub settings: RuleSpec,
}

/// Default held-out images of the `validation` protocol.
pub const DEFAULT_VALIDATION: usize = 5000;

fn per_image() -> Preprocess {
    Preprocess::PerImage
}

/// One run: a rule with its settings (a search trial's, if `trial`) and a seed.
#[derive(Debug, Clone)]
pub struct RunPlan {
    pub name: String,
    pub rule: Rule,
    pub spec: RuleSpec,
    pub seed: u64,
    pub trial: Option<u64>,
}

impl CnnConfig {
    /// Apply `quick:` when asked, parse and validate. Errors name the field and the fix.
    pub fn resolve(cfg: Value, quick: bool) -> Result<CnnConfig> {
        if cfg.get("search").is_some() {
            bail!(
                "the config is a random search (it has a `search:` block): run it with \
                 `credit search CONFIG --trials N`"
            );
        }
        let cfg = crate::config::apply_quick(cfg, quick, "config")?;
        check_rule_names(&cfg)?;
        let c: CnnConfig = crate::config::parse(cfg, "config")?;
        c.validate()?;
        Ok(c)
    }

    pub fn validate(&self) -> Result<()> {
        if self.kind != "cnn" {
            bail!("kind is '{}': this runner handles `kind: cnn`", self.kind);
        }
        let ok_name = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
        if self.experiment.is_empty() || !self.experiment.chars().all(ok_name) {
            bail!(
                "experiment '{}' must be a non-empty folder name of letters, digits, '.', '_' \
                 and '-'",
                self.experiment
            );
        }
        if self.seeds.is_empty() {
            bail!("seeds is empty: give at least one seed");
        }
        let mut seeds = self.seeds.clone();
        seeds.sort_unstable();
        seeds.dedup();
        if seeds.len() != self.seeds.len() {
            bail!("seeds {:?} repeats a seed", self.seeds);
        }
        match self.protocol {
            Protocol::Paper => {
                if self.validation.is_some() {
                    bail!(
                        "validation is set, but protocol is paper (every training image, no \
                         split): remove `validation`, or use `protocol: validation`"
                    );
                }
                if self.order == Some(Order::Shuffled) {
                    bail!(
                        "order is shuffled, but protocol paper trains in file order: remove \
                         `order`, or use `protocol: validation`"
                    );
                }
            }
            Protocol::Validation => {
                if self.validation == Some(0) {
                    bail!("validation must be positive with protocol validation");
                }
            }
        }
        if self.checkpoint_every == Some(0) {
            bail!("checkpoint_every must be positive when given");
        }
        if self.train_images == Some(0) || self.test_images == Some(0) {
            bail!("train_images and test_images must be positive when given");
        }
        if self.rules.is_empty() && self.trials.is_empty() {
            bail!("rules is empty: give at least one of {}", Rule::names());
        }
        self.network.validate()?;
        for (rule, s) in &self.rules {
            self.validate_rule(&format!("rules.{}", rule.name()), *rule, s)?;
        }
        let mut seen = std::collections::BTreeSet::new();
        for (k, t) in self.trials.iter().enumerate() {
            if !seen.insert((t.rule, t.trial)) {
                bail!(
                    "trials[{k}] repeats trial {} of {}: each (rule, trial) once",
                    t.trial,
                    t.rule.name()
                );
            }
            self.validate_rule(&format!("trials[{k}].settings"), t.rule, &t.settings)?;
        }
        Ok(())
    }

    /// One rule's settings; `at` names them in errors (`rules.np_dfa`, `trials[3].settings`).
    fn validate_rule(&self, at: &str, rule: Rule, s: &RuleSpec) -> Result<()> {
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(anyhow::anyhow!(
                    "{at}.{name} is {v}: it must be a positive number"
                ))
            }
        };
        positive("lr", s.lr)?;
        positive("adam_eps", s.adam_eps)?;
        if s.batch <= 0 {
            bail!("{at}.batch is {}: it must be positive", s.batch);
        }
        if s.epochs == 0 {
            bail!("{at}.epochs must be positive");
        }
        if rule == Rule::NpDfa {
            match (s.sigma, s.beta) {
                (Some(sigma), Some(beta)) => {
                    positive("sigma", sigma)?;
                    positive("beta", beta)?;
                }
                _ => bail!("{at} needs sigma (noise std) and beta (step size for D)"),
            }
            let blocks = self.network.blocks.len();
            for &l in s.fixed_d_blocks.iter().flatten() {
                if l == 0 || l > blocks {
                    bail!(
                        "{at}.fixed_d_blocks has {l}: blocks are numbered 1..={blocks} \
                         (1 = first hidden block)"
                    );
                }
            }
        } else {
            let np_only = [
                ("sigma", s.sigma.is_some()),
                ("beta", s.beta.is_some()),
                ("np_loss", s.np_loss.is_some()),
                ("shared_dropout_mask", s.shared_dropout_mask.is_some()),
                ("fixed_d_blocks", s.fixed_d_blocks.is_some()),
            ];
            if let Some((name, _)) = np_only.iter().find(|(_, set)| *set) {
                bail!("{at}.{name} applies only to np_dfa: remove it");
            }
        }
        match (rule, s.decay) {
            (Rule::Kp, None) => {
                bail!("{at} needs decay (λ of W and B, in [0, 1); 0 is Akrout's code)")
            }
            (Rule::Kp, Some(l)) if !(0.0..1.0).contains(&l) => {
                bail!("{at}.decay is {l}: use a λ in [0, 1)")
            }
            (Rule::Kp, Some(_)) | (_, None) => {}
            (_, Some(_)) => bail!("{at}.decay applies only to kp: remove it"),
        }
        Ok(())
    }

    /// Held-out validation images: 0 for `paper`, else `validation` (default 5000).
    pub fn validation_images(&self) -> usize {
        match self.protocol {
            Protocol::Paper => 0,
            Protocol::Validation => self.validation.unwrap_or(DEFAULT_VALIDATION),
        }
    }

    /// The order of training images: `file` for `paper`; `order` (default `shuffled`) for
    /// `validation`.
    pub fn data_order(&self) -> Order {
        match self.protocol {
            Protocol::Paper => Order::File,
            Protocol::Validation => self.order.unwrap_or(Order::Shuffled),
        }
    }

    /// Every rule × seed, named `<rule>-seed<seed>`, then every trial × seed, named
    /// `<rule>-t<trial>-seed<seed>`.
    pub fn runs(&self) -> Vec<RunPlan> {
        let fixed = self.rules.iter().map(|(rule, spec)| (*rule, spec, None));
        let trials = (self.trials.iter()).map(|t| (t.rule, &t.settings, Some(t.trial)));
        fixed
            .chain(trials)
            .flat_map(|(rule, spec, trial)| {
                self.seeds.iter().map(move |&seed| RunPlan {
                    name: match trial {
                        Some(t) => format!("{}-t{t:02}-seed{seed}", rule.name()),
                        None => format!("{}-seed{seed}", rule.name()),
                    },
                    rule,
                    spec: spec.clone(),
                    seed,
                    trial,
                })
            })
            .collect()
    }

    /// This config narrowed to one run: what `config.yaml` of that run records.
    pub fn for_run(&self, run: &RunPlan) -> CnnConfig {
        let (rules, trials) = match run.trial {
            None => (BTreeMap::from([(run.rule, run.spec.clone())]), Vec::new()),
            Some(trial) => (
                BTreeMap::new(),
                vec![Trial {
                    trial,
                    rule: run.rule,
                    settings: run.spec.clone(),
                }],
            ),
        };
        CnnConfig {
            seeds: vec![run.seed],
            rules,
            trials,
            ..self.clone()
        }
    }
}

/// Refuse a rule the CNN does not train, naming its field (`rules.<name>` or
/// `trials[k].rule`), before serde's generic "unknown variant" message.
fn check_rule_names(cfg: &Value) -> Result<()> {
    let rules = cfg.get("rules").and_then(Value::as_mapping);
    let fixed = (rules.into_iter().flat_map(|m| m.keys()))
        .map(|name| (name, format!("rules.{}", name.as_str().unwrap_or("?"))));
    let trials = cfg.get("trials").and_then(Value::as_sequence);
    let searched = (trials.into_iter().flatten().enumerate())
        .filter_map(|(k, t)| Some((t.get("rule")?, format!("trials[{k}].rule"))));
    for (name, at) in fixed.chain(searched) {
        let name = name.as_str().unwrap_or("?");
        if Rule::ALL.iter().any(|r| r.name() == name) {
            continue;
        }
        let mlp_only = ["np", "matched", "sg", "wm"].contains(&name);
        let why = if mlp_only {
            format!("{name} is a rule of the MLP experiments (`kind: mlp`), not the CNN's")
        } else {
            format!("{name} is no rule")
        };
        bail!("{at}: {why}; the CNN trains {}", Rule::names());
    }
    Ok(())
}

impl RunPlan {
    /// Relative cost, for balancing shards: epochs × images per step (the step count is the
    /// same for every run of an experiment up to the batch), × 2 for np_dfa's noisy pass.
    pub fn cost(&self) -> f64 {
        let noisy = if self.rule == Rule::NpDfa { 2.0 } else { 1.0 };
        self.spec.epochs as f64 * noisy
    }
}

impl CnnConfig {
    /// The runs of shard `shard` (all runs without one), balanced by [`RunPlan::cost`].
    pub fn shard_runs(&self, shard: Option<Shard>) -> Result<Vec<RunPlan>> {
        let runs = self.runs();
        let Some(shard) = shard else {
            return Ok(runs);
        };
        if shard.count > runs.len() {
            bail!(
                "--shard {shard}: {} has {} runs, so at most {} shards",
                self.experiment,
                runs.len(),
                runs.len()
            );
        }
        let cost: Vec<f64> = runs.iter().map(RunPlan::cost).collect();
        let of = crate::mlp::shard::longest_first(&cost, shard.count);
        Ok(runs
            .into_iter()
            .zip(of)
            .filter(|(_, s)| *s == shard.index)
            .map(|(r, _)| r)
            .collect())
    }

    /// Refuse sizes larger than the data, as the MLP path does, rather than clamp them:
    /// `train_images` against the `n_fit` training images left after the validation split,
    /// `test_images` against `n_test`, and every rule's `batch` against the images trained on.
    pub fn check_sizes(&self, n_fit: i64, n_test: i64) -> Result<()> {
        if let Some(t) = self.train_images.filter(|&t| t as i64 > n_fit) {
            bail!(
                "train_images is {t}, but the data hold {n_fit} training images once the last \
                 {} are held out for validation: lower train_images (or validation)",
                self.validation_images()
            );
        }
        if let Some(t) = self.test_images.filter(|&t| t as i64 > n_test) {
            bail!("test_images is {t}, but the data hold {n_test} test images: lower test_images");
        }
        let trained = self.train_images.map_or(n_fit, |t| t as i64);
        let rules = self
            .rules
            .iter()
            .map(|(r, s)| (format!("rules.{}", r.name()), s));
        let trials = (self.trials.iter().enumerate())
            .map(|(k, t)| (format!("trials[{k}].settings"), &t.settings));
        for (at, s) in rules.chain(trials) {
            if s.batch > trained {
                bail!(
                    "{at}.batch is {}, larger than the {trained} training images: lower the \
                     batch (or raise train_images)",
                    s.batch
                );
            }
        }
        Ok(())
    }
}
