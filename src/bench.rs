//! `credit bench`: every engine's training step timed in one process, reported as ratios
//! measured in the same run (fused against torch, np against bp, against PyTorch's two forms,
//! M members against one), and the CNN's step. The MLP timing itself is `mlp::bench`.
use crate::mlp::bench::{self, MlpRow, TorchRow};
use crate::mlp::engine::{command_line, EngineChoice, EngineKind};
use anyhow::{bail, Result};
use tch::Device;

/// The whole `credit bench` run.
pub fn run(device: Device, steps: u64, members: &[usize], networks: &[String]) -> Result<()> {
    let sgemm = bench::sgemm_gflops(device);
    println!(
        "device: {device:?}, torch threads: {}",
        tch::get_num_threads()
    );
    println!("SGEMM 1024³: {sgemm:.1} GFLOP/s\n");
    if networks.iter().any(|n| n != "cnn") {
        println!("| network | engine | rule | M | threads | µs / run-step | CPU µs / run-step | GFLOP/s | of SGEMM |");
        println!("|---|---|---|---|---|---|---|---|---|");
    }
    for net in networks {
        let network = match net.as_str() {
            "fig2" => &bench::FIG2,
            "fig2-peers" => &bench::FIG2_PEERS,
            "fig3" => &bench::FIG3,
            "cnn" => continue,
            other => bail!("--network {other}: choose fig2, fig2-peers, fig3 or cnn"),
        };
        let engines = engines(device, network);
        let mut rows = Vec::new();
        for &m in members {
            for &engine in &engines {
                for &rule in network.rules {
                    let r = bench::time_mlp(network, engine, (rule, m), steps, device)?;
                    print_row(&r, sgemm);
                    rows.push(r);
                }
            }
        }
        ratios(network, &rows, members);
        if network.name == bench::FIG2.name && device == Device::Cpu {
            torch_comparison(&rows, steps)?;
        }
        println!();
    }
    if networks.iter().any(|n| n == "cnn") {
        cnn_rows(device, steps)?;
    }
    Ok(())
}

/// The engines to time: both where the fused engine can run (fig2 on the CPU; fig3 is
/// Adam's and the autoencoder's, which stay on torch), or only the one `--engine` names.
fn engines(device: Device, network: &bench::Network) -> Vec<EngineKind> {
    let fused = device == Device::Cpu && network.task == "classify";
    let all = match fused {
        true => vec![EngineKind::Torch, EngineKind::Fused],
        false => vec![EngineKind::Torch],
    };
    match command_line() {
        Some(EngineChoice::Torch) => vec![EngineKind::Torch],
        Some(EngineChoice::Fused) if fused => vec![EngineKind::Fused],
        Some(EngineChoice::Fused) => Vec::new(),
        _ => all,
    }
}

fn print_row(r: &MlpRow, sgemm: f64) {
    println!(
        "| {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.2} | {:.1}% |",
        r.network,
        r.engine.name(),
        r.rule,
        r.members,
        r.threads,
        1e6 / r.run_steps_per_s,
        r.cpu_us_per_run_step,
        r.gflops,
        100.0 * r.gflops / sgemm
    );
}

fn find<'a>(rows: &'a [MlpRow], engine: EngineKind, rule: &str, m: usize) -> Option<&'a MlpRow> {
    rows.iter()
        .find(|r| r.engine == engine && r.rule == rule && r.members == m)
}

/// µs per run-step by the wall clock.
fn us(r: &MlpRow) -> f64 {
    1e6 / r.run_steps_per_s
}

/// np against bp, M against one, and fused against torch, from rows of this run.
fn ratios(network: &bench::Network, rows: &[MlpRow], members: &[usize]) {
    let name = network.name;
    let engines: Vec<EngineKind> = [EngineKind::Torch, EngineKind::Fused]
        .into_iter()
        .filter(|e| rows.iter().any(|r| r.engine == *e))
        .collect();
    for &e in &engines {
        for &m in members {
            if let (Some(np), Some(bp)) = (find(rows, e, "np", m), find(rows, e, "bp", m)) {
                println!(
                    "\n{name}, {}: np step / bp step at M={m}: {:.2}×",
                    e.name(),
                    us(np) / us(bp)
                );
            }
        }
    }
    if engines.contains(&EngineKind::Fused) {
        for &rule in network.rules {
            for &m in members {
                let pair = (
                    find(rows, EngineKind::Torch, rule, m),
                    find(rows, EngineKind::Fused, rule, m),
                );
                if let (Some(t), Some(f)) = pair {
                    println!(
                        "{name}: {rule} fused over torch at M={m}: {:.1}× per run-step",
                        us(t) / us(f)
                    );
                }
            }
        }
        let best = |e, rule| {
            rows.iter()
                .filter(|r| r.engine == e && r.rule == rule)
                .min_by(|a, b| us(a).total_cmp(&us(b)))
        };
        if let (Some(t), Some(f)) = (best(EngineKind::Torch, "np"), best(EngineKind::Fused, "np")) {
            println!(
                "{name}: np, fused at its best M ({}) over torch at its best M ({}): {:.1}×",
                f.members,
                t.members,
                us(t) / us(f)
            );
        }
        projection(rows);
    }
}

