//! General matrix multiply `C = alpha * op(A) * op(B) + beta * C`, BLIS-style.
//!
//! The product is computed the way Goto and van de Geijn (and BLIS after them) describe,
//! in one file per concern:
//!
//! - `driver.rs` runs the five loops around the micro-kernel (NC → KC → MC → NR → MR),
//!   each block sized so that the operand it reuses stays in one level of the cache
//!   hierarchy; operands too small or too little reused to pay for packing are read in
//!   place through their strides (only their ragged edge panels are packed);
//! - `pack.rs` copies a KC×NC block of `op(B)` into NR-column panels and an MC×KC block of
//!   `op(A)` into MR-row panels (zero-padded, in 64-byte-aligned thread-local buffers
//!   reused across calls), reading transposed operands through their strides — nothing is
//!   ever transposed in memory;
//! - `kernels/` holds the register-blocked MR×NR FMA micro-kernels, one file per ISA
//!   (portable scalar 4×4; AVX2+FMA 6×16 f32 / 6×8 f64; AVX-512F 14×32 f32 / 8×24 f64,
//!   with shorter tiles when m fits those better; NEON 8×8 / 8×4 on aarch64), with the block
//!   sizes of each and the arithmetic behind them;
//! - `dispatch.rs` picks the best kernel the CPU supports at run time, or the one forced
//!   by [`set_kernel`] / `FERROGRAD_GEMM_KERNEL`, the tile height by m, and whether to
//!   compute `Cᵀ = op(B)ᵀ·op(A)ᵀ` instead when that pads the tiles less (`orientation`);
//! - `threading.rs` splits large products over a thread count chosen by size, capped by
//!   [`set_num_threads`] / `FERROGRAD_NUM_THREADS`; `shared_b.rs` is the threaded driver
//!   in which the threads share each packed block of B;
//! - `skinny.rs` handles, on AVX-512 and AVX2, products with at most 4 rows or 4 columns
//!   (a linear probe's logits and weight gradient) with loops that pad nothing (`avx2_masked.rs`
//!   gives the AVX2 copy the masked loads and stores AVX-512 has);
//! - `dot.rs` handles, on AVX-512 (and AVX2 for `f32`), products with 5 to 24 columns
//!   and a long inner dimension (`X·Wᵀ` and `X·W` into a narrow layer) as
//!   register-blocked dot products;
//! - `small.rs` handles tiny products (a few hundred multiply-adds, the limit measured per
//!   kernel and shape) with a plain loop;
//! - `stats.rs` optionally records the calls per shape (off by default; see [`stats`]).
//!
//! The generic entry point [`gemm`] dispatches on `T::DTYPE` to the `f32` or `f64`
//! implementation through `bytemuck` casts (a no-op at run time).
//!
//! Knobs (process-wide; tests of every kernel use them):
//! - [`available_kernels`], [`kernel`], [`set_kernel`], [`try_set_kernel`], [`Kernel`]
//!   and the environment variable `FERROGRAD_GEMM_KERNEL=scalar|avx2|avx512|neon` (read on
//!   first use); forcing a kernel the CPU cannot run is an error or a clear panic, never
//!   undefined behaviour;
//! - [`set_num_threads`], [`num_threads`] and `FERROGRAD_NUM_THREADS` (default: all cores),
//!   and [`set_num_threads_here`] for the calling thread alone;
//! - [`check_env`] parses those variables (and `FERROGRAD_GEMM_KC`/`_MC`/`_NC`) up front,
//!   so a program can refuse a bad value before it starts instead of panicking at the
//!   first product;
//! - [`stats::set_enabled`], [`stats::table`]: calls, time and GFLOP/s per shape (off by
//!   default; the course examples turn it on with `FERROGRAD_GEMM_STATS=1`).

#[cfg(target_arch = "x86_64")]
mod avx2_masked;
mod cache;
mod dispatch;
mod dot;
mod driver;
mod env;
mod kernels;
mod pack;
mod shared_b;
mod skinny;
mod small;
pub mod stats;
mod threading;
#[cfg(target_arch = "x86_64")]
mod transpose;
#[cfg(target_arch = "x86_64")]
mod transpose_avx2;

