//! The fused engine's arithmetic on row-major slices: dense products through the
//! matrixmultiply crate (packed, cache-blocked GEMM; no allocation per call), the first
//! layer's sparse products, the activations, and the f64 Cholesky solves of the ridge fits.
use super::data::Inputs;
use crate::nets::activation::Activation;

/// How a stored matrix is read: (row stride, column stride). `rm(ld)`: as stored, `ld`
/// entries per stored row; `tr(ld)`: transposed.
pub type Strides = (usize, usize);

pub fn rm(ld: usize) -> Strides {
    (ld, 1)
}

pub fn tr(ld: usize) -> Strides {
    (1, ld)
}

/// The highest index an m × n operand with strides `s` touches, plus one.
fn extent(m: usize, n: usize, s: Strides) -> usize {
    if m == 0 || n == 0 {
        0
    } else {
        (m - 1) * s.0 + (n - 1) * s.1 + 1
    }
}

/// The element types matrixmultiply multiplies: f32 (the network) and f64 (the ridge sums).
pub trait Scalar: Copy {
    /// matrixmultiply's `sgemm` or `dgemm`.
    ///
    /// # Safety
    /// As matrixmultiply's: every index the strides reach lies inside its operand.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm(
        mkn: (usize, usize, usize),
        alpha: Self,
        a: (*const Self, isize, isize),
        b: (*const Self, isize, isize),
        beta: Self,
        c: (*mut Self, isize, isize),
    );
}

macro_rules! scalar {
    ($t:ty, $f:path) => {
        impl Scalar for $t {
            unsafe fn gemm(
                (m, k, n): (usize, usize, usize),
                alpha: $t,
                a: (*const $t, isize, isize),
                b: (*const $t, isize, isize),
                beta: $t,
                c: (*mut $t, isize, isize),
            ) {
                $f(
                    m, k, n, alpha, a.0, a.1, a.2, b.0, b.1, b.2, beta, c.0, c.1, c.2,
                )
            }
        }
    };
}
scalar!(f32, matrixmultiply::sgemm);
scalar!(f64, matrixmultiply::dgemm);

/// C[m × n] = β C + α A[m × k] B[k × n]; C row-major with `ldc` entries per row. With β = 0,
/// C is not read (NaN in it does not propagate).
#[allow(clippy::too_many_arguments)]
pub fn gemm<T: Scalar>(
    (m, k, n): (usize, usize, usize),
    alpha: T,
    a: &[T],
    sa: Strides,
    b: &[T],
    sb: Strides,
    beta: T,
    c: &mut [T],
    ldc: usize,
) {
    assert!(extent(m, k, sa) <= a.len() && extent(k, n, sb) <= b.len());
    assert!(extent(m, n, (ldc, 1)) <= c.len());
    let op = |p, s: Strides| (p, s.0 as isize, s.1 as isize);
    // SAFETY: the asserts above keep every index the product reads or writes inside the
    // slices; c is borrowed mutably, so it aliases neither a nor b.
    unsafe {
        T::gemm(
            (m, k, n),
            alpha,
            op(a.as_ptr(), sa),
            op(b.as_ptr(), sb),
            beta,
            (c.as_mut_ptr(), ldc as isize, 1),
        )
    }
}

/// The batch's non-zero inputs grouped by pixel: pixel k's (sample, value) pairs are at
/// `start[k]..start[k+1]`. Built once per step (a counting sort), it lets the first layer read
/// and write each row of W^1 once per step, where sample by sample it would touch a row once
/// per sample that has the pixel (MNIST: ~4,800 touches of ~500 distinct rows per batch).
#[derive(Default)]
pub struct ByPixel {
    start: Vec<usize>,
    t: Vec<u32>,
    v: Vec<f32>,
    /// The pixels that occur in the batch, in increasing order.
    pixels: Vec<u32>,
    /// Where the next entry of each pixel goes, while building.
    next: Vec<usize>,
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
        let nnz = self.start[n0];
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
                (ts[at], vs[at]) = (t as u32, v);
                next[k as usize] = at + 1;
            }
        }
    }

    fn entries(&self, k: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let span = self.start[k]..self.start[k + 1];
        self.t[span.clone()]
            .iter()
            .map(|&t| t as usize)
            .zip(self.v[span].iter().copied())
    }
}

