//! `credit`: the command line of credit-assign.
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use credit_assign::commands;
use credit_assign::mlp::{self, shard::Shard};
use credit_assign::report;
use credit_assign::signals::{self, Checkpointed, EXIT_CHECKPOINTED};
use credit_assign::{data, device::parse_device};
use std::path::PathBuf;

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
        /// Start over: remove what credit wrote in the experiment's folder, results and
        /// checkpoints (with --shard: that shard's checkpoints), and name what it left.
        /// Without it, rerunning a command resumes where it stopped.
        #[arg(long)]
        fresh: bool,
        /// Run only shard i of N (0-based), e.g. 2/8; `credit collect` gathers the shards.
        #[arg(long, value_name = "i/N", conflicts_with = "jobs")]
        shard: Option<Shard>,
        /// Run the shards as K local processes, then collect.
        #[arg(long, value_name = "K")]
        jobs: Option<usize>,
        /// Be one of several workers on the experiment's folder (on this machine): take each
        /// program, costliest first, that no other worker is training, until none is left;
        /// then `credit collect`. `--jobs K` starts K such workers. MLP experiments only.
        #[arg(long, conflicts_with_all = ["shard", "jobs", "fresh"])]
        queue: bool,
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
    /// One line per run of an experiment folder: done, running, checkpointed, diverged,
    /// damaged (its files disagree), missing.
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
        /// Networks: fig2, fig3, cnn; fig2-peers (Fig. 2's net with the peers' loss: bp, kp,
        /// wm, brsf) on request.
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
    credit_assign::malloc::keep_freed_memory();
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
        let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
        if n < 1 || n as usize > cores {
            bail!(
                "--threads {n}: give 1 to {cores}, the cores this process may use (more threads \
                 than cores only wait on each other)"
            );
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
            queue,
        } => {
            signals::install();
            let n = match jobs {
                Some(0) => bail!("--jobs 0: give at least one process"),
                Some(count) => credit_assign::jobs::run(&credit_assign::jobs::Jobs {
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
                    let run = commands::run::RunArgs {
                        quick,
                        device: parse_device(&device)?,
                        out: &out,
                        fresh,
                        shard,
                        queue,
                    };
                    commands::run::run_config(&config, &run)?
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
            let args = commands::search::SearchArgs {
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
            commands::search::search(&args)?
        }
        Command::Collect { experiment_dir } => {
            let runs = credit_assign::kind::collect(&experiment_dir)?;
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
            let runs = credit_assign::kind::status(&experiment_dir)?;
            for (run, state) in &runs {
                println!("{run}: {state}");
            }
            // On stderr, so that stdout stays one line per run.
            eprintln!(
                "{}",
                credit_assign::run_folder::tally(runs.iter().map(|(_, s)| s))
            );
        }
        Command::Reproduce {
            what,
            quick,
            device,
            out,
            fresh,
        } => {
            signals::install();
            let run = commands::run::RunArgs {
                quick,
                device: parse_device(&device)?,
                out: &out,
                fresh,
                shard: None,
                queue: false,
            };
            commands::reproduce::reproduce(&what, &run)?
        }
        Command::Report { out, quick } => {
            let path = commands::reproduce::report_only(&out, quick)?;
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
            let name = experiment_dir
                .file_name()
                .with_context(|| format!("{} names no experiment", experiment_dir.display()))?;
            let dest = to.join(name);
            report::check_target(&experiment_dir, &dest)?;
            credit_assign::kind::collect(&experiment_dir)?;
            for path in report::publish(&experiment_dir, &dest, points, latents)? {
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

/// The process's peak resident memory, from /proc (Linux).
fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
