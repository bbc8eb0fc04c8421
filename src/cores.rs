//! libtorch's CPU threads fitted to the cores that other processes leave free.
//!
//! libtorch's OpenMP threads spin while they wait for each other. When another process holds
//! one of their cores, a waiting thread spins through the time slices the working one needs:
//! a 2-thread fig3 program beside one busy process ran 2.9× slower than alone, where one
//! thread would have run 2× slower (docs/PERFORMANCE.md, "Threads"). OpenMP's passive wait
//! policy avoids that but costs 70% alone, and libgomp reads it before `main`. So instead a
//! program asks for as many threads as there are cores nobody else is busy on, measured from
//! /proc/stat (the machine's busy time on this process's cores, less this process's own) and
//! measured again as it runs (`refit`). Where /proc is absent (not Linux) every core counts as
//! free.
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The first measurement's window, and the least time between two fits.
const WINDOW: Duration = Duration::from_millis(100);
const REFIT_EVERY: Duration = Duration::from_secs(2);

/// Busy and total time of this process's cores and this process's own CPU time, in clock
/// ticks, at one instant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub busy: u64,
    pub total: u64,
    pub own: u64,
    /// How many cores `busy` and `total` cover.
    pub cores: usize,
}

struct State {
    last: (Instant, Sample),
    /// The threads the program asked for; libtorch gets min(want, free cores).
    want: i32,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

/// Cores not busy with other processes between two samples, rounded, at least one.
pub fn free_between(a: &Sample, b: &Sample) -> usize {
    let ticks = b.total.saturating_sub(a.total) as f64 / a.cores.max(1) as f64;
    if ticks <= 0.0 {
        return a.cores.max(1);
    }
    let busy = b.busy.saturating_sub(a.busy) as f64;
    let own = b.own.saturating_sub(a.own) as f64;
    let others = ((busy - own) / ticks).max(0.0);
    ((a.cores as f64 - others).round() as usize).clamp(1, a.cores.max(1))
}

/// Set libtorch's CPU threads to `want`, or fewer where other processes hold cores.
pub fn fit(want: i32) {
    let mut state = STATE.lock().unwrap_or_else(|p| p.into_inner());
    let last = match state.as_ref() {
        Some(s) => s.last,
        None => {
            let Some(first) = sample() else {
                return tch::set_num_threads(want);
            };
            std::thread::sleep(WINDOW);
            (Instant::now() - WINDOW, first)
        }
    };
    let threads = apply(want, last.1);
    *state = sample().map(|now| State {
        last: (Instant::now(), now),
        want,
    });
    drop(state);
    tch::set_num_threads(threads);
}

/// Fit the threads again to the cores free since the last fit (at most every 2 s; cheap to
/// call every step).
pub fn refit() {
    let state = STATE.lock().unwrap_or_else(|p| p.into_inner());
    let Some(State { last, want }) = state.as_ref() else {
        return;
    };
    if last.0.elapsed() < REFIT_EVERY {
        return;
    }
    let want = *want;
    drop(state);
    fit(want);
}

/// min(want, free cores since `since`), at least 1.
fn apply(want: i32, since: Sample) -> i32 {
    match sample() {
        Some(now) => want.min(free_between(&since, &now) as i32).max(1),
        None => want,
    }
}

/// This process's cores' busy and total ticks (/proc/stat's lines of the CPUs in its
/// affinity mask) and its own CPU time (/proc/self/stat); None where they cannot be read.
pub fn sample() -> Option<Sample> {
    let mine = affinity()?;
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let (mut busy, mut total, mut cores) = (0, 0, 0);
    for line in stat.lines() {
        let mut fields = line.split_whitespace();
        let Some(cpu) = fields.next().and_then(|f| f.strip_prefix("cpu")) else {
            continue;
        };
        let Ok(n) = cpu.parse::<usize>() else {
            continue; // the line of all CPUs together
        };
        if !mine.contains(&n) {
            continue;
        }
        // user nice system idle iowait irq softirq steal
        let ticks: Vec<u64> = fields.take(8).filter_map(|f| f.parse().ok()).collect();
        if ticks.len() < 8 {
            return None;
        }
        total += ticks.iter().sum::<u64>();
        busy += ticks.iter().sum::<u64>() - ticks[3] - ticks[4];
        cores += 1;
    }
    let own = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command's closing parenthesis: state is the 1st, utime the 12th and
    // stime the 13th (proc(5)'s fields 14 and 15).
    let after: Vec<&str> = own.rsplit_once(')')?.1.split_whitespace().collect();
    let own = after.get(11)?.parse::<u64>().ok()? + after.get(12)?.parse::<u64>().ok()?;
    (cores > 0).then_some(Sample {
        busy,
        total,
        own,
        cores,
    })
}

/// The CPUs this process may run on.
#[cfg(target_os = "linux")]
fn affinity() -> Option<Vec<usize>> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; sched_getaffinity fills it for this
    // process (pid 0) and CPU_ISSET only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return None;
        }
        Some(
            (0..libc::CPU_SETSIZE as usize)
                .filter(|&c| libc::CPU_ISSET(c, &set))
                .collect(),
        )
    }
}

#[cfg(not(target_os = "linux"))]
fn affinity() -> Option<Vec<usize>> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(busy: u64, total: u64, own: u64) -> Sample {
        Sample {
            busy,
            total,
            own,
            cores: 2,
        }
    }

    #[test]
    fn free_cores_are_those_no_other_process_was_busy_on() {
        // 100 ticks per core elapse on 2 cores (200 in all).
        let start = at(0, 0, 0);
        // Idle machine.
        assert_eq!(free_between(&start, &at(0, 200, 0)), 2);
        // Only this process busy, on both cores: both are ours to use.
        assert_eq!(free_between(&start, &at(200, 200, 200)), 2);
        // Another process holds one core; this one used the other.
        assert_eq!(free_between(&start, &at(200, 200, 100)), 1);
        // Others hold both: still one thread.
        assert_eq!(free_between(&start, &at(200, 200, 0)), 1);
        // Another process on 40% of a core rounds to none.
        assert_eq!(free_between(&start, &at(40, 200, 0)), 2);
        // No time elapsed: every core.
        assert_eq!(free_between(&start, &start), 2);
    }

    #[test]
    fn a_sample_reads_this_machine_where_there_is_proc() {
        if !std::path::Path::new("/proc/stat").exists() {
            return;
        }
        let s = sample().expect("a sample from /proc");
        // The affinity mask's cores, no fewer than a cgroup quota may leave usable.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert!(
            s.cores >= cores,
            "{} cores in the mask, {cores} usable",
            s.cores
        );
        assert!(s.busy <= s.total);
    }
}
