//! The multi-threaded driver for products whose B is packed: the threads share every packed
//! block of B instead of each packing its own copy (the BLIS scheme, Smith et al., "Anatomy
//! of high-performance many-threaded matrix multiplication", 2014).
//!
//! For each (jc, pc) block of loops 5–4 the work is a list of tasks in two phases:
//!
//! 1. pack: `P` chunks of the KC×NC block of B, each a range of NR panels, written into
//!    one buffer that all threads read;
//! 2. compute: `S` row strips of C (whole MR panels, at most MC rows each); a strip packs
//!    its own MC×KC block of A into its thread's buffer and runs loops 2–1 over the shared
//!    B.
//!
//! A phase may only start when the previous one is complete (compute needs all of B
//! packed; the next block's packing overwrites the B that compute reads). A barrier would
//! express that, but a barrier needs to know its parties, and a pool thread asked to help
//! may never arrive: when a GEMM runs inside a rayon job and every pool thread is busy, a
//! barrier waiting for the helper deadlocks. So there are no fixed parties. All tasks of
//! the product are numbered in order, block after block, and every thread that turns up
//! (the caller at once, helpers whenever the pool runs them) claims the next number from
//! one counter; a second counter counts finished tasks. Before running a task a thread
//! waits until every task of the previous phase has finished, and those tasks have all
//! been claimed (numbers are handed out in order) by threads that are running them: the
//! wait is never for a thread that has not arrived. A helper that arrives after the last
//! task was claimed finds nothing to do and returns.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::dispatch::{Elem, Spec};
use super::driver::{inner_loops, pack_a_block, BBlock, CView, Mode, Plan};
use super::kernels::MAX_TILE;
use super::{pack, MatRef};

/// Test hook: how many products took this driver (see `gemm::testing::shared_b_runs`).
pub(crate) static RUNS: AtomicUsize = AtomicUsize::new(0);

/// Runs `C = alpha * A * B + beta * C` on up to `nt` threads sharing each packed B block.
/// The plan of the product must pack B.
pub(crate) fn run<E: Elem>(
    spec: &'static Spec<E>,
    alpha: E,
    a: MatRef<'_, E>,
    b: MatRef<'_, E>,
    beta: E,
    c: CView<'_, E>,
    nt: usize,
) {
    RUNS.fetch_add(1, Ordering::Relaxed);
    let (m, n, k) = (a.rows, b.cols, a.cols);
    let plan = Plan::new(spec, &a, &b);
    debug_assert_eq!(plan.b_mode, Mode::Packed);
    let tasks = Tasks::new(spec, &plan, m, n, k, nt);
    // The shared B buffer is the calling thread's own packing buffer (taken out of its
    // thread-local slot for the duration, so a GEMM nested in this thread still finds a
    // buffer there): it lives until every helper has returned, and a steady state of
    // calls allocates nothing.
    let mut bbuf = pack::with_buffers(|bufs| std::mem::take(&mut bufs.b));
    let shared = SharedBuf::new(bbuf.get::<E>(plan.b_len(spec.nr, n, k)));
    let product = Product {
        spec,
        plan: &plan,
        alpha,
        a,
        b,
        beta,
        c,
        shared,
    };
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let work = || {
        pack::with_buffers(|bufs| {
            let abuf = bufs
                .a
                .get::<E>(plan.a_len(spec.mr, tasks.max_strip_rows, k));
            let tile = bufs.tile.get::<E>(MAX_TILE);
            loop {
                let t = next.fetch_add(1, Ordering::Relaxed);
                if t >= tasks.total {
                    break;
                }
                let task = tasks.get(t);
                if !wait_until(&done, task.after) {
                    break; // another thread panicked
                }
                // Should this task panic, the others must not wait for it forever.
                let guard = Abandon(&done);
                match task.kind {
                    Kind::PackB { panels } => product.pack_b(task.origin, panels),
                    Kind::Strip { rows } => product.strip(task.origin, rows, abuf, tile),
                }
                // Release: what this task wrote (packed B, or rows of C) is visible to
                // whoever sees the count include it.
                std::mem::forget(guard);
                done.fetch_add(1, Ordering::AcqRel);
            }
        });
    };
    rayon::in_place_scope(|s| {
        for _ in 1..nt {
            s.spawn(|_| work());
        }
        work();
    });
    pack::with_buffers(|bufs| bufs.b = bbuf);
}

