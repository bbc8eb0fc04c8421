//! Fig. 3's autoencoder: the latent and reconstruction files, the DAE's input noise, and the
//! SG ablation's feedback.
mod common;
use common::{experiment, result, run, tmp_dir};
use credit_assign::data::synthetic::mnist_like;
use credit_assign::mlp::autoencoder::{bottleneck_layer, encode};
use credit_assign::mlp::sweep;
use credit_assign::nets::mlp::Mlp;
use credit_assign::output::Status;
use std::path::Path;
use tch::{Device, Kind, Tensor};

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path)
        .unwrap_or_else(|e| panic!("{} should exist: {e}", path.display()));
    let header = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

const FILES_YAML: &str = r#"
experiment: ae-files
task: autoencode
data: { dataset: synthetic-mnist, train_size: 256, test_size: 120, seed: 4 }
network: { sizes: [784, 16, 2, 16, 784], activations: [tanh, identity, tanh, relu] }
training: { iterations: 40, batch_size: 8, log_every: 10, eval_every: 10, seeds: [3], latent_at: [0, 20] }
runs:
  - { rule: np, lr: 0.0001, sigma: 0.02, solver: sgd, lr_b: 0.00001, perturb_bias: false, warmup: 5 }
  - { name: blowup, rule: bp, optimizer: adam, lr: 1.0e+30 }
"#;

#[test]
fn bottleneck_is_the_narrowest_hidden_layer() {
    assert_eq!(bottleneck_layer(&[784, 200, 2, 200, 784]), Some(2));
    assert_eq!(bottleneck_layer(&[784, 50, 2, 50, 784]), Some(2));
    assert_eq!(bottleneck_layer(&[784, 30, 784]), Some(1));
    assert_eq!(bottleneck_layer(&[784, 784]), None);
}

