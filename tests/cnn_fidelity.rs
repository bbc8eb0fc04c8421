//! The authors' code, piece by piece: each init scheme's range and variance against its
//! formula, TF "SAME" pooling windows against a hand-computed example, and the data order
//! and metric of the paper protocol (every training image, file order, every epoch).
use credit_assign::cnn::config::{Order, RuleSpec};
use credit_assign::cnn::learner::Learner;
use credit_assign::cnn::net::{
    channels_last, max_pool, tf_same_pads, Activation, BlockSpec, ConvSpec, FcSpec, FeedbackInit,
    Net, NetworkSpec, PoolPadding, WeightInit,
};
use credit_assign::cnn::rules::Rule;
use credit_assign::cnn::run_experiment;
use credit_assign::cnn::train::epoch_batches;
use credit_assign::data::cifar::Variant;
use credit_assign::data::synthetic::write_cifar_dir;
use std::sync::Mutex;
use tch::{Device, Kind, Tensor};

/// libtorch's generator is global: tests that draw from it hold this lock.
static TORCH_RNG: Mutex<()> = Mutex::new(());

fn conv(channels: i64, kernel: i64) -> BlockSpec {
    BlockSpec::Conv(ConvSpec {
        channels,
        kernel,
        pool: true,
        dropout: 0.0,
    })
}

fn fc(units: i64) -> BlockSpec {
    BlockSpec::Fc(FcSpec {
        units,
        dropout: 0.0,
    })
}

/// conv 5×5×32 on 3×32×32 → conv 3×3×32 on 32×16×16 → fc 64 on 32·8·8 → 10 outputs.
fn spec(init: WeightInit, feedback_init: FeedbackInit) -> NetworkSpec {
    NetworkSpec {
        activation: Activation::Tanh,
        bias_init: 0.1,
        init,
        feedback_init,
        pool_padding: PoolPadding::TfSame,
        blocks: vec![conv(32, 5), conv(32, 3), fc(64)],
    }
}

fn dfa_spec() -> RuleSpec {
    RuleSpec {
        lr: 1e-3,
        adam_eps: 1e-8,
        batch: 16,
        epochs: 1,
        beta: None,
        sigma: None,
        np_loss: None,
        shared_dropout_mask: None,
        fixed_d_blocks: None,
        decay: None,
    }
}

/// `w` is U(−a, a): every value within a, the largest close to a, and the variance a²/3
/// within `tol` (relative).
fn assert_uniform(name: &str, w: &Tensor, a: f64, tol: f64) {
    let w = w.to_kind(Kind::Double);
    let n = w.numel() as f64;
    let max = w.abs().max().double_value(&[]);
    let var = w.square().sum(Kind::Double).double_value(&[]) / n;
    assert!(
        max <= a * (1.0 + 1e-6),
        "{name}: |w| up to {max}, bound {a}"
    );
    assert!(max >= 0.95 * a, "{name}: |w| only up to {max}, bound {a}");
    let want = a * a / 3.0;
    assert!(
        (var / want - 1.0).abs() < tol,
        "{name}: variance {var:e}, formula a²/3 = {want:e}"
    );
    let mean = w.mean(Kind::Double).double_value(&[]);
    assert!(mean.abs() < 4.0 * (want / n).sqrt(), "{name}: mean {mean}");
}

fn net(init: WeightInit) -> Net {
    Net::new(
        &spec(init, FeedbackInit::SqrtUnits),
        [3, 32, 32],
        10,
        Device::Cpu,
    )
    .unwrap()
}

#[test]
fn input_fan_in_init_counts_the_whole_input_of_a_conv_layer() {
    let _rng = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(1);
    let n = net(WeightInit::InputFanIn);
    let b = &n.blocks;
    // conv1: 32·32·3 = 3072 inputs (not 3·5·5 = 75); conv2: 16·16·32 = 8192 (not 32·3·3).
    assert_uniform("conv1", &b[0].w, 1.0 / 3072f64.sqrt(), 0.15);
    assert_uniform("conv2", &b[1].w, 1.0 / 8192f64.sqrt(), 0.08);
    assert_uniform("fc", &b[2].w, 1.0 / 2048f64.sqrt(), 0.03);
    assert_uniform("output", &n.out_w, 1.0 / 64f64.sqrt(), 0.25);
    for blk in b {
        assert_eq!(blk.b.min().double_value(&[]), 0.1f32 as f64);
        assert_eq!(blk.b.max().double_value(&[]), 0.1f32 as f64);
    }
}

#[test]
fn kernel_fan_in_init_keeps_the_text_configs_scale() {
    let _rng = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(2);
    let n = net(WeightInit::KernelFanIn);
    let b = &n.blocks;
    assert_uniform("conv1", &b[0].w, 1.0 / 75f64.sqrt(), 0.15);
    assert_uniform("conv2", &b[1].w, 1.0 / 288f64.sqrt(), 0.08);
    assert_uniform("fc", &b[2].w, 1.0 / 2048f64.sqrt(), 0.03);
    assert_uniform("output", &n.out_w, 1.0 / 64f64.sqrt(), 0.25);
}

