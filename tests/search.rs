//! `credit search`: draws, selection on validation, a small search against a grid; the
//! validation split (first N held out) and `b_init: zero`.
mod common;
use common::{experiment, run, tmp_dir};
use credit_assign::mlp::search::{self, Dist, Ranked};
use credit_assign::mlp::{run_experiment, sweep, tasks, RunOptions, Trainer};
use credit_assign::output::{RunSummary, Status};
use serde_yaml::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use tch::Device;

/// Kolmogorov–Smirnov distance of `xs` (in [0, 1]) from U(0, 1).
fn ks_uniform(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = xs.len() as f64;
    xs.iter()
        .enumerate()
        .map(|(i, &x)| (x - i as f64 / n).abs().max(((i + 1) as f64 / n - x).abs()))
        .fold(0.0, f64::max)
}

fn draws(dist: &Dist, seed: u64, n: u64, key: &str) -> Vec<f64> {
    (0..n)
        .map(|t| dist.draw(seed, t, key).as_f64().unwrap())
        .collect()
}

#[test]
fn draws_are_reproducible_in_bounds_and_log_uniform() {
    let (lo, hi) = (1e-6, 1e-3);
    let log = Dist::LogUniform(lo, hi);
    let n = 4000;
    let a = draws(&log, 7, n, "runs[0].lr");
    assert_eq!(
        a,
        draws(&log, 7, n, "runs[0].lr"),
        "same (seed, trial): same value"
    );
    assert_ne!(
        a,
        draws(&log, 8, n, "runs[0].lr"),
        "another seed: other values"
    );
    assert_ne!(
        a,
        draws(&log, 7, n, "runs[0].sigma"),
        "another parameter: other values"
    );
    assert!(
        a.iter().all(|&v| (lo..=hi).contains(&v)),
        "a draw out of bounds"
    );
    // Trial t draws the same whatever the number of trials.
    assert_eq!(a[..10], draws(&log, 7, 10, "runs[0].lr")[..]);

    // log10 of the draws is uniform on [log10 lo, log10 hi]: KS at α = 0.001 (1.95/√n).
    let critical = 1.95 / (n as f64).sqrt();
    let to_unit = |v: &f64| (v.log10() - lo.log10()) / (hi.log10() - lo.log10());
    let d_log = ks_uniform(a.iter().map(to_unit).collect());
    assert!(
        d_log < critical,
        "log-uniform draws: KS {d_log} ≥ {critical}"
    );
    // The same check rejects plain uniform draws (the wrong distribution).
    let wrong = draws(&Dist::Uniform(lo, hi), 7, n, "runs[0].lr");
    assert!(wrong.iter().all(|&v| (lo..=hi).contains(&v)));
    let d_wrong = ks_uniform(wrong.iter().map(to_unit).collect());
    assert!(
        d_wrong > 10.0 * critical,
        "uniform draws pass as log-uniform: KS {d_wrong}"
    );
    // And uniform draws are uniform on the linear scale.
    let d_lin = ks_uniform(wrong.iter().map(|v| (v - lo) / (hi - lo)).collect());
    assert!(d_lin < critical, "uniform draws: KS {d_lin} ≥ {critical}");

    // choice: every value, each about equally often (a χ² bound, 3 d.o.f., p ≈ 0.001).
    let values: Vec<Value> = ["a", "b", "c", "d"]
        .iter()
        .map(|&s| Value::from(s))
        .collect();
    let choice = Dist::Choice(values.clone());
    let mut counts: BTreeMap<String, f64> = BTreeMap::new();
    for t in 0..n {
        let v = choice.draw(3, t, "runs[0].optimizer");
        *counts.entry(v.as_str().unwrap().to_string()).or_default() += 1.0;
    }
    assert_eq!(counts.len(), 4);
    let e = n as f64 / 4.0;
    let chi2: f64 = counts.values().map(|c| (c - e).powi(2) / e).sum();
    assert!(chi2 < 16.3, "choice frequencies {counts:?}: χ² {chi2}");
}

const SEARCH: &str = r#"
experiment: s
task: classify
data: { dataset: synthetic-mnist, train_size: 600, test_size: 200, validation: 300 }
network: { sizes: [784, 16, 10], activations: [sigmoid, identity] }
training: { iterations: 60, batch_size: 16, log_every: 20, eval_every: 20, seeds: [0] }
runs:
  - { rule: bp, lr: 0.01 }
