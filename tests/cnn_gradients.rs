//! The CNN rules against independent references: autograd backprop and the true gradient.
use credit_assign::cnn::net::{Activation, BlockSpec, ConvSpec, FcSpec, Net, NetworkSpec};
use credit_assign::cnn::rules::{
    bp_gradients, direct_gradients, lambda_hat, np_loss, update_d, NpLoss,
};
use tch::{Device, Kind, Tensor};

/// conv(4 channels, 3×3, pool) → fc(6) → output(3), tanh, no dropout, in f64.
fn small_net(seed: i64) -> Net {
    let spec = NetworkSpec {
        activation: Activation::Tanh,
        bias_init: 0.1,
        init: Default::default(),
        feedback_init: Default::default(),
        pool_padding: Default::default(),
        blocks: vec![
            BlockSpec::Conv(ConvSpec {
                channels: 4,
                kernel: 3,
                pool: true,
                dropout: 0.0,
            }),
            BlockSpec::Fc(FcSpec {
                units: 6,
                dropout: 0.0,
            }),
        ],
    };
    tch::manual_seed(seed);
    let mut net = Net::new(&spec, [2, 6, 6], 3, Device::Cpu).unwrap();
    net.vs.double();
    // larger weights than the init, so that the gradients are far from trivial
    tch::no_grad(|| {
        for v in net.vs.trainable_variables() {
            let _ = v.shallow_clone().g_mul_scalar_(3.0);
        }
    });
    assert_eq!(net.blocks[0].w.kind(), Kind::Double);
    net
}

fn zero_grads(net: &Net) {
    for v in net.vs.trainable_variables() {
        let mut g = v.grad();
        if g.defined() {
            let _ = g.zero_();
        }
    }
}

/// Gradients of (conv w, conv b, fc w, fc b, out w, out b), copied.
fn grads(net: &Net) -> Vec<Tensor> {
    let b = &net.blocks;
    [&b[0].w, &b[0].b, &b[1].w, &b[1].b, &net.out_w, &net.out_b]
        .iter()
        .map(|t| t.grad().copy())
        .collect()
}

fn rel(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).norm().double_value(&[]) / b.norm().double_value(&[])
}

fn input(t: i64) -> (Tensor, Tensor) {
    let x = Tensor::randn([t, 2, 6, 6], (Kind::Double, Device::Cpu));
    let y = Tensor::randint(3, [t], (Kind::Int64, Device::Cpu));
    (x, y)
}

/// `∂logits_c/∂h` of the conv block's output for the single sample in `x`, as `[D, C]`.
fn conv_jacobian_t(net: &Net, x: &Tensor) -> Tensor {
    let h = net
        .block(0, x, false, None)
        .0
        .detach()
        .set_requires_grad(true); // [1, 4, 3, 3]
    let logits = net.output(&net.block(1, &h, false, None).0); // [1, 3]
    let rows: Vec<Tensor> = (0..3)
        .map(|c| {
            let g = Tensor::run_backward(&[logits.get(0).get(c)], &[&h], true, false);
            g[0].reshape([-1]) // [D]
        })
        .collect();
    Tensor::stack(&rows, 1) // [D, C]
}

#[test]
fn dfa_with_the_true_jacobian_as_d_gives_the_backprop_gradient_of_every_block() {
    let net = small_net(1);
    let (x, y) = input(1);
    let d = vec![conv_jacobian_t(&net, &x), net.out_w.detach().tr().copy()];

    zero_grads(&net);
    let _ = bp_gradients(&net, &x, &y, false);
    let bp = grads(&net);
    zero_grads(&net);
    direct_gradients(&net, &x, &y, &d, false);
    let dfa = grads(&net);
    for (i, (g_dfa, g_bp)) in dfa.iter().zip(&bp).enumerate() {
        assert!(
            g_bp.norm().double_value(&[]) > 1e-6,
            "parameter {i}: zero gradient"
        );
        let r = rel(g_dfa, g_bp);
        assert!(r <= 1e-5, "parameter {i}: relative difference {r}");
    }
}

#[test]
fn dfa_fc_block_matches_backprop_over_a_batch_when_d_is_the_output_weights() {
    let net = small_net(2);
    let (x, y) = input(16);
    // The conv block's D is random (its error is then not the true one); the fc block feeds
    // the output layer linearly, so D = out_wᵀ is its exact Jacobian for every sample.
    let d = vec![
        Tensor::randn([36, 3], (Kind::Double, Device::Cpu)),
        net.out_w.detach().tr().copy(),
    ];
    zero_grads(&net);
    let _ = bp_gradients(&net, &x, &y, false);
    let bp = grads(&net);
    zero_grads(&net);
    direct_gradients(&net, &x, &y, &d, false);
    let dfa = grads(&net);
    for i in 2..6 {
        let r = rel(&dfa[i], &bp[i]);
        assert!(r <= 1e-5, "parameter {i}: relative difference {r}");
    }
    // and the conv block with a random D does differ from backprop
    assert!(rel(&dfa[0], &bp[0]) > 0.1);
}