pub use cache::{cache_sizes, Blocking, CacheSizes};
pub use dispatch::{
    available_kernels, blocking, kernel, set_kernel, try_set_kernel, Kernel, KernelError,
};
pub use env::check_env;
pub use threading::{num_threads, set_num_threads, set_num_threads_here, thread_threshold};

use crate::{DType, Float};

/// Hooks for tests and benchmarks; not part of the stable API.
#[doc(hidden)]
pub mod testing {
    use std::sync::atomic::Ordering;

    /// Enables (default) or disables the unpacked small-product path, so tests can send
    /// tiny shapes through the packed driver.
    pub fn set_small_path(enabled: bool) {
        super::small::ENABLED.store(enabled, Ordering::Relaxed);
    }

    /// Enables (default) or disables the AVX-512 and AVX2 loops for products with at most
    /// four rows or columns (`skinny.rs`), so tests and benchmarks can compare them with
    /// the blocked driver.
    pub fn set_skinny_path(enabled: bool) {
        super::skinny::ENABLED.store(enabled, Ordering::Relaxed);
    }

    /// Enables (default) or disables the dot-product loops for narrow products
    /// (`dot.rs`), so tests and benchmarks can compare them with the blocked driver.
    pub fn set_dot_path(enabled: bool) {
        super::dot::ENABLED.store(enabled, Ordering::Relaxed);
    }

    /// Forces KC, MC, NC for every kernel (`None` returns to the sizes derived from the
    /// caches), so tests can make tiny shapes cross every block boundary.
    pub fn set_blocking(kc_mc_nc: Option<(usize, usize, usize)>) {
        let (kc, mc, nc) = kc_mc_nc.unwrap_or((0, 0, 0));
        for (slot, v) in super::dispatch::BLOCKING_OVERRIDE.iter().zip([kc, mc, nc]) {
            slot.store(v, Ordering::Relaxed);
        }
    }

    /// Sets the minimum multiply-adds per thread (`None` restores the threshold measured
    /// on this machine), so tests can exercise the threaded split on tiny shapes.
    pub fn set_min_fmas_per_thread(n: Option<usize>) {
        super::threading::MIN_FMAS.store(n.unwrap_or(0), Ordering::Relaxed);
    }

    /// Forces the orientation of products on the blocked driver: `Some(true)` computes
    /// every one as `Cᵀ = op(B)ᵀ·op(A)ᵀ`, `Some(false)` none, `None` (default) lets the
    /// cost model choose (`dispatch::orientation`), so tests can check the transposed path
    /// on any shape and kernel, and benchmarks can compare the two.
    pub fn set_transposed_c(force: Option<bool>) {
        let v = match force {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        };
        super::dispatch::ORIENTATION_OVERRIDE.store(v, Ordering::Relaxed);
    }

    /// How many products so far were computed transposed (`Cᵀ = op(B)ᵀ·op(A)ᵀ`), so
    /// tests can check that the cost model picks it for their shapes.
    pub fn transposed_runs() -> usize {
        super::driver::TRANSPOSED_RUNS.load(Ordering::Relaxed)
    }

    /// How many products so far had their last few columns computed by the AVX-512
    /// few-columns loop after the tiles (`skinny::edge_columns`), so tests can check
    /// that their shapes reach it.
    pub fn edge_runs() -> usize {
        super::skinny::EDGE_RUNS.load(Ordering::Relaxed)
    }

    /// How many products this thread has computed with the loops for at most four rows or
    /// columns (`skinny.rs`, AVX-512 or AVX2), so tests can check that their shapes reach
    /// them.
    pub fn skinny_runs_here() -> usize {
        super::skinny::RUNS.with(|runs| runs.get())
    }

    /// How many products so far took the dot-product loops (`dot.rs`), so tests
    /// can check that their shapes reach them.
    pub fn dot_runs() -> usize {
        super::dot::RUNS.load(Ordering::Relaxed)
    }

    /// The shortest inner dimension, in vectors, from which an n-column product takes
    /// the dot-product loops (`dot::min_k_vectors`), so tests can place their depths at
    /// the rule's boundary without restating it.
    pub fn dot_min_k_vectors(n: usize) -> usize {
        super::dot::min_k_vectors(n)
    }

