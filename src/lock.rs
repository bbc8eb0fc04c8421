//! Exclusive locks on what a process writes (a batched program's run folders), so that two
//! processes never write the same files. `flock` is released by the kernel when the holder
//! dies, so a killed run never leaves a stale lock; the file's text names the last holder.
use anyhow::{bail, Context, Result};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Held until dropped.
pub struct Lock {
    _file: File,
}

/// This process, for the lock file: `pid 123 on host h: credit run configs/x.yaml`.
fn holder() -> String {
    let host = fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "?".into());
    let cmd: Vec<String> = std::env::args().collect();
    format!(
        "pid {} on host {host}: {}",
        std::process::id(),
        cmd.join(" ")
    )
}

impl Lock {
    /// Take the lock at `path` now or fail, naming the process that holds it. `what` says
    /// what is being locked, for the message.
    pub fn acquire(path: &Path, what: &str) -> Result<Lock> {
        match Self::try_acquire(path)? {
            Some(lock) => Ok(lock),
            None => {
                let by = fs::read_to_string(path).unwrap_or_default();
                bail!(
                    "{what} is being written by another process ({}); wait for it to finish or \
                     stop it, or write elsewhere with --out (lock: {})",
                    if by.trim().is_empty() {
                        "unknown holder"
                    } else {
                        by.trim()
                    },
                    path.display()
                );
            }
        }
    }

    /// Take the lock at `path` now, or None while another process holds it (a queue's
    /// workers skip a program a sibling is training).
    pub fn try_acquire(path: &Path) -> Result<Option<Lock>> {
        let mut file = open(path)?;
        // SAFETY: flock on a file descriptor we own.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::WouldBlock {
                return Ok(None);
            }
            bail!("locking {}: {err}", path.display());
        }
        file.set_len(0)?;
        file.write_all(holder().as_bytes())?;
        file.flush()?;
        Ok(Some(Lock { _file: file }))
    }

    /// Take the lock at `path`, waiting while another process holds it: for short critical
    /// sections, such as two shards claiming their experiment folder at the same moment.
    pub fn wait(path: &Path) -> Result<Lock> {
        let file = open(path)?;
        // SAFETY: flock on a file descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            let err = std::io::Error::last_os_error();
            bail!("locking {}: {err}", path.display());
        }
        Ok(Lock { _file: file })
    }

    /// Whether some live process holds the lock at `path` (for `credit status`).
    pub fn is_held(path: &Path) -> bool {
        let Ok(file) = File::open(path) else {
            return false;
        };
        // SAFETY: as above; a shared probe that is released at once.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
        if rc == 0 {
            unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
        }
        rc != 0
    }
}

/// Open (or create) the lock file at `path`, and its folder.
fn open(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("opening lock file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.lock");
        let first = Lock::acquire(&path, "program p").unwrap();
        assert!(Lock::is_held(&path));
        // flock locks belong to open file descriptions: a second open in this process conflicts.
        let err = Lock::acquire(&path, "program p").err().unwrap().to_string();
        assert!(
            err.contains("program p is being written by another process"),
            "{err}"
        );
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        assert!(!Lock::is_held(&path));
        Lock::acquire(&path, "program p").unwrap();
    }

    #[test]
    fn wait_blocks_until_the_holder_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locks").join("folder.lock");
        let first = Lock::wait(&path).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = {
            let path = path.clone();
            std::thread::spawn(move || {
                let _second = Lock::wait(&path).unwrap();
                tx.send(()).unwrap();
            })
        };
        let early = rx.recv_timeout(std::time::Duration::from_millis(300));
        assert!(
            early.is_err(),
            "the second waiter got the lock while the first held it"
        );
        drop(first);
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the second waiter gets the lock once the first lets go");
        waiter.join().unwrap();
    }
}
