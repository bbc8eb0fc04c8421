//! The report's table for the comparisons beyond the paper (`peers-*`, `rules-*`): per
//! condition, the final and best test accuracy, the top layer's weight and delta angles and
//! the wall time per run-step, beside Akrout et al. 2019's published values where the
//! experiment is one of their benchmarks; under it, which rule learns best, which aligns best
//! and which costs least.
use super::aggregate::MeanSe;
use super::figures::Results;
use super::md::{md_table, stat_cell};

/// One rule's published result: final test accuracy (%), and the hidden→out weight angle and
/// delta angle (degrees) where published.
struct Published {
    rule: &'static str,
    accuracy: f64,
    weight_angle: Option<f64>,
    delta_angle: Option<f64>,
}

const fn row(rule: &'static str, accuracy: f64, angles: Option<(f64, f64)>) -> Published {
    let (weight_angle, delta_angle) = match angles {
        Some((w, d)) => (Some(w), Some(d)),
        None => (None, None),
    };
    Published {
        rule,
        accuracy,
        weight_angle,
        delta_angle,
    }
}

/// Akrout et al. 2019, "Deep learning without weight transport": their code's committed
/// `experiments/*/results.json` (seed 1111, one run each, 400 epochs).
const AKROUT_MNIST: [Published; 4] = [
    row("bp", 98.50, None),
    row("fa", 97.80, Some((40.0, 34.9))),
    row("kp", 98.45, Some((3.6, 3.1))),
    row("wm", 98.49, Some((3.8, 3.2))),
];
const AKROUT_CIFAR10: [Published; 4] = [
    row("bp", 48.18, None),
    row("fa", 42.96, Some((46.5, 48.8))),
    row("kp", 47.57, Some((2.0, 1.7))),
    row("wm", 46.20, Some((9.7, 7.7))),
];

/// The published benchmark an experiment reproduces, by its name.
fn published(experiment: &str) -> Option<(&'static str, &'static [Published])> {
    if experiment.starts_with("peers-mnist") {
        Some(("MNIST 784-500-10", &AKROUT_MNIST))
    } else if experiment.starts_with("peers-cifar10") {
        Some(("CIFAR-10 3072-1000-10", &AKROUT_CIFAR10))
    } else {
        None
    }
}

/// The table, with a line on where the published values come from.
pub fn table(results: &Results, experiment: &str) -> String {
    let reference = published(experiment);
    let mut header = vec![
        "condition",
        "final test accuracy (%)",
        "best test accuracy (%), at iteration",
        "weight angle, top layer (°)",
        "delta angle, top layer (°)",
        "µs / run-step (wall)",
    ];
    if reference.is_some() {
        header.extend([
            "Akrout: accuracy (%)",
            "weight angle (°)",
            "delta angle (°)",
        ]);
    }
    let rows: Vec<Vec<String>> = (results.conditions.iter())
        .map(|c| {
            let accuracy = results.final_value(c, "test_error", None).map(|s| MeanSe {
                mean: 1.0 - s.mean,
                ..s
            });
            let best = (results.series(c, "test_error", None, 100.0).into_iter())
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map_or("—".into(), |(at, e, _)| format!("{:.2}, {at}", 100.0 - e));
            let angle = |m, layer| stat_cell(results.final_value(c, m, layer), 1.0, 1);
            let mut cells = vec![
                format!("`{c}`"),
                stat_cell(accuracy, 100.0, 2),
                best,
                angle("weight_angle", top(results, c, "weight_angle")),
                angle("delta_angle", top(results, c, "delta_angle")),
                step_us(results, c).map_or("—".into(), |us| format!("{us:.0}")),
            ];
            if let Some((_, rows)) = reference {
                let theirs = theirs(results, rows, c);
                let num = |v: Option<f64>, d: usize| v.map_or("—".into(), |v| format!("{v:.d$}"));
                cells.push(num(theirs.map(|p| p.accuracy), 2));
                cells.push(num(theirs.and_then(|p| p.weight_angle), 1));
                cells.push(num(theirs.and_then(|p| p.delta_angle), 1));
            }
            cells
        })
        .collect();
    let mut md = md_table(&header, &rows);
    md.push_str(&format!(
        "\nThe wall time per run-step is the condition's program's training seconds over its \
         iterations and members (one program per condition: its seeds train together), with \
         whatever shared the machine; `credit bench` gives the idle cost.\n{}",
        ranking(results)
    ));
    if let Some((net, _)) = reference {
        md.push_str(&format!(
            "\nAkrout et al. 2019's {net} values are their code's committed results (one run, \
             seed 1111, the last of 400 epochs); ours are the last logged iteration, mean ± s.e. \
             over seeds. The best accuracy is that of the mean curve.\n"
        ));
    }
    if let Some((_, rows)) = reference {
        md.push_str(&differences(results, rows));
    }
    md
}

