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
//! Block sizes (Zen 2: L1d 32 KiB, L2 512 KiB per core, L3 16 MiB per 4-core CCX):
//! - KC = 512: the textbook choice keeps the KC×NR B micro-panel, which every A
//!   micro-panel of the block reuses, in half of L1 — KC = 256 (256·16·4 B = 16 KiB f32,
//!   256·8·8 B = 16 KiB f64). Measured on Zen 2, KC = 512 (a 32 KiB micro-panel that
//!   streams from L2 with the hardware prefetcher, 12 FMAs per step hiding the latency) is
//!   3–4 % faster at 1024³–2048³ in both precisions, because each C tile is loaded and
//!   stored half as often and the per-call overhead halves; so 512 it is.
//! - MC: the MC×KC A block is reused by every B micro-panel of the NC block, so it must
//!   stay in L2: f32 96·512·4 B = f64 48·512·8 B = 192 KiB, under 40 % of L2, leaving
//!   room for the B micro-panels streaming through (L2 is private, so a sibling thread
//!   does not evict it).
//! - NC: the KC×NC B block is reused by every MC block, so it should stay in L3:
//!   f32 512·2048·4 B = f64 512·1024·8 B = 4 MiB, a quarter of the CCX's L3 — with one
//!   copy per thread (see `threading`) two threads use half of it.
//!
//! The driver balances the blocks (k = 784 → 2 × 392, not 512 + 272).

use std::arch::x86_64::*;

use super::simd_kernel;
use crate::gemm::dispatch::{Kernel, Spec};

// ANCHOR: avx2_f32
/// f32: 6×16 tile.
pub(crate) static F32: Spec<f32> = Spec {
    kernel: Kernel::Avx2,
    mr: 6,
    nr: 16,
    kc: 512,
    mc: 96,
    nc: 2048,
    ukr: ukr_f32,
    ukr_half: Some(ukr_f32_half),
};

// ANCHOR_END: avx2_f32

/// f64: 6×8 tile.
pub(crate) static F64: Spec<f64> = Spec {
    kernel: Kernel::Avx2,
    mr: 6,
    nr: 8,
    kc: 512,
    mc: 48,
    nc: 1024,
    ukr: ukr_f64,
    ukr_half: Some(ukr_f64_half),
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
