//! Portable fallback micro-kernel: 4×4 tiles of plain Rust arithmetic (no `mul_add`,
//! which is a slow libm call on targets without FMA). The compiler may still vectorise it
//! with the baseline SIMD of the target (SSE2 on x86-64).

use crate::gemm::dispatch::{Kernel, Spec};
use crate::Float;

const MR: usize = 4;
const NR: usize = 4;

/// f32: KC·NR·4 B = 4 KiB B panel in L1; MC·KC·4 B = 128 KiB A block in L2.
pub(crate) static F32: Spec<f32> = Spec {
    kernel: Kernel::Scalar,
    mr: MR,
    nr: NR,
    kc: 256,
    mc: 128,
    nc: 4096,
    ukr: ukr::<f32>,
};

/// f64: same tile, twice the bytes (8 KiB B panel, 256 KiB A block).
pub(crate) static F64: Spec<f64> = Spec {
    kernel: Kernel::Scalar,
    mr: MR,
    nr: NR,
    kc: 256,
    mc: 128,
    nc: 2048,
    ukr: ukr::<f64>,
};

/// The scalar micro-kernel (see [`KernelFn`](super::KernelFn) for the contract).
///
/// # Safety
/// As for every `KernelFn`: `a`/`b` hold `k` packed steps, the tile at `c` is ours.
unsafe fn ukr<E: Float>(
    k: usize,
    a: *const E,
    b: *const E,
    c: *mut E,
    rs_c: usize,
    alpha: E,
    beta: E,
) {
    // SAFETY: the caller guarantees `a` holds `k * MR` and `b` `k * NR` readable elements.
    let (a, b) = unsafe {
        (
            std::slice::from_raw_parts(a, k * MR),
            std::slice::from_raw_parts(b, k * NR),
        )
    };
    let mut acc = [[E::ZERO; NR]; MR];
    for (ap, bp) in a.chunks_exact(MR).zip(b.chunks_exact(NR)) {
        for (row, &ai) in acc.iter_mut().zip(ap) {
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
