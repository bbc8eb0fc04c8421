//! The CNN's layer-wise feedback pathway and the peers' rules on it (fa, usf, brsf, frsf,
//! kp), against independent references: autograd backprop, the closed-form angles of sign
//! symmetry at init, and Kolen–Pollack's exact contraction of W − B.
use credit_assign::cnn::config::RuleSpec;
use credit_assign::cnn::layerwise::feedback_gradients;
use credit_assign::cnn::learner::Learner;
use credit_assign::cnn::net::{
    Activation, BlockSpec, ConvSpec, FcSpec, Net, NetworkSpec, PoolPadding, WeightInit,
};
use credit_assign::cnn::rules::{bp_gradients, Rule};
use std::sync::Mutex;
use tch::{Device, Kind, Tensor};

/// libtorch's generator is global to the process: tests that seed it hold this lock.
static TORCH_RNG: Mutex<()> = Mutex::new(());

fn conv(channels: i64, kernel: i64, pool: bool, dropout: f64) -> BlockSpec {
    BlockSpec::Conv(ConvSpec {
        channels,
        kernel,
        pool,
        dropout,
    })
}

fn fc(units: i64, dropout: f64) -> BlockSpec {
    BlockSpec::Fc(FcSpec { units, dropout })
}

fn network(
    activation: Activation,
    pool_padding: PoolPadding,
    blocks: Vec<BlockSpec>,
) -> NetworkSpec {
    NetworkSpec {
        activation,
        bias_init: 0.1,
        init: Default::default(),
        feedback_init: Default::default(),
        pool_padding,
        blocks,
    }
}

/// `net` in f64 with its weights tripled, so that the gradients are far from trivial.
fn f64_net(spec: &NetworkSpec, input: [i64; 3], seed: i64) -> Net {
    tch::manual_seed(seed);
    let mut net = Net::new(spec, input, 3, Device::Cpu).unwrap();
    net.vs.double();
    tch::no_grad(|| {
        for v in net.vs.trainable_variables() {
            let _ = v.shallow_clone().g_mul_scalar_(3.0);
        }
    });
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

/// Every parameter's gradient, copied, in creation order (W^1, b^1, ..., out_w, out_b).
fn grads(net: &Net) -> Vec<Tensor> {
    (net.vs.trainable_variables().iter())
        .map(|t| t.grad().copy())
        .collect()
}

fn rel(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).norm().double_value(&[]) / b.norm().double_value(&[])
}

fn batch(t: i64, input: [i64; 3], kind: Kind) -> (Tensor, Tensor) {
    let x = Tensor::randn([t, input[0], input[1], input[2]], (kind, Device::Cpu));
    let y = Tensor::randint(3, [t], (Kind::Int64, Device::Cpu));
    (x, y)
}

/// Backprop's and the pathway's gradients with feedback `b`, both passes with the same
/// dropout masks (the generator seeded alike before each).
fn both(net: &Net, x: &Tensor, y: &Tensor, b: &[Tensor]) -> (Vec<Tensor>, Vec<Tensor>) {
    zero_grads(net);
    tch::manual_seed(99);
    let _ = bp_gradients(net, x, y, true);
    let bp = grads(net);
    zero_grads(net);
    tch::manual_seed(99);
    let _ = feedback_gradients(net, x, y, b, true);
    (bp, grads(net))
}

#[test]
fn with_b_equal_to_w_the_layerwise_pathway_is_backprop_for_every_parameter() {
    let _rng = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    // conv → conv → fc, with dropout in a conv and an fc block; both activations, both
    // poolings, and a conv block without pooling.
    let cases = [
        (
            Activation::Tanh,
            PoolPadding::Symmetric,
            vec![conv(4, 3, true, 0.25), conv(5, 3, true, 0.0), fc(6, 0.5)],
        ),
        (
            Activation::Relu,
            PoolPadding::TfSame,
            vec![
                conv(4, 5, false, 0.0),
                conv(5, 3, true, 0.25),
                fc(7, 0.0),
                fc(6, 0.5),
            ],
        ),
    ];
    for (k, (activation, padding, blocks)) in cases.into_iter().enumerate() {
        let spec = network(activation, padding, blocks);
        let input = [2, 8, 8];
        let net = f64_net(&spec, input, k as i64 + 1);
        let (x, y) = batch(8, input, Kind::Double);
        let b: Vec<Tensor> = net.weights()[1..]
            .iter()
            .map(|w| w.detach().copy())
            .collect();
        let (bp, layerwise) = both(&net, &x, &y, &b);
        assert_eq!(bp.len(), 2 * (spec.blocks.len() + 1));
        for (i, (g, g_bp)) in layerwise.iter().zip(&bp).enumerate() {
            assert!(
                g_bp.norm().double_value(&[]) > 1e-6,
                "case {k}, parameter {i}: zero"
            );
            let r = rel(g, g_bp);
            assert!(
                r <= 1e-10,
                "case {k}, parameter {i}: relative difference {r}"
            );
        }
        // and a random B leaves only the output layer's gradient exact
        let random: Vec<Tensor> = b.iter().map(Tensor::randn_like).collect();
        let (bp, fa) = both(&net, &x, &y, &random);
        let n = bp.len();
        for i in 0..n {
            let r = rel(&fa[i], &bp[i]);
            match i >= n - 2 {
                true => assert!(r <= 1e-10, "case {k}, output parameter {i}: {r}"),
                false => assert!(r > 1e-2, "case {k}, hidden parameter {i}: {r}"),
            }
        }
    }
}

