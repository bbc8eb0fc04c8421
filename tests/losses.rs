//! The output error E^{N+1} of every loss and reduction against libtorch's own losses and
//! autograd: E = ∂L/∂A^{N+1} with L the batch loss.
use credit_assign::nets::activation::Activation;
use credit_assign::nets::loss::{Loss, Reduction};
use credit_assign::nets::mlp::Mlp;
use tch::{Device, Kind, Tensor};

const M: i64 = 2;
const T: i64 = 6;
const N: i64 = 5;

fn rel_diff(a: &Tensor, b: &Tensor) -> f64 {
    f64::try_from((a - b).norm() / b.norm()).unwrap()
}

/// libtorch's summed loss of each member from logits a [M, T, N] and targets.
fn reference(loss: Loss, a: &Tensor, y: &Tensor, labels: &Tensor) -> Tensor {
    let r = tch::Reduction::None;
    match loss {
        Loss::SquaredError => (a - y).square().sum_dim_intlist(&[1, 2][..], false, None) * 0.5,
        Loss::SigmoidCrossEntropy => a
            .binary_cross_entropy_with_logits::<Tensor>(y, None, None, r)
            .sum_dim_intlist(&[1, 2][..], false, None),
        Loss::SoftmaxCrossEntropy => a
            .reshape([M * T, N])
            .cross_entropy_loss::<Tensor>(&labels.reshape([-1]), None, r, -100, 0.0)
            .reshape([M, T])
            .sum_dim_intlist(1, false, None),
    }
}

#[test]
fn output_error_is_the_gradient_of_libtorchs_loss() {
    let labels = Tensor::randint(N, [M, T], (Kind::Int64, Device::Cpu));
    let one_hot = labels.one_hot(N).to_kind(Kind::Double);
    let soft = Tensor::rand([M, T, N], (Kind::Double, Device::Cpu)); // pixel-like targets
    for (loss, out_act, y) in [
        (Loss::SquaredError, Activation::Identity, &soft),
        (Loss::SigmoidCrossEntropy, Activation::Sigmoid, &soft),
        (Loss::SigmoidCrossEntropy, Activation::Sigmoid, &one_hot),
        (Loss::SoftmaxCrossEntropy, Activation::Identity, &one_hot),
    ] {
        for reduction in [Reduction::Sum, Reduction::Mean] {
            let mut net = Mlp::new(&[7, N], &[out_act], &[0, 1], Device::Cpu);
            net.w = net
                .w
                .iter()
                .map(|w| w.to_kind(Kind::Double) * 3.0)
                .collect();
            net.loss = loss;
            net.reduction = reduction;
            let x = Tensor::randn([M, T, 7], (Kind::Double, Device::Cpu));
            let trace = net.forward(&x, None);
            let e = net.output_error(&trace, y);
            let terms = net.loss_terms(trace.a_out(), trace.y_hat(), y);

            let a = trace.a_out().detach().set_requires_grad(true);
            let per_t = if reduction == Reduction::Mean {
                1.0 / T as f64
            } else {
                1.0
            };
            let l = reference(loss, &a, y, &labels) * per_t; // [M]
            l.sum(Kind::Double).backward();
            let what = format!("{loss:?}, {reduction:?}");
            let d = rel_diff(&e, &a.grad());
            assert!(d < 1e-10, "{what}: E differs from autograd by {d}");
            let d = rel_diff(&terms.sum_dim_intlist(1, false, None), &l.detach());
            assert!(d < 1e-10, "{what}: the loss differs from libtorch's by {d}");
        }
    }
}

#[test]
fn the_cross_entropies_refuse_the_wrong_output_layer() {
    let yaml = |loss: &str, last: &str, task: &str| {
        let (data, sizes) = match task {
            "teacher" => (
                "{ dataset: gaussian, train_size: 50, test_size: 10 }",
                "[4, 3, 2]",
            ),
            _ => (
                "{ dataset: synthetic-mnist, train_size: 50, test_size: 10 }",
                "[784, 3, 10]",
            ),
        };
        format!(
            "experiment: x\ntask: {task}\ndata: {data}\n\
             network: {{ sizes: {sizes}, activations: [tanh, {last}] }}\n\
             training: {{ iterations: 1, batch_size: 4, log_every: 1, eval_every: 1, seeds: [0], loss: {loss} }}\n\
             runs: [{{ rule: bp, lr: 0.1 }}]\n"
        )
    };
    let check = |text: String| {
        let value: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        credit_assign::mlp::Experiment::from_value(value, "x.yaml").map(|_| ())
    };
    assert!(check(yaml("sigmoid_cross_entropy", "sigmoid", "classify")).is_ok());
    assert!(check(yaml("softmax_cross_entropy", "identity", "classify")).is_ok());
    for (loss, last, task, says) in [
        (
            "sigmoid_cross_entropy",
            "identity",
            "classify",
            "to end in sigmoid",
        ),
        (
            "softmax_cross_entropy",
            "sigmoid",
            "classify",
            "to end in identity",
        ),
        (
            "sigmoid_cross_entropy",
            "sigmoid",
            "teacher",
            "targets in [0, 1]",
        ),
    ] {
        let err = format!("{:#}", check(yaml(loss, last, task)).unwrap_err());
        assert!(err.contains("training.loss") && err.contains(says), "{err}");
    }
}
