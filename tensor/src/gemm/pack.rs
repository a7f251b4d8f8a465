//! Packing: copy a block of `op(A)` / `op(B)` into the contiguous, zero-padded panel
//! layout the micro-kernels stream through, reading the source through its strides (so a
//! transposed operand costs nothing extra), into 64-byte-aligned thread-local buffers that
//! are reused across calls.
//!
//! Layouts (`kc` = block depth):
//! - A block (`mc x kc`) → ⌈mc/MR⌉ panels of `kc * MR` elements; in a panel, step `p`
//!   holds `A[i0 .. i0+MR, p]` (one column slice of MR rows). Rows past `mc` are zero.
//! - B block (`kc x nc`) → ⌈nc/NR⌉ panels of `kc * NR` elements; in a panel, step `p`
//!   holds `B[p, j0 .. j0+NR]`. Columns past `nc` are zero.

use std::cell::RefCell;

use super::dispatch::Elem;
use super::MatRef;

/// One cache line: the allocation unit of the packing buffers, so they start 64-aligned.
#[derive(Clone, Copy, bytemuck::Zeroable, bytemuck::Pod)]
#[repr(C, align(64))]
struct Line([u8; 64]);

/// A growable, 64-byte-aligned scratch buffer.
#[derive(Default)]
pub(crate) struct AlignedBuf(Vec<Line>);

impl AlignedBuf {
    /// The first `len` elements, growing the allocation if needed (contents unspecified:
    /// packing overwrites every element the kernels read).
    pub(crate) fn get<E: Elem>(&mut self, len: usize) -> &mut [E] {
        let bytes = len * std::mem::size_of::<E>();
        let lines = bytes.div_ceil(64);
        if self.0.len() < lines {
            self.0.resize(lines, Line([0; 64]));
        }
        &mut bytemuck::cast_slice_mut::<Line, E>(&mut self.0[..lines])[..len]
    }
}

/// One thread's scratch space: packed A, packed B, and the edge tile.
#[derive(Default)]
pub(crate) struct Buffers {
    pub a: AlignedBuf,
    pub b: AlignedBuf,
    pub tile: AlignedBuf,
}

thread_local! {
    /// This thread's buffers, kept across calls so steady-state GEMMs never allocate.
    static BUFFERS: RefCell<Buffers> = RefCell::default();
}

/// Runs `f` with this thread's buffers (or fresh ones if they are in use, which cannot
/// happen unless `f` re-enters the GEMM on the same thread).
pub(crate) fn with_buffers<R>(f: impl FnOnce(&mut Buffers) -> R) -> R {
    BUFFERS.with(|cell| match cell.try_borrow_mut() {
        Ok(mut bufs) => f(&mut bufs),
        Err(_) => f(&mut Buffers::default()),
    })
}

// ANCHOR: pack_a
/// Packs the whole view `a` (`mc x kc`) into MR-row panels in `out`
/// (`out.len() == ⌈mc/MR⌉ * MR * kc`).
pub(crate) fn pack_a<E: Elem>(a: MatRef<'_, E>, mr: usize, out: &mut [E]) {
    let (mc, kc) = (a.rows, a.cols);
    debug_assert_eq!(out.len(), mc.div_ceil(mr) * mr * kc);
    if kc == 0 {
        return;
    }
    for (q, panel) in out.chunks_exact_mut(mr * kc).enumerate() {
        let i0 = q * mr;
        let rows = mr.min(mc - i0);
        if a.row_stride == 1 {
            // Column-major A (a transposed operand, e.g. gradᵀ in the weight gradient):
            // each step is `rows` contiguous elements (zero-padded to MR in the last
            // panel, which for m < MR, like the 10 classes of a linear probe, is all of A),
            // which is a row-major B's panel of Aᵀ.
            pack_row_runs(a.t(), mr, i0, rows, panel);
            continue;
        }
        if a.col_stride == 1 {
            // Row-major A: each of the MR rows is contiguous along k; gather one element
            // of each per step (see `pack_transposed`).
            pack_transposed(a.data, i0 * a.row_stride, a.row_stride, rows, mr, kc, panel);
            continue;
        }
        for i in 0..rows {
            let start = (i0 + i) * a.row_stride;
            let dst = panel.iter_mut().skip(i).step_by(mr);
            // Index arithmetic rather than `step_by`, which panics on a zero stride
            // (a broadcast view, e.g. one row repeated) and such views are valid.
            for (p, d) in dst.enumerate() {
                *d = a.data[start + p * a.col_stride];
            }
        }
        if rows < mr {
            for step in panel.chunks_exact_mut(mr) {
                step[rows..].fill(E::ZERO);
            }
        }
    }
}

