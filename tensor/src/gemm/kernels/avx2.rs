//! x86-64 AVX2 + FMA micro-kernels.
//!
//! There are 16 ymm registers. A 6×16 f32 tile (6×8 f64) keeps 6 rows × 2 vectors = 12
//! accumulators, plus 2 registers for the current row of the B panel and 1 for the
//! broadcast A element: 15 of 16. Each k step issues 12 FMAs against 2 vector loads and
//! 6 broadcasts (8 loads): Zen 2 and Haswell+ have 2 FMA pipes and 2 load ports, so the
//! loop is FMA-bound (6 cycles of FMA vs 4 of loads), which is what reaching peak needs.
//! A larger MR would run out of registers; NR = 3 vectors (4×24) has the same FMA/load
//! ratio but fewer independent accumulators to hide the 5-cycle FMA latency (12 ≥ 2×5).
//!
//! Block sizes come from the caches of the machine (see `gemm::cache`). On Zen 2 (L1d
//! 32 KiB, L2 512 KiB) the rules give KC = 512, which is also what measurement chose there
//! over the textbook 256 (3–4 % faster at 1024³–2048³: each C tile is loaded and stored
//! half as often).

use std::arch::x86_64::*;

use super::simd_kernel;
use crate::gemm::dispatch::{Kernel, Spec};

// ANCHOR: avx2_f32
/// f32: 6×16 tile.
pub(crate) static F32: Spec<f32> = Spec {
    kernel: Kernel::Avx2,
    mr: 6,
    nr: 16,
    ukr: ukr_f32,
    ukr_narrow: Some((8, ukr_f32_half)),
};

// ANCHOR_END: avx2_f32

/// f64: 6×8 tile.
pub(crate) static F64: Spec<f64> = Spec {
    kernel: Kernel::Avx2,
    mr: 6,
    nr: 8,
    ukr: ukr_f64,
    ukr_narrow: Some((4, ukr_f64_half)),
};

// ANCHOR: avx2_f32_kernel
simd_kernel! {
    #[target_feature(enable = "avx2,fma")]
    fn ukr_f32(f32, mr = 6, nv = 2, lanes = 8)
        + ukr_f32_half(nv = 1);
    zero = _mm256_setzero_ps(),
    load = _mm256_loadu_ps,
    store = _mm256_storeu_ps,
    splat = _mm256_set1_ps,
    fma = _mm256_fmadd_ps,
    mul = _mm256_mul_ps,
}
// ANCHOR_END: avx2_f32_kernel

simd_kernel! {
    #[target_feature(enable = "avx2,fma")]
    fn ukr_f64(f64, mr = 6, nv = 2, lanes = 4)
        + ukr_f64_half(nv = 1);
    zero = _mm256_setzero_pd(),
    load = _mm256_loadu_pd,
    store = _mm256_storeu_pd,
    splat = _mm256_set1_pd,
    fma = _mm256_fmadd_pd,
    mul = _mm256_mul_pd,
}
