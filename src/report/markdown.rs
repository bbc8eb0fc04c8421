//! `results/REPORT.md`: for each figure, our numbers beside the paper's, with the difference,
//! the config and commit, the run length, and the drawn figures.
use super::aggregate::result_stats;
use super::alignment;
use super::fig2_curves;
use super::fig4_seeds;
use super::figure::Figure;
use super::figures::table1::{accuracy_rows, count_note, mean_pm_se};
use super::figures::{display, theory, Results};
use super::md::{md_table, signed, stat_cell};
use super::paper;
use super::read::{read_summary, RunRow};
use super::theme::tick;
use super::versus::{versus_paper, Beside, Published};
use crate::output::write_atomic;
use anyhow::{Context, Result};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One experiment to report on.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportEntry {
    /// Folder name under the results root, e.g. `fig2-quick`; its prefix names the figure.
    pub experiment: String,
    /// The config that produced it, e.g. `configs/fig2-quick.yaml`.
    pub config: PathBuf,
    /// Which protocol was run: the config's own, its `--quick` form, or a subset.
    pub mode: Mode,
    /// Why the experiment was not run (e.g. "CIFAR-10 is not downloaded: run
    /// `credit data fetch cifar10`"); `None` when it ran.
    pub skipped: Option<String>,
}

/// What an experiment ran, for the report's headings.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// One of a figure's configs, as written.
    Full,
    /// A figure's config with its `quick:` block (minutes on 2 CPU cores).
    Quick,
    /// An experiment of a config outside the figure's list (e.g. `fig3-official-200k`, a
    /// shorter run of `fig3-official`): its description, which says what was left out.
    Subset(String),
}

impl Mode {
    fn label(&self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Quick => "quick",
            Mode::Subset(_) => "subset",
        }
    }

    fn line(&self) -> String {
        match self {
            Mode::Full => "full protocol".into(),
            Mode::Quick => "quick (shortened protocol: compare trends, not digits)".into(),
            Mode::Subset(what) => {
                format!("**a subset of the protocol**, not the paper's length or seeds: {what}")
            }
        }
    }
}

/// Write `results_root/REPORT.md` for `entries`, in their order. Returns its path.
pub fn write_report(results_root: &Path, entries: &[ReportEntry]) -> Result<PathBuf> {
    let mut md = String::new();
    md.push_str("# Reproduction report: Lansdell, Prakash & Kording, ICLR 2020\n\n");
    md.push_str(
        "Our numbers beside the paper's. Ours are mean ± s.e. over seeds of the completed \
         runs; diverged runs are left out and counted. Everything here is read from the CSV \
         files under this folder (format: docs/REPORTING.md).",
    );
    let _ = writeln!(md, " {}\n", paper::SOURCES);
    let _ = writeln!(md, "Commit at report time: {}\n", git_commit(results_root));
    md.push_str("| figure | experiment | mode | status |\n|---|---|---|---|\n");
    for e in entries {
        let figure = Figure::from_experiment(&e.experiment)
            .map(|f| f.id().to_string())
            .unwrap_or_else(|_| "?".into());
        let status = match &e.skipped {
            Some(reason) => format!("skipped: {reason}"),
            None if results_root
                .join(&e.experiment)
                .join("summary.csv")
                .exists() =>
            {
                "reported".to_string()
            }
            None => "no results".to_string(),
        };
        let _ = writeln!(
            md,
            "| {figure} | `{}` | {} | {status} |",
            e.experiment,
            e.mode.label()
        );
    }
    for e in entries {
        md.push('\n');
        md.push_str(&section(results_root, e)?);
    }
    let path = results_root.join("REPORT.md");
    write_atomic(&path, md.as_bytes())?;
    Ok(path)
}

/// The short commit of the repository holding `dir`, or why there is none.
fn git_commit(dir: &Path) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(commit) if !commit.is_empty() => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("`{commit}` (with uncommitted changes)")
            } else {
                format!("`{commit}`")
            }
        }
        _ => "unknown (not a git checkout, or git is not installed)".to_string(),
    }
}

