//! The blocked GEMM driver: the five loops around the micro-kernel (Goto & van de Geijn,
//! "Anatomy of High-Performance Matrix Multiplication", 2008; BLIS, Van Zee & van de
//! Geijn 2015).
//!
//! ```text
//! for jc in 0..n step NC          loop 5: an NC-wide column block of B and C   (B block in L3)
//!   for pc in 0..k step KC        loop 4: a KC-deep slice; pack B[pc.., jc..] → Bp
//!     for ic in 0..m step MC      loop 3: an MC-tall row block; pack A[ic.., pc..] → Ap (L2)
//!       for jr in 0..NC step NR   loop 2: one KC×NR micro-panel of Bp                (L1)
//!         for ir in 0..MC step MR loop 1: one MR×KC micro-panel of Ap → micro-kernel (registers)
//! ```
//!
//! The first KC slice applies the caller's `beta`; later slices accumulate (`beta = 1`).
//!
//! Packing is skipped where it cannot pay for itself (see `choose_modes`): an operand that
//! is small, or reused by few micro-panels of the other (A when n is narrow, B when m is
//! short), is read in place through its strides, and only its partial edge panel is
//! packed (zero-padded) so that the micro-kernel still never sees a ragged panel. Edge
//! tiles of C are computed into a small thread-local tile and merged (`merge_edge`).
//!
//! A product whose n pads the tiles badly may be computed transposed, `Cᵀ = op(B)ᵀ·op(A)ᵀ`,
//! when a cost model says it pays (`dispatch::orientation`): the same loops then run on a
//! transposed view of C, and every tile is merged through the scratch tile
//! (`merge_transposed`), since C's columns are not contiguous.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::cache::Blocking;
use super::dispatch::{self, Elem, Spec};
use super::kernels::MAX_TILE;
use super::{dot, pack, skinny, small, threading, MatMut, MatRef};

/// A raw view of (part of) `C` that can be sent to another thread.
///
/// Created from a `MatMut` (so the memory is valid and exclusively borrowed for `'a`);
/// the threading code hands disjoint sub-views to different threads.
///
/// A view may be transposed (`trans`, see [`CView::t`]): its element `(i, j)` is then the
/// caller's `C[j][i]`, so the driver can compute `Cᵀ = op(B)ᵀ·op(A)ᵀ` into a row-major C
/// (see `dispatch::orientation`).
#[derive(Clone, Copy)]
pub(crate) struct CView<'a, E> {
    ptr: *mut E,
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    /// Whether element `(i, j)` is at `ptr + j·rs + i` (instead of `ptr + i·rs + j`).
    pub trans: bool,
    _borrow: PhantomData<&'a mut [E]>,
}

// SAFETY: a `CView` is a pointer into a `&mut [E]` borrowed for `'a`; `E: Send + Sync`.
// Threads only ever receive pairwise disjoint sub-views (see `threading::run`), so no
// element is written by two threads, and nothing else touches C while the borrow lives.
unsafe impl<E: Send> Send for CView<'_, E> {}
// SAFETY: as above; a shared `&CView` allows nothing more than a copied `CView` does.
unsafe impl<E: Send> Sync for CView<'_, E> {}

impl<'a, E> CView<'a, E> {
    pub(crate) fn new(c: MatMut<'a, E>) -> Self {
        CView {
            ptr: c.data.as_mut_ptr(),
            rows: c.rows,
            cols: c.cols,
            rs: c.row_stride,
            trans: false,
            _borrow: PhantomData,
        }
    }

    /// The same memory seen as the transpose (no copy).
    pub(crate) fn t(self) -> Self {
        CView {
            ptr: self.ptr,
            rows: self.cols,
            cols: self.rows,
            rs: self.rs,
            trans: !self.trans,
            _borrow: PhantomData,
        }
    }

