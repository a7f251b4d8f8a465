//! Skinny products on AVX-512 and AVX2: C with at most 4 rows, or at most 4 columns.
//!
//! A linear probe on a batch of 200 with 2 classes issues `200×k · k×2` (logits, `X·Wᵀ`)
//! and `2×200 · 200×k` (weight gradient, `dYᵀ·X`). The blocked driver computes them with
//! 10- to 14-row, 16- or 32-column tiles, padding 2 to 16 columns or 2 to 10 rows: 80–90 %
//! of its FMAs are on zeros, plus the packing of the padded edge panel. Two loops here do
//! only the useful work, reading both operands in place:
//!
//! - **few rows** (`m ≤ 4`, B's rows contiguous): for each block of up to 64 columns the
//!   `m × 64` block of C stays in registers (m·4 accumulators) while the loop streams the
//!   block's k rows of B once — each B vector feeds m FMAs, each broadcast of A four;
//! - **few columns** (`n ≤ 4`, A's rows and B's columns contiguous — `A · Wᵀ` with a
//!   row-major W): every element of C is a dot product of two contiguous vectors; four
//!   rows of A at a time are multiplied with the n columns of B (4·n accumulators, each
//!   A vector feeding n FMAs, each B vector four), then each accumulator is summed across
//!   its lanes.
//!
//! Ragged ends (a last column block narrower than 64, k not a multiple of the vector
//! length) use masked loads and stores, so nothing is padded or packed.
//!
//! The few-columns loop also finishes wider `A·Wᵀ` products whose n leaves at most 4
//! columns after the driver's last full tile (n = 100 = 3·32 + 4): the driver computes
//! the tiles, this loop the last columns (`edge_columns`).
//!
//! The same two loops are compiled twice: for AVX-512 (16 `f32` lanes) and for AVX2 (8
//! lanes, 16 registers instead of 32, so fewer rows or columns per register block):
//! without the AVX2 copy, a CPU without AVX-512 (Zen 2, Zen 3) would compute the probe's
//! products with its 6×16 tiles, 87 % padding. The few-rows loop sums each element of C
//! over k in order, as the tiles do, so its bits do not depend on the lane count; the
//! few-columns loop sums in lanes, so AVX2 and AVX-512 round its dot products
//! differently.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::dispatch::{Elem, Kernel};
use super::{MatMut, MatRef};

/// Largest m (rows of C) of the few-rows loop, and largest n of the few-columns loop.
pub(crate) const MAX_SKINNY: usize = 4;

/// Test hook: when false, skinny products take the other paths.
pub(crate) static ENABLED: AtomicBool = AtomicBool::new(true);

