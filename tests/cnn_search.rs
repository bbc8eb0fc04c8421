//! `credit search` on `kind: cnn`: the shipped Table 1 searches expand to the authors' 30
//! trials with the paired DFA control; errors name the field; trials are ranked on the best
//! validation accuracy, highest first; a search run in shards ranks as one process does;
//! `--top` reruns the best trials with more seeds.
mod common;
use common::{credit, tmp_dir, write_config};
use credit_assign::cnn::config::{CnnConfig, Protocol, Trial};
use credit_assign::cnn::rules::Rule;
use credit_assign::cnn::search;
use credit_assign::config::load_value;
use credit_assign::output::{RunSummary, Status};
use std::collections::BTreeMap;
use std::path::Path;

fn shipped(name: &str, quick: bool) -> search::Expanded {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("configs")
        .join(name);
    let value = load_value(&path, quick).unwrap();
    search::expand(value, None, 0, name).unwrap_or_else(|e| panic!("{name}: {e:#}"))
}

fn trials_of(cfg: &CnnConfig, rule: Rule) -> Vec<&Trial> {
    cfg.trials.iter().filter(|t| t.rule == rule).collect()
}

#[test]
fn shipped_table1_searches_draw_the_authors_30_trials_and_a_paired_dfa_control() {
    for (name, batch, epochs) in [
        ("table1-cifar10-search.yaml", 128, 200),
        ("table1-cifar100-search.yaml", 64, 100),
    ] {
        let ex = shipped(name, false);
        let cfg = &ex.cfg;
        assert_eq!(ex.trials, 30, "{name}");
        assert_eq!(cfg.protocol, Protocol::Validation, "{name}");
        assert!(cfg.rules.is_empty(), "{name}: both rules are searched");
        let (np, dfa) = (trials_of(cfg, Rule::NpDfa), trials_of(cfg, Rule::Dfa));
        assert_eq!((np.len(), dfa.len()), (30, 30), "{name}");
        let inside = |v: f64, lo: f64, hi: f64| (lo..=hi).contains(&v);
        for (t, (n, d)) in np.iter().zip(&dfa).enumerate() {
            let s = &n.settings;
            assert_eq!((n.trial, d.trial), (t as u64, t as u64));
            assert!(inside(s.lr, 1e-6, 1e-3), "{name} trial {t}: lr {}", s.lr);
            assert!(inside(s.sigma.unwrap(), 1e-4, 1e-1), "{name} trial {t}: σ");
            assert!(inside(s.beta.unwrap(), 1e-6, 1e-3), "{name} trial {t}: β");
            // The control is the same trial with D fixed: the same lr draw.
            assert_eq!(
                d.settings.lr, s.lr,
                "{name} trial {t}: dfa's lr is np_dfa's"
            );
            assert_eq!(
                (s.batch, s.epochs),
                (batch, epochs),
                "{name}: kept settings"
            );
            assert_eq!(s.adam_eps, 1e-5, "{name}");
            assert_eq!(d.settings.beta, None, "{name}: dfa has no β");
        }
        // The draws spread over the ranges (30 log-uniform draws over 3 decades).
        let logs: Vec<f64> = np.iter().map(|t| t.settings.lr.log10()).collect();
        let (lo, hi) = logs
            .iter()
            .fold((0.0f64, -9.0f64), |(a, b), &x| (a.min(x), b.max(x)));
        assert!(
            lo < -5.0 && hi > -4.0,
            "{name}: lr draws span 10^{lo:.2}..10^{hi:.2}"
        );
        if name.contains("cifar100") {
            assert!(np
                .iter()
                .all(|t| t.settings.fixed_d_blocks == Some(vec![4])));
        }
        let runs = cfg.runs();
        assert_eq!(runs.len(), 60);
        assert!(runs.iter().any(|r| r.name == "np_dfa-t07-seed1"));
        // Reproducible, and --quick is a small search of the same kind.
        assert_eq!(shipped(name, false).cfg, ex.cfg);
        let quick = shipped(name, true);
        assert_eq!(
            quick.cfg.trials.len(),
            8,
            "{name} --quick: 4 trials × 2 rules"
        );
        assert!(quick.cfg.experiment.ends_with("-quick"));
    }
}

const TINY: &str = r#"
kind: cnn
experiment: tiny-search
dataset: synthetic-cifar
protocol: validation
validation: 200
train_images: 400
test_images: 200
seeds: [3]
network:
  activation: tanh
  blocks:
    - conv: {channels: 4, kernel: 3}
    - fc: {units: 16, dropout: 0.1}
