//! One local Slurm cluster per test binary (scripts/slurm-local.sh), shared by that binary's
//! tests (they run as parallel threads) and stopped when the binary exits. Include it with
//! `#[path = "common/slurm.rs"] mod slurm;`.
//!
//! Slurm is never optional here: `make test` installs it (scripts/setup-slurm.sh). When it is
//! missing or does not start, the tests that need it fail and say why.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub struct Cluster {
    /// The cluster's folder (slurm.conf, logs, state).
    pub dir: PathBuf,
    pub conf: PathBuf,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm-local.sh")
}

/// The cluster of this test binary, started on first use.
pub fn cluster() -> &'static Cluster {
    match CLUSTER.get_or_init(start) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

fn start() -> Result<Cluster, String> {
    let t = Instant::now();
    let out = Command::new(script())
        .arg("start")
        // The script's watcher stops the cluster if this process dies without exiting.
        .env("SLURM_LOCAL_OWNER_PID", std::process::id().to_string())
        .env_remove("SLURM_CONF")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script().display()))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!(
            "the local Slurm cluster did not start ({} start):\n{stderr}\nThese tests need Slurm: \
             `make setup-slurm` (scripts/setup-slurm.sh) installs slurm-wlm and munge.",
            script().display()
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let conf = stdout
        .lines()
        .find_map(|l| l.strip_prefix("export SLURM_CONF="))
        .ok_or_else(|| format!("slurm-local.sh start printed no SLURM_CONF: {stdout}"))?;
    let conf = PathBuf::from(conf.trim());
    let dir = conf.parent().unwrap().to_path_buf();
    unsafe {
        libc::atexit(stop_at_exit);
    }
    eprintln!(
        "local Slurm up in {} ({:.1} s)",
        dir.display(),
        t.elapsed().as_secs_f64()
    );
    Ok(Cluster { dir, conf })
}

extern "C" fn stop_at_exit() {
    if let Some(Ok(c)) = CLUSTER.get() {
        let _ = Command::new(script()).arg("stop").arg(&c.dir).output();
        let _ = std::fs::remove_dir_all(&c.dir);
    }
}

/// A Slurm client command (sbatch, squeue, scontrol, ...) aimed at this binary's cluster.
pub fn slurm(program: &str) -> Command {
    let mut c = Command::new(program);
    c.env("SLURM_CONF", &cluster().conf);
    c
}

/// Run a Slurm client; panic with its output when it fails.
pub fn slurm_ok(program: &str, args: &[&str]) -> String {
    let out = slurm(program)
        .args(args)
        .output()
        .expect("run a Slurm client");
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `credit` with SLURM_CONF set to this binary's cluster.
pub fn credit() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_credit"));
    c.env("SLURM_CONF", &cluster().conf);
    c
}

/// The job ids `credit submit` printed: (array job, collect job).
pub fn submitted_ids(out: &Output) -> (String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("submitted array job "))
        .unwrap_or_else(|| panic!("no job ids in credit submit's output:\n{stdout}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let array = words[3].to_string();
    let collect_at = words.iter().position(|w| *w == "collect").unwrap() + 2;
    (array, words[collect_at].to_string())
}

/// One line per job still known to squeue for these ids ("" when all are gone).
pub fn squeue(ids: &[&str]) -> String {
    slurm_ok("squeue", &["-h", "-j", &ids.join(","), "-o", "%i %T %r"])
}

/// The state of a job by `scontrol show job` (COMPLETED, FAILED, ...).
pub fn job_states(id: &str) -> Vec<String> {
    let text = slurm_ok("scontrol", &["-o", "show", "job", id]);
    text.lines()
        .filter_map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("JobState="))
                .map(str::to_string)
        })
        .collect()
}

/// Wait until none of these jobs is pending or running; panic after `limit`, with the
/// queue and the cluster's log tail.
pub fn wait_for(ids: &[&str], limit: Duration) {
    let t = Instant::now();
    loop {
        let q = squeue(ids);
        if q.trim().is_empty() {
            return;
        }
        if t.elapsed() > limit {
            let log = std::fs::read_to_string(cluster().dir.join("log/slurmctld.log"))
                .unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            panic!(
                "jobs {ids:?} still queued after {limit:?}:\n{q}\nslurmctld.log (last lines, newest first):\n{}",
                tail.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