fn section(root: &Path, e: &ReportEntry) -> Result<String> {
    let exp_dir = root.join(&e.experiment);
    let figure = Figure::from_experiment(&e.experiment)?;
    let mut md = format!("## {} — `{}`\n\n", figure.title(), e.experiment);
    let _ = writeln!(md, "- Config: `{}`", e.config.display());
    let _ = writeln!(md, "- Mode: {}", e.mode.line());
    if let Some(reason) = &e.skipped {
        let _ = writeln!(md, "- **Skipped:** {reason}");
        return Ok(md);
    }
    if !exp_dir.join("summary.csv").exists() {
        let _ = writeln!(
            md,
            "- **No results:** {} is missing; run `credit run {}`.",
            exp_dir.join("summary.csv").display(),
            e.config.display()
        );
        return Ok(md);
    }
    let runs = read_summary(&exp_dir)?;
    md.push_str(&run_lines(&runs));
    let published = match e.mode {
        Mode::Quick => Published::of_config(&e.config),
        _ => Ok(None),
    };
    if e.mode == Mode::Quick {
        md.push_str(&published_line(&published, &e.config));
    }
    let published = published.ok().flatten();
    let beside = match e.mode {
        Mode::Full => Beside::Paper { percent: true },
        Mode::Subset(_) => Beside::Paper { percent: false },
        Mode::Quick => Beside::Published(published.as_ref()),
    };
    md.push_str(&figure_links(&exp_dir, &e.experiment)?);
    md.push('\n');
    let table = match figure {
        Figure::Fig2 => fig2_table(&Results::load(&exp_dir)?, &exp_dir, &beside),
        Figure::Fig3 => fig3_table(&runs, &beside),
        Figure::Fig4 => fig4_table(&Results::load(&exp_dir)?, &exp_dir, &beside),
        Figure::Theory => theory_table(&Results::load(&exp_dir)?, &beside),
        Figure::Table1 => table1_table(&Results::load(&exp_dir)?, &exp_dir, &e.experiment, &beside),
        Figure::Peers | Figure::Rules => {
            super::peers::table(&Results::load(&exp_dir)?, &e.experiment)
        }
    };
    md.push_str(&table);
    Ok(md)
}

/// A quick section's line on the published full-length result it is set beside.
fn published_line(published: &anyhow::Result<Option<Published>>, config: &Path) -> String {
    match published {
        Ok(Some(p)) => format!(
            "- Beside it: the published full-length result of the same config (`{}`) and the \
             paper's number. A quick run is too short to compare with the paper: the \
             difference shown is the published run's.\n",
            p.dir.display()
        ),
        Ok(None) => format!(
            "- No full-length result of `{}` is published in this checkout's results/: the \
             quick run is shown beside the paper's number without a difference, which would \
             mean nothing at this length.\n",
            config.display()
        ),
        Err(e) => format!("- The published full-length result could not be read: {e:#}\n"),
    }
}

fn run_lines(runs: &[RunRow]) -> String {
    let diverged = runs.iter().filter(|r| !r.completed()).count();
    let iters: BTreeSet<u64> = runs.iter().map(|r| r.iterations).collect();
    let iterations = match (iters.first(), iters.last()) {
        (Some(a), Some(b)) if a == b => format!("{a} iterations each"),
        (Some(a), Some(b)) => format!("{a}–{b} iterations"),
        _ => String::new(),
    };
    let seconds: f64 = runs.iter().map(|r| r.seconds).sum();
    let devices: BTreeSet<&str> = runs.iter().map(|r| r.device.as_str()).collect();
    format!(
        "- Runs: {} ({} completed, {diverged} diverged), {iterations}, {seconds:.0} s of run time in total, on {}\n",
        runs.len(),
        runs.len() - diverged,
        devices.into_iter().collect::<Vec<_>>().join(", ")
    )
}

