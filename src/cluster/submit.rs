//! `credit submit`: freeze the config, write the batch scripts, submit them.
use super::sbatch::{self, Plan};
use crate::{config, kind, mlp};
use anyhow::{bail, Context, Result};
use serde_yaml::Value;
use std::path::{Path, PathBuf};

/// `credit submit CONFIG ...`: run an experiment as a Slurm job array, one task per shard,
/// then collect it.
#[derive(clap::Args, Debug, Clone)]
pub struct SubmitArgs {
    pub config: PathBuf,
    /// Apply the file's `quick:` block.
    #[arg(long)]
    pub quick: bool,
    /// Results root; the experiment goes to OUT/<experiment>/, the scripts and logs to
    /// OUT/<experiment>/slurm/.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Slurm partition (default: the cluster's default partition).
    #[arg(long)]
    pub partition: Option<String>,
    /// Slurm account to charge.
    #[arg(long)]
    pub account: Option<String>,
    /// Time limit of each array task, in Slurm's format (e.g. 04:00:00 or 1-00:00:00).
    #[arg(long)]
    pub time: Option<String>,
    /// GPUs per array task; with any, tasks run with --device cuda.
    #[arg(long)]
    pub gpus_per_task: Option<u32>,
    /// CPUs per array task; each run uses that many libtorch threads.
    #[arg(long)]
    pub cpus_per_task: Option<u32>,
    /// Memory per array task, in Slurm's format (e.g. 8G).
    #[arg(long)]
    pub mem: Option<String>,
    /// Number of shards (array tasks); default: one.
    #[arg(long)]
    pub shards: Option<usize>,
    /// At most this many array tasks run at once (`--array=...%K`).
    #[arg(long)]
    pub max_parallel: Option<usize>,
    /// One more `#SBATCH` option for the array script, e.g. --sbatch-arg=--qos=long
    /// (repeatable).
    #[arg(long = "sbatch-arg", allow_hyphen_values = true)]
    pub sbatch_arg: Vec<String>,
    /// Write the scripts and print the sbatch commands, but submit nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Start the experiment over: delete OUT/<experiment> (results, checkpoints and an
    /// earlier submission's scripts) before writing.
    #[arg(long)]
    pub fresh: bool,
}

/// What a submission wrote and, unless a dry run, the job ids.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub plan: Plan,
    pub array_job: Option<String>,
    pub collect_job: Option<String>,
}

/// The config as the runs will see it.
struct Resolved {
    /// The YAML with `quick:` applied.
    value: Value,
    experiment: String,
    /// The experiment of its kind: an MLP's batched programs or a CNN's runs are the
    /// units that shards divide.
    config: kind::Resolved,
}

/// Load, apply `quick:` and validate, as `credit run` does.
fn resolve(path: &Path, quick: bool) -> Result<Resolved> {
    let value = config::load_value(path, quick)?;
    let origin = path.display().to_string();
    let config = kind::Resolved::from_value(value.clone(), &origin)?;
    Ok(Resolved {
        value,
        experiment: config.experiment().to_string(),
        config,
    })
}

/// The shard count: `--shards`, else one per batched program (MLP) or per run (CNN).
/// Checked against the experiment as `credit run --shard` checks it, so no task fails on it.
fn shard_count(r: &Resolved, asked: Option<usize>) -> Result<usize> {
    match &r.config {
        kind::Resolved::Mlp(exp, programs) => {
            let n = asked.unwrap_or(programs.len());
            mlp::shard::assign(exp, programs, n)?;
            Ok(n)
        }
        kind::Resolved::Cnn(cfg) => {
            let n = asked.unwrap_or(cfg.runs().len());
            if n == 0 {
                bail!("--shards 0: give at least one shard");
            }
            cfg.shard_runs(Some(mlp::shard::Shard { index: 0, count: n }))?;
            Ok(n)
        }
    }
}

/// Field paths (`training.iterations`, `runs[1].lr`) where two configs differ, with both
/// values.
pub fn differing_fields(old: &Value, new: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff(old, new, String::new(), &mut out);
    out
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => "absent".into(),
        Some(v) => serde_yaml::to_string(v)
            .map(|s| s.trim().replace('\n', " "))
            .unwrap_or_else(|_| format!("{v:?}")),
    }
}

