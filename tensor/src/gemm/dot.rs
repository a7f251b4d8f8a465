//! Narrow products on AVX-512, and `f32` ones on AVX2 (5 to 24 columns, a long inner
//! dimension), as register-blocked dot products.
//!
//! The MNIST homework's 20-unit layers issue `100×784 · 784×20` products, forward
//! (`X·Wᵀ`, W of 20×784 row-major) and backward (`dY·W`, W2 of 784×20), and its linear
//! probe `200×784 · 784×10`. The blocked driver vectorises along C's columns with tiles
//! 16 or 32 wide (f32), so n = 20 computes 32 columns and n = 10 computes 16 (37.5 % of
//! its FMAs on padding either way), and it reached 45–60 % of one core's FMA peak on them.
//! Here the vectors run along k instead, so nothing is padded but the last, masked step:
//!
//! - every element of C is a dot product of a row of A and a column of B, both
//!   contiguous (`A·Wᵀ`: B's columns are W's rows, read in place; `A·W`: B is first
//!   copied transposed into a 64-byte-aligned scratch buffer, n·k elements, with the
//!   in-register transposes of `transpose.rs`; at 100×784·784×20 the copied layout ran
//!   about as fast as the in-place one);
//! - a block of R rows × W columns of C is R·W vector accumulators (`accumulate`): each
//!   step of k loads R vectors of A and W of B for R·W FMAs. Tiles of 6×4 and 4×6 (24
//!   accumulators, 29 and 31 of the 32 registers with the loaded vectors) are chosen per
//!   n by fewest loads per FMA (`tiles`): n = 20 is 6 rows × 5 groups of 4, n = 10 is 4
//!   rows × 2 groups of 5, n = 6 one 4×6 block. Measured, f32 `100×784·784×n`: n = 20
//!   78 % of the peak with 6×4 against 71 with 4×5, n = 10 70 against 79, n = 6 68
//!   (3+3) against 85; 8×3 and 7×3 were slower everywhere;
//! - the R·W accumulators are summed across their lanes W at a time, by transposing
//!   shuffles (`hsum8_f32`: eight vectors in 24 instructions, where eight separate
//!   reductions take about 64), and each row of the block leaves in one masked store.
//!   Summing the whole block's 24 accumulators at once (sixteen vectors in 45
//!   instructions, plus a two-vector permute per row) measured slower: f32
//!   `100×784·784×20` 74 % against 78, `100×100·100×20` (below the k rule) 38 against
//!   43, the driver 51;
//! - for each R-row block the column groups run left to right, so the block's rows of A
//!   stay in L1 while B streams from L2. If R + W = 10 lines of k do not fit in two
//!   thirds of L1 (f64 from k = 409 on Zen 5), k is cut into balanced slices
//!   (`depth_slice`) and each slice's sums are added to C.
//!
//! Every element's sum is thus a different association of the same products than the
//! driver's (lane-wise partial sums, then a tree across lanes; per slice), so the results
//! differ from the other paths by rounding only.
//!
//! ## AVX2
//!
//! The same loops are compiled for AVX2 (8 `f32` lanes, `f32y`), with tiles for its 16
//! registers: 4 rows and groups of at most 3 columns (`tiles_avx2`: 12 accumulators, 3
//! vectors of B, one of A), the sums across lanes by `hsum8_f32_avx2`, B copied with
//! `transpose_avx2.rs`, and the same rule (measured on AVX-512; the AVX2 tiles pad C's
//! width to 16 lanes as AVX-512's narrow tile does). Not for `f64`: its 4 lanes would
//! not hold the sums of a group of 5 or 6 columns in one store. Measured on Zen 5 with the
//! AVX2 kernels forced (one thread, best of 15, on-CPU time, these loops against the
//! driver and its last-columns loop, twice each): f32 `100×784·784×20` `A·W` 86–90 →
//! 124–126 GFLOP/s (the AVX2 peak is 143), `A·Wᵀ` 115–120 → 131, `200×784·784×10` 74–76
//! → 127–128, `100×100·100×5` 38 → 89, `100×784·784×6` 51–52 → 132; `1000×784·784×20`
//! 124–129 against 123–125 (a tie). The MNIST run on the AVX2 kernels: 3.12–3.23 →
//! 3.04–3.11 CPU-seconds (four alternating runs each); the sweep did not move.
//!
//! ## The rule (`takes`, `try_run`)
//!
//! Measured on the shared 2-core AMD EPYC Zen 5 guest (AVX-512F, L1d 48 KiB, L2 1 MiB,
//! 16 MiB L3 per core), one thread (`taskset -c 1`, on-CPU time, best of 9 samples, runs
//! interleaved), in % of the measured FMA peak, driver → these loops:
//!
//! - f32 `100×784·784×20` `A·Wᵀ` 60 → 75–85, `A·W` 60 → 75, `1000×784·784×20` 65 → 73,
//!   `200×784·784×10` 46 → 76, n = 6 25 → 85, n = 9 37 → 73, n = 24 62 → 75, and few rows
//!   (the driver reads 14-row tiles): `4×784·784×20` 8 → 76;
//! - k (`min_k_vectors`): the sums across lanes cost about as much as 4 FMAs per element
//!   of C, which short dot products do not amortise — unless the driver pads C's width
//!   much more. At n = 20 (f32 16+16 lanes, 63 % used) `100×k·k×20` was a tie at k = 128
//!   (54 / 55), 56 → 64 at 192, 56 → 68 at 256; so from 12 vectors (f32 192, f64 96:
//!   `100×96·96×20` 61 → 68). Narrower C leaves the driver's 16 lanes mostly empty, and
//!   these loops win from fewer vectors. Measured here (one thread, best of 9, the two
//!   paths back to back), f32 `100×k·k×n` `A·Wᵀ`, driver → these loops: n = 5 at k = 32
//!   (2 vectors) 35 → 54 GFLOP/s, at k = 100 54 → 111; n = 7 at 48 (3 vectors) 56 → 78;
//!   n = 8 at 64 (4 vectors) 77 → 107; n = 10 at 128 (8 vectors) 111 → 164, where at 64
//!   `A·Wᵀ` still gained (93 → 107) but `A·W` (B copied) lost (96 → 87); n = 12 at 128
//!   with `A·W` 137 → 130, so 12 vectors from n = 11 on. f64 agrees: n = 5 at k = 16 (2
//!   vectors) 17 → 25, n = 8 at 32 38 → 46, n = 10 at 64 with `A·W` 55 → 71. The
//!   homework's latent-5 products (`100×100·100×5`, both layouts) run about twice as fast
//!   alone; the MNIST products with k = 20, 96 or 100 and n ≥ 10 stay on the driver;
//! - n: from 5 (fewer go to `skinny.rs`) to 24 (6 groups of 4), except the widths the
//!   driver's tiles cover without padding (f32 16; f64 16 and 24, its tile being 8×24):
//!   f64 n = 24 82 against 77 here, n = 16 77 against 75;
//! - an A larger than half this core's L3 share streams from memory and stays on the
//!   driver: f32 `10000×784·784×20` (31 MB) 55 on the driver, 52 here even with A's next
//!   rows prefetched (48 without); `5000×784·784×16` 73 against 64 (prefetching);
//! - f64 with k sliced: `100×784·784×20` 65 → 75 (67 unsliced), `200×784·784×10` 55 → 66;
//!   `1000×784·784×20` stays within noise (75 driver, 73 here).
//!
//! The layouts: `A·Wᵀ` and `A·W` (A's rows contiguous; B's columns or rows). With A
//! transposed (`Xᵀ·dY`, A's columns contiguous) every dot product would gather; those go
//! to the driver.
//!
//! Threads: products large enough for a second thread by the driver's measured threshold
//! (`threading::thread_count`) are split into ranges of whole row blocks, four per
//! thread, which the threads claim from a shared counter (`split_rows`); the transposed
//! copy of B is made once, before the split, and shared.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::dispatch::{Elem, Kernel};
use super::skinny::MAX_SKINNY;
#[cfg(target_arch = "x86_64")]
use super::{cache, dispatch, pack, threading};
use super::{MatMut, MatRef};