fn figure_links(exp_dir: &Path, experiment: &str) -> Result<String> {
    let mut stems: Vec<String> = std::fs::read_dir(exp_dir)
        .with_context(|| format!("listing {}", exp_dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.starts_with(experiment) && n.ends_with(".png"))
        .map(|n| n.trim_end_matches(".png").to_string())
        .collect();
    stems.sort();
    if stems.is_empty() {
        return Ok(format!(
            "- Figures: none drawn yet; run `credit plot {}`\n",
            exp_dir.display()
        ));
    }
    let mut md = String::from("- Figures:\n\n");
    for stem in stems {
        let _ = write!(md, "  ![{stem}]({experiment}/{stem}.png)");
        if exp_dir.join(format!("{stem}.svg")).exists() {
            let _ = write!(md, " ([SVG]({experiment}/{stem}.svg))");
        }
        md.push_str("\n\n");
    }
    Ok(md)
}

fn fig2_table(results: &Results, exp_dir: &Path, beside: &Beside) -> String {
    let rows = versus_paper(
        &results.runs,
        beside,
        &paper::FIG2_FINAL_TEST_ERROR,
        "final_test_error",
        100.0,
        2,
    );
    let noisy_of = |r: &Results, c: &str| {
        let c = r
            .conditions
            .iter()
            .find(|rc| paper::same_condition(rc, c))?;
        r.final_value(c, "test_error_noisy", None)
            .filter(|s| s.n > 0)
    };
    let noisy = |c: &Option<String>| c.as_ref().and_then(|c| noisy_of(results, c));
    let any_noisy = rows.iter().any(|(c, _, _)| noisy(c).is_some());
    let mut header = vec!["condition".to_string()];
    header.extend(beside.header("final test error", " (%)"));
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|(c, paper_value, cells)| {
            let mut cells = cells.clone();
            if any_noisy {
                let n = noisy(c);
                cells.push(stat_cell(n, 100.0, 2));
                cells.push(match (beside, c) {
                    (Beside::Published(_), Some(c)) => {
                        stat_cell(beside.published().and_then(|p| noisy_of(p, c)), 100.0, 2)
                    }
                    (Beside::Published(_), None) => "—".to_string(),
                    (Beside::Paper { .. }, _) => match (n, paper_value) {
                        (Some(n), Some(p)) => signed(n.mean * 100.0 - p, 2),
                        _ => "—".to_string(),
                    },
                });
            }
            cells
        })
        .collect();
    if any_noisy {
        match beside {
            Beside::Paper { .. } => {
                header.push("ours: noisy output (%)".into());
                header.push("noisy − paper (pp)".into());
            }
            Beside::Published(_) => {
                header.push("ours, quick: noisy output (%)".into());
                header.push("published: noisy output (%)".into());
            }
        }
    }
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut md = md_table(&header, &rows);
    let _ = writeln!(md, "\nThe paper's text says \"close to 3%\".");
    if any_noisy {
        let _ = writeln!(md, "\n{}", paper::FIG2_NOISY_NOTE_WITH_COLUMN);
    } else {
        let _ = writeln!(md, "\n{}", paper::FIG2_NOISY_NOTE);
    }
    if fitted_b_by_sgd(results, exp_dir) {
        let _ = writeln!(md, "\n{}", paper::FIG2_SGD_NOTE);
    }
    if let Some(note) = data_split_note(results, exp_dir) {
        let _ = writeln!(md, "\n{note}");
    }
    // The BP gap is a full-length finding: a quick report states the published run's.
    let bp_runs = match beside {
        Beside::Paper { .. } => Some((&results.runs, "Ours")),
        Beside::Published(_) => (beside.published()).map(|p| (&p.runs, "Our published run")),
    };
    if let Some(note) = bp_runs.and_then(|(runs, whose)| bp_gap_note(runs, whose)) {
        let _ = writeln!(md, "\n{note}");
    }
    md.push_str(&fig2_curves::table(results).unwrap_or_default());
    md.push_str(&alignment::fig2_alignment(results));
    md
}

/// Which MNIST training images the runs trained on (from a run's config.yaml), against the
/// authors' code, which trained on images 5,000 onward (TF's `read_data_sets`).
fn data_split_note(results: &Results, exp_dir: &Path) -> Option<String> {
    let run = results.runs.first()?;
    let data = &run_config(exp_dir, &run.run)?["data"];
    if data["dataset"].as_str() != Some("mnist") {
        return None;
    }
    let ours = match (
        data["validation"].as_u64(),
        data["holdout"].as_str(),
        data["train_size"].as_u64(),
    ) {
        (Some(v), None | Some("first"), _) => {
            format!("images {v} onward of the training file, the first {v} held out for validation: as the authors' code")
        }
        (Some(v), Some(_), _) => {
            format!("the training file less its last {v} images (held out for validation)")
        }
        (None, _, Some(n)) => format!("the first {n} images of the training file, none held out"),
        (None, _, None) => "all 60,000 images of the training file".to_string(),
    };
    Some(format!(
        "**Data.** These runs trained on {ours}. The authors' code trained on images \
         5,000–59,999 (TF's `read_data_sets` holds out the first 5,000); the test set is the \
         same 10,000 images."
    ))
}

