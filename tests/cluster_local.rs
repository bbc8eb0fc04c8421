//! scripts/slurm-local.sh: two clusters side by side on their own ports, each running jobs,
//! and `stop` ending only its own daemons.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm-local.sh")
}

fn local(args: &[&str]) -> Output {
    Command::new(script())
        .args(args)
        .env_remove("SLURM_CONF")
        .env("SLURM_LOCAL_OWNER_PID", std::process::id().to_string())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn conf_value(dir: &Path, key: &str) -> String {
    let conf = std::fs::read_to_string(dir.join("slurm.conf")).unwrap();
    conf.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in slurm.conf"))
        .to_string()
}

fn pids(dir: &Path) -> Vec<u32> {
    ["munged", "slurmctld", "slurmd"]
        .iter()
        .map(|n| {
            std::fs::read_to_string(dir.join("pids").join(n))
                .unwrap_or_else(|_| panic!("no pid file for {n}"))
                .trim()
                .parse()
                .unwrap()
        })
        .collect()
}

/// Alive and not a zombie.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s.rsplit(')').next().unwrap_or("").split_whitespace().next();
            state != Some("Z")
        })
        .unwrap_or(false)
}

fn sbatch_wrap(dir: &Path) -> Output {
    Command::new("sbatch")
        .args(["--parsable", "--wait", "-o", "/dev/null", "--wrap", "true"])
        .env("SLURM_CONF", dir.join("slurm.conf"))
        .output()
        .unwrap()
}

#[test]
fn two_local_clusters_run_side_by_side_and_stop_ends_only_its_own_daemons() {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("slurm-local-two");
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let (a, b) = (base.join("a"), base.join("b"));
    let start_a = local(&["start", a.to_str().unwrap()]);
    assert!(
        start_a.status.success(),
        "{}\nThis test needs Slurm: `make setup-slurm` installs it.",
        text(&start_a)
    );
    let start_b = local(&["start", b.to_str().unwrap()]);
    assert!(start_b.status.success(), "{}", text(&start_b));
    assert_eq!(
        String::from_utf8_lossy(&start_a.stdout).trim(),
        format!("export SLURM_CONF={}/slurm.conf", a.display())
    );
    // Starting over a running cluster is refused.
    let again = local(&["start", a.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(text(&again).contains("already runs"), "{}", text(&again));

    for key in ["SlurmctldPort", "SlurmdPort"] {
        assert_ne!(conf_value(&a, key), conf_value(&b, key), "{key}");
    }
    assert_ne!(conf_value(&a, "ClusterName"), conf_value(&b, "ClusterName"));
    for dir in [&a, &b] {
        let o = sbatch_wrap(dir);
        assert!(
            o.status.success(),
            "a job on {}: {}",
            dir.display(),
            text(&o)
        );
    }

    let (pa, pb) = (pids(&a), pids(&b));
    let stop_a = local(&["stop", a.to_str().unwrap()]);
    assert!(stop_a.status.success(), "{}", text(&stop_a));
    assert!(
        text(&stop_a).contains("stopped slurmctld"),
        "{}",
        text(&stop_a)
    );
    assert!(
        pa.iter().all(|&p| !alive(p)),
        "a's daemons outlived stop: {pa:?}"
    );
    assert!(pb.iter().all(|&p| alive(p)), "stopping a touched b: {pb:?}");
    let status_a = local(&["status", a.to_str().unwrap()]);
    assert!(!status_a.status.success());
    assert!(text(&status_a).contains("slurmctld: not running"));

    let status_b = local(&["status", b.to_str().unwrap()]);
    assert!(status_b.status.success(), "{}", text(&status_b));
    assert!(text(&status_b).contains("idle"), "{}", text(&status_b));
    let o = sbatch_wrap(&b);
    assert!(o.status.success(), "b after a stopped: {}", text(&o));

    let stop_b = local(&["stop", b.to_str().unwrap()]);
    assert!(stop_b.status.success(), "{}", text(&stop_b));
    assert!(
        pb.iter().all(|&p| !alive(p)),
        "b's daemons outlived stop: {pb:?}"
    );
    // A second stop finds nothing to do.
    let o = local(&["stop", b.to_str().unwrap()]);
    assert!(text(&o).contains("nothing was running"), "{}", text(&o));
}

#[test]
fn stop_refuses_a_folder_it_did_not_make() {
    let o = local(&["stop", env!("CARGO_TARGET_TMPDIR")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("not a folder made by"), "{}", text(&o));
}
