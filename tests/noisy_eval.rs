//! test_error_noisy: the code's Fig. 2 metric, scored on the noisy output, beside the clean one.
mod common;
use common::{result, run, tmp_dir};

#[test]
fn noisy_test_error_is_logged_beside_the_clean_one_and_grows_with_sigma() {
    let out = tmp_dir("noisy-eval");
    let runs = run(
        r#"
experiment: noisy
task: classify
data: { dataset: synthetic-mnist, train_size: 1000, test_size: 300 }
network: { sizes: [784, 30, 20, 10], activations: [sigmoid, sigmoid, identity] }
training: { iterations: 300, batch_size: 20, log_every: 100, eval_every: 150, seeds: [0], test_error_noisy: true }
runs:
  - { rule: np, lr: 0.005, sigma: [1.0e-4, 3.0], solver: ridge, warmup: 100 }
  - { rule: bp, lr: 0.005 }
"#,
        &out,
    );
    let (tiny, huge, bp) = (&runs[0], &runs[1], &runs[2]);
    let clean = result(tiny, "final_test_error");
    assert!(
        clean < 0.5,
        "the network should learn the synthetic task: {clean}"
    );
    assert_eq!(
        result(tiny, "final_test_error_noisy"),
        clean,
        "σ = 1e-4 cannot flip a prediction here"
    );
    assert!(
        result(huge, "final_test_error_noisy") > result(huge, "final_test_error") + 0.1,
        "σ = 3 noise must hurt the noisy score: {:?}",
        huge.results
    );
    assert!(
        !bp.results.contains_key("final_test_error_noisy"),
        "bp has no node-perturbation noise"
    );
}
