//! `kind: cnn` configs: quick merge, validation errors that name the field, shipped files.
use credit_assign::cnn::config::{CnnConfig, Order, Protocol};
use credit_assign::cnn::net::{Activation, FeedbackInit, NetworkSpec, PoolPadding, WeightInit};
use credit_assign::cnn::rules::Rule;

const BASE: &str = r#"
kind: cnn
experiment: t
dataset: synthetic-cifar
protocol: validation
seeds: [1, 2]
network:
  activation: tanh
  blocks:
    - conv: {channels: 8, kernel: 5}
    - fc: {units: 16, dropout: 0.5}
rules:
  bp: {lr: 1.0e-4, batch: 64, epochs: 100}
  np_dfa: {lr: 4.78e-6, adam_eps: 1.0e-5, batch: 128, epochs: 200, sigma: 0.067, beta: 8.32e-6}
quick:
  train_images: 500
  rules:
    np_dfa: {epochs: 2}
"#;

fn parse(text: &str, quick: bool) -> anyhow::Result<CnnConfig> {
    CnnConfig::resolve(serde_yaml::from_str(text).unwrap(), quick)
}

fn err(text: &str) -> String {
    format!("{:#}", parse(text, false).unwrap_err())
}

#[test]
fn quick_overrides_are_deep_merged_and_rename_the_experiment() {
    let full = parse(BASE, false).unwrap();
    assert_eq!(full.experiment, "t");
    assert_eq!(full.train_images, None);
    assert_eq!(full.runs().len(), 4);
    let q = parse(BASE, true).unwrap();
    assert_eq!(q.experiment, "t-quick");
    assert_eq!(q.train_images, Some(500));
    let np = &q.rules[&Rule::NpDfa];
    assert_eq!(np.epochs, 2);
    assert_eq!(
        (np.sigma, np.batch),
        (Some(0.067), 128),
        "untouched keys stay"
    );
    assert_eq!(q.rules[&Rule::Bp].epochs, 100);
    assert_eq!(q.network.bias_init, 0.1);
    let names: Vec<String> = q.runs().into_iter().map(|r| r.name).collect();
    assert_eq!(
        names,
        ["bp-seed1", "bp-seed2", "np_dfa-seed1", "np_dfa-seed2"]
    );
}

#[test]
fn quick_without_a_quick_block_is_an_error() {
    let text = BASE.split("quick:").next().unwrap();
    let e = format!("{:#}", parse(text, true).unwrap_err());
    assert!(e.contains("quick"), "{e}");
}

#[test]
fn unknown_fields_and_values_are_named() {
    let e = err(&BASE.replace("seeds:", "sedes: [1]\nseeds:"));
    assert!(e.contains("sedes"), "{e}");
    let e = err(&BASE.replace("activation: tanh", "activation: sigmoidal"));
    assert!(
        e.contains("network.activation") && e.contains("sigmoidal"),
        "{e}"
    );
    let e = err(&BASE.replace("bp: {", "sgd: {"));
    assert!(e.contains("sgd"), "{e}");
    let e = err(&BASE.replace("{units: 16,", "{units: 16, widht: 3,"));
    assert!(e.contains("widht"), "{e}");
}

#[test]
fn bad_values_are_named_with_their_field() {
    let cases = [
        ("sigma: 0.067", "sigma: -0.1", "rules.np_dfa.sigma"),
        ("beta: 8.32e-6", "beta: 0.0", "rules.np_dfa.beta"),
        ("lr: 1.0e-4", "lr: 0.0", "rules.bp.lr"),
        ("batch: 64", "batch: 0", "rules.bp.batch"),
        ("{lr: 1.0e-4,", "{lr: 1.0e-4, sigma: 0.1,", "rules.bp.sigma"),
        ("kernel: 5", "kernel: 4", "network.blocks[0].conv.kernel"),
        ("dropout: 0.5", "dropout: 1.5", "network.blocks[1]"),
        ("kind: cnn", "kind: mlp", "kind"),
        ("seeds: [1, 2]", "seeds: []", "seeds"),
        ("experiment: t", "experiment: a/b", "experiment"),
    ];
    for (from, to, field) in cases {
        assert!(BASE.contains(from), "{from}");
        let e = err(&BASE.replacen(from, to, 1));
        assert!(e.contains(field), "{to}: {e}");
    }
    let e = err(&BASE.replace(
        "    - conv: {channels: 8, kernel: 5}\n    - fc: {units: 16, dropout: 0.5}",
        "    - fc: {units: 16}\n    - conv: {channels: 8, kernel: 5}",
    ));
    assert!(
        e.contains("network.blocks[1]") && e.contains("after an fc"),
        "{e}"
    );
    let e = err(&BASE.replace(", sigma: 0.067", ""));
    assert!(e.contains("rules.np_dfa needs sigma"), "{e}");
}

