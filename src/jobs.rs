//! `credit run CONFIG --jobs K`: K local processes, then `collect`. An MLP experiment's
//! processes are workers on one queue of programs (`--queue`), a CNN experiment's are
//! shards that divide its runs. On small programs
//! several one-thread processes beat one process with several libtorch threads
//! (docs/PERFORMANCE.md, "Threads").
use crate::kind::Resolved;
use crate::mlp;
use crate::output::RunSummary;
use crate::signals::{self, Checkpointed};
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

/// What the children are run with, besides their shard.
pub struct Jobs<'a> {
    pub config: &'a Path,
    pub quick: bool,
    pub device: &'a str,
    pub out: &'a Path,
    pub fresh: bool,
    pub count: usize,
    /// libtorch threads per process (default: the cores shared out, at least one).
    pub threads: Option<i32>,
}

pub fn run(j: &Jobs) -> Result<Vec<RunSummary>> {
    let value = crate::config::load_value(j.config, j.quick)?;
    let origin = j.config.display().to_string();
    let plan = Resolved::from_value(value, &origin)?;
    let count = match &plan {
        Resolved::Mlp(_, programs) => j.count.min(programs.len()),
        Resolved::Cnn(cfg) => j.count.min(cfg.runs().len()),
    };
    let exp_dir = j.out.join(plan.experiment());
    if j.fresh {
        // Start the folder over here (for the MLP under every program's lock); the shards
        // then resume nothing.
        let _locks = match &plan {
            Resolved::Mlp(exp, programs) => programs
                .iter()
                .map(|g| mlp::experiment::lock_program(&exp_dir, exp, g))
                .collect::<Result<Vec<_>>>()?,
            Resolved::Cnn(_) => Vec::new(),
        };
        crate::folder::prepare(&exp_dir, &plan.to_value()?, true, false)?;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = j.threads.unwrap_or(((cores / count).max(1)) as i32);
    let exe = std::env::current_exe().context("locating the credit binary")?;
    let mut children: Vec<(usize, Child)> = Vec::new();
    for i in 0..count {
        let mut cmd = Command::new(&exe);
        if let Some(engine) = mlp::engine::command_line() {
            cmd.arg("--engine").arg(engine.name());
        }
        cmd.arg("--threads")
            .arg(threads.to_string())
            .arg("run")
            .arg(j.config);
        // MLP: K workers on one queue, so a cheap program never waits behind a fixed
        // partition (fig2-official's last program ran alone for 13 of its 50 minutes with
        // fixed shards). CNN: its runs split into K shards.
        match &plan {
            Resolved::Mlp(..) => cmd.args(["--device", j.device, "--queue"]),
            Resolved::Cnn(_) => {
                cmd.args(["--device", j.device, "--shard", &format!("{i}/{count}")])
            }
        };
        cmd.arg("--out").arg(j.out);
        if j.quick {
            cmd.arg("--quick");
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting shard {i}/{count}"))?;
        children.push((i, child));
    }
    let failed = wait_all(&mut children)?;
    if let Some(signal) = signals::received() {
        return Err(Checkpointed {
            iteration: None,
            signal,
        }
        .into());
    }
    if !failed.is_empty() {
        bail!(
            "{} of {count} processes failed ({}); rerun the same command to resume them",
            failed.len(),
            failed.join(", ")
        );
    }
    crate::kind::collect(&exp_dir)
}

/// Wait for every child, passing a signal this process receives on to them. Returns the
/// shards that failed, with their exit status.
fn wait_all(children: &mut [(usize, Child)]) -> Result<Vec<String>> {
    let mut forwarded = false;
    let mut failed = Vec::new();
    let n = children.len();
    let mut running: Vec<usize> = (0..n).collect();
    while !running.is_empty() {
        if !forwarded && signals::received().is_some() {
            for (_, child) in children.iter() {
                // SAFETY: kill(2) on our own child's pid.
                unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            }
            forwarded = true;
        }
        let mut still = Vec::new();
        for k in running {
            let (i, child) = &mut children[k];
            match child.try_wait()? {
                Some(status) if !status.success() => {
                    failed.push(format!("process {i} of {n}: {status}"))
                }
                Some(_) => {}
                None => still.push(k),
            }
        }
        running = still;
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(failed)
}
