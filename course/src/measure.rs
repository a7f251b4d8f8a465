//! Measuring what a complexity claim predicts: wall time, peak heap bytes, and the slope
//! of a log–log fit (time ∝ Nᵇ has slope b).
//!
//! Heap bytes come from [`CountingAlloc`], the system allocator with two counters; an
//! example that reports memory installs it as its global allocator:
//!
//! ```
//! use course::measure::{peak_extra_bytes, CountingAlloc};
//!
//! #[global_allocator]
//! static ALLOCATOR: CountingAlloc = CountingAlloc;
//!
//! let bytes = peak_extra_bytes(|| vec![0u8; 1 << 20]);
//! assert!(bytes >= 1 << 20);
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Median wall time of `reps` calls of `f`, in seconds (the median, because on a shared
/// machine noise only ever adds time, and occasionally a lot).
///
/// ```
/// let t = course::measure::median_time(5, || (0..1000u64).sum::<u64>());
/// assert!(t >= 0.0 && t < 1.0);
/// ```
pub fn median_time<R>(reps: usize, mut f: impl FnMut() -> R) -> f64 {
    assert!(reps > 0, "median_time: reps must be at least 1");
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[reps / 2]
}

/// Least-squares intercept `a` and slope `b` of `ln y = a + b ln x`.
///
/// ```
/// let xs = [1.0, 2.0, 4.0, 8.0];
/// let ys: Vec<f64> = xs.iter().map(|x: &f64| 3.0 * x.powi(2)).collect();
/// let (a, b) = course::measure::loglog_fit(&xs, &ys);
/// assert!((b - 2.0).abs() < 1e-12 && (a - 3f64.ln()).abs() < 1e-12);
/// ```
pub fn loglog_fit(xs: &[f64], ys: &[f64]) -> (f64, f64) {
    assert_eq!(xs.len(), ys.len(), "loglog_fit: as many x as y");
    let lx: Vec<f64> = xs.iter().map(|x| x.ln()).collect();
    let ly: Vec<f64> = ys.iter().map(|y| y.ln()).collect();
    let k = lx.len() as f64;
    let (mx, my) = (lx.iter().sum::<f64>() / k, ly.iter().sum::<f64>() / k);
    let sxy: f64 = lx.iter().zip(&ly).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = lx.iter().map(|x| (x - mx) * (x - mx)).sum();
    let b = sxy / sxx;
    (my - b * mx, b)
}

/// The system allocator, counting the bytes live on the heap and their high-water mark,
/// so an example can report the memory a computation really used rather than a count of
/// the tensors it should allocate. Install it with `#[global_allocator]` (see the module
/// docs); [`peak_extra_bytes`] refuses to measure without it.
pub struct CountingAlloc;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to `System`; the counters only observe sizes.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

/// Peak heap bytes above what was live when `f` started, over one call of `f` (its
/// result included, since it is alive until `f` returns). Run it warm: buffers that the
/// GEMM keeps between calls were allocated by an earlier call and are not counted.
///
/// Panics if [`CountingAlloc`] is not the global allocator: every figure would be 0.
pub fn peak_extra_bytes<R>(f: impl FnOnce() -> R) -> usize {
    let before = LIVE.load(Ordering::Relaxed);
    let probe = std::hint::black_box(Box::new([0u8; 64]));
    let installed = LIVE.load(Ordering::Relaxed) != before;
    drop(probe);
    assert!(
        installed,
        "peak_extra_bytes needs `#[global_allocator] static A: CountingAlloc = CountingAlloc;`"
    );
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let r = f();
    let peak = PEAK.load(Ordering::Relaxed);
    drop(r);
    peak.saturating_sub(base)
}

#[cfg(test)]
mod tests {
    // This test binary does not install `CountingAlloc`, so a measurement would read 0.
    #[test]
    #[should_panic(expected = "needs `#[global_allocator]")]
    fn peak_bytes_without_the_counting_allocator_is_refused() {
        super::peak_extra_bytes(|| vec![0u8; 1024]);
    }
}