search:
  select: SELECT
  params:
    runs[0].lr: { log_uniform: [1.0e-4, 1.0] }
"#;

fn expand(yaml: &str, trials: usize) -> search::Expanded {
    let value: Value = serde_yaml::from_str(yaml).unwrap();
    search::expand(value, Some(trials), 0, "test").expect("search expands")
}

fn summary(trial: u64, seed: u64, results: &[(&str, f64)], diverged: bool) -> RunSummary {
    RunSummary {
        experiment: "s".into(),
        run: format!("bp-trial{trial}-seed{seed}"),
        rule: "bp".into(),
        condition: format!("bp trial={trial}"),
        seed,
        status: if diverged {
            Status::Diverged
        } else {
            Status::Completed
        },
        diverged_at: diverged.then_some(100),
        iterations: 300,
        seconds: 1.0,
        device: "cpu".into(),
        engine: "torch".into(),
        params: [("trial".to_string(), trial as f64)].into(),
        results: if diverged {
            BTreeMap::new()
        } else {
            results.iter().map(|(k, v)| (k.to_string(), *v)).collect()
        },
    }
}

#[test]
fn selection_ranks_on_validation_not_test() {
    let ex = expand(&SEARCH.replace("SELECT", "final"), 4);
    // Trial 2 is best on validation, trial 1 on test; trial 3 diverged on one seed.
    let rows = |t: u64, val: f64, test: f64| {
        let r = [
            ("final_val_error", val),
            ("final_test_error", test),
            ("min_val_error", val / 2.0),
            ("test_error_at_min_val_error", 1.0 - test),
        ];
        vec![summary(t, 0, &r, false), summary(t, 1, &r, false)]
    };
    let mut runs = Vec::new();
    runs.extend(rows(0, 0.30, 0.30));
    runs.extend(rows(1, 0.20, 0.05));
    runs.extend(rows(2, 0.10, 0.25));
    runs.push(summary(
        3,
        0,
        &[("final_val_error", 0.01), ("final_test_error", 0.01)],
        false,
    ));
    runs.push(summary(3, 1, &[], true));
    let ranked = search::rank(&ex.exp, &ex.searched, &ex.search, &runs).unwrap();
    let order: Vec<u64> = ranked.iter().map(|r| r.trial).collect();
    assert_eq!(order, [2, 1, 0, 3], "ranked on validation, diverged last");
    assert_eq!(ranked[0].rank, 1);
    assert_eq!((ranked[0].val, ranked[0].test), (0.10, 0.25));
    assert_eq!(ranked[0].seeds, 2);
    assert_eq!(ranked[3].diverged, 1);
    assert!(ranked[3].val.is_nan());
    // The searched value comes from the expanded config.
    let lr0: f64 = ranked[0].values["lr"].parse().unwrap();
    let drawn = Dist::LogUniform(1e-4, 1.0)
        .draw(0, 2, "runs[0].lr")
        .as_f64()
        .unwrap();
    assert_eq!(lr0, drawn);

    // select: min ranks on min_val_error and reports the test value at that point.
    let ex = expand(&SEARCH.replace("SELECT", "min"), 4);
    let ranked = search::rank(&ex.exp, &ex.searched, &ex.search, &runs).unwrap();
    assert_eq!(ranked[0].trial, 2);
    assert_eq!((ranked[0].val, ranked[0].test), (0.05, 0.75));

    // search.csv carries the same ranking, with the metric names in the header.
    let dir = tmp_dir("search-csv");
    search::write_csv(&dir.join("search.csv"), &ex.search, &ranked).unwrap();
    let text = std::fs::read_to_string(dir.join("search.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "label,rank,trial,lr,seeds,diverged,min_val_error,test_error_at_min_val_error"
    );
    assert!(lines.next().unwrap().starts_with("bp,1,2,"));
}

#[test]
fn search_config_errors_name_the_field() {
    let bad = [
        ("runs[3].lr: { log_uniform: [1.0e-4, 1.0] }", "runs[3].lr"),
        ("runs[0].lr: { log_uniform: [0.0, 1.0] }", "positive"),
        ("runs[0].lr: { uniform: [1.0, 0.1] }", "lo < hi"),
        ("runs[0].lr: { normal: [1.0, 0.1] }", "'normal' is unknown"),
        (
            "runs[0].rule: { choice: [bp, fa] }",
            "rule cannot be searched",
        ),
        ("lr: { log_uniform: [1.0e-4, 1.0] }", "search.params.lr"),
    ];
    for (param, needle) in bad {
        let yaml = SEARCH
            .replace("SELECT", "final")
            .replace("runs[0].lr: { log_uniform: [1.0e-4, 1.0] }", param);
        let value: Value = serde_yaml::from_str(&yaml).unwrap();
        let err = search::expand(value, Some(3), 0, "test")
            .err()
            .expect(param);
        let text = format!("{err:#}");
        assert!(text.contains(needle), "{param}: {text}");
    }
    // A search needs a validation set; `credit run` refuses a search config.
    let yaml = SEARCH
        .replace("SELECT", "final")
        .replace(", validation: 300", "");
    let err = search::expand(serde_yaml::from_str(&yaml).unwrap(), Some(3), 0, "t");
    assert!(format!("{:#}", err.err().unwrap()).contains("data.validation"));
    let value: Value = serde_yaml::from_str(&SEARCH.replace("SELECT", "final")).unwrap();
    let err = credit_assign::mlp::Experiment::from_value(value, "t").unwrap_err();
    assert!(err.to_string().contains("credit search"), "{err}");
}

#[test]
fn every_choice_is_checked_and_the_trial_count_is_bounded() {
    // The one trial draws another optimizer; `nadam`, drawn by no trial, is still refused.
    let choice = Dist::Choice(vec!["sgd".into(), "adam".into(), "nadam".into()]);
    assert_ne!(choice.draw(0, 0, "runs[0].optimizer"), Value::from("nadam"));
    let yaml = SEARCH.replace("SELECT", "final").replace(
        "runs[0].lr: { log_uniform: [1.0e-4, 1.0] }",
        "runs[0].lr: { log_uniform: [1.0e-4, 1.0] }\n    runs[0].optimizer: { choice: [sgd, adam, nadam] }",
    );
    let value: Value = serde_yaml::from_str(&yaml).unwrap();
    let err = search::expand(value, Some(1), 0, "test")
        .err()
        .expect("nadam refused");
    let text = format!("{err:#}");
    assert!(
        text.contains("search.params.runs[0].optimizer.choice: nadam"),
        "{text}"
    );
    let good = yaml.replace(", nadam]", "]");
    let value: Value = serde_yaml::from_str(&good).unwrap();
    assert!(search::expand(value, Some(1), 0, "test").is_ok());
    // 10^6 trials are refused at once, naming the option, not expanded for minutes.
    let value: Value = serde_yaml::from_str(&good).unwrap();
    let err = search::expand(value, Some(1_000_000), 0, "test")
        .err()
        .unwrap();
    assert!(format!("{err:#}").contains("--trials 1000000"), "{err:#}");
    let value: Value = serde_yaml::from_str(&good).unwrap();
    let max = credit_assign::search::MAX_TRIALS;
    assert_eq!(
        search::expand(value, Some(max), 0, "test").unwrap().trials,
        max
    );
}

fn options(out: &std::path::Path) -> RunOptions {
    RunOptions {
        quick: false,
        device: Device::Cpu,
        out_root: out.to_path_buf(),
        data_dir: PathBuf::from("data"),
        fresh: false,
        shard: None,
        queue: false,
    }
}

/// Mean over seeds of final_val_error per lr of a grid.
fn grid_errors(runs: &[RunSummary]) -> Vec<(f64, f64)> {
    let mut by: BTreeMap<String, (f64, Vec<f64>)> = BTreeMap::new();
    for r in runs {
        let lr = r.params["lr"];
        let v = match r.status {
            Status::Completed => r.results["final_val_error"],
            Status::Diverged => f64::INFINITY,
        };
        by.entry(format!("{lr:e}"))
            .or_insert((lr, Vec::new()))
            .1
            .push(v);
    }
    let mut out: Vec<(f64, f64)> = by
        .into_values()
        .map(|(lr, v)| (lr, v.iter().sum::<f64>() / v.len() as f64))
        .collect();
    out.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap());
    out
}

