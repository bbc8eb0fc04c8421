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

/// Every file under `dir`, relative to it, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut all: Vec<String> = walk(dir)
        .iter()
        .map(|p| {
            p.strip_prefix(&dir.display().to_string())
                .unwrap()
                .to_string()
        })
        .collect();
    all.sort();
    all
}

#[test]
fn fresh_removes_only_what_credit_wrote_and_names_what_it_left() {
    let dir = tmp_dir("folders-fresh-keeps");
    let out = dir.join("out");
    let a = write_config(
        &dir,
        "a",
        &yaml("kept", "", "  - { rule: bp, lr: 4.0e-4 }\n"),
    );
    let b = write_config(
        &dir,
        "b",
        &yaml("kept", "", "  - { rule: fa, lr: 1.0e-3 }\n"),
    );
    assert!(run(&a, &out, &[]).status.success());
    let exp = out.join("kept");
    // A complete experiment nested inside, a user's notes, analysis and a file in a run folder.
    assert!(run(&a, &exp, &[]).status.success());
    std::fs::write(exp.join("NOTES.txt"), "mine").unwrap();
    std::fs::create_dir(exp.join("analysis")).unwrap();
    std::fs::write(exp.join("analysis/plot.ipynb"), "mine").unwrap();
    std::fs::write(exp.join("bp-seed0/remarks.md"), "mine").unwrap();
    let nested = files(&exp.join("kept"));
    let o = run(&b, &out, &["--fresh"]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    for kept in [
        "NOTES.txt",
        "analysis/plot.ipynb",
        "bp-seed0/remarks.md",
        "kept/ (an experiment of its own)",
    ] {
        assert!(err.contains(kept), "says it left {kept}: {err}");
    }
    assert_eq!(
        std::fs::read_to_string(exp.join("NOTES.txt")).unwrap(),
        "mine"
    );
    assert!(exp.join("analysis/plot.ipynb").exists());
    assert_eq!(
        files(&exp.join("kept")),
        nested,
        "the nested experiment is untouched"
    );
    let old_run: Vec<String> = files(&exp.join("bp-seed0"));
    assert_eq!(
        old_run,
        ["/remarks.md"],
        "only credit's files left the old run folder"
    );
    assert!(exp.join("fa-seed0/summary.json").exists());
}

/// Collect and status of `exp`: (collect's exit code, its stderr, status's stdout).
fn collect_and_status(exp: &Path) -> (Option<i32>, String, String) {
    let c = credit().arg("collect").arg(exp).output().unwrap();
    let s = credit().arg("status").arg(exp).output().unwrap();
    let status = String::from_utf8_lossy(&s.stdout).to_string();
    (c.status.code(), stderr(&c), status)
}

#[test]
fn collect_refuses_a_run_whose_files_disagree_and_a_rerun_trains_it_again() {
    let dir = tmp_dir("folders-damaged");
    let out = dir.join("out");
    let config = write_config(
        &dir,
        "d",
        &yaml(
            "dmg",
            "",
            "  - { rule: fa, lr: 1.0e-3, seeds: [0, 1, 2] }\n",
        ),
    );
    assert!(run(&config, &out, &[]).status.success());
    let exp = out.join("dmg");
    let pristine = dir.join("pristine");
    std::fs::rename(&exp, &pristine).unwrap();
    let restore = || {
        let _ = std::fs::remove_dir_all(&exp);
        assert!(std::process::Command::new("cp")
            .arg("-a")
            .arg(&pristine)
            .arg(&exp)
            .status()
            .unwrap()
            .success());
    };
    let cases: [(&str, &dyn Fn()); 4] = [
        ("metrics.csv", &|| {
            // Cut at a line boundary: the final iteration's last rows are gone.
            let path = exp.join("fa-seed2/metrics.csv");
            let text = std::fs::read_to_string(&path).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            std::fs::write(&path, lines[..lines.len() - 3].join("\n") + "\n").unwrap();
        }),
        ("copied from another run", &|| {
            std::fs::copy(
                exp.join("fa-seed0/summary.json"),
                exp.join("fa-seed2/summary.json"),
            )
            .unwrap();
        }),
        ("ends at iteration 20", &|| {
            let path = exp.join("fa-seed2/metrics.csv");
            let text = std::fs::read_to_string(&path).unwrap();
            let kept: String = text
                .lines()
                .filter(|l| !l.starts_with("40,"))
                .map(|l| format!("{l}\n"))
                .collect();
            std::fs::write(&path, kept).unwrap();
        }),
        ("config hash", &|| {
            std::fs::copy(
                exp.join("fa-seed0/config.yaml"),
                exp.join("fa-seed2/config.yaml"),
            )
            .unwrap();
        }),
    ];
    for (needle, damage) in cases {
        restore();
        damage();
        let (code, err, status) = collect_and_status(&exp);
        assert_eq!(code, Some(1), "{needle}: collect refused: {err}");
        assert!(
            err.contains("fa-seed2: damaged") && err.contains(needle),
            "{needle}: {err}"
        );
        assert!(status.contains("fa-seed2: damaged"), "{needle}: {status}");
        assert_eq!(common::count_state(&status, "done"), 2, "{status}");
    }
    // The same command trains the damaged run again, and collect then takes all three.
    let o = run(&config, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("fa-seed2: config.yaml"),
        "{}",
        stderr(&o)
    );
    let (code, err, _) = collect_and_status(&exp);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        std::fs::read(exp.join("fa-seed2/metrics.csv")).unwrap(),
        std::fs::read(pristine.join("fa-seed2/metrics.csv")).unwrap(),
        "retrained to the same bytes"
    );
}