#[test]
fn np_estimate_converges_to_the_true_gradient_at_the_conv_block_output() {
    let net = small_net(3);
    let (x, y) = input(1);
    // true ∂L/∂h of the conv block's output, L = ½‖softmax − y‖² (autograd)
    let h = net
        .block(0, &x, false, None)
        .0
        .detach()
        .set_requires_grad(true);
    let loss = np_loss(
        &net.output(&net.block(1, &h, false, None).0),
        &y,
        NpLoss::Mse,
    )
    .sum(Kind::Double);
    let g = Tensor::run_backward(&[loss], &[&h], false, false)[0].reshape([-1]); // [36]
    let sigma = 1e-3;
    tch::manual_seed(7);
    let mut errs = Vec::new();
    for k in [100i64, 1_000, 10_000, 100_000] {
        let xk = x.repeat([k, 1, 1, 1]); // k copies: one noise draw each
        let yk = y.repeat([k]);
        let clean = tch::no_grad(|| net.forward(&xk, false));
        let masks = vec![None, None];
        let lh = lambda_hat(
            &net,
            &xk,
            &yk,
            &clean,
            &masks,
            sigma,
            NpLoss::Mse,
            false,
            false,
        );
        assert_eq!(lh[0].size(), [k, 36]);
        let mean = lh[0].mean_dim(0, false, Kind::Double); // [36]
        errs.push(rel(&mean, &g));
    }
    eprintln!("relative error for 1e2..1e5 draws: {errs:?}");
    for w in errs.windows(2) {
        assert!(w[1] < w[0], "error must shrink with more draws: {errs:?}");
    }
    assert!(errs[3] < 0.1, "{errs:?}");
}

#[test]
fn d_update_converges_to_the_matrix_that_generated_the_targets() {
    // λ̂ = E D*ᵀ exactly: SGD on ½‖E Dᵀ − λ̂‖² must bring D to D*.
    tch::manual_seed(4);
    let e = Tensor::randn([64, 3], (Kind::Double, Device::Cpu)); // [T, C]
    let d_star = Tensor::randn([7, 3], (Kind::Double, Device::Cpu)); // [D, C]
    let target = e.mm(&d_star.tr()); // [T, D]
    let mut d = vec![Tensor::zeros([7, 3], (Kind::Double, Device::Cpu))];
    for _ in 0..500 {
        update_d(&mut d, &e, std::slice::from_ref(&target), 5e-3);
    }
    let r = rel(&d[0], &d_star);
    assert!(r < 1e-6, "relative error {r}");
}

#[test]
fn gradient_angle_is_zero_where_d_is_exact_and_not_where_it_is_random() {
    use credit_assign::cnn::config::RuleSpec;
    use credit_assign::cnn::learner::Learner;
    use credit_assign::cnn::rules::Rule;
    let spec = RuleSpec {
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
    };
    let blocks = NetworkSpec {
        activation: Activation::Tanh,
        bias_init: 0.1,
        init: Default::default(),
        feedback_init: Default::default(),
        pool_padding: Default::default(),
        blocks: vec![
            BlockSpec::Conv(ConvSpec {
                channels: 4,
                kernel: 3,
                pool: true,
                dropout: 0.0,
            }),
            BlockSpec::Fc(FcSpec {
                units: 6,
                dropout: 0.0,
            }),
        ],
    };
    tch::manual_seed(5);
    let mut learner =
        Learner::new(&blocks, [2, 6, 6], 3, Rule::Dfa, &spec, 5, Device::Cpu).unwrap();
    learner.d[1] = learner.net.out_w.detach().tr().copy();
    let x = Tensor::randn([32, 2, 6, 6], (Kind::Float, Device::Cpu));
    let y = Tensor::randint(3, [32], (Kind::Int64, Device::Cpu));
    let angles = learner.gradient_angles(&x, &y, 0);
    assert_eq!(angles.len(), 2);
    assert!(angles[1] < 0.1, "fc block with exact D: {angles:?}");
    assert!(angles[0] > 5.0, "conv block with random D: {angles:?}");
}
