//! The CNN's rules: how each hidden block gets its error, and how D learns.
//!
//! - `bp`: autograd through the whole network.
//! - `dfa`: direct feedback alignment. Block l's error is `e_tilde^l = E D^lᵀ`, reshaped to
//!   the block's output, with `E = softmax − y` and a fixed random `D^l ∈ R^{D_l×classes}`.
//! - `np_dfa`: as `dfa`, with `D^l` fitted by SGD to node-perturbation estimates
//!   `lambda_hat^l = xi^l ΔL / sigma²` of `∂L/∂h^l`.
//! - `fa`, `usf`, `brsf`, `frsf`, `kp`: layer by layer, the error sent down through B^l in
//!   place of W^l (`super::layerwise`); which B each uses is `super::feedback`.
//!
//! For every rule but `bp` each block's weight gradient comes from libtorch autograd within
//! that block only: the blocks run on the detached output of the block below
//! ([`Net::forward_local`]) and `backward` starts from the injected errors, so no gradient
//! crosses a block boundary. The output layer gets the true error `E`.
use super::net::{FeedbackInit, Local, Masks, Net};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Reduction, Tensor};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Bp,
    Fa,
    Dfa,
    NpDfa,
    Usf,
    Brsf,
    Frsf,
    Kp,
}

impl Rule {
    /// Every CNN rule, in the order of the enum.
    pub const ALL: [Rule; 8] = [
        Rule::Bp,
        Rule::Fa,
        Rule::Dfa,
        Rule::NpDfa,
        Rule::Usf,
        Rule::Brsf,
        Rule::Frsf,
        Rule::Kp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Rule::Bp => "bp",
            Rule::Fa => "fa",
            Rule::Dfa => "dfa",
            Rule::NpDfa => "np_dfa",
            Rule::Usf => "usf",
            Rule::Brsf => "brsf",
            Rule::Frsf => "frsf",
            Rule::Kp => "kp",
        }
    }

    /// Every CNN rule's name, for messages: "bp, fa, dfa, ...".
    pub fn names() -> String {
        let names: Vec<&str> = Rule::ALL.iter().map(|r| r.name()).collect();
        names.join(", ")
    }

    /// Sends errors straight from the output to every block through D^l (dfa, np_dfa).
    pub fn direct(self) -> bool {
        matches!(self, Rule::Dfa | Rule::NpDfa)
    }

    /// Sends errors down layer by layer through B^l (fa, usf, brsf, frsf, kp).
    pub fn layerwise(self) -> bool {
        !self.direct() && self != Rule::Bp
    }
}

/// The per-sample loss whose change node perturbation measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NpLoss {
    /// `½‖softmax − y‖²` (code).
    #[default]
    Mse,
    CrossEntropy,
}

/// Cross-entropy summed over the batch (the training loss of every rule), scalar.
pub fn ce_sum(logits: &Tensor, y: &Tensor) -> Tensor {
    logits.cross_entropy_loss::<Tensor>(y, None, Reduction::Sum, -100, 0.0)
}

/// `E = softmax(logits) − onehot(y)`, the gradient of [`ce_sum`] w.r.t. the logits. `[T, C]`
pub fn output_error(logits: &Tensor, y: &Tensor) -> Tensor {
    let classes = logits.size()[1];
    logits.softmax(-1, logits.kind()) - y.one_hot(classes).to_kind(logits.kind())
}

/// Per-sample loss `L_t` for node perturbation. `[T]`
pub fn np_loss(logits: &Tensor, y: &Tensor, kind: NpLoss) -> Tensor {
    match kind {
        NpLoss::Mse => {
            output_error(logits, y)
                .square()
                .sum_dim_intlist(1, false, None)
                * 0.5
        }
        NpLoss::CrossEntropy => {
            logits.cross_entropy_loss::<Tensor>(y, None, Reduction::None, -100, 0.0)
        }
    }
}

/// Backprop: fill every weight's gradient by autograd end to end. Returns the loss
/// (cross-entropy summed over the batch), detached.
pub fn bp_gradients(net: &Net, x: &Tensor, y: &Tensor, train: bool) -> Tensor {
    let loss = ce_sum(&net.forward(x, train), y);
    loss.backward();
    loss.detach()
}

