//! The YAML experiment schema (MLP experiments), its validation, and its expansion into
//! groups of runs that train together as members of one batched program.
//!
//! A file may carry a `quick:` mapping; `--quick` deep-merges it over the file (mappings
//! merge, everything else is replaced) and suffixes the experiment name with `-quick`.
use crate::nets::activation::Activation;
use crate::optim::OptimizerKind;
use crate::rules::Rule;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_yaml::Value;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    pub experiment: String,
    /// `mlp` (this schema) or `cnn` (Table 1, its own schema).
    #[serde(default = "default_kind")]
    pub kind: String,
    #[serde(default)]
    pub description: String,
    pub task: Task,
    pub data: DataSpec,
    pub network: NetworkSpec,
    pub training: TrainingSpec,
    pub runs: Vec<RunSpec>,
}

fn default_kind() -> String {
    "mlp".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// One-hot targets, MSE loss, test error by argmax.
    Classify,
    /// Targets are the inputs (Fig. 3).
    Autoencode,
    /// Gaussian inputs and a fixed random linear teacher (theory checks).
    Teacher,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// mnist | fashion-mnist | synthetic-mnist | gaussian
    pub dataset: String,
    /// Training images used; the rest of the training file is held out (the code: 55k + 5k).
    #[serde(default)]
    pub train_size: Option<usize>,
    /// Test images used (default: all).
    #[serde(default)]
    pub test_size: Option<usize>,
    /// Seed of the generated data (gaussian, synthetic-mnist).
    #[serde(default)]
    pub seed: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// Layer widths n_0 .. n_{N+1}.
    pub sizes: Vec<i64>,
    /// One activation per weight layer: σ_1 .. σ_{N+1}.
    pub activations: Vec<Activation>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingSpec {
    pub iterations: u64,
    pub batch_size: i64,
    /// Alignment metrics and train loss every this many iterations.
    pub log_every: u64,
    /// Test metrics every this many iterations.
    pub eval_every: u64,
    pub seeds: Vec<u64>,
    /// Also log `test_error_noisy` for np/np_dfa: the error of the noisy output, as the
    /// authors' code scored Fig. 2 (the clean `test_error` is always logged).
    #[serde(default)]
    pub test_error_noisy: bool,
    /// Iterations at which the autoencoder's latent code is saved (the end always is).
    #[serde(default)]
    pub latent_at: Vec<u64>,
}

/// A number or a list of numbers; a list is swept.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Sweep<T> {
    One(T),
    Many(Vec<T>),
}

