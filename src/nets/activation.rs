//! Per-layer nonlinearities σ_i and their derivatives σ'_i.
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use tch::Tensor;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Sigmoid,
    Tanh,
    Relu,
    Identity,
}

impl Activation {
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "sigmoid" => Self::Sigmoid,
            "tanh" => Self::Tanh,
            "relu" => Self::Relu,
            "identity" | "linear" => Self::Identity,
            _ => bail!("unknown activation '{s}': use sigmoid, tanh, relu or identity"),
        })
    }

    pub fn forward(self, a: &Tensor) -> Tensor {
        match self {
            Self::Sigmoid => a.sigmoid(),
            Self::Tanh => a.tanh(),
            Self::Relu => a.relu(),
            Self::Identity => a.shallow_clone(),
        }
    }

    /// σ'(a), written in terms of h = σ(a) where that is cheaper. `None` means σ' ≡ 1.
    pub fn derivative(self, a: &Tensor, h: &Tensor) -> Option<Tensor> {
        match self {
            Self::Sigmoid => Some(h * (1.0 - h)),
            Self::Tanh => Some(1.0 - h.square()),
            Self::Relu => Some(a.gt(0.0).to_kind(h.kind())),
            Self::Identity => None,
        }
    }
}

/// e ∘ σ'(a), skipping the multiply for the identity.
pub fn times_derivative(e: Tensor, act: Activation, a: &Tensor, h: &Tensor) -> Tensor {
    match act.derivative(a, h) {
        Some(d) => e * d,
        None => e,
    }
}
