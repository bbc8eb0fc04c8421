//! The paper's theorems (§3) at small size: with W fixed, learned feedback converges to W.
//! The sizes respect assumption A3 (ẽ ẽᵀ full rank) and keep the regressions well
//! conditioned, so that convergence shows within seconds. Both engines, which draw different
//! noise: the claims must hold for either draw.
mod common;
use common::{result, run, tmp_dir};
use std::path::Path;

/// rel_err of `layer` at `iteration`, read back from a run's metrics.csv.
fn rel_err_at(dir: &Path, run: &str, iteration: u64, layer: usize) -> f64 {
    let text = std::fs::read_to_string(dir.join(run).join("metrics.csv")).unwrap();
    let want = format!("{iteration},rel_err,{layer},");
    let line = text
        .lines()
        .find(|l| l.starts_with(&want))
        .unwrap_or_else(|| panic!("{run}: no {want}"));
    line[want.len()..].parse().unwrap()
}

#[test]
fn ridge_b_of_a_shallow_nonlinear_network_converges_to_w_theorem_1() {
    for engine in ["torch", "fused"] {
        theorem_1(engine);
    }
}

fn theorem_1(engine: &str) {
    let out = tmp_dir(&format!("theorem1-{engine}"));
    let runs = run(
        &format!(
            r#"
experiment: theorem1
task: teacher
data: {{ dataset: gaussian, train_size: 4096, test_size: 256, seed: 2 }}
network: {{ sizes: [10, 6, 4], activations: [tanh, identity] }}
training: {{ iterations: 8000, batch_size: 32, log_every: 2000, eval_every: 8000, seeds: [0], engine: {engine} }}
runs:
  - {{ rule: np, freeze_w: true, sigma: [0.5, 0.001], solver: ridge, gamma: 0.1 }}
  - {{ rule: fa, freeze_w: true }}
"#
        ),
        &out,
    );
    let (coarse, fine, fa) = (&runs[0], &runs[1], &runs[2]);
    let (e_fine, e_coarse, e_fa) = (
        result(fine, "final_rel_err_l2"),
        result(coarse, "final_rel_err_l2"),
        result(fa, "final_rel_err_l2"),
    );
    eprintln!("{engine}: rel_err B^2: sigma 1e-3 {e_fine}, sigma 0.5 {e_coarse}, fa {e_fa}");
    assert!(
        e_fine < 0.05,
        "B of a shallow tanh network should approach W: rel_err {e_fine}"
    );
    assert!(
        e_fine < e_coarse,
        "smaller σ, smaller bias: {e_coarse} → {e_fine}"
    );
    assert!(e_fa > 1.0, "a random B is far from W: {e_fa}");
    assert!(
        result(fine, "final_angle_l1") < 3.0,
        "synthetic ∇W^1 aligns: {}°",
        result(fine, "final_angle_l1")
    );
}

#[test]
fn deep_linear_network_every_b_and_d_converge_theorem_2_corollary_1() {
    for engine in ["torch", "fused"] {
        theorem_2(engine);
    }
}

fn theorem_2(engine: &str) {
    let out = tmp_dir(&format!("theorem2-{engine}"));
    run(
        &format!(
            r#"
experiment: theorem2
task: teacher
data: {{ dataset: gaussian, train_size: 4096, test_size: 256, seed: 3 }}
network: {{ sizes: [10, 8, 3, 6], activations: [identity, identity, identity] }}
training: {{ iterations: 9600, batch_size: 256, log_every: 1600, eval_every: 9600, seeds: [1], engine: {engine} }}
runs:
  - {{ rule: np, freeze_w: true, sigma: 0.001, solver: ridge }}
  - {{ rule: np_dfa, freeze_w: true, sigma: 0.001, solver: ridge }}
  - {{ rule: fa, freeze_w: true }}
"#
        ),
        &out,
    );
    let dir = out.join("theorem2");
    for (form, run, layers) in [("B", "np-seed1", [2, 3]), ("D", "np_dfa-seed1", [1, 2])] {
        for l in layers {
            let (early, late) = (
                rel_err_at(&dir, run, 1600, l),
                rel_err_at(&dir, run, 9600, l),
            );
            eprintln!("{engine}: {form}^{l}: rel_err {early} at 1600 → {late} at 9600");
            assert!(late < 0.12, "{form}^{l}: rel_err {late} against its target");
            assert!(
                late < 0.7 * early,
                "{form}^{l} is not converging: {early} → {late}"
            );
        }
    }
    assert!(
        rel_err_at(&dir, "fa-seed1", 9600, 2) > 0.9,
        "a fixed random B does not converge"
    );
}