    /// The `rows x cols` sub-view at `(r0, c0)`, which must lie inside `self`.
    pub(crate) fn sub(self, r0: usize, rows: usize, c0: usize, cols: usize) -> Self {
        assert!(r0 + rows <= self.rows && c0 + cols <= self.cols);
        CView {
            // `at` uses `wrapping_add`: for an empty sub-view at the bottom edge
            // `r0 * rs` can lie beyond one-past-the-end of C, where `add` would be
            // undefined behaviour; the pointer is only dereferenced for the elements of a
            // non-empty view, which are inside C (asserted above).
            ptr: self.at(r0, c0),
            rows,
            cols,
            rs: self.rs,
            trans: self.trans,
            _borrow: PhantomData,
        }
    }

    /// Pointer to element `(i, j)`; only dereferenced by callers that stay in bounds.
    fn at(&self, i: usize, j: usize) -> *mut E {
        if self.trans {
            self.at_as::<true>(i, j)
        } else {
            self.at_as::<false>(i, j)
        }
    }

    /// `at` for a view known to have `trans == TRANS`.
    #[inline(always)]
    fn at_as<const TRANS: bool>(&self, i: usize, j: usize) -> *mut E {
        let (r, c) = if TRANS { (j, i) } else { (i, j) };
        self.ptr.wrapping_add(r * self.rs + c)
    }
}

// ANCHOR: gemm_typed
/// `C = alpha * A * B + beta * C` for one concrete element type; shapes and bounds have
/// been checked by [`gemm`](super::gemm).
pub(crate) fn gemm_typed<E: Elem>(
    alpha: E,
    a: MatRef<'_, E>,
    b: MatRef<'_, E>,
    beta: E,
    c: MatMut<'_, E>,
) {
    let (m, n, k) = (a.rows, b.cols, a.cols);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 || alpha == E::ZERO {
        scale_c(beta, c);
        return;
    }
    let kernel = dispatch::kernel();
    let mut c = c;
    if small::try_run(kernel, alpha, a, b, beta, &mut c)
        || skinny::try_run(kernel, alpha, a, b, beta, &mut c)
        || dot::try_run(kernel, alpha, a, b, beta, &mut c)
    {
        return;
    }
    // The tile height may depend on m (see `spec_for_rows`), and the product may be
    // computed transposed (see `orientation`); both go through the same CPU check as
    // `spec`.
    let (spec, transposed, edge) = dispatch::orientation::<E>(kernel, &a, &b);
    if transposed {
        TRANSPOSED_RUNS.fetch_add(1, Ordering::Relaxed);
        threading::run(spec, alpha, b.t(), a.t(), beta, CView::new(c).t());
    } else {
        // The last few columns (n = 100 = 3·32 + 4) go to the few-columns loop, after the
        // tiles, onto the same C (see `skinny::edge_columns`).
        let n_tiles = n - edge;
        let (b_tiles, c_tiles) = (b.sub(0, k, 0, n_tiles), c.columns(0, n_tiles));
        threading::run(spec, alpha, a, b_tiles, beta, CView::new(c_tiles));
        if edge > 0 {
            let b_edge = b.sub(0, k, n_tiles, edge);
            let ran = skinny::try_run(
                kernel,
                alpha,
                a,
                b_edge,
                beta,
                &mut c.columns(n_tiles, edge),
            );
            debug_assert!(ran, "edge_columns promised the few-columns loop");
            skinny::EDGE_RUNS.fetch_add(1, Ordering::Relaxed);
        }
    }
}
// ANCHOR_END: gemm_typed

/// Test hook: how many products were computed transposed (see
/// `gemm::testing::transposed_runs`).
pub(crate) static TRANSPOSED_RUNS: AtomicUsize = AtomicUsize::new(0);

/// `C = beta * C`, without reading C when `beta == 0`.
fn scale_c<E: Elem>(beta: E, c: MatMut<'_, E>) {
    for i in 0..c.rows {
        let row = &mut c.data[i * c.row_stride..i * c.row_stride + c.cols];
        if beta == E::ZERO {
            row.fill(E::ZERO);
        } else if beta != E::ONE {
            row.iter_mut().for_each(|x| *x *= beta);
        }
    }
}