#[test]
fn a_rule_the_cnn_does_not_train_is_named_with_its_field() {
    for (rule, why) in [("np", "MLP"), ("wm", "MLP"), ("bogus", "no rule")] {
        let e = err(&BASE.replace("bp: {", &format!("{rule}: {{")));
        assert!(
            e.contains(&format!("rules.{rule}:")) && e.contains(why) && e.contains("usf"),
            "{e}"
        );
    }
    let trial = "trials:\n  - {trial: 0, rule: sg, settings: {lr: 1.0e-3, batch: 8, epochs: 1}}\n";
    let e = err(&BASE.replacen("rules:\n", &format!("{trial}rules:\n"), 1));
    assert!(e.contains("trials[0].rule: sg"), "{e}");
}

#[test]
fn the_layerwise_rules_parse_and_only_kp_takes_a_decay() {
    let with = |rule: &str, extra: &str| {
        BASE.replace(
            "bp: {lr: 1.0e-4, batch: 64, epochs: 100}",
            &format!("{rule}: {{lr: 1.0e-4, batch: 64, epochs: 100{extra}}}"),
        )
    };
    for rule in [Rule::Fa, Rule::Usf, Rule::Brsf, Rule::Frsf] {
        let c = parse(&with(rule.name(), ""), false).unwrap();
        assert!(c.rules.contains_key(&rule) && rule.layerwise());
        let e = err(&with(rule.name(), ", decay: 0.1"));
        assert!(e.contains(&format!("rules.{}.decay", rule.name())), "{e}");
    }
    let c = parse(&with("kp", ", decay: 0.01"), false).unwrap();
    assert_eq!(c.rules[&Rule::Kp].decay, Some(0.01));
    let e = err(&with("kp", ""));
    assert!(e.contains("rules.kp needs decay"), "{e}");
    let e = err(&with("kp", ", decay: 1.0"));
    assert!(e.contains("rules.kp.decay is 1"), "{e}");
}

#[test]
fn protocol_fields_that_contradict_it_are_named() {
    let paper = BASE.replace("protocol: validation", "protocol: paper");
    let c = parse(&paper, false).unwrap();
    assert_eq!((c.validation_images(), c.data_order()), (0, Order::File));
    let e = err(&paper.replace("seeds: [1, 2]", "validation: 100\nseeds: [1, 2]"));
    assert!(e.contains("validation") && e.contains("paper"), "{e}");
    let e = err(&paper.replace("seeds: [1, 2]", "order: shuffled\nseeds: [1, 2]"));
    assert!(e.contains("order") && e.contains("paper"), "{e}");
    let e = err(&BASE.replace("protocol: validation\n", ""));
    assert!(e.contains("protocol"), "{e}");
    let v = parse(BASE, false).unwrap();
    assert_eq!(
        (v.validation_images(), v.data_order()),
        (5000, Order::Shuffled)
    );
    let e = err(&BASE.replace("beta: 8.32e-6}", "beta: 8.32e-6, fixed_d_blocks: [3]}"));
    assert!(e.contains("rules.np_dfa.fixed_d_blocks"), "{e}");
    let e = err(&BASE.replace("epochs: 100}", "epochs: 100, fixed_d_blocks: [1]}"));
    assert!(e.contains("rules.bp.fixed_d_blocks"), "{e}");
}

fn shipped(name: &str) -> (CnnConfig, CnnConfig) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    let full = parse(&text, false).unwrap_or_else(|e| panic!("{name}: {e:#}"));
    let quick = parse(&text, true).unwrap_or_else(|e| panic!("{name} --quick: {e:#}"));
    assert!(quick.experiment.ends_with("-quick"));
    assert_eq!(full.seeds.len(), 5, "{name}");
    (full, quick)
}

#[test]
fn shipped_text_configs_keep_their_init_pooling_and_validation_split() {
    for name in ["table1-cifar10.yaml", "table1-cifar100.yaml"] {
        let (full, _) = shipped(name);
        assert_eq!(full.rules.len(), 3, "{name}");
        assert_eq!(full.protocol, Protocol::Validation, "{name}");
        assert_eq!(full.validation_images(), 5000, "{name}");
        assert_eq!(full.network.init, WeightInit::KernelFanIn, "{name}");
        assert_eq!(
            full.network.feedback_init,
            FeedbackInit::SqrtClasses,
            "{name}"
        );
        assert_eq!(full.network.pool_padding, PoolPadding::Symmetric, "{name}");
        let np = &full.rules[&Rule::NpDfa];
        assert_eq!(
            (np.sigma, np.beta, np.batch),
            (Some(0.067), Some(8.32e-6), 128)
        );
    }
}

