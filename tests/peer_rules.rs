//! The peers' rules (sign symmetry, Kolen–Pollack, weight mirror) against closed forms and
//! against the rules they must reduce to.
mod common;
use credit_assign::metrics::{angle_deg, norm_ratio, rel_err};
use credit_assign::mlp::{sweep, tasks, Trainer};
use credit_assign::nets::activation::Activation;
use credit_assign::nets::init::Init;
use credit_assign::nets::mlp::Mlp;
use credit_assign::rules::{brsf, frsf, usf};
use std::path::Path;
use tch::{Device, Tensor};

fn f(t: &Tensor) -> f64 {
    f64::try_from(t.mean(None::<tch::Kind>)).unwrap()
}

/// W^2 of a 10-1000-1000 net (a 1001 × 1000 matrix) drawn from `init`, with its net.
fn large(init: Init) -> Mlp {
    let acts = [Activation::Tanh, Activation::Identity];
    Mlp::with_init(&[10, 1000, 1000], &acts, &[5], init, Device::Cpu)
}

#[test]
fn sign_symmetry_angles_at_init_are_the_closed_forms() {
    // cos∠(sign W, W) = E|w| / √E w²: √3/2 for uniform W (30.0°), √(2/π) for Gaussian W
    // (37.1°); cos∠(|M| ∘ sign W, W) = E|m| E|w| / √(E m² E w²) = 3/4 for uniform M, W (41.4°).
    let sizes = [10, 1000, 1000];
    let uniform = large(Init::XavierUniform);
    let gaussian = large(Init::HeNormal);
    let w2 = |net: &Mlp| net.w[1].shallow_clone();
    let usf_u = &usf::feedback(&uniform.w, &sizes)[0];
    let usf_g = &usf::feedback(&gaussian.w, &sizes)[0];
    let brsf_u = &brsf::feedback(
        &uniform.w,
        &brsf::Draws::new(&sizes, &[5], Device::Cpu).at(0),
    )[0];
    let frsf_u = &brsf::feedback(&uniform.w, &frsf::draw_once(&sizes, &[5], Device::Cpu))[0];
    let cases = [
        ("usf, uniform W", usf_u, &w2(&uniform), 30.0),
        (
            "usf, Gaussian W",
            usf_g,
            &w2(&gaussian),
            (2.0 / std::f64::consts::PI).sqrt().acos().to_degrees(),
        ),
        (
            "brsf, uniform W",
            brsf_u,
            &w2(&uniform),
            0.75f64.acos().to_degrees(),
        ),
        (
            "frsf, uniform W",
            frsf_u,
            &w2(&uniform),
            0.75f64.acos().to_degrees(),
        ),
    ];
    for (name, b, w, expected) in cases {
        let angle = f(&angle_deg(b, w));
        eprintln!("{name}: {angle:.3}° (closed form {expected:.3}°)");
        // 10⁶ entries: the sampling error of the angle is far below 0.1°.
        assert!(
            (angle - expected).abs() < 0.1,
            "{name}: {angle:.3}° against {expected:.3}°"
        );
    }
    // ||B||/||W|| ≈ 1 with uniform W: uSF's s² and E m² both equal W's variance a²/3.
    for (name, b) in [("usf", usf_u), ("brsf", brsf_u), ("frsf", frsf_u)] {
        let r = f(&norm_ratio(&w2(&uniform), b));
        assert!((r - 1.0).abs() < 0.01, "{name}: ||B||/||W|| = {r}");
    }
}

/// A small classification experiment with one run entry.
fn config(run: &str, iterations: u64) -> String {
    format!(
        "experiment: peer-rules\ntask: classify\n\
         data: {{ dataset: synthetic-mnist, train_size: 400, test_size: 50 }}\n\
         network: {{ sizes: [784, 12, 8, 10], activations: [sigmoid, tanh, sigmoid] }}\n\
         training: {{ iterations: {iterations}, batch_size: 16, log_every: {iterations}, eval_every: {iterations}, seeds: [3, 11] }}\n\
         runs:\n  - {run}\n"
    )
}

