//! Run folders cannot be clobbered: every Part 3 case of the "long runs that survive" issue,
//! each asserting the message, the exit status and what is on disk.
mod common;
use common::{credit, tmp_dir, write_config};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

fn yaml(experiment: &str, training: &str, runs: &str) -> String {
    format!(
        "experiment: {experiment}\ntask: classify\n\
         data: {{ dataset: synthetic-mnist, train_size: 500, test_size: 100 }}\n\
         network: {{ sizes: [784, 20, 10], activations: [sigmoid, identity] }}\n\
         training: {{ iterations: 40, batch_size: 10, log_every: 20, eval_every: 40, seeds: [0], {training} }}\n\
         runs:\n{runs}"
    )
}

fn run(config: &Path, out: &Path, extra: &[&str]) -> Output {
    credit()
        .args(["run", "--device", "cpu", "--out"])
        .arg(out)
        .arg(config)
        .args(extra)
        .output()
        .expect("run credit")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Refused before any training: exit 1, the message says `needles`, nothing under `out`
/// but what existed before.
fn assert_refused(dir: &Path, name: &str, text: &str, needles: &[&str]) {
    let config = write_config(dir, name, text);
    let out = dir.join(format!("out-{name}"));
    let o = run(&config, &out, &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{name}: {err}");
    assert!(!err.contains("panicked"), "{name} panicked: {err}");
    for n in needles {
        assert!(err.contains(n), "{name}: expected '{n}' in: {err}");
    }
    let written: Vec<_> = walk(&out);
    assert!(
        written.is_empty(),
        "{name}: a refused config wrote {written:?}"
    );
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

#[test]
fn runs_that_differ_only_in_a_setting_get_their_own_folders() {
    let dir = tmp_dir("folders-distinct");
    let config = write_config(
        &dir,
        "two-lr",
        &yaml(
            "two-lr",
            "",
            "  - { rule: bp, lr: 4.0e-4 }\n  - { rule: bp, lr: 1.0e-3 }\n",
        ),
    );
    let o = run(&config, &dir.join("out"), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    for run in ["bp-lr0.0004-seed0", "bp-lr0.001-seed0"] {
        assert!(
            dir.join("out/two-lr")
                .join(run)
                .join("metrics.csv")
                .exists(),
            "{run}"
        );
    }
    let summary = std::fs::read_to_string(dir.join("out/two-lr/summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 3, "{summary}");
}

#[test]
fn duplicate_runs_and_values_are_config_errors_naming_both() {
    let dir = tmp_dir("folders-duplicates");
    let same = "  - { rule: bp, lr: 4.0e-4 }\n  - { rule: bp, lr: 4.0e-4 }\n";
    assert_refused(
        &dir,
        "same-entry",
        &yaml("x", "", same),
        &["runs[0] and runs[1]", "bp-seed0"],
    );
    let seeds = yaml("x", "", "  - { rule: bp, lr: 4.0e-4, seeds: [3, 1, 3] }\n");
    assert_refused(
        &dir,
        "seeds",
        &seeds,
        &["seeds: [0] and [2] are both seed 3"],
    );
    let sweep = yaml(
        "x",
        "",
        "  - { rule: np, lr: 4.0e-4, sigma: [0.1, 0.01, 0.1], solver: ridge }\n",
    );
    assert_refused(&dir, "sweep", &sweep, &["sigma: [0] and [2] are both 0.1"]);
}

#[test]
fn names_stay_inside_out() {
    let dir = tmp_dir("folders-names");
    let bad_run = yaml("x", "", "  - { name: \"../../x\", rule: bp, lr: 4.0e-4 }\n");
    assert_refused(
        &dir,
        "run-name",
        &bad_run,
        &["name: '../../x'", "inside --out"],
    );
    let bad_exp = yaml("../escape", "", "  - { rule: bp, lr: 4.0e-4 }\n");
    assert_refused(&dir, "exp-name", &bad_exp, &["experiment: '../escape'"]);
    let dots = yaml("..", "", "  - { rule: bp, lr: 4.0e-4 }\n");
    assert_refused(&dir, "dots", &dots, &["experiment: '..'"]);
    assert!(!dir.join("x").exists() && !dir.join("escape").exists());
}

#[test]
fn bad_shapes_and_sizes_are_config_errors() {
    let dir = tmp_dir("folders-config-errors");
    let empty = yaml("x", "", "  - { rule: bp, lr: [] }\n");
    assert_refused(&dir, "empty-lr", &empty, &["lr: an empty list"]);
    let sizes = yaml(
        "x",
        "",
        "  - { rule: bp, lr: 4.0e-4, sizes: [[784, 30, 10], [700, 30, 10]] }\n",
    );
    assert_refused(
        &dir,
        "sizes",
        &sizes,
        &["runs[0].sizes[1] is [700, 30, 10]", "784 pixels in"],
    );
    let seeds: Vec<String> = (0..10_000).map(|s| s.to_string()).collect();
    let many = yaml(
        "many",
        "",
        &format!(
            "  - {{ rule: np, lr: 4.0e-4, sigma: 0.01, solver: ridge, seeds: [{}] }}\n",
            seeds.join(", ")
        ),
    );
    let needles = [
        "10000 runs in one batched program",
        "GiB",
        "training.max_members",
        "--shard",
    ];
    assert_refused(&dir, "many", &many, &needles);
}

#[test]
fn a_second_process_on_the_same_folder_fails_at_once_naming_the_holder() {
    let dir = tmp_dir("folders-lock");
    let long = yaml("locked", "", "  - { rule: bp, lr: 4.0e-4 }\n")
        .replace("iterations: 40", "iterations: 200000");
    let config = write_config(&dir, "locked", &long);
    let out = dir.join("out");
    let mut first = credit()
        .args(["run", "--device", "cpu", "--out"])
        .arg(&out)
        .arg(&config)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !out.join("locked/bp-seed0/metrics.csv.tmp").exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the first run did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let t1 = Instant::now();
    let second = run(&config, &out, &[]);
    let waited = t1.elapsed();
    first.kill().unwrap();
    first.wait().unwrap();
    let err = stderr(&second);
    assert_eq!(second.status.code(), Some(1), "{err}");
    assert!(err.contains("is being written by another process"), "{err}");
    assert!(
        err.contains(&format!("pid {}", first.id())),
        "the holder is named: {err}"
    );
    assert!(
        waited < Duration::from_secs(30),
        "it failed at once, not after waiting ({waited:?})"
    );
}

#[test]
fn another_config_into_a_folder_is_refused_unless_fresh() {
    let dir = tmp_dir("folders-other-config");
    let out = dir.join("out");
    let a = write_config(
        &dir,
        "a",
        &yaml("shared", "", "  - { rule: bp, lr: 4.0e-4 }\n"),
    );
    let b = write_config(
        &dir,
        "b",
        &yaml("shared", "", "  - { rule: fa, lr: 1.0e-3 }\n"),
    );
    assert!(run(&a, &out, &[]).status.success());
    let before = std::fs::read(out.join("shared/summary.csv")).unwrap();
    let o = run(&b, &out, &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("runs[0].rule") && err.contains("runs[0].lr"),
        "names the fields: {err}"
    );
    assert!(err.contains("--fresh"), "{err}");
    assert_eq!(
        std::fs::read(out.join("shared/summary.csv")).unwrap(),
        before,
        "nothing was touched"
    );
    assert!(!out.join("shared/fa-seed0").exists());

    let o = run(&b, &out, &["--fresh"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("shared/fa-seed0/summary.json").exists());
    assert!(
        !out.join("shared/bp-seed0").exists(),
        "--fresh left the old runs"
    );
    // The same config again: nothing is retrained, the summary is unchanged.
    let summary = std::fs::read(out.join("shared/summary.csv")).unwrap();
    let metrics = std::fs::metadata(out.join("shared/fa-seed0/metrics.csv"))
        .unwrap()
        .modified()
        .unwrap();
    assert!(run(&b, &out, &[]).status.success());
    assert_eq!(
        std::fs::read(out.join("shared/summary.csv")).unwrap(),
        summary
    );
    assert_eq!(
        std::fs::metadata(out.join("shared/fa-seed0/metrics.csv"))
            .unwrap()
            .modified()
            .unwrap(),
        metrics
    );
}

#[test]
fn an_experiment_whose_runs_all_diverge_exits_non_zero_and_says_where_they_stopped() {
    let dir = tmp_dir("folders-diverged");
    let config = write_config(
        &dir,
        "div",
        &yaml("div", "", "  - { rule: bp, lr: 1.0e+6 }\n")
            .replace("iterations: 40", "iterations: 400"),
    );
    let o = run(&config, &dir.join("out"), &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("every run of") && err.contains("diverged"),
        "{err}"
    );
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("out/div/bp-seed0/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["status"], "diverged");
    let at = summary["diverged_at"].as_u64().expect("diverged_at");
    assert_eq!(
        summary["iterations"].as_u64(),
        Some(at),
        "iterations is where it stopped"
    );
    assert!(at < 400);
    assert!(
        summary["results"]
            .as_object()
            .unwrap()
            .keys()
            .all(|k| !k.starts_with("final_")),
        "no final metric from before divergence: {summary}"
    );
    assert!(
        dir.join("out/div/summary.csv").exists(),
        "the record stays visible"
    );
    let aggregate = std::fs::read_to_string(dir.join("out/div/aggregate.csv")).unwrap();
    let header: Vec<&str> = aggregate.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|c| *c == name).unwrap();
    let rows: Vec<Vec<&str>> = aggregate
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert!(
        !rows.is_empty(),
        "the diverged condition keeps its rows: {aggregate}"
    );
    for r in &rows {
        let got = (r[col("condition")], r[col("n")], r[col("diverged")]);
        assert_eq!(got, ("bp", "0", "1"), "{aggregate}");
    }
}

#[test]
fn a_condition_whose_runs_all_diverged_stays_in_the_figure_legend() {
    let dir = tmp_dir("folders-diverged-legend");
    let runs = "  - { rule: bp, lr: 1.0e+6 }\n  - { rule: bp, lr: 0.01 }\n";
    let text = yaml("fig2-div", "", runs).replace("iterations: 40", "iterations: 400");
    let config = write_config(&dir, "fig2-div", &text);
    let o = run(&config, &dir.join("out"), &[]);
    assert!(
        o.status.success(),
        "one condition still completes: {}",
        stderr(&o)
    );
    let plot = credit()
        .arg("plot")
        .arg(dir.join("out/fig2-div"))
        .output()
        .unwrap();
    assert!(
        plot.status.success(),
        "{}",
        String::from_utf8_lossy(&plot.stderr)
    );
    let svg = std::fs::read_to_string(dir.join("out/fig2-div/fig2-div.svg")).unwrap();
    assert!(
        svg.contains("bp lr=1000000 (all 1 diverged)"),
        "the legend names it"
    );
    assert!(svg.contains("bp lr=0.01"));
}
