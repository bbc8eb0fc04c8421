//! The MLP experiment schema (`kind: mlp`) and its validation. Reading the file and the
//! `quick:` overrides are shared with the CNN (`crate::config`); expanding the runs into
//! batched programs is `super::sweep`.
use super::streams::DataOrderKind;
use crate::nets::activation::Activation;
use crate::nets::init::Init;
use crate::nets::loss::{Loss, Reduction};
use crate::optim::OptimizerKind;
use crate::rules::wm::MirrorKind;
use crate::rules::Rule;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_yaml::Value;

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
    /// mnist | fashion-mnist | synthetic-mnist | synthetic-mnist-sparse | cifar10 (flattened
    /// to 3072) | gaussian
    pub dataset: String,
    /// Training images used; the rest of the training file is held out (the code: 55k + 5k).
    #[serde(default)]
    pub train_size: Option<usize>,
    /// Test images used (default: all).
    #[serde(default)]
    pub test_size: Option<usize>,
    /// Training images held out as a validation set, scored at every evaluation
    /// (`val_loss`, `val_error`). `train_size` then counts the images that remain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<usize>,
    /// Which end of the training file the validation set comes from: `first` (TF's
    /// `read_data_sets`, which the authors' code used: it trained on images 5,000–59,999)
    /// or `last`.
    #[serde(default, skip_serializing_if = "Holdout::is_first")]
    pub holdout: Holdout,
    /// Seed of the generated data (gaussian, synthetic-mnist).
    #[serde(default)]
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Holdout {
    #[default]
    First,
    Last,
}

impl Holdout {
    fn is_first(&self) -> bool {
        *self == Holdout::First
    }
}

/// How B (or D) starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BInit {
    /// Drawn from W's init (`w_init`), from its own stream: FA's fixed B of the same seed.
    #[default]
    Random,
    /// All zeros, as the authors' code started NP's B (rules that learn B only).
    Zero,
    /// Drawn from this init instead of W's.
    HeNormal,
    NormalFanSum,
    XavierUniform,
}

impl BInit {
    fn is_random(&self) -> bool {
        *self == BInit::Random
    }

    pub fn name(self) -> &'static str {
        match self {
            BInit::Random => "random",
            BInit::Zero => "zero",
            BInit::HeNormal => "he_normal",
            BInit::NormalFanSum => "normal_fan_sum",
            BInit::XavierUniform => "xavier_uniform",
        }
    }

    /// The distribution B is drawn from, given W's; None for zero.
    pub fn init(self, w_init: Init) -> Option<Init> {
        match self {
            BInit::Random => Some(w_init),
            BInit::Zero => None,
            BInit::HeNormal => Some(Init::HeNormal),
            BInit::NormalFanSum => Some(Init::NormalFanSum),
            BInit::XavierUniform => Some(Init::XavierUniform),
        }
    }
}

/// One trial of a random search: the member settings it sets (the entry gives the rest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trial {
    /// The trial's number in its search: names its runs (`np-trial7-seed0`).
    pub trial: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigma: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr_b: Option<f64>,
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
    /// How each run's batches walk the training set: `epochs` (default: a fresh permutation
    /// per epoch, its last n mod T examples left out) or `stream` (the permutations end to
    /// end, none left out: TF's `next_batch`, as the authors' code).
    #[serde(default, skip_serializing_if = "DataOrderKind::is_default")]
    pub data_order: DataOrderKind,
    /// Draw every run's initial network (W, and a drawn B, D or frSF's |M|) from this seed
    /// instead of its own, so that the runs of an entry start alike and differ only in data
    /// order and noise: the authors' code built its model once, before its loop of runs.
    /// Default: each run from its own seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_seed: Option<u64>,
    /// Also log `test_error_noisy` for np/np_dfa: the error of the noisy output, as the
    /// authors' code scored Fig. 2 (the clean `test_error` is always logged).
    #[serde(default)]
    pub test_error_noisy: bool,
    /// Iterations at which the autoencoder's latent code is saved (the end always is).
    #[serde(default)]
    pub latent_at: Vec<u64>,
    /// Checkpoint every this many iterations (default: about every 10 minutes of wall time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_every: Option<u64>,
    /// At most this many runs per batched program (default: every run of one entry and one
    /// architecture together). Smaller programs bound memory and give more shards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_members: Option<usize>,
    /// The output loss: squared_error (default), sigmoid_cross_entropy (a sigmoid output
    /// layer) or softmax_cross_entropy (an identity output layer, classification).
    #[serde(default, skip_serializing_if = "Loss::is_default")]
    pub loss: Loss,
    /// sum (default: L = Σ_t L_t, the paper's code) or mean (÷T, the peers').
    #[serde(default, skip_serializing_if = "Reduction::is_default")]
    pub loss_reduction: Reduction,
    /// Which engine trains the programs (`auto`: fused on CPU where it can, else torch).
    /// Like the device, it is not part of the config's identity (never serialized, so not
    /// hashed): each run records the engine that trained it, and a program is never
    /// continued by the other one (`mlp::engine`).
    #[serde(default, skip_serializing)]
    pub engine: super::engine::EngineChoice,
}