/// Fewest columns of C this path takes (fewer go to `skinny`'s few-columns loop).
pub(crate) const MIN_COLS: usize = MAX_SKINNY + 1;

/// Most columns of C this path takes (see the module docs).
pub(crate) const MAX_COLS: usize = 24;

/// Shortest inner dimension this path takes for C's widest widths, in vectors (192
/// `f32`, 96 `f64`); also the shortest slice of k (`depth_slice`).
pub(crate) const MIN_K_VECTORS: usize = 12;

/// Shortest inner dimension this path takes for an n-column C, in vectors: below it the
/// sums across lanes cost more than the driver's padding of C's width to 16 lanes (see
/// the module docs).
pub(crate) fn min_k_vectors(n: usize) -> usize {
    match n {
        ..=6 => 2,
        7 => 3,
        8 => 4,
        9 | 10 => 8,
        _ => MIN_K_VECTORS,
    }
}

/// Test hook: when false, these products take the other paths.
pub(crate) static ENABLED: AtomicBool = AtomicBool::new(true);

/// Test hook: how many products this path computed.
pub(crate) static RUNS: AtomicUsize = AtomicUsize::new(0);

// ANCHOR: dot_rule
/// Whether an `m×k · k×n` product of `E` takes this path (layout and CPU permitting).
pub(crate) fn takes<E>(n: usize, k: usize) -> bool {
    let lanes = 64 / size_of::<E>();
    (MIN_COLS..=MAX_COLS).contains(&n) && k >= min_k_vectors(n) * lanes
}
// ANCHOR_END: dot_rule

