//! `credit`: the command line of credit-assign.
use anyhow::{bail, Result};
use clap::{Parser, Subcommand};
use credit_assign::{cnn, config, data, device::parse_device, experiment};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "credit",
    version,
    about = "Credit assignment experiments: backprop, feedback alignment, and feedback learned by node perturbation (Lansdell, Prakash & Kording, ICLR 2020)"
)]
struct Cli {
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
    },
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
    /// Say what is present, verified or missing, and how to get it.
    Check,
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config, quick, device, out } => {
            let device = parse_device(&device)?;
            let n = run_config(&config, quick, device, &out)?;
            eprintln!("{n} runs written under {}", out.display());
            if let Some(peak) = peak_memory_mib() {
                eprintln!("peak memory (VmHWM): {peak:.0} MiB");
            }
        }
        Command::Data { action: DataAction::Fetch { name } } => data::fetch::fetch(&name, &data::default_data_dir())?,
        Command::Data { action: DataAction::Check } => print!("{}", data::fetch::check(&data::default_data_dir())?),
    }
    Ok(())
}

/// Run one config file of any kind; returns the number of runs.
fn run_config(path: &Path, quick: bool, device: tch::Device, out: &Path) -> Result<usize> {
    let value = config::load_value(path, quick)?;
    let data_dir = data::default_data_dir();
    match config::kind_of(&value).as_str() {
        "mlp" => {
            let opts = experiment::RunOptions { quick, device, out_root: out.to_path_buf(), data_dir };
            let exp = config::Experiment::from_value(value, &path.display().to_string())?;
            Ok(experiment::run_experiment(&exp, &opts)?.1.len())
        }
        "cnn" => Ok(cnn::run_experiment(value, false, device, out, &data_dir)?.len()),
        other => bail!("{}: kind '{other}' is unknown; use mlp or cnn", path.display()),
    }
}

/// The process's peak resident memory, from /proc (Linux).
fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
