//! The two batch scripts `credit submit` writes, and running `sbatch`.
//!
//! `array.sbatch` has one array task per shard. Each task runs `credit run` on the frozen
//! config in the background and waits; a trap forwards USR1 (Slurm's warning before the time
//! limit or preemption, `--signal=B:USR1@120`) and TERM (`scancel`, `scontrol requeue`) to it.
//! The run checkpoints and exits with [`EXIT_CHECKPOINTED`]; after a USR1 the script then
//! requeues its own task, which reruns the same command and resumes from the checkpoint.
//! `collect.sbatch` runs `credit collect` once the whole array has ended (`afterany`).
use anyhow::{bail, Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The exit code of a run that checkpointed on a signal (EX_TEMPFAIL): rerun to resume.
pub const EXIT_CHECKPOINTED: i32 = 75;
/// Seconds before the time limit at which Slurm sends USR1 to the batch shell.
pub const SIGNAL_LEAD_S: u32 = 120;

/// Everything the scripts say; paths are absolute.
#[derive(Debug, Clone)]
pub struct Plan {
    pub experiment: String,
    /// The `credit` binary the tasks run.
    pub credit: PathBuf,
    /// The frozen copy of the config (`<exp>/slurm/config.yaml`).
    pub config: PathBuf,
    pub quick: bool,
    /// Results root (`--out`).
    pub out: PathBuf,
    /// `<out>/<experiment>`.
    pub exp_dir: PathBuf,
    /// The working folder of every task (the folder `credit submit` ran in: data/ is there).
    pub workdir: PathBuf,
    pub shards: usize,
    pub max_parallel: Option<usize>,
    pub partition: Option<String>,
    pub account: Option<String>,
    pub time: Option<String>,
    pub gpus_per_task: Option<u32>,
    pub cpus_per_task: Option<u32>,
    pub mem: Option<String>,
    pub sbatch_args: Vec<String>,
}

impl Plan {
    pub fn slurm_dir(&self) -> PathBuf {
        self.exp_dir.join("slurm")
    }
    pub fn log_dir(&self) -> PathBuf {
        self.slurm_dir().join("logs")
    }
    pub fn uses_gpus(&self) -> bool {
        self.gpus_per_task.is_some_and(|g| g > 0)
    }
}

/// A word for bash: as is when it is plain, else in single quotes.
pub fn sh_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str()
        .with_context(|| format!("{}: the path is not UTF-8", p.display()))
}

/// `#SBATCH` lines are split on blanks by Slurm and `%` starts a pattern in file names:
/// refuse paths that would be misread, rather than submit jobs that write elsewhere.
pub fn check_path_for_sbatch(p: &Path) -> Result<()> {
    let s = path_str(p)?;
    if let Some(c) = s
        .chars()
        .find(|c| c.is_whitespace() || "%'\"\\$`".contains(*c))
    {
        bail!(
            "{s}: Slurm cannot take a path with {c:?} in a batch script; choose an --out \
             folder (and a working folder) without blanks, quotes, '$' or '%'"
        );
    }
    Ok(())
}

/// The scheduling options both scripts share.
fn common_directives(p: &Plan, s: &mut String) {
    if let Some(v) = &p.partition {
        let _ = writeln!(s, "#SBATCH --partition={v}");
    }
    if let Some(v) = &p.account {
        let _ = writeln!(s, "#SBATCH --account={v}");
    }
    let _ = writeln!(s, "#SBATCH --chdir={}", p.workdir.display());
}

