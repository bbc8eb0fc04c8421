//! `credit`: the command line of credit-assign.
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use credit_assign::mlp::{self, collect, shard::Shard};
use credit_assign::report::{self, Mode, ReportEntry};
use credit_assign::signals::{self, Checkpointed, EXIT_CHECKPOINTED};
use credit_assign::{cnn, config, data, device::parse_device};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "credit",
    version,
    about = "Credit assignment experiments: backprop, feedback alignment, and feedback learned by node perturbation (Lansdell, Prakash & Kording, ICLR 2020)"
)]
struct Cli {
    /// CPU threads for libtorch (default: libtorch's own choice, one per core). One thread per
    /// process is best when several runs share a machine.
    #[arg(long, global = true)]
    threads: Option<i32>,
    /// The MLP engine: auto (fused on the CPU where it can, else torch), fused or torch.
    /// Overrides the config's training.engine.
    #[arg(long, global = true, value_enum)]
    engine: Option<mlp::engine::EngineChoice>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train every run of a config file and write results/<experiment>/.
    Run {
        config: PathBuf,
        /// Apply the file's `quick:` block (minutes on 2 CPU cores).
        #[arg(long)]
        quick: bool,
        /// auto, cpu, cuda or cuda:N.
        #[arg(long, default_value = "auto")]
        device: String,
        /// Results root.
        #[arg(long, default_value = "results")]
        out: PathBuf,
        /// Start over: discard the experiment's results and checkpoints (with --shard: that
        /// shard's checkpoints). Without it, rerunning a command resumes where it stopped.
        #[arg(long)]
        fresh: bool,
        /// Run only shard i of N (0-based), e.g. 2/8; `credit collect` gathers the shards.
        #[arg(long, value_name = "i/N", conflicts_with = "jobs")]
        shard: Option<Shard>,
        /// Run the shards as K local processes, then collect.
        #[arg(long, value_name = "K")]
        jobs: Option<usize>,
    },
    /// Random search over a config's `search:` block: draw the trials, train them (trials
    /// that agree in shape as members of one program), rank them on validation in
    /// <out>/<experiment>/search.csv. The expanded config goes to <out>/<experiment>.yaml.
    Search {
        config: PathBuf,
        /// Number of trials (default: the block's `trials:`).
        #[arg(long)]
        trials: Option<usize>,
        /// The search's seed: trial t's values are a function of (seed, t).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long)]
        quick: bool,
        #[arg(long, default_value = "auto")]
        device: String,
        #[arg(long, default_value = "results")]
        out: PathBuf,
        #[arg(long)]
        fresh: bool,
        /// Train only shard i of N; rerun without --shard once every shard is done to rank.
        #[arg(long, value_name = "i/N", conflicts_with = "jobs")]
        shard: Option<Shard>,
        /// Run the shards as K local processes, then rank.
        #[arg(long, value_name = "K")]
        jobs: Option<usize>,
        /// Only write the expanded config (for `credit run`/`credit submit`), train nothing.
        #[arg(long)]
        write_config: bool,
        /// Rerun the best K trials of each searched entry with --seeds: <experiment>-top.
        #[arg(long, value_name = "K", requires = "seeds")]
        top: Option<usize>,
        /// Seeds of the --top rerun, e.g. 0,1,2,3,4.
        #[arg(long, value_delimiter = ',', requires = "top")]
        seeds: Vec<u64>,
    },
    /// Check that every run of an experiment folder finished and write its summary.csv,
    /// aggregate.csv and figures (after sharded runs).
    Collect { experiment_dir: PathBuf },
    /// One line per run of an experiment folder: done, running, checkpointed, diverged, missing.
    Status { experiment_dir: PathBuf },
    /// Run a figure's configs, aggregate over seeds, draw the figures and write results/REPORT.md.
    Reproduce {
        /// fig2, fig3, fig4, table1, theory or all.
        what: String,
        #[arg(long)]
        quick: bool,
        #[arg(long, default_value = "auto")]
        device: String,
        #[arg(long, default_value = "results")]
        out: PathBuf,
        /// Start every experiment over instead of resuming or reusing finished runs.
        #[arg(long)]
        fresh: bool,
    },
    /// Redraw an experiment's figures from its CSVs alone (e.g. results/fig2-quick).
    Plot { results_dir: PathBuf },
    /// Publish a finished experiment into a results tree kept in git: collect it (refused if
    /// a run has not finished), then copy summary.csv and experiment.yaml to <to>/<experiment>/,
    /// write aggregate.csv there with at most --points iterations per curve, and draw the
    /// figures from those files. scripts/publish-results.sh adds the run folders' archive.
    Publish {
        experiment_dir: PathBuf,
        #[arg(long, default_value = "results")]
        to: PathBuf,
        /// Iterations kept per curve in the published aggregate.csv, at most (each curve's
        /// last is always kept).
        #[arg(long, default_value_t = report::MAX_POINTS)]
        points: usize,
        /// Snapshots of an autoencoder run's latent.csv that the published run folders
        /// keep: all, or the final one (the one the figure draws; about 330 KB a run).
        #[arg(long, value_enum, default_value = "all")]
        latents: report::Latents,
    },
    /// Write <out>/REPORT.md from the finished experiments there, training nothing (after
    /// `credit run`, `--jobs` or `credit submit` of the full protocol); the others are listed
    /// as not run, with the command that runs them.
    Report {
        #[arg(long, default_value = "results")]
        out: PathBuf,
        /// Report the `-quick` experiments instead of the full-length ones.
        #[arg(long)]
        quick: bool,
    },
    /// Time one training step per rule and member count on the chosen device.
    Bench {
        #[arg(long, default_value = "auto")]
        device: String,
        /// Timed steps per configuration.
        #[arg(long, default_value_t = 400)]
        steps: u64,
        /// Member counts to compare.
        #[arg(long, value_delimiter = ',', default_values_t = vec![1, 32])]
        members: Vec<usize>,
        /// Networks: fig2, fig3, cnn.
        #[arg(long, value_delimiter = ',', default_values_t = vec!["fig2".to_string(), "fig3".to_string(), "cnn".to_string()])]
        network: Vec<String>,
    },
    /// Run an experiment on a Slurm cluster: a job array with one task per shard, then a
    /// job that collects it (docs/CLUSTER.md).
    Submit(credit_assign::cluster::SubmitArgs),
    /// Fetch or check data sets (folder: $CREDIT_DATA_DIR, default ./data).
    Data {
        #[command(subcommand)]
        action: DataAction,
    },
}