/// Where our BP lands more than 2 s.e. (or, with one seed, 0.3 points) from the paper's;
/// `whose` names the runs (`Ours`).
fn bp_gap_note(runs: &[RunRow], whose: &str) -> Option<String> {
    let (_, paper_bp) = paper::FIG2_FINAL_TEST_ERROR
        .iter()
        .find(|(c, _)| *c == "bp")?;
    let s = result_stats(runs, "bp", "final_test_error", 100.0).stats;
    let gap = s.mean - paper_bp;
    let clear = if s.n > 1 {
        gap.abs() > 2.0 * s.se
    } else {
        gap.abs() > 0.3
    };
    (s.n > 0 && clear).then(|| {
        format!(
            "**BP.** {whose} is {} points {} the paper's {paper_bp}%, with the authors' own BP \
             settings (`configs/sf.json`, `backprop4_small`: SGD lr 4e-4, batch 32, MSE summed \
             over the batch, the same network and init). We know of no difference in \
             the protocol that explains it.",
            signed(gap.abs(), 2).trim_start_matches('+'),
            if gap > 0.0 { "above" } else { "below" },
        )
    })
}

/// Whether any np run of the experiment fitted B by SGD (`solver: sgd` in its config.yaml),
/// as `configs/fig2.yaml` (the paper's text) does.
fn fitted_b_by_sgd(results: &Results, exp_dir: &Path) -> bool {
    fn has_sgd_solver(v: &serde_yaml::Value) -> bool {
        match v {
            serde_yaml::Value::Mapping(m) => m.iter().any(|(k, v)| {
                (k.as_str() == Some("solver") && v.as_str() == Some("sgd")) || has_sgd_solver(v)
            }),
            serde_yaml::Value::Sequence(s) => s.iter().any(has_sgd_solver),
            _ => false,
        }
    }
    (results.runs.iter())
        .filter(|r| r.rule == "np")
        .any(|r| run_config(exp_dir, &r.run).is_some_and(|v| has_sgd_solver(&v)))
}

/// A run's resolved config.yaml, or, where its folder is not there (a published experiment
/// in a clone: runs.tar.xz holds it), the experiment's experiment.yaml.
fn run_config(exp_dir: &Path, run: &str) -> Option<serde_yaml::Value> {
    match std::fs::read_to_string(exp_dir.join(run).join("config.yaml")) {
        Ok(text) => serde_yaml::from_str(&text).ok(),
        Err(_) => crate::folder::read_manifest(exp_dir).ok().flatten(),
    }
}

fn fig3_table(runs: &[RunRow], beside: &Beside) -> String {
    let rows: Vec<Vec<String>> = versus_paper(
        runs,
        beside,
        &paper::FIG3_MIN_TEST_LOSS,
        "min_test_loss",
        1.0,
        1,
    )
    .into_iter()
    .map(|(_, _, row)| row)
    .collect();
    let mut header = vec!["method".to_string()];
    header.extend(beside.header("min test loss", ""));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut md = md_table(&header, &rows);
    md.push_str("\nLoss unit: ½ Σ over a batch of 32 of ‖x̂ − x‖², averaged over test batches.\n");
    md
}