/// The tiles for n columns: `(rows, groups)` — C is computed `rows` rows at a time, and
/// its columns in `groups` groups of balanced widths (`n / groups` or one more), each a
/// `rows × width` block of dot products. Either 6 rows and groups of at most 4 columns,
/// or 4 rows and groups of at most 6 (24 accumulators both): whichever loads fewer
/// vectors per multiply-add (`rows + width` loads feed `rows · width` FMAs), the 6-row
/// tile on a tie and from 17 columns on: there B no longer fits in L1 beside the rows of
/// A, and the taller tile, which reads it once per 6 rows instead of 4, measured faster
/// although it loads a little more (f32 `100×784·784×18`: 73 % of the peak against 70,
/// n = 22: 75 against 74).
#[cfg(target_arch = "x86_64")]
fn tiles(n: usize) -> (usize, usize) {
    let (g6, g4) = (n.div_ceil(4), n.div_ceil(6));
    // Loads per multiply-add, (6·g6 + n) / 6n against (4·g4 + n) / 4n, cross-multiplied.
    if n > 16 || (6 * g6 + n) * 4 <= (4 * g4 + n) * 6 {
        (6, g6)
    } else {
        (4, g4)
    }
}

/// The tiles for n columns on AVX2 (16 registers): 4 rows and groups of at most 3
/// columns (12 accumulators, 3 vectors of B, one of A).
#[cfg(target_arch = "x86_64")]
fn tiles_avx2(n: usize) -> (usize, usize) {
    (4, n.div_ceil(3))
}

/// The depth of the slices of k the loops take one after the other: all of k, unless the
/// rows of A and the columns of B that one block reads (10 of them, see `tiles`) would
/// take more than two thirds of the L1 cache; then k is cut into balanced slices of whole
/// vectors that fit (f32 on Zen 5's 48 KiB: up to 816, so k = 784 is one slice; f64:
/// up to 408, so 2 × 392), each slice's sums added to C (see the module docs).
#[cfg(target_arch = "x86_64")]
fn depth_slice<E>(k: usize, l1d: usize) -> usize {
    let lanes = 64 / size_of::<E>();
    let max = (l1d * 2 / 3 / (10 * size_of::<E>()) / lanes * lanes).max(MIN_K_VECTORS * lanes);
    k.div_ceil(k.div_ceil(max)).next_multiple_of(lanes)
}

