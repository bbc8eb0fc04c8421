//! Alignment and task metrics (ALGORITHMS.md, "Metrics"). Every function returns one value
//! per member: [M].
//!
//! `layer` in the output is the paper index of the matrix a metric is about: l of B^l (or D^l)
//! for rel_err, sign_congruence and angle_paper; l of W^l for angle and grad_rel_err.
use crate::nets::mlp::{Mlp, Trace};
use crate::rules::{bp, Feedback, Form};
use tch::{Kind, Tensor};

/// ||W − B||_F / ||W||_F over the full matrix: [M, r, c] → [M]
pub fn rel_err(w: &Tensor, b: &Tensor) -> Tensor {
    frob(&(w - b)) / frob(w)
}

/// mean((sign W ∘ sign B + 1) / 2): [M, r, c] → [M]
pub fn sign_congruence(w: &Tensor, b: &Tensor) -> Tensor {
    ((w.sign() * b.sign() + 1.0) * 0.5)
        .flatten(1, -1)
        .mean_dim(1, false, Kind::Float)
}

/// Angle in degrees between per-member vectors, unfolded in [0°, 180°]: [M, ...] → [M]
pub fn angle_deg(u: &Tensor, v: &Tensor) -> Tensor {
    cosine(u, v).clamp(-1.0, 1.0).acos().rad2deg()
}

/// The paper's angle: folded into [0°, 90°] by |cos|.
pub fn angle_folded_deg(u: &Tensor, v: &Tensor) -> Tensor {
    cosine(u, v).abs().clamp(0.0, 1.0).acos().rad2deg()
}

fn cosine(u: &Tensor, v: &Tensor) -> Tensor {
    let (u, v) = (u.flatten(1, -1), v.flatten(1, -1));
    (&u * &v).sum_dim_intlist(1, false, None) / (frob(&u) * frob(&v))
}

fn frob(t: &Tensor) -> Tensor {
    t.flatten(1, -1)
        .square()
        .sum_dim_intlist(1, false, None)
        .sqrt()
}

/// D^i's counterpart in direct form: P^i = W^{i+1}[:n_i] ··· W^{N+1}[:n_N]: [M, n_i, n_{N+1}]
pub fn w_product(net: &Mlp, i: usize) -> Tensor {
    let n = net.depth();
    let mut p = net.w[n - 1].narrow(1, 0, net.sizes[n - 1]);
    for j in (i + 1..n).rev() {
        p = net.w[j - 1].narrow(1, 0, net.sizes[j - 1]).bmm(&p);
    }
    p
}

/// One metric value per member, tagged with its name and layer.
pub struct Measured {
    pub metric: &'static str,
    pub layer: usize,
    pub values: Tensor, // [M]
}

/// Every alignment metric of `fb` on this batch. `e_tilde` are the rule's own error signals
/// on the clean pass; the truth comes from backprop through W. Backprop itself has none.
pub fn alignment(
    net: &Mlp,
    trace: &Trace,
    e_out: &Tensor,
    fb: &Feedback,
    e_tilde: &[Tensor],
) -> Vec<Measured> {
    let mut out = Vec::new();
    if fb.rule.form() == Form::Backprop {
        return out;
    }
    let n = net.depth();
    let e_true = bp::errors(net, trace, e_out);
    let g_true = net.weight_grads(trace, &e_true);
    let g_syn = net.weight_grads(trace, e_tilde);
    for l in 1..n {
        let (gs, gt) = (&g_syn[l - 1], &g_true[l - 1]);
        out.push(Measured {
            metric: "angle",
            layer: l,
            values: angle_deg(gs, gt),
        });
        out.push(Measured {
            metric: "grad_rel_err",
            layer: l,
            values: rel_err(gt, gs),
        });
    }
    match fb.rule.form() {
        Form::Feedback => {
            for l in 2..=n {
                let (w, b) = (&net.w[l - 1], &fb.b[l - 2]);
                // (Ẽ^l Bᵀ)[0] against (Ẽ^l Wᵀ)[0]: sample 0, the same synthetic Ẽ^l.
                let e0 = e_tilde[l - 1].narrow(1, 0, 1);
                let (u, v) = (e0.bmm(&b.transpose(1, 2)), e0.bmm(&w.transpose(1, 2)));
                out.push(Measured {
                    metric: "rel_err",
                    layer: l,
                    values: rel_err(w, b),
                });
                out.push(Measured {
                    metric: "sign_congruence",
                    layer: l,
                    values: sign_congruence(w, b),
                });
                out.push(Measured {
                    metric: "angle_paper",
                    layer: l,
                    values: angle_folded_deg(&u, &v),
                });
            }
        }
        Form::Direct => {
            let e0 = e_out.narrow(1, 0, 1);
            for i in 1..n {
                let (p, d) = (w_product(net, i), &fb.b[i - 1]);
                let (u, v) = (e0.bmm(&d.transpose(1, 2)), e0.bmm(&p.transpose(1, 2)));
                out.push(Measured {
                    metric: "rel_err",
                    layer: i,
                    values: rel_err(&p, d),
                });
                out.push(Measured {
                    metric: "sign_congruence",
                    layer: i,
                    values: sign_congruence(&p, d),
                });
                out.push(Measured {
                    metric: "angle_paper",
                    layer: i,
                    values: angle_folded_deg(&u, &v),
                });
            }
        }
        Form::Backprop => unreachable!("returned above"),
    }
    out
}
