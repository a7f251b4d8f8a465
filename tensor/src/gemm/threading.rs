//! Splitting a product over threads, and the thread-count knob.
//!
//! Threads come from rayon's global pool: its workers persist, so handing a part to one
//! costs a queue push and (at worst) a wake-up, a few microseconds, where spawning an OS
//! thread per call (`std::thread::scope`) costs tens of microseconds — too much for the
//! mid-sized products (a few MFLOP) that training issues by the thousand. The calling
//! thread computes the first part itself (`in_place_scope`), so two threads need only one
//! hand-off.
//!
//! Two ways to split, chosen by which operands the driver packs:
//!
//! - When B is packed and rows are split (the large square-ish products), the threads
//!   cooperate on every KC×NC block of B: it is packed once, into one buffer that all of
//!   them read, and each thread computes row strips of C against it with its own packed A
//!   (`shared_b.rs`, the BLIS scheme). Splitting rows with a private copy of B per thread
//!   would pack all of B once per thread and keep one copy of each block per thread in
//!   the caches.
//! - Otherwise C is cut into contiguous row ranges (whole MR panels) or column ranges
//!   (whole NR panels), claimed dynamically by the threads, and each part runs the whole
//!   blocked algorithm with its thread's own packing buffers — no synchronisation inside
//!   a part. Splitting columns re-packs A (m·k) in every thread if A is packed, so we
//!   split along the packed operand when the other is read in place (nothing
//!   duplicated), else the larger dimension; the column split with both operands packed
//!   (n > m) is the one case that still duplicates packing, against 2·m·n·k/nt flops per
//!   thread.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use super::dispatch::{Elem, Spec};
use super::driver::{packs, run_seq, CView};
use super::shared_b;
use super::{MatMut, MatRef};

// ANCHOR: threshold
/// How much longer than the hand-off a thread's part must take: the hand-off may cost at
/// most 1/`PART_OVER_HANDOFF` of the part (about 10 %). This is a policy, not a machine
/// constant; the machine's numbers are measured (see [`min_fmas_per_thread`]).
pub(crate) const PART_OVER_HANDOFF: f64 = 10.0;

/// Products below twice this many multiply-adds never consider a second thread (and do
/// not trigger the measurement): 2^17 FMAs take ~2–5 µs on one core, the order of a
/// single wake-up of a sleeping pool thread.
const NEVER_BELOW: usize = 1 << 17;

/// Test hook: a forced per-thread minimum (0 = use the measured one).
pub(crate) static MIN_FMAS: AtomicUsize = AtomicUsize::new(0);

/// The minimum multiply-adds per thread for element type `E` on the current kernel,
/// measured on first use rather than tuned as a constant (the previous constant, 2^21,
/// was tuned on Zen 2 with AVX2 and is too small or too large elsewhere):
///
/// - `handoff`: the time to hand an empty job to a pool thread and get it back (the
///   median of a few round trips, so a wake-up from sleep counts as often as it happens
///   when calls are spaced out; a busy machine makes it longer, and threads start later);
/// - `per_fma`: single-thread seconds per multiply-add of the blocked driver, timed on a
///   mid-sized product (best of three);
///
/// and a thread is worth its hand-off when its part takes `PART_OVER_HANDOFF` times as
/// long: `min = PART_OVER_HANDOFF · handoff / per_fma`. On the shared 2-core Zen 5 KVM
/// guest (AVX-512) this came out at 16–48 M FMAs for f32 and 8–25 M for f64 over a few
/// runs at load 2–4, i.e. hand-offs of ~15–40 µs: the 15 M-FMA products of the
/// autoencoder stay on one thread there, 1024³ gets two. Measured 2-thread speed-ups at
/// 1024³ were 1.8–1.86× when the second core was free, and none when another process
/// held it (which the measured hand-off then reflects).
pub(crate) fn min_fmas_per_thread<E: Elem>(spec: &'static Spec<E>) -> usize {
    match MIN_FMAS.load(Ordering::Relaxed) {
        0 => {}
        forced => return forced,
    }
    static HANDOFF: OnceLock<f64> = OnceLock::new();
    // One per element size (f32, f64), measured with the kernel in use at the time.
    static PER_FMA: [OnceLock<f64>; 2] = [OnceLock::new(), OnceLock::new()];
    let handoff = *HANDOFF.get_or_init(measure_handoff);
    let per_fma =
        *PER_FMA[usize::from(std::mem::size_of::<E>() == 8)].get_or_init(|| measure_per_fma(spec));
    ((PART_OVER_HANDOFF * handoff / per_fma) as usize).max(NEVER_BELOW)
}

