//! Progress for long work: an indicatif bar on a terminal, periodic plain lines otherwise.
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static QUIET: AtomicBool = AtomicBool::new(false);

/// Silence progress output (benchmarks time many short trainings).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

pub struct Progress {
    bar: Option<ProgressBar>,
    label: String,
    total: u64,
    start: Instant,
    last_line: Instant,
}

impl Progress {
    pub fn new(label: &str, total: u64) -> Self {
        let bar = (std::io::stderr().is_terminal() && !quiet()).then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} {per_sec} ETA {eta} {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(label.to_string());
            bar
        });
        let now = Instant::now();
        Self {
            bar,
            label: label.to_string(),
            total,
            start: now,
            last_line: now,
        }
    }

    pub fn set(&mut self, pos: u64) {
        match &self.bar {
            Some(bar) => bar.set_position(pos),
            None if !quiet() && self.last_line.elapsed() >= Duration::from_secs(15) => {
                self.last_line = Instant::now();
                let secs = self.start.elapsed().as_secs_f64();
                let rate = pos as f64 / secs.max(1e-9);
                let eta = (self.total.saturating_sub(pos)) as f64 / rate.max(1e-9);
                eprintln!(
                    "{}: {pos}/{} iterations, {rate:.0} it/s, ETA {eta:.0} s",
                    self.label, self.total
                );
            }
            None => {}
        }
    }

    /// A status line: beside the bar on a terminal, else printed (e.g. once per epoch).
    pub fn message(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.set_message(line),
            None if !quiet() => eprintln!("{}: {line}", self.label),
            None => {}
        }
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
        if !quiet() {
            eprintln!(
                "{}: done in {:.1} s",
                self.label,
                self.start.elapsed().as_secs_f64()
            );
        }
    }
}
