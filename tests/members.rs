//! Batched members against the same runs trained alone, and run-to-run determinism.
mod common;
use common::{run, tmp_dir};
use std::path::Path;

const GROUP: &str = r#"
experiment: members
task: classify
data: { dataset: synthetic-mnist, train_size: 640, test_size: 100 }
network: { sizes: [784, 20, 12, 10], activations: [sigmoid, tanh, identity] }
training: { iterations: 150, batch_size: 16, log_every: 50, eval_every: 75, seeds: SEEDS }
runs:
  - { rule: np, lr: 0.002, sigma: 0.01, solver: ridge, warmup: 20 }
  - { rule: np_dfa, lr: 0.002, sigma: 0.01, solver: sgd, lr_b: 0.0005 }
  - { rule: matched, lr: 0.01, optimizer: adam }
"#;

fn values(dir: &Path, run: &str) -> Vec<(String, f64)> {
    let text = std::fs::read_to_string(dir.join(run).join("metrics.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let (key, v) = l.rsplit_once(',').unwrap();
            (key.to_string(), v.parse().unwrap())
        })
        .collect()
}

#[test]
fn members_match_the_same_runs_trained_alone() {
    let together = tmp_dir("members-together");
    run(&GROUP.replace("SEEDS", "[4, 5, 6]"), &together);
    for seed in [4, 5, 6] {
        let alone = tmp_dir(&format!("members-alone-{seed}"));
        run(&GROUP.replace("SEEDS", &format!("[{seed}]")), &alone);
        for rule in ["np", "np_dfa", "matched"] {
            let name = format!("{rule}-seed{seed}");
            let a = values(&together.join("members"), &name);
            let b = values(&alone.join("members"), &name);
            assert_eq!(a.len(), b.len(), "{name}: different metric rows");
            assert!(a.len() > 20, "{name}: too few metrics to compare");
            for ((ka, va), (kb, vb)) in a.iter().zip(&b) {
                assert_eq!(ka, kb);
                let tol = 1e-4 * va.abs().max(1.0);
                assert!(
                    (va - vb).abs() <= tol,
                    "{name} {ka}: together {va}, alone {vb}"
                );
            }
        }
    }
}

#[test]
fn the_same_seed_gives_identical_csvs() {
    let (a, b) = (tmp_dir("determinism-a"), tmp_dir("determinism-b"));
    let config = GROUP.replace("SEEDS", "[1, 2]");
    run(&config, &a);
    run(&config, &b);
    for run in ["np-seed1", "np-seed2", "np_dfa-seed1", "matched-seed2"] {
        let read =
            |d: &Path| std::fs::read(d.join("members").join(run).join("metrics.csv")).unwrap();
        assert_eq!(
            read(&a),
            read(&b),
            "{run}: metrics.csv differs between identical runs"
        );
    }
    // And a different seed gives a different run (guards against ignoring the seed).
    assert_ne!(
        values(&a.join("members"), "np-seed1"),
        values(&a.join("members"), "np-seed2")
    );
}