#[derive(Subcommand)]
enum DataAction {
    /// Download and verify: mnist, fashion-mnist, cifar10, cifar100.
    Fetch { name: String },
    /// Say what is present, verified or missing, and how to get it. Exits non-zero when a
    /// data set is incomplete or corrupt, or when one named here is missing.
    Check {
        /// Data sets that must be there (e.g. `mnist`); by default none is required.
        need: Vec<String>,
    },
}

fn main() {
    if let Err(e) = real_main() {
        if let Some(c) = e.downcast_ref::<Checkpointed>() {
            eprintln!("{c}");
            std::process::exit(EXIT_CHECKPOINTED);
        }
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    let cli = Cli::parse();
    mlp::engine::set_command_line(cli.engine);
    if let Some(n) = cli.threads {
        if n < 1 {
            bail!("--threads {n}: give a positive number of threads");
        }
        credit_assign::device::set_threads(n);
    }
    match cli.command {
        Command::Run {
            config,
            quick,
            device,
            out,
            fresh,
            shard,
            jobs,
        } => {
            signals::install();
            let n = match jobs {
                Some(0) => bail!("--jobs 0: give at least one process"),
                Some(count) => mlp::jobs::run(&mlp::jobs::Jobs {
                    config: &config,
                    quick,
                    device: &device,
                    out: &out,
                    fresh,
                    count,
                    threads: cli.threads,
                })?
                .len(),
                None => {
                    let run = RunArgs {
                        quick,
                        device: parse_device(&device)?,
                        out: &out,
                        fresh,
                        shard,
                    };
                    run_config(&config, &run)?
                }
            };
            eprintln!("{n} runs written under {}", out.display());
            if let Some(peak) = peak_memory_mib() {
                eprintln!("peak memory (VmHWM): {peak:.0} MiB");
            }
        }
        Command::Search {
            config,
            trials,
            seed,
            quick,
            device,
            out,
            fresh,
            shard,
            jobs,
            write_config,
            top,
            seeds,
        } => {
            signals::install();
            let args = SearchArgs {
                config: &config,
                trials,
                seed,
                quick,
                device: &device,
                out: &out,
                fresh,
                shard,
                jobs,
                write_config,
                top: top.map(|k| (k, seeds)),
                threads: cli.threads,
            };
            search(&args)?
        }
        Command::Collect { experiment_dir } => {
            let runs = collect_any(&experiment_dir)?;
            eprintln!(
                "{}: {} runs collected into summary.csv and aggregate.csv",
                experiment_dir.display(),
                runs.len()
            );
            match report::plot(&experiment_dir) {
                Ok(files) => eprintln!("{} figure files", files.len()),
                Err(e) => eprintln!("no figure drawn: {e:#}"),
            }
        }
        Command::Status { experiment_dir } => {
            signals::exit_quietly_on_closed_pipe();
            for (run, state) in status_any(&experiment_dir)? {
                println!("{run}: {state}");
            }
        }
        Command::Reproduce {
            what,
            quick,
            device,
            out,
            fresh,
        } => {
            signals::install();
            let run = RunArgs {
                quick,
                device: parse_device(&device)?,
                out: &out,
                fresh,
                shard: None,
            };
            reproduce(&what, &run)?
        }
        Command::Report { out, quick } => {
            let path = report_only(&out, quick)?;
            eprintln!("report: {}", path.display());
        }
        Command::Plot { results_dir } => {
            for path in report::plot(&results_dir)? {
                println!("{}", path.display());
            }
        }
        Command::Publish {
            experiment_dir,
            to,
            points,
            latents,
        } => {
            collect_any(&experiment_dir)?;
            let name = experiment_dir
                .file_name()
                .with_context(|| format!("{} names no experiment", experiment_dir.display()))?;
            for path in report::publish(&experiment_dir, &to.join(name), points, latents)? {
                println!("{}", path.display());
            }
        }
        Command::Bench {
            device,
            steps,
            members,
            network,
        } => credit_assign::bench::run(parse_device(&device)?, steps, &members, &network)?,
        Command::Submit(args) => {
            credit_assign::cluster::submit(&args, &std::env::current_exe()?)?;
        }
        Command::Data {
            action: DataAction::Fetch { name },
        } => data::fetch::fetch(&name, &data::default_data_dir())?,
        Command::Data {
            action: DataAction::Check { need },
        } => {
            let dir = data::default_data_dir();
            let rows = data::fetch::status_with(&dir, &data::fetch::FetchSpec::from_env())?;
            print!("{}", data::fetch::render(&dir, &rows));
            data::fetch::verdict(&rows, &need)?;
        }
    }
    Ok(())
}

/// `credit collect` of an MLP or CNN experiment folder, by the kind of its recorded config.
fn collect_any(exp_dir: &Path) -> Result<Vec<credit_assign::output::RunSummary>> {
    match cnn_folder(exp_dir)? {
        Some(cfg) => cnn::collect::collect(exp_dir, &cfg),
        None => collect::collect(exp_dir),
    }
}

/// The config of a `kind: cnn` experiment folder (its experiment.yaml); None for an MLP one.
fn cnn_folder(exp_dir: &Path) -> Result<Option<cnn::config::CnnConfig>> {
    match credit_assign::folder::read_manifest(exp_dir)? {
        Some(value) if config::kind_of(&value) == "cnn" => {
            let origin = exp_dir.join(credit_assign::folder::MANIFEST);
            let cfg = cnn::config::CnnConfig::resolve(value, false)
                .with_context(|| format!("{}", origin.display()))?;
            Ok(Some(cfg))
        }
        _ => Ok(None),
    }
}

/// `credit status` of an experiment folder of either kind: each run and its state.
fn status_any(exp_dir: &Path) -> Result<Vec<(String, collect::RunState)>> {
    match cnn_folder(exp_dir)? {
        Some(cfg) => cnn::collect::status(exp_dir, &cfg),
        None => Ok(collect::status(exp_dir)?
            .into_iter()
            .map(|(run, state, _)| (run, state))
            .collect()),
    }
}

/// How to run one config.
struct RunArgs<'a> {
    quick: bool,
    device: tch::Device,
    out: &'a Path,
    fresh: bool,
    shard: Option<Shard>,
}

