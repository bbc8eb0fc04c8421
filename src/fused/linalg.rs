//! The fused engine's arithmetic on row-major slices: dense products (the small ones in
//! registers by `small.rs`, the large ones through the matrixmultiply crate's packed,
//! cache-blocked GEMM; no allocation per call), the activations,
//! and the f64 Cholesky solves of the ridge fits. The first layer's sparse products are in
//! `first_layer.rs`.
use super::blocks::Elem;
use super::small;
use crate::nets::activation::Activation;
use std::cell::RefCell;

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

/// The element types of the products: f32 (the network) and f64 (the ridge sums).
pub trait Scalar: Elem {
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

    /// f(scratch) with this thread's scratch of at least `len` values (reused across calls).
    fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R;
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

            fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [$t]) -> R) -> R {
                thread_local! {
                    static SCRATCH: RefCell<Vec<$t>> = const { RefCell::new(Vec::new()) };
                }
                SCRATCH.with_borrow_mut(|s| {
                    if s.len() < len {
                        s.resize(len, 0.0);
                    }
                    f(&mut s[..len])
                })
            }
        }
    };
}
scalar!(f32, matrixmultiply::sgemm);
scalar!(f64, matrixmultiply::dgemm);

/// Products with C at most this wide go to `small::gemm`, wider ones to matrixmultiply:
/// at 24 columns or fewer C's rows fit in registers and the packing of A and B costs more
/// than it saves (Fig. 2: 32 × 51 × 20 in 1.5 µs against 2.1; 32 × 21 × 10 in 0.45 against
/// 0.74; CIFAR's 128 × 1001 × 10 in 63 against 93), and beyond them matrixmultiply wins
/// (32 × 20 × 50: 1.9 against 1.6).
const SMALL: usize = 24;

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
    if n <= SMALL {
        let beta = (beta != T::default()).then_some(beta);
        if sb.1 == 1 {
            small::gemm((m, k, n), alpha, a, sa, b, sb.0, beta, c, ldc);
        } else {
            // B's rows contiguous: a transposed B is copied into rows first.
            T::with_scratch(k * n, |b_rows| {
                for (p, row) in b_rows.chunks_mut(n).enumerate() {
                    for (j, v) in row.iter_mut().enumerate() {
                        *v = b[p * sb.0 + j * sb.1];
                    }
                }
                small::gemm((m, k, n), alpha, a, sa, b_rows, n, beta, c, ldc);
            });
        }
        return;
    }
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

/// h = σ(a), element-wise.
pub fn activate(act: Activation, a: &[f32], h: &mut [f32]) {
    // One loop per activation (a function pointer in the loop would be a call per entry).
    fn map(a: &[f32], h: &mut [f32], f: impl Fn(f32) -> f32) {
        h.iter_mut().zip(a).for_each(|(h, &a)| *h = f(a));
    }
    match act {
        Activation::Sigmoid => super::sigmoid::sigmoid(a, h),
        Activation::Tanh => map(a, h, f32::tanh),
        Activation::Relu => map(a, h, |a| a.max(0.0)),
        Activation::Identity => h.copy_from_slice(&a[..h.len()]),
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

/// X V = S for X (rows × n), with L the Cholesky factor of V (V = L Lᵀ): X = S V⁻¹, with
/// V⁻¹ = L⁻ᵀ L⁻¹ formed once (about 7n³/6 multiply-adds) and S's rows multiplied by it in
/// one GEMM. Triangular solves column by column streamed all of S through the cache n² times:
/// for Fig. 4's widest layer (S is 1001 × 50) that was 28% of the step. `scratch`: 2n² values.
pub fn cholesky_solve_rows(l: &[f64], n: usize, s: &[f64], x: &mut [f64], scratch: &mut [f64]) {
    let (l_inv, v_inv) = scratch[..2 * n * n].split_at_mut(n * n);
    lower_inverse(l, n, l_inv);
    gemm((n, n, n), 1.0, l_inv, tr(n), l_inv, rm(n), 0.0, v_inv, n);
    gemm((s.len() / n, n, n), 1.0, s, rm(n), v_inv, rm(n), 0.0, x, n);
}

/// L⁻¹ of a lower triangular L (n × n), row by row from L L⁻¹ = I:
/// L⁻¹[i] = (e_i − Σ_{k<i} L[i][k] L⁻¹[k]) / L[i][i], each term an axpy over the first k+1
/// entries of a row (the rest are zero).
fn lower_inverse(l: &[f64], n: usize, inv: &mut [f64]) {
    inv.fill(0.0);
    for i in 0..n {
        let (done, rest) = inv.split_at_mut(i * n);
        let row = &mut rest[..n];
        for (k, inv_k) in done.chunks(n).enumerate() {
            let c = l[i * n + k];
            row[..=k]
                .iter_mut()
                .zip(inv_k)
                .for_each(|(r, v)| *r -= c * v);
        }
        row[i] += 1.0;
        row[..=i].iter_mut().for_each(|r| *r /= l[i * n + i]);
    }
}

/// Whether the CPU has AVX2 and FMA, which the hot loops are compiled for beside the baseline.
#[cfg(target_arch = "x86_64")]
pub fn has_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The plain triple loop the products must equal.
    pub(in crate::fused) fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    pub(in crate::fused) fn transpose(a: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        (0..cols * rows)
            .map(|e| a[(e % rows) * cols + e / rows])
            .collect()
    }

    pub(in crate::fused) fn close(x: &[f32], y: &[f32]) {
        for (x, y) in x.iter().zip(y) {
            assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    pub(in crate::fused) fn ramp(len: usize, scale: f32) -> Vec<f32> {
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

    /// Against X V = S built from a known X: n = 4 (V⁻¹ S in registers) and n = 30 (through
    /// matrixmultiply), with more rows than n as the fits have.
    #[test]
    fn cholesky_solves_x_v_equal_s() {
        for (n, rows) in [(4, 2), (30, 70)] {
            // V = A Aᵀ + I is positive definite.
            let a: Vec<f64> = (0..n * n).map(|i| ((i * 31) % 7) as f64 - 3.0).collect();
            let mut v = vec![0.0; n * n];
            for i in 0..n {
                for j in 0..n {
                    v[i * n + j] = (0..n).map(|k| a[i * n + k] * a[j * n + k]).sum::<f64>()
                        + if i == j { 1.0 } else { 0.0 };
                }
            }
            let x_true: Vec<f64> = (0..rows * n).map(|i| (i % 13) as f64 * 0.5 - 1.0).collect();
            let mut s = vec![0.0; rows * n];
            for r in 0..rows {
                for j in 0..n {
                    s[r * n + j] = (0..n).map(|k| x_true[r * n + k] * v[k * n + j]).sum();
                }
            }
            let mut l = vec![0.0; n * n];
            assert!(cholesky(&v, n, &mut l));
            let (mut x, mut scratch) = (vec![0.0; rows * n], vec![0.0; 2 * n * n]);
            cholesky_solve_rows(&l, n, &s, &mut x, &mut scratch);
            for (x, y) in x.iter().zip(&x_true) {
                assert!((x - y).abs() < 1e-8, "n {n}: {x} vs {y}");
            }
            v[0] = -1.0;
            assert!(!cholesky(&v, n, &mut l), "not positive definite");
        }
    }
}
