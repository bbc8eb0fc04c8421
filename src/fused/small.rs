//! The small dense products of the layers above the first (Fig. 2: 32 × 51 × 20 and smaller)
//! and of the ridge fits, without packing: a few of C's rows at a time, a block of their
//! columns summed in registers over k, B's rows read in place. A general GEMM
//! (matrixmultiply) copies A and B into packed panels first, which at these sizes costs as
//! much as the arithmetic; it stays for C wider than 24 columns (`linalg::gemm` chooses).
use super::blocks::{fma, run, vals, Elem, Kernel};
use super::linalg::Strides;

/// C[m × n] = β C + α A[m × k] B[k × n] with B's rows contiguous (row stride `ldb`), C
/// row-major (row stride `ldc`). Row by row, each entry's sum in the order p = 0..k. With
/// β = 0, C is not read.
#[allow(clippy::too_many_arguments)]
pub fn gemm<T: Elem>(
    (m, k, n): (usize, usize, usize),
    alpha: T,
    a: &[T],
    sa: Strides,
    b: &[T],
    ldb: usize,
    beta: Option<T>,
    c: &mut [T],
    ldc: usize,
) {
    let mut rows = Rows {
        m,
        k,
        alpha,
        a,
        sa,
        b,
        ldb,
        beta,
        c,
        ldc,
    };
    run(&mut rows, n);
}

/// The product's operands; `beta: None` is β = 0 (C not read).
struct Rows<'a, T> {
    m: usize,
    k: usize,
    alpha: T,
    a: &'a [T],
    sa: Strides,
    b: &'a [T],
    ldb: usize,
    beta: Option<T>,
    c: &'a mut [T],
    ldc: usize,
}

impl<T: Elem> Kernel for Rows<'_, T> {
    #[inline(always)]
    fn block<const W: usize, const TAIL: bool, const FMA: bool>(&mut self, c0: usize, end: usize) {
        // Several rows at a time, so that several independent chains of fused multiply-adds
        // are in flight (one row's few would wait on each other's latency): four where a
        // row's sums take up to 2 AVX registers, two where 3 or 4, else one (measured: more
        // rows of wider blocks spill their sums to the stack and run slower than one).
        let registers = (W + 8 * TAIL as usize) * std::mem::size_of::<T>() / 32;
        let (r, m) = (
            match registers {
                0..=2 => 4,
                3 | 4 => 2,
                _ => 1,
            },
            self.m,
        );
        let mut i = 0;
        while i + r <= m {
            match r {
                4 => self.rows::<4, W, TAIL, FMA>(i, c0, end),
                2 => self.rows::<2, W, TAIL, FMA>(i, c0, end),
                _ => self.rows::<1, W, TAIL, FMA>(i, c0, end),
            }
            i += r;
        }
        for i in i..m {
            self.rows::<1, W, TAIL, FMA>(i, c0, end);
        }
    }
}