/// Products with at most this many multiply-adds read both operands in place (only edge
/// slivers are packed): packing costs about as much per element as a few dozen FMAs, which
/// small products cannot amortise.
pub(crate) const DIRECT_MAX_FMAS: usize = 96 * 96 * 96;

/// A (contiguous along one dimension) is read in place, even when well reused, while its
/// leading dimension spans fewer bytes than this: the kernel's broadcasts then stream
/// through the MC×KC block as well as through a packed copy. At 4 KiB and beyond the rows
/// of a block start colliding in the same L1/L2 sets (measured on Zen 2: in place is ~4 %
/// faster for 512³ f32, ~2 % slower for 1024³ and 2048³).
pub(crate) const DIRECT_A_MAX_LD_BYTES: usize = 4096;

/// B is read in place when the KC rows a micro-panel touches span at most this many bytes:
/// three quarters of L2 (768 KiB on Zen 5), so that the block stays in L2 beside A's.
/// Each panel of rows of A then re-reads its strip of B from L2 instead of a packed copy,
/// which costs less than writing the copy. Measured on Zen 5, one thread, on-CPU time, in
/// % of the FMA peak:
///
/// - at a quarter of L2 (256 KiB, against the earlier 32 KiB), products with k = 100 (an
///   autoencoder's batch as the inner dimension, or a 100-wide layer) went from 82–88 to
///   88–93 (f32 `100×96·96×192`, `96×100·100×192` ᵀ, `100×100·100×500`), 128³ and 256³
///   gained 1–3, and nothing measured lost;
/// - at three quarters (against a quarter; two interleaved rounds, best of 9–11), the
///   MNIST model's layers with k = 784 or 192, whose B spans 602 and 600 KiB: f32
///   `100×784·784×192` 86–90 → 95–97, `100×192·192×784` 86–87 → 90–91, `200×784·784×256`
///   86–88 → 89–90, `400×784·784×192` 90–93 → 93; f64 `100×500·500×192` 81–83 → 90–92,
///   `100×784·784×100` 68–69 → 74; the AVX2 kernels (on the same CPU) f32
///   `100×784·784×192` 87–89 → 94; ties (within 2 points either way) at f32 500³,
///   `1000×784·784×192`, `300×700·700×300`, `1000×1000·1000×200` and `256×1024·1024×256`
///   (1 MiB, packed either way at three quarters).
pub(crate) fn compact_b_bytes() -> usize {
    super::cache::cache_sizes().l2 / 4 * 3
}

/// How one operand reaches the micro-kernel.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Mode {
    /// Packed block by block into the thread's buffer.
    Packed,
    /// Read in place through its strides (full panels); partial edge panels are packed.
    Direct,
}

/// Decides which operands are read in place. An operand is worth packing when the packed
/// copy is reused many times: A is reused by every NR panel of B (⌈n/NR⌉ times), B by
/// every MR panel of A (⌈m/MR⌉ times). B can only be read in place when its rows are
/// contiguous (the kernel loads NR consecutive elements per step); A only when it is
/// contiguous along one dimension (else the broadcasts would gather from all over).
fn choose_modes<E>(
    spec: &Spec<E>,
    kc: usize,
    a: &MatRef<'_, E>,
    b: &MatRef<'_, E>,
) -> (Mode, Mode) {
    let (m, n, k) = (a.rows, b.cols, a.cols);
    let fmas = m.saturating_mul(n).saturating_mul(k);
    let small = fmas <= DIRECT_MAX_FMAS;
    let a_ok = a.col_stride == 1 || a.row_stride == 1;
    let lda = if a.col_stride == 1 {
        a.row_stride
    } else {
        a.col_stride
    };
    let small_a = small || lda.saturating_mul(std::mem::size_of::<E>()) < DIRECT_A_MAX_LD_BYTES;
    let b_ok = b.col_stride == 1;
    let a_mode = if a_ok && (small_a || n.div_ceil(spec.nr) <= 4) {
        Mode::Direct
    } else {
        Mode::Packed
    };
    let compact_b = kc
        .saturating_mul(b.row_stride)
        .saturating_mul(std::mem::size_of::<E>())
        <= compact_b_bytes();
    let b_mode = if b_ok && (small || compact_b || m.div_ceil(spec.mr) <= 2) {
        Mode::Direct
    } else {
        Mode::Packed
    };
    (a_mode, b_mode)
}

