//! From a config to its runs, and from runs to batched programs.
//!
//! A run's name carries its label (the entry's `name`, else its rule), every setting that
//! differs between runs of that label, and its seed: `np-sigma0.01-seed3`. Two runs never
//! share a name; entries that resolve to the same run are a config error that names both.
//!
//! A program is the runs of one entry and one architecture (at most `training.max_members`
//! of them), trained as members of one batched program. The programs are a function of the
//! config alone, so a sharded experiment trains exactly what one process would.
use super::config::{Experiment, RunSpec, Sweep};
use anyhow::{bail, Result};
use std::collections::BTreeMap;

/// One run: a member of a program.
#[derive(Debug, Clone)]
pub struct Member {
    /// Its folder under the experiment's.
    pub run: String,
    /// Everything but the seed, as a legend label: runs that share it are averaged together.
    pub condition: String,
    pub seed: u64,
    pub sigma: f64,
    pub lr: f64,
    pub lr_b: f64,
    /// Its position in the entry's `trials:`, where the entry has them.
    pub trial: Option<usize>,
    /// The numeric settings in its name (sigma, lr, width...), for summary.csv.
    pub params: BTreeMap<String, f64>,
}

impl Member {
    /// The entry with this member's own settings: its trial's values, where it has one.
    pub fn spec(&self, entry: &RunSpec) -> RunSpec {
        match (self.trial, &entry.trials) {
            (Some(j), Some(trials)) => entry.for_trial(&trials[j]),
            _ => entry.clone(),
        }
    }
}

/// Runs of one entry and one architecture: members of one batched program.
#[derive(Debug, Clone)]
pub struct Group {
    /// Its position in [`programs`]: names its checkpoint and lock.
    pub index: usize,
    pub spec_index: usize,
    pub spec: RunSpec,
    pub sizes: Vec<i64>,
    pub members: Vec<Member>,
}

impl Group {
    /// The fully resolved config of member `m`'s run (its config.yaml): the experiment with
    /// only this run's settings.
    pub fn run_config(&self, exp: &Experiment, m: &Member) -> Result<String> {
        let mut spec = m.spec(&self.spec);
        if spec.lr.is_some() {
            spec.lr = Some(Sweep::One(m.lr));
        }
        if spec.sigma.is_some() {
            spec.sigma = Some(Sweep::One(m.sigma));
        }
        if spec.lr_b.is_some() {
            spec.lr_b = Some(Sweep::One(m.lr_b));
        }
        spec.sizes = None;
        spec.seeds = None;
        let mut one = exp.clone();
        one.network.sizes = self.sizes.clone();
        one.training.seeds = vec![m.seed];
        one.runs = vec![spec];
        Ok(serde_yaml::to_string(&one)?)
    }

    /// `prog007`: the program's checkpoint and lock file stem.
    pub fn id(&self) -> String {
        format!("prog{:03}", self.index)
    }

    /// Estimated cost for balancing shards: FLOPs of all its steps.
    pub fn cost(&self, exp: &Experiment) -> f64 {
        crate::cost::step_flops(&self.sizes, exp.training.batch_size, self.spec.rule.name())
            * self.members.len() as f64
            * exp.training.iterations as f64
    }
}

/// A run before naming: its entry, architecture, swept values and every setting by name.
struct Draft {
    spec_index: usize,
    sizes: Vec<i64>,
    label: String,
    seed: u64,
    sigma: f64,
    lr: f64,
    lr_b: f64,
    trial: Option<usize>,
    /// Setting name → (text for names, number for summary.csv where numeric).
    settings: BTreeMap<&'static str, (String, Option<f64>)>,
}

fn values(sweep: &Option<Sweep<f64>>) -> Vec<f64> {
    sweep
        .as_ref()
        .map(Sweep::values)
        .unwrap_or_else(|| vec![0.0])
}