/// Computes the product with the dot-product loops and returns `true`, or returns `false`
/// (touching nothing) when the shape, layout or CPU does not suit them.
pub(crate) fn try_run<E: Elem>(
    kernel: Kernel,
    alpha: E,
    a: MatRef<'_, E>,
    b: MatRef<'_, E>,
    beta: E,
    c: &mut MatMut<'_, E>,
) -> bool {
    if !ENABLED.load(Ordering::Relaxed) || !takes::<E>(b.cols, a.cols) {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let (m, n, k) = (a.rows, b.cols, a.cols);
        let avx512 = kernel.runs_avx512();
        let avx2 = kernel.runs_avx2() && E::DTYPE == crate::DType::F32;
        if !(avx512 || avx2) || a.col_stride != 1 {
            return false;
        }
        // `nt`: B's columns are contiguous (B = Wᵀ, W row-major) and are read in place;
        // `nn`: B's rows are, and B is first copied transposed (n×k, small).
        let in_place = b.row_stride == 1;
        if !in_place && b.col_stride != 1 {
            return false;
        }
        // Widths the blocked driver's tiles cover without padding: it measured as fast
        // or faster there (see the module docs).
        let spec = dispatch::spec::<E>(kernel);
        if n % spec.nr == 0 || spec.ukr_narrow.is_some_and(|(w, _)| n % spec.nr == w) {
            return false;
        }
        // An A larger than half this core's share of the L3 cache streams from memory,
        // where the blocked driver measured as fast or faster (see the module docs).
        let caches = cache::cache_sizes();
        let l3_half = caches.l3 / caches.l3_sharing.max(1) / 2;
        if m.saturating_mul(k).saturating_mul(size_of::<E>()) > l3_half {
            return false;
        }
        RUNS.fetch_add(1, Ordering::Relaxed);
        let (rows, groups) = if avx512 { tiles(n) } else { tiles_avx2(n) };
        let kc = depth_slice::<E>(k, caches.l1d);
        let fmas = m.saturating_mul(n).saturating_mul(k);
        let threads = threading::thread_count(spec, fmas, m.div_ceil(rows));
        let lanes = 64 / size_of::<E>();
        pack::with_buffers(|bufs| {
            // B's column j starts at `pb + j·ld_b`, its k elements contiguous.
            let (pb, ld_b) = if in_place {
                (b.data.as_ptr(), b.col_stride)
            } else {
                // Columns padded to whole vectors, so that each starts 64-byte aligned.
                let ld = k.next_multiple_of(lanes);
                let bt = bufs.b.get::<E>(n * ld);
                // `bt[j·ld + p] = B(p, j)`, zeros in `k .. ld`: the transposing pack with
                // the k rows of B as its lines and the n columns as its steps, in the
                // vector copy of the kernel in use.
                pack::pack_transposed(b.data, 0, b.row_stride, k, ld, n, bt);
                (bt.as_ptr(), ld)
            };
            let pa = a.data.as_ptr();
            let pc = c.data.as_mut_ptr();
            // One call for either element type: `$T` and the module of its loops.
            macro_rules! call {
                ($T:ty, $loops:ident) => {{
                    let o = $loops::Operands {
                        k,
                        alpha: bytemuck::cast(alpha),
                        beta: bytemuck::cast(beta),
                        a: pa.cast::<$T>(),
                        rs_a: a.row_stride,
                        b: pb.cast::<$T>(),
                        ld_b,
                        c: pc.cast::<$T>(),
                        rs_c: c.row_stride,
                        rows,
                        groups,
                    };
                    split_rows(m, rows, threads, |i, r| {
                        // SAFETY: the loops' ISA checked above; A(i, p), B(p, j), C(i, j) for
                        // i < m, p < k, j < n lie in the validated views (B's possibly in
                        // the packed copy, n columns of `ld_b ≥ k`), C exclusively
                        // borrowed, and the row ranges given to the threads are disjoint.
                        unsafe { $loops::run(r, n, kc, o.at_row(i)) }
                    });
                }};
            }
            match (E::DTYPE, avx512) {
                (crate::DType::F32, true) => call!(f32, f32x),
                (crate::DType::F64, true) => call!(f64, f64x),
                (crate::DType::F32, false) => call!(f32, f32y),
                (crate::DType::F64, false) => unreachable!("AVX2 runs f32 only"),
            }
        });
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (kernel, alpha, a, b, beta, c);
        false
    }
}