thread_local! {
    /// Products this thread computed with the loops (the loops never hand work to other
    /// threads); a counter per thread, since the probe's products are too many and too
    /// short to share one cache line between workers.
    pub(crate) static RUNS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Products whose last few columns took the few-columns loop (see `edge_columns`).
pub(crate) static EDGE_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Whether these loops have a copy for `kernel` that this CPU runs (AVX-512 or AVX2).
fn has_loops(kernel: Kernel) -> bool {
    kernel.runs_avx512() || kernel.runs_avx2()
}

/// How many of C's last columns the few-columns loop should compute after the blocked
/// driver's tiles have computed the others (0: none).
///
/// With n = q·NR + w and 0 < w ≤ 4 — the autoencoder's n = 100 is three 32-wide panels
/// and 4 columns (f64: four 24-wide and 4) — the driver computes the last w columns in a
/// narrow tile of 16 columns, three quarters of its multiply-adds on zeros. The
/// few-columns loop computes only those w, at about half the tile's speed per
/// multiply-add; it needs `A·Wᵀ`'s layout (A's rows and B's columns contiguous).
/// Measured on Zen 5 (one thread, on-CPU time, best of 15, two interleaved rounds), the
/// whole product against the tiles alone, in % of the FMA peak: f32 `100×500·500×100`
/// 78 → 86–87, `100×100·100×100` 73–74 → 80, `100×20·20×100` 56–57 → 59–60; f64 the
/// same three 75 → 80–83, 74 → 80–82, 64 → 67–69 and `1000×500·500×100` 83–85 → 89–94;
/// ties (within noise) at f32 `1000×500·500×100`, `200×100·100×100` and k = 5, so no
/// depth or size is excluded. With AVX2 (6×16 f32 and 6×8 f64 tiles, whose narrow tile
/// is 8 or 4 wide; Zen 5 with the AVX2 kernels forced, best of 15, on-CPU time), f32
/// `100×500·500×100` 110 → 117 GFLOP/s, `100×100·100×100` 105 → 113, `100×784·784×20`
/// 78 → 106, `100×100·100×20` 74 → 99; f64 ties to +5 %.
pub(crate) fn edge_columns<E: Elem>(
    kernel: Kernel,
    nr: usize,
    a: &MatRef<'_, E>,
    b: &MatRef<'_, E>,
) -> usize {
    let n = b.cols;
    let w = n % nr;
    let fits = w > 0
        && w <= MAX_SKINNY
        && n > nr
        && a.col_stride == 1
        && b.row_stride == 1
        && has_loops(kernel)
        && ENABLED.load(Ordering::Relaxed);
    if fits {
        w
    } else {
        0
    }
}

/// Computes the product with one of the skinny loops and returns `true`, or returns
/// `false` (touching nothing) when the shape, layout or CPU does not suit them.
pub(crate) fn try_run<E: Elem>(
    kernel: Kernel,
    alpha: E,
    a: MatRef<'_, E>,
    b: MatRef<'_, E>,
    beta: E,
    c: &mut MatMut<'_, E>,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if !has_loops(kernel) || !ENABLED.load(Ordering::Relaxed) {
            return false;
        }
        let avx512 = kernel.runs_avx512();
        let (m, n, k) = (a.rows, b.cols, a.cols);
        let rows_ok = m <= MAX_SKINNY && (b.col_stride == 1 || n == 1);
        let cols_ok =
            n <= MAX_SKINNY && (a.col_stride == 1 || k == 1) && (b.row_stride == 1 || k == 1);
        if !rows_ok && !cols_ok {
            return false;
        }
        RUNS.with(|runs| runs.set(runs.get() + 1));
        // The raw pointers below address only elements of the validated views: A(i, p),
        // B(p, j), C(i, j) for i < m, p < k, j < n.
        let (pa, pb) = (a.data.as_ptr(), b.data.as_ptr());
        let pc = c.data.as_mut_ptr();
        // One call for either element type: `$T` and the module of its loops.
        macro_rules! call {
            ($T:ty, $loops:ident) => {{
                let (alpha, beta): ($T, $T) = (bytemuck::cast(alpha), bytemuck::cast(beta));
                let (pa, pb, pc) = (pa.cast::<$T>(), pb.cast::<$T>(), pc.cast::<$T>());
                let o = $loops::Operands {
                    k,
                    alpha,
                    beta,
                    a: pa,
                    rs_a: a.row_stride,
                    cs_a: a.col_stride,
                    b: pb,
                    rs_b: b.row_stride,
                    cs_b: b.col_stride,
                    c: pc,
                    rs_c: c.row_stride,
                };
                // SAFETY: the loops' instruction set checked above; pointers and strides
                // describe validated views (see above), C exclusively borrowed.
                unsafe {
                    if rows_ok {
                        $loops::rows(m, n, o)
                    } else {
                        $loops::cols(m, n, o)
                    }
                }
            }};
        }
        match (E::DTYPE, avx512) {
            (crate::DType::F32, true) => call!(f32, f32x),
            (crate::DType::F64, true) => call!(f64, f64x),
            (crate::DType::F32, false) => call!(f32, f32y),
            (crate::DType::F64, false) => call!(f64, f64y),
        }
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (kernel, alpha, a, b, beta, c);
        false
    }
}