/// Whether (A, B) of the whole problem would be packed (rather than read in place); the
/// threading code splits so that a packed operand is not packed again by every thread.
pub(crate) fn packs<E>(spec: &Spec<E>, a: &MatRef<'_, E>, b: &MatRef<'_, E>) -> (bool, bool) {
    packs_with_kc(spec, spec.blocking().kc, a, b)
}

/// `packs` with the spec's KC given (before balancing), for callers that have it.
pub(crate) fn packs_with_kc<E>(
    spec: &Spec<E>,
    kc: usize,
    a: &MatRef<'_, E>,
    b: &MatRef<'_, E>,
) -> (bool, bool) {
    let k = a.cols.max(1);
    let kc = k.div_ceil(k.div_ceil(kc));
    let (am, bm) = choose_modes(spec, kc, a, b);
    (am == Mode::Packed, bm == Mode::Packed)
}

/// The block sizes and operand modes of one product: the spec's KC, MC, NC balanced to
/// the shape, and which operands are packed. The single- and multi-threaded drivers
/// block a product the same way.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    pub kc: usize,
    pub mc: usize,
    pub nc: usize,
    pub a_mode: Mode,
    pub b_mode: Mode,
}

impl Plan {
    pub(crate) fn new<E>(spec: &Spec<E>, a: &MatRef<'_, E>, b: &MatRef<'_, E>) -> Self {
        let (m, n, k) = (a.rows, b.cols, a.cols);
        let Blocking { kc, mc, nc, .. } = spec.blocking();
        let (mr, nr) = (spec.mr, spec.nr);
        debug_assert!(mc % mr == 0 && nc % nr == 0);
        // ANCHOR: balance
        // Balance the KC slices (k = 784 → 2 × 392, not 512 + 272; with KC = 256 it would be
        // 4 × 196, not 3 × 256 + 16): a thin last slice pays a full C-tile load/store for a
        // few FMAs per tile.
        let kc = k.div_ceil(k.div_ceil(kc));
        // Likewise balance the MC and NC blocks, keeping them whole multiples of MR / NR
        // (still ≤ the spec's MC / NC, which are multiples already).
        let mc = m.div_ceil(m.div_ceil(mc)).next_multiple_of(mr);
        let nc = n.div_ceil(n.div_ceil(nc)).next_multiple_of(nr);
        // ANCHOR_END: balance
        let (a_mode, b_mode) = choose_modes(spec, kc, a, b);
        Plan {
            kc,
            mc,
            nc,
            a_mode,
            b_mode,
        }
    }

    /// Buffer length for the largest A block this product packs (`rows` tall at most; in
    /// direct mode only the partial edge panel is packed).
    pub(crate) fn a_len(&self, mr: usize, rows: usize, k: usize) -> usize {
        let kcm = self.kc.min(k);
        match self.a_mode {
            Mode::Packed => rows.div_ceil(mr) * mr * kcm,
            Mode::Direct => mr * kcm,
        }
    }

    /// Buffer length for the largest B block this product packs (as `a_len`).
    pub(crate) fn b_len(&self, nr: usize, n: usize, k: usize) -> usize {
        let kcm = self.kc.min(k);
        match self.b_mode {
            Mode::Packed => self.nc.min(n).div_ceil(nr) * nr * kcm,
            Mode::Direct => nr * kcm,
        }
    }
}