/// What every thread needs to run a task of one product.
struct Product<'p, 'a, E: Elem> {
    spec: &'p Spec<E>,
    plan: &'p Plan,
    alpha: E,
    a: MatRef<'a, E>,
    b: MatRef<'a, E>,
    beta: E,
    c: CView<'a, E>,
    shared: SharedBuf<E>,
}

impl<E: Elem> Product<'_, '_, E> {
    /// The (jc, pc) block of B: its view and its KC×NC extent.
    fn b_block(&self, (jc, pc): (usize, usize)) -> MatRef<'_, E> {
        let (k, n) = (self.b.rows, self.b.cols);
        let (kcb, ncb) = (self.plan.kc.min(k - pc), self.plan.nc.min(n - jc));
        self.b.sub(pc, kcb, jc, ncb)
    }

    /// Packs NR panels `panels` of block `origin` of B into their place in the shared
    /// buffer.
    fn pack_b(&self, origin: (usize, usize), panels: Range<usize>) {
        if panels.is_empty() {
            return; // fewer panels than chunks
        }
        let bblock = self.b_block(origin);
        let (kcb, ncb, nr) = (bblock.rows, bblock.cols, self.spec.nr);
        let (j0, j1) = (panels.start * nr, (panels.end * nr).min(ncb));
        // SAFETY: the pack tasks of one block cover disjoint panel ranges, and no strip
        // reads the buffer until this phase has finished (the task order).
        let out = unsafe {
            self.shared
                .slice_mut(panels.start * nr * kcb, panels.len() * nr * kcb)
        };
        pack::pack_b(bblock.sub(0, kcb, j0, j1 - j0), nr, out);
    }

    /// Rows `rows` of C against block `origin` of B, packed in the shared buffer: packs
    /// that strip of A into `abuf`, then loops 2–1.
    fn strip(&self, origin: (usize, usize), rows: Range<usize>, abuf: &mut [E], tile: &mut [E]) {
        if rows.is_empty() {
            return; // fewer row panels than strips
        }
        let (jc, pc) = origin;
        let bblock = self.b_block(origin);
        let (kcb, ncb, nr) = (bblock.rows, bblock.cols, self.spec.nr);
        // SAFETY: this block's pack phase has finished (the task waited for it), and the
        // next block's pack phase waits for this task.
        let bp = unsafe { self.shared.slice(ncb.div_ceil(nr) * nr * kcb) };
        let bb = BBlock {
            view: bblock,
            packed: bp,
            mode: Mode::Packed,
            jc,
            beta: if pc == 0 { self.beta } else { E::ONE },
        };
        let a_mode = self.plan.a_mode;
        let ablock = self.a.sub(rows.start, rows.len(), pc, kcb);
        let ap = pack_a_block(ablock, a_mode, self.spec.mr, abuf);
        let a = (ablock, ap, a_mode);
        inner_loops(self.spec, self.alpha, a, &bb, self.c, rows.start, tile);
    }
}

/// The numbered task list of one product: for each (jc, pc) block in loop order, `pack`
/// B chunks and then `strips` row strips.
struct Tasks {
    pack: usize,
    strips: usize,
    /// Tasks per (jc, pc) block (`pack + strips`).
    per_block: usize,
    /// Tasks in all.
    total: usize,
    k_blocks: usize,
    kc: usize,
    nc: usize,
    n: usize,
    m: usize,
    mr: usize,
    nr: usize,
    row_panels: usize,
    /// The tallest strip, for sizing the A buffers.
    max_strip_rows: usize,
}

/// What one task does.
enum Kind {
    /// Pack these NR panels of the block of B.
    PackB { panels: Range<usize> },
    /// Compute these rows of C against the block of B.
    Strip { rows: Range<usize> },
}

struct Task {
    kind: Kind,
    /// (jc, pc): the block's first column of B and C, and first row of B.
    origin: (usize, usize),
    /// The task may start when this many tasks have finished (the previous phase).
    after: usize,
}