/// Run one config file of any kind; returns the number of runs.
fn run_config(path: &Path, run: &RunArgs) -> Result<usize> {
    let value = config::load_value(path, run.quick)?;
    let data_dir = data::default_data_dir();
    match config::kind_of(&value).as_str() {
        "mlp" => {
            let opts = mlp::RunOptions {
                quick: run.quick,
                device: run.device,
                out_root: run.out.to_path_buf(),
                data_dir,
                fresh: run.fresh,
                shard: run.shard,
            };
            let exp = mlp::Experiment::from_value(value, &path.display().to_string())?;
            Ok(mlp::run_experiment(&exp, &opts)?.1.len())
        }
        "cnn" => {
            let cfg = cnn::config::CnnConfig::resolve(value, false)?;
            let runs = cnn::train::run_experiment_with(
                &cfg, run.device, run.out, &data_dir, run.fresh, run.shard,
            )?;
            if let Some(shard) = run.shard {
                eprintln!(
                    "{}: shard {shard} done; once every shard is, run it again without --shard \
                     to write summary.csv (nothing is retrained)",
                    cfg.experiment
                );
            }
            Ok(runs.len())
        }
        other => bail!(
            "{}: kind '{other}' is unknown; use mlp or cnn",
            path.display()
        ),
    }
}