/// The first layer's forward product for the batch: A^1 = aug(X) W^1, [T × n_1]. Sparse
/// inputs (grouped by pixel in `by_pixel`) touch only the rows of their non-zero pixels;
/// dense ones are one GEMM of `x_aug` ([T × (n_0+1)]).
pub fn first_forward(
    inputs: &Inputs,
    by_pixel: &ByPixel,
    x_aug: &[f32],
    w: &[f32],
    a: &mut [f32],
    n1: usize,
) {
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
        Inputs::Sparse { .. } => {
            #[cfg(target_arch = "x86_64")]
            if has_fma() {
                // SAFETY: the CPU has AVX2 and FMA (checked by has_fma).
                return unsafe { sparse_forward_fma(by_pixel, w, a, n1) };
            }
            sparse_forward::<false>(by_pixel, w, a, n1)
        }
    }
}

/// The first layer's update W^1 += aug(X)ᵀ G for G = −η Ẽ^1 ([T × n_1]): on sparse inputs only
/// the rows of the batch's non-zero pixels change (each once), and the bias row.
#[allow(clippy::too_many_arguments)]
pub fn first_update(
    inputs: &Inputs,
    by_pixel: &ByPixel,
    x_aug: &[f32],
    g: &[f32],
    w: &mut [f32],
    n1: usize,
    acc: &mut [f32],
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
            let acc = &mut acc[..n1];
            #[cfg(target_arch = "x86_64")]
            if has_fma() {
                // SAFETY: the CPU has AVX2 and FMA (checked by has_fma).
                return unsafe { sparse_update_fma(by_pixel, g, w, n1, acc) };
            }
            sparse_update::<false>(by_pixel, g, w, n1, acc)
        }
    }
}

/// A^1[t] = bias + Σ_k x_tk W^1[k], pixel by pixel: each row of W^1 is read once.
#[inline(always)]
fn sparse_forward<const FMA: bool>(bp: &ByPixel, w: &[f32], a: &mut [f32], n1: usize) {
    let n0 = w.len() / n1 - 1;
    let bias = &w[n0 * n1..];
    a.chunks_mut(n1).for_each(|a_t| a_t.copy_from_slice(bias));
    for &k in &bp.pixels {
        let (k, w_k) = (k as usize, &w[k as usize * n1..(k as usize + 1) * n1]);
        for (t, v) in bp.entries(k) {
            axpy::<FMA>(v, w_k, &mut a[t * n1..(t + 1) * n1]);
        }
    }
}

/// W^1[k] += Σ_t x_tk G[t] pixel by pixel (summed in `acc`, then one write per row), and the
/// bias row += Σ_t G[t].
#[inline(always)]
fn sparse_update<const FMA: bool>(
    bp: &ByPixel,
    g: &[f32],
    w: &mut [f32],
    n1: usize,
    acc: &mut [f32],
) {
    let n0 = w.len() / n1 - 1;
    for &k in &bp.pixels {
        let k = k as usize;
        acc.fill(0.0);
        for (t, v) in bp.entries(k) {
            axpy::<FMA>(v, &g[t * n1..(t + 1) * n1], acc);
        }
        axpy::<FMA>(1.0, acc, &mut w[k * n1..(k + 1) * n1]);
    }
    let bias = &mut w[n0 * n1..];
    g.chunks(n1).for_each(|g_t| axpy::<FMA>(1.0, g_t, bias));
}

// The sparse loops are axpys on rows of n_1 floats. Compiled for AVX2 and FMA (taken where
// the CPU has them, checked at run time) they are 8-wide fused multiply-adds, against the
// baseline x86-64's 4-wide multiply and add (docs/PERFORMANCE.md). The results differ from the
// baseline's in the last bit (one rounding instead of two); a machine always takes one path.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn sparse_forward_fma(bp: &ByPixel, w: &[f32], a: &mut [f32], n1: usize) {
    sparse_forward::<true>(bp, w, a, n1)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn sparse_update_fma(bp: &ByPixel, g: &[f32], w: &mut [f32], n1: usize, acc: &mut [f32]) {
    sparse_update::<true>(bp, g, w, n1, acc)
}