fn trainer(run: &str) -> (Trainer, tasks::TaskData) {
    let exp = common::experiment(&config(run, 100));
    let group = &sweep::programs(&exp).unwrap()[0];
    let data = tasks::load(&exp, Path::new("data"), Device::Cpu).unwrap();
    let trainer = Trainer::new(&exp, group, data.train_len(), Device::Cpu).unwrap();
    (trainer, data)
}

fn same_bits(a: &[Tensor], b: &[Tensor]) -> bool {
    a.iter().zip(b).all(|(a, b)| a.equal(b))
}

#[test]
fn kp_with_zero_decay_is_matched_bitwise() {
    for optimizer in ["sgd", "adam"] {
        let (mut kp, data) = trainer(&format!(
            "{{ rule: kp, lr: 0.05, decay: 0.0, optimizer: {optimizer} }}"
        ));
        let (mut matched, _) = trainer(&format!(
            "{{ rule: matched, lr: 0.05, optimizer: {optimizer} }}"
        ));
        for _ in 0..60 {
            kp.step(&data, false);
            matched.step(&data, false);
        }
        assert!(
            same_bits(&kp.net.w, &matched.net.w),
            "{optimizer}: W differs"
        );
        assert!(same_bits(&kp.fb.b, &matched.fb.b), "{optimizer}: B differs");
        assert!(
            !same_bits(&kp.fb.b, &trainer("{ rule: fa, lr: 0.05 }").0.fb.b),
            "B moved"
        );
    }
}

#[test]
fn kp_with_decay_shrinks_w_minus_b_by_exactly_one_minus_lambda_per_step() {
    // W' − B' = (1−λ)W + ΔW − (1−λ)B − ΔW = (1−λ)(W − B), for W^2 and W^3 alike.
    let lambda = 0.02;
    let (mut kp, data) = trainer(&format!("{{ rule: kp, lr: 0.05, decay: {lambda} }}"));
    let gap = |t: &Trainer| -> Vec<Tensor> {
        t.fb.b
            .iter()
            .enumerate()
            .map(|(k, b)| (&t.net.w[k + 1] - b).to_kind(tch::Kind::Double))
            .collect()
    };
    for _ in 0..40 {
        let before = gap(&kp);
        kp.step(&data, false);
        for (after, before) in gap(&kp).iter().zip(&before) {
            let expected = before * (1.0 - lambda);
            let err = f(&rel_err(&expected, after));
            // f32 rounding of W and B (about 1e-7 each); a wrong λ by 1e-3 would give 1e-3.
            assert!(err < 2e-6, "W − B is not (1−λ) times its last value: {err}");
        }
    }
    let (w, b) = (&kp.net.w[2], &kp.fb.b[1]);
    assert!(
        f(&rel_err(w, b)) > 0.1,
        "W and B stay apart after 40 steps at λ = 0.02"
    );
}

#[test]
fn weight_mirror_with_decay_and_w_fixed_converges_to_its_fixed_point() {
    // E[B'] = (1−λ_m) B + η_m σ_m² W → (η_m σ_m²/λ_m) W: here 0.3 · 1 / 0.1 = 3 W.
    let run = "{ rule: wm, freeze_w: true, mirror: decay, mirror_lr: 0.3, mirror_sigma: 1.0, mirror_decay: 0.1, mirror_batch: 4096 }";
    let (mut wm, data) = trainer(run);
    let target = |t: &Trainer, k: usize| t.net.w[k + 1].narrow(1, 0, t.net.sizes[k + 1]) * 3.0;
    let rows = |t: &Trainer, k: usize| t.fb.b[k].narrow(1, 0, t.net.sizes[k + 1]);
    let start = f(&rel_err(&target(&wm, 0), &rows(&wm, 0)));
    for _ in 0..150 {
        wm.step(&data, false);
    }
    for k in 0..2 {
        let err = f(&rel_err(&target(&wm, k), &rows(&wm, k)));
        eprintln!(
            "B^{}: ||B − 3W||/||3W|| = {err:.4} (started at {start:.3})",
            k + 2
        );
        // (1−λ)^150 ≈ 1e-7 of the start is left; the rest is the noise of N_m = 4096 draws
        // (about 1%).
        assert!(
            err < 0.05,
            "B^{} is {err} away from 3 W (started {start})",
            k + 2
        );
    }
    assert!(start > 0.5);
}