fn fig4_table(results: &Results, exp_dir: &Path, beside: &Beside) -> String {
    let layers: Vec<u32> = results.layers("rel_err").into_iter().flatten().collect();
    let (Some(&top), Some(&low)) = (layers.last(), layers.first()) else {
        return "No per-layer `rel_err` was logged, so there is nothing to compare.\n".into();
    };
    // The paper's "about 0.8%" is one rough number: a relative difference would overstate it.
    let beside = match beside {
        Beside::Paper { .. } => &Beside::Paper { percent: false },
        quick => quick,
    };
    let target = paper::FIG4_TOP_REL_ERR_PERCENT;
    let top_err = |r: &Results, c: &str| {
        let s = r.final_value(c, "rel_err", Some(top)).filter(|s| s.n > 0);
        (stat_cell(s, 100.0, 2), s.map(|s| s.mean * 100.0))
    };
    let rows: Vec<Vec<String>> = results
        .conditions
        .iter()
        .map(|c| {
            let published = beside.published().map(|p| {
                match p.conditions.iter().find(|pc| paper::same_condition(pc, c)) {
                    Some(pc) => top_err(p, pc),
                    None => ("not run".to_string(), None),
                }
            });
            let mut row = vec![display(c)];
            row.extend(beside.cells(
                top_err(results, c),
                published,
                Some((format!("≈{target}"), target)),
                2,
            ));
            row.push(stat_cell(
                results.final_value(c, "angle_paper", Some(low)),
                1.0,
                1,
            ));
            row
        })
        .collect();
    let mut header = vec!["condition".to_string()];
    header.extend(beside.header(&format!("final rel. error of B{top}"), " (%)"));
    header.push(format!(
        "ours: final angle of B{low} (°; paper: close to 0)"
    ));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut md = md_table(&header, &rows);
    md.push_str(
        "\nThe paper gives one number for the top feedback matrix and does not say at which σ.\n",
    );
    let seeds = (results.conditions.first()).map_or(0, |c| {
        results.runs.iter().filter(|r| &r.condition == c).count()
    });
    let ours = match init_seed(exp_dir) {
        Some(seed) => format!(
            "Ours run every σ on one W (`training.init_seed: {seed}`), {seeds} times with fresh \
             noise and data order, as their notebook's runs did."
        ),
        None => "Ours give every σ the same 3 Ws (one per seed).".to_string(),
    };
    let _ = writeln!(md, "\n{} {ours}", paper::FIG4_CODE_NOTE);
    md.push_str(&fig4_seeds::section(results, exp_dir, top));
    md
}

/// `training.init_seed` of the experiment's `experiment.yaml`: set when every seed trains the
/// same initial W.
fn init_seed(exp_dir: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(exp_dir.join("experiment.yaml")).ok()?;
    let value: serde_yaml::Value = serde_yaml::from_str(&text).ok()?;
    value.get("training")?.get("init_seed")?.as_u64()
}

fn theory_table(results: &Results, beside: &Beside) -> String {
    let cell = |mean: f64, se: f64| {
        if se.is_finite() {
            format!("{mean:.3e} ± {se:.1e}")
        } else {
            format!("{mean:.3e}")
        }
    };
    let published = beside.published().map(theory::lines);
    let rows: Vec<Vec<String>> = theory::lines(results)
        .into_iter()
        .flat_map(|((rule, layer), points)| {
            let published = published.as_ref().map(|p| p.get(&(rule.clone(), layer)));
            points.into_iter().map(move |(sigma, mean, se)| {
                let mut row = vec![rule.clone(), layer.to_string(), tick(sigma), cell(mean, se)];
                if let Some(p) = published {
                    let at_sigma = p.and_then(|p| p.iter().find(|(s, _, _)| *s == sigma));
                    row.push(at_sigma.map_or("not run".into(), |(_, m, e)| cell(*m, *e)));
                }
                row
            })
        })
        .collect();
    let mut header = vec!["rule", "layer", "σ", "final relative error"];
    if let Beside::Published(p) = beside {
        header[3] = "ours, quick: final relative error";
        header.push(if p.is_some() {
            "published, full length"
        } else {
            "published: none"
        });
    }
    let mut md = md_table(&header, &rows);
    md.push_str(
        "\nThe paper has no numbers here: Theorem 2 and Corollary 1 predict the error of every \
         B (rule np) and D (rule np_dfa) falls toward 0 as σ → 0.\n",
    );
    md
}

