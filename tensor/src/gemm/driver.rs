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

use std::marker::PhantomData;

use super::dispatch::{self, Elem, Spec};
use super::kernels::MAX_TILE;
use super::{pack, small, threading, MatMut, MatRef};

/// A raw view of (part of) `C` that can be sent to another thread.
///
/// Created from a `MatMut` (so the memory is valid and exclusively borrowed for `'a`);
/// the threading code hands disjoint sub-views to different threads.
#[derive(Clone, Copy)]
pub(crate) struct CView<'a, E> {
    ptr: *mut E,
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    _borrow: PhantomData<&'a mut [E]>,
}

// SAFETY: a `CView` is a pointer into a `&mut [E]` borrowed for `'a`; `E: Send + Sync`.
// Threads only ever receive pairwise disjoint sub-views (see `threading::run`), so no
// element is written by two threads, and nothing else touches C while the borrow lives.
unsafe impl<E: Send> Send for CView<'_, E> {}
// SAFETY: as above; a shared `&CView` allows nothing more than a copied `CView` does.
unsafe impl<E: Send> Sync for CView<'_, E> {}

impl<'a, E> CView<'a, E> {
    fn new(c: MatMut<'a, E>) -> Self {
        CView {
            ptr: c.data.as_mut_ptr(),
            rows: c.rows,
            cols: c.cols,
            rs: c.row_stride,
            _borrow: PhantomData,
        }
    }

    /// The `rows x cols` sub-view at `(r0, c0)`, which must lie inside `self`.
    pub(crate) fn sub(self, r0: usize, rows: usize, c0: usize, cols: usize) -> Self {
        assert!(r0 + rows <= self.rows && c0 + cols <= self.cols);
        CView {
            // SAFETY: `(r0, c0)` is inside the view (asserted; when the sub-view is empty
            // the offset is at most one past the end), so the offset stays in the slice.
            ptr: unsafe { self.ptr.add(r0 * self.rs + c0) },
            rows,
            cols,
            rs: self.rs,
            _borrow: PhantomData,
        }
    }

    /// Pointer to element `(i, j)`; only dereferenced by callers that stay in bounds.
    fn at(self, i: usize, j: usize) -> *mut E {
        self.ptr.wrapping_add(i * self.rs + j)
    }
}

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
    if small::try_run(kernel, alpha, a, b, beta, &mut c) {
        return;
    }
    let spec = dispatch::spec::<E>(kernel);
    threading::run(spec, alpha, a, b, beta, CView::new(c));
}

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
    let Spec {
        mr,
        nr,
        kc,
        mc,
        nc,
        ukr,
        ..
    } = *spec;
    debug_assert!(mr * nr <= MAX_TILE && mc % mr == 0 && nc % nr == 0);
    // Buffer sizes for the largest blocks this problem will pack.
    let a_len = mc.min(m).div_ceil(mr) * mr * kc.min(k);
    let b_len = nc.min(n).div_ceil(nr) * nr * kc.min(k);
    // Edge tiles are computed here, then merged into C.
    let mut tile = [E::ZERO; MAX_TILE];

    pack::with_buffers(|abuf, bbuf| {
        let abuf = abuf.get::<E>(a_len);
        let bbuf = bbuf.get::<E>(b_len);
        // Loop 5: NC-wide column blocks of B and C.
        for jc in (0..n).step_by(nc) {
            let ncb = nc.min(n - jc);
            // Loop 4: KC-deep slices of the k dimension.
            for pc in (0..k).step_by(kc) {
                let kcb = kc.min(k - pc);
                let bp = &mut bbuf[..ncb.div_ceil(nr) * nr * kcb];
                pack::pack_b(b.sub(pc, kcb, jc, ncb), nr, bp);
                let bp = &*bp;
                let beta_p = if pc == 0 { beta } else { E::ONE };
                // Loop 3: MC-tall row blocks of A and C.
                for ic in (0..m).step_by(mc) {
                    let mcb = mc.min(m - ic);
                    let ap = &mut abuf[..mcb.div_ceil(mr) * mr * kcb];
                    pack::pack_a(a.sub(ic, mcb, pc, kcb), mr, ap);
                    let ap = &*ap;
                    // Loop 2: NR-wide micro-panels of the packed B block.
                    for (jr, bpanel) in bp.chunks_exact(nr * kcb).enumerate() {
                        let j = jr * nr;
                        let nrb = nr.min(ncb - j);
                        // Loop 1: MR-tall micro-panels of the packed A block.
                        for (ir, apanel) in ap.chunks_exact(mr * kcb).enumerate() {
                            let i = ir * mr;
                            let mrb = mr.min(mcb - i);
                            let cij = c.at(ic + i, jc + j);
                            if mrb == mr && nrb == nr {
                                // SAFETY: `apanel`/`bpanel` hold `kcb` steps of MR/NR
                                // elements; the full MR×NR tile at (ic+i, jc+j) lies inside
                                // C (mrb == mr, nrb == nr) whose memory we borrow mutably;
                                // `spec` came from `dispatch::spec`, which checked the CPU.
                                unsafe {
                                    ukr(
                                        kcb,
                                        apanel.as_ptr(),
                                        bpanel.as_ptr(),
                                        cij,
                                        c.rs,
                                        alpha,
                                        beta_p,
                                    )
                                };
                            } else {
                                // SAFETY: as above for the panels; the output is `tile`, an
                                // MR×NR array with row stride NR (MR·NR ≤ MAX_TILE), and
                                // beta = 0 so it is only written.
                                unsafe {
                                    ukr(
                                        kcb,
                                        apanel.as_ptr(),
                                        bpanel.as_ptr(),
                                        tile.as_mut_ptr(),
                                        nr,
                                        alpha,
                                        E::ZERO,
                                    )
                                };
                                merge_edge(&tile, nr, cij, c.rs, mrb, nrb, beta_p);
                            }
                        }
                    }
                }
            }
        }
    });
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
    for i in 0..mrb {
        // SAFETY: the driver passes the top-left corner of an mrb×nrb region inside C,
        // which we borrow mutably; row `i < mrb` has `nrb` elements from `c + i * rs`.
        let row = unsafe { std::slice::from_raw_parts_mut(c.add(i * rs), nrb) };
        let t = &tile[i * ld..i * ld + nrb];
        if beta == E::ZERO {
            row.copy_from_slice(t);
        } else {
            for (x, &y) in row.iter_mut().zip(t) {
                *x = y + beta * *x;
            }
        }
    }
}
