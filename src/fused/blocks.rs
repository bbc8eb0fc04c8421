//! Products a block of output columns at a time, the block's values in registers: the shared
//! machinery of the first layer's sparse products (`first_layer.rs`) and of the small dense
//! products (`small.rs`). A kernel says what one block does; `run` walks the columns in
//! blocks whose widths are compile-time constants (so the block is an array the compiler
//! keeps in vector registers), on AVX2 and FMA where the CPU has them.
#[cfg(target_arch = "x86_64")]
use super::linalg::has_fma;
use std::ops::{Add, Mul};

/// The element types of the blocks: f32 (the network) and f64 (the ridge sums).
pub trait Elem: Copy + Default + PartialEq + Add<Output = Self> + Mul<Output = Self> {
    /// self · a + b with one rounding.
    fn mul_add(self, a: Self, b: Self) -> Self;
}

impl Elem for f32 {
    #[inline(always)]
    fn mul_add(self, a: f32, b: f32) -> f32 {
        f32::mul_add(self, a, b)
    }
}

impl Elem for f64 {
    #[inline(always)]
    fn mul_add(self, a: f64, b: f64) -> f64 {
        f64::mul_add(self, a, b)
    }
}

/// A product a block of columns at a time: `block::<W, TAIL, FMA>(c0, end)` does columns
/// c0..c0+W of the rows and, with TAIL, the rows' last 8 (c0+end−8..c0+end), of which it
/// keeps those beyond c0+W. W and TAIL are compile-time constants so that the block's values
/// live in registers.
pub trait Kernel {
    fn block<const W: usize, const TAIL: bool, const FMA: bool>(&mut self, c0: usize, end: usize);
}

/// The first L values of a slice, as an array the compiler can keep in registers.
#[inline(always)]
pub fn vals<T: Elem, const L: usize>(x: &[T]) -> [T; L] {
    x[..L].try_into().expect("L values")
}

/// acc += v · x, a fused multiply-add per entry with FMA (one instruction inside an
/// FMA-enabled function), else a multiply and an add.
#[inline(always)]
pub fn fma<T: Elem, const FMA: bool>(acc: &mut [T], x: &[T], v: T) {
    for (a, x) in acc.iter_mut().zip(x) {
        *a = if FMA { v.mul_add(*x, *a) } else { *a + v * *x };
    }
}

/// Run a kernel over rows of n columns, on AVX2 and FMA where the CPU has them.
pub fn run<K: Kernel>(kernel: &mut K, n: usize) {
    #[cfg(target_arch = "x86_64")]
    if has_fma() {
        // SAFETY: the CPU has AVX2 and FMA (checked by has_fma).
        return unsafe { run_fma(kernel, n) };
    }
    by_blocks::<K, false>(kernel, n)
}

// Compiled for AVX2 and FMA (taken where the CPU has them, checked at run time) the blocks are
// 8-wide fused multiply-adds, against the baseline x86-64's 4-wide multiply and add. The
// results differ from the baseline's in the last bit (one rounding instead of two); a machine
// always takes one path.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_fma<K: Kernel>(kernel: &mut K, n: usize) {
    by_blocks::<K, true>(kernel, n)
}

/// The widest block: 64 values, eight AVX registers of f32.
const WIDEST: usize = 64;

/// The kernel over the rows' n columns in blocks: of 64, then the rest's multiple of 8 with
/// the last n % 8 columns in the same pass (read as the rows' last 8, of which the block
/// keeps those it does not cover). Fig. 2's n_1 = 50 is one pass: 48 columns and 2. Rows
/// narrower than 8 are one scalar block.
#[inline(always)]
fn by_blocks<K: Kernel, const FMA: bool>(kernel: &mut K, n: usize) {
    let mut c0 = 0;
    while n - c0 >= WIDEST + 8 {
        kernel.block::<WIDEST, false, FMA>(c0, WIDEST);
        c0 += WIDEST;
    }
    let left = n - c0;
    macro_rules! widths {
        ($(($w:literal, $t:literal))*) => {
            match (if left < 8 { left } else { left / 8 * 8 }, left >= 8 && left % 8 > 0) {
                $(($w, $t) => kernel.block::<$w, $t, FMA>(c0, left),)*
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
