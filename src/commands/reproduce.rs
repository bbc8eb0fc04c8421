//! `credit reproduce` (run a figure's configs, then its report) and `credit report` (the
//! report of what is there, training nothing).
use super::run::{run_config, RunArgs};
use crate::report::{self, Mode, ReportEntry};
use crate::run_folder::RunState;
use crate::signals::Checkpointed;
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// Where `reproduce` and `report` find the configs: `$CREDIT_CONFIGS`, else `configs`.
pub fn configs_dir() -> PathBuf {
    std::env::var_os("CREDIT_CONFIGS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("configs"))
}

/// `credit report`: REPORT.md over every figure's experiment in `out`, training nothing.
/// An experiment is reported once all its runs have finished (done or diverged). After a
/// figure's configs come the other experiments of that figure found in `out` (subsets).
pub fn report_only(out: &Path, quick: bool) -> Result<PathBuf> {
    let mut entries = Vec::new();
    for (figure, names) in FIGURES.iter().chain(&BEYOND) {
        for name in names.iter() {
            let experiment = if quick {
                format!("{name}-quick")
            } else {
                name.to_string()
            };
            let config = configs_dir().join(format!("{name}.yaml"));
            let mode = if quick { Mode::Quick } else { Mode::Full };
            entries.push(report_entry(out, experiment, config, mode)?);
        }
        for (experiment, config, what) in subsets(out, figure, names, quick) {
            entries.push(report_entry(out, experiment, config, Mode::Subset(what))?);
        }
    }
    report::write_report(out, &entries)
}

/// One experiment of `out` for the report: its figures redrawn if every run finished, else
/// skipped with the reason and the command that finishes it.
fn report_entry(
    out: &Path,
    experiment: String,
    config: PathBuf,
    mode: Mode,
) -> Result<ReportEntry> {
    let exp_dir = out.join(&experiment);
    let skipped = match unfinished(&exp_dir) {
        None => {
            report::plot(&exp_dir)?;
            None
        }
        Some(why) => Some(format!(
            "{why}: `credit run {}{}`",
            config.display(),
            if mode == Mode::Quick { " --quick" } else { "" }
        )),
    };
    Ok(ReportEntry {
        experiment,
        config,
        mode,
        skipped,
    })
}

/// The experiment folders in `out` that belong to `figure` but are none of its configs
/// `names` (with `-quick` when `quick`), e.g. `fig3-official-200k`: (folder, config, the
/// config's description). The config is `configs/<name>.yaml` if there is one, else the
/// folder's experiment.yaml. Sorted by name; folders without an experiment.yaml are skipped.
fn subsets(
    out: &Path,
    figure: &str,
    names: &[&str],
    quick: bool,
) -> Vec<(String, PathBuf, String)> {
    let Ok(dir) = std::fs::read_dir(out) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in dir.flatten() {
        let folder = entry.file_name().to_string_lossy().to_string();
        let base = match folder.strip_suffix("-quick") {
            Some(base) if quick => base,
            None if !quick => folder.as_str(),
            _ => continue,
        };
        let of_figure = report::Figure::from_experiment(base).is_ok_and(|f| f.id() == figure);
        if !of_figure || names.contains(&base) {
            continue;
        }
        let Ok(Some(manifest)) = crate::folder::read_manifest(&entry.path()) else {
            continue;
        };
        let what = (manifest.get("description").and_then(|d| d.as_str()))
            .unwrap_or("its config has no description")
            .trim()
            .to_string();
        let config = configs_dir().join(format!("{base}.yaml"));
        let config = if config.exists() {
            config
        } else {
            entry.path().join(crate::folder::MANIFEST)
        };
        found.push((folder, config, what));
    }
    found.sort();
    found
}

/// Why an experiment folder cannot be reported yet, or None once every run (of either kind)
/// has finished.
fn unfinished(exp_dir: &Path) -> Option<String> {
    if !exp_dir.join("summary.csv").exists() {
        return Some("not run here".to_string());
    }
    crate::folder::read_manifest(exp_dir).ok()??;
    let states = match crate::kind::status(exp_dir) {
        Ok(states) => states,
        Err(e) => return Some(format!("unreadable ({e:#})")),
    };
    // A published experiment in a clone (results/) has its summary and aggregate but no run
    // folders (runs.tar.xz holds them): what it reports is what was collected.
    if (states.iter()).all(|(_, s)| matches!(s, RunState::Missing)) {
        return None;
    }
    let open = (states.iter())
        .filter(|(_, s)| !matches!(s, RunState::Done | RunState::Diverged(_)))
        .count();
    (open > 0).then(|| format!("{open} of {} runs unfinished", states.len()))
}

/// The configs behind each figure, in the order `reproduce all` runs them.
pub const FIGURES: [(&str, &[&str]); 5] = [
    ("fig2", &["fig2-official", "fig2"]),
    ("fig4", &["fig4"]),
    ("theory", &["theory"]),
    ("fig3", &["fig3-official", "fig3"]),
    (
        "table1",
        &[
            "table1-cifar10",
            "table1-cifar100",
            "table1-cifar10-official",
            "table1-cifar10-official-val",
            "table1-cifar100-official",
            "table1-cifar100-official-val",
        ],
    ),
];

/// The comparisons beyond the paper that `credit report` reports once they have run (they
/// are not part of `reproduce`: `credit run` or `credit search` runs them).
pub const BEYOND: [(&str, &[&str]); 2] = [
    ("peers", &["peers-mnist", "peers-cifar10"]),
    ("rules", &["rules-fig2"]),
];

pub fn reproduce(what: &str, run: &RunArgs) -> Result<()> {
    let (quick, out) = (run.quick, run.out);
    let chosen: Vec<&(&str, &[&str])> = FIGURES
        .iter()
        .filter(|(f, _)| what == "all" || *f == what)
        .collect();
    if chosen.is_empty() {
        bail!("reproduce '{what}': choose fig2, fig3, fig4, table1, theory or all");
    }
    let configs = configs_dir();
    let mut entries = Vec::new();
    let mut failures = 0;
    for (_, names) in chosen {
        for name in names.iter() {
            let path = configs.join(format!("{name}.yaml"));
            let experiment = if quick {
                format!("{name}-quick")
            } else {
                name.to_string()
            };
            let skipped = match run_config(&path, run) {
                Ok(_) => match report::plot(&out.join(&experiment)) {
                    Ok(files) => {
                        eprintln!("{experiment}: {} figure files", files.len());
                        None
                    }
                    Err(e) => {
                        failures += 1;
                        Some(format!("figures could not be drawn: {e:#}"))
                    }
                },
                Err(e) if e.downcast_ref::<Checkpointed>().is_some() => return Err(e),
                Err(e) => {
                    let msg = format!("{e:#}");
                    if !msg.contains("credit data fetch") {
                        failures += 1;
                    }
                    eprintln!("{experiment}: skipped: {msg}");
                    Some(msg)
                }
            };
            entries.push(ReportEntry {
                experiment,
                config: path,
                mode: if quick { Mode::Quick } else { Mode::Full },
                skipped,
            });
        }
    }
    let report = report::write_report(out, &entries)?;
    eprintln!("report: {}", report.display());
    if failures > 0 {
        bail!(
            "{failures} experiment(s) failed (not for missing data); see {}",
            report.display()
        );
    }
    Ok(())
}
