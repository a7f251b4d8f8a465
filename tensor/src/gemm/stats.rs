//! Opt-in per-shape statistics of the GEMM calls of a run: how many calls and how much
//! time went to each `(dtype, m, k, n, layout)`, and at what GFLOP/s.
//!
//! Off by default. When off, a `gemm` call pays one relaxed atomic load (no clock read, no
//! lock). Turn it on with [`set_enabled`] (or, in the course examples, the environment
//! variable `FERROGRAD_GEMM_STATS`), read it with [`snapshot`] or [`table`].
//!
//! The time of a call is its wall time on the calling thread, from entry to return
//! (including the small-product loop, packing and any worker threads it starts); calls
//! issued concurrently from several threads each count their own time, so on a busy
//! machine the per-shape times add up to more than the run's wall time.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use super::MatRef;
use crate::DType;

static ENABLED: AtomicBool = AtomicBool::new(false);

static TABLE: Mutex<Option<HashMap<ShapeKey, Totals>>> = Mutex::new(None);

/// Which shape a GEMM call had.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ShapeKey {
    /// Element type.
    pub dtype: DType,
    /// Rows of `op(A)` and `C`.
    pub m: usize,
    /// Columns of `op(A)`, rows of `op(B)`.
    pub k: usize,
    /// Columns of `op(B)` and `C`.
    pub n: usize,
    /// How `A` and `B` are read: `n` (rows contiguous), `t` (a transposed view, columns
    /// contiguous) or `s` (neither); e.g. `"nt"` is `A · Bᵀ`.
    pub layout: [u8; 2],
}

impl ShapeKey {
    /// The layout as a string (`"nn"`, `"nt"`, `"tn"`, ...).
    pub fn layout_str(&self) -> &str {
        std::str::from_utf8(&self.layout).unwrap_or("??")
    }

    /// `2·m·k·n`.
    pub fn flops(&self) -> f64 {
        2.0 * self.m as f64 * self.k as f64 * self.n as f64
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Totals {
    calls: u64,
    seconds: f64,
}

/// The totals of one shape.
#[derive(Clone, Copy, Debug)]
pub struct ShapeStats {
    /// The shape.
    pub key: ShapeKey,
    /// Number of calls.
    pub calls: u64,
    /// Summed wall time of those calls, in seconds.
    pub seconds: f64,
}

impl ShapeStats {
    /// Total flops of the calls (`calls · 2·m·k·n`).
    pub fn flops(&self) -> f64 {
        self.calls as f64 * self.key.flops()
    }

    /// Achieved GFLOP/s over the calls.
    pub fn gflops(&self) -> f64 {
        if self.seconds > 0.0 {
            self.flops() / self.seconds * 1e-9
        } else {
            0.0
        }
    }
}

/// Starts (`true`) or stops recording. Recorded totals are kept; see [`reset`].
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Whether calls are being recorded.
#[inline(always)]
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Forgets every recorded call.
pub fn reset() {
    *lock() = None;
}

fn lock() -> std::sync::MutexGuard<'static, Option<HashMap<ShapeKey, Totals>>> {
    // A panic while holding the lock leaves plain counters: still usable.
    TABLE.lock().unwrap_or_else(|e| e.into_inner())
}

fn op(rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> u8 {
    if col_stride == 1 || cols <= 1 {
        b'n'
    } else if row_stride == 1 || rows <= 1 {
        b't'
    } else {
        b's'
    }
}

/// The key of a call with these operands.
pub(crate) fn key<E>(dtype: DType, a: &MatRef<'_, E>, b: &MatRef<'_, E>) -> ShapeKey {
    ShapeKey {
        dtype,
        m: a.rows,
        k: a.cols,
        n: b.cols,
        layout: [
            op(a.rows, a.cols, a.row_stride, a.col_stride),
            op(b.rows, b.cols, b.row_stride, b.col_stride),
        ],
    }
}

/// Adds one call of `key` that started at `start`.
pub(crate) fn record(key: ShapeKey, start: Instant) {
    let seconds = start.elapsed().as_secs_f64();
    let mut t = lock();
    let e = t.get_or_insert_with(HashMap::new).entry(key).or_default();
    e.calls += 1;
    e.seconds += seconds;
}

/// Every recorded shape, most total time first.
pub fn snapshot() -> Vec<ShapeStats> {
    let mut v: Vec<ShapeStats> = lock()
        .iter()
        .flatten()
        .map(|(&key, t)| ShapeStats {
            key,
            calls: t.calls,
            seconds: t.seconds,
        })
        .collect();
    v.sort_by(|x, y| {
        let tie = |s: &ShapeStats| {
            (
                s.key.m,
                s.key.k,
                s.key.n,
                s.key.layout,
                s.key.dtype == DType::F64,
            )
        };
        y.seconds.total_cmp(&x.seconds).then(tie(x).cmp(&tie(y)))
    });
    v
}

/// A text table of the `top` shapes by time (all if `top == 0`), with a total line. With
/// `peak_f32` (the one-core f32 FMA peak in GFLOP/s), a column gives each shape's share of
/// the one-core peak of its type (f64: half the f32 peak).
pub fn table(top: usize, peak_f32: Option<f64>) -> String {
    let all = snapshot();
    let total_s: f64 = all.iter().map(|s| s.seconds).sum();
    let total_f: f64 = all.iter().map(|s| s.flops()).sum();
    let total_calls: u64 = all.iter().map(|s| s.calls).sum();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>4} {:>6} {:>6} {:>6} {:>3} {:>9} {:>9} {:>6} {:>9} {:>8}{}",
        "type",
        "m",
        "k",
        "n",
        "op",
        "calls",
        "time s",
        "time%",
        "us/call",
        "GFLOP/s",
        if peak_f32.is_some() { "  %peak" } else { "" }
    );
    let shown = if top == 0 {
        all.len()
    } else {
        top.min(all.len())
    };
    for s in &all[..shown] {
        let peak = peak_f32.map(|p| match s.key.dtype {
            DType::F32 => p,
            DType::F64 => p / 2.0,
        });
        let _ = writeln!(
            out,
            "{:>4} {:>6} {:>6} {:>6} {:>3} {:>9} {:>9.3} {:>5.1}% {:>9.2} {:>8.1}{}",
            match s.key.dtype {
                DType::F32 => "f32",
                DType::F64 => "f64",
            },
            s.key.m,
            s.key.k,
            s.key.n,
            s.key.layout_str(),
            s.calls,
            s.seconds,
            100.0 * s.seconds / total_s.max(f64::MIN_POSITIVE),
            1e6 * s.seconds / s.calls.max(1) as f64,
            s.gflops(),
            peak.map(|p| format!(" {:>5.1}%", 100.0 * s.gflops() / p))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(
        out,
        "total: {} shapes ({} shown), {} calls, {:.3} s, {:.1} GFLOP, {:.1} GFLOP/s",
        all.len(),
        shown,
        total_calls,
        total_s,
        total_f * 1e-9,
        total_f * 1e-9 / total_s.max(f64::MIN_POSITIVE)
    );
    out
}
