//! The hand-written error signals against libtorch autograd, an independent reference.
use credit_assign::nets::activation::Activation;
use credit_assign::nets::init::Init;
use credit_assign::nets::mlp::{aug, mse_per_sample, Mlp};
use credit_assign::rules::{bp, fa, Feedback, Rule};
use tch::{Device, Kind, Tensor};

fn net(acts: &[Activation], sizes: &[i64], members: usize) -> Mlp {
    let seeds: Vec<u64> = (0..members as u64).collect();
    let mut net = Mlp::new(sizes, acts, &seeds, Device::Cpu);
    for w in net.w.iter_mut() {
        *w = w.to_kind(Kind::Double);
    }
    net
}

/// ∂L/∂W^i by autograd, for L = ½ Σ_t ||ŷ_t − y_t||² summed over members too (members are
/// independent, so each member's gradient is its own).
fn autograd_grads(net: &Mlp, x: &Tensor, y: &Tensor) -> Vec<Tensor> {
    let ws: Vec<Tensor> = net
        .w
        .iter()
        .map(|w| w.detach().set_requires_grad(true))
        .collect();
    let mut h = x.shallow_clone();
    for (i, w) in ws.iter().enumerate() {
        let a = aug(&h).bmm(w);
        h = net.act[i].forward(&a);
    }
    let loss = mse_per_sample(&h, y).sum(None::<Kind>);
    loss.backward();
    ws.iter().map(|w| w.grad()).collect()
}

fn rel_diff(a: &Tensor, b: &Tensor) -> f64 {
    f64::try_from((a - b).norm() / b.norm()).unwrap()
}

#[test]
fn backprop_with_b_equal_w_matches_autograd_for_every_activation() {
    use Activation::*;
    for acts in [
        [Sigmoid, Sigmoid, Identity],
        [Tanh, Relu, Sigmoid],
        [Relu, Identity, Tanh],
    ] {
        let sizes = [12, 9, 7, 5];
        let net = net(&acts, &sizes, 3);
        let x = Tensor::randn([3, 8, 12], (Kind::Double, Device::Cpu));
        let y = Tensor::randn([3, 8, 5], (Kind::Double, Device::Cpu));
        let reference = autograd_grads(&net, &x, &y);

        let trace = tch::no_grad(|| net.forward(&x, None));
        let e_out = net.output_error(&trace, &y);
        // The feedback path with B set to W, exactly as the np/fa rules use it.
        let b: Vec<Tensor> = net.w[1..].iter().map(|w| w.copy()).collect();
        let fb = Feedback::new(Rule::Fa, b, true, None);
        let e_tilde = fb.errors(&net, &trace, &e_out);
        let grads = net.weight_grads(&trace, &e_tilde);
        let bp_grads = net.weight_grads(&trace, &bp::errors(&net, &trace, &e_out));
        for i in 0..net.depth() {
            let d = rel_diff(&grads[i], &reference[i]);
            assert!(
                d <= 1e-5,
                "{acts:?}: W^{} synthetic-path gradient differs from autograd by {d}",
                i + 1
            );
            assert!(rel_diff(&bp_grads[i], &reference[i]) <= 1e-5);
        }
    }
}

#[test]
fn random_feedback_does_not_match_autograd() {
    // Guards the test above: with a random B the lower layers' gradients must differ.
    let sizes = [12, 9, 7, 5];
    let net = net(
        &[Activation::Tanh, Activation::Tanh, Activation::Identity],
        &sizes,
        2,
    );
    let x = Tensor::randn([2, 8, 12], (Kind::Double, Device::Cpu));
    let y = Tensor::randn([2, 8, 5], (Kind::Double, Device::Cpu));
    let reference = autograd_grads(&net, &x, &y);
    let trace = tch::no_grad(|| net.forward(&x, None));
    let e_out = net.output_error(&trace, &y);
    let b: Vec<Tensor> = fa::init_b(&sizes, &[7, 8], Init::HeNormal, Device::Cpu)
        .into_iter()
        .map(|b| b.to_kind(Kind::Double))
        .collect();
    let fb = Feedback::new(Rule::Fa, b, true, None);
    let grads = net.weight_grads(&trace, &fb.errors(&net, &trace, &e_out));
    assert!(
        rel_diff(&grads[2], &reference[2]) <= 1e-5,
        "the top layer always gets the true error"
    );
    assert!(rel_diff(&grads[0], &reference[0]) > 0.1);
}