/// `fig2-official` (35 runs × 2M iterations: np 20, bp, fa and matched 5 each, programs of
/// at most 5 members) from the fused rows at M = 5, one program per core on 2 cores.
fn projection(rows: &[MlpRow]) {
    let cpu = |rule| find(rows, EngineKind::Fused, rule, 5).map(|r| r.cpu_us_per_run_step);
    if let (Some(np), Some(bp), Some(fa)) = (cpu("np"), cpu("bp"), cpu("fa")) {
        // matched costs about what bp does (its B update is one more small product).
        let cpu_s = 2e6 * (20.0 * np + 5.0 * bp + 5.0 * fa + 5.0 * bp) * 1e-6;
        println!(
            "fig2-official projected on the fused engine: {:.0} CPU-minutes, {:.0} minutes on 2 cores (CPU µs per run-step at M=5: np {np:.1}, bp {bp:.1}, fa {fa:.1})",
            cpu_s / 60.0,
            cpu_s / 120.0
        );
    }
}

/// The same fig2 steps in PyTorch (per-member loop and batched), timed now on this machine.
fn torch_comparison(rows: &[MlpRow], steps: u64) -> Result<()> {
    if !rows.iter().any(|r| r.engine == EngineKind::Torch) {
        return Ok(());
    }
    let Some(python) = bench::torch_python() else {
        println!("\nPyTorch: skipped, no torch venv (run scripts/setup.sh, or set CREDIT_CACHE)");
        return Ok(());
    };
    let ours: Vec<&MlpRow> = rows
        .iter()
        .filter(|r| r.engine == EngineKind::Torch)
        .collect();
    let configs: Vec<(&str, usize, i32)> = ours.iter().map(|r| (r.rule, r.members, 1)).collect();
    let torch = bench::time_torch(&python, &configs, steps)?;
    println!(
        "\nPyTorch {} (scripts/bench_torch.py), one thread, same machine, now; µs per run-step:\n",
        bench::TORCH_VERSION
    );
    println!("| rule | M | fused | torch engine | PyTorch batched | PyTorch loop | fused over batched | fused over loop |");
    println!("|---|---|---|---|---|---|---|---|");
    let form = |rule: &str, m: usize, f: &str| -> Option<&TorchRow> {
        torch
            .iter()
            .find(|t| t.rule == rule && t.members == m && t.form == f)
    };
    for r in &ours {
        let fused = find(rows, EngineKind::Fused, r.rule, r.members).map(us);
        let (Some(b), Some(l)) = (
            form(r.rule, r.members, "batched"),
            form(r.rule, r.members, "loop"),
        ) else {
            continue;
        };
        let f = fused.unwrap_or(f64::NAN);
        println!(
            "| {} | {} | {f:.1} | {:.1} | {:.1} | {:.1} | {:.1}× | {:.1}× |",
            r.rule,
            r.members,
            us(r),
            b.wall_us_per_run_step,
            l.wall_us_per_run_step,
            b.wall_us_per_run_step / f,
            l.wall_us_per_run_step / f
        );
    }
    let best_batched = torch
        .iter()
        .filter(|t| t.rule == "np" && t.form == "batched")
        .min_by(|a, b| a.wall_us_per_run_step.total_cmp(&b.wall_us_per_run_step));
    if let Some(b) = best_batched {
        if let Some(f) = find(rows, EngineKind::Fused, "np", b.members) {
            println!(
                "\nfig2: np, fused over batched PyTorch at its best M ({}): {:.1}×",
                b.members,
                b.wall_us_per_run_step / us(f)
            );
        }
    }
    Ok(())
}

fn cnn_rows(device: Device, steps: u64) -> Result<()> {
    let rows = crate::cnn::bench(device, (steps / 40).max(3) as usize)?;
    println!("| network | rule | batch | ms / step | images/s |");
    println!("|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {:.1} | {:.0} |",
            r.network, r.rule, r.batch, r.ms_per_step, r.images_per_s
        );
    }
    let ms = |rule: &str| rows.iter().find(|r| r.rule == rule).map(|r| r.ms_per_step);
    println!();
    for rule in ["np_dfa", "fa", "brsf"] {
        if let (Some(ms_rule), Some(bp)) = (ms(rule), ms("bp")) {
            println!("cnn: {rule} step / bp step: {:.2}×", ms_rule / bp);
        }
    }
    Ok(())
}
