//! Node perturbation's estimate Λ̂ against autograd's ∂L/∂h (paper eq. 1–2).
use credit_assign::nets::activation::Activation;
use credit_assign::nets::mlp::{aug, mse_per_sample, Mlp};
use credit_assign::rules::np;
use tch::{Device, Kind, Tensor};

/// One network copied into K members, one sample: averaging Λ̂ over members averages over
/// K independent noise draws.
fn estimate_error(k: i64, sigma: f64) -> (f64, f64) {
    let sizes = [6, 5, 4, 3];
    let acts = [Activation::Sigmoid, Activation::Tanh, Activation::Identity];
    let base = Mlp::new(&sizes, &acts, &[11], Device::Cpu);
    let w: Vec<Tensor> = base
        .w
        .iter()
        .map(|w| w.to_kind(Kind::Double).expand([k, -1, -1], false))
        .collect();
    let net = Mlp { w, ..base };
    tch::manual_seed(5);
    let x = Tensor::randn([1, 1, 6], (Kind::Double, Device::Cpu)).expand([k, 1, 6], false);
    let y = Tensor::randn([1, 1, 3], (Kind::Double, Device::Cpu)).expand([k, 1, 3], false);

    // Reference: ∂L/∂aug(H^1) by autograd, continuing the forward pass from a leaf.
    let h1 = tch::no_grad(|| net.forward(&x, None)).h_aug[1]
        .narrow(0, 0, 1)
        .detach()
        .set_requires_grad(true);
    let a2 = h1.bmm(&net.w[1].narrow(0, 0, 1));
    let h2 = aug(&net.act[1].forward(&a2));
    let y_hat = net.act[2].forward(&h2.bmm(&net.w[2].narrow(0, 0, 1)));
    mse_per_sample(&y_hat, &y.narrow(0, 0, 1))
        .sum(None::<Kind>)
        .backward();
    let truth = h1.grad().squeeze(); // [n_1 + 1]

    let _g = tch::no_grad_guard();
    let clean = net.forward(&x, None);
    let l = mse_per_sample(clean.y_hat(), &y);
    let s = Tensor::from(sigma).to_kind(Kind::Double).view([1, 1, 1]);
    // Noise on layer 1 only, so Λ̂^1 is compared with ∂L/∂h^1 with nothing else perturbed.
    let xi1 = Tensor::randn([k, 1, 6], (Kind::Double, Device::Cpu)) * sigma;
    let xi = vec![Some(xi1.shallow_clone()), None];
    let delta_l = mse_per_sample(&net.forward_noisy(&clean, &xi), &y) - &l;
    let lambda_hat = np::lambda_hat(&xi1, &delta_l, &s)
        .mean_dim(0, false, Kind::Double)
        .squeeze();
    let err = f64::try_from((&lambda_hat - &truth).norm() / truth.norm()).unwrap();
    (err, f64::try_from(truth.norm()).unwrap())
}

#[test]
fn lambda_hat_averages_to_the_true_gradient() {
    let (err_small, norm) = estimate_error(400, 1e-3);
    let (err_large, _) = estimate_error(40_000, 1e-3);
    assert!(norm > 1e-3, "degenerate test: the true gradient is ~0");
    // Monte-Carlo error falls as 1/sqrt(K): 10× fewer error for 100× the draws.
    assert!(
        err_large < 0.1,
        "Λ̂ averaged over 40000 draws is {err_large} from ∂L/∂h"
    );
    assert!(
        err_large < err_small / 4.0,
        "error did not shrink with draws: {err_small} → {err_large}"
    );
}

#[test]
fn lambda_hat_is_unbiased_at_larger_sigma_too() {
    // Λ̂ = ξ ΔL / σ² is O(1) for any σ; a factor-σ slip would leave it off by σ.
    let (err, _) = estimate_error(40_000, 1e-2);
    assert!(err < 0.1, "σ = 1e-2: relative error {err}");
}