// ANCHOR_END: pack_a

/// Packs the whole view `b` (`kc x nc`) into NR-column panels in `out`
/// (`out.len() == ⌈nc/NR⌉ * NR * kc`).
pub(crate) fn pack_b<E: Elem>(b: MatRef<'_, E>, nr: usize, out: &mut [E]) {
    let (kc, nc) = (b.rows, b.cols);
    debug_assert_eq!(out.len(), nc.div_ceil(nr) * nr * kc);
    if kc == 0 {
        return;
    }
    for (q, panel) in out.chunks_exact_mut(nr * kc).enumerate() {
        let j0 = q * nr;
        let cols = nr.min(nc - j0);
        if b.col_stride == 1 {
            pack_row_runs(b, nr, j0, cols, panel);
            continue;
        }
        if b.row_stride == 1 {
            // Column-major B (a transposed operand, e.g. Wᵀ in the forward pass x·Wᵀ):
            // each of the NR columns is contiguous along k.
            pack_transposed(b.data, j0 * b.col_stride, b.col_stride, cols, nr, kc, panel);
            continue;
        }
        for j in 0..cols {
            let start = (j0 + j) * b.col_stride;
            let dst = panel.iter_mut().skip(j).step_by(nr);
            // As in `pack_a`: a zero stride is valid, `step_by(0)` would panic.
            for (p, d) in dst.enumerate() {
                *d = b.data[start + p * b.row_stride];
            }
        }
        if cols < nr {
            for step in panel.chunks_exact_mut(nr) {
                step[cols..].fill(E::ZERO);
            }
        }
    }
}

// ANCHOR: pack_transposed
/// One panel whose `lanes` source lines (rows of a row-major A, columns of a
/// column-major B) are each contiguous along k: line `l` is
/// `src[base + l*ld .. base + l*ld + kc]`, and step `p` of the panel gets element `p`
/// of every line (`width - lanes` zeros after them).
///
/// This is a transpose, and the loop order matters: writing the panel step by step (one
/// contiguous `width`-element store per step) while reading `width` lines in parallel,
/// each sequentially, keeps both sides streaming. Going line by line instead writes every
/// element `width` elements apart, a cache line per element once the panel outgrows L1
/// (the 784×192 weight of the autoencoder's forward pass packs into a 100 KiB panel).
/// With the width a compile-time constant the per-step loop unrolls completely.
pub(super) fn pack_transposed<E: Elem>(
    src: &[E],
    base: usize,
    ld: usize,
    lanes: usize,
    width: usize,
    kc: usize,
    panel: &mut [E],
) {
    // With a vector kernel, the same panel a vector of elements per instruction (see
    // `transpose` and `transpose_avx2`). It follows the kernel in use, so forcing another
    // kernel forces its packing too.
    #[cfg(target_arch = "x86_64")]
    {
        use super::dispatch::{kernel, Kernel};
        use super::{transpose as x512, transpose_avx2 as x256};
        use bytemuck::{cast_slice as cast, cast_slice_mut as cast_mut};
        let (s, p) = (src, &mut *panel);
        match (kernel(), E::DTYPE) {
            (Kernel::Avx512, crate::DType::F32) => {
                return x512::pack_transposed_f32(cast(s), base, ld, lanes, width, kc, cast_mut(p))
            }
            (Kernel::Avx512, crate::DType::F64) => {
                return x512::pack_transposed_f64(cast(s), base, ld, lanes, width, kc, cast_mut(p))
            }
            (Kernel::Avx2, crate::DType::F32) => {
                return x256::pack_transposed_f32(cast(s), base, ld, lanes, width, kc, cast_mut(p))
            }
            (Kernel::Avx2, crate::DType::F64) => {
                return x256::pack_transposed_f64(cast(s), base, ld, lanes, width, kc, cast_mut(p))
            }
            _ => {}
        }
    }
    match (width, lanes == width) {
        (4, true) => transpose_full::<E, 4>(src, base, ld, kc, panel),
        (6, true) => transpose_full::<E, 6>(src, base, ld, kc, panel),
        (8, true) => transpose_full::<E, 8>(src, base, ld, kc, panel),
        (14, true) => transpose_full::<E, 14>(src, base, ld, kc, panel),
        (16, true) => transpose_full::<E, 16>(src, base, ld, kc, panel),
        (32, true) => transpose_full::<E, 32>(src, base, ld, kc, panel),
        _ => {
            // A partial edge panel (or an unusual width): the same order, run-time width.
            for (p, dst) in panel.chunks_exact_mut(width).enumerate() {
                for (l, d) in dst[..lanes].iter_mut().enumerate() {
                    *d = src[base + l * ld + p];
                }
                dst[lanes..].fill(E::ZERO);
            }
        }
    }
}