#[test]
fn brsf_redraws_its_magnitudes_every_step_and_frsf_never() {
    for (rule, redrawn) in [("brsf", true), ("frsf", false)] {
        let (mut t, data) = trainer(&format!("{{ rule: {rule}, lr: 0.5 }}"));
        let first: Vec<Tensor> = t.fb.b.iter().map(Tensor::abs).collect();
        for _ in 0..5 {
            t.step(&data, false);
        }
        t.measure(&data); // sets the B of the next step
        let later: Vec<Tensor> = t.fb.b.iter().map(Tensor::abs).collect();
        assert_eq!(!same_bits(&first, &later), redrawn, "{rule}: |B| redrawn?");
        for (k, b) in t.fb.b.iter().enumerate() {
            assert!(
                b.sign().equal(&t.net.w[k + 1].sign()),
                "{rule}: sign B = sign W"
            );
        }
    }
    // The draws are a function of (seed, step): a second stream gives the same step 3.
    let sizes = [784, 12, 8, 10];
    let mut a = brsf::Draws::new(&sizes, &[3], Device::Cpu);
    let mut b = brsf::Draws::new(&sizes, &[3], Device::Cpu);
    let _ = a.at(0);
    assert!(same_bits(&a.at(3), &b.at(3)));
}

#[test]
fn the_peers_metrics_read_the_closed_forms_for_b_equal_to_minus_two_w() {
    // B = −2 W: vec B is anti-parallel to vec W (180°), twice as long, and the delta it
    // sends down is −2 times backprop's through the same σ' (180°).
    let (mut t, data) = trainer("{ rule: fa, lr: 0.05 }");
    t.fb.b = t.net.w[1..].iter().map(|w| w * -2.0).collect();
    let measured = t.measure(&data);
    let value = |metric: &str, layer: usize| -> Vec<f64> {
        let m = measured
            .iter()
            .find(|m| m.metric == metric && m.layer == layer)
            .unwrap_or_else(|| panic!("no {metric} at layer {layer}"));
        Vec::<f64>::try_from(&m.values).unwrap()
    };
    for layer in [2, 3] {
        for (metric, expected, tol) in [
            ("weight_angle", 180.0, 0.05),
            ("delta_angle", 180.0, 0.05),
            ("norm_ratio", 2.0, 1e-5),
        ] {
            for v in value(metric, layer) {
                assert!(
                    (v - expected).abs() < tol,
                    "{metric} B^{layer}: {v}, not {expected}"
                );
            }
        }
    }
}

#[test]
fn bad_settings_of_the_peers_rules_are_refused_naming_the_field() {
    for (run, says) in [
        ("{ rule: kp, lr: 0.1 }", "decay"),
        (
            "{ rule: kp, lr: 0.1, decay: 1.0 }",
            "decay must be in [0, 1)",
        ),
        (
            "{ rule: fa, lr: 0.1, decay: 0.1 }",
            "decay is only used by kp",
        ),
        (
            "{ rule: wm, lr: 0.1 }",
            "mirror (decay or akrout) is required",
        ),
        (
            "{ rule: wm, lr: 0.1, mirror: akrout, mirror_lr: 0.1 }",
            "mirror_lr",
        ),
        (
            "{ rule: wm, lr: 0.1, mirror: decay, mirror_lr: 0.1, mirror_sigma: 1.0 }",
            "mirror_decay is required",
        ),
        ("{ rule: fa, lr: 0.1, mirror: decay }", "only used by wm"),
        ("{ rule: usf, lr: 0.1, b_init: zero }", "b_init"),
        ("{ rule: brsf, lr: 0.1, b_init: xavier_uniform }", "b_init"),
    ] {
        let value: serde_yaml::Value = serde_yaml::from_str(&config(run, 10)).unwrap();
        let err = credit_assign::mlp::Experiment::from_value(value, "x.yaml")
            .map(|_| ())
            .expect_err(run);
        let err = format!("{err:#}");
        assert!(err.contains(says), "{run}: {err}");
    }
}