#[test]
fn a_small_search_finds_the_lr_region_a_grid_says_is_best() {
    let out = tmp_dir("search-vs-grid");
    // The grid: one decade apart, same engine, same data, same length.
    let grid = SEARCH
        .split("search:")
        .next()
        .unwrap()
        .replace("experiment: s", "experiment: grid")
        .replace("lr: 0.01", "lr: [1.0e-4, 1.0e-3, 1.0e-2, 1.0e-1, 1.0]")
        .replace("seeds: [0]", "seeds: [0, 1]");
    let grid = grid_errors(&run(&grid, &out));
    let (best_lr, best) = grid[0];
    let second = grid[1].1;
    assert!(best < second, "the grid has a best decade: {grid:?}");

    let ex = expand(&SEARCH.replace("SELECT", "final"), 10);
    let runs = run_experiment(&ex.exp, &options(&out)).unwrap().1;
    let ranked: Vec<Ranked> = search::rank(&ex.exp, &ex.searched, &ex.search, &runs).unwrap();
    assert_eq!(ranked.len(), 10);
    let top = &ranked[0];
    eprintln!("grid (lr, mean final_val_error): {grid:?}");
    for r in &ranked {
        eprintln!(
            "trial {} lr {} val {} test {}",
            r.trial, r.values["lr"], r.val, r.test
        );
    }
    let lr: f64 = top.values["lr"].parse().unwrap();
    let in_decade = (lr / best_lr).log10().abs() <= 0.5;
    assert!(
        in_decade || top.val <= second,
        "search's best trial (lr {lr}, val {}) is neither in the grid's best decade ({best_lr}: {best}) \
         nor better than the grid's second ({second}); grid {grid:?}",
        top.val
    );
    // The runs log validation and the test value at the best validation point.
    let r = &runs[0];
    for key in [
        "final_val_error",
        "min_val_error",
        "argmin_val_error",
        "test_error_at_min_val_error",
        "final_val_loss",
    ] {
        assert!(
            r.results.contains_key(key) || r.status == Status::Diverged,
            "{key} missing: {:?}",
            r.results.keys()
        );
    }
    // Names carry the trial, summary.csv the drawn lr.
    assert!(
        runs.iter().any(|r| r.run == "bp-trial0-seed0"),
        "{:?}",
        runs[0].run
    );

    // --top 2 with seeds 0,1: the two best trials, two seeds each.
    let top2 = search::top(&ex.exp, &ranked, 2, &[0, 1]).unwrap();
    assert_eq!(top2.experiment, "s-top");
    let members: usize = sweep::programs(&top2)
        .unwrap()
        .iter()
        .map(|g| g.members.len())
        .sum();
    assert_eq!(members, 4);
    let kept: Vec<u64> = top2.runs[0]
        .trials
        .as_ref()
        .unwrap()
        .iter()
        .map(|t| t.trial)
        .collect();
    let mut want = vec![ranked[0].trial, ranked[1].trial];
    want.sort();
    assert_eq!(kept, want);
}