/// Injected errors `e_tilde^l = E D^lᵀ`, each reshaped to block l's output. `[T, out_shape_l]`
pub fn injected_errors(net: &Net, e: &Tensor, d: &[Tensor]) -> Vec<Tensor> {
    let t = e.size()[0];
    net.blocks
        .iter()
        .zip(d)
        .map(|(blk, d)| {
            let mut shape = vec![t];
            shape.extend_from_slice(&blk.out_shape);
            e.mm(&d.tr()).view(shape.as_slice()) // [T, D_l] → [T, out_shape_l]
        })
        .collect()
}

/// The clean pass of a rule that trains block by block, and its results.
pub struct LocalStep {
    pub local: Local,
    pub e: Tensor,    // [T, C], detached
    pub loss: Tensor, // scalar, detached
}

/// Direct feedback: fill every weight's gradient from its block's injected error (the
/// output layer from E itself), by autograd within each block.
pub fn direct_gradients(net: &Net, x: &Tensor, y: &Tensor, d: &[Tensor], train: bool) -> LocalStep {
    let local = net.forward_local(x, train);
    let logits = local.logits.detach();
    let e = output_error(&logits, y); // [T, C]
    let e_tilde = tch::no_grad(|| injected_errors(net, &e, d));
    // Σ_l <h^l, e_tilde^l> + <logits, E>: its gradient w.r.t. each h^l is e_tilde^l, and no
    // path joins two blocks, so backward gives each block exactly its local gradient.
    let mut surrogate = (&local.logits * &e).sum(e.kind());
    for (h, et) in local.h.iter().zip(&e_tilde) {
        surrogate += (h * et).sum(et.kind());
    }
    surrogate.backward();
    let loss = ce_sum(&logits, y);
    LocalStep { local, e, loss }
}

/// Node-perturbation estimates `lambda_hat^l = xi^l ΔL / sigma²` (`[T, D_l]`) from one noisy
/// pass with every block perturbed, against the clean `logits`. `masks` are the clean pass's
/// dropout masks, reused only when `shared_mask`.
#[allow(clippy::too_many_arguments)]
pub fn lambda_hat(
    net: &Net,
    x: &Tensor,
    y: &Tensor,
    logits: &Tensor,
    masks: &Masks,
    sigma: f64,
    loss: NpLoss,
    shared_mask: bool,
    train: bool,
) -> Vec<Tensor> {
    let (noisy, xis) = net.forward_noisy(x, sigma, train, shared_mask.then_some(masks));
    tch::no_grad(|| {
        let delta = np_loss(&noisy, y, loss) - np_loss(logits, y, loss); // [T]
        let scale = delta.unsqueeze(1) / (sigma * sigma); // [T, 1]
        xis.iter().map(|xi| xi.flatten(1, -1) * &scale).collect()
    })
}

/// One SGD step on `½‖E Dᵀ − lambda_hat‖²` summed over the batch:
/// `D ← D − beta (E Dᵀ − lambda_hat)ᵀ E`.
pub fn update_d(d: &mut [Tensor], e: &Tensor, lambda_hat: &[Tensor], beta: f64) {
    update_d_except(d, e, lambda_hat, beta, &[]);
}

/// [`update_d`], leaving the D of the blocks in `fixed` (1-based block numbers) unchanged.
pub fn update_d_except(
    d: &mut [Tensor],
    e: &Tensor,
    lambda_hat: &[Tensor],
    beta: f64,
    fixed: &[usize],
) {
    tch::no_grad(|| {
        for (l, (d, lh)) in d.iter_mut().zip(lambda_hat).enumerate() {
            if fixed.contains(&(l + 1)) {
                continue;
            }
            let residual = e.mm(&d.tr()) - lh; // [T, D_l]
            let grad = residual.tr().mm(e); // [D_l, C]
            let _ = d.g_sub_(&(grad * beta));
        }
    })
}

/// Random initial feedback `[D_l, C]` per block: `U(−1/sqrt(C), 1/sqrt(C))` for
/// `sqrt_classes`, `U(−1/sqrt(D_l), 1/sqrt(D_l))` for `sqrt_units` (the authors' code).
pub fn init_d(
    sizes: &[i64],
    classes: i64,
    init: FeedbackInit,
    kind: Kind,
    device: Device,
) -> Vec<Tensor> {
    sizes
        .iter()
        .map(|&n| {
            let a = match init {
                FeedbackInit::SqrtClasses => 1.0 / (classes as f64).sqrt(),
                FeedbackInit::SqrtUnits => 1.0 / (n as f64).sqrt(),
            };
            (Tensor::rand([n, classes], (kind, device)) * 2.0 - 1.0) * a
        })
        .collect()
}