fn drafts(exp: &Experiment) -> Vec<Draft> {
    let mut out = Vec::new();
    for (k, spec) in exp.runs.iter().enumerate() {
        let archs = spec
            .sizes
            .clone()
            .unwrap_or_else(|| vec![exp.network.sizes.clone()]);
        let label = spec
            .name
            .clone()
            .unwrap_or_else(|| spec.rule.name().to_string());
        // The entry's points: its trials, or the product of its swept lists.
        let points: Vec<(Option<usize>, RunSpec)> = match &spec.trials {
            Some(trials) => trials
                .iter()
                .enumerate()
                .map(|(j, t)| (Some(j), spec.for_trial(t)))
                .collect(),
            None => vec![(None, spec.clone())],
        };
        let seeds = spec.seeds.as_ref().unwrap_or(&exp.training.seeds);
        for sizes in &archs {
            for (trial, point) in &points {
                for &sigma in &values(&point.sigma) {
                    for &lr in &values(&point.lr) {
                        for &lr_b in &values(&point.lr_b) {
                            for &seed in seeds {
                                let mut settings = settings(point, sizes, sigma, lr, lr_b);
                                if let (Some(j), Some(trials)) = (trial, &spec.trials) {
                                    let t = trials[*j].trial;
                                    settings.insert("trial", (t.to_string(), Some(t as f64)));
                                }
                                out.push(Draft {
                                    spec_index: k,
                                    sizes: sizes.clone(),
                                    label: label.clone(),
                                    seed,
                                    sigma,
                                    lr,
                                    lr_b,
                                    trial: *trial,
                                    settings,
                                });
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// Every setting that can tell two runs apart, by the name it takes in run names.
fn settings(
    spec: &RunSpec,
    sizes: &[i64],
    sigma: f64,
    lr: f64,
    lr_b: f64,
) -> BTreeMap<&'static str, (String, Option<f64>)> {
    let num = |v: f64| (format!("{v}"), Some(v));
    let text = |v: String| (v, None);
    let mut s = BTreeMap::new();
    s.insert("rule", text(spec.rule.name().into()));
    s.insert("width", num(sizes[1] as f64));
    s.insert(
        "sizes",
        text(
            sizes
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join("x"),
        ),
    );
    for (key, on, v) in [
        ("sigma", spec.sigma.is_some(), sigma),
        ("lr", spec.lr.is_some(), lr),
        ("lr_b", spec.lr_b.is_some(), lr_b),
        (
            "input_noise",
            spec.input_noise.is_some(),
            spec.input_noise.unwrap_or(0.0),
        ),
        (
            "train_noise",
            spec.train_noise.is_some(),
            spec.train_noise.unwrap_or(0.0),
        ),
    ] {
        if on {
            s.insert(key, num(v));
        }
    }
    s.insert(
        "optimizer",
        text(format!("{:?}", spec.optimizer).to_lowercase()),
    );
    s.insert("adam_eps", num(spec.adam_eps));
    s.insert("freeze_w", text(spec.freeze_w.to_string()));
    s.insert(
        "solver",
        text(
            spec.solver
                .map(|x| format!("{x:?}").to_lowercase())
                .unwrap_or_default(),
        ),
    );
    s.insert("gamma", num(spec.gamma));
    s.insert("warmup", num(spec.warmup as f64));
    s.insert("perturb_bias", text(spec.perturb_bias.to_string()));
    s.insert("b_init", text(spec.b_init.name().into()));
    s.insert("w_init", text(spec.w_init.name().into()));
    if let Some(m) = spec.mirror {
        s.insert("mirror", text(format!("{m:?}").to_lowercase()));
    }
    for (key, v) in [
        ("decay", spec.decay),
        ("mirror_lr", spec.mirror_lr),
        ("mirror_sigma", spec.mirror_sigma),
        ("mirror_decay", spec.mirror_decay),
        ("mirror_batch", spec.mirror_batch.map(|n| n as f64)),
        ("mirror_warmup", spec.mirror_warmup.map(|n| n as f64)),
    ] {
        if let Some(v) = v {
            s.insert(key, num(v));
        }
    }
    s
}

/// The settings whose values differ among `runs` (all of one label), in name order. `sizes`
/// is named by `width` when the first hidden width alone tells the architectures apart.
fn differing(runs: &[&Draft]) -> Vec<&'static str> {
    let varies = |key: &str| {
        let first = runs[0].settings.get(key);
        runs.iter().any(|r| r.settings.get(key) != first)
    };
    let all: std::collections::BTreeSet<&'static str> = runs
        .iter()
        .flat_map(|r| r.settings.keys().copied())
        .collect();
    let mut keys: Vec<&'static str> = all
        .into_iter()
        .filter(|k| *k != "sizes" && *k != "width")
        .filter(|k| varies(k))
        .collect();
    if varies("sizes") {
        let mut by_width: BTreeMap<String, &str> = BTreeMap::new();
        let width_tells = runs.iter().all(|r| {
            let w = r.settings["width"].0.clone();
            *by_width.entry(w).or_insert(&r.settings["sizes"].0) == r.settings["sizes"].0
        });
        keys.insert(0, if width_tells { "width" } else { "sizes" });
    }
    // A trial's number names its values (summary.csv still lists them).
    if keys.contains(&"trial") {
        keys.retain(|k| !["sigma", "lr", "lr_b"].contains(k));
    }
    keys
}

/// Every run of the experiment, named, in config order: (entry, sizes, member).
fn named(exp: &Experiment) -> Result<Vec<(usize, Vec<i64>, Member)>> {
    let drafts = drafts(exp);
    let mut keys_of: BTreeMap<&str, Vec<&'static str>> = BTreeMap::new();
    for d in &drafts {
        if !keys_of.contains_key(d.label.as_str()) {
            let same: Vec<&Draft> = drafts.iter().filter(|o| o.label == d.label).collect();
            keys_of.insert(&d.label, differing(&same));
        }
    }
    let mut runs: Vec<(usize, Vec<i64>, Member)> = Vec::with_capacity(drafts.len());
    let mut entry_of: std::collections::HashMap<String, usize> = Default::default();
    for d in &drafts {
        let keys = &keys_of[d.label.as_str()];
        let condition = std::iter::once(d.label.clone())
            .chain(
                keys.iter()
                    .filter_map(|k| d.settings.get(k).map(|v| format!("{k}={}", v.0))),
            )
            .collect::<Vec<_>>()
            .join(" ");
        let run = format!(
            "{}-seed{}",
            condition.replace(' ', "-").replace('=', ""),
            d.seed
        );
        if let Some(other) = entry_of.insert(run.clone(), d.spec_index) {
            bail!(
                "runs[{other}] and runs[{}] both resolve to the run '{run}' (the same settings \
                 and seed): remove one, or change a setting or its `name`",
                d.spec_index
            );
        }
        let mut params: BTreeMap<String, f64> = keys
            .iter()
            .filter_map(|k| {
                d.settings
                    .get(k)
                    .and_then(|v| v.1)
                    .map(|v| (k.to_string(), v))
            })
            .collect();
        for key in ["sigma", "lr", "lr_b"] {
            if let Some((_, Some(v))) = d.settings.get(key) {
                params.insert(key.into(), *v);
            }
        }
        runs.push((
            d.spec_index,
            d.sizes.clone(),
            Member {
                run,
                condition,
                seed: d.seed,
                sigma: d.sigma,
                lr: d.lr,
                lr_b: d.lr_b,
                trial: d.trial,
                params,
            },
        ));
    }
    Ok(runs)
}

/// Every run, grouped into batched programs (entry × architecture, chunked by
/// `training.max_members`), in config order.
pub fn programs(exp: &Experiment) -> Result<Vec<Group>> {
    let mut groups: Vec<Group> = Vec::new();
    let cap = exp.training.max_members.unwrap_or(usize::MAX);
    for (k, sizes, member) in named(exp)? {
        match groups.last_mut() {
            Some(g) if g.spec_index == k && g.sizes == sizes && g.members.len() < cap => {
                g.members.push(member)
            }
            _ => groups.push(Group {
                index: groups.len(),
                spec_index: k,
                spec: exp.runs[k].clone(),
                sizes,
                members: vec![member],
            }),
        }
    }
    Ok(groups)
}