#[test]
fn trials_of_one_shape_train_as_members_of_one_program() {
    let yaml = r#"
experiment: s
task: classify
data: { dataset: synthetic-mnist, train_size: 600, test_size: 200, validation: 300 }
network: { sizes: [784, 16, 10], activations: [sigmoid, identity] }
training: { iterations: 300, batch_size: 16, log_every: 100, eval_every: 100, seeds: [0, 1] }
runs:
  - { rule: np, lr: 0.01, sigma: 0.01, solver: sgd, lr_b: 0.001 }
  - { rule: bp, lr: 0.01 }
search:
  params:
    runs[0].lr: { log_uniform: [1.0e-4, 1.0] }
    runs[0].sigma: { log_uniform: [1.0e-4, 1.0e-1] }
    runs[0].lr_b: { log_uniform: [1.0e-6, 1.0e-3] }
    runs[0].optimizer: { choice: [sgd, adam] }
"#;
    let ex = expand(yaml, 12);
    let programs = sweep::programs(&ex.exp).unwrap();
    // np: one program per optimizer (sgd, adam), 12 trials × 2 seeds in all; bp as it is.
    let np: Vec<_> = programs
        .iter()
        .filter(|g| g.spec.rule.name() == "np")
        .collect();
    assert_eq!(np.len(), 2);
    assert_eq!(np.iter().map(|g| g.members.len()).sum::<usize>(), 24);
    assert_eq!(programs.len(), 3);
    for g in &np {
        for m in &g.members {
            let t = m.params["trial"] as u64;
            let draw = |key: &str| {
                Dist::LogUniform(1e-4, 1.0)
                    .draw(0, t, key)
                    .as_f64()
                    .unwrap()
            };
            assert_eq!(m.lr, draw("runs[0].lr"));
            assert!(m.run.contains(&format!("trial{t}-seed")), "{}", m.run);
        }
    }
    // The expanded config is an ordinary config: `credit run` reads back the same experiment.
    let dir = tmp_dir("search-config");
    let path = search::write_config(&ex.exp, &dir, "test").unwrap();
    let back = credit_assign::mlp::Experiment::from_value(
        credit_assign::config::load_value(&path, false).unwrap(),
        "back",
    )
    .unwrap();
    assert_eq!(
        credit_assign::config::hash(&serde_yaml::to_value(&back).unwrap()).unwrap(),
        credit_assign::config::hash(&serde_yaml::to_value(&ex.exp).unwrap()).unwrap()
    );
}