/// The minimum multiply-adds per thread that `gemm::<T>` uses on the current kernel
/// (measured on first use, see `min_fmas_per_thread`); a product gets a second thread
/// from twice this many.
pub fn thread_threshold<T: crate::Float>() -> usize {
    let k = super::dispatch::kernel();
    match T::DTYPE {
        crate::DType::F32 => min_fmas_per_thread(super::dispatch::spec::<f32>(k)),
        crate::DType::F64 => min_fmas_per_thread(super::dispatch::spec::<f64>(k)),
    }
}

/// Median seconds for a round trip to a rayon pool thread (spawn an empty job, wait).
fn measure_handoff() -> f64 {
    let mut t: Vec<f64> = (0..15)
        .map(|_| {
            let start = std::time::Instant::now();
            rayon::in_place_scope(|s| s.spawn(|_| {}));
            let dt = start.elapsed().as_secs_f64();
            // Let the worker go idle again, as it would between spaced-out calls.
            std::thread::sleep(std::time::Duration::from_micros(200));
            dt
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

/// Best-of-three single-thread seconds per multiply-add on a 96×256×96 product (2.4 M
/// FMAs: large enough for the blocked path's full speed on small-to-mid shapes, short
/// enough — tens of µs — to measure on the first call).
fn measure_per_fma<E: Elem>(spec: &'static Spec<E>) -> f64 {
    let (m, k, n) = (96, 256, 96);
    let a = vec![E::ONE; m * k];
    let b = vec![E::ONE; k * n];
    let mut c = vec![E::ZERO; m * n];
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let start = std::time::Instant::now();
        run_seq(
            spec,
            E::ONE,
            MatRef::new(&a, m, k),
            MatRef::new(&b, k, n),
            E::ZERO,
            CView::new(MatMut::new(&mut c, m, n)),
        );
        best = best.min(start.elapsed().as_secs_f64());
    }
    std::hint::black_box(&c);
    best / (m * n * k) as f64
}
// ANCHOR_END: threshold

/// 0 = not set: use the default (`FERROGRAD_NUM_THREADS`, else all cores).
static NUM_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Caps the number of threads a GEMM may use (process-wide); `0` restores the default,
/// `FERROGRAD_NUM_THREADS` if set, otherwise the number of cores. Small products use
/// fewer threads than the cap (see [`thread_threshold`]: a threshold measured on this
/// machine at first use).
pub fn set_num_threads(n: usize) {
    NUM_THREADS.store(n, Ordering::Relaxed);
}

thread_local! {
    /// This thread's own cap (0 = none), see [`set_num_threads_here`].
    static THREAD_CAP: Cell<usize> = const { Cell::new(0) };
}

/// Caps the threads of the GEMMs called from this thread, in place of the process-wide
/// cap ([`set_num_threads`]); `0` goes back to that one. Other threads are not affected:
/// workers that each run whole trainings side by side (`course::sweep`) give themselves
/// one thread each, and a program's other threads keep theirs.
///
/// ```
/// use ferrograd_tensor::gemm::{num_threads, set_num_threads_here};
///
/// std::thread::spawn(|| {
///     set_num_threads_here(1);
///     assert_eq!(num_threads(), 1);
/// })
/// .join()
/// .unwrap();
/// ```
pub fn set_num_threads_here(n: usize) {
    THREAD_CAP.with(|cap| cap.set(n));
}

/// The cap on the threads of a GEMM called from this thread: its own
/// ([`set_num_threads_here`]) if set, else the process-wide one ([`set_num_threads`]).
///
/// Panics on first use if `FERROGRAD_NUM_THREADS` is set but not a positive integer.
pub fn num_threads() -> usize {
    match THREAD_CAP.with(Cell::get) {
        0 => match NUM_THREADS.load(Ordering::Relaxed) {
            0 => default_threads(),
            n => n,
        },
        n => n,
    }
}

/// The variable that caps the threads of a product (default: all cores).
pub(crate) const NUM_THREADS_ENV: &str = "FERROGRAD_NUM_THREADS";

fn default_threads() -> usize {
    static DEFAULT: OnceLock<usize> = OnceLock::new();
    *DEFAULT.get_or_init(|| match super::env::positive(NUM_THREADS_ENV) {
        Ok(Some(n)) => n,
        Ok(None) => std::thread::available_parallelism().map_or(1, |n| n.get()),
        Err(e) => panic!("{e}"),
    })
}

/// How many threads a product of `fmas` multiply-adds gets when it can be cut into
/// `parts` pieces: at most the cap ([`num_threads`]) and one per piece, and only as many
/// as have `min_fmas_per_thread` each. `spec` is the blocked driver's for the product's
/// kernel and element type (whose speed the threshold is measured on).
pub(crate) fn thread_count<E: Elem>(spec: &'static Spec<E>, fmas: usize, parts: usize) -> usize {
    let cap = num_threads().min(parts);
    if cap <= 1 || (fmas < 2 * NEVER_BELOW && MIN_FMAS.load(Ordering::Relaxed) == 0) {
        1
    } else {
        cap.min(fmas / min_fmas_per_thread(spec).max(1)).max(1)
    }
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
    let nt = thread_count(spec, fmas, panels);
    if nt == 1 {
        run_seq(spec, alpha, a, b, beta, c);
        return;
    }
    if split_rows && pack_b {
        // Splitting rows would make every thread pack all of B: share it instead.
        shared_b::run(spec, alpha, a, b, beta, c, nt);
        return;
    }
    // The parts are claimed dynamically from a shared counter by the calling thread and
    // `nt - 1` pool workers, so a helper that wakes late (or a core busy with something
    // else) just ends up with fewer parts instead of stalling the product. Where parts
    // duplicate no packing (the non-split operand is read in place) we cut 4 per thread
    // for that balancing; otherwise exactly one per thread, since each part re-packs.
    let duplicates = if split_rows { pack_b } else { pack_a };
    let nparts = if duplicates { nt } else { (4 * nt).min(panels) };
    let (step, len) = if split_rows {
        (spec.mr, m)
    } else {
        (spec.nr, n)
    };
    claim_parts(nparts, nt, |t| {
        let (lo, hi) = part_bounds(t, nparts, panels, step, len);
        let (at, bt, ct) = if split_rows {
            (a.sub(lo, hi - lo, 0, k), b, c.sub(lo, hi - lo, 0, n))
        } else {
            (a, b.sub(0, k, lo, hi - lo), c.sub(0, m, lo, hi - lo))
        };
        run_seq(spec, alpha, at, bt, beta, ct);
    });
}

/// Runs `work(t)` once for every part `t < nparts`, on `threads` threads (the calling one
/// and `threads − 1` pool workers) that claim the parts from a shared counter, so that a
/// helper that wakes late, or a core busy with something else, ends up with fewer parts
/// instead of stalling the product.
pub(crate) fn claim_parts(nparts: usize, threads: usize, work: impl Fn(usize) + Sync) {
    let next = AtomicUsize::new(0);
    let claim = || loop {
        let t = next.fetch_add(1, Ordering::Relaxed);
        if t >= nparts {
            break;
        }
        work(t);
    };
    rayon::in_place_scope(|s| {
        for _ in 1..threads {
            s.spawn(|_| claim());
        }
        claim();
    });
}

/// Part `t` of `nparts` of `panels` panels of `step` elements along a dimension of
/// `len`: the element range `lo..hi` of whole panels (the last one possibly partial).
pub(crate) fn part_bounds(
    t: usize,
    nparts: usize,
    panels: usize,
    step: usize,
    len: usize,
) -> (usize, usize) {
    let lo = (t * panels / nparts * step).min(len);
    let hi = ((t + 1) * panels / nparts * step).min(len);
    (lo, hi)
}
