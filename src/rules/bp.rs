//! Backprop: the error goes down through W itself. Autograd checks this in the tests.
use crate::nets::mlp::{Mlp, Trace};
use tch::Tensor;

/// E^i for i = 1..N+1: Ẽ with B = W.
pub fn errors(net: &Mlp, trace: &Trace, e_out: &Tensor) -> Vec<Tensor> {
    net.errors_fa(trace, e_out, &net.w[1..])
}
