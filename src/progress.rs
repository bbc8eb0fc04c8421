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
    /// Where this process started (a resumed run starts past 0): the rate counts from here.
    from: u64,
    start: Instant,
    last_line: Instant,
}

impl Progress {
    /// Progress of `total` steps, this process starting at step `from`.
    pub fn new(label: &str, total: u64, from: u64) -> Self {
        let bar = (std::io::stderr().is_terminal() && !quiet()).then(|| {
            let bar = ProgressBar::new(total);
            bar.set_position(from);
            bar.reset_eta();
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
            from,
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
                eprintln!("{}", self.line(pos, secs));
            }
            None => {}
        }
    }

    /// `label: pos/total iterations, R it/s, ETA S s`, the rate over this process's steps.
    fn line(&self, pos: u64, secs: f64) -> String {
        let rate = pos.saturating_sub(self.from) as f64 / secs.max(1e-9);
        let eta = self.total.saturating_sub(pos) as f64 / rate.max(1e-9);
        format!(
            "{}: {pos}/{} iterations, {rate:.0} it/s, ETA {eta:.0} s",
            self.label, self.total
        )
    }

    /// A status line: beside the bar on a terminal, else printed (e.g. once per epoch).
    pub fn message(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.set_message(line),
            None if !quiet() => eprintln!("{}: {line}", self.label),
            None => {}
        }
    }

    /// Stopped before the end (a signal, an error): clear the bar and say nothing more; the
    /// caller reports why.
    pub fn stop(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }

    /// The whole run is done.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resumed_run_counts_its_rate_from_where_it_resumed() {
        let p = Progress::new("fig4 np (M=3)", 1_000_000, 300_000);
        // 10,000 steps in 100 s since the resume at 300k: 100 it/s, 690k left: 6900 s.
        assert_eq!(
            p.line(310_000, 100.0),
            "fig4 np (M=3): 310000/1000000 iterations, 100 it/s, ETA 6900 s"
        );
    }
}