/// The top layer a condition logs `metric` for: the feedback into the last hidden layer,
/// B^{N+1} in feedback form and D^N in direct form (the same place in the network).
fn top(results: &Results, c: &str, metric: &str) -> Option<u32> {
    let layers = results.layers(metric);
    let logged = |l: &&Option<u32>| results.final_value(c, metric, **l).is_some();
    layers.iter().rev().find(logged).copied().flatten()
}

/// The published row of a condition's rule.
fn theirs<'a>(results: &Results, rows: &'a [Published], c: &str) -> Option<&'a Published> {
    let rule = results.runs.iter().find(|r| r.condition == c)?;
    rows.iter().find(|p| p.rule == rule.rule)
}

/// The conditions more than 0.3 points of accuracy or 3° of an angle from the published
/// values: the differences a reader must have explained.
fn differences(results: &Results, rows: &[Published]) -> String {
    let mut lines = Vec::new();
    for c in &results.conditions {
        let Some(p) = theirs(results, rows, c) else {
            continue;
        };
        let ours = |m: &str| {
            results
                .final_value(c, m, top(results, c, m))
                .map(|s| s.mean)
        };
        let mut beyond = Vec::new();
        if let Some(e) = results.final_value(c, "test_error", None).map(|s| s.mean) {
            let d = 100.0 * (1.0 - e) - p.accuracy;
            if d.abs() > 0.3 {
                beyond.push(format!("accuracy {d:+.2} points"));
            }
        }
        for (name, m, published) in [
            ("weight angle", "weight_angle", p.weight_angle),
            ("delta angle", "delta_angle", p.delta_angle),
        ] {
            if let (Some(a), Some(b)) = (ours(m), published) {
                if (a - b).abs() > 3.0 {
                    beyond.push(format!("{name} {:+.1}°", a - b));
                }
            }
        }
        if !beyond.is_empty() {
            lines.push(format!("- `{c}`: {}", beyond.join(", ")));
        }
    }
    match lines.is_empty() {
        true => "\nEvery published value is matched within 0.3 points of accuracy and 3°.\n".into(),
        false => format!(
            "\nMore than 0.3 points of accuracy or 3° from the published values:\n\n{}\n",
            lines.join("\n")
        ),
    }
}

/// Wall microseconds per run-step of one condition: its program's seconds (every member
/// reports the program's) over iterations × members.
fn step_us(results: &Results, condition: &str) -> Option<f64> {
    let runs: Vec<_> = results
        .runs
        .iter()
        .filter(|r| r.condition == condition)
        .collect();
    let first = runs.first()?;
    let steps = first.iterations as f64 * runs.len() as f64;
    (steps > 0.0 && first.seconds > 0.0).then(|| first.seconds / steps * 1e6)
}

/// One line each: the condition with the best final accuracy, the smallest top-layer weight
/// angle among those that have one, and the smallest and largest wall time per run-step.
fn ranking(results: &Results) -> String {
    let best = |key: &dyn Fn(&str) -> Option<f64>| {
        (results.conditions.iter())
            .filter_map(|c| key(c).filter(|v| v.is_finite()).map(|v| (c, v)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    };
    let error = |c: &str| results.final_value(c, "test_error", None).map(|s| s.mean);
    let angle = |c: &str| {
        let top = top(results, c, "weight_angle");
        results.final_value(c, "weight_angle", top).map(|s| s.mean)
    };
    let cost = |c: &str| step_us(results, c);
    let mut lines = String::new();
    if let Some((c, e)) = best(&error) {
        lines += &format!(
            "\n- Learns best: `{c}`, {:.2}% final test accuracy.\n",
            100.0 * (1.0 - e)
        );
    }
    if let Some((c, a)) = best(&angle) {
        lines += &format!("- Aligns best: `{c}`, B at {a:.1}° from W in the top layer.\n");
    }
    let dearest = best(&|c: &str| cost(c).map(|v| -v));
    if let (Some((c, lo)), Some((d, hi))) = (best(&cost), dearest) {
        lines += &format!(
            "- Cheapest step: `{c}`, {lo:.0} µs; dearest: `{d}`, {:.0} µs.\n",
            -hi
        );
    }
    lines
}
