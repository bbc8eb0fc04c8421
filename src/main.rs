//! `credit`: the command line of credit-assign.
use anyhow::Result;
use clap::{Parser, Subcommand};
use credit_assign::{device::parse_device, experiment};
use std::path::PathBuf;

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
}

fn data_dir() -> PathBuf {
    std::env::var_os("CREDIT_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("data"))
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
        Command::Run {
            config,
            quick,
            device,
            out,
        } => {
            let opts = experiment::RunOptions {
                quick,
                device: parse_device(&device)?,
                out_root: out,
                data_dir: data_dir(),
            };
            let (dir, runs) = experiment::run_file(&config, &opts)?;
            eprintln!("{} runs written to {}", runs.len(), dir.display());
        }
    }
    Ok(())
}