fn table1_table(results: &Results, exp_dir: &Path, experiment: &str, beside: &Beside) -> String {
    let (dataset, paper_values) = if experiment.contains("cifar100") {
        ("CIFAR-100", paper::TABLE1_CIFAR100)
    } else {
        ("CIFAR-10", paper::TABLE1_CIFAR10)
    };
    // Table 1's numbers are whole percents: a relative difference would add nothing.
    let beside = match beside {
        Beside::Paper { .. } => &Beside::Paper { percent: false },
        quick => quick,
    };
    let max_test = |s: &crate::report::aggregate::ResultStats| {
        let mean = (s.stats.n > 0).then_some(s.stats.mean);
        (format!("{} {}", mean_pm_se(s, 2), count_note(s)), mean)
    };
    let published_rows = beside.published().map(accuracy_rows);
    let published = |condition: &str| {
        let rows = published_rows.as_ref()?;
        let row = rows
            .iter()
            .find(|r| paper::same_condition(&r.condition, condition));
        Some(row.map_or(("not run".to_string(), None), |r| max_test(&r.max_test)))
    };
    let paper_of = |condition: &str| {
        paper_values
            .iter()
            .find(|(l, _)| paper::same_condition(condition, l))
            .map(|(_, v)| (format!("{v:.0}"), *v))
    };
    let mut rows: Vec<Vec<String>> = accuracy_rows(results)
        .iter()
        .map(|row| {
            let mut cells = vec![display(&row.condition)];
            cells.extend(beside.cells(
                max_test(&row.max_test),
                published(&row.condition),
                paper_of(&row.condition),
                2,
            ));
            cells.extend([mean_pm_se(&row.at_best_val, 2), mean_pm_se(&row.last, 2)]);
            cells
        })
        .collect();
    for (label, _) in paper_values {
        if !results
            .conditions
            .iter()
            .any(|c| paper::same_condition(c, label))
        {
            let mut row = vec![display(label)];
            row.extend(beside.cells(
                ("not run".into(), None),
                published(label),
                paper_of(label),
                2,
            ));
            row.extend(["—".to_string(), "—".into()]);
            rows.push(row);
        }
    }
    let carries = |column: &str| {
        results
            .runs
            .iter()
            .any(|r| r.completed() && r.value(column).is_some())
    };
    let (paper_metric, honest_metric) = (
        carries("max_test_accuracy"),
        carries("test_accuracy_at_best_val"),
    );
    let mut md = format!("Dataset: {dataset}.\n\n");
    md.push_str(match (paper_metric, honest_metric) {
        (true, false) => {
            "Protocol: paper (every training image in file order, no validation split). \
             These rows carry the paper's metric, the maximum test accuracy over epochs; the \
             honest figure comes from a separate validation-protocol run (`-val` config).\n\n"
        }
        (false, true) => {
            "Protocol: validation (the last training images held out). These rows carry the \
             test accuracy at the epoch with the best validation accuracy, the honest figure; \
             it is not the paper's metric, so no difference to the paper is given.\n\n"
        }
        (true, true) => {
            "**Both metrics in one row:** these results were written before the two protocols \
             were split, so their maximum over epochs comes from a run with a validation \
             split, not from the paper's protocol. Compare with care.\n\n"
        }
        (false, false) => "",
    });
    let mut header = vec!["rule".to_string()];
    header.extend(beside.header("max test acc. (paper's metric)", " (%)"));
    header.extend([
        "ours: test acc. at best val. (%)".to_string(),
        "ours: final test acc. (%)".into(),
    ]);
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    md.push_str(&md_table(&header, &rows));
    md.push_str(
        "\nThe paper reports the maximum test accuracy over epochs; the accuracy at the epoch \
         chosen on the 5k validation split is the honest figure.\n",
    );
    if let Some(note) = bp_network_note(results, exp_dir) {
        md.push('\n');
        md.push_str(&note);
    }
    md
}

/// What network our bp rows ran in (from a bp run's config.yaml), and what the paper's BP did.
fn bp_network_note(results: &Results, exp_dir: &Path) -> Option<String> {
    let run = results.runs.iter().find(|r| r.rule == "bp")?;
    let text = std::fs::read_to_string(exp_dir.join(&run.run).join("config.yaml")).ok()?;
    let cfg: serde_yaml::Value = serde_yaml::from_str(&text).ok()?;
    let net = &cfg["network"];
    let field = |k: &str, default: &str| -> String {
        match &net[k] {
            serde_yaml::Value::String(s) => s.clone(),
            serde_yaml::Value::Number(n) => n.to_string(),
            _ => default.to_string(),
        }
    };
    Some(format!(
        "BP here trains the same network as DFA and NP (activation {}, init {}, bias {}), as \
         in the paper's Table 1, whose BP baseline inherits the NP script's tanh, uniform \
         init and bias 0.1 on CIFAR-10. The DFA code the paper builds on ran its own BP with \
         relu, glorot_uniform and Adam ε 1e-4 (docs/CNN.md).\n",
        field("activation", "?"),
        field("init", "kernel_fan_in"),
        field("bias_init", "0.1"),
    ))
}
