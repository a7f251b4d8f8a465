//! x86-64 AVX-512F micro-kernels.
//!
//! There are 32 zmm registers. A 14×32 f32 tile (14×16 f64) keeps 14 rows × 2 vectors =
//! 28 accumulators, plus 2 for the B row and 1 for the broadcast: 31 of 32. Each k step is
//! 28 FMAs against 16 loads, FMA-bound on cores with two 512-bit FMA units.
//!
//! Block sizes come from the caches of the machine (see `gemm::cache`); on Zen 5 (L1d
//! 48 KiB, L2 1 MiB) they are KC 1024, MC 126 f32 / 56 f64 (B micro-panel in L2, see
//! `gemm::cache`).
//!
//! Tested on Zen 5 (AMD EPYC, family 1Ah): every GEMM test runs with this kernel, which
//! [`dispatch`](crate::gemm::dispatch) selects only when `is_x86_feature_detected!("avx512f")`.

use std::arch::x86_64::*;

use super::simd_kernel;
use crate::gemm::dispatch::{Kernel, Spec};

/// f32: 14×32 tile.
pub(crate) static F32: Spec<f32> = Spec {
    kernel: Kernel::Avx512,
    mr: 14,
    nr: 32,
    ukr: ukr_f32,
    ukr_half: Some(ukr_f32_half),
};

/// f64: 14×16 tile.
pub(crate) static F64: Spec<f64> = Spec {
    kernel: Kernel::Avx512,
    mr: 14,
    nr: 16,
    ukr: ukr_f64,
    ukr_half: Some(ukr_f64_half),
};

simd_kernel! {
    #[target_feature(enable = "avx512f")]
    fn ukr_f32(f32, mr = 14, nv = 2, lanes = 16)
        + ukr_f32_half(nv = 1);
    zero = _mm512_setzero_ps(),
    load = _mm512_loadu_ps,
    store = _mm512_storeu_ps,
    splat = _mm512_set1_ps,
    fma = _mm512_fmadd_ps,
    mul = _mm512_mul_ps,
}

simd_kernel! {
    #[target_feature(enable = "avx512f")]
    fn ukr_f64(f64, mr = 14, nv = 2, lanes = 8)
        + ukr_f64_half(nv = 1);
    zero = _mm512_setzero_pd(),
    load = _mm512_loadu_pd,
    store = _mm512_storeu_pd,
    splat = _mm512_set1_pd,
    fma = _mm512_fmadd_pd,
    mul = _mm512_mul_pd,
}
