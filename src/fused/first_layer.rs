//! The first layer, where nearly all of a step's FLOPs are (Fig. 2: 784 × 50 of the network's
//! 784·50 + 50·20 + 20·10 weights): the forward product A^1 = aug(X) W^1 and the update
//! W^1 += aug(X)ᵀ G. MNIST is 81% zeros, so on sparse inputs both loop over the non-zero
//! pixels only; dense inputs take one GEMM each.
//!
//! On sparse inputs both products are sums of weighted rows (`Gather`), with the sums of a
//! block of columns in registers:
//! - forward, sample by sample: a_t = bias + Σ_{k: x_tk ≠ 0} x_tk W^1[k];
//! - update, pixel by pixel (`ByPixel`): W^1[k] += Σ_{t: x_tk ≠ 0} x_tk G[t], so that each row
//!   of W^1 is written once per step.
use super::data::Inputs;
#[cfg(target_arch = "x86_64")]
use super::linalg::has_fma;
use super::linalg::{gemm, rm, tr};

/// The batch's non-zero inputs grouped by pixel: pixel k's (sample, value) pairs are at
/// `start[k]..start[k+1]`. Built once per step (a counting sort), it lets the update write
/// each row of W^1 once per step, where sample by sample it would write a row once per
/// sample that has the pixel (MNIST: ~4,800 writes of ~500 distinct rows per batch).
#[derive(Default)]
pub struct ByPixel {
    /// u32 offsets: a batch has far fewer than 2³² non-zero inputs.
    start: Vec<u32>,
    t: Vec<u32>,
    v: Vec<f32>,
    /// The pixels that occur in the batch, in increasing order.
    pixels: Vec<u32>,
    /// Where the next entry of each pixel goes, while building.
    next: Vec<u32>,
}

impl ByPixel {
    /// Group the inputs of examples `idx` (sparse rows) by pixel; n0 pixels.
    pub fn build(&mut self, inputs: &Inputs, idx: &[usize], n0: usize) {
        let Inputs::Sparse {
            row_start,
            col,
            val,
        } = inputs
        else {
            return;
        };
        self.start.clear();
        self.start.resize(n0 + 1, 0);
        let counts = &mut self.start[1..];
        for &r in idx {
            let row = &col[row_start[r]..row_start[r + 1]];
            row.iter().for_each(|&k| counts[k as usize] += 1);
        }
        self.pixels.clear();
        for k in 0..n0 {
            if self.start[k + 1] > 0 {
                self.pixels.push(k as u32);
            }
            self.start[k + 1] += self.start[k];
        }
        let nnz = self.start[n0] as usize;
        self.t.resize(nnz, 0);
        self.v.resize(nnz, 0.0);
        self.next.clear();
        self.next.extend_from_slice(&self.start[..n0]);
        // Local slices: the compiler then keeps their lengths in registers instead of
        // reloading them after every store.
        let (ts, vs, next) = (&mut self.t[..], &mut self.v[..], &mut self.next[..]);
        for (t, &r) in idx.iter().enumerate() {
            let span = row_start[r]..row_start[r + 1];
            for (&k, &v) in col[span.clone()].iter().zip(&val[span]) {
                let at = next[k as usize];
                (ts[at as usize], vs[at as usize]) = (t as u32, v);
                next[k as usize] = at + 1;
            }
        }
    }

    /// Pixel k's samples and values.
    #[inline(always)]
    fn entries(&self, k: usize) -> (&[u32], &[f32]) {
        let span = self.start[k] as usize..self.start[k + 1] as usize;
        (&self.t[span.clone()], &self.v[span])
    }
}

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
            run(&mut Gather {
                groups: samples,
                src: w,
                io: a,
                n: n1,
            });
        }
    }
}

/// W^1 += aug(X)ᵀ G for G = −η Ẽ^1 ([T × n_1]): on sparse inputs only the rows of the batch's
/// non-zero pixels change (each once), and the bias row.
pub fn update(
    inputs: &Inputs,
    by_pixel: &ByPixel,
    x_aug: &[f32],
    g: &[f32],
    w: &mut [f32],
    n1: usize,
) {
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
        Inputs::Sparse { .. } => {
            run(&mut Gather {
                groups: by_pixel,
                src: g,
                io: w,
                n: n1,
            });
            let bias = &mut w[n0 * n1..];
            for g_t in g[..t * n1].chunks(n1) {
                bias.iter_mut().zip(g_t).for_each(|(b, g)| *b += g);
            }
        }
    }
}

/// The groups of a sum of weighted rows: output row o gets Σ_e v_e · src[r_e] over its
/// (r_e, v_e).
trait Groups {
    /// Call f(o, r, v) for every group.
    fn each(&self, f: impl FnMut(usize, &[u32], &[f32]));
}

/// The forward product's groups: output row t (of A^1) sums the rows of W^1 of sample t's
/// non-zero pixels, weighted by their values.
struct Samples<'a> {
    idx: &'a [usize],
    row_start: &'a [usize],
    col: &'a [u32],
    val: &'a [f32],
}

impl Groups for Samples<'_> {
    #[inline(always)]
    fn each(&self, mut f: impl FnMut(usize, &[u32], &[f32])) {
        for (t, &r) in self.idx.iter().enumerate() {
            let span = self.row_start[r]..self.row_start[r + 1];
            f(t, &self.col[span.clone()], &self.val[span]);
        }
    }
}

/// The update's groups: output row k (of W^1) sums the rows of G of the samples that have
/// pixel k, weighted by its values.
impl Groups for &ByPixel {
    #[inline(always)]
    fn each(&self, mut f: impl FnMut(usize, &[u32], &[f32])) {
        for &k in &self.pixels {
            let (ts, vs) = self.entries(k as usize);
            f(k as usize, ts, vs);
        }
    }
}

