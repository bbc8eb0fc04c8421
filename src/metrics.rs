//! Alignment and task metrics (ALGORITHMS.md, "Metrics"). Every function returns one value
//! per member: [M].
//!
//! `layer` in the output is the paper index of the matrix a metric is about: l of B^l (or D^l)
//! for rel_err, sign_congruence, angle_paper and the peers' weight_angle, norm_ratio and
//! delta_angle; l of W^l for angle and grad_rel_err.
use crate::nets::activation::times_derivative;
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

/// ||B||_F / ||W||_F: [M, r, c] → [M]
pub fn norm_ratio(w: &Tensor, b: &Tensor) -> Tensor {
    frob(b) / frob(w)
}

/// The peers' metrics of one feedback matrix (biotorch's and Akrout et al.'s), all for the
/// B actually used: `weight_angle` between vec B and vec W and `norm_ratio` ||B||/||W||, both
/// without the bias row (the peers keep biases apart, and it never sends an error down), and
/// `delta_angle`, the angle between the rule's hidden delta and backprop's for training
/// example 0, unfolded. w, b: the non-bias rows [M, n, c]; delta, delta_bp: [M, 1, n].
fn peers(layer: usize, w: &Tensor, b: &Tensor, delta: &Tensor, delta_bp: &Tensor) -> [Measured; 3] {
    [
        Measured {
            metric: "weight_angle",
            layer,
            values: angle_deg(b, w),
        },
        Measured {
            metric: "norm_ratio",
            layer,
            values: norm_ratio(w, b),
        },
        Measured {
            metric: "delta_angle",
            layer,
            values: angle_deg(delta, delta_bp),
        },
    ]
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
                // Akrout's delta angle: (e Bᵀ) ∘ σ' against (e Wᵀ) ∘ σ' at the layer below,
                // with the same e = Ẽ^l[0] on both sides.
                let rows = net.sizes[l - 1];
                let (w, b) = (w.narrow(1, 0, rows), b.narrow(1, 0, rows));
                let below = |t: &Tensor| t.narrow(1, 0, 1);
                let (a, h) = (below(&trace.a[l - 2]), below(&trace.h[l - 2]));
                let through = |f: &Tensor| {
                    times_derivative(e0.bmm(&f.transpose(1, 2)), net.act[l - 2], &a, &h)
                };
                out.extend(peers(l, &w, &b, &through(&b), &through(&w)));
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
                // D^i against the product of the W above it; the delta angle between DFA's
                // Ẽ^i[0] and backprop's E^i[0] (Akrout's, for one hidden layer).
                let sample0 = |t: &Tensor| t.narrow(1, 0, 1);
                out.extend(peers(
                    i,
                    &p,
                    d,
                    &sample0(&e_tilde[i - 1]),
                    &sample0(&e_true[i - 1]),
                ));
            }
        }
        Form::Backprop => unreachable!("returned above"),
    }
    out
}
