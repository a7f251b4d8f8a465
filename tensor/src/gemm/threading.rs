//! Splitting a product over threads, and the thread-count knob.
//!
//! Threads come from rayon's global pool: its workers persist, so handing a part to one
//! costs a queue push and (at worst) a wake-up, a few microseconds, where spawning an OS
//! thread per call (`std::thread::scope`) costs tens of microseconds — too much for the
//! mid-sized products (a few MFLOP) that training issues by the thousand. The calling
//! thread computes the first part itself (`in_place_scope`), so two threads need only one
//! hand-off.
//!
//! The split is coarse: C is cut into contiguous row ranges (whole MR panels) or column
//! ranges (whole NR panels), claimed dynamically by the threads, and each part runs the
//! whole blocked algorithm with its thread's own packing buffers — no synchronisation
//! inside a part. The price is that
//! every thread packs the operand that is not split (if the driver packs it at all):
//! splitting rows re-packs B (k·n elements per thread), splitting columns re-packs A
//! (m·k). So we split along the packed operand when the other is read in place (nothing
//! duplicated), else the dimension that duplicates the smaller operand. Against
//! 2·m·n·k/nt flops per thread this is noise for the sizes that get threads at all.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use super::dispatch::{Elem, Spec};
use super::driver::{packs, run_seq, CView};
use super::MatRef;

/// Minimum multiply-adds (`m·n·k`) per thread: 2^21 FMAs ≈ 4 MFLOP ≈ 40–50 µs of
/// single-thread work on Zen 2. The hand-off itself costs a few µs, but a second thread
/// only pays when its core is free and its private caches warm up; measured on the (busy,
/// shared) 2-core development machine, products of ~1–2 M FMAs (128³, 100·784·20) were
/// slower on two threads than on one, so they stay single-threaded: 2 threads start at
/// about 160³.
pub(crate) const MIN_FMAS_PER_THREAD: usize = 1 << 21;

/// Test hook: the per-thread minimum actually used (tests lower it to thread tiny products).
pub(crate) static MIN_FMAS: AtomicUsize = AtomicUsize::new(MIN_FMAS_PER_THREAD);

/// 0 = not set: use the default (`FERROGRAD_NUM_THREADS`, else all cores).
static NUM_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Caps the number of threads a GEMM may use (process-wide); `0` restores the default,
/// `FERROGRAD_NUM_THREADS` if set, otherwise the number of cores. Small products use
/// fewer threads than the cap (one below 2·2^21 multiply-adds, about 160³).
pub fn set_num_threads(n: usize) {
    NUM_THREADS.store(n, Ordering::Relaxed);
}

/// The current cap on GEMM threads (see [`set_num_threads`]).
///
/// Panics on first use if `FERROGRAD_NUM_THREADS` is set but not a positive integer.
pub fn num_threads() -> usize {
    match NUM_THREADS.load(Ordering::Relaxed) {
        0 => default_threads(),
        n => n,
    }
}

fn default_threads() -> usize {
    static DEFAULT: OnceLock<usize> = OnceLock::new();
    *DEFAULT.get_or_init(|| match std::env::var("FERROGRAD_NUM_THREADS") {
        Ok(s) if !s.trim().is_empty() => match s.trim().parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => panic!("FERROGRAD_NUM_THREADS={s:?}: expected a positive integer"),
        },
        _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
    })
}

/// Runs the blocked product, on as many threads as its size warrants.
pub(crate) fn run<E: Elem>(
    spec: &'static Spec<E>,
    alpha: E,
    a: MatRef<'_, E>,
    b: MatRef<'_, E>,
    beta: E,
    c: CView<'_, E>,
) {
    let (m, n, k) = (a.rows, b.cols, a.cols);
    let fmas = m.saturating_mul(n).saturating_mul(k);
    // Splitting rows makes every thread pack all of B, splitting columns all of A — but
    // only if that operand is packed at all: split so that no packed operand is
    // duplicated when the driver reads the other in place, else duplicate the smaller
    // (B is k·n, A is m·k). The split dimension needs a panel per thread.
    let (row_panels, col_panels) = (m.div_ceil(spec.mr), n.div_ceil(spec.nr));
    let (pack_a, pack_b) = packs(spec, &a, &b);
    let split_rows = match (pack_a, pack_b) {
        (true, false) => true,
        (false, true) => false,
        _ => m >= n,
    };
    let split_rows = if split_rows {
        row_panels >= 2 || col_panels < 2
    } else {
        col_panels < 2 && row_panels >= 2
    };
    let panels = if split_rows { row_panels } else { col_panels };
    let nt = num_threads()
        .min(fmas / MIN_FMAS.load(Ordering::Relaxed).max(1))
        .min(panels)
        .max(1);
    if nt == 1 {
        run_seq(spec, alpha, a, b, beta, c);
        return;
    }
    // The parts are claimed dynamically from a shared counter by the calling thread and
    // `nt - 1` pool workers, so a helper that wakes late (or a core busy with something
    // else) just ends up with fewer parts instead of stalling the product. Where parts
    // duplicate no packing (the non-split operand is read in place) we cut 4 per thread
    // for that balancing; otherwise exactly one per thread, since each part re-packs.
    let duplicates = if split_rows { pack_b } else { pack_a };
    let nparts = if duplicates { nt } else { (4 * nt).min(panels) };
    // Part `t` of `nparts`: a range of whole panels along the split dimension.
    let part = |t: usize| {
        let (step, len) = if split_rows {
            (spec.mr, m)
        } else {
            (spec.nr, n)
        };
        let lo = (t * panels / nparts * step).min(len);
        let hi = ((t + 1) * panels / nparts * step).min(len);
        if split_rows {
            (a.sub(lo, hi - lo, 0, k), b, c.sub(lo, hi - lo, 0, n))
        } else {
            (a, b.sub(0, k, lo, hi - lo), c.sub(0, m, lo, hi - lo))
        }
    };
    let next = AtomicUsize::new(0);
    let work = || loop {
        let t = next.fetch_add(1, Ordering::Relaxed);
        if t >= nparts {
            break;
        }
        let (at, bt, ct) = part(t);
        run_seq(spec, alpha, at, bt, beta, ct);
    };
    rayon::in_place_scope(|s| {
        for _ in 1..nt {
            s.spawn(|_| work());
        }
        work();
    });
}