rules:
  bp: {lr: 2.0e-3, batch: 50, epochs: 1}
  dfa: {lr: 1.0e-3, batch: 50, epochs: 2}
  np_dfa: {lr: 1.0e-3, batch: 50, epochs: 2, sigma: 0.05, beta: 1.0e-4}
search:
  trials: 3
  metric: val_accuracy
  params:
    rules.np_dfa.lr: { log_uniform: [1.0e-4, 1.0e-2] }
    rules.np_dfa.sigma: { log_uniform: [1.0e-3, 1.0e-1] }
    rules.np_dfa.beta: { log_uniform: [1.0e-5, 1.0e-3] }
    rules.dfa.lr: { log_uniform: [1.0e-4, 1.0e-2] }
"#;

fn expand_err(yaml: &str) -> String {
    let value = serde_yaml::from_str(yaml).unwrap();
    match search::expand(value, None, 0, "t.yaml") {
        Ok(_) => panic!("expected an error for:\n{yaml}"),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn bad_search_blocks_are_refused_naming_the_field_and_the_fix() {
    let e = expand_err(&TINY.replace("protocol: validation\nvalidation: 200", "protocol: paper"));
    assert!(e.contains("protocol: validation"), "{e}");
    let e = expand_err(&TINY.replace("rules.dfa.lr:", "rules.np.lr:"));
    assert!(
        e.contains("search.params.rules.np.lr") && e.contains("not a CNN rule"),
        "{e}"
    );
    let e = expand_err(
        &TINY
            .replace("  bp: {lr: 2.0e-3, batch: 50, epochs: 1}\n", "")
            .replace("rules.dfa.lr:", "rules.bp.lr:"),
    );
    assert!(e.contains("no rules.bp"), "{e}");
    let e = expand_err(&TINY.replace("rules.dfa.lr:", "dfa.lr:"));
    assert!(
        e.contains("search.params.dfa.lr") && e.contains("rules.np_dfa.lr"),
        "{e}"
    );
    let e = expand_err(&TINY.replace("metric: val_accuracy", "metric: val_loss"));
    assert!(
        e.contains("search.metric") && e.contains("val_accuracy"),
        "{e}"
    );
    let e = expand_err(&TINY.replace(
        "[1.0e-4, 1.0e-2] }\n    rules.np_dfa.sigma",
        "[0.0, 1.0e-2] }\n    rules.np_dfa.sigma",
    ));
    assert!(
        e.contains("rules.np_dfa.lr") && e.contains("positive"),
        "{e}"
    );
    // `credit run` on a search config says to use `credit search`.
    let dir = tmp_dir("cnn_search_run_refused");
    let path = write_config(&dir, "s", TINY);
    let out = credit().args(["run"]).arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("credit search"),
        "{stderr}"
    );
}

fn summary(trial: u64, val: f64, test: f64, status: Status) -> RunSummary {
    RunSummary {
        experiment: "s".into(),
        run: format!("np_dfa-t{trial:02}-seed1"),
        rule: "np_dfa".into(),
        condition: "np_dfa".into(),
        seed: 1,
        status,
        diverged_at: None,
        iterations: 10,
        seconds: 1.0,
        device: "cpu".into(),
        engine: "torch".into(),
        params: BTreeMap::from([("trial".to_string(), trial as f64)]),
        results: BTreeMap::from([
            ("best_val_accuracy".to_string(), val),
            ("test_accuracy_at_best_val".to_string(), test),
        ]),
    }
}

#[test]
fn trials_rank_on_validation_accuracy_highest_first_never_on_test() {
    // Trial 2 is best on validation, trial 0 on test: selection must take trial 2.
    let runs = [
        summary(0, 0.50, 0.90, Status::Completed),
        summary(1, 0.60, 0.40, Status::Completed),
        summary(2, 0.70, 0.30, Status::Completed),
        summary(3, 0.99, 0.99, Status::Diverged),
    ];
    let ranked =
        credit_assign::search::rank(&search::ranking(), &runs, |_, _| BTreeMap::new()).unwrap();
    let order: Vec<u64> = ranked.iter().map(|r| r.trial).collect();
    assert_eq!(
        order,
        [2, 1, 0, 3],
        "best validation first, the diverged trial last"
    );
    assert_eq!(ranked[0].rank, 1);
    assert_eq!(
        ranked[0].test, 0.30,
        "the test value of the selected trial, as it is"
    );
    assert!(ranked[3].val.is_nan() && ranked[3].diverged == 1);
}

/// search.csv as rows of fields.
fn search_csv(dir: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(dir.join("search.csv")).unwrap();
    let header = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            header
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.into(), v.into()))
                .collect()
        })
        .collect()
}