fn diff(a: &Value, b: &Value, at: String, out: &mut Vec<String>) {
    let join = |k: &Value| {
        let key = k
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| show(Some(k)));
        if at.is_empty() {
            key
        } else {
            format!("{at}.{key}")
        }
    };
    match (a, b) {
        (Value::Mapping(x), Value::Mapping(y)) => {
            for (k, va) in x {
                match y.get(k) {
                    Some(vb) => diff(va, vb, join(k), out),
                    None => out.push(format!("{}: {} → absent", join(k), show(Some(va)))),
                }
            }
            for (k, vb) in y {
                if !x.contains_key(k) {
                    out.push(format!("{}: absent → {}", join(k), show(Some(vb))));
                }
            }
        }
        (Value::Sequence(x), Value::Sequence(y)) => {
            for i in 0..x.len().max(y.len()) {
                let here = format!("{at}[{i}]");
                match (x.get(i), y.get(i)) {
                    (Some(va), Some(vb)) => diff(va, vb, here, out),
                    (va, vb) => out.push(format!("{here}: {} → {}", show(va), show(vb))),
                }
            }
        }
        (Value::Tagged(x), Value::Tagged(y)) if x.tag == y.tag => diff(&x.value, &y.value, at, out),
        _ if a == b => {}
        _ => out.push(format!(
            "{}: {} → {}",
            if at.is_empty() { "(top level)" } else { &at },
            show(Some(a)),
            show(Some(b))
        )),
    }
}

/// Refuse a folder that an earlier submission of another config wrote.
fn check_same_config(frozen: &Path, quick: bool, given: &Value, plan: &Plan) -> Result<()> {
    if !frozen.exists() {
        return Ok(());
    }
    let old = resolve(frozen, quick).with_context(|| {
        format!(
            "{} holds an earlier submission whose config no longer loads",
            plan.exp_dir.display()
        )
    })?;
    let fields = differing_fields(&old.value, given);
    if fields.is_empty() {
        return Ok(());
    }
    const SHOWN: usize = 12;
    let mut list: Vec<String> = fields
        .iter()
        .take(SHOWN)
        .map(|f| format!("  {f}"))
        .collect();
    if fields.len() > SHOWN {
        list.push(format!("  ... and {} more", fields.len() - SHOWN));
    }
    bail!(
        "{} already holds experiment {} submitted with another config ({}); the fields that \
         differ (frozen → given):\n{}\nSubmit into another --out folder, or pass --fresh to \
         delete {} and start over.",
        plan.exp_dir.display(),
        plan.experiment,
        frozen.display(),
        list.join("\n"),
        plan.exp_dir.display()
    )
}

/// Make the experiment folder this config's, as `credit run` does: its `experiment.yaml`
/// records the resolved config, and another config's folder is refused (naming the fields
/// that differ) unless `--fresh`, which starts it over.
fn claim_folder(r: &Resolved, plan: &Plan, args: &SubmitArgs) -> Result<()> {
    let exp_dir = &plan.exp_dir;
    // Starting over happens under every MLP program's lock, so no running shard is wiped.
    let _locks = match &r.config {
        kind::Resolved::Mlp(exp, programs) if args.fresh => programs
            .iter()
            .map(|g| crate::mlp::experiment::lock_program(exp_dir, exp, g))
            .collect::<Result<Vec<_>>>()?,
        _ => Vec::new(),
    };
    crate::folder::prepare(exp_dir, &r.config.to_value()?, args.fresh, false).map_err(|e| {
        anyhow::anyhow!("{e:#}\n(credit submit: choose another --out, or pass --fresh)")
    })
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(p).with_context(|| format!("creating {}", p.display()))?;
    p.canonicalize()
        .with_context(|| format!("resolving {}", p.display()))
}

fn check_args(a: &SubmitArgs) -> Result<()> {
    if a.fresh && a.dry_run {
        bail!(
            "--fresh deletes the experiment's results, which a --dry-run never does; leave one out"
        );
    }
    if a.shards == Some(0) {
        bail!("--shards 0: give at least one shard (N ≥ 1)");
    }
    if a.max_parallel == Some(0) {
        bail!("--max-parallel 0: give at least 1 (or leave it out: no limit)");
    }
    if a.cpus_per_task == Some(0) {
        bail!("--cpus-per-task 0: give at least 1");
    }
    for (flag, v) in [
        ("--partition", &a.partition),
        ("--account", &a.account),
        ("--time", &a.time),
        ("--mem", &a.mem),
    ] {
        if let Some(v) = v {
            if v.is_empty() || v.chars().any(char::is_whitespace) {
                bail!("{flag} {v:?}: give one word without blanks");
            }
        }
    }
    for arg in &a.sbatch_arg {
        if !arg.starts_with('-') || arg.contains('\n') {
            bail!("--sbatch-arg {arg:?}: give one sbatch option such as --sbatch-arg=--qos=long");
        }
    }
    Ok(())
}