#[test]
fn latent_and_reconstructions_have_the_test_set_labels_and_shapes() {
    let out = tmp_dir("ae-files");
    let runs = run(FILES_YAML, &out);
    let dir = out.join("ae-files");
    let (np, blowup) = (&runs[0], &runs[1]);
    assert_eq!(np.status, Status::Completed);
    assert_eq!(
        blowup.status,
        Status::Diverged,
        "Adam at lr 1e30 should diverge, or this test checks nothing about diverged members"
    );

    let data = mnist_like(256, 120, 4);
    let labels = Vec::<i64>::try_from(data.test_y.to_kind(Kind::Int64)).unwrap();

    // latent.csv: every test image at iterations 0, 20 (latent_at) and 40 (the end).
    let (header, rows) = read_csv(&dir.join(&np.run).join("latent.csv"));
    assert_eq!(header, ["iteration", "test_index", "label", "z1", "z2"]);
    assert_eq!(rows.len(), 3 * 120);
    for (k, row) in rows.iter().enumerate() {
        let (it, t) = ([0, 20, 40][k / 120], k % 120);
        assert_eq!(row[0], it.to_string(), "row {k}");
        assert_eq!(row[1], t.to_string(), "row {k}");
        assert_eq!(
            row[2],
            labels[t].to_string(),
            "row {k}: label of test image {t}"
        );
    }
    // At iteration 0 the code is H^2 of the initial network, computed here independently.
    let sizes = [784, 16, 2, 16, 784];
    let acts = experiment(FILES_YAML).network.activations;
    let net = Mlp::new(&sizes, &acts, &[3], Device::Cpu);
    let z0 = encode(&net, &data.test_x.unsqueeze(0), 2).squeeze_dim(0); // [120, 2]
    let z0 = Vec::<Vec<f32>>::try_from(z0).unwrap();
    for (t, z) in z0.iter().enumerate() {
        for (c, &want) in z.iter().enumerate() {
            let got: f32 = rows[t][3 + c].parse().unwrap();
            assert!(
                (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
                "z{} of {t}: {got} vs {want}",
                c + 1
            );
        }
    }
    // The code moves with training.
    assert_ne!(
        rows[0][3..],
        rows[2 * 120][3..],
        "the latent code did not change in training"
    );

    // reconstructions.csv: the first test image of each digit, original then reconstruction.
    let (header, rows) = read_csv(&dir.join(&np.run).join("reconstructions.csv"));
    assert_eq!(header.len(), 3 + 784);
    assert_eq!(header[..4], ["test_index", "label", "source", "p0"]);
    assert_eq!(header[786], "p783");
    let digits: Vec<i64> = (0..10).filter(|d| labels.contains(d)).collect();
    assert!(
        digits.len() >= 9,
        "120 synthetic images should hold nearly every digit"
    );
    assert_eq!(rows.len(), 2 * digits.len());
    let pixels = Vec::<Vec<f32>>::try_from(&data.test_x).unwrap();
    for (g, &d) in digits.iter().enumerate() {
        let first = labels.iter().position(|&l| l == d).unwrap();
        for (row, source) in rows[2 * g..2 * g + 2]
            .iter()
            .zip(["original", "reconstruction"])
        {
            assert_eq!(
                row[..3],
                [first.to_string(), d.to_string(), source.to_string()]
            );
            let v: Vec<f32> = row[3..].iter().map(|p| p.parse().unwrap()).collect();
            assert!(
                v.iter().all(|p| (0.0..=1.0).contains(p)),
                "{source} of digit {d} leaves [0, 1]"
            );
            if source == "original" {
                assert_eq!(
                    v, pixels[first],
                    "original of digit {d} is not test image {first}"
                );
            } else {
                assert_ne!(
                    v, pixels[first],
                    "a reconstruction equal to its input is suspicious"
                );
            }
        }
    }

    // A diverged member leaves neither file, not even a temporary one.
    let gone = dir.join(&blowup.run);
    assert!(gone.join("metrics.csv").exists());
    for f in ["latent.csv", "latent.csv.tmp", "reconstructions.csv"] {
        assert!(
            !gone.join(f).exists(),
            "diverged run {} has {f}",
            blowup.run
        );
    }
}

/// ‖J‖_F² and ‖J − I‖_F² of the linear map x ↦ x W^1[:n0] W^2[:n1] of the initial
/// 784-8-784 identity network.
fn jacobian_sq_norms(seed: u64) -> (f64, f64) {
    let acts = experiment(DAE_YAML).network.activations;
    let net = Mlp::new(&[784, 8, 784], &acts, &[seed], Device::Cpu);
    let j = net.w[0]
        .get(0)
        .narrow(0, 0, 784)
        .matmul(&net.w[1].get(0).narrow(0, 0, 8));
    let sq = |t: Tensor| t.square().sum(Kind::Double).double_value(&[]);
    let eye = Tensor::eye(784, (Kind::Float, Device::Cpu));
    (sq(j.shallow_clone()), sq(j - eye))
}

const DAE_YAML: &str = r#"
experiment: ae-dae
task: autoencode
data: { dataset: synthetic-mnist, train_size: 2048, test_size: 200, seed: 1 }
network: { sizes: [784, 8, 784], activations: [identity, identity] }
training: { iterations: 300, batch_size: 32, log_every: 300, eval_every: 300, seeds: [5] }
runs:
  - { name: plain-frozen, rule: bp, freeze_w: true }
  - { name: dae-frozen, rule: bp, freeze_w: true, input_noise: 0.3 }
  - { name: plain, rule: bp, lr: 0.000001 }
  - { name: dae, rule: bp, lr: 0.000001, input_noise: 0.3 }
"#;

/// The DAE's noise enters the training input only, and the target stays the clean input.
/// With W frozen and identity activations, f(x + n) − x = (f(x) − x) + n J, so the noise
/// adds T·½σ²‖J‖_F² to the expected training loss per batch of T; a noisy target would add
/// T·½σ²‖J − I‖_F² instead (about 25% more here), and noise at test time would change the
/// test loss.
#[test]
fn dae_noise_is_on_the_training_input_only_and_the_target_is_clean() {
    let out = tmp_dir("ae-dae");
    let runs = run(DAE_YAML, &out);
    let by_name = |n: &str| runs.iter().find(|r| r.condition == n).unwrap();
    let (plain_f, dae_f, plain, dae) = (
        by_name("plain-frozen"),
        by_name("dae-frozen"),
        by_name("plain"),
        by_name("dae"),
    );
    assert!(runs.iter().all(|r| r.status == Status::Completed));
    // Same seed, same W: identical test losses (frozen: throughout; training: at iteration 0).
    assert_eq!(
        result(plain_f, "final_test_loss"),
        result(dae_f, "final_test_loss")
    );
    let test0 = |r: &credit_assign::output::RunSummary| {
        let m =
            std::fs::read_to_string(out.join("ae-dae").join(&r.run).join("metrics.csv")).unwrap();
        m.lines()
            .find(|l| l.starts_with("0,test_loss,,"))
            .unwrap()
            .to_string()
    };
    assert_eq!(
        test0(plain),
        test0(dae),
        "the DAE's test loss at iteration 0 differs"
    );
    assert_ne!(
        result(plain, "final_test_loss"),
        result(dae, "final_test_loss"),
        "input noise did not change training"
    );

    let (t, sigma) = (32.0, 0.3);
    let (j2, j_minus_i2) = jacobian_sq_norms(5);
    let gap = result(dae_f, "final_train_loss") - result(plain_f, "final_train_loss");
    let clean_target = t * 0.5 * sigma * sigma * j2;
    let noisy_target = t * 0.5 * sigma * sigma * j_minus_i2;
    eprintln!(
        "train loss gap {gap}; predicted {clean_target} (clean target), {noisy_target} (noisy)"
    );
    assert!(
        noisy_target / clean_target > 1.15,
        "the two predictions must be far apart for this test to tell them apart"
    );
    assert!(
        (gap / clean_target - 1.0).abs() < 0.04,
        "train loss gap {gap} vs T·½σ²‖J‖² = {clean_target}"
    );
}

/// The SG ablation regresses B onto the true gradient E^{i+1} W^{i+1}ᵀ; with W fixed that
/// target is exactly reachable, so every B converges to W (FA's fixed B does not).
#[test]
fn sg_feedback_converges_to_w_when_w_is_fixed() {
    let out = tmp_dir("ae-sg");
    let runs = run(
        r#"
experiment: ae-sg
task: teacher
data: { dataset: gaussian, train_size: 4096, test_size: 128, seed: 8 }
network: { sizes: [10, 8, 4, 6], activations: [tanh, tanh, identity] }
training: { iterations: 2000, batch_size: 64, log_every: 500, eval_every: 2000, seeds: [2] }
runs:
  - { rule: sg, freeze_w: true, solver: sgd, lr_b: 0.002 }
  - { rule: fa, freeze_w: true }
"#,
        &out,
    );
    let (sg, fa) = (&runs[0], &runs[1]);
    for layer in [2, 3] {
        let key = format!("final_rel_err_l{layer}");
        let (e_sg, e_fa) = (result(sg, &key), result(fa, &key));
        eprintln!("B^{layer}: rel_err sg {e_sg}, fa {e_fa}");
        assert!(
            e_sg < 1e-2,
            "sg's B^{layer} should converge to W: rel_err {e_sg}"
        );
        assert!(e_fa > 0.5, "fa's B^{layer} is random: rel_err {e_fa}");
    }
    let angle = result(sg, "final_angle_l1");
    assert!(
        angle < 1.0,
        "sg's ∇W^1 should align with backprop's: {angle}°"
    );
}

#[test]
fn per_run_seeds_replace_training_seeds() {
    let exp = experiment(
        r#"
experiment: ae-seeds
task: autoencode
data: { dataset: synthetic-mnist }
network: { sizes: [784, 8, 784], activations: [tanh, relu] }
training: { iterations: 10, batch_size: 8, log_every: 10, eval_every: 10, seeds: [0, 1] }
runs:
  - { rule: bp, lr: 0.0001 }
  - { name: dae, rule: bp, lr: 0.0001, input_noise: 0.3, seeds: [0, 1, 2, 3] }
"#,
    );
    let groups = sweep::programs(&exp).unwrap();
    let seeds = |g: usize| groups[g].members.iter().map(|m| m.seed).collect::<Vec<_>>();
    assert_eq!(seeds(0), [0, 1]);
    assert_eq!(seeds(1), [0, 1, 2, 3]);
    assert_eq!(groups[1].members[3].run, "dae-seed3");

    for bad in ["seeds: []", "seeds: [1, 1]"] {
        let yaml = format!(
            "experiment: x\ntask: autoencode\ndata: {{ dataset: synthetic-mnist }}\nnetwork: {{ sizes: [784, 8, 784], activations: [tanh, relu] }}\ntraining: {{ iterations: 10, batch_size: 8, log_every: 10, eval_every: 10, seeds: [0] }}\nruns:\n  - {{ rule: bp, lr: 0.0001, {bad} }}\n"
        );
        let value: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
        let err = credit_assign::mlp::Experiment::from_value(value, "test").expect_err(bad);
        let chain = format!("{err:#}");
        assert!(chain.contains("seeds:"), "{bad}: {chain}");
    }
}

/// Nothing is written for a classification run: the files are the autoencoder's.
#[test]
fn classification_runs_write_no_latent_files() {
    let out = tmp_dir("ae-classify");
    let runs = run(
        r#"
experiment: ae-classify
task: classify
data: { dataset: synthetic-mnist, train_size: 64, test_size: 32 }
network: { sizes: [784, 8, 10], activations: [sigmoid, identity] }
training: { iterations: 5, batch_size: 8, log_every: 5, eval_every: 5, seeds: [0] }
runs:
  - { rule: bp, lr: 0.0001 }
"#,
        &out,
    );
    let d = out.join("ae-classify").join(&runs[0].run);
    assert!(d.join("metrics.csv").exists());
    assert!(!d.join("latent.csv").exists() && !d.join("latent.csv.tmp").exists());
}

/// Both Fig. 3 configs (and their quick blocks) load, name exactly the paper's conditions,
/// give the DAE 10 seeds, and put NP and matched at width 50 only in the official one.
#[test]
fn fig3_configs_name_every_condition_with_the_codes_widths() {
    use credit_assign::config::load_value;
    use credit_assign::mlp::Experiment;
    let names = [
        "np",
        "bp",
        "fa",
        "adam",
        "dae",
        "matched",
        "sg",
        "bp+noise",
        "adam+noise",
        "fa+noise",
        "matched+noise",
    ];
    for (file, narrow) in [("fig3", false), ("fig3-official", true)] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("configs/{file}.yaml"));
        for quick in [false, true] {
            let value = load_value(&path, quick).unwrap();
            let exp = Experiment::from_value(value, file).unwrap();
            let groups = sweep::programs(&exp).unwrap();
            let conditions: Vec<&str> = groups
                .iter()
                .map(|g| g.members[0].condition.as_str())
                .collect();
            assert_eq!(conditions, names, "{file} quick={quick}");
            for g in &groups {
                let c = g.members[0].condition.as_str();
                let want_width = if narrow && ["np", "sg", "matched", "matched+noise"].contains(&c)
                {
                    50
                } else {
                    200
                };
                assert_eq!(g.sizes, [784, want_width, 2, want_width, 784], "{file} {c}");
                let seeds = g.members.len();
                let want_seeds = match (quick, c) {
                    (true, _) => 1,
                    (false, "dae") => 10,
                    (false, _) => 3,
                };
                assert_eq!(seeds, want_seeds, "{file} quick={quick} {c}");
            }
            assert_eq!(exp.training.batch_size, 32);
            if !quick {
                assert_eq!(exp.training.iterations, 1_000_000);
            }
        }
    }
}