fn rule_spec(decay: Option<f64>) -> RuleSpec {
    RuleSpec {
        lr: 1e-3,
        adam_eps: 1e-8,
        batch: 8,
        epochs: 1,
        beta: None,
        sigma: None,
        np_loss: None,
        shared_dropout_mask: None,
        fixed_d_blocks: None,
        decay,
    }
}

fn learner(spec: &NetworkSpec, input: [i64; 3], rule: Rule, decay: Option<f64>) -> Learner {
    tch::manual_seed(7);
    Learner::new(spec, input, 3, rule, &rule_spec(decay), 7, Device::Cpu).unwrap()
}

fn angle(a: &Tensor, b: &Tensor) -> f64 {
    let (a, b) = (a.reshape([-1]), b.reshape([-1]));
    let cos =
        a.dot(&b).double_value(&[]) / (a.norm().double_value(&[]) * b.norm().double_value(&[]));
    cos.acos().to_degrees()
}

#[test]
fn sign_symmetry_has_w_signs_and_the_closed_form_angles_at_init() {
    let _rng = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    // W^2: a 128×128×5×5 kernel (409,600 entries), W^3: fc 1024 × 512. Glorot's uniform W
    // has the variance of uSF's s² and of brSF's E m², so ‖B‖/‖W‖ ≈ 1 too.
    let mut spec = network(
        Activation::Tanh,
        PoolPadding::Symmetric,
        vec![
            conv(128, 1, false, 0.0),
            conv(128, 5, true, 0.0),
            fc(1024, 0.0),
        ],
    );
    spec.init = WeightInit::GlorotUniform;
    // cos∠(sign W, W) = E|w|/√E w² = √3/2 for uniform W; with |M| uniform and independent,
    // cos = E|m| E|w| / √(E m² E w²) = 3/4 (tests/peer_rules.rs checks the MLP's).
    let expected = [
        (Rule::Usf, 30.0),
        (Rule::Brsf, 0.75f64.acos().to_degrees()),
        (Rule::Frsf, 0.75f64.acos().to_degrees()),
    ];
    for (rule, closed_form) in expected {
        let l = learner(&spec, [64, 4, 4], rule, None);
        let w = l.net.weights();
        let b = l.feedback(0);
        assert_eq!(b.len(), 3, "{rule:?}: B^2, B^3 and the output layer's B^4");
        for (k, (b, w)) in b.iter().zip(&w[1..]).enumerate() {
            assert_eq!(b.size(), w.size(), "{rule:?} B^{}", k + 2);
            assert!(
                b.sign().equal(&w.sign()),
                "{rule:?} B^{}: sign(B) ≠ sign(W)",
                k + 2
            );
        }
        for k in 0..2 {
            let a = angle(&b[k], w[k + 1]);
            eprintln!(
                "{rule:?} B^{}: {a:.3}° (closed form {closed_form:.3}°)",
                k + 2
            );
            assert!((a - closed_form).abs() < 0.2, "{rule:?} B^{}: {a}°", k + 2);
            let ratio = b[k].norm().double_value(&[]) / w[k + 1].norm().double_value(&[]);
            assert!(
                (ratio - 1.0).abs() < 0.01,
                "{rule:?} ‖B^{}‖/‖W‖ = {ratio}",
                k + 2
            );
        }
        assert_eq!(l.weight_angles(0).len(), 3);
        assert!((l.weight_angles(0)[0] - closed_form).abs() < 0.2);
    }
}

fn small() -> (NetworkSpec, [i64; 3]) {
    let blocks = vec![conv(4, 3, true, 0.0), conv(4, 3, true, 0.0), fc(8, 0.5)];
    (
        network(Activation::Tanh, PoolPadding::TfSame, blocks),
        [3, 8, 8],
    )
}