pub fn array_script(p: &Plan) -> Result<String> {
    let n = p.shards;
    let mut s = String::new();
    let _ = writeln!(s, "#!/bin/bash");
    let _ = writeln!(
        s,
        "# Written by `credit submit`: experiment {}, one array task per shard ({n} shards).",
        p.experiment
    );
    let _ = writeln!(
        s,
        "# Rerun one shard i with: sbatch --array=i {}",
        p.slurm_dir().join("array.sbatch").display()
    );
    let _ = writeln!(s, "#SBATCH --job-name=credit-{}", p.experiment);
    match p.max_parallel {
        Some(k) => {
            let _ = writeln!(s, "#SBATCH --array=0-{}%{k}", n - 1);
        }
        None => {
            let _ = writeln!(s, "#SBATCH --array=0-{}", n - 1);
        }
    }
    let _ = writeln!(s, "#SBATCH --requeue");
    let _ = writeln!(s, "#SBATCH --signal=B:USR1@{SIGNAL_LEAD_S}");
    // Append, so that a requeued task's log keeps what its earlier attempts said.
    let _ = writeln!(s, "#SBATCH --open-mode=append");
    let _ = writeln!(s, "#SBATCH --output={}/%A_%a.out", p.log_dir().display());
    let _ = writeln!(s, "#SBATCH --error={}/%A_%a.out", p.log_dir().display());
    common_directives(p, &mut s);
    if let Some(v) = &p.time {
        let _ = writeln!(s, "#SBATCH --time={v}");
    }
    if let Some(v) = p.gpus_per_task {
        let _ = writeln!(s, "#SBATCH --gpus-per-task={v}");
    }
    let _ = writeln!(s, "#SBATCH --ntasks=1");
    if let Some(v) = p.cpus_per_task {
        let _ = writeln!(s, "#SBATCH --cpus-per-task={v}");
    }
    if let Some(v) = &p.mem {
        let _ = writeln!(s, "#SBATCH --mem={v}");
    }
    for a in &p.sbatch_args {
        let _ = writeln!(s, "#SBATCH {a}");
    }

    let mut run = vec![
        sh_quote(path_str(&p.credit)?),
        "run".to_string(),
        sh_quote(path_str(&p.config)?),
    ];
    if p.quick {
        run.push("--quick".into());
    }
    run.extend([
        "--out".into(),
        sh_quote(path_str(&p.out)?),
        "--shard".into(),
        format!("\"$shard/{n}\""),
        "--device".into(),
        if p.uses_gpus() { "cuda" } else { "cpu" }.into(),
        "--threads".into(),
        "\"${SLURM_CPUS_PER_TASK:-1}\"".into(),
    ]);
    if let Some(engine) = crate::mlp::engine::command_line() {
        run.extend(["--engine".into(), engine.name().into()]);
    }
    let _ = write!(
        s,
        r#"
set -u
shard="${{SLURM_ARRAY_TASK_ID:?submit this script with sbatch: it is a job array}}"
echo "credit-sbatch: shard $shard/{n} of {exp}, job ${{SLURM_JOB_ID:-?}} (array ${{SLURM_ARRAY_JOB_ID:-?}}) on $(hostname), restart ${{SLURM_RESTART_COUNT:-0}}, $(date -u +%FT%TZ)"

# Slurm signals this shell (USR1 before the time limit or preemption; TERM on scancel or
# `scontrol requeue`); the run checkpoints on either and exits {code}.
child=
usr1=0
interrupted=0
forward() {{
    interrupted=1
    [ "$1" = USR1 ] && usr1=1
    echo "credit-sbatch: got SIG$1; passing it to credit (pid ${{child:-none}})"
    [ -n "$child" ] && kill -s "$1" "$child" 2>/dev/null
}}
trap 'forward USR1' USR1
trap 'forward TERM' TERM
trap 'forward INT' INT

{run} &
child=$!
# A trapped signal ends `wait` early (status > 128): then wait again for credit's own status.
while :; do
    interrupted=0
    wait "$child"
    code=$?
    [ "$interrupted" = 1 ] && [ "$code" -gt 128 ] || break
done
echo "credit-sbatch: credit exited with code $code"

if [ "$code" -eq {code} ] && [ "$usr1" = 1 ]; then
    echo "credit-sbatch: checkpointed after SIGUSR1; requeueing job $SLURM_JOB_ID to resume"
    scontrol requeue "$SLURM_JOB_ID" && exit 0
    echo "credit-sbatch: scontrol requeue failed; rerun this shard by hand to resume"
fi
exit "$code"
"#,
        n = n,
        exp = p.experiment,
        code = EXIT_CHECKPOINTED,
        run = run.join(" "),
    );
    Ok(s)
}

pub fn collect_script(p: &Plan) -> Result<String> {
    let mut s = String::new();
    let _ = writeln!(s, "#!/bin/bash");
    let _ = writeln!(
        s,
        "# Written by `credit submit`: collects experiment {} once its array job has ended.",
        p.experiment
    );
    let _ = writeln!(s, "#SBATCH --job-name=credit-{}-collect", p.experiment);
    let _ = writeln!(
        s,
        "#SBATCH --output={}/collect_%j.out",
        p.log_dir().display()
    );
    let _ = writeln!(
        s,
        "#SBATCH --error={}/collect_%j.out",
        p.log_dir().display()
    );
    common_directives(p, &mut s);
    let _ = writeln!(s, "#SBATCH --ntasks=1");
    let _ = writeln!(s, "#SBATCH --cpus-per-task=1");
    let _ = write!(
        s,
        "\nexec {} collect {}\n",
        sh_quote(path_str(&p.credit)?),
        sh_quote(path_str(&p.exp_dir)?)
    );
    Ok(s)
}

/// Where `name` is on PATH, if anywhere.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// An sbatch command line, as words.
pub fn sbatch_command(extra: &[String], script: &Path) -> Vec<String> {
    let mut words = vec!["sbatch".to_string(), "--parsable".to_string()];
    words.extend(extra.iter().cloned());
    words.push(script.display().to_string());
    words
}

/// Run sbatch; return the job id. A refusal carries Slurm's own words and the command.
pub fn run_sbatch(sbatch: &Path, words: &[String]) -> Result<String> {
    let shown = words
        .iter()
        .map(|w| sh_quote(w))
        .collect::<Vec<_>>()
        .join(" ");
    let output = Command::new(sbatch)
        .args(&words[1..])
        .output()
        .with_context(|| format!("could not start {}: {shown}", sbatch.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        let mut hint = String::new();
        if stderr.to_lowercase().contains("partition") {
            hint = "\n(`sinfo -s` lists this cluster's partitions; choose one with --partition)"
                .into();
        }
        bail!(
            "sbatch failed ({}):\n{}\ncommand: {shown}{hint}",
            output.status,
            stderr.trim_end()
        );
    }
    // --parsable prints "jobid" or "jobid;cluster".
    let id = stdout
        .lines()
        .last()
        .and_then(|l| l.split(';').next())
        .map(str::trim)
        .unwrap_or("");
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        bail!(
            "sbatch printed no job id (stdout {:?}, stderr {:?})\ncommand: {shown}",
            stdout.trim(),
            stderr.trim()
        );
    }
    Ok(id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("/a/b-c.yaml"), "/a/b-c.yaml");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(sh_quote(""), "''");
    }

    #[test]
    fn paths_slurm_would_misread_are_refused() {
        assert!(check_path_for_sbatch(Path::new("/tmp/ok-dir_1")).is_ok());
        for bad in ["/tmp/a b", "/tmp/100%", "/tmp/$HOME"] {
            assert!(check_path_for_sbatch(Path::new(bad)).is_err(), "{bad}");
        }
    }
}