fn run_dir_result(dir: &Path, run: &str, key: &str) -> f64 {
    let text = std::fs::read_to_string(dir.join(run).join("summary.json")).unwrap();
    let s: RunSummary = serde_json::from_str(&text).unwrap();
    s.results[key]
}

#[test]
fn a_cnn_search_trains_ranks_shards_and_reruns_the_best() {
    let dir = tmp_dir("cnn_search_e2e");
    let path = write_config(&dir, "tiny-search", TINY);
    let search = |out: &str, extra: &[&str]| {
        let o = credit()
            .args(["--threads", "1", "search"])
            .arg(&path)
            .args(["--device", "cpu", "--out"])
            .arg(dir.join(out))
            .args(extra)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(o.status.success(), "credit search {extra:?}: {stderr}");
        stderr
    };
    search("one", &[]);
    let exp = dir.join("one/tiny-search");
    let rows = search_csv(&exp);
    assert_eq!(rows.len(), 6, "3 np_dfa + 3 dfa trials: {rows:?}");
    for label in ["np_dfa", "dfa"] {
        let mine: Vec<_> = rows.iter().filter(|r| r["label"] == label).collect();
        assert_eq!(mine.len(), 3);
        // The row ranked 1 has the highest best_val_accuracy of the trials' own summaries.
        let val =
            |t: &str| run_dir_result(&exp, &format!("{label}-t0{t}-seed3"), "best_val_accuracy");
        let best = (0..3).map(|t| val(&t.to_string())).fold(f64::MIN, f64::max);
        assert_eq!(mine[0]["rank"], "1");
        assert_eq!(
            val(&mine[0]["trial"]),
            best,
            "{label}: rank 1 is the best on validation"
        );
        assert!(mine.windows(2).all(|w| {
            w[0]["best_val_accuracy"].parse::<f64>().unwrap()
                >= w[1]["best_val_accuracy"].parse::<f64>().unwrap()
        }));
    }
    assert!(rows.iter().all(|r| !r["lr"].is_empty()));
    assert!(rows
        .iter()
        .filter(|r| r["label"] == "np_dfa")
        .all(|r| !r["sigma"].is_empty()));
    // The control is not searched: it runs once, as it is.
    assert!(exp.join("bp-seed3/summary.json").exists());
    // The expanded config is an ordinary CNN config.
    let expanded = dir.join("one/tiny-search.yaml");
    let cfg = CnnConfig::resolve(load_value(&expanded, false).unwrap(), false).unwrap();
    assert_eq!(cfg.trials.len(), 6);

    // Two shards, then a pass without --shard that ranks (and trains nothing): same ranking.
    let s0 = search("shards", &["--shard", "0/2"]);
    assert!(s0.contains("rerun without --shard"), "{s0}");
    assert!(!dir.join("shards/tiny-search/search.csv").exists());
    search("shards", &["--shard", "1/2"]);
    let metrics = dir.join("shards/tiny-search/np_dfa-t00-seed3/metrics.csv");
    let written = std::fs::metadata(&metrics).unwrap().modified().unwrap();
    search("shards", &[]);
    let again = std::fs::metadata(&metrics).unwrap().modified().unwrap();
    assert_eq!(written, again, "the ranking pass retrained a run");
    assert_eq!(
        std::fs::read_to_string(dir.join("shards/tiny-search/search.csv")).unwrap(),
        std::fs::read_to_string(exp.join("search.csv")).unwrap(),
        "a sharded search ranks as one process does"
    );

    // --jobs 2: the trials as two local processes, the same ranking.
    search("jobs", &["--jobs", "2"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("jobs/tiny-search/search.csv")).unwrap(),
        std::fs::read_to_string(exp.join("search.csv")).unwrap(),
        "a search in --jobs 2 ranks as one process does"
    );

    // --top 1 --seeds 3,4: the best trial of each rule (and the control) with two seeds.
    search("one", &["--top", "1", "--seeds", "3,4"]);
    let top = search_csv(&dir.join("one/tiny-search-top"));
    assert_eq!(top.len(), 2, "{top:?}");
    assert!(top.iter().all(|r| r["seeds"] == "2" && r["rank"] == "1"));
    for r in &top {
        let first = rows
            .iter()
            .find(|x| x["label"] == r["label"] && x["rank"] == "1")
            .unwrap();
        assert_eq!(r["trial"], first["trial"], "the rerun is of the best trial");
    }
    assert!(dir
        .join("one/tiny-search-top/bp-seed4/summary.json")
        .exists());
}
