//! `credit search CONFIG`: expand the trials, write the expanded config, train them (all,
//! a shard, or K local shards), rank them on validation; then the `--top` rerun.
use crate::device::parse_device;
use crate::mlp::{self, shard::Shard};
use crate::{cnn, config, data};
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

pub struct SearchArgs<'a> {
    pub config: &'a Path,
    pub trials: Option<usize>,
    pub seed: u64,
    pub quick: bool,
    pub device: &'a str,
    pub out: &'a Path,
    pub fresh: bool,
    pub shard: Option<Shard>,
    pub jobs: Option<usize>,
    pub write_config: bool,
    pub top: Option<(usize, Vec<u64>)>,
    pub threads: Option<i32>,
}

/// `credit search`: expand, write the config, train (all, a shard, or K local shards),
/// rank; then the --top rerun.
pub fn search(a: &SearchArgs) -> Result<()> {
    use mlp::search;
    let origin = a.config.display().to_string();
    let value = config::load_value(a.config, a.quick)?;
    match config::kind_of(&value).as_str() {
        "mlp" => {}
        "cnn" => return search_cnn(a, value, &origin),
        other => bail!("{origin}: kind '{other}' is unknown; use mlp or cnn"),
    }
    let ex = search::expand(value, a.trials, a.seed, &origin)?;
    claimable(a, &ex.exp.experiment, &ex.exp)?;
    let path = write_expanded(a, &origin, &ex.exp.experiment, &ex.exp, ex.trials)?;
    if a.write_config {
        return Ok(());
    }
    let run = |exp: &mlp::Experiment, path: &Path, shard: Option<Shard>| -> Result<Vec<_>> {
        match a.jobs {
            Some(0) => bail!("--jobs 0: give at least one process"),
            Some(count) => crate::jobs::run(&crate::jobs::Jobs {
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
    let rank = |exp: &mlp::Experiment, runs: &[crate::output::RunSummary]| -> Result<_> {
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
        claimable(a, &top.experiment, &top)?;
        let path = search::write_config(&top, a.out, &note)?;
        let runs = run(&top, &path, None)?;
        rank(&top, &runs)?;
    }
    Ok(())
}

/// Refuse, before anything is written, a search whose experiment folder holds another
/// config's results (another --seed or --trials) without --fresh: <out>/<experiment>.yaml
/// is then left as it was. `--write-config` trains nothing and is not refused.
fn claimable(a: &SearchArgs, experiment: &str, cfg: &impl serde::Serialize) -> Result<()> {
    if a.write_config {
        return Ok(());
    }
    let exp_dir = a.out.join(experiment);
    let partial = a.shard.is_some();
    crate::folder::check(&exp_dir, &serde_yaml::to_value(cfg)?, a.fresh, partial)?;
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
    let path = crate::search::write_config(experiment, cfg, a.out, &note)?;
    eprintln!("{experiment}: {trials} trials -> {}", path.display());
    Ok(path)
}

/// `credit search` of a `kind: cnn` config: trials run one after another in this process,
/// or `--shard i/N` of them, or `--jobs K` local processes; then rank, then the --top rerun.
fn search_cnn(a: &SearchArgs, value: serde_yaml::Value, origin: &str) -> Result<()> {
    use crate::search::{print_best, write_config, write_csv};
    use cnn::search;
    let ex = search::expand(value, a.trials, a.seed, origin)?;
    claimable(a, &ex.cfg.experiment, &ex.cfg)?;
    let path = write_expanded(a, origin, &ex.cfg.experiment, &ex.cfg, ex.trials)?;
    if a.write_config {
        return Ok(());
    }
    let device = parse_device(a.device)?;
    let data_dir = data::default_data_dir();
    let runs = match a.jobs {
        Some(0) => bail!("--jobs 0: give at least one process"),
        Some(count) => crate::jobs::run(&crate::jobs::Jobs {
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
    let rank = |cfg: &cnn::config::CnnConfig, runs: &[crate::output::RunSummary]| {
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
        claimable(a, &top.experiment, &top)?;
        write_config(&top.experiment, &top, a.out, &note)?;
        let runs = cnn::train::run_experiment_with(&top, device, a.out, &data_dir, a.fresh, None)?;
        rank(&top, &runs)?;
    }
    Ok(())
}