impl Tasks {
    fn new<E>(spec: &Spec<E>, plan: &Plan, m: usize, n: usize, k: usize, nt: usize) -> Self {
        let (mr, nr) = (spec.mr, spec.nr);
        let row_panels = m.div_ceil(mr);
        // As many strips as MC blocks, rounded up to a multiple of the thread count so
        // that equal strips split evenly when every helper shows up.
        let strips = m.div_ceil(plan.mc).next_multiple_of(nt).min(row_panels);
        // Packing B is a small part of the work (KC·NC elements against KC·NC·m FMAs), but
        // the helpers arrive some microseconds after the caller has started on it: four
        // chunks per thread let a late helper still take a share.
        let pack = (4 * nt).min(plan.nc.min(n).div_ceil(nr));
        let per_block = pack + strips;
        let k_blocks = k.div_ceil(plan.kc);
        Tasks {
            pack,
            strips,
            per_block,
            total: per_block * k_blocks * n.div_ceil(plan.nc),
            k_blocks,
            kc: plan.kc,
            nc: plan.nc,
            n,
            m,
            mr,
            nr,
            row_panels,
            max_strip_rows: row_panels.div_ceil(strips) * mr,
        }
    }

    /// Task number `t` (< `total`).
    fn get(&self, t: usize) -> Task {
        let (e, r) = (t / self.per_block, t % self.per_block);
        let origin = ((e / self.k_blocks) * self.nc, (e % self.k_blocks) * self.kc);
        let first = e * self.per_block;
        if r < self.pack {
            let panels = self.nc.min(self.n - origin.0).div_ceil(self.nr);
            Task {
                kind: Kind::PackB {
                    panels: r * panels / self.pack..(r + 1) * panels / self.pack,
                },
                origin,
                after: first,
            }
        } else {
            let s = r - self.pack;
            let row = |s: usize| (s * self.row_panels / self.strips * self.mr).min(self.m);
            Task {
                kind: Kind::Strip {
                    rows: row(s)..row(s + 1),
                },
                origin,
                after: first + self.pack,
            }
        }
    }
}

/// A `done` count no product reaches: set when a task panicked.
const ABANDONED: usize = usize::MAX / 2;

/// Marks the product abandoned if dropped, i.e. if the task it guards unwinds; the panic
/// then reaches the caller through `in_place_scope` instead of leaving the other threads
/// waiting for a task that will never finish.
struct Abandon<'a>(&'a AtomicUsize);

impl Drop for Abandon<'_> {
    fn drop(&mut self) {
        self.0.store(ABANDONED, Ordering::Release);
    }
}

/// Waits until `done` reaches `target`; false if the product was abandoned. Every task
/// counted by `target` has been claimed by a running thread, so this ends; spinning
/// briefly suits the usual microsecond waits, yielding the core afterwards suits a
/// machine where the other thread is descheduled.
fn wait_until(done: &AtomicUsize, target: usize) -> bool {
    let mut spins = 0u32;
    loop {
        match done.load(Ordering::Acquire) {
            ABANDONED.. => return false,
            d if d >= target => return true,
            _ => {}
        }
        if spins < 200 {
            spins += 1;
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// The packed B block that all threads of a product write (in disjoint panel ranges,
/// during a pack phase) and read (during the compute phase that follows). The task order
/// keeps the phases apart; the unsafe accessors state what their callers must uphold.
struct SharedBuf<E> {
    ptr: *mut E,
    len: usize,
}

// SAFETY: a pointer into a buffer that outlives the threads using it (they return before
// `run` ends); who may touch which part when is ordered by the task counters.
unsafe impl<E: Send> Send for SharedBuf<E> {}
// SAFETY: as above.
unsafe impl<E: Send> Sync for SharedBuf<E> {}

impl<E> SharedBuf<E> {
    fn new(buf: &mut [E]) -> Self {
        SharedBuf {
            ptr: buf.as_mut_ptr(),
            len: buf.len(),
        }
    }

    /// Elements `start .. start + len`, for writing.
    ///
    /// # Safety
    /// No other thread reads or writes them until the caller's task is counted done.
    #[allow(clippy::mut_from_ref)]
    unsafe fn slice_mut(&self, start: usize, len: usize) -> &mut [E] {
        assert!(start + len <= self.len);
        // SAFETY: in bounds (asserted); exclusive by the caller's guarantee.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), len) }
    }

    /// The first `len` elements, for reading.
    ///
    /// # Safety
    /// No thread writes them while the returned slice lives.
    unsafe fn slice(&self, len: usize) -> &[E] {
        assert!(len <= self.len);
        // SAFETY: in bounds (asserted); not written meanwhile by the caller's guarantee.
        unsafe { std::slice::from_raw_parts(self.ptr, len) }
    }
}