/// The two loops for one element type and instruction set: `$E`, `$L` lanes, mask type
/// `$M` (one bit per lane), the target feature, the register blocks (by the block's
/// number of rows or columns, 1 to 4: vectors of C per column block of the few-rows
/// loop, rows per block of the few-columns loop; what the vector registers hold), and
/// the intrinsics (masked load/store, broadcast, FMA, multiply, sum across lanes).
#[cfg(target_arch = "x86_64")]
macro_rules! skinny_loops {
    (
        mod $mod:ident($E:ty, lanes = $L:literal, mask = $M:ty, feature = $feat:literal);
        row_block_vectors = $row_block_vectors:expr,
        column_block_rows = $column_block_rows:expr,
        zero = $zero:path,
        loadz = $loadz:path,
        store = $store:path,
        splat = $splat:path,
        fma = $fma:path,
        mul = $mul:path,
        reduce = $reduce:path $(,)?
    ) => {
        mod $mod {
            use std::arch::x86_64::*;

            const L: usize = $L;
            /// Vectors per column block of the few-rows loop, by its rows (at most 4).
            const ROW_BLOCK_VECTORS: [usize; 4] = $row_block_vectors;
            /// Rows per block of the few-columns loop, by its columns.
            const COLUMN_BLOCK_ROWS: [usize; 4] = $column_block_rows;

            /// The mask of the first `w` lanes (`w ≤ L`).
            #[inline(always)]
            fn mask(w: usize) -> $M {
                if w >= L {
                    !0
                } else {
                    ((1u32 << w) - 1) as $M
                }
            }

            /// One product as the loops read it: `A(i, p) = a[i·rs_a + p·cs_a]`,
            /// `B(p, j) = b[p·rs_b + j·cs_b]`, `C(i, j) = c[i·rs_c + j]`, depth `k`, and
            /// `C = alpha·A·B + beta·C`.
            #[derive(Clone, Copy)]
            pub(super) struct Operands {
                pub k: usize,
                pub alpha: $E,
                pub beta: $E,
                pub a: *const $E,
                pub rs_a: usize,
                pub cs_a: usize,
                pub b: *const $E,
                pub rs_b: usize,
                pub cs_b: usize,
                pub c: *mut $E,
                pub rs_c: usize,
            }

            impl Operands {
                /// The same product from column `j` of B and C on.
                fn at_col(self, j: usize) -> Self {
                    Operands {
                        b: self.b.wrapping_add(j * self.cs_b),
                        c: self.c.wrapping_add(j),
                        ..self
                    }
                }

                /// The same product from row `i` of A and C on.
                fn at_row(self, i: usize) -> Self {
                    Operands {
                        a: self.a.wrapping_add(i * self.rs_a),
                        c: self.c.wrapping_add(i * self.rs_c),
                        ..self
                    }
                }
            }

            /// The m×n product for m ≤ 4, B's rows contiguous (`cs_b = 1`, or n = 1).
            ///
            /// # Safety
            /// The CPU runs `$feat`; every A(i, p), B(p, j), C(i, j) (i < m, p < k,
            /// j < n) addresses a valid element, C's exclusively.
            #[target_feature(enable = $feat)]
            pub(super) unsafe fn rows(m: usize, n: usize, o: Operands) {
                // SAFETY (all calls): forwarded from the caller.
                unsafe {
                    match m {
                        1 => rows_m::<1>(n, o),
                        2 => rows_m::<2>(n, o),
                        3 => rows_m::<3>(n, o),
                        _ => rows_m::<4>(n, o),
                    }
                }
            }

            #[target_feature(enable = $feat)]
            unsafe fn rows_m<const R: usize>(n: usize, o: Operands) {
                let mut j = 0;
                while j < n {
                    let w = (n - j).min(ROW_BLOCK_VECTORS[R - 1] * L);
                    let o = o.at_col(j);
                    // SAFETY: columns j .. j + w of every row are inside the views.
                    unsafe {
                        match w.div_ceil(L) {
                            1 => rows_block::<R, 1>(w, o),
                            2 => rows_block::<R, 2>(w, o),
                            3 => rows_block::<R, 3>(w, o),
                            _ => rows_block::<R, 4>(w, o),
                        }
                    }
                    j += w;
                }
            }

            /// One R×w block of C (w ≤ NV·L), accumulated over all k in registers.
            ///
            /// # Safety
            /// As for [`rows`], for the block's R rows and w columns.
            #[target_feature(enable = $feat)]
            #[allow(clippy::needless_range_loop)]
            unsafe fn rows_block<const R: usize, const NV: usize>(w: usize, o: Operands) {
                let masks: [$M; NV] = std::array::from_fn(|v| mask(w.saturating_sub(v * L)));
                let mut acc = [[$zero(); NV]; R];
                let mut bp = o.b;
                let mut ap = o.a;
                for _ in 0..o.k {
                    let mut bv = [$zero(); NV];
                    for v in 0..NV {
                        // SAFETY: lanes under the mask are columns < w of row p of B.
                        bv[v] = unsafe { $loadz(masks[v], bp.add(v * L)) };
                    }
                    for r in 0..R {
                        // SAFETY: A(r, p) for r < m, p < k.
                        let ar = $splat(unsafe { *ap.add(r * o.rs_a) });
                        for v in 0..NV {
                            acc[r][v] = $fma(ar, bv[v], acc[r][v]);
                        }
                    }
                    bp = bp.wrapping_add(o.rs_b);
                    ap = ap.wrapping_add(o.cs_a);
                }
                let va = $splat(o.alpha);
                for r in 0..R {
                    for v in 0..NV {
                        // SAFETY: lanes under the mask are C(r, j) with j < w.
                        unsafe {
                            let cp = o.c.add(r * o.rs_c + v * L);
                            let mut x = $mul(va, acc[r][v]);
                            if o.beta != 0.0 {
                                x = $fma($splat(o.beta), $loadz(masks[v], cp), x);
                            }
                            $store(cp, masks[v], x);
                        }
                    }
                }
            }

            /// The m×n product for n ≤ 4, A's rows and B's columns contiguous (`cs_a = 1`,
            /// `rs_b = 1`, or k = 1).
            ///
            /// # Safety
            /// As for [`rows`].
            #[target_feature(enable = $feat)]
            pub(super) unsafe fn cols(m: usize, n: usize, o: Operands) {
                // SAFETY (all calls): forwarded from the caller.
                unsafe {
                    match n {
                        1 => cols_n::<1>(m, o),
                        2 => cols_n::<2>(m, o),
                        3 => cols_n::<3>(m, o),
                        _ => cols_n::<4>(m, o),
                    }
                }
            }

            #[target_feature(enable = $feat)]
            unsafe fn cols_n<const N: usize>(m: usize, o: Operands) {
                let rows = COLUMN_BLOCK_ROWS[N - 1];
                let mut i = 0;
                while i + rows <= m {
                    // SAFETY: rows i .. i + rows are inside the views.
                    unsafe {
                        match rows {
                            4 => cols_block::<4, N>(o.at_row(i)),
                            3 => cols_block::<3, N>(o.at_row(i)),
                            2 => cols_block::<2, N>(o.at_row(i)),
                            _ => cols_block::<1, N>(o.at_row(i)),
                        }
                    }
                    i += rows;
                }
                // SAFETY: as above, for the last m - i < 4 rows.
                unsafe {
                    match m - i {
                        0 => {}
                        1 => cols_block::<1, N>(o.at_row(i)),
                        2 => cols_block::<2, N>(o.at_row(i)),
                        _ => cols_block::<3, N>(o.at_row(i)),
                    }
                }
            }

            /// One R×N block of C: R·N dot products of length k.
            ///
            /// # Safety
            /// As for [`rows`], for the block's R rows and N columns.
            #[target_feature(enable = $feat)]
            #[allow(clippy::needless_range_loop)]
            unsafe fn cols_block<const R: usize, const N: usize>(o: Operands) {
                let (a, b, k) = (o.a, o.b, o.k);
                let mut acc = [[$zero(); N]; R];
                let mut p = 0;
                while p < k {
                    let mk = mask(k - p);
                    let mut bv = [$zero(); N];
                    for j in 0..N {
                        // SAFETY: lanes under the mask are B(p.., j), p < k.
                        bv[j] = unsafe { $loadz(mk, b.add(j * o.cs_b + p)) };
                    }
                    for r in 0..R {
                        // The same columns of the next block's rows: a hint only (a
                        // prefetch never faults), so the address may lie past the end.
                        _mm_prefetch::<_MM_HINT_T0>(
                            a.wrapping_add((r + R) * o.rs_a + p).cast::<i8>(),
                        );
                        // SAFETY: lanes under the mask are A(r, p..), p < k.
                        let av = unsafe { $loadz(mk, a.add(r * o.rs_a + p)) };
                        for j in 0..N {
                            acc[r][j] = $fma(av, bv[j], acc[r][j]);
                        }
                    }
                    p += L;
                }
                for r in 0..R {
                    for j in 0..N {
                        // SAFETY: C(r, j), r < R rows of this block, j < n.
                        unsafe {
                            let cp = o.c.add(r * o.rs_c + j);
                            let s = o.alpha * $reduce(acc[r][j]);
                            *cp = if o.beta == 0.0 { s } else { s + o.beta * *cp };
                        }
                    }
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
skinny_loops! {
    mod f32x(f32, lanes = 16, mask = u16, feature = "avx512f");
    row_block_vectors = [4, 4, 4, 4],
    column_block_rows = [4, 4, 4, 4],
    zero = _mm512_setzero_ps,
    loadz = _mm512_maskz_loadu_ps,
    store = _mm512_mask_storeu_ps,
    splat = _mm512_set1_ps,
    fma = _mm512_fmadd_ps,
    mul = _mm512_mul_ps,
    reduce = _mm512_reduce_add_ps,
}

#[cfg(target_arch = "x86_64")]
skinny_loops! {
    mod f64x(f64, lanes = 8, mask = u8, feature = "avx512f");
    row_block_vectors = [4, 4, 4, 4],
    column_block_rows = [4, 4, 4, 4],
    zero = _mm512_setzero_pd,
    loadz = _mm512_maskz_loadu_pd,
    store = _mm512_mask_storeu_pd,
    splat = _mm512_set1_pd,
    fma = _mm512_fmadd_pd,
    mul = _mm512_mul_pd,
    reduce = _mm512_reduce_add_pd,
}

// AVX2 has 16 vector registers: a block holds R·NV (or R·N) accumulators, NV (or N)
// vectors of B and one broadcast, so R = 3, 4 take fewer vectors, N = 3, 4 fewer rows.
#[cfg(target_arch = "x86_64")]
skinny_loops! {
    mod f32y(f32, lanes = 8, mask = u8, feature = "avx2,fma");
    row_block_vectors = [4, 4, 3, 2],
    column_block_rows = [4, 4, 3, 2],
    zero = _mm256_setzero_ps,
    loadz = crate::gemm::avx2_masked::loadz_ps,
    store = crate::gemm::avx2_masked::store_ps,
    splat = _mm256_set1_ps,
    fma = _mm256_fmadd_ps,
    mul = _mm256_mul_ps,
    reduce = crate::gemm::avx2_masked::sum_ps,
}

#[cfg(target_arch = "x86_64")]
skinny_loops! {
    mod f64y(f64, lanes = 4, mask = u8, feature = "avx2,fma");
    row_block_vectors = [4, 4, 3, 2],
    column_block_rows = [4, 4, 3, 2],
    zero = _mm256_setzero_pd,
    loadz = crate::gemm::avx2_masked::loadz_pd,
    store = crate::gemm::avx2_masked::store_pd,
    splat = _mm256_set1_pd,
    fma = _mm256_fmadd_pd,
    mul = _mm256_mul_pd,
    reduce = crate::gemm::avx2_masked::sum_pd,
}