#[test]
fn validation_is_the_first_n_training_images() {
    let yaml = |holdout: &str| {
        format!(
            "experiment: v\ntask: classify\n\
             data: {{ dataset: synthetic-mnist, train_size: 400, test_size: 50, validation: 100, holdout: {holdout} }}\n\
             network: {{ sizes: [784, 10], activations: [identity] }}\n\
             training: {{ iterations: 1, batch_size: 8, log_every: 1, eval_every: 1, seeds: [0] }}\n\
             runs: [{{ rule: bp, lr: 0.1 }}]\n"
        )
    };
    // The training file: 500 generated images (400 to train on + 100 held out).
    let file = credit_assign::data::synthetic::mnist_like(500, 50, 0);
    let same = |a: &tch::Tensor, b: &tch::Tensor| a.size() == b.size() && a.equal(b);
    let data = tasks::load(
        &experiment(&yaml("first")),
        &PathBuf::from("data"),
        Device::Cpu,
    )
    .unwrap();
    let val = data.val.as_ref().expect("a validation set");
    assert!(
        same(&val.x, &file.train_x.narrow(0, 0, 100)),
        "validation = images 0..100"
    );
    assert!(same(&val.labels, &file.train_y.narrow(0, 0, 100)));
    assert!(
        same(&data.train_x, &file.train_x.narrow(0, 100, 400)),
        "training = images 100..500"
    );
    assert!(same(&data.test_x, &file.test_x));
    let data = tasks::load(
        &experiment(&yaml("last")),
        &PathBuf::from("data"),
        Device::Cpu,
    )
    .unwrap();
    let val = data.val.as_ref().unwrap();
    assert!(
        same(&val.x, &file.train_x.narrow(0, 400, 100)),
        "validation = images 400..500"
    );
    assert!(same(&data.train_x, &file.train_x.narrow(0, 0, 400)));
    // Without data.validation there is none; train_size keeps its meaning (first N).
    let plain = yaml("first").replace(", validation: 100, holdout: first", "");
    let data = tasks::load(&experiment(&plain), &PathBuf::from("data"), Device::Cpu).unwrap();
    assert!(data.val.is_none());
    assert_eq!(data.train_len(), 400);
    // Too large a validation set is refused, naming the field.
    let mut spec = experiment(&yaml("first")).data;
    spec.validation = Some(500);
    let err = tasks::hold_out(file.train_x, file.train_y, &spec);
    assert!(format!("{:#}", err.err().unwrap()).contains("data.validation"));
}