impl TrainingSpec {
    /// The seeds the initial networks of runs `seeds` are drawn from (see `init_seed`).
    pub fn init_seeds(&self, seeds: &[u64]) -> Vec<u64> {
        match self.init_seed {
            Some(s) => vec![s; seeds.len()],
            None => seeds.to_vec(),
        }
    }
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

impl Sweep<f64> {
    /// A swept list must be non-empty and name each value once.
    fn check(&self, field: &str) -> Result<()> {
        let values = self.values();
        if values.is_empty() {
            bail!("{field}: an empty list; give one value or a list of several");
        }
        for (i, a) in values.iter().enumerate() {
            if let Some(j) = values[..i].iter().position(|b| b == a) {
                bail!("{field}: [{j}] and [{i}] are both {a}; each value names one run");
            }
        }
        Ok(())
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
    /// How B (or D) starts: random (W's init, default), zero (the code's NP; rules that learn
    /// B), or an init of its own (he_normal, normal_fan_sum, xavier_uniform).
    #[serde(default, skip_serializing_if = "BInit::is_random")]
    pub b_init: BInit,
    /// W's init: he_normal (default), normal_fan_sum (Akrout's) or xavier_uniform (biotorch's).
    #[serde(default, skip_serializing_if = "Init::is_default")]
    pub w_init: Init,
    /// Kolen–Pollack's decay λ of W and B (kp; 0 is Akrout's code and equals matched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decay: Option<f64>,
    /// The weight mirror (wm): decay (the paper's rule) or akrout (their code's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<MirrorKind>,
    /// η_m, σ_m, λ_m of `mirror: decay` (B → (η_m σ_m²/λ_m) W).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror_lr: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror_sigma: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror_decay: Option<f64>,
    /// N_m, samples per mirror step (default 128, Akrout's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror_batch: Option<i64>,
    /// Mirror steps before training (default: akrout ⌊N_train/N_m⌋, decay 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror_warmup: Option<u64>,
    /// Points (lr, sigma, lr_b) to run instead of the product of swept lists: one member per
    /// trial and seed. `credit search` writes these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trials: Option<Vec<Trial>>,
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

impl Experiment {
    pub fn from_value(value: Value, origin: &str) -> Result<Self> {
        if value.get("search").is_some() {
            bail!(
                "{origin} is a random search (it has a `search:` block): run it with \
                 `credit search {origin} --trials N`"
            );
        }
        let exp: Experiment = crate::config::parse(value, origin)?;
        exp.validate()
            .with_context(|| format!("{origin}: invalid config"))?;
        Ok(exp)
    }

    pub fn validate(&self) -> Result<()> {
        if !folder_name_ok(&self.experiment) {
            bail!(
                "experiment: '{}' names a folder inside --out: use letters, digits, '-', '_' \
                 or '.', not starting with '.'",
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
        self.check_loss()?;
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
        check_seeds("training.seeds", &t.seeds)?;
        if t.checkpoint_every == Some(0) {
            bail!("training.checkpoint_every must be positive; remove it for the default (about every 10 minutes)");
        }
        if t.max_members == Some(0) {
            bail!("training.max_members must be positive; remove it to batch every run of an entry together");
        }
        let known = [
            "mnist",
            "fashion-mnist",
            "synthetic-mnist",
            "synthetic-mnist-sparse",
            "cifar10",
            "gaussian",
        ];
        if !known.contains(&self.data.dataset.as_str()) {
            bail!(
                "data.dataset: '{}' is unknown; use one of {}",
                self.data.dataset,
                known.join(", ")
            );
        }
        match (self.data.validation, self.data.holdout) {
            (Some(0), _) => {
                bail!("data.validation must be positive; remove it for no validation set")
            }
            (Some(_), _) if self.data.dataset == "gaussian" => {
                bail!("data.validation: the teacher task (gaussian) has no validation set")
            }
            (None, Holdout::Last) => {
                bail!("data.holdout only applies with data.validation (images held out)")
            }
            _ => {}
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
        if let Some((n0, n_out)) = data_widths(self) {
            let all = std::iter::once(("network.sizes".to_string(), &self.network.sizes)).chain(
                self.runs.iter().enumerate().flat_map(|(k, r)| {
                    r.sizes
                        .iter()
                        .flatten()
                        .enumerate()
                        .map(move |(a, s)| (format!("runs[{k}].sizes[{a}]"), s))
                }),
            );
            for (field, sizes) in all {
                if sizes[0] != n0 || sizes[sizes.len() - 1] != n_out {
                    let why = match self.task {
                        Task::Classify => {
                            format!("{n0} pixels in and one output per class (10 classes)")
                        }
                        _ => format!("{n0} inputs and {n_out} outputs"),
                    };
                    bail!(
                        "{field} is {sizes:?}, but {} ({:?}) needs {why}",
                        self.data.dataset,
                        self.task
                    );
                }
            }
        }
        Ok(())
    }
}

impl Experiment {
    /// The loss fits the output layer and the targets.
    fn check_loss(&self) -> Result<()> {
        let loss = self.training.loss;
        let Some(act) = loss.output_activation() else {
            return Ok(());
        };
        let last = *self
            .network
            .activations
            .last()
            .expect("checked by check_sizes");
        if last != act {
            let name = |a: Activation| format!("{a:?}").to_lowercase();
            bail!(
                "training.loss: {} needs network.activations to end in {} (it ends in {}); \
                 set the last activation to {}",
                loss.name(),
                name(act),
                name(last),
                name(act)
            );
        }
        match (loss, self.task) {
            (Loss::SoftmaxCrossEntropy, Task::Classify) => Ok(()),
            (Loss::SoftmaxCrossEntropy, _) => {
                bail!("training.loss: softmax_cross_entropy needs one-hot targets (task: classify)")
            }
            (_, Task::Teacher) => bail!(
                "training.loss: {} needs targets in [0, 1]; the teacher task's are Gaussian",
                loss.name()
            ),
            _ => Ok(()),
        }
    }
}

/// A name that stays one folder inside --out: no separators, no `..`, no hidden files.
pub fn folder_name_ok(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.+".contains(c))
}

fn check_seeds(field: &str, seeds: &[u64]) -> Result<()> {
    for (i, a) in seeds.iter().enumerate() {
        if let Some(j) = seeds[..i].iter().position(|b| b == a) {
            bail!("{field}: [{j}] and [{i}] are both seed {a}; each seed names one run");
        }
    }
    Ok(())
}

/// (input width, output width) the data set fixes, where it does.
fn data_widths(exp: &Experiment) -> Option<(i64, i64)> {
    let images = [
        "mnist",
        "fashion-mnist",
        "synthetic-mnist",
        "synthetic-mnist-sparse",
    ]
    .contains(&exp.data.dataset.as_str());
    match exp.task {
        Task::Classify if images => Some((784, 10)),
        Task::Autoencode if images => Some((784, 784)),
        Task::Classify if exp.data.dataset == "cifar10" => Some((3072, 10)),
        Task::Autoencode if exp.data.dataset == "cifar10" => Some((3072, 3072)),
        _ => None,
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
    /// The entry of one trial: its values in place of the entry's, no `trials:`.
    pub fn for_trial(&self, trial: &Trial) -> RunSpec {
        let mut spec = self.clone();
        spec.trials = None;
        for (slot, v) in [
            (&mut spec.lr, trial.lr),
            (&mut spec.sigma, trial.sigma),
            (&mut spec.lr_b, trial.lr_b),
        ] {
            if let Some(v) = v {
                *slot = Some(Sweep::One(v));
            }
        }
        spec
    }

    fn validate(&self, exp: &Experiment) -> Result<()> {
        let Some(trials) = &self.trials else {
            return self.validate_one(exp);
        };
        if trials.is_empty() {
            bail!("trials: list at least one trial, or remove the field");
        }
        for (field, sweep) in [
            ("lr", &self.lr),
            ("sigma", &self.sigma),
            ("lr_b", &self.lr_b),
        ] {
            if let Some(Sweep::Many(_)) = sweep {
                bail!("{field}: a swept list cannot go with trials:; give one value (a trial's own value replaces it) or put the values in the trials");
            }
        }
        for (j, t) in trials.iter().enumerate() {
            if let Some(i) = trials[..j].iter().position(|o| o.trial == t.trial) {
                bail!(
                    "trials[{i}] and trials[{j}] are both trial {}; each number names one run",
                    t.trial
                );
            }
            self.for_trial(t)
                .validate_one(exp)
                .with_context(|| format!("trials[{j}] (trial {})", t.trial))?;
        }
        Ok(())
    }

    fn validate_one(&self, exp: &Experiment) -> Result<()> {
        if let Some(name) = &self.name {
            if !folder_name_ok(name) {
                bail!(
                    "name: '{name}' starts run folder names inside --out: use letters, digits, \
                     '-', '_', '.' or '+', not starting with '.'"
                );
            }
        }
        for (field, sweep) in [
            ("lr", &self.lr),
            ("sigma", &self.sigma),
            ("lr_b", &self.lr_b),
        ] {
            if let Some(sweep) = sweep {
                sweep.check(field)?;
            }
        }
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
            check_seeds("seeds", seeds)?;
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
        let iterations = exp.training.iterations;
        if self.warmup > 0 && self.warmup >= iterations {
            bail!(
                "warmup {} is not shorter than training.iterations {iterations}: W would never \
                 train and the run would end at chance; shorten the warm-up (in a quick: block \
                 too, where iterations are fewer)",
                self.warmup
            );
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
        if self.b_init == BInit::Zero && !self.rule.learns_feedback() {
            bail!(
                "b_init: zero is only for rules that learn their feedback (np, np_dfa, sg, \
                 matched, kp, wm); {}'s feedback is not learned",
                self.rule.name()
            );
        }
        if !self.b_init.is_random() && !self.rule.draws_feedback() {
            bail!(
                "b_init: {} has no drawn B to start (sign symmetry builds B from W; bp has \
                 none); remove it",
                self.rule.name()
            );
        }
        self.validate_kp()?;
        self.validate_wm()
    }

    fn validate_kp(&self) -> Result<()> {
        match (self.decay, self.rule) {
            (None, Rule::Kp) => {
                bail!("decay (λ, in [0, 1)) is required for rule kp; 0 is Akrout's code")
            }
            (Some(_), Rule::Kp) if self.freeze_w => {
                bail!("freeze_w: kp's B moves only with W's steps; remove freeze_w")
            }
            (Some(l), Rule::Kp) if !((0.0..1.0).contains(&l)) => {
                bail!("decay must be in [0, 1) (got {l})")
            }
            (Some(_), r) if r != Rule::Kp => bail!("decay is only used by kp; remove it"),
            _ => Ok(()),
        }
    }

    fn validate_wm(&self) -> Result<()> {
        let fields = [
            ("mirror_lr", self.mirror_lr),
            ("mirror_sigma", self.mirror_sigma),
            ("mirror_decay", self.mirror_decay),
        ];
        if self.rule != Rule::Wm {
            let set = self.mirror.is_some()
                || self.mirror_batch.is_some()
                || self.mirror_warmup.is_some()
                || fields.iter().any(|(_, v)| v.is_some());
            if set {
                bail!("mirror and mirror_* are only used by wm; remove them");
            }
            return Ok(());
        }
        if self.mirror_batch.is_some_and(|n| n <= 0) {
            bail!("mirror_batch (N_m) must be positive; remove it for 128");
        }
        match self.mirror {
            None => bail!("mirror (decay or akrout) is required for rule wm"),
            Some(MirrorKind::Akrout) => {
                if let Some((field, _)) = fields.iter().find(|(_, v)| v.is_some()) {
                    bail!(
                        "{field}: mirror: akrout uses Akrout et al.'s constants; remove it, or \
                         use mirror: decay"
                    );
                }
                Ok(())
            }
            Some(MirrorKind::Decay) => {
                for (field, v) in fields {
                    match v {
                        None => bail!("{field} is required with mirror: decay"),
                        Some(v) if !positive(v) => {
                            bail!("{field} must be positive and finite (got {v})")
                        }
                        _ => {}
                    }
                }
                match self.mirror_decay {
                    Some(l) if l >= 1.0 => bail!("mirror_decay (λ_m) must be below 1 (got {l})"),
                    _ => Ok(()),
                }
            }
        }
    }
}

/// Finite and > 0 (false for NaN).
fn positive(x: f64) -> bool {
    x > 0.0 && x.is_finite()
}