/// Calls `f(i, rows)` on ranges of rows that cover `0..m` once, on `threads` threads: in
/// whole tiles of `step` rows, four ranges per thread claimed from a shared counter (so a
/// thread that starts late takes fewer), the calling thread among them.
#[cfg(target_arch = "x86_64")]
fn split_rows(m: usize, step: usize, threads: usize, f: impl Fn(usize, usize) + Sync) {
    if threads <= 1 {
        f(0, m);
        return;
    }
    let tiles = m.div_ceil(step);
    let parts = (4 * threads).min(tiles);
    threading::claim_parts(parts, threads, |t| {
        let (lo, hi) = threading::part_bounds(t, parts, tiles, step, m);
        f(lo, hi - lo);
    });
}

/// `match (r, w) { (R, W) => block::<R, W>(o), … }` over the listed R and W.
#[cfg(target_arch = "x86_64")]
macro_rules! dot_arms {
    ($r:expr, $w:expr, $o:expr; [$($rr:literal),*]; $ws:tt) => {
        match $r {
            $($rr => dot_arms!(@cols $rr, $w, $o; $ws),)*
            _ => unreachable!("at most 6 rows per tile"),
        }
    };
    (@cols $rr:literal, $w:expr, $o:expr; [$($ww:literal),*]) => {
        match $w {
            $($ww => block::<$rr, $ww>($o),)*
            _ => unreachable!("2 to 6 columns per group"),
        }
    };
}

