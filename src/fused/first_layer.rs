//! The first layer, where nearly all of a step's FLOPs are (Fig. 2: 784 × 50 of the network's
//! 784·50 + 50·20 + 20·10 weights): the forward product A^1 = aug(X) W^1 and the update
//! W^1 += aug(X)ᵀ G. MNIST is 81% zeros, so on sparse inputs both loop over the non-zero
//! pixels only; dense inputs take one GEMM each.
//!
//! On sparse inputs both go sample by sample over each sample's non-zero pixels k, a block
//! of columns at a time with the block in registers:
//! - forward (`Gather`): a_t = bias + Σ_k x_tk W^1[k], a_t's block summed in registers;
//! - update (`Scatter`): W^1[k] += x_tk G[t] for each k, G[t]'s block held in registers.
//!
//! Each entry (t, k) is then a few vector loads, fused multiply-adds and (in the update) stores,
//! with no sort of the batch by pixel (which cost more than it saved).
use super::blocks::{fma, run, vals, Kernel};
use super::data::Inputs;
use super::linalg::{gemm, rm, tr};

/// A^1 = aug(X) W^1 for the batch `idx`, [T × n_1]. Sparse inputs read only the rows of W^1
/// of their non-zero pixels; dense ones are one GEMM of `x_aug` ([T × (n_0+1)]).
pub fn forward(inputs: &Inputs, idx: &[usize], x_aug: &[f32], w: &[f32], a: &mut [f32], n1: usize) {
    let (n0, t) = (w.len() / n1 - 1, a.len() / n1);
    match inputs {
        Inputs::Dense(_) => gemm(
            (t, n0 + 1, n1),
            1.0,
            x_aug,
            rm(n0 + 1),
            w,
            rm(n1),
            0.0,
            a,
            n1,
        ),
        Inputs::Sparse {
            row_start,
            col,
            val,
        } => {
            let bias = &w[n0 * n1..];
            a.chunks_mut(n1).for_each(|a_t| a_t.copy_from_slice(bias));
            let samples = Samples {
                idx,
                row_start,
                col,
                val,
            };
            run(
                &mut Gather {
                    samples,
                    w,
                    a,
                    n: n1,
                },
                n1,
            );
        }
    }
}

/// W^1 += aug(X)ᵀ G for G = −η Ẽ^1 ([T × n_1]): on sparse inputs only the rows of the batch's
/// non-zero pixels change, and the bias row.
pub fn update(inputs: &Inputs, idx: &[usize], x_aug: &[f32], g: &[f32], w: &mut [f32], n1: usize) {
    let (n0, t) = (w.len() / n1 - 1, g.len() / n1);
    match inputs {
        Inputs::Dense(_) => gemm(
            (n0 + 1, t, n1),
            1.0,
            x_aug,
            tr(n0 + 1),
            g,
            rm(n1),
            1.0,
            w,
            n1,
        ),
        Inputs::Sparse {
            row_start,
            col,
            val,
        } => {
            let samples = Samples {
                idx,
                row_start,
                col,
                val,
            };
            run(
                &mut Scatter {
                    samples,
                    g,
                    w,
                    n: n1,
                },
                n1,
            );
            let bias = &mut w[n0 * n1..];
            for g_t in g[..t * n1].chunks(n1) {
                bias.iter_mut().zip(g_t).for_each(|(b, g)| *b += g);
            }
        }
    }
}

/// The batch's samples as sparse rows: sample t's non-zero pixels and their values.
struct Samples<'a> {
    idx: &'a [usize],
    row_start: &'a [usize],
    col: &'a [u32],
    val: &'a [f32],
}

impl Samples<'_> {
    /// Call f(t, pixels, values) for every sample t of the batch.
    #[inline(always)]
    fn each(&self, mut f: impl FnMut(usize, &[u32], &[f32])) {
        for (t, &r) in self.idx.iter().enumerate() {
            let span = self.row_start[r]..self.row_start[r + 1];
            f(t, &self.col[span.clone()], &self.val[span]);
        }
    }
}

/// The forward product: a_t += Σ_k x_tk W^1[k], a_t's block summed in registers (each row of
/// W^1 read once per sample that has its pixel; a_t read and written once).
struct Gather<'a> {
    samples: Samples<'a>,
    w: &'a [f32],
    a: &'a mut [f32],
    /// n_1
    n: usize,
}