/// The single-threaded blocked algorithm on one (sub-)problem.
pub(crate) fn run_seq<E: Elem>(
    spec: &Spec<E>,
    alpha: E,
    a: MatRef<'_, E>,
    b: MatRef<'_, E>,
    beta: E,
    c: CView<'_, E>,
) {
    let (m, n, k) = (a.rows, b.cols, a.cols);
    if m == 0 || n == 0 {
        return;
    }
    let (mr, nr) = (spec.mr, spec.nr);
    let plan = Plan::new(spec, &a, &b);
    let Plan {
        kc,
        mc,
        nc,
        a_mode,
        b_mode,
    } = plan;
    pack::with_buffers(|bufs| {
        let abuf = bufs.a.get::<E>(plan.a_len(mr, mc.min(m), k));
        let bbuf = bufs.b.get::<E>(plan.b_len(nr, n, k));
        // Edge tiles are computed here, then merged into C.
        let tile = bufs.tile.get::<E>(MAX_TILE);
        // ANCHOR: loops_5_4
        // Loop 5: NC-wide column blocks of B and C.
        for jc in (0..n).step_by(nc) {
            let ncb = nc.min(n - jc);
            // Loop 4: KC-deep slices of the k dimension.
            for pc in (0..k).step_by(kc) {
                let kcb = kc.min(k - pc);
                let bblock = b.sub(pc, kcb, jc, ncb);
                // Packed: the whole KC×NC block. Direct: only the partial last panel.
                let bp: &[E] = match b_mode {
                    Mode::Packed => {
                        let bp = &mut bbuf[..ncb.div_ceil(nr) * nr * kcb];
                        pack::pack_b(bblock, nr, bp);
                        bp
                    }
                    Mode::Direct if ncb % nr != 0 => {
                        let j0 = ncb - ncb % nr;
                        let bp = &mut bbuf[..nr * kcb];
                        pack::pack_b(bblock.sub(0, kcb, j0, ncb - j0), nr, bp);
                        bp
                    }
                    Mode::Direct => &[],
                };
                let bb = BBlock {
                    view: bblock,
                    packed: bp,
                    mode: b_mode,
                    jc,
                    beta: if pc == 0 { beta } else { E::ONE },
                };
                // ANCHOR_END: loops_5_4
                // ANCHOR: loop_3
                // Loop 3: MC-tall row blocks of A and C.
                for ic in (0..m).step_by(mc) {
                    let mcb = mc.min(m - ic);
                    let ablock = a.sub(ic, mcb, pc, kcb);
                    let ap = pack_a_block(ablock, a_mode, mr, abuf);
                    // Loops 2 and 1 (a function: the threaded driver calls it too).
                    inner_loops(spec, alpha, (ablock, ap, a_mode), &bb, c, ic, tile);
                    // ANCHOR_END: loop_3
                }
            }
        }
    });
}

/// Packs the A block as its mode says into `abuf` (packed: all of it; direct: only the
/// partial last panel, if any) and returns the packed part.
#[inline(always)] // part of loop 3 (measured: without it f64 100x192x784:nt ran 1–2 % slower)
pub(crate) fn pack_a_block<'b, E: Elem>(
    ablock: MatRef<'_, E>,
    mode: Mode,
    mr: usize,
    abuf: &'b mut [E],
) -> &'b [E] {
    let (mcb, kcb) = (ablock.rows, ablock.cols);
    match mode {
        Mode::Packed => {
            let ap = &mut abuf[..mcb.div_ceil(mr) * mr * kcb];
            pack::pack_a(ablock, mr, ap);
            ap
        }
        Mode::Direct if mcb % mr != 0 => {
            let i0 = mcb - mcb % mr;
            let ap = &mut abuf[..mr * kcb];
            pack::pack_a(ablock.sub(i0, mcb - i0, 0, kcb), mr, ap);
            ap
        }
        Mode::Direct => &[],
    }
}

/// One KC×NC block of B as loops 2–1 read it: the view, its packed copy (all of it, or
/// only the partial last panel in direct mode), its first column in C, and the `beta`
/// that applies to this KC slice.
pub(crate) struct BBlock<'a, E> {
    pub view: MatRef<'a, E>,
    pub packed: &'a [E],
    pub mode: Mode,
    pub jc: usize,
    pub beta: E,
}