/// Both sparse products as sums of weighted rows, io[o] += Σ_e v_e · src[r_e] for each
/// group, over rows of n floats. Done a block of columns at a time with the block's sums in
/// registers: each source row is read once per group, each output row read and written once.
struct Gather<'a, G> {
    groups: G,
    src: &'a [f32],
    io: &'a mut [f32],
    n: usize,
}

impl<G: Groups> Gather<'_, G> {
    /// Columns c0..c0+W of every group's output row and, with TAIL, the row's last 8
    /// (c0+end−8..c0+end), of which it keeps those beyond c0+W. W and TAIL are
    /// compile-time constants so that the sums live in registers.
    #[inline(always)]
    fn block<const W: usize, const TAIL: bool, const FMA: bool>(&mut self, c0: usize, end: usize) {
        let (n, src, io) = (self.n, self.src, &mut *self.io);
        self.groups.each(|o, rows, vs| {
            let io = &mut io[o * n + c0..][..end];
            let mut main = vals::<W>(&io[..W]);
            let mut last = if TAIL {
                vals::<8>(&io[end - 8..])
            } else {
                [0.0; 8]
            };
            for (&r, &v) in rows.iter().zip(vs) {
                let x = &src[r as usize * n + c0..][..end];
                fma::<FMA>(&mut main, &x[..W], v);
                if TAIL {
                    fma::<FMA>(&mut last, &x[end - 8..], v);
                }
            }
            io[..W].copy_from_slice(&main);
            if TAIL {
                io[W..].copy_from_slice(&last[8 - (end - W)..]);
            }
        });
    }
}

/// The first L values of a slice, as an array the compiler can keep in registers.
#[inline(always)]
fn vals<const L: usize>(x: &[f32]) -> [f32; L] {
    x[..L].try_into().expect("L values")
}

/// acc += v · x, a fused multiply-add per entry with FMA (one instruction inside an
/// FMA-enabled function), else a multiply and an add.
#[inline(always)]
fn fma<const FMA: bool>(acc: &mut [f32], x: &[f32], v: f32) {
    for (a, x) in acc.iter_mut().zip(x) {
        *a = if FMA { v.mul_add(*x, *a) } else { *a + v * x };
    }
}

/// Run the sums on AVX2 and FMA where the CPU has them.
fn run<G: Groups>(sums: &mut Gather<G>) {
    #[cfg(target_arch = "x86_64")]
    if has_fma() {
        // SAFETY: the CPU has AVX2 and FMA (checked by has_fma).
        return unsafe { run_fma(sums) };
    }
    by_blocks::<G, false>(sums)
}

// Compiled for AVX2 and FMA (taken where the CPU has them, checked at run time) the blocks are
// 8-wide fused multiply-adds, against the baseline x86-64's 4-wide multiply and add. The
// results differ from the baseline's in the last bit (one rounding instead of two); a machine
// always takes one path.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_fma<G: Groups>(sums: &mut Gather<G>) {
    by_blocks::<G, true>(sums)
}

/// The widest block: 64 floats, eight AVX registers.
const WIDEST: usize = 64;

/// The sums over the rows' n columns in blocks: of 64, then the rest's multiple of 8 with
/// the last n % 8 columns in the same pass (read as the rows' last 8, of which the block
/// keeps those it does not cover). Fig. 2's n_1 = 50 is one pass: 48 columns and 2. Rows
/// narrower than 8 are one scalar block.
#[inline(always)]
fn by_blocks<G: Groups, const FMA: bool>(sums: &mut Gather<G>) {
    let (n, mut c0) = (sums.n, 0);
    while n - c0 >= WIDEST + 8 {
        sums.block::<WIDEST, false, FMA>(c0, WIDEST);
        c0 += WIDEST;
    }
    let left = n - c0;
    macro_rules! widths {
        ($(($w:literal, $t:literal))*) => {
            match (if left < 8 { left } else { left / 8 * 8 }, left >= 8 && left % 8 > 0) {
                $(($w, $t) => sums.block::<$w, $t, FMA>(c0, left),)*
                _ => unreachable!("widths 0..=7 and multiples of 8 up to 64"),
            }
        };
    }
    widths!(
        (0, false)(1, false)(2, false)(3, false)(4, false)(5, false)(6, false)(7, false)(8, false)(
            16, false
        )(24, false)(32, false)(40, false)(48, false)(56, false)(64, false)(8, true)(
            16, true
        )(24, true)(32, true)(40, true)(48, true)(56, true)(64, true)
    )
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
            let mut by_pixel = ByPixel::default();
            by_pixel.build(&sparse, &idx, n0);
            let (mut a_s, mut a_d) = (vec![0.0; t * n1], vec![0.0; t * n1]);
            forward(&sparse, &idx, &[], &w, &mut a_s, n1);
            forward(&dense, &idx, &x_aug, &w, &mut a_d, n1);
            close(&a_s, &naive(&x_aug, &w, t, n0 + 1, n1));
            close(&a_s, &a_d);
            let g = ramp(t * n1, 0.3);
            let (mut w_s, mut w_d) = (w.clone(), w.clone());
            update(&sparse, &by_pixel, &[], &g, &mut w_s, n1);
            update(&dense, &ByPixel::default(), &x_aug, &g, &mut w_d, n1);
            let grad = naive(&transpose(&x_aug, t, n0 + 1), &g, n0 + 1, t, n1);
            let want: Vec<f32> = w.iter().zip(&grad).map(|(w, g)| w + g).collect();
            close(&w_s, &want);
            close(&w_d, &want);
        }
    }
}