/// The unchecked loop of a vector copy of [`pack_transposed`] (`transpose`,
/// `transpose_avx2`): `(src + base, ld, lanes, width, kc, panel)`, reading the lines
/// `src + base + l·ld .. + kc` (`l < lanes`) and writing `kc·width` elements of `panel`.
#[cfg(target_arch = "x86_64")]
pub(super) type UncheckedTransposedPack<E> =
    unsafe fn(*const E, usize, usize, usize, usize, &mut [E]);

/// Runs a vector copy of [`pack_transposed`] after the checks that make its loop safe,
/// shared by every copy: the CPU runs its instruction set (`cpu_runs_it`), `lanes ≤
/// width`, the panel holds `kc·width` elements, and every line `base + l·ld .. + kc`
/// (`l < lanes`) lies inside `src`.
///
/// # Panics
/// If one of them does not hold.
#[cfg(target_arch = "x86_64")]
pub(super) fn run_transposed_pack<E>(
    unchecked: UncheckedTransposedPack<E>,
    cpu_runs_it: bool,
    src: &[E],
    (base, ld, lanes): (usize, usize, usize),
    (width, kc): (usize, usize),
    panel: &mut [E],
) {
    assert!(
        cpu_runs_it,
        "a vector pack was called on a CPU without its instructions"
    );
    assert!(lanes <= width && panel.len() >= kc * width);
    if lanes > 0 && kc > 0 {
        assert!(base + (lanes - 1) * ld + kc <= src.len());
    }
    let lines = src.as_ptr().wrapping_add(base);
    // SAFETY: the instruction set and every line and step are checked just above.
    unsafe { unchecked(lines, ld, lanes, width, kc, panel) }
}

#[inline(always)]
fn transpose_full<E: Elem, const W: usize>(
    src: &[E],
    base: usize,
    ld: usize,
    kc: usize,
    panel: &mut [E],
) {
    // The W lines as slices of exactly kc elements: one bounds check per line here, none
    // in the loop below.
    let lines: [&[E]; W] = std::array::from_fn(|l| &src[base + l * ld..][..kc]);
    for (p, dst) in panel.chunks_exact_mut(W).enumerate().take(kc) {
        let dst: &mut [E; W] = dst.try_into().expect("chunk of W");
        for l in 0..W {
            dst[l] = lines[l][p];
        }
    }
}
// ANCHOR_END: pack_transposed

/// One `nr`-column panel of a row-major B (`b.col_stride == 1`), columns
/// `j0 .. j0 + cols`: each step is a contiguous run of a row (of a column-major A's
/// columns, for `pack_a`, through `Aᵀ`). Compiled for the widest vectors the CPU has (see
/// [`crate::simd`]): the crate's baseline moves 16 bytes at a time, AVX-512 a 32-wide
/// `f32` step in two.
fn pack_row_runs<E: Elem>(b: MatRef<'_, E>, nr: usize, j0: usize, cols: usize, panel: &mut [E]) {
    crate::dispatch_simd!(pack_b_rows_any(b, nr, j0, cols, panel))
}

/// [`pack_b_rows`] for the kernels' panel widths (NR, and MR for `pack_a`), the width a
/// compile-time constant so that the copies are inlined vector moves instead of two libc
/// calls (memcpy + memset) per row, which dominated narrow products.
#[inline(always)]
fn pack_b_rows_any<E: Elem>(b: MatRef<'_, E>, nr: usize, j0: usize, cols: usize, panel: &mut [E]) {
    match nr {
        4 => pack_b_rows::<E, 4>(b, j0, cols, panel),
        8 => pack_b_rows::<E, 8>(b, j0, cols, panel),
        10 => pack_b_rows::<E, 10>(b, j0, cols, panel),
        14 => pack_b_rows::<E, 14>(b, j0, cols, panel),
        16 => pack_b_rows::<E, 16>(b, j0, cols, panel),
        24 => pack_b_rows::<E, 24>(b, j0, cols, panel),
        32 => pack_b_rows::<E, 32>(b, j0, cols, panel),
        _ => {
            for (p, dst) in panel.chunks_exact_mut(nr).enumerate() {
                let s = p * b.row_stride + j0;
                dst[..cols].copy_from_slice(&b.data[s..s + cols]);
                dst[cols..].fill(E::ZERO);
            }
        }
    }
}

