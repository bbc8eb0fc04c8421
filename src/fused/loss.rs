//! The output losses on the fused engine: each sample's term of L and the error
//! E^{N+1} = ∂L/∂A^{N+1}, the torch engine's `nets::loss` over row-major [T × n] slices.
//!
//! With `loss_reduction: mean` every term and E carry 1/T, so NP's ΔL does too.
use super::linalg;
use crate::nets::activation::Activation;
use crate::nets::loss::{Loss, Reduction};

/// 1 (sum) or 1/T (mean), as the f32 the torch engine multiplies by.
fn scale(reduction: Reduction, t: usize) -> f32 {
    reduction.scale(t as i64) as f32
}

/// out[t] = the batch loss's term of sample t, from the output's pre-activation `a` and
/// activation `y_hat` = σ(a) against `y`, each [T × n].
pub fn terms(
    (loss, reduction): (Loss, Reduction),
    a: &[f32],
    y_hat: &[f32],
    y: &[f32],
    n: usize,
    out: &mut [f32],
) {
    let rows = a.chunks(n).zip(y_hat.chunks(n)).zip(y.chunks(n));
    for (l, ((a, y_hat), y)) in out.iter_mut().zip(rows) {
        *l = match loss {
            Loss::SquaredError => half_sq_err(y_hat, y),
            Loss::SigmoidCrossEntropy => sigmoid_cross_entropy(a, y),
            Loss::SoftmaxCrossEntropy => softmax_cross_entropy(a, y),
        };
    }
    if !reduction.is_default() {
        let s = scale(reduction, out.len());
        out.iter_mut().for_each(|l| *l *= s);
    }
}

/// E^{N+1} into `e` ([T × n]): (Ŷ − Y) ∘ σ'_{N+1} for the squared error, Ŷ − Y for the sigmoid
/// cross-entropy, softmax(A) − Y for the softmax one; times 1/T with mean reduction.
pub fn output_error(
    (loss, reduction): (Loss, Reduction),
    act: Activation,
    (a, y_hat, y): (&[f32], &[f32], &[f32]),
    n: usize,
    e: &mut [f32],
) {
    match loss {
        Loss::SquaredError | Loss::SigmoidCrossEntropy => {
            e.iter_mut()
                .zip(y_hat.iter().zip(y))
                .for_each(|(e, (h, y))| *e = h - y);
            if loss == Loss::SquaredError {
                linalg::times_derivative(act, a, y_hat, e);
            }
        }
        Loss::SoftmaxCrossEntropy => {
            for ((e, a), y) in e.chunks_mut(n).zip(a.chunks(n)).zip(y.chunks(n)) {
                softmax(a, e);
                e.iter_mut().zip(y).for_each(|(e, y)| *e -= y);
            }
        }
    }
    if !reduction.is_default() {
        let s = scale(reduction, e.len() / n);
        e.iter_mut().for_each(|e| *e *= s);
    }
}

/// ½ ||ŷ − y||².
fn half_sq_err(y_hat: &[f32], y: &[f32]) -> f32 {
    0.5 * y_hat
        .iter()
        .zip(y)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f32>()
}

/// Σ_j softplus(a_j) − y_j a_j in the stable form max(a, 0) − y a + log(1 + e^{−|a|}).
fn sigmoid_cross_entropy(a: &[f32], y: &[f32]) -> f32 {
    a.iter()
        .zip(y)
        .map(|(&a, &y)| a.max(0.0) - a * y + (-a.abs()).exp().ln_1p())
        .sum()
}

/// −Σ_j y_j log softmax(a)_j, with log softmax(a) = a − max a − log Σ e^{a − max a}.
fn softmax_cross_entropy(a: &[f32], y: &[f32]) -> f32 {
    let max = a.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let log_sum = a.iter().map(|&a| (a - max).exp()).sum::<f32>().ln();
    -a.iter()
        .zip(y)
        .map(|(&a, &y)| y * (a - max - log_sum))
        .sum::<f32>()
}

/// softmax(a) of one row into `out`.
fn softmax(a: &[f32], out: &mut [f32]) {
    let max = a.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    out.iter_mut()
        .zip(a)
        .for_each(|(o, &a)| *o = (a - max).exp());
    let sum: f32 = out.iter().sum();
    out.iter_mut().for_each(|o| *o /= sum);
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Tensor;

    /// The torch engine's terms and error on the same rows (an independent implementation:
    /// libtorch's kernels), for every loss and reduction.
    #[test]
    fn terms_and_error_match_the_torch_engines() {
        let (t, n) = (4usize, 3usize);
        let a: Vec<f32> = (0..t * n).map(|k| (k as f32 * 0.77).sin() * 3.0).collect();
        let y: Vec<f32> = (0..t * n)
            .map(|k| ((k % n == k / n % n) as u8) as f32)
            .collect();
        for loss in [
            Loss::SquaredError,
            Loss::SigmoidCrossEntropy,
            Loss::SoftmaxCrossEntropy,
        ] {
            let act = loss.output_activation().unwrap_or(Activation::Tanh);
            for reduction in [Reduction::Sum, Reduction::Mean] {
                let tensor = |v: &[f32]| Tensor::from_slice(v).view([1, t as i64, n as i64]);
                let (a_t, y_t) = (tensor(&a), tensor(&y));
                let h_t = act.forward(&a_t);
                let net = crate::nets::mlp::Mlp {
                    sizes: vec![n as i64, n as i64],
                    act: vec![act],
                    w: vec![Tensor::zeros(
                        [1, n as i64 + 1, n as i64],
                        tch::kind::FLOAT_CPU,
                    )],
                    loss,
                    reduction,
                };
                let want_l =
                    Vec::<f32>::try_from(net.loss_terms(&a_t, &h_t, &y_t).view([-1])).unwrap();
                let trace = crate::nets::mlp::Trace {
                    h_aug: Vec::new(),
                    a: vec![a_t.shallow_clone()],
                    h: vec![h_t.shallow_clone()],
                };
                let want_e =
                    Vec::<f32>::try_from(net.output_error(&trace, &y_t).view([-1])).unwrap();
                let h = Vec::<f32>::try_from(h_t.view([-1])).unwrap();
                let (mut l, mut e) = (vec![0.0; t], vec![0.0; t * n]);
                terms((loss, reduction), &a, &h, &y, n, &mut l);
                output_error((loss, reduction), act, (&a, &h, &y), n, &mut e);
                for (got, want) in l.iter().zip(&want_l).chain(e.iter().zip(&want_e)) {
                    assert!(
                        (got - want).abs() <= 1e-6 * (1.0 + want.abs()),
                        "{loss:?} {reduction:?}: {got} against {want}"
                    );
                }
            }
        }
    }
}
