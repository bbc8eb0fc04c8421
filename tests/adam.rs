//! Our member-batched Adam (src/optim.rs) against libtorch's own Adam (tch's nn::Adam) on the
//! same problem: two members with different learning rates each follow, step by step, the
//! trajectory of a separate libtorch optimiser with that learning rate.
use credit_assign::optim::{Optimizer, OptimizerKind};
use credit_assign::rng::{randn, Stream};
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};

const STEPS: usize = 50;
const SHAPE: [i64; 2] = [5, 3];

/// An ill-conditioned quadratic ½ Σ c ∘ (w − w*)², gradient c ∘ (w − w*): [5, 3].
fn problem() -> (Tensor, Tensor, Tensor) {
    // Drawn under the crate's generator lock: tests run in parallel threads and libtorch's
    // generator is global.
    let start = randn(7, Stream::Teacher, 0, &SHAPE, Device::Cpu);
    let target = randn(7, Stream::Teacher, 1, &SHAPE, Device::Cpu);
    let curvature =
        Tensor::linspace(0.01, 10.0, SHAPE[0] * SHAPE[1], (Kind::Float, Device::Cpu)).view(SHAPE);
    (start, target, curvature)
}

/// libtorch's Adam from `start` with learning rate `lr`: W after each step, [STEPS][5, 3].
fn reference(lr: f64, eps: f64) -> Vec<Tensor> {
    let (start, target, curvature) = problem();
    let vs = nn::VarStore::new(Device::Cpu);
    let w = vs.root().var_copy("w", &start);
    let mut opt = nn::Adam {
        eps,
        ..Default::default()
    }
    .build(&vs, lr)
    .expect("libtorch's Adam builds");
    (0..STEPS)
        .map(|_| {
            let loss = ((&w - &target).square() * &curvature).sum(Kind::Float) * 0.5;
            opt.zero_grad();
            loss.backward();
            opt.step();
            w.detach().copy()
        })
        .collect()
}

fn check(eps: f64) {
    let lrs = [0.05f32, 0.003];
    // libtorch's trajectories first: they need autograd, which the guard below turns off.
    let theirs: Vec<Vec<Tensor>> = lrs
        .iter()
        .map(|&lr| reference(f64::from(lr), eps))
        .collect();
    let (start, target, curvature) = problem();
    let _guard = tch::no_grad_guard();
    // Two members: [2, 5, 3], with learning rates [2, 1, 1].
    let mut w = Tensor::stack(&[&start, &start], 0);
    let lr = Tensor::from_slice(&lrs).view([2, 1, 1]);
    let mut opt = Optimizer::new(OptimizerKind::Adam, lr, &[w.shallow_clone()], eps);
    let mut ours = Vec::with_capacity(STEPS);
    for _ in 0..STEPS {
        let grad = (&w - &target) * &curvature;
        let delta = opt.delta(&[grad]);
        w += &delta[0];
        ours.push(w.copy());
    }
    for (m, (&lr, theirs)) in lrs.iter().zip(&theirs).enumerate() {
        let moved = (&theirs[STEPS - 1] - &start).norm().double_value(&[]);
        assert!(
            moved > 0.05,
            "lr {lr}: the reference barely moved ({moved})"
        );
        for (k, (a, b)) in ours.iter().zip(theirs).enumerate() {
            let a = a.get(m as i64);
            let rel = ((&a - b).norm() / b.norm()).double_value(&[]);
            assert!(
                rel <= 1e-5,
                "member {m} (lr {lr}, eps {eps}) step {}: relative difference {rel:e} from libtorch's Adam",
                k + 1
            );
        }
    }
}

#[test]
fn batched_adam_matches_libtorch_adam_per_member() {
    check(1e-8);
}

#[test]
fn batched_adam_matches_libtorch_adam_with_a_large_eps() {
    // Table 1's NP uses ε 1e-5: large enough to matter once the second moment is small.
    check(1e-5);
}