fn same(a: &[Tensor], b: &[Tensor]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| a.equal(b))
}

fn abs(b: &[Tensor]) -> Vec<Tensor> {
    b.iter().map(Tensor::abs).collect()
}

#[test]
fn brsf_redraws_m_every_step_and_frsf_never() {
    let _rng = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let (spec, input) = small();
    let (x, y) = batch(8, input, Kind::Float);
    let mut brsf = learner(&spec, input, Rule::Brsf, None);
    let b0 = brsf.feedback(0);
    assert!(
        same(&b0, &brsf.feedback(0)),
        "brsf's M of a step is a function of (seed, step)"
    );
    assert!(
        !same(&abs(&b0), &abs(&brsf.feedback(1))),
        "brsf: the next step draws a new M"
    );
    let _ = brsf.step(&x, &y, 0);
    // W has moved; M of step 0 is still M of step 0, and B takes the new W's signs
    let again = brsf.feedback(0);
    for (k, (a, b)) in abs(&b0).iter().zip(abs(&again)).enumerate() {
        assert!(a.equal(&b), "brsf |B^{}| of step 0 changed with W", k + 2);
    }
    let w = brsf.net.weights();
    assert!((again.iter().zip(&w[1..])).all(|(b, w)| b.sign().equal(&w.sign())));

    let mut frsf = learner(&spec, input, Rule::Frsf, None);
    let m = abs(&frsf.feedback(0));
    assert!(same(&m, &abs(&frsf.feedback(1))), "frsf: M is drawn once");
    for step in 0..3 {
        let _ = frsf.step(&x, &y, step);
    }
    assert!(
        same(&m, &abs(&frsf.feedback(3))),
        "frsf: M stays through training"
    );
    assert!(same(&m, &frsf.m_abs), "frsf: |B| is its stored |M|");
}

#[test]
fn kp_shrinks_w_minus_b_by_exactly_one_minus_lambda_per_step() {
    let _rng = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    // W' − B' = (1−λ)W + ΔW − (1−λ)B − ΔW = (1−λ)(W − B), with Adam's ΔW.
    let lambda = 0.05;
    let (spec, input) = small();
    let (x, y) = batch(8, input, Kind::Float);
    let mut kp = learner(&spec, input, Rule::Kp, Some(lambda));
    let mut fa = learner(&spec, input, Rule::Fa, None);
    assert!(same(&kp.b, &fa.b), "kp starts from fa's B");
    let fa_b: Vec<Tensor> = fa.b.iter().map(Tensor::copy).collect();
    let gap = |l: &Learner| -> Vec<Tensor> {
        let w = l.net.weights();
        (l.b.iter().zip(&w[1..]))
            .map(|(b, w)| (*w - b).to_kind(Kind::Double))
            .collect()
    };
    for step in 0..5 {
        let before = gap(&kp);
        let _ = kp.step(&x, &y, step);
        let _ = fa.step(&x, &y, step);
        for (k, (after, before)) in gap(&kp).iter().zip(&before).enumerate() {
            let r = rel(after, &(before * (1.0 - lambda)));
            // f32 rounding of W and B; a λ wrong by 1e-3 would give 1e-3
            assert!(r < 1e-5, "step {step}, W^{} − B^{}: {r}", k + 2, k + 2);
        }
    }
    assert!(same(&fa.b, &fa_b), "fa's B never moves");
    assert!(!same(&kp.b, &fa_b), "kp's B moves");
}

#[test]
fn the_logged_angle_is_zero_where_b_is_w_and_not_for_sign_symmetry() {
    let _rng = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let (mut spec, input) = small();
    spec.blocks = vec![conv(4, 3, true, 0.0), conv(4, 3, true, 0.0), fc(8, 0.0)];
    let (x, y) = batch(16, input, Kind::Float);
    let mut fa = learner(&spec, input, Rule::Fa, None);
    fa.b = fa.net.weights()[1..]
        .iter()
        .map(|w| w.detach().copy())
        .collect();
    let angles = fa.gradient_angles(&x, &y, 0);
    assert_eq!(angles.len(), 3);
    // f32 gradients: cos is 1 to about 1e-6, which acos turns into a few hundredths of a degree
    assert!(angles.iter().all(|a| *a < 0.5), "B = W: {angles:?}");
    assert!(fa.weight_angles(0).iter().all(|a| *a < 0.5));
    let usf = learner(&spec, input, Rule::Usf, None);
    let angles = usf.gradient_angles(&x, &y, 0);
    assert!(angles.iter().all(|a| *a > 1.0), "usf: {angles:?}");
}