#[test]
fn shipped_official_configs_follow_the_code_in_both_protocols() {
    for (name, protocol, validation) in [
        ("table1-cifar10-official.yaml", Protocol::Paper, 0),
        (
            "table1-cifar10-official-val.yaml",
            Protocol::Validation,
            5000,
        ),
        ("table1-cifar100-official.yaml", Protocol::Paper, 0),
        (
            "table1-cifar100-official-val.yaml",
            Protocol::Validation,
            5000,
        ),
    ] {
        let (full, quick) = shipped(name);
        assert_eq!(full.rules.len(), 3, "{name}");
        assert_eq!(full.protocol, protocol, "{name}");
        assert_eq!(quick.protocol, protocol, "{name}");
        assert_eq!(full.validation_images(), validation, "{name}");
        assert_eq!(full.data_order(), Order::File, "{name}");
        assert_eq!(full.train_images, None, "{name}: all training images");
        assert_eq!(
            full.network.feedback_init,
            FeedbackInit::SqrtUnits,
            "{name}"
        );
        assert_eq!(full.network.pool_padding, PoolPadding::TfSame, "{name}");
        let np = &full.rules[&Rule::NpDfa];
        if name.contains("cifar100") {
            assert_eq!(full.network.init, WeightInit::GlorotUniform, "{name}");
            assert_eq!(full.network.activation, Activation::Relu, "{name}");
            assert_eq!(full.network.bias_init, 0.0, "{name}");
            assert_eq!(
                (np.lr, np.adam_eps, np.batch, np.epochs, np.sigma),
                (1e-4, 1e-5, 64, 100, Some(0.1)),
                "{name}"
            );
            assert_eq!(
                np.fixed_d_blocks,
                Some(vec![4]),
                "{name}: fc1's D is not learned"
            );
        } else {
            assert_eq!(full.network.init, WeightInit::InputFanIn, "{name}");
            assert_eq!(full.network.activation, Activation::Tanh, "{name}");
            assert_eq!(
                (np.sigma, np.beta, np.batch, np.epochs),
                (Some(0.067), Some(8.32e-6), 128, 200),
                "{name}"
            );
            assert_eq!(np.fixed_d_blocks, None, "{name}");
        }
        assert_eq!(full.rules[&Rule::Bp].epochs, 100, "{name}");
    }
}

#[test]
fn the_shipped_peers_config_runs_the_layerwise_rules_on_the_official_network() {
    let (full, quick) = shipped("peers-cnn-cifar10.yaml");
    // the code's network; D's init is left at its default, as no rule here has a D
    let official = NetworkSpec {
        feedback_init: FeedbackInit::SqrtClasses,
        ..NetworkSpec::official()
    };
    assert_eq!(full.network, official);
    let rules: Vec<Rule> = full.rules.keys().copied().collect();
    assert_eq!(
        rules,
        [
            Rule::Bp,
            Rule::Fa,
            Rule::Usf,
            Rule::Brsf,
            Rule::Frsf,
            Rule::Kp
        ]
    );
    assert!(rules[1..].iter().all(|r| r.layerwise()));
    assert_eq!(full.rules[&Rule::Kp].decay, Some(1.0e-4));
    assert_eq!(quick.experiment, "peers-cnn-cifar10-quick");
    assert_eq!(quick.rules.len(), 6);
    assert_eq!(
        (quick.train_images, quick.validation_images()),
        (Some(1000), 1000)
    );
}

#[test]
fn the_one_seed_subset_of_table1_official_differs_only_in_its_seeds_and_name() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let official = parse(&read("table1-cifar10-official.yaml"), false).unwrap();
    let mut subset = parse(&read("table1-cifar10-official-1seed.yaml"), false).unwrap();
    assert_eq!(subset.seeds, [1]);
    assert!(
        subset.description.contains("seed 1 only"),
        "{}",
        subset.description
    );
    // With its name, description and seeds set back, it is the full config.
    subset.experiment = official.experiment.clone();
    subset.description = official.description.clone();
    subset.seeds = official.seeds.clone();
    assert_eq!(subset, official);
}
