//! The output loss L and its error E^{N+1} = ∂L/∂A^{N+1} (ALGORITHMS.md, "Error signals";
//! the peers' losses of "The peers' rules").
//!
//! Per-sample terms L_t are computed unreduced here; `Reduction::scale` turns them into the
//! batch loss's terms: L = scale · Σ_t L_t, with scale 1 (sum, this suite's default and the
//! paper code's) or 1/T (mean, the peers').
use crate::nets::activation::{times_derivative, Activation};
use serde::{Deserialize, Serialize};
use tch::Tensor;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// L_t = ½ ||ŷ_t − y_t||², any output activation.
    #[default]
    SquaredError,
    /// L_t = Σ_j −y log ŷ − (1 − y) log(1 − ŷ) with ŷ = sigmoid(a): a sigmoid output layer.
    /// E = Ŷ − Y (Akrout et al. 2019).
    SigmoidCrossEntropy,
    /// L_t = −Σ_j y log softmax(a)_j on an identity (logit) output layer. E = softmax(A) − Y.
    SoftmaxCrossEntropy,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reduction {
    /// L = Σ_t L_t (the paper's code).
    #[default]
    Sum,
    /// L = (1/T) Σ_t L_t (the peers'; every term and E carry the 1/T).
    Mean,
}

impl Loss {
    pub fn is_default(&self) -> bool {
        *self == Loss::SquaredError
    }

    pub fn name(self) -> &'static str {
        match self {
            Loss::SquaredError => "squared_error",
            Loss::SigmoidCrossEntropy => "sigmoid_cross_entropy",
            Loss::SoftmaxCrossEntropy => "softmax_cross_entropy",
        }
    }

    /// The output activation the loss is written for, if it needs one.
    pub fn output_activation(self) -> Option<Activation> {
        match self {
            Loss::SquaredError => None,
            Loss::SigmoidCrossEntropy => Some(Activation::Sigmoid),
            Loss::SoftmaxCrossEntropy => Some(Activation::Identity),
        }
    }

    /// Unreduced L_t from the output's pre-activation a and activation y_hat = σ(a):
    /// [M, T, n] → [M, T]. The cross-entropies work on a, in the stable log-sum-exp forms.
    pub fn per_sample(self, a: &Tensor, y_hat: &Tensor, y: &Tensor) -> Tensor {
        let sum = |t: Tensor| t.sum_dim_intlist(-1, false, None);
        match self {
            Loss::SquaredError => sum((y_hat - y).square()) * 0.5,
            // softplus(a) − y a = max(a, 0) − y a + log(1 + e^{−|a|})
            Loss::SigmoidCrossEntropy => sum(a.relu() - a * y + (-a.abs()).exp().log1p()),
            Loss::SoftmaxCrossEntropy => -sum(y * a.log_softmax(-1, None::<tch::Kind>)),
        }
    }

    /// Unreduced ∂L_t/∂a: [M, T, n]. `act` is the output activation (validated to be the
    /// loss's own for the cross-entropies).
    pub fn error(self, act: Activation, a: &Tensor, y_hat: &Tensor, y: &Tensor) -> Tensor {
        match self {
            Loss::SquaredError => times_derivative(y_hat - y, act, a, y_hat),
            Loss::SigmoidCrossEntropy => y_hat - y,
            Loss::SoftmaxCrossEntropy => a.softmax(-1, None::<tch::Kind>) - y,
        }
    }
}

impl Reduction {
    pub fn is_default(&self) -> bool {
        *self == Reduction::Sum
    }

    /// The factor from Σ_t L_t to L for a batch of t samples.
    pub fn scale(self, t: i64) -> f64 {
        match self {
            Reduction::Sum => 1.0,
            Reduction::Mean => 1.0 / t as f64,
        }
    }
}