#[test]
fn publish_onto_itself_is_refused_and_touches_nothing() {
    let dir = tmp_dir("folders-publish-self");
    let out = dir.join("results");
    let config = write_config(
        &dir,
        "p",
        &yaml("fig2-pub", "", "  - { rule: bp, lr: 4.0e-4 }\n"),
    );
    assert!(run(&config, &out, &[]).status.success());
    let before: Vec<(String, Vec<u8>)> = files(&out.join("fig2-pub"))
        .into_iter()
        .filter(|f| !f.starts_with("/locks"))
        .map(|f| {
            let bytes = std::fs::read(format!("{}{f}", out.join("fig2-pub").display())).unwrap();
            (f, bytes)
        })
        .collect();
    let o = credit()
        .arg("publish")
        .arg(out.join("fig2-pub"))
        .arg("--to")
        .arg(&out)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("onto itself") && err.contains("--to"), "{err}");
    for (f, bytes) in before {
        let now = std::fs::read(format!("{}{f}", out.join("fig2-pub").display())).unwrap();
        assert_eq!(now, bytes, "{f} was touched");
    }
}

#[test]
fn a_truncated_aggregate_is_rebuilt_from_the_runs_or_refused_without_them() {
    let dir = tmp_dir("folders-aggregate-cut");
    let out = dir.join("out");
    let runs = "  - { rule: bp, lr: 4.0e-4 }\n  - { rule: fa, lr: 1.0e-3 }\n";
    let config = write_config(&dir, "t", &yaml("fig2-cut", "", runs));
    assert!(run(&config, &out, &[]).status.success());
    let exp = out.join("fig2-cut");
    let whole = std::fs::read_to_string(exp.join("aggregate.csv")).unwrap();
    // Cut at a row boundary, inside the first condition's curves: the file still parses.
    let cut: String = whole.lines().take(4).map(|l| format!("{l}\n")).collect();
    std::fs::write(exp.join("aggregate.csv"), &cut).unwrap();
    let plot = |d: &Path| credit().arg("plot").arg(d).output().unwrap();
    let o = plot(&exp);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(exp.join("aggregate.csv")).unwrap(),
        whole
    );
    // A published experiment has no run folders to aggregate again: refused, named.
    let published = dir.join("published/fig2-cut");
    std::fs::create_dir_all(&published).unwrap();
    for f in ["summary.csv", "experiment.yaml"] {
        std::fs::copy(exp.join(f), published.join(f)).unwrap();
    }
    std::fs::write(published.join("aggregate.csv"), &cut).unwrap();
    let o = plot(&published);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("aggregate.csv is incomplete"), "{err}");
    assert!(!published.join("fig2-cut.svg").exists());
}