impl Kernel for Gather<'_> {
    #[inline(always)]
    fn block<const W: usize, const TAIL: bool, const FMA: bool>(&mut self, c0: usize, end: usize) {
        let (n, w, a) = (self.n, self.w, &mut *self.a);
        self.samples.each(|t, pixels, xs| {
            let a_t = &mut a[t * n + c0..][..end];
            let mut main = vals::<f32, W>(&a_t[..W]);
            let mut last = if TAIL {
                vals::<f32, 8>(&a_t[end - 8..])
            } else {
                [0.0; 8]
            };
            for (&k, &x) in pixels.iter().zip(xs) {
                let w_k = &w[k as usize * n + c0..][..end];
                fma::<f32, FMA>(&mut main, &w_k[..W], x);
                if TAIL {
                    fma::<f32, FMA>(&mut last, &w_k[end - 8..], x);
                }
            }
            a_t[..W].copy_from_slice(&main);
            if TAIL {
                a_t[W..].copy_from_slice(&last[8 - (end - W)..]);
            }
        });
    }
}

/// The update: W^1[k] += x_tk G[t] for each of sample t's pixels k, G[t]'s block held in
/// registers. Sample by sample in t order, each W^1[k] receives its terms in the order a
/// sum over t would add them.
struct Scatter<'a> {
    samples: Samples<'a>,
    g: &'a [f32],
    w: &'a mut [f32],
    /// n_1
    n: usize,
}

impl Kernel for Scatter<'_> {
    #[inline(always)]
    fn block<const W: usize, const TAIL: bool, const FMA: bool>(&mut self, c0: usize, end: usize) {
        let (n, g, w) = (self.n, self.g, &mut *self.w);
        self.samples.each(|t, pixels, xs| {
            let g_t = &g[t * n + c0..][..end];
            let main_g = vals::<f32, W>(&g_t[..W]);
            // G[t]'s last 8 columns, zero where the main block covers them: the tail adds
            // 0·x there, and the main block's store, which comes after, stands.
            let mut last_g = [0.0; 8];
            if TAIL {
                last_g[8 - (end - W)..].copy_from_slice(&g_t[W..]);
            }
            for (&k, &x) in pixels.iter().zip(xs) {
                let w_k = &mut w[k as usize * n + c0..][..end];
                // Both parts loaded before either is stored.
                let mut main = vals::<f32, W>(&w_k[..W]);
                let mut last = if TAIL {
                    vals::<f32, 8>(&w_k[end - 8..])
                } else {
                    [0.0; 8]
                };
                fma::<f32, FMA>(&mut main, &main_g, x);
                if TAIL {
                    fma::<f32, FMA>(&mut last, &last_g, x);
                    w_k[end - 8..].copy_from_slice(&last);
                }
                w_k[..W].copy_from_slice(&main);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::linalg::tests::{close, naive, ramp, transpose};
    use super::*;

    #[test]
    fn the_sparse_first_layer_equals_the_dense_one() {
        let (n0, t) = (9, 3);
        // Rows with zeros in them, and one all-zero row.
        let x: Vec<f32> = (0..5 * n0)
            .map(|i| {
                if i % 3 == 0 || i >= 4 * n0 {
                    0.0
                } else {
                    i as f32 * 0.01
                }
            })
            .collect();
        let sparse = super::super::data::sparse(&x, n0);
        let dense = Inputs::Dense(x.clone());
        let idx = [4, 1, 2];
        let mut x_aug = vec![0.0; t * (n0 + 1)];
        for (row, &r) in x_aug.chunks_mut(n0 + 1).zip(&idx) {
            row[..n0].copy_from_slice(&x[r * n0..(r + 1) * n0]);
            row[n0] = 1.0;
        }
        // Widths cover each kind of block: narrower than 8, one block, a block and a tail,
        // blocks of 64 and a tail.
        for n1 in [4, 8, 13, 50, 64, 71, 72, 100, 150] {
            let w = ramp((n0 + 1) * n1, 0.05);
            let (mut a_s, mut a_d) = (vec![0.0; t * n1], vec![0.0; t * n1]);
            forward(&sparse, &idx, &[], &w, &mut a_s, n1);
            forward(&dense, &idx, &x_aug, &w, &mut a_d, n1);
            close(&a_s, &naive(&x_aug, &w, t, n0 + 1, n1));
            close(&a_s, &a_d);
            let g = ramp(t * n1, 0.3);
            let (mut w_s, mut w_d) = (w.clone(), w.clone());
            update(&sparse, &idx, &[], &g, &mut w_s, n1);
            update(&dense, &idx, &x_aug, &g, &mut w_d, n1);
            let grad = naive(&transpose(&x_aug, t, n0 + 1), &g, n0 + 1, t, n1);
            let want: Vec<f32> = w.iter().zip(&grad).map(|(w, g)| w + g).collect();
            close(&w_s, &want);
            close(&w_d, &want);
        }
    }
}
