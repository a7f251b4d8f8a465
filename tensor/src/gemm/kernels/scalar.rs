//! Portable fallback micro-kernel: 4×4 tiles of plain Rust arithmetic (no `mul_add`,
//! which is a slow libm call on targets without FMA). The compiler may still vectorise it
//! with the baseline SIMD of the target (SSE2 on x86-64).

use crate::gemm::dispatch::{Kernel, Spec};
use crate::Float;

const MR: usize = 4;
const NR: usize = 4;

/// f32: 4×4 tile (block sizes from the caches, see `gemm::cache`).
pub(crate) static F32: Spec<f32> = Spec {
    kernel: Kernel::Scalar,
    mr: MR,
    nr: NR,
    ukr: ukr::<f32>,
    ukr_narrow: None,
};

/// f64: the same tile.
pub(crate) static F64: Spec<f64> = Spec {
    kernel: Kernel::Scalar,
    mr: MR,
    nr: NR,
    ukr: ukr::<f64>,
    ukr_narrow: None,
};

// ANCHOR: scalar_ukr
/// The scalar micro-kernel (see [`KernelFn`](super::KernelFn)).
///
/// # Safety
/// As for every `KernelFn`.
#[allow(clippy::too_many_arguments)]
unsafe fn ukr<E: Float>(
    k: usize,
    a: *const E,
    rs_a: usize,
    cs_a: usize,
    b: *const E,
    rs_b: usize,
    c: *mut E,
    rs_c: usize,
    alpha: E,
    beta: E,
) {
    let mut acc = [[E::ZERO; NR]; MR];
    for p in 0..k {
        // SAFETY: the caller guarantees A(i, p) for i < MR and B(p, j) for j < NR are
        // readable at these offsets.
        let (ap, bp) = unsafe {
            (
                std::array::from_fn::<E, MR, _>(|i| *a.add(i * rs_a + p * cs_a)),
                std::slice::from_raw_parts(b.add(p * rs_b), NR),
            )
        };
        for (row, &ai) in acc.iter_mut().zip(&ap) {
            for (x, &bj) in row.iter_mut().zip(bp) {
                *x += ai * bj;
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        // SAFETY: the caller guarantees row `i < MR` of the tile (NR elements from
        // `c + i * rs_c`) is valid and exclusively ours.
        let out = unsafe { std::slice::from_raw_parts_mut(c.add(i * rs_c), NR) };
        if beta == E::ZERO {
            for (o, &x) in out.iter_mut().zip(row) {
                *o = alpha * x;
            }
        } else {
            for (o, &x) in out.iter_mut().zip(row) {
                *o = alpha * x + beta * *o;
            }
        }
    }
}
// ANCHOR_END: scalar_ukr
