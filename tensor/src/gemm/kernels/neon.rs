//! aarch64 NEON micro-kernels (compiled only for aarch64).
//!
//! There are 32 128-bit v registers. An 8×8 f32 tile (8×4 f64) keeps 8 rows × 2 vectors =
//! 16 accumulators, plus 2 for the B row and 1 for the broadcast, leaving headroom for
//! the compiler. Block sizes come from the caches of the machine (see `gemm::cache`).
//!
//! NOT RUN on the development machine (x86-64 only, no aarch64 target installed).

use std::arch::aarch64::*;

use super::simd_kernel;
use crate::gemm::dispatch::{Kernel, Spec};

/// f32: 8×8 tile.
pub(crate) static F32: Spec<f32> = Spec {
    kernel: Kernel::Neon,
    mr: 8,
    nr: 8,
    ukr: ukr_f32,
    ukr_narrow: Some((4, ukr_f32_half)),
};

/// f64: 8×4 tile.
pub(crate) static F64: Spec<f64> = Spec {
    kernel: Kernel::Neon,
    mr: 8,
    nr: 4,
    ukr: ukr_f64,
    ukr_narrow: Some((2, ukr_f64_half)),
};

// `vfmaq_*(acc, x, y)` computes `acc + x * y`; the kernel macro wants `fma(x, y, acc)`.
#[inline(always)]
fn fma_f32(x: float32x4_t, y: float32x4_t, acc: float32x4_t) -> float32x4_t {
    // SAFETY: NEON is part of the aarch64 baseline.
    unsafe { vfmaq_f32(acc, x, y) }
}

#[inline(always)]
fn fma_f64(x: float64x2_t, y: float64x2_t, acc: float64x2_t) -> float64x2_t {
    // SAFETY: NEON is part of the aarch64 baseline.
    unsafe { vfmaq_f64(acc, x, y) }
}

simd_kernel! {
    #[target_feature(enable = "neon")]
    fn ukr_f32(f32, mr = 8, nv = 2, lanes = 4)
        + ukr_f32_half(nv = 1);
    zero = vdupq_n_f32(0.0),
    load = vld1q_f32,
    store = vst1q_f32,
    splat = vdupq_n_f32,
    fma = fma_f32,
    mul = vmulq_f32,
}

simd_kernel! {
    #[target_feature(enable = "neon")]
    fn ukr_f64(f64, mr = 8, nv = 2, lanes = 2)
        + ukr_f64_half(nv = 1);
    zero = vdupq_n_f64(0.0),
    load = vld1q_f64,
    store = vst1q_f64,
    splat = vdupq_n_f64,
    fma = fma_f64,
    mul = vmulq_f64,
}
