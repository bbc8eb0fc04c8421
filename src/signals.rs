//! SIGTERM, SIGINT and SIGUSR1 (what a scheduler sends before preemption or the time limit)
//! ask a run to checkpoint and stop: the handler only sets a flag, which the run loops poll
//! between steps.
use std::sync::atomic::{AtomicI32, Ordering};

/// Exit status of a run stopped by a signal after checkpointing (EX_TEMPFAIL: "try again").
/// A scheduler that sees it requeues the task; rerunning the same command resumes.
pub const EXIT_CHECKPOINTED: i32 = 75;

static RECEIVED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    RECEIVED.store(sig, Ordering::SeqCst);
}

/// Route the three signals to the flag (idempotent).
pub fn install() {
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGUSR1] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(sig, on_signal as *const () as libc::sighandler_t);
        }
    }
}

/// The name of the signal received since start, if any.
pub fn received() -> Option<&'static str> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        libc::SIGTERM => Some("SIGTERM"),
        libc::SIGINT => Some("SIGINT"),
        libc::SIGUSR1 => Some("SIGUSR1"),
        _ => Some("a signal"),
    }
}

/// The error a run returns after checkpointing on a signal; `main` turns it into
/// [`EXIT_CHECKPOINTED`].
#[derive(Debug)]
pub struct Checkpointed {
    /// The iteration checkpointed at; None for `--jobs`, whose shards each stopped at their own.
    pub iteration: Option<u64>,
    pub signal: &'static str,
}

impl std::fmt::Display for Checkpointed {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self.iteration {
            Some(k) => write!(
                f,
                "{}: checkpointed at iteration {k}; rerun the same command to resume",
                self.signal
            ),
            None => write!(
                f,
                "{}: every shard checkpointed; rerun the same command to resume",
                self.signal
            ),
        }
    }
}

impl std::error::Error for Checkpointed {}

/// For commands that only print (`credit status | head`): a reader that closes the pipe ends
/// the process quietly, as it ends `ls`, instead of a panic in `println!`. Never for training
/// commands, which must reach their checkpoint.
pub fn exit_quietly_on_closed_pipe() {
    // SAFETY: restoring the default disposition of one signal; no handler runs.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}