/// The loops for one element type: `$E` in vectors `$V` of `$L` lanes, mask type `$M`,
/// its intrinsics, and `$hsum` (sums across lanes of up to 8 vectors at once).
#[cfg(target_arch = "x86_64")]
macro_rules! dot_loops {
    (
        mod $mod:ident($E:ty, $V:ty, lanes = $L:literal, mask = $M:ty, feature = $feat:literal);
        zero = $zero:path,
        loadu = $loadu:path,
        loadz = $loadz:path,
        store = $store:path,
        splat = $splat:path,
        fma = $fma:path,
        add = $add:path,
        mul = $mul:path,
        hsum = $hsum:path $(,)?
    ) => {
        mod $mod {
            use std::arch::x86_64::*;

            const L: usize = $L;

            /// One product as the loops read it: `A(i, p) = a[i·rs_a + p]`, `B(p, j) =
            /// b[j·ld_b + p]`, `C(i, j) = c[i·rs_c + j]`, depth `k`, `C = alpha·A·B +
            /// beta·C`; tiles of `rows` rows and `groups` column groups (see `tiles`).
            #[derive(Clone, Copy)]
            pub(super) struct Operands {
                pub k: usize,
                pub alpha: $E,
                pub beta: $E,
                pub a: *const $E,
                pub rs_a: usize,
                pub b: *const $E,
                pub ld_b: usize,
                pub c: *mut $E,
                pub rs_c: usize,
                pub rows: usize,
                pub groups: usize,
            }

            // SAFETY: the pointers address A and B, only read, and C, of which each
            // thread writes only its own rows (`split_rows` hands out disjoint ranges).
            unsafe impl Sync for Operands {}

            impl Operands {
                /// The product over depth `p .. p + len` only, accumulated into C with
                /// `beta` unless it is not the first slice (then onto the C of the others).
                fn slice(self, p: usize, len: usize) -> Self {
                    Operands {
                        k: len,
                        a: self.a.wrapping_add(p),
                        b: self.b.wrapping_add(p),
                        beta: if p == 0 { self.beta } else { 1.0 },
                        ..self
                    }
                }

                /// The same product from row `i` of A and C on.
                pub(super) fn at_row(self, i: usize) -> Self {
                    Operands {
                        a: self.a.wrapping_add(i * self.rs_a),
                        c: self.c.wrapping_add(i * self.rs_c),
                        ..self
                    }
                }

                /// The same product from column `j` of B and C on.
                fn at_col(self, j: usize) -> Self {
                    Operands {
                        b: self.b.wrapping_add(j * self.ld_b),
                        c: self.c.wrapping_add(j),
                        ..self
                    }
                }
            }

            /// The m×n product, slice by slice of k (`kc` deep, see `depth_slice`), and
            /// in each tile by tile: for each `rows`-row block of C, the column groups
            /// left to right (the block's rows of A stay in L1 across them).
            ///
            /// # Safety
            /// The CPU runs `$feat`; every A(i, p), B(p, j), C(i, j) (i < m, p < k,
            /// j < n) addresses a valid element, C's exclusively; 2 ≤ n / groups and
            /// n / groups + 1 ≤ 6; `kc > 0`.
            #[target_feature(enable = $feat)]
            pub(super) unsafe fn run(m: usize, n: usize, kc: usize, o: Operands) {
                let mut p = 0;
                while p < o.k {
                    let len = kc.min(o.k - p);
                    // SAFETY: forwarded from the caller, for depth p .. p + len ≤ k.
                    unsafe { run_slice(m, n, o.slice(p, len)) };
                    p += len;
                }
            }

            #[target_feature(enable = $feat)]
            unsafe fn run_slice(m: usize, n: usize, o: Operands) {
                let (q, wider) = (n / o.groups, n % o.groups);
                let mut i = 0;
                while i < m {
                    let r = (m - i).min(o.rows);
                    let mut j = 0;
                    for g in 0..o.groups {
                        let w = q + usize::from(g < wider);
                        // SAFETY: rows i .. i + r and columns j .. j + w are inside the
                        // views; r ≤ 6 and 2 ≤ w ≤ 6 (see `tiles`).
                        unsafe {
                            dot_arms!(r, w, o.at_row(i).at_col(j);
                                [1, 2, 3, 4, 5, 6]; [2, 3, 4, 5, 6])
                        }
                        j += w;
                    }
                    i += r;
                }
            }

            /// One R×W block of C: the R·W dot products, summed across their lanes, W
            /// at a time (one row of the block), and stored with a masked store.
            #[target_feature(enable = $feat)]
            unsafe fn block<const R: usize, const W: usize>(o: Operands) {
                // SAFETY: forwarded from the caller.
                let acc = unsafe { accumulate::<R, W>(o) };
                let keep = ((1u32 << W) - 1) as $M;
                let va = $splat(o.alpha);
                for (r, acc) in acc.iter().enumerate() {
                    let v: [$V; 8] = std::array::from_fn(|j| if j < W { acc[j] } else { $zero() });
                    let s = $mul(va, $hsum(v));
                    // SAFETY: lanes under the mask are C(r, j), r < R rows of this block,
                    // j < W columns of this group.
                    unsafe {
                        let cp = o.c.add(r * o.rs_c);
                        let x = if o.beta == 0.0 {
                            s
                        } else {
                            $add(s, $mul($splat(o.beta), $loadz(keep, cp)))
                        };
                        $store(cp, keep, x);
                    }
                }
            }

            /// The R×W accumulators of one block over all of k: each step loads W
            /// vectors of B's columns and R of A's rows and issues R·W FMAs; the last
            /// step is masked when k is not a multiple of L.
            ///
            /// Kept out of line: inlined into `block`, whose sums across lanes need many
            /// registers at once, LLVM spilled accumulators out of the loop and shuffled
            /// the others between registers on every step (f32 100×784·784×20 at about
            /// half the speed).
            #[target_feature(enable = $feat)]
            #[inline(never)]
            #[allow(clippy::needless_range_loop)]
            unsafe fn accumulate<const R: usize, const W: usize>(
                o: Operands,
            ) -> [[$V; W]; R] {
                let (a, b, k) = (o.a, o.b, o.k);
                let mut acc = [[$zero(); W]; R];
                let full = k - k % L;
                let mut p = 0;
                while p < full {
                    let mut bv = [$zero(); W];
                    for j in 0..W {
                        // SAFETY: B(p .. p + L, j), p + L ≤ k.
                        bv[j] = unsafe { $loadu(b.add(j * o.ld_b + p)) };
                    }
                    for r in 0..R {
                        // SAFETY: A(r, p .. p + L), r < R rows of the block, p + L ≤ k.
                        let av = unsafe { $loadu(a.add(r * o.rs_a + p)) };
                        for j in 0..W {
                            acc[r][j] = $fma(av, bv[j], acc[r][j]);
                        }
                    }
                    p += L;
                }
                if p < k {
                    let mk = ((1u32 << (k - p)) - 1) as $M;
                    let mut bv = [$zero(); W];
                    for j in 0..W {
                        // SAFETY: lanes under the mask are B(p .., j), p < k.
                        bv[j] = unsafe { $loadz(mk, b.add(j * o.ld_b + p)) };
                    }
                    for r in 0..R {
                        // SAFETY: lanes under the mask are A(r, p ..), p < k.
                        let av = unsafe { $loadz(mk, a.add(r * o.rs_a + p)) };
                        for j in 0..W {
                            acc[r][j] = $fma(av, bv[j], acc[r][j]);
                        }
                    }
                }
                acc
            }
        }
    };
}

