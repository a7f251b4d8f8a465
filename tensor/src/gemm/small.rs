//! Tiny products: a plain loop, no packing, no threads, no micro-kernel.
//!
//! Below a few hundred multiply-adds the fixed cost of the blocked driver (block
//! bookkeeping, edge-panel packing, the edge tile) dominates; measured on Zen 2 this i-p-j
//! loop (`C[i, :] += alpha·A[i, p] · B[p, :]`, vectorisable when B's rows are contiguous)
//! is faster up to about 8×8×8. Anything larger goes to the driver, which reads small
//! operands in place (see `driver::DIRECT_MAX_FMAS`) so it needs no packing either.
//!
//! With AVX-512 the rule depends on the shape (see [`takes`]): measured on Zen 5, the
//! skinny loops (`skinny.rs`) beat this loop for every m ≤ 4 (2×8×8: 3.1×, 4×4×4: 3.5×),
//! and the driver beats it for n ≤ 4 (16×16×2: 2.7×, 12×12×3: 2.5×; one element per
//! row of C leaves the loop nothing to vectorise) and from 7×7×7 on (8×8×8: 1.2×); it
//! stays faster for the rest up to 256 multiply-adds (5×5×5: 1.4×, 6×6×6: 1.1×,
//! 8×4×8: 1.1×).

use std::sync::atomic::{AtomicBool, Ordering};

use super::dispatch::{Elem, Kernel};
use super::skinny::MAX_SKINNY;
use super::{MatMut, MatRef};

/// Products with at most this many multiply-adds (`m·n·k`) take this path (when B's rows
/// are contiguous). Measured on Zen 2 (see the module docs).
pub(crate) const SMALL_MAX_FMAS: usize = 8 * 8 * 8;

/// With AVX-512: the most multiply-adds for this path, for m > 4 and n > 4 (see [`takes`]).
/// Measured on Zen 5.
pub(crate) const SMALL_MAX_FMAS_AVX512: usize = 256;

// ANCHOR: small_rule
/// Whether an `m×k · k×n` product takes this loop with `kernel` (layout permitting).
pub(crate) fn takes(kernel: Kernel, m: usize, n: usize, k: usize) -> bool {
    let fmas = m.saturating_mul(n).saturating_mul(k);
    match kernel {
        // Few rows go to `skinny`, few columns and larger products to the driver.
        Kernel::Avx512 => m > MAX_SKINNY && n > MAX_SKINNY && fmas <= SMALL_MAX_FMAS_AVX512,
        _ => fmas <= SMALL_MAX_FMAS,
    }
}
// ANCHOR_END: small_rule

/// Test hook: when false, every product takes the packed path.
pub(crate) static ENABLED: AtomicBool = AtomicBool::new(true);

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
    if !takes(kernel, m, n, k) || !ENABLED.load(Ordering::Relaxed) {
        return false;
    }
    if b.col_stride != 1 && n != 1 {
        return false;
    }
    match kernel {
        // The loop below vectorises along B's rows; compiled for AVX-512 it uses 512-bit
        // vectors (a 20-wide row is one f32 vector and a masked remainder, not three).
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 if Kernel::Avx512.is_available() && Kernel::Avx2.is_available() => {
            // SAFETY: the CPU supports AVX-512F, AVX2 and FMA (checked just above).
            unsafe { body_avx512(alpha, a, b, beta, c) }
        }
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 | Kernel::Avx512 if Kernel::Avx2.is_available() => {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            unsafe { body_avx2(alpha, a, b, beta, c) }
        }
        #[cfg(target_arch = "aarch64")]
        Kernel::Neon => body::<E, true>(alpha, a, b, beta, c),
        _ => body::<E, false>(alpha, a, b, beta, c),
    }
    true
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn body_avx2<E: Elem>(
    alpha: E,
    a: MatRef<'_, E>,
    b: MatRef<'_, E>,
    beta: E,
    c: &mut MatMut<'_, E>,
) {
    body::<E, true>(alpha, a, b, beta, c)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn body_avx512<E: Elem>(
    alpha: E,
    a: MatRef<'_, E>,
    b: MatRef<'_, E>,
    beta: E,
    c: &mut MatMut<'_, E>,
) {
    body::<E, true>(alpha, a, b, beta, c)
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
    alpha: E,
    a: MatRef<'_, E>,
    b: MatRef<'_, E>,
    beta: E,
    c: &mut MatMut<'_, E>,
) {
    let (m, n, k) = (a.rows, b.cols, a.cols);
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
            // Contiguous (col_stride == 1), or a single column (n == 1).
            let brow = &b.data[p * b.row_stride..p * b.row_stride + n];
            for (x, &y) in row.iter_mut().zip(brow) {
                *x = madd::<E, FMA>(aip, y, *x);
            }
        }
    }
}