#[test]
fn glorot_uniform_init_uses_keras_fans() {
    let _rng = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(3);
    let n = net(WeightInit::GlorotUniform);
    let b = &n.blocks;
    let g = |fan_in: f64, fan_out: f64| (6.0 / (fan_in + fan_out)).sqrt();
    assert_uniform("conv1", &b[0].w, g(3.0 * 25.0, 32.0 * 25.0), 0.15);
    assert_uniform("conv2", &b[1].w, g(32.0 * 9.0, 32.0 * 9.0), 0.08);
    assert_uniform("fc", &b[2].w, g(2048.0, 64.0), 0.03);
    assert_uniform("output", &n.out_w, g(64.0, 10.0), 0.25);
}

#[test]
fn direct_feedback_is_scaled_by_its_own_width_or_by_the_classes() {
    let _rng = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    // feedback points: 32·16·16 = 8192, 32·8·8 = 2048, 64 units; 10 classes.
    let sizes = [8192.0, 2048.0, 64.0];
    let tols = [0.03, 0.05, 0.25];
    for (init, scale) in [
        (FeedbackInit::SqrtUnits, None),
        (FeedbackInit::SqrtClasses, Some(10f64)),
    ] {
        tch::manual_seed(4);
        let s = spec(WeightInit::InputFanIn, init);
        let learner = Learner::new(
            &s,
            [3, 32, 32],
            10,
            Rule::NpDfa,
            &dfa_spec(),
            4,
            Device::Cpu,
        )
        .unwrap();
        assert_eq!(learner.d.len(), 3);
        for (l, d) in learner.d.iter().enumerate() {
            assert_eq!(d.size(), [sizes[l] as i64, 10], "D^{}", l + 1);
            let a = 1.0 / scale.unwrap_or(sizes[l]).sqrt();
            assert_uniform(&format!("{init:?} D^{}", l + 1), d, a, tols[l]);
        }
    }
}

/// 4×4 image with values 1..16 row by row, one channel, scaled by `sign`.
fn ramp(sign: f64) -> Tensor {
    Tensor::arange(16, (Kind::Float, Device::Cpu)).view([1, 1, 4, 4]) * sign + sign
}

fn values(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.flatten(0, -1)).unwrap()
}

#[test]
fn tf_same_pooling_pads_zero_before_and_one_after_even_sizes() {
    assert_eq!(tf_same_pads(32, 3, 2), (0, 1));
    assert_eq!(tf_same_pads(16, 3, 2), (0, 1));
    assert_eq!(tf_same_pads(8, 3, 2), (0, 1));
    assert_eq!(tf_same_pads(5, 3, 2), (1, 1));
    assert_eq!(tf_same_pads(7, 3, 2), (1, 1));
    // x = [[1 2 3 4] [5 6 7 8] [9 10 11 12] [13 14 15 16]]. TF SAME: window i covers rows
    // and columns 2i..2i+2 (the last one runs into the padding after the image).
    assert_eq!(
        values(&max_pool(&ramp(1.0), PoolPadding::TfSame)),
        [11.0, 12.0, 15.0, 16.0]
    );
    // Our old padding (1 on each side): windows 2i−1..2i+1.
    assert_eq!(
        values(&max_pool(&ramp(1.0), PoolPadding::Symmetric)),
        [6.0, 8.0, 14.0, 16.0]
    );
    // Negative values: padding must never win the max (0-padding would give 0 at [1, 1]).
    assert_eq!(
        values(&max_pool(&ramp(-1.0), PoolPadding::TfSame)),
        [-1.0, -3.0, -9.0, -11.0]
    );
    // An odd size pads 1 on each side: 5 → 3, windows −1..1, 1..3, 3..5.
    let x = Tensor::arange(25, (Kind::Float, Device::Cpu)).view([1, 1, 5, 5]);
    assert_eq!(
        values(&max_pool(&x, PoolPadding::TfSame)),
        [6.0, 8.0, 9.0, 16.0, 18.0, 19.0, 21.0, 23.0, 24.0]
    );
}

#[test]
fn channels_last_changes_the_layout_and_nothing_else() {
    let _rng = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(3);
    let x = Tensor::randn([4, 6, 8, 8], (Kind::Float, Device::Cpu)); // [N, C, H, W]
    let w = Tensor::randn([5, 6, 5, 5], (Kind::Float, Device::Cpu));
    let (xc, wc) = (channels_last(&x), channels_last(&w));
    assert_eq!(xc.size(), x.size());
    assert_eq!(xc.stride(), [384, 1, 48, 6], "C is the fastest axis");
    assert_eq!(values(&xc.contiguous()), values(&x));
    assert_eq!(
        channels_last(&xc).stride(),
        xc.stride(),
        "a no-op when already so"
    );
    // Pooling takes the other kernel and must give the same values, padding included.
    for padding in [PoolPadding::TfSame, PoolPadding::Symmetric] {
        assert_eq!(
            values(&max_pool(&xc, padding).contiguous()),
            values(&max_pool(&x, padding))
        );
    }
    // The convolution sums in another order: equal to float32 rounding.
    let plain = x.conv2d(&w, None::<Tensor>, [1, 1], [2, 2], [1, 1], 1);
    let last = xc.conv2d(&wc, None::<Tensor>, [1, 1], [2, 2], [1, 1], 1);
    assert_eq!(
        last.stride()[1],
        1,
        "the output stays channels-last for the pool after it"
    );
    let err = f64::try_from((&last - &plain).abs().max()).unwrap();
    assert!(err < 1e-4, "channels-last conv differs by {err}");
}