/// Lane j of the result (j < 8) is the sum of the 16 lanes of `v[j]` (lanes 8.. are
/// unspecified): eight vectors summed across their lanes together, by three rounds of
/// transposing shuffles and adds, in 24 instructions (a separate sum per vector,
/// `_mm512_reduce_add_ps`, takes 8 each).
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f")]
fn hsum8_f32(v: [std::arch::x86_64::__m512; 8]) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::*;
    // Two vectors x, y → one whose 128-bit chunks are [x0 + x2, x1 + x3, y0 + y2, y1 + y3]
    // (chunks of x and y numbered 0..4).
    let pair = |x: __m512, y: __m512| {
        _mm512_add_ps(
            _mm512_shuffle_f32x4::<0x44>(x, y),
            _mm512_shuffle_f32x4::<0xEE>(x, y),
        )
    };
    // Two of those → one whose chunk q holds four partial sums of vector q of the four.
    let quad = |x: __m512, y: __m512| {
        _mm512_add_ps(
            _mm512_shuffle_f32x4::<0x88>(x, y),
            _mm512_shuffle_f32x4::<0xDD>(x, y),
        )
    };
    let t0 = quad(pair(v[0], v[1]), pair(v[2], v[3]));
    let t1 = quad(pair(v[4], v[5]), pair(v[6], v[7]));
    // Chunk q: [v[q] partial, v[q + 4] partial, v[q] partial, v[q + 4] partial] …
    let u = _mm512_add_ps(_mm512_unpacklo_ps(t0, t1), _mm512_unpackhi_ps(t0, t1));
    // … then the full sums: chunk q is [Σ v[q], Σ v[q + 4], Σ v[q], Σ v[q + 4]].
    let w = _mm512_add_ps(u, _mm512_permute_ps::<0x4E>(u));
    let idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0);
    _mm512_permutexvar_ps(idx, w)
}

/// As [`hsum8_f32`] for f64: lane j is the sum of the 8 lanes of `v[j]` (22 instructions).
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f")]
fn hsum8_f64(v: [std::arch::x86_64::__m512d; 8]) -> std::arch::x86_64::__m512d {
    use std::arch::x86_64::*;
    let pair = |x: __m512d, y: __m512d| {
        _mm512_add_pd(
            _mm512_shuffle_f64x2::<0x44>(x, y),
            _mm512_shuffle_f64x2::<0xEE>(x, y),
        )
    };
    let quad = |x: __m512d, y: __m512d| {
        _mm512_add_pd(
            _mm512_shuffle_f64x2::<0x88>(x, y),
            _mm512_shuffle_f64x2::<0xDD>(x, y),
        )
    };
    let t0 = quad(pair(v[0], v[1]), pair(v[2], v[3]));
    let t1 = quad(pair(v[4], v[5]), pair(v[6], v[7]));
    // Chunk q (two lanes): [Σ v[q], Σ v[q + 4]].
    let u = _mm512_add_pd(_mm512_unpacklo_pd(t0, t1), _mm512_unpackhi_pd(t0, t1));
    let idx = _mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7);
    _mm512_permutexvar_pd(idx, u)
}