#[test]
fn b_init_zero_starts_the_learned_feedback_at_zero() {
    let yaml = r#"
experiment: b
task: classify
data: { dataset: synthetic-mnist, train_size: 200, test_size: 50 }
network: { sizes: [784, 12, 8, 10], activations: [sigmoid, sigmoid, identity] }
training: { iterations: 1, batch_size: 8, log_every: 1, eval_every: 1, seeds: [0, 1] }
runs:
  - { rule: np, lr: 0.01, sigma: 0.01, solver: sgd, lr_b: 0.001, b_init: zero }
  - { rule: np, lr: 0.01, sigma: 0.01, solver: sgd, lr_b: 0.001 }
  - { rule: np_dfa, lr: 0.01, sigma: 0.01, solver: sgd, lr_b: 0.001, b_init: zero }
"#;
    let exp = experiment(yaml);
    let programs = sweep::programs(&exp).unwrap();
    let names: Vec<&str> = programs
        .iter()
        .flat_map(|g| g.members.iter().map(|m| m.run.as_str()))
        .collect();
    assert!(
        names.contains(&"np-b_initzero-seed0") && names.contains(&"np-b_initrandom-seed1"),
        "{names:?}"
    );
    let abs_sum = |g: &sweep::Group| {
        let t = Trainer::new(&exp, g, 200, Device::Cpu).unwrap();
        assert!(!t.fb.b.is_empty());
        t.fb.b
            .iter()
            .map(|b| b.abs().sum(tch::Kind::Double).double_value(&[]))
            .sum::<f64>()
    };
    assert_eq!(abs_sum(&programs[0]), 0.0, "np: B starts at zero");
    assert!(abs_sum(&programs[1]) > 1.0, "np: random B by default");
    assert_eq!(abs_sum(&programs[2]), 0.0, "np_dfa: D starts at zero");
    // Only rules that learn their feedback take it.
    let value: Value = serde_yaml::from_str(&yaml.replace(
        "rule: np_dfa, lr: 0.01, sigma: 0.01, solver: sgd, lr_b: 0.001",
        "rule: fa, lr: 0.01",
    ))
    .unwrap();
    let err = credit_assign::mlp::Experiment::from_value(value, "t").unwrap_err();
    assert!(format!("{err:#}").contains("b_init"), "{err:#}");
    // A short run with B at zero trains and B moves off zero (its stream is the NP fit).
    let out = tmp_dir("b-init");
    let runs = run(&yaml.replace("iterations: 1,", "iterations: 20,"), &out);
    assert!(runs.iter().all(|r| r.status == Status::Completed));
}

#[test]
fn the_command_line_search_shards_ranks_and_reruns_the_best() {
    let dir = tmp_dir("search-cli");
    let yaml = SEARCH
        .replace("SELECT", "min")
        .replace("experiment: s", "experiment: cli-search")
        .replace(
            "runs:\n  - { rule: bp, lr: 0.01 }",
            "runs:\n  - { rule: bp, lr: 0.01 }\n  - { rule: fa, lr: 0.01 }",
        );
    let config = common::write_config(&dir, "cli", &yaml);
    let out = dir.join("out");
    let search = |extra: &[&str]| {
        let status = common::credit()
            .arg("--threads")
            .arg("1")
            .arg("search")
            .arg(&config)
            .args(["--trials", "4", "--device", "cpu", "--out"])
            .arg(&out)
            .args(extra)
            .status()
            .unwrap();
        assert!(status.success(), "credit search {extra:?}");
    };
    // Two shards, then the plain command ranks without training again.
    search(&["--shard", "0/2"]);
    assert!(!out.join("cli-search/search.csv").exists());
    search(&["--shard", "1/2"]);
    search(&["--top", "2", "--seeds", "0,1"]);
    let csv = std::fs::read_to_string(out.join("cli-search/search.csv")).unwrap();
    assert_eq!(
        csv.lines().count(),
        5,
        "4 trials of bp, fa is a control:\n{csv}"
    );
    assert!(csv.starts_with(
        "label,rank,trial,lr,seeds,diverged,min_val_error,test_error_at_min_val_error\n"
    ));
    // The expanded config runs with `credit run` as the same experiment (nothing retrained).
    assert!(out.join("cli-search.yaml").exists());
    let top = std::fs::read_to_string(out.join("cli-search-top/search.csv")).unwrap();
    assert_eq!(top.lines().count(), 3, "{top}");
    assert!(
        top.lines().skip(1).all(|l| l.contains(",2,")),
        "two seeds per trial:\n{top}"
    );
    let summary = std::fs::read_to_string(out.join("cli-search-top/summary.csv")).unwrap();
    assert_eq!(
        summary.lines().count(),
        1 + 2 * 2 + 2,
        "best 2 × 2 seeds + the control × 2"
    );
    let status = common::credit()
        .args(["run"])
        .arg(out.join("cli-search.yaml"))
        .args(["--device", "cpu", "--out"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    // Another --seed is another config: refused before the expanded config is rewritten.
    let expanded = std::fs::read(out.join("cli-search.yaml")).unwrap();
    let o = common::credit()
        .arg("search")
        .arg(&config)
        .args(["--trials", "4", "--seed", "7", "--device", "cpu", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("another config") && err.contains("--fresh"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(out.join("cli-search.yaml")).unwrap(),
        expanded
    );
}