impl<T: Clone> Sweep<T> {
    pub fn values(&self) -> Vec<T> {
        match self {
            Sweep::One(v) => vec![v.clone()],
            Sweep::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// Legend label (default: the rule's name), e.g. "adam+noise".
    #[serde(default)]
    pub name: Option<String>,
    pub rule: Rule,
    /// W's learning rate (η); not needed with freeze_w.
    #[serde(default)]
    pub lr: Option<Sweep<f64>>,
    #[serde(default = "default_optimizer")]
    pub optimizer: OptimizerKind,
    #[serde(default = "default_adam_eps")]
    pub adam_eps: f64,
    /// Hold W at its initial values (Fig. 4 and the theory checks).
    #[serde(default)]
    pub freeze_w: bool,
    /// Node perturbation noise std σ (np, np_dfa).
    #[serde(default)]
    pub sigma: Option<Sweep<f64>>,
    /// How B is fitted (np, np_dfa, sg).
    #[serde(default)]
    pub solver: Option<SolverKind>,
    /// Ridge regularisation γ.
    #[serde(default = "default_gamma")]
    pub gamma: f64,
    /// B's SGD step size β (solver: sgd).
    #[serde(default)]
    pub lr_b: Option<Sweep<f64>>,
    /// Iterations at the start in which only B learns.
    #[serde(default)]
    pub warmup: u64,
    /// Perturb the bias unit too (the code's default); false also leaves B's bias row unfitted.
    #[serde(default = "default_true")]
    pub perturb_bias: bool,
    /// Std of Gaussian noise on the training inputs (the denoising autoencoder).
    #[serde(default)]
    pub input_noise: Option<f64>,
    /// Std of hidden-layer noise on the training pass itself (Fig. 3's "+noise" controls).
    #[serde(default)]
    pub train_noise: Option<f64>,
    /// Architectures to sweep (replaces network.sizes), e.g. Fig. 4's 784-N-50-10.
    #[serde(default)]
    pub sizes: Option<Vec<Vec<i64>>>,
    /// This run's seeds (replaces training.seeds), e.g. Fig. 3's 10 seeds for the DAE.
    #[serde(default)]
    pub seeds: Option<Vec<u64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SolverKind {
    Ridge,
    Sgd,
}

fn default_optimizer() -> OptimizerKind {
    OptimizerKind::Sgd
}
fn default_adam_eps() -> f64 {
    1e-8
}
fn default_gamma() -> f64 {
    0.1
}
fn default_true() -> bool {
    true
}

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

impl Experiment {
    pub fn from_value(value: Value, origin: &str) -> Result<Self> {
        let exp: Experiment = serde_path_to_error::deserialize(value).map_err(|e| {
            anyhow::anyhow!(
                "{origin}: field `{}`: {}. Fix that field; configs/README.md lists the schema",
                e.path(),
                e.inner()
            )
        })?;
        exp.validate()
            .with_context(|| format!("{origin}: invalid config"))?;
        Ok(exp)
    }

    pub fn validate(&self) -> Result<()> {
        let name_ok = !self.experiment.is_empty()
            && self
                .experiment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !name_ok {
            bail!(
                "experiment: '{}' must be non-empty letters, digits, '-', '_' or '.'",
                self.experiment
            );
        }
        if self.kind != "mlp" {
            bail!("kind: '{}' is not an MLP experiment", self.kind);
        }
        check_sizes(
            "network.sizes",
            &self.network.sizes,
            &self.network.activations,
            self.task,
        )?;
        let t = &self.training;
        for (field, v) in [
            ("iterations", t.iterations),
            ("log_every", t.log_every),
            ("eval_every", t.eval_every),
        ] {
            if v == 0 {
                bail!("training.{field} must be positive");
            }
        }
        if t.batch_size <= 0 {
            bail!(
                "training.batch_size must be positive (got {})",
                t.batch_size
            );
        }
        if t.seeds.is_empty() {
            bail!("training.seeds must list at least one seed");
        }
        let known = ["mnist", "fashion-mnist", "synthetic-mnist", "gaussian"];
        if !known.contains(&self.data.dataset.as_str()) {
            bail!(
                "data.dataset: '{}' is unknown; use one of {}",
                self.data.dataset,
                known.join(", ")
            );
        }
        if (self.task == Task::Teacher) != (self.data.dataset == "gaussian") {
            bail!("task: teacher goes with data.dataset: gaussian, and only with it");
        }
        if self.runs.is_empty() {
            bail!("runs: list at least one run");
        }
        for (k, r) in self.runs.iter().enumerate() {
            r.validate(self)
                .with_context(|| format!("runs[{k}] (rule {})", r.rule.name()))?;
        }
        Ok(())
    }

    /// Every run, grouped into batched programs.
    pub fn groups(&self) -> Vec<Group> {
        let mut groups = Vec::new();
        for (k, spec) in self.runs.iter().enumerate() {
            let archs = spec
                .sizes
                .clone()
                .unwrap_or_else(|| vec![self.network.sizes.clone()]);
            let sigmas = spec
                .sigma
                .as_ref()
                .map(Sweep::values)
                .unwrap_or_else(|| vec![0.0]);
            let lrs = spec
                .lr
                .as_ref()
                .map(Sweep::values)
                .unwrap_or_else(|| vec![0.0]);
            let lr_bs = spec
                .lr_b
                .as_ref()
                .map(Sweep::values)
                .unwrap_or_else(|| vec![0.0]);
            let label = spec
                .name
                .clone()
                .unwrap_or_else(|| spec.rule.name().to_string());
            for sizes in &archs {
                let mut members = Vec::new();
                for &sigma in &sigmas {
                    for &lr in &lrs {
                        for &lr_b in &lr_bs {
                            let mut swept = BTreeMap::new();
                            if archs.len() > 1 {
                                swept.insert("width".to_string(), sizes[1] as f64);
                            }
                            if sigmas.len() > 1 {
                                swept.insert("sigma".to_string(), sigma);
                            }
                            if lrs.len() > 1 {
                                swept.insert("lr".to_string(), lr);
                            }
                            if lr_bs.len() > 1 {
                                swept.insert("lr_b".to_string(), lr_b);
                            }
                            let condition = std::iter::once(label.clone())
                                .chain(swept.iter().map(|(k, v)| format!("{k}={v}")))
                                .collect::<Vec<_>>()
                                .join(" ");
                            for &seed in spec.seeds.as_ref().unwrap_or(&self.training.seeds) {
                                let run = format!(
                                    "{}-seed{seed}",
                                    condition.replace(' ', "-").replace('=', "")
                                );
                                let mut params = swept.clone();
                                if spec.sigma.is_some() {
                                    params.insert("sigma".into(), sigma);
                                }
                                if spec.lr.is_some() {
                                    params.insert("lr".into(), lr);
                                }
                                if spec.lr_b.is_some() {
                                    params.insert("lr_b".into(), lr_b);
                                }
                                members.push(Member {
                                    run,
                                    condition: condition.clone(),
                                    seed,
                                    sigma,
                                    lr,
                                    lr_b,
                                    params,
                                });
                            }
                        }
                    }
                }
                groups.push(Group {
                    spec_index: k,
                    spec: spec.clone(),
                    sizes: sizes.clone(),
                    members,
                });
            }
        }
        groups
    }
}

fn check_sizes(field: &str, sizes: &[i64], acts: &[Activation], task: Task) -> Result<()> {
    if sizes.len() < 2 {
        bail!("{field} needs at least an input and an output width (got {sizes:?})");
    }
    if let Some(bad) = sizes.iter().find(|&&n| n <= 0) {
        bail!("{field}: every width must be positive (got {bad})");
    }
    if acts.len() != sizes.len() - 1 {
        bail!(
            "network.activations has {} entries but {field} {:?} has {} weight layers; give one activation per layer",
            acts.len(),
            sizes,
            sizes.len() - 1
        );
    }
    if task == Task::Autoencode && sizes.first() != sizes.last() {
        bail!("{field}: an autoencoder's output width must equal its input width (got {sizes:?})");
    }
    Ok(())
}

impl RunSpec {
    fn validate(&self, exp: &Experiment) -> Result<()> {
        match (&self.lr, self.freeze_w) {
            (None, false) => {
                bail!("lr (W's learning rate) is required; to hold W fixed, set freeze_w: true")
            }
            (Some(_), true) => bail!("lr is unused with freeze_w: true; remove it"),
            (Some(lr), false) => {
                for lr in lr.values() {
                    if !positive(lr) {
                        bail!("lr must be positive and finite (got {lr}); to hold W fixed, set freeze_w: true");
                    }
                }
            }
            (None, true) => {}
        }
        if let Some(sizes) = &self.sizes {
            if sizes.is_empty() {
                bail!("sizes: list at least one architecture, or remove the field");
            }
            for s in sizes {
                check_sizes("sizes", s, &exp.network.activations, exp.task)?;
            }
        }
        if let Some(seeds) = &self.seeds {
            if seeds.is_empty() {
                bail!("seeds: list at least one seed, or remove the field to use training.seeds");
            }
            let distinct: std::collections::BTreeSet<_> = seeds.iter().collect();
            if distinct.len() != seeds.len() {
                bail!("seeds: {seeds:?} lists a seed twice; each seed names one run");
            }
        }
        match (&self.sigma, self.rule.perturbs()) {
            (None, true) => bail!("sigma is required for rule {}", self.rule.name()),
            (Some(_), false) => bail!("sigma is only used by np and np_dfa; remove it (for noisy training use train_noise)"),
            (Some(s), true) => {
                for sigma in s.values() {
                    if !(sigma > 0.0 && sigma.is_finite()) {
                        bail!("sigma must be positive and finite (got {sigma})");
                    }
                }
            }
            (None, false) => {}
        }
        match (self.solver, self.rule.fits_feedback()) {
            (None, true) => bail!(
                "solver (ridge or sgd) is required for rule {}",
                self.rule.name()
            ),
            (Some(_), false) => bail!("solver is only used by np, np_dfa and sg; remove it"),
            _ => {}
        }
        if self.solver == Some(SolverKind::Ridge) && !positive(self.gamma) {
            bail!(
                "gamma must be positive for the ridge solver (got {})",
                self.gamma
            );
        }
        match (&self.lr_b, self.solver) {
            (None, Some(SolverKind::Sgd)) => {
                bail!("lr_b (B's step size β) is required with solver: sgd")
            }
            (Some(_), s) if s != Some(SolverKind::Sgd) => {
                bail!("lr_b is only used with solver: sgd; remove it")
            }
            (Some(b), _) => {
                for beta in b.values() {
                    if !(beta > 0.0 && beta.is_finite()) {
                        bail!("lr_b must be positive and finite (got {beta})");
                    }
                }
            }
            _ => {}
        }
        if self.warmup > 0 && !self.rule.fits_feedback() {
            bail!("warmup only applies to rules that fit B (np, np_dfa, sg)");
        }
        for (field, v) in [
            ("input_noise", self.input_noise),
            ("train_noise", self.train_noise),
        ] {
            if let Some(v) = v {
                if !(v > 0.0 && v.is_finite()) {
                    bail!("{field} must be positive and finite (got {v}); remove it for no noise");
                }
            }
        }
        if self.train_noise.is_some() && self.rule.perturbs() {
            bail!("train_noise cannot be combined with node perturbation's own noisy pass");
        }
        if !positive(self.adam_eps) {
            bail!("adam_eps must be positive (got {})", self.adam_eps);
        }
        Ok(())
    }
}

/// Runs of one spec and one architecture: members of one batched program.
#[derive(Debug, Clone)]
pub struct Group {
    pub spec_index: usize,
    pub spec: RunSpec,
    pub sizes: Vec<i64>,
    pub members: Vec<Member>,
}

#[derive(Debug, Clone)]
pub struct Member {
    pub run: String,
    pub condition: String,
    pub seed: u64,
    pub sigma: f64,
    pub lr: f64,
    pub lr_b: f64,
    pub params: BTreeMap<String, f64>,
}

/// Finite and > 0 (false for NaN).
fn positive(x: f64) -> bool {
    x > 0.0 && x.is_finite()
}