struct SearchArgs<'a> {
    config: &'a Path,
    trials: Option<usize>,
    seed: u64,
    quick: bool,
    device: &'a str,
    out: &'a Path,
    fresh: bool,
    shard: Option<Shard>,
    jobs: Option<usize>,
    write_config: bool,
    top: Option<(usize, Vec<u64>)>,
    threads: Option<i32>,
}

/// `credit search`: expand, write the config, train (all, a shard, or K local shards),
/// rank; then the --top rerun.
fn search(a: &SearchArgs) -> Result<()> {
    use mlp::search;
    let origin = a.config.display().to_string();
    let value = config::load_value(a.config, a.quick)?;
    match config::kind_of(&value).as_str() {
        "mlp" => {}
        "cnn" => return search_cnn(a, value, &origin),
        other => bail!("{origin}: kind '{other}' is unknown; use mlp or cnn"),
    }
    let ex = search::expand(value, a.trials, a.seed, &origin)?;
    let path = write_expanded(a, &origin, &ex.exp.experiment, &ex.exp, ex.trials)?;
    if a.write_config {
        return Ok(());
    }
    let run = |exp: &mlp::Experiment, path: &Path, shard: Option<Shard>| -> Result<Vec<_>> {
        match a.jobs {
            Some(0) => bail!("--jobs 0: give at least one process"),
            Some(count) => mlp::jobs::run(&mlp::jobs::Jobs {
                config: path,
                quick: false,
                device: a.device,
                out: a.out,
                fresh: a.fresh,
                count,
                threads: a.threads,
            }),
            None => {
                let opts = mlp::RunOptions {
                    quick: false,
                    device: parse_device(a.device)?,
                    out_root: a.out.to_path_buf(),
                    data_dir: data::default_data_dir(),
                    fresh: a.fresh,
                    shard,
                };
                Ok(mlp::run_experiment(exp, &opts)?.1)
            }
        }
    };
    let runs = run(&ex.exp, &path, a.shard)?;
    if a.shard.is_some() {
        eprintln!(
            "shard done; once every shard is, rerun without --shard to rank the trials (nothing is retrained)"
        );
        return Ok(());
    }
    let rank = |exp: &mlp::Experiment, runs: &[credit_assign::output::RunSummary]| -> Result<_> {
        let ranked = search::rank(exp, &ex.searched, &ex.search, runs)?;
        let csv = a.out.join(&exp.experiment).join("search.csv");
        search::write_csv(&csv, &ex.search, &ranked)?;
        eprintln!(
            "{}: trials ranked on validation in {}",
            exp.experiment,
            csv.display()
        );
        search::print_best(&ex.search, &ranked, 3);
        Ok(ranked)
    };
    let ranked = rank(&ex.exp, &runs)?;
    if let Some((k, seeds)) = &a.top {
        let top = search::top(&ex.exp, &ranked, *k, seeds)?;
        let note = format!(
            "the best {k} trials of {}, seeds {seeds:?}",
            ex.exp.experiment
        );
        let path = search::write_config(&top, a.out, &note)?;
        let runs = run(&top, &path, None)?;
        rank(&top, &runs)?;
    }
    Ok(())
}

/// Write an expanded search to `<out>/<experiment>.yaml`, with a note of the command that
/// expanded it, and say where.
fn write_expanded(
    a: &SearchArgs,
    origin: &str,
    experiment: &str,
    cfg: &impl serde::Serialize,
    trials: usize,
) -> Result<PathBuf> {
    let note = format!(
        "expanded by `credit search {origin}{} --trials {trials} --seed {}`: run it with `credit run` (no --quick)",
        if a.quick { " --quick" } else { "" },
        a.seed
    );
    let path = credit_assign::search::write_config(experiment, cfg, a.out, &note)?;
    eprintln!("{experiment}: {trials} trials -> {}", path.display());
    Ok(path)
}