#[cfg(target_arch = "x86_64")]
fn has_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// y += α x: a fused multiply-add per entry with `FMA` (only inside an FMA-enabled function,
/// where `mul_add` is one instruction), else a multiply and an add.
/// In blocks of 8 lanes (one AVX register), so that rows of 50 are 6 vector operations and 2
/// scalar ones: a plain loop is unrolled to 32 lanes and leaves 18 to its scalar epilogue.
#[inline(always)]
fn axpy<const FMA: bool>(alpha: f32, x: &[f32], y: &mut [f32]) {
    let f = |y: &mut f32, x: f32| {
        *y = if FMA {
            alpha.mul_add(x, *y)
        } else {
            *y + alpha * x
        };
    };
    let (y8, y_rest) = y.as_chunks_mut::<8>();
    let (x8, x_rest) = x[..y8.len() * 8 + y_rest.len()].as_chunks::<8>();
    for (y, x) in y8.iter_mut().zip(x8) {
        for j in 0..8 {
            f(&mut y[j], x[j]);
        }
    }
    y_rest.iter_mut().zip(x_rest).for_each(|(y, x)| f(y, *x));
}

/// h = σ(a), element-wise.
pub fn activate(act: Activation, a: &[f32], h: &mut [f32]) {
    let f: fn(f32) -> f32 = match act {
        Activation::Sigmoid => |a| 1.0 / (1.0 + (-a).exp()),
        Activation::Tanh => f32::tanh,
        Activation::Relu => |a| a.max(0.0),
        Activation::Identity => |a| a,
    };
    for (h, &a) in h.iter_mut().zip(a) {
        *h = f(a);
    }
}

/// e ∘= σ'(a), written through h = σ(a) as the torch engine does.
pub fn times_derivative(act: Activation, a: &[f32], h: &[f32], e: &mut [f32]) {
    match act {
        Activation::Sigmoid => e.iter_mut().zip(h).for_each(|(e, h)| *e *= h * (1.0 - h)),
        Activation::Tanh => e.iter_mut().zip(h).for_each(|(e, h)| *e *= 1.0 - h * h),
        Activation::Relu => e.iter_mut().zip(a).for_each(|(e, a)| {
            if *a <= 0.0 {
                *e = 0.0
            }
        }),
        Activation::Identity => {}
    }
}

/// The lower Cholesky factor L of a symmetric positive definite V (n × n): L Lᵀ = V. False
/// where V is not positive definite (a diverged run), as libtorch's `linalg_cholesky_ex`.
pub fn cholesky(v: &[f64], n: usize, l: &mut [f64]) -> bool {
    l.fill(0.0);
    for i in 0..n {
        for j in 0..=i {
            let dot: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            if i == j {
                let d = v[i * n + i] - dot;
                if d.is_nan() || d <= 0.0 {
                    return false;
                }
                l[i * n + i] = d.sqrt();
            } else {
                l[i * n + j] = (v[i * n + j] - dot) / l[j * n + j];
            }
        }
    }
    true
}