/// Write the frozen config and both scripts; unless `dry_run`, submit them.
pub fn submit(args: &SubmitArgs, credit: &Path) -> Result<Submitted> {
    check_args(args)?;
    let resolved = resolve(&args.config, args.quick)?;
    let shards = shard_count(&resolved, args.shards)?;
    let (value, experiment) = (&resolved.value, resolved.experiment.clone());
    let sbatch_bin = if args.dry_run {
        None
    } else {
        Some(sbatch::find_on_path("sbatch").with_context(|| {
            "sbatch is not on PATH: this machine has no Slurm client. Run `credit submit` on \
             the cluster's login node, or install Slurm (Debian/Ubuntu: the slurm-wlm package; \
             scripts/setup-slurm.sh installs it, and scripts/slurm-local.sh starts a one-node \
             cluster to try it), or pass --dry-run to write the scripts without submitting"
                .to_string()
        })?)
    };
    let out = absolute(&args.out)?;
    let exp_dir = out.join(&experiment);
    let credit = credit
        .canonicalize()
        .with_context(|| format!("resolving the credit binary {}", credit.display()))?;
    let workdir = std::env::current_dir()?.canonicalize()?;
    let plan = Plan {
        experiment: experiment.clone(),
        credit,
        config: exp_dir.join("slurm").join("config.yaml"),
        quick: args.quick,
        out,
        exp_dir: exp_dir.clone(),
        workdir,
        shards,
        max_parallel: args.max_parallel,
        partition: args.partition.clone(),
        account: args.account.clone(),
        time: args.time.clone(),
        gpus_per_task: args.gpus_per_task,
        cpus_per_task: args.cpus_per_task,
        mem: args.mem.clone(),
        sbatch_args: args.sbatch_arg.clone(),
    };
    for p in [&plan.exp_dir, &plan.workdir, &plan.credit] {
        sbatch::check_path_for_sbatch(p)?;
    }

    if !args.fresh {
        check_same_config(&plan.config, args.quick, value, &plan)?;
    }
    claim_folder(&resolved, &plan, args)?;

    let bytes = std::fs::read(&args.config)
        .with_context(|| format!("reading {}", args.config.display()))?;
    std::fs::create_dir_all(plan.log_dir())
        .with_context(|| format!("creating {}", plan.log_dir().display()))?;
    write_atomic(&plan.config, &bytes)?;
    let array = plan.slurm_dir().join("array.sbatch");
    let collect = plan.slurm_dir().join("collect.sbatch");
    write_atomic(&array, sbatch::array_script(&plan)?.as_bytes())?;
    write_atomic(&collect, sbatch::collect_script(&plan)?.as_bytes())?;
    println!(
        "wrote {} ({} shard{}{}) and {}",
        array.display(),
        shards,
        if shards == 1 { "" } else { "s" },
        plan.max_parallel
            .map(|k| format!(", at most {k} at once"))
            .unwrap_or_default(),
        collect.display()
    );
    println!(
        "frozen config: {} (the tasks run this copy)",
        plan.config.display()
    );

    let array_cmd = sbatch::sbatch_command(&[], &array);
    let Some(sbatch_bin) = sbatch_bin else {
        println!("dry run: nothing submitted. To submit:");
        println!("  {}", array_cmd.join(" "));
        println!(
            "  {}",
            sbatch::sbatch_command(&["--dependency=afterany:<array job id>".into()], &collect)
                .join(" ")
        );
        return Ok(Submitted {
            plan,
            array_job: None,
            collect_job: None,
        });
    };
    let array_id = sbatch::run_sbatch(&sbatch_bin, &array_cmd)?;
    let collect_cmd =
        sbatch::sbatch_command(&[format!("--dependency=afterany:{array_id}")], &collect);
    let collect_id = sbatch::run_sbatch(&sbatch_bin, &collect_cmd).with_context(|| {
        format!(
            "the array job {array_id} is submitted, but its collect job is not; when the array \
             has ended, run `credit collect {}`",
            exp_dir.display()
        )
    })?;
    let record = plan.slurm_dir().join("jobs.txt");
    let mut jobs = std::fs::read_to_string(&record).unwrap_or_default();
    jobs.push_str(&format!(
        "array {array_id} collect {collect_id} shards {shards}\n"
    ));
    write_atomic(&record, jobs.as_bytes())?;
    println!("submitted array job {array_id} (tasks 0-{}) and collect job {collect_id} (after the array)", shards - 1);
    println!("watch:");
    println!("  squeue -j {array_id},{collect_id}");
    println!("  credit status {}", exp_dir.display());
    println!("  logs: {}/", plan.log_dir().display());
    Ok(Submitted {
        plan,
        array_job: Some(array_id),
        collect_job: Some(collect_id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differing_fields_names_paths_and_values() {
        let a: Value = serde_yaml::from_str(
            "training: {iterations: 300, seeds: [0, 1]}\nruns: [{rule: bp, lr: 0.1}]",
        )
        .unwrap();
        let b: Value = serde_yaml::from_str(
            "training: {iterations: 400, seeds: [0, 1, 2]}\nruns: [{rule: bp, lr: 0.1, x: 1}]",
        )
        .unwrap();
        let d = differing_fields(&a, &b);
        assert_eq!(
            d,
            vec![
                "training.iterations: 300 → 400",
                "training.seeds[2]: absent → 2",
                "runs[0].x: absent → 1"
            ]
        );
        assert!(differing_fields(&a, &a).is_empty());
    }
}