crate::simd_copies! {
    fn pack_b_rows_any[E: Elem](b: MatRef<'_, E>, nr: usize, j0: usize, cols: usize, panel: &mut [E]);
}

/// One NR-column panel of a row-major B (see [`pack_row_runs`]).
#[inline(always)]
fn pack_b_rows<E: Elem, const NR: usize>(
    b: MatRef<'_, E>,
    j0: usize,
    cols: usize,
    panel: &mut [E],
) {
    if cols == NR {
        for (p, dst) in panel.chunks_exact_mut(NR).enumerate() {
            let s = p * b.row_stride + j0;
            let dst: &mut [E; NR] = dst.try_into().expect("chunk of NR");
            *dst = b.data[s..s + NR].try_into().expect("NR elements");
        }
        return;
    }
    // An edge panel reads each step full width where the slice allows and clears the
    // lanes from `cols` on with a byte mask (vector loads, ANDs and stores), where copying
    // `cols` elements went one element at a time: 57 % of a `10×200 · 200×20` product's
    // time (the 10-class probe's weight gradient on 20-wide codes).
    let width = NR * size_of::<E>();
    let mut keep = [0u8; 32 * 8];
    keep[..cols * size_of::<E>()].fill(!0);
    for (p, dst) in panel.chunks_exact_mut(NR).enumerate() {
        let s = p * b.row_stride + j0;
        if let Some(src) = b.data.get(s..s + NR) {
            let src: &[u8] = bytemuck::cast_slice(src);
            let out: &mut [u8] = bytemuck::cast_slice_mut(dst);
            for ((d, &v), &k) in out.iter_mut().zip(&src[..width]).zip(&keep[..width]) {
                *d = v & k;
            }
        } else {
            // The last steps, where a full-width read would leave the slice.
            let src = &b.data[s..s + cols];
            for (j, d) in dst.iter_mut().enumerate() {
                *d = src.get(j).copied().unwrap_or(E::ZERO);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The panel layout written out: step p of panel q holds B(p, q·nr + j) for the
    /// panel's columns and zeros after them.
    fn expected<E: Elem>(b: &MatRef<'_, E>, nr: usize) -> Vec<E> {
        let mut out = Vec::new();
        for j0 in (0..b.cols).step_by(nr) {
            for p in 0..b.rows {
                for j in j0..j0 + nr {
                    let inside = j < b.cols;
                    out.push(if inside {
                        b.data[p * b.row_stride + j]
                    } else {
                        E::ZERO
                    });
                }
            }
        }
        out
    }

    fn check<E: Elem>(value: impl Fn(usize) -> E) {
        // Every panel width of the kernels and one of the generic loop, for widths that
        // leave an edge panel of every size; B dense in an exactly sized slice (its last
        // steps cannot be read full width) and as a view narrower than its rows (the
        // full-width reads take in the columns beside it, which must not leak).
        for nr in [4, 8, 12, 16, 24, 32] {
            for cols in [1, 3, nr - 1, nr, nr + 5, 2 * nr + 1] {
                for (row_stride, extra) in [(cols, 0), (cols + 7, 3)] {
                    let kc = 5;
                    let data: Vec<E> = (0..kc * row_stride + extra).map(&value).collect();
                    let b = MatRef {
                        data: &data[..(kc - 1) * row_stride + cols],
                        rows: kc,
                        cols,
                        row_stride,
                        col_stride: 1,
                    };
                    let mut out = vec![E::ONE; cols.div_ceil(nr) * nr * kc];
                    pack_b(b, nr, &mut out);
                    let want = expected(&b, nr);
                    // The values are exact small numbers and zeros: `==` is a bit check here.
                    assert!(out == want, "nr {nr}, cols {cols}, row stride {row_stride}");
                }
            }
        }
    }

    #[test]
    fn row_major_panels_copy_the_columns_and_zero_the_rest() {
        // No zero among the values, so a lane left unwritten (ONE) or leaked from a
        // neighbouring column (nonzero) shows.
        check::<f32>(|i| i as f32 + 0.5);
        check::<f64>(|i| -(i as f64) - 0.25);
    }
}