    /// How many products so far took the multi-threaded driver that shares packed B
    /// blocks, so tests can check that their shapes reach it.
    pub fn shared_b_runs() -> usize {
        super::shared_b::RUNS.load(Ordering::Relaxed)
    }
}

/// A read-only strided matrix view: element `(i, j)` is `data[i * row_stride + j * col_stride]`.
///
/// `t()` swaps the roles of rows and columns, which is how a transposed operand reaches
/// the GEMM: the packing routines read through the strides, so nothing is copied.
///
/// Any strides are accepted, zero included: `row_stride == 0` repeats one row (a
/// broadcast bias, say), `col_stride == 0` one column.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, T> {
    /// Backing storage.
    pub data: &'a [T],
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Distance in elements between vertically adjacent elements.
    pub row_stride: usize,
    /// Distance in elements between horizontally adjacent elements.
    pub col_stride: usize,
}

impl<'a, T> MatRef<'a, T> {
    /// A row-major `rows x cols` matrix stored densely in `data`.
    #[track_caller]
    pub fn new(data: &'a [T], rows: usize, cols: usize) -> Self {
        assert!(
            data.len() >= rows * cols,
            "MatRef::new: a {rows}x{cols} matrix needs {} elements, the slice has {}",
            rows * cols,
            data.len()
        );
        MatRef {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose, as a view (no copy).
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    /// The `rows x cols` sub-matrix starting at `(r0, c0)`; the caller keeps it inside `self`.
    pub(crate) fn sub(self, r0: usize, rows: usize, c0: usize, cols: usize) -> Self {
        debug_assert!(r0 + rows <= self.rows && c0 + cols <= self.cols);
        let data = if rows == 0 || cols == 0 {
            &self.data[..0]
        } else {
            &self.data[r0 * self.row_stride + c0 * self.col_stride..]
        };
        MatRef {
            data,
            rows,
            cols,
            row_stride: self.row_stride,
            col_stride: self.col_stride,
        }
    }

    /// Whether every element the view addresses lies inside `data` (no overflow either).
    fn in_bounds(&self) -> bool {
        if self.rows == 0 || self.cols == 0 {
            return true;
        }
        let last = (self.rows - 1)
            .checked_mul(self.row_stride)
            .and_then(|r| (self.cols - 1).checked_mul(self.col_stride)?.checked_add(r));
        matches!(last, Some(l) if l < self.data.len())
    }
}

/// A mutable row-major matrix view with a leading dimension (`row_stride >= cols`).
#[derive(Debug)]
pub struct MatMut<'a, T> {
    /// Backing storage.
    pub data: &'a mut [T],
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Distance in elements between vertically adjacent elements.
    pub row_stride: usize,
}

impl<'a, T> MatMut<'a, T> {
    /// A row-major `rows x cols` matrix stored densely in `data`.
    #[track_caller]
    pub fn new(data: &'a mut [T], rows: usize, cols: usize) -> Self {
        assert!(
            data.len() >= rows * cols,
            "MatMut::new: a {rows}x{cols} matrix needs {} elements, the slice has {}",
            rows * cols,
            data.len()
        );
        MatMut {
            data,
            rows,
            cols,
            row_stride: cols,
        }
    }

    /// Columns `c0 .. c0 + cols` of every row, borrowed from this view (no copy). `c0` is
    /// at most the row length, as in the driver's split of C into its tiles and its last
    /// few columns.
    pub(crate) fn columns(&mut self, c0: usize, cols: usize) -> MatMut<'_, T> {
        debug_assert!(c0 + cols <= self.cols);
        MatMut {
            data: &mut self.data[c0..],
            rows: self.rows,
            cols,
            row_stride: self.row_stride,
        }
    }

    /// Whether rows do not overlap and every element lies inside `data`.
    fn in_bounds(&self) -> bool {
        if self.rows == 0 || self.cols == 0 {
            return true;
        }
        if self.rows > 1 && self.row_stride < self.cols {
            return false;
        }
        let last = (self.rows - 1)
            .checked_mul(self.row_stride)
            .and_then(|r| r.checked_add(self.cols - 1));
        matches!(last, Some(l) if l < self.data.len())
    }
}

