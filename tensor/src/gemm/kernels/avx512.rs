//! x86-64 AVX-512F micro-kernels.
//!
//! There are 32 zmm registers. A 14×32 f32 tile keeps 14 rows × 2 vectors = 28
//! accumulators, plus 2 for the B row and 1 for the broadcast: 31 of 32. Each k step is
//! 28 FMAs against 16 loads, FMA-bound on cores with two 512-bit FMA units. The f64 tile
//! is 8×24 (8 rows × 3 vectors; see `F64` for why not 14×16).
//!
//! Block sizes come from the caches of the machine (see `gemm::cache`); on Zen 5 (L1d
//! 48 KiB, L2 1 MiB) they are KC 1024 / MC 126 for f32 and KC 680 / MC 96 for f64 (the B
//! micro-panel in an eighth of L2, see `gemm::cache`).
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
    ukr_narrow: Some((16, ukr_f32_half)),
};

/// f32 tiles with fewer rows, for products whose m would leave much of a 14-row panel
/// empty (m = 100, the autoencoder's batch: 8 panels of 14 compute 112 rows, 10 panels of
/// 10 exactly 100). See `dispatch::spec_for_rows`.
pub(crate) static F32_MR12: Spec<f32> = Spec {
    kernel: Kernel::Avx512,
    mr: 12,
    nr: 32,
    ukr: ukr_f32_mr12,
    ukr_narrow: Some((16, ukr_f32_mr12_half)),
};

/// See [`F32_MR12`].
pub(crate) static F32_MR10: Spec<f32> = Spec {
    kernel: Kernel::Avx512,
    mr: 10,
    nr: 32,
    ukr: ukr_f32_mr10,
    ukr_narrow: Some((16, ukr_f32_mr10_half)),
};

/// The f32 specs to choose from by m, preferred first.
pub(crate) static F32_BY_ROWS: [&Spec<f32>; 3] = [&F32, &F32_MR12, &F32_MR10];

/// f64: 8×24 tile (24 accumulators, 3 B vectors, 1 broadcast: 28 of 32 registers), with
/// an 8×16 kernel for a last panel of at most 16 columns.
///
/// Measured on Zen 5 (single thread, on-CPU time, against the `gemm` crate in the same
/// process), 8×24 beat 14×16 by 3–6 % at 1024³ and 2048³, by 7–15 % on the autoencoder's
/// batch-100 products and on n = 20 (one 24-wide panel instead of 16 + 8), and 9×24 (27
/// accumulators) was slightly slower than 8×24: per k step 8×24 issues 11 loads for 24
/// FMAs where 14×16 issues 16 for 28, and its C tile is fewer, longer rows.
pub(crate) static F64: Spec<f64> = Spec {
    kernel: Kernel::Avx512,
    mr: 8,
    nr: 24,
    ukr: ukr_f64,
    ukr_narrow: Some((16, ukr_f64_narrow)),
};

/// f64 with 10 rows (10×16, 20 accumulators), for m where 8-row panels leave much empty
/// (the linear probe's weight gradient has m = 10 classes: two 8-row panels compute 16
/// rows). See `dispatch::spec_for_rows`.
pub(crate) static F64_MR10: Spec<f64> = Spec {
    kernel: Kernel::Avx512,
    mr: 10,
    nr: 16,
    ukr: ukr_f64_mr10,
    ukr_narrow: Some((8, ukr_f64_mr10_half)),
};

/// The f64 specs to choose from by m, preferred first.
pub(crate) static F64_BY_ROWS: [&Spec<f64>; 2] = [&F64, &F64_MR10];

// Every AVX-512 kernel of one element type uses the same five intrinsics; only the tile
// shape differs, so these two macros name them once.
macro_rules! avx512_f32_kernel {
    ($name:ident, $narrow:ident, mr = $mr:literal, nv = $nv:literal, narrow_nv = $nnv:literal) => {
        simd_kernel! {
            #[target_feature(enable = "avx512f")]
            fn $name(f32, mr = $mr, nv = $nv, lanes = 16) + $narrow(nv = $nnv);
            zero = _mm512_setzero_ps(),
            load = _mm512_loadu_ps,
            store = _mm512_storeu_ps,
            splat = _mm512_set1_ps,
            fma = _mm512_fmadd_ps,
            mul = _mm512_mul_ps,
        }
    };
}

macro_rules! avx512_f64_kernel {
    ($name:ident, $narrow:ident, mr = $mr:literal, nv = $nv:literal, narrow_nv = $nnv:literal) => {
        simd_kernel! {
            #[target_feature(enable = "avx512f")]
            fn $name(f64, mr = $mr, nv = $nv, lanes = 8) + $narrow(nv = $nnv);
            zero = _mm512_setzero_pd(),
            load = _mm512_loadu_pd,
            store = _mm512_storeu_pd,
            splat = _mm512_set1_pd,
            fma = _mm512_fmadd_pd,
            mul = _mm512_mul_pd,
        }
    };
}

avx512_f32_kernel!(ukr_f32, ukr_f32_half, mr = 14, nv = 2, narrow_nv = 1);
avx512_f32_kernel!(
    ukr_f32_mr12,
    ukr_f32_mr12_half,
    mr = 12,
    nv = 2,
    narrow_nv = 1
);
avx512_f32_kernel!(
    ukr_f32_mr10,
    ukr_f32_mr10_half,
    mr = 10,
    nv = 2,
    narrow_nv = 1
);
avx512_f64_kernel!(ukr_f64, ukr_f64_narrow, mr = 8, nv = 3, narrow_nv = 2);
avx512_f64_kernel!(
    ukr_f64_mr10,
    ukr_f64_mr10_half,
    mr = 10,
    nv = 2,
    narrow_nv = 1
);
