//! `credit search CONFIG`: expand the trials, write the expanded config, train them (all,
//! a shard, or K local shards), rank them on validation; then the `--top` rerun. One flow
//! for both kinds; what differs is the kind's expansion (`mlp::search`, `cnn::search`):
//! MLP trials of one shape are members of one program, CNN trials are runs.
use crate::kind::Resolved;
use crate::mlp::{self, shard::Shard};
use crate::output::RunSummary;
use crate::search::{print_best, write_config, write_csv, Ranked, Ranking};
use crate::{cnn, config, data, device::parse_device};
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

/// A search of either kind, expanded.
enum Expanded {
    Mlp(mlp::search::Expanded),
    Cnn(cnn::search::Expanded),
}

impl Expanded {
    fn new(a: &SearchArgs) -> Result<Self> {
        let origin = a.config.display().to_string();
        let value = config::load_value(a.config, a.quick)?;
        Ok(match config::kind_of(&value).as_str() {
            "mlp" => Expanded::Mlp(mlp::search::expand(value, a.trials, a.seed, &origin)?),
            "cnn" => Expanded::Cnn(cnn::search::expand(value, a.trials, a.seed, &origin)?),
            other => bail!("{origin}: kind '{other}' is unknown; use mlp or cnn"),
        })
    }

    fn trials(&self) -> usize {
        match self {
            Expanded::Mlp(ex) => ex.trials,
            Expanded::Cnn(ex) => ex.trials,
        }
    }

    /// The expanded experiment, an ordinary config.
    fn config(&self) -> Result<Resolved> {
        Ok(match self {
            Expanded::Mlp(ex) => Resolved::Mlp(ex.exp.clone(), mlp::sweep::programs(&ex.exp)?),
            Expanded::Cnn(ex) => Resolved::Cnn(ex.cfg.clone()),
        })
    }

    fn ranking(&self) -> Ranking {
        match self {
            Expanded::Mlp(ex) => ex.search.ranking(),
            Expanded::Cnn(_) => cnn::search::ranking(),
        }
    }

    /// Rank the trials of `cfg` (the search or its --top rerun) from its runs.
    fn rank(&self, cfg: &Resolved, runs: &[RunSummary]) -> Result<Vec<Ranked>> {
        match (self, cfg) {
            (Expanded::Mlp(ex), Resolved::Mlp(exp, _)) => {
                mlp::search::rank(exp, &ex.searched, &ex.search, runs)
            }
            (Expanded::Cnn(ex), Resolved::Cnn(cfg)) => cnn::search::rank(ex, cfg, runs),
            _ => unreachable!("a search's configs are of its kind"),
        }
    }

    /// The rerun of the best `k` trials of each searched entry with `seeds`.
    fn top(&self, ranked: &[Ranked], k: usize, seeds: &[u64]) -> Result<Resolved> {
        Ok(match self {
            Expanded::Mlp(ex) => {
                let top = mlp::search::top(&ex.exp, ranked, k, seeds)?;
                let programs = mlp::sweep::programs(&top)?;
                Resolved::Mlp(top, programs)
            }
            Expanded::Cnn(ex) => Resolved::Cnn(cnn::search::top(&ex.cfg, ranked, k, seeds)?),
        })
    }
}

/// `credit search`: expand, write the config, train (all, a shard, or K local shards),
/// rank; then the --top rerun.
pub fn search(a: &SearchArgs) -> Result<()> {
    let ex = Expanded::new(a)?;
    let cfg = ex.config()?;
    claimable(a, &cfg)?;
    let note = format!(
        "expanded by `credit search {}{} --trials {} --seed {}`: run it with `credit run` (no --quick)",
        a.config.display(),
        if a.quick { " --quick" } else { "" },
        ex.trials(),
        a.seed
    );
    let path = write(&cfg, a.out, &note)?;
    eprintln!(
        "{}: {} trials -> {}",
        cfg.experiment(),
        ex.trials(),
        path.display()
    );
    if a.write_config {
        return Ok(());
    }
    let runs = train(a, &cfg, &path, a.shard)?;
    if a.shard.is_some() {
        eprintln!(
            "shard done; once every shard is, rerun without --shard to rank the trials (nothing is retrained)"
        );
        return Ok(());
    }
    let ranked = rank(a, &ex, &cfg, &runs)?;
    if let Some((k, seeds)) = &a.top {
        let top = ex.top(&ranked, *k, seeds)?;
        claimable(a, &top)?;
        let note = format!(
            "the best {k} trials of {}, seeds {seeds:?}",
            cfg.experiment()
        );
        let path = write(&top, a.out, &note)?;
        let runs = train(a, &top, &path, None)?;
        rank(a, &ex, &top, &runs)?;
    }
    Ok(())
}

/// Refuse, before anything is written, a search whose experiment folder holds another
/// config's results (another --seed or --trials) without --fresh: <out>/<experiment>.yaml
/// is then left as it was. `--write-config` trains nothing and is not refused.
fn claimable(a: &SearchArgs, cfg: &Resolved) -> Result<()> {
    if a.write_config {
        return Ok(());
    }
    let exp_dir = a.out.join(cfg.experiment());
    let partial = a.shard.is_some();
    crate::folder::check(&exp_dir, &cfg.to_value()?, a.fresh, partial)?;
    Ok(())
}

/// Write an expanded search (or its --top rerun) to `<out>/<experiment>.yaml`, with `note`.
fn write(cfg: &Resolved, out: &Path, note: &str) -> Result<PathBuf> {
    match cfg {
        Resolved::Mlp(exp, _) => write_config(&exp.experiment, exp, out, note),
        Resolved::Cnn(cfg) => write_config(&cfg.experiment, cfg, out, note),
    }
}

/// Train `cfg` (written at `path`): K local shard processes with --jobs, else in this
/// process (all of it, or one shard).
fn train(
    a: &SearchArgs,
    cfg: &Resolved,
    path: &Path,
    shard: Option<Shard>,
) -> Result<Vec<RunSummary>> {
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
        None => cfg.train(&mlp::RunOptions {
            quick: false,
            device: parse_device(a.device)?,
            out_root: a.out.to_path_buf(),
            data_dir: data::default_data_dir(),
            fresh: a.fresh,
            shard,
            queue: false,
        }),
    }
}

/// Rank `cfg`'s trials into `<out>/<experiment>/search.csv` and print the best three.
fn rank(a: &SearchArgs, ex: &Expanded, cfg: &Resolved, runs: &[RunSummary]) -> Result<Vec<Ranked>> {
    let ranked = ex.rank(cfg, runs)?;
    let csv = a.out.join(cfg.experiment()).join("search.csv");
    write_csv(&csv, &ex.ranking(), &ranked)?;
    eprintln!(
        "{}: trials ranked on validation in {}",
        cfg.experiment(),
        csv.display()
    );
    print_best(&ex.ranking(), &ranked, 3);
    Ok(ranked)
}
