//! The layer-wise feedback pathway of the peers' rules in the CNN (fa, usf, brsf, frsf, kp):
//! block l's error comes from the error of the layer above it, sent down through a feedback
//! weight B^{l+1} in place of W^{l+1}, and through pooling, the activation's derivative and
//! dropout exactly as backprop sends it.
//!
//! Layers are numbered as in the paper: W^1..W^L are the hidden blocks' weights, W^{L+1} the
//! output layer's; B^l (l = 2..L+1) has W^l's shape and is `b[l-2]`. With z^l block l's
//! linear part (`conv(h^{l-1}, W^l) + b^l` before pooling, or `h^{l-1} W^lᵀ + b^l`) and h^l its
//! output:
//!
//! - δ^{L+1} = E = softmax − y at the logits, `[T, C]`;
//! - ẽ^{l-1} = δ^l sent through B^l: the transposed convolution with B^l for a conv layer (the
//!   input-gradient of `conv(·, B^l)`), δ^l B^l for a fully connected one; `[T, out_shape]`;
//! - δ^l = ∂⟨h^l, ẽ^l⟩/∂z^l, by autograd within block l: dropout's mask, the activation's
//!   derivative and the max-pool's routing of this forward pass, as backprop;
//! - ∇W^l, ∇b^l by autograd of ⟨z^l, δ^l⟩ within block l (its input is detached).
//!
//! Why not the straight-through form `conv(x̄, W) + conv(x, B) − conv(x, B)̄` (bar: detached):
//! it is exact too, but runs one more convolution per layer in the forward pass. Here a layer
//! costs what it costs backprop: its forward convolution, the input-gradient (through B instead
//! of W) and the weight gradient. With B^l = W^l the pathway is backprop
//! (tests/cnn_layerwise.rs checks every parameter against autograd).
use super::net::{Local, Net};
use super::rules::{ce_sum, output_error, LocalStep};
use tch::Tensor;

/// Fill every weight's gradient by the layer-wise pathway with feedback `b`
/// (`b[l-2] = B^l`, l = 2..L+1, each shaped like W^l).
pub fn feedback_gradients(
    net: &Net,
    x: &Tensor,
    y: &Tensor,
    b: &[Tensor],
    train: bool,
) -> LocalStep {
    let local = net.forward_local(x, train);
    let logits = local.logits.detach();
    let e = output_error(&logits, y); // [T, C]
    let deltas = deltas(net, &local, &e, b);
    // ⟨logits, E⟩ + Σ_l ⟨z^l, δ^l⟩: no path joins two blocks, so backward gives each block the
    // gradient of its own weights for its own δ.
    let mut surrogate = (&local.logits * &e).sum(e.kind());
    for (z, delta) in local.z.iter().zip(&deltas) {
        surrogate += (z * delta).sum(delta.kind());
    }
    surrogate.backward();
    let loss = ce_sum(&logits, y);
    LocalStep { local, e, loss }
}

/// δ^l of every hidden block l = 1..L, shaped like z^l, computed from the top down.
fn deltas(net: &Net, local: &Local, e: &Tensor, b: &[Tensor]) -> Vec<Tensor> {
    let n = net.blocks.len();
    let mut delta = e.shallow_clone(); // δ^{L+1}
    let mut out = Vec::with_capacity(n);
    // `l` is the 0-based block: paper block l+1, whose layer above is W^{l+2}, B^{l+2} = b[l].
    for l in (0..n).rev() {
        let e_tilde = send_down(net, l + 1, &delta, &b[l]); // at h of block l
        let inner = (&local.h[l] * &e_tilde).sum(e_tilde.kind());
        delta = Tensor::run_backward(&[inner], &[&local.z[l]], false, false).remove(0);
        out.push(delta.shallow_clone());
    }
    out.reverse();
    out
}

/// δ of the 0-based layer `k` (a hidden block, or the output layer when k = L) sent down
/// through `b`, W's stand-in: the error at the output of block k−1, `[T, out_shape_{k-1}]`.
fn send_down(net: &Net, k: usize, delta: &Tensor, b: &Tensor) -> Tensor {
    match net.blocks.get(k) {
        Some(blk) if blk.conv => {
            // the input-gradient of conv(·, b) with SAME padding and stride 1: [T, C_in, H, W]
            let pad = b.size()[2] / 2;
            delta.conv_transpose2d(b, None::<Tensor>, [1, 1], [pad, pad], [0, 0], 1, [1, 1])
        }
        _ => {
            // [T, out]·[out, in] → [T, in], unflattened to block k−1's output
            let mut shape = vec![delta.size()[0]];
            shape.extend_from_slice(&net.blocks[k - 1].out_shape);
            delta.mm(b).view(shape.as_slice())
        }
    }
}