/// Loops 2 and 1 for one row block of A (rows `ic ..` of C; `ablock` with its packed part
/// `ap` in mode `a_mode`) against one block of B: every MR×NR tile of C they cover.
pub(crate) fn inner_loops<E: Elem>(
    spec: &Spec<E>,
    alpha: E,
    a: (MatRef<'_, E>, &[E], Mode),
    bb: &BBlock<'_, E>,
    c: CView<'_, E>,
    ic: usize,
    tile: &mut [E],
) {
    // One copy of the loops per orientation of C, so that the normal one compiles as it
    // did before there was another (measured: with run-time tests of `c.trans` inside,
    // f64 100×784·784×20 nt, all edge tiles, ran 2 % slower).
    if c.trans {
        inner_loops_as::<E, true>(spec, alpha, a, bb, c, ic, tile)
    } else {
        inner_loops_as::<E, false>(spec, alpha, a, bb, c, ic, tile)
    }
}

/// `inner_loops` for a C view with `trans == TRANS`.
fn inner_loops_as<E: Elem, const TRANS: bool>(
    spec: &Spec<E>,
    alpha: E,
    (ablock, ap, a_mode): (MatRef<'_, E>, &[E], Mode),
    bb: &BBlock<'_, E>,
    c: CView<'_, E>,
    ic: usize,
    tile: &mut [E],
) {
    debug_assert_eq!(c.trans, TRANS);
    let Spec {
        mr,
        nr,
        ukr,
        ukr_narrow,
        ..
    } = *spec;
    let (mcb, kcb, ncb) = (ablock.rows, ablock.cols, bb.view.cols);
    let (bblock, bp, b_mode, jc, beta_p) = (bb.view, bb.packed, bb.mode, bb.jc, bb.beta);
    // ANCHOR: loops_2_1
    // Loop 2: NR-wide micro-panels of B.
    for j in (0..ncb).step_by(nr) {
        let nrb = nr.min(ncb - j);
        // The narrow kernel where it covers the last columns.
        let (kern, width) = match ukr_narrow {
            Some((w, h)) if nrb <= w => (h, w),
            _ => (ukr, nr),
        };
        // (pointer, row stride) of the B micro-panel.
        let (bptr, rs_b) = match b_mode {
            Mode::Packed => (bp[j * kcb..].as_ptr(), nr),
            Mode::Direct if nrb < nr => (bp.as_ptr(), nr),
            // In bounds: (pc, jc + j) is an element of B (validated view).
            Mode::Direct => (bblock.data[j..].as_ptr(), bblock.row_stride),
        };
        // Loop 1: MR-tall micro-panels of A.
        for i in (0..mcb).step_by(mr) {
            let mrb = mr.min(mcb - i);
            // (pointer, row stride, column stride) of the A panel.
            let (aptr, rs_a, cs_a) = match a_mode {
                Mode::Packed => (ap[i * kcb..].as_ptr(), 1, mr),
                Mode::Direct if mrb < mr => (ap.as_ptr(), 1, mr),
                Mode::Direct => (
                    ablock.data[i * ablock.row_stride..].as_ptr(),
                    ablock.row_stride,
                    ablock.col_stride,
                ),
            };
            let cij = c.at_as::<TRANS>(ic + i, jc + j);
            // A transposed C has no row of NR contiguous elements for the kernel to store:
            // every tile goes through `tile`.
            if mrb == mr && nrb == width && !TRANS {
                // SAFETY: the A panel is either packed (kcb steps of MR
                // elements in `ap`) or, in direct mode, MR full rows
                // `ic+i ..` × kcb columns `pc ..` of the validated view
                // `a`; likewise the B panel is packed (kcb steps of NR) or
                // kcb full rows × NR columns of `b` with unit column
                // stride (the kernel reads `width` ≤ NR columns). The full
                // MR×width tile at (ic+i, jc+j) lies inside C, which we
                // borrow mutably; `spec` came from `dispatch::spec`, which
                // checked the CPU.
                unsafe { kern(kcb, aptr, rs_a, cs_a, bptr, rs_b, cij, c.rs, alpha, beta_p) };
                // ANCHOR_END: loops_2_1
            } else {
                // SAFETY: as above for the panels; the output is `tile`, an
                // MR×NR array with row stride NR (MR·NR ≤ MAX_TILE) of which
                // the kernel writes MR×width, and beta = 0 so it is only
                // written.
                unsafe {
                    kern(
                        kcb,
                        aptr,
                        rs_a,
                        cs_a,
                        bptr,
                        rs_b,
                        tile.as_mut_ptr(),
                        nr,
                        alpha,
                        E::ZERO,
                    )
                };
                if TRANS {
                    merge_transposed(spec.kernel, tile, nr, cij, c.rs, mrb, nrb, beta_p);
                } else {
                    merge_edge(tile, nr, cij, c.rs, mrb, nrb, beta_p);
                }
            }
        }
    }
}

/// `C[0..mrb, 0..nrb] = tile + beta * C` (C not read when `beta == 0`).
fn merge_edge<E: Elem>(
    tile: &[E],
    ld: usize,
    c: *mut E,
    rs: usize,
    mrb: usize,
    nrb: usize,
    beta: E,
) {
    merge_strided(tile, (ld, 1), c, rs, mrb, nrb, beta);
}

/// `C[0..rows, 0..cols] = T + beta * C` for the tile `T(i, j) = tile[i·ts.0 + j·ts.1]`
/// (C not read when `beta == 0`): the one element rule of every merge, `t + beta·c`.
fn merge_strided<E: Elem>(
    tile: &[E],
    ts: (usize, usize),
    c: *mut E,
    rs: usize,
    rows: usize,
    cols: usize,
    beta: E,
) {
    for i in 0..rows {
        // SAFETY: the driver passes the top-left corner of a rows×cols region inside C,
        // which we borrow mutably; row `i < rows` has `cols` elements from `c + i * rs`.
        let row = unsafe { std::slice::from_raw_parts_mut(c.add(i * rs), cols) };
        let put = |(x, &y): (&mut E, &E)| *x = if beta == E::ZERO { y } else { y + beta * *x };
        let t = &tile[i * ts.0..];
        if ts.1 == 1 {
            row.iter_mut().zip(&t[..cols]).for_each(put);
        } else {
            row.iter_mut().zip(t.iter().step_by(ts.1)).for_each(put);
        }
    }
}

/// `C[0..nrb, 0..mrb] = tileᵀ + beta * C` (C not read when `beta == 0`): `merge_edge` for
/// a transposed C view, the tile's column `j` becoming row `j` of C. The arithmetic per
/// element is `merge_edge`'s, so each element gets the bits it would get there.
#[allow(clippy::too_many_arguments)]
fn merge_transposed<E: Elem>(
    kernel: super::Kernel,
    tile: &[E],
    ld: usize,
    c: *mut E,
    rs: usize,
    mrb: usize,
    nrb: usize,
    beta: E,
) {
    // On AVX-512 through in-register transposes (`transpose::merge_transposed_*`), which
    // requires every tile width to be whole vectors (the kernels' NR and narrow widths
    // are).
    #[cfg(target_arch = "x86_64")]
    if kernel == super::Kernel::Avx512 {
        use super::transpose::{merge_transposed_f32, merge_transposed_f64};
        use bytemuck::{cast, cast_slice};
        // SAFETY: the driver passes the top-left corner of an nrb×mrb region inside C,
        // which we borrow mutably (`mrb` elements from `c + j * rs` for `j < nrb`);
        // `kernel` came from a spec, checked against the CPU by `dispatch::spec`.
        unsafe {
            match E::DTYPE {
                crate::DType::F32 => {
                    merge_transposed_f32(cast_slice(tile), ld, c.cast(), rs, mrb, nrb, cast(beta))
                }
                crate::DType::F64 => {
                    merge_transposed_f64(cast_slice(tile), ld, c.cast(), rs, mrb, nrb, cast(beta))
                }
            }
        }
        return;
    }
    let _ = kernel;
    merge_strided(tile, (1, ld), c, rs, nrb, mrb, beta);
}