/// X V = S for X (rows × n), with L the Cholesky factor of V (V = L Lᵀ). Column by column,
/// so that each inner loop is an axpy over the rows: with Z = X L, Z Lᵀ = S gives
/// Z[:, i] = (S[:, i] − Σ_{k<i} L[i,k] Z[:, k]) / L[i,i], then X L = Z gives
/// X[:, i] = (Z[:, i] − Σ_{k>i} L[k,i] X[:, k]) / L[i,i]. `cols` ([n × rows]) is scratch.
pub fn cholesky_solve_rows(l: &[f64], n: usize, s: &[f64], x: &mut [f64], cols: &mut [f64]) {
    let rows = s.len() / n;
    let cols = &mut cols[..n * rows];
    for (r, s_r) in s.chunks(n).enumerate() {
        s_r.iter()
            .enumerate()
            .for_each(|(i, v)| cols[i * rows + r] = *v);
    }
    for i in 0..n {
        let (done, rest) = cols.split_at_mut(i * rows);
        let z_i = &mut rest[..rows];
        for (k, z_k) in done.chunks(rows).enumerate() {
            let c = l[i * n + k];
            z_i.iter_mut().zip(z_k).for_each(|(z, zk)| *z -= c * zk);
        }
        z_i.iter_mut().for_each(|z| *z /= l[i * n + i]);
    }
    for i in (0..n).rev() {
        let (head, later) = cols.split_at_mut((i + 1) * rows);
        let x_i = &mut head[i * rows..];
        for (j, x_k) in later.chunks(rows).enumerate() {
            let c = l[(i + 1 + j) * n + i];
            x_i.iter_mut().zip(x_k).for_each(|(x, xk)| *x -= c * xk);
        }
        x_i.iter_mut().for_each(|x| *x /= l[i * n + i]);
    }
    for (r, x_r) in x.chunks_mut(n).enumerate() {
        x_r.iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = cols[i * rows + r]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain triple loop the products must equal.
    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    fn transpose(a: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        (0..cols * rows)
            .map(|e| a[(e % rows) * cols + e / rows])
            .collect()
    }

    fn close(x: &[f32], y: &[f32]) {
        for (x, y) in x.iter().zip(y) {
            assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    fn ramp(len: usize, scale: f32) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 7919) % 23) as f32 * scale - 1.0)
            .collect()
    }

    #[test]
    fn gemm_reads_transposed_operands_through_strides() {
        let (m, k, n) = (5, 7, 3);
        let (a, b) = (ramp(m * k, 0.1), ramp(k * n, 0.07));
        let want = naive(&a, &b, m, k, n);
        let mut c = vec![f32::NAN; m * n];
        gemm((m, k, n), 1.0, &a, rm(k), &b, rm(n), 0.0, &mut c, n);
        close(&c, &want);
        let (at, bt) = (transpose(&a, m, k), transpose(&b, k, n));
        let mut c2 = vec![1.0; m * n];
        gemm((m, k, n), 2.0, &at, tr(m), &bt, tr(k), 1.0, &mut c2, n);
        let want2: Vec<f32> = want.iter().map(|v| 1.0 + 2.0 * v).collect();
        close(&c2, &want2);
    }

    #[test]
    fn the_sparse_first_layer_equals_the_dense_one() {
        let (n0, n1, t) = (9, 4, 3);
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
        let w = ramp((n0 + 1) * n1, 0.05);
        let mut by_pixel = ByPixel::default();
        by_pixel.build(&sparse, &idx, n0);
        let (mut a_s, mut a_d) = (vec![0.0; t * n1], vec![0.0; t * n1]);
        first_forward(&sparse, &by_pixel, &[], &w, &mut a_s, n1);
        first_forward(&dense, &ByPixel::default(), &x_aug, &w, &mut a_d, n1);
        close(&a_s, &naive(&x_aug, &w, t, n0 + 1, n1));
        close(&a_s, &a_d);
        let g = ramp(t * n1, 0.3);
        let (mut w_s, mut w_d) = (w.clone(), w.clone());
        let mut acc = vec![0.0; n1];
        first_update(&sparse, &by_pixel, &[], &g, &mut w_s, n1, &mut acc);
        first_update(
            &dense,
            &ByPixel::default(),
            &x_aug,
            &g,
            &mut w_d,
            n1,
            &mut acc,
        );
        let grad = naive(&transpose(&x_aug, t, n0 + 1), &g, n0 + 1, t, n1);
        let want: Vec<f32> = w.iter().zip(&grad).map(|(w, g)| w + g).collect();
        close(&w_s, &want);
        close(&w_d, &want);
    }

    #[test]
    fn cholesky_solves_x_v_equal_s() {
        let n = 4;
        // V = A Aᵀ + I is positive definite.
        let a: Vec<f64> = (0..n * n).map(|i| ((i * 31) % 7) as f64 - 3.0).collect();
        let mut v = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                v[i * n + j] = (0..n).map(|k| a[i * n + k] * a[j * n + k]).sum::<f64>()
                    + if i == j { 1.0 } else { 0.0 };
            }
        }
        let x_true: Vec<f64> = (0..2 * n).map(|i| i as f64 * 0.5 - 1.0).collect();
        let mut s = vec![0.0; 2 * n];
        for r in 0..2 {
            for j in 0..n {
                s[r * n + j] = (0..n).map(|k| x_true[r * n + k] * v[k * n + j]).sum();
            }
        }
        let mut l = vec![0.0; n * n];
        assert!(cholesky(&v, n, &mut l));
        let (mut x, mut scratch) = (vec![0.0; 2 * n], vec![0.0; 2 * n]);
        cholesky_solve_rows(&l, n, &s, &mut x, &mut scratch);
        for (x, y) in x.iter().zip(&x_true) {
            assert!((x - y).abs() < 1e-9, "{x} vs {y}");
        }
        v[0] = -1.0;
        assert!(!cholesky(&v, n, &mut l), "not positive definite");
    }
}