#[test]
fn the_network_pools_with_its_configured_padding() {
    let _rng = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    // One 1×1 conv with weight 1 and bias 0, relu: the block output is the pooled input.
    for (padding, want) in [
        (PoolPadding::TfSame, [11.0, 12.0, 15.0, 16.0]),
        (PoolPadding::Symmetric, [6.0, 8.0, 14.0, 16.0]),
    ] {
        let s = NetworkSpec {
            activation: Activation::Relu,
            bias_init: 0.0,
            init: WeightInit::InputFanIn,
            feedback_init: FeedbackInit::SqrtUnits,
            pool_padding: padding,
            blocks: vec![conv(1, 1)],
        };
        let net = Net::new(&s, [1, 4, 4], 2, Device::Cpu).unwrap();
        assert_eq!(net.blocks[0].out_shape, [1, 2, 2]);
        tch::no_grad(|| {
            let _ = net.blocks[0].w.shallow_clone().fill_(1.0);
        });
        let (h, _) = net.block(0, &ramp(1.0), false, None);
        assert_eq!(values(&h), want, "{padding:?}");
    }
}

#[test]
fn file_order_is_every_image_in_order_every_epoch() {
    for seed in [1, 7] {
        for epoch in 1..=3 {
            let b = epoch_batches(Order::File, 10, 4, seed, epoch);
            assert_eq!(b, [vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]);
        }
    }
}

#[test]
fn shuffled_order_is_a_permutation_drawn_from_seed_and_epoch() {
    let flat =
        |seed, epoch| -> Vec<i64> { epoch_batches(Order::Shuffled, 100, 32, seed, epoch).concat() };
    let a = flat(1, 1);
    let mut sorted = a.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..100).collect::<Vec<i64>>());
    assert_eq!(a, flat(1, 1), "same (seed, epoch), same order");
    assert_ne!(a, flat(1, 2), "a new order each epoch");
    assert_ne!(a, flat(2, 1), "a different seed, a different order");
    assert_ne!(a, sorted, "shuffled");
}

fn tiny(protocol: &str) -> serde_yaml::Value {
    let text = format!(
        r#"
kind: cnn
experiment: order
dataset: cifar10
{protocol}
test_images: 50
seeds: [2]
network:
  activation: tanh
  init: input_fan_in
  feedback_init: sqrt_units
  pool_padding: tf_same
  blocks:
    - conv: {{channels: 4, kernel: 3}}
    - fc: {{units: 16}}
rules:
  dfa: {{lr: 1.0e-3, batch: 32, epochs: 2}}
"#
    );
    serde_yaml::from_str(&text).unwrap()
}

fn metric_names(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().to_string())
        .collect()
}

#[test]
fn paper_protocol_trains_on_every_image_and_reports_only_the_papers_metric() {
    let _rng = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // 300 training images in 2 batch files.
    write_cifar_dir(&data.join("cifar-10"), Variant::Cifar10, 300, 50, 2, 5).unwrap();

    let out = tmp.path().join("paper");
    let runs = run_experiment(tiny("protocol: paper"), false, Device::Cpu, &out, &data).unwrap();
    let r = &runs[0];
    // every one of the 300 images, both epochs: 2 × ceil(300 / 32) steps
    assert_eq!(r.iterations, 2 * 300_u64.div_ceil(32));
    assert!(
        r.results.contains_key("max_test_accuracy"),
        "{:?}",
        r.results
    );
    assert!(!r.results.contains_key("test_accuracy_at_best_val"));
    assert!(!r.results.contains_key("best_val_accuracy"));
    let names = metric_names(&out.join("order").join(&r.run).join("metrics.csv"));
    assert!(!names.iter().any(|m| m == "val_accuracy"), "{names:?}");
    assert_eq!(names.iter().filter(|m| *m == "test_accuracy").count(), 2);
    let csv = std::fs::read_to_string(out.join("order").join("summary.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(header.contains("max_test_accuracy"), "{header}");
    assert!(!header.contains("at_best_val"), "{header}");

    let out = tmp.path().join("val");
    let cfg = tiny("protocol: validation\nvalidation: 100\norder: file");
    let runs = run_experiment(cfg, false, Device::Cpu, &out, &data).unwrap();
    let r = &runs[0];
    // 200 images left after holding out the last 100
    assert_eq!(r.iterations, 2 * 200_u64.div_ceil(32));
    assert!(r.results.contains_key("test_accuracy_at_best_val"));
    assert!(!r.results.contains_key("max_test_accuracy"));
    let names = metric_names(&out.join("order").join(&r.run).join("metrics.csv"));
    assert_eq!(names.iter().filter(|m| *m == "val_accuracy").count(), 2);
}
