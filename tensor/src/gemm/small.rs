//! Tiny products without packing or threads.
//!
//! For a few thousand to ~100k flops, packing (and rounding every edge up to a full
//! micro-tile) costs more than it saves, and the per-call overhead decides the speed. These
//! are plain loops the compiler vectorises, compiled for AVX2+FMA when the selected kernel
//! is an x86 SIMD one:
//! - `Axpy` (i-p-j): `C[i, :] += alpha·A[i, p] · B[p, :]`, for a row-major B (any A);
//! - `Dot` (i-j-p): `C[i, j] = alpha·A[i, :]·B[:, j]`, for a row-major A and a
//!   column-major (transposed) B, with 16 independent accumulators.
//!
//! Other layouts (e.g. both operands transposed) go to the packed path.

use std::sync::atomic::{AtomicBool, Ordering};

use super::dispatch::{Elem, Kernel};
use super::{MatMut, MatRef};

/// Products with at most this many multiply-adds (`m·n·k`) take the small path (when the
/// layout allows). Measured on Zen 2: below it the packed path loses to these loops.
pub(crate) const SMALL_MAX_FMAS: usize = 32 * 32 * 32;

/// Test hook: when false, every product takes the packed path.
pub(crate) static ENABLED: AtomicBool = AtomicBool::new(true);

#[derive(Clone, Copy)]
enum Form {
    Axpy,
    Dot,
}

/// Computes the product with the small loops and returns `true`, or returns `false`
/// (touching nothing) if the product is too big or the layout is not supported.
pub(crate) fn try_run<E: Elem>(
    kernel: Kernel,
    alpha: E,
    a: MatRef<'_, E>,
    b: MatRef<'_, E>,
    beta: E,
    c: &mut MatMut<'_, E>,
) -> bool {
    let (m, n, k) = (a.rows, b.cols, a.cols);
    if m.saturating_mul(n).saturating_mul(k) > SMALL_MAX_FMAS || !ENABLED.load(Ordering::Relaxed) {
        return false;
    }
    let form = if b.col_stride == 1 || n == 1 {
        Form::Axpy
    } else if k == 1 || (a.col_stride == 1 && b.row_stride == 1) {
        Form::Dot
    } else {
        return false;
    };
    match kernel {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 | Kernel::Avx512 if Kernel::Avx2.is_available() => {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            unsafe { body_avx2(form, alpha, a, b, beta, c) }
        }
        #[cfg(target_arch = "aarch64")]
        Kernel::Neon => body::<E, true>(form, alpha, a, b, beta, c),
        _ => body::<E, false>(form, alpha, a, b, beta, c),
    }
    true
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn body_avx2<E: Elem>(
    form: Form,
    alpha: E,
    a: MatRef<'_, E>,
    b: MatRef<'_, E>,
    beta: E,
    c: &mut MatMut<'_, E>,
) {
    body::<E, true>(form, alpha, a, b, beta, c)
}

/// `a * b + c`, fused where the CPU has FMA (`FMA`), plain otherwise (`mul_add` without
/// hardware FMA is a slow library call).
#[inline(always)]
fn madd<E: Elem, const FMA: bool>(a: E, b: E, c: E) -> E {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

#[inline(always)]
fn body<E: Elem, const FMA: bool>(
    form: Form,
    alpha: E,
    a: MatRef<'_, E>,
    b: MatRef<'_, E>,
    beta: E,
    c: &mut MatMut<'_, E>,
) {
    let (m, n, k) = (a.rows, b.cols, a.cols);
    match form {
        Form::Axpy => {
            for i in 0..m {
                let row = &mut c.data[i * c.row_stride..i * c.row_stride + n];
                if beta == E::ZERO {
                    row.fill(E::ZERO);
                } else if beta != E::ONE {
                    row.iter_mut().for_each(|x| *x *= beta);
                }
                let arow = i * a.row_stride;
                for p in 0..k {
                    let aip = alpha * a.data[arow + p * a.col_stride];
                    let brow = &b.data[p * b.row_stride..p * b.row_stride + n];
                    for (x, &y) in row.iter_mut().zip(brow) {
                        *x = madd::<E, FMA>(aip, y, *x);
                    }
                }
            }
        }
        Form::Dot => {
            for i in 0..m {
                let arow = &a.data[i * a.row_stride..i * a.row_stride + k];
                let row = &mut c.data[i * c.row_stride..i * c.row_stride + n];
                for (j, x) in row.iter_mut().enumerate() {
                    let bcol = &b.data[j * b.col_stride..j * b.col_stride + k];
                    let s = alpha * dot::<E, FMA>(arow, bcol);
                    *x = if beta == E::ZERO {
                        s
                    } else {
                        madd::<E, FMA>(beta, *x, s)
                    };
                }
            }
        }
    }
}

/// Dot product with 16 independent partial sums, so it vectorises and pipelines.
#[inline(always)]
fn dot<E: Elem, const FMA: bool>(x: &[E], y: &[E]) -> E {
    const L: usize = 16;
    let mut acc = [E::ZERO; L];
    let xc = x.chunks_exact(L);
    let yc = y.chunks_exact(L);
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (xs, ys) in xc.zip(yc) {
        for l in 0..L {
            acc[l] = madd::<E, FMA>(xs[l], ys[l], acc[l]);
        }
    }
    for h in [8, 4, 2, 1] {
        for l in 0..h {
            acc[l] += acc[l + h];
        }
    }
    let mut s = acc[0];
    for (&p, &q) in xr.iter().zip(yr) {
        s = madd::<E, FMA>(p, q, s);
    }
    s
}