/// `credit search` of a `kind: cnn` config: trials run one after another in this process,
/// or `--shard i/N` of them, or `--jobs K` local processes; then rank, then the --top rerun.
fn search_cnn(a: &SearchArgs, value: serde_yaml::Value, origin: &str) -> Result<()> {
    use cnn::search;
    use credit_assign::search::{print_best, write_config, write_csv};
    let ex = search::expand(value, a.trials, a.seed, origin)?;
    let path = write_expanded(a, origin, &ex.cfg.experiment, &ex.cfg, ex.trials)?;
    if a.write_config {
        return Ok(());
    }
    let device = parse_device(a.device)?;
    let data_dir = data::default_data_dir();
    let runs = match a.jobs {
        Some(0) => bail!("--jobs 0: give at least one process"),
        Some(count) => mlp::jobs::run(&mlp::jobs::Jobs {
            config: &path,
            quick: false,
            device: a.device,
            out: a.out,
            fresh: a.fresh,
            count,
            threads: a.threads,
        })?,
        None => {
            cnn::train::run_experiment_with(&ex.cfg, device, a.out, &data_dir, a.fresh, a.shard)?
        }
    };
    if a.shard.is_some() {
        eprintln!(
            "shard done; once every shard is, rerun without --shard to rank the trials (nothing is retrained)"
        );
        return Ok(());
    }
    let rank = |cfg: &cnn::config::CnnConfig, runs: &[credit_assign::output::RunSummary]| {
        let ranked = search::rank(&ex, cfg, runs)?;
        let csv = a.out.join(&cfg.experiment).join("search.csv");
        write_csv(&csv, &search::ranking(), &ranked)?;
        eprintln!(
            "{}: trials ranked on validation in {}",
            cfg.experiment,
            csv.display()
        );
        print_best(&search::ranking(), &ranked, 3);
        anyhow::Ok(ranked)
    };
    let ranked = rank(&ex.cfg, &runs)?;
    if let Some((k, seeds)) = &a.top {
        let top = search::top(&ex.cfg, &ranked, *k, seeds)?;
        let note = format!(
            "the best {k} trials of {}, seeds {seeds:?}",
            ex.cfg.experiment
        );
        write_config(&top.experiment, &top, a.out, &note)?;
        let runs = cnn::train::run_experiment_with(&top, device, a.out, &data_dir, a.fresh, None)?;
        rank(&top, &runs)?;
    }
    Ok(())
}

/// The process's peak resident memory, from /proc (Linux).
fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Where `reproduce` and `report` find the configs: `$CREDIT_CONFIGS`, else `configs`.
fn configs_dir() -> PathBuf {
    std::env::var_os("CREDIT_CONFIGS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("configs"))
}

/// `credit report`: REPORT.md over every figure's experiment in `out`, training nothing.
/// An experiment is reported once all its runs have finished (done or diverged). After a
/// figure's configs come the other experiments of that figure found in `out` (subsets).
fn report_only(out: &Path, quick: bool) -> Result<PathBuf> {
    let mut entries = Vec::new();
    for (figure, names) in FIGURES {
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
        let Ok(Some(manifest)) = credit_assign::folder::read_manifest(&entry.path()) else {
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
            entry.path().join(credit_assign::folder::MANIFEST)
        };
        found.push((folder, config, what));
    }
    found.sort();
    found
}

/// Why an experiment folder cannot be reported yet, or None once every run has finished.
fn unfinished(exp_dir: &Path) -> Option<String> {
    if !exp_dir.join("summary.csv").exists() {
        return Some("not run here".to_string());
    }
    let value = credit_assign::folder::read_manifest(exp_dir).ok()??;
    if config::kind_of(&value) != "mlp" {
        return None; // a CNN experiment writes summary.csv once all its runs are done
    }
    let states = match collect::status(exp_dir) {
        Ok(states) => states,
        Err(e) => return Some(format!("unreadable ({e:#})")),
    };
    // A published experiment in a clone (results/) has its summary and aggregate but no run
    // folders (runs.tar.xz holds them): what it reports is what was collected.
    if (states.iter()).all(|(_, s, _)| matches!(s, collect::RunState::Missing)) {
        return None;
    }
    let open = (states.iter())
        .filter(|(_, s, _)| !matches!(s, collect::RunState::Done | collect::RunState::Diverged(_)))
        .count();
    (open > 0).then(|| format!("{open} of {} runs unfinished", states.len()))
}

/// The configs behind each figure, in the order `reproduce all` runs them.
const FIGURES: [(&str, &[&str]); 5] = [
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

fn reproduce(what: &str, run: &RunArgs) -> Result<()> {
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