impl<T: Elem> Rows<'_, T> {
    /// Rows i0..i0+R of C's block c0..c0+end (as `Kernel::block`), each B row loaded once
    /// for the R rows.
    #[inline(always)]
    fn rows<const R: usize, const W: usize, const TAIL: bool, const FMA: bool>(
        &mut self,
        i0: usize,
        c0: usize,
        end: usize,
    ) {
        let zero = T::default();
        let (mut main, mut last) = ([[zero; W]; R], [[zero; 8]; R]);
        if let Some(beta) = self.beta {
            for r in 0..R {
                let c_i = &self.c[(i0 + r) * self.ldc + c0..][..end];
                main[r] = vals::<T, W>(c_i).map(|x| beta * x);
                if TAIL {
                    last[r] = vals::<T, 8>(&c_i[end - 8..]).map(|x| beta * x);
                }
            }
        }
        for p in 0..self.k {
            let b_p = &self.b[p * self.ldb + c0..][..end];
            let b_main = vals::<T, W>(b_p);
            let b_last = if TAIL {
                vals::<T, 8>(&b_p[end - 8..])
            } else {
                [T::default(); 8]
            };
            let xs: [T; R] =
                std::array::from_fn(|r| self.alpha * self.a[(i0 + r) * self.sa.0 + p * self.sa.1]);
            for ((main, last), x) in main.iter_mut().zip(last.iter_mut()).zip(xs) {
                fma::<T, FMA>(main, &b_main, x);
                if TAIL {
                    fma::<T, FMA>(last, &b_last, x);
                }
            }
        }
        for r in 0..R {
            let c_i = &mut self.c[(i0 + r) * self.ldc + c0..][..end];
            c_i[..W].copy_from_slice(&main[r]);
            if TAIL {
                c_i[W..].copy_from_slice(&last[r][8 - (end - W)..]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::linalg::{rm, tr};
    use super::*;

    /// C = β C + α A B in f64 by the definition, A read through strides `sa`.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        (m, k, n): (usize, usize, usize),
        alpha: f64,
        a: &[f64],
        sa: Strides,
        b: &[f64],
        beta: f64,
        c: &[f64],
    ) -> Vec<f64> {
        (0..m * n)
            .map(|e| {
                let (i, j) = (e / n, e % n);
                let sum: f64 = (0..k).map(|p| a[i * sa.0 + p * sa.1] * b[p * n + j]).sum();
                alpha * sum + if beta == 0.0 { 0.0 } else { beta * c[e] }
            })
            .collect()
    }

    fn ramp(len: usize, scale: f64) -> Vec<f64> {
        (0..len)
            .map(|i| ((i * 7919) % 23) as f64 * scale - 1.0)
            .collect()
    }

    /// Every kind of block (narrower than 8, whole vectors, a tail; four rows at a time and
    /// the rows left over), A as stored and transposed, β = 0 (NaN in C ignored), 1 and ½,
    /// in f32 and f64.
    #[test]
    fn the_products_equal_their_definition() {
        for (m, k, n) in [
            (1, 1, 1),
            (3, 7, 5),
            (4, 33, 8),
            (5, 7, 10),
            (9, 21, 20),
            (6, 4, 24),
        ] {
            for transposed in [false, true] {
                for beta in [0.0, 1.0, 0.5] {
                    let a = ramp(m * k, 0.1);
                    let b = ramp(k * n, 0.07);
                    let c = ramp(m * n, 0.3);
                    let sa = if transposed { tr(m) } else { rm(k) };
                    let want = reference((m, k, n), 0.75, &a, sa, &b, beta, &c);
                    let beta_opt = (beta != 0.0).then_some(beta);
                    let mut c64 = if beta == 0.0 {
                        vec![f64::NAN; m * n]
                    } else {
                        c.clone()
                    };
                    gemm((m, k, n), 0.75, &a, sa, &b, n, beta_opt, &mut c64, n);
                    let f = |x: &[f64]| x.iter().map(|&v| v as f32).collect::<Vec<f32>>();
                    let mut c32 = if beta == 0.0 {
                        vec![f32::NAN; m * n]
                    } else {
                        f(&c)
                    };
                    let beta32 = beta_opt.map(|b| b as f32);
                    gemm((m, k, n), 0.75, &f(&a), sa, &f(&b), n, beta32, &mut c32, n);
                    for ((x, y), w) in c64.iter().zip(&c32).zip(&want) {
                        assert!(
                            (x - w).abs() <= 1e-12 * (1.0 + w.abs()),
                            "f64 {m}×{k}×{n}: {x} vs {w}"
                        );
                        let y = *y as f64;
                        assert!(
                            (y - w).abs() <= 1e-5 * (1.0 + w.abs()),
                            "f32 {m}×{k}×{n}: {y} vs {w}"
                        );
                    }
                }
            }
        }
    }
}