/// `C = alpha * A * B + beta * C` where `A` is `m x k`, `B` is `k x n`, `C` is `m x n`.
///
/// Pass `a.t()` / `b.t()` for transposed operands. With `beta == 0`, `C` is written without
/// being read, so it may hold garbage (even NaN) on entry, as in BLAS. With `alpha == 0`
/// (or `k == 0`) neither `A` nor `B` is read and `C` becomes `beta * C`.
///
/// Panics if the shapes do not fit, naming all three, if a view addresses elements
/// outside its slice, or if a `MatMut` of several rows has `row_stride < cols` (zero
/// included: its rows would overlap).
#[track_caller]
pub fn gemm<T: Float>(alpha: T, a: MatRef<'_, T>, b: MatRef<'_, T>, beta: T, c: MatMut<'_, T>) {
    assert!(
        a.cols == b.rows && c.rows == a.rows && c.cols == b.cols,
        "gemm: A is {}x{}, B is {}x{}, C is {}x{}: need A.cols == B.rows and C = A.rows x B.cols",
        a.rows,
        a.cols,
        b.rows,
        b.cols,
        c.rows,
        c.cols
    );
    // Checked on its own for a clear message: a zero (or short) row stride is a valid
    // broadcast for a read-only view, but would make C's rows alias one another.
    assert!(
        c.rows <= 1 || c.row_stride >= c.cols,
        "gemm: C's rows overlap: a MatMut needs row_stride >= cols, got row_stride {} \
         for {} columns ({} rows)",
        c.row_stride,
        c.cols,
        c.rows
    );
    assert!(
        a.in_bounds() && b.in_bounds() && c.in_bounds(),
        "gemm: a view addresses elements outside its slice (A {}x{} strides ({}, {}) len {}, \
         B {}x{} strides ({}, {}) len {}, C {}x{} row_stride {} len {})",
        a.rows,
        a.cols,
        a.row_stride,
        a.col_stride,
        a.data.len(),
        b.rows,
        b.cols,
        b.row_stride,
        b.col_stride,
        b.data.len(),
        c.rows,
        c.cols,
        c.row_stride,
        c.data.len()
    );
    // Dispatch on the element type. `T::DTYPE` is a constant, so the match folds away, and
    // the casts between `[T]` and `[f32]`/`[f64]` are checked reinterpretations of the same
    // bytes (they can only fail if a foreign type lied about its DTYPE: a panic, never UB).
    if stats::enabled() {
        let key = stats::key(T::DTYPE, &a, &b);
        let start = std::time::Instant::now();
        gemm_dispatch(alpha, a, b, beta, c);
        stats::record(key, start);
    } else {
        gemm_dispatch(alpha, a, b, beta, c);
    }
}

/// Calls the `f32` or `f64` driver.
#[inline(always)]
fn gemm_dispatch<T: Float>(
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) {
    match T::DTYPE {
        DType::F32 => driver::gemm_typed::<f32>(
            bytemuck::cast(alpha),
            cast_ref(a),
            cast_ref(b),
            bytemuck::cast(beta),
            cast_mut(c),
        ),
        DType::F64 => driver::gemm_typed::<f64>(
            bytemuck::cast(alpha),
            cast_ref(a),
            cast_ref(b),
            bytemuck::cast(beta),
            cast_mut(c),
        ),
    }
}

fn cast_ref<T: Float, U: Float>(m: MatRef<'_, T>) -> MatRef<'_, U> {
    MatRef {
        data: bytemuck::cast_slice(m.data),
        rows: m.rows,
        cols: m.cols,
        row_stride: m.row_stride,
        col_stride: m.col_stride,
    }
}

fn cast_mut<T: Float, U: Float>(m: MatMut<'_, T>) -> MatMut<'_, U> {
    MatMut {
        data: bytemuck::cast_slice_mut(m.data),
        rows: m.rows,
        cols: m.cols,
        row_stride: m.row_stride,
    }
}