/// As [`hsum8_f32`] on AVX2: lane j of the result is the sum of the 8 lanes of `v[j]`
/// (three rounds of pairwise adds, then the two halves: 8 instructions).
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
fn hsum8_f32_avx2(v: [std::arch::x86_64::__m256; 8]) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    // u0, 128-bit half h: [Σ v[0] over half h's four lanes, the same for v[1], v[2],
    // v[3]]; u1 the same for v[4..8].
    let u0 = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
    let u1 = _mm256_hadd_ps(_mm256_hadd_ps(v[4], v[5]), _mm256_hadd_ps(v[6], v[7]));
    _mm256_add_ps(
        _mm256_permute2f128_ps::<0x20>(u0, u1),
        _mm256_permute2f128_ps::<0x31>(u0, u1),
    )
}

#[cfg(target_arch = "x86_64")]
dot_loops! {
    mod f32x(f32, __m512, lanes = 16, mask = u16, feature = "avx512f");
    zero = _mm512_setzero_ps,
    loadu = _mm512_loadu_ps,
    loadz = _mm512_maskz_loadu_ps,
    store = _mm512_mask_storeu_ps,
    splat = _mm512_set1_ps,
    fma = _mm512_fmadd_ps,
    add = _mm512_add_ps,
    mul = _mm512_mul_ps,
    hsum = super::hsum8_f32,
}

#[cfg(target_arch = "x86_64")]
dot_loops! {
    mod f64x(f64, __m512d, lanes = 8, mask = u8, feature = "avx512f");
    zero = _mm512_setzero_pd,
    loadu = _mm512_loadu_pd,
    loadz = _mm512_maskz_loadu_pd,
    store = _mm512_mask_storeu_pd,
    splat = _mm512_set1_pd,
    fma = _mm512_fmadd_pd,
    add = _mm512_add_pd,
    mul = _mm512_mul_pd,
    hsum = super::hsum8_f64,
}

// AVX2, f32 only: a block's W sums leave in one store of 8 lanes (f64 has 4, fewer than
// the widest group), and the homework's products are f32.
#[cfg(target_arch = "x86_64")]
dot_loops! {
    mod f32y(f32, __m256, lanes = 8, mask = u8, feature = "avx2,fma");
    zero = _mm256_setzero_ps,
    loadu = _mm256_loadu_ps,
    loadz = crate::gemm::avx2_masked::loadz_ps,
    store = crate::gemm::avx2_masked::store_ps,
    splat = _mm256_set1_ps,
    fma = _mm256_fmadd_ps,
    add = _mm256_add_ps,
    mul = _mm256_mul_ps,
    hsum = super::hsum8_f32_avx2,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrower_products_take_these_loops_from_a_shorter_depth() {
        // (n, shortest k in f32; f64 takes half as many elements, the same vectors).
        for (n, k) in [
            (5, 32),
            (6, 32),
            (7, 48),
            (8, 64),
            (9, 128),
            (10, 128),
            (11, 192),
        ] {
            assert!(takes::<f32>(n, k) && !takes::<f32>(n, k - 1), "f32 n = {n}");
            assert!(
                takes::<f64>(n, k / 2) && !takes::<f64>(n, k / 2 - 1),
                "f64 n = {n}"
            );
        }
        for n in 11..=MAX_COLS {
            assert_eq!(min_k_vectors(n), MIN_K_VECTORS, "n = {n}");
        }
        assert!(!takes::<f32>(MIN_COLS - 1, 4096) && !takes::<f32>(MAX_COLS + 1, 4096));
    }
}
