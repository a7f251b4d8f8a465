//! The transposing pack (`pack::pack_transposed`) on AVX-512: a vector's worth of lines
//! at a time (16 `f32`, 8 `f64`), as many steps at a time, through registers.
//!
//! Packing a row-major A, or a B that is the transpose of a row-major matrix (the `Wᵀ`
//! of every forward pass `x·Wᵀ`), is a transpose: step `p` of the panel takes element
//! `p` of each source line. The portable loop moves one element per load and store, so
//! it ran at about a tenth of the speed of the plain copies next to it (3.3 % of the
//! synthetic sweep's CPU time, scalar `movss` in the profile). Here sixteen full-vector
//! loads (one per line) are transposed in registers (`unpack` of 32-bit pairs, then of
//! 64-bit pairs, then two rounds of 128-bit lane shuffles: 64 shuffles for 256 elements)
//! and leave as sixteen vector stores, one per step; `f64` does the same eight by eight
//! (one round of pair unpacks, two of lane shuffles). Elements are only moved, never
//! computed on, so the panel is bit for bit the portable loop's.
//!
//! The same transposes merge the tiles of a product computed transposed into C
//! (`driver::merge_transposed`): a tile's columns become rows of C, one masked store each.

use std::arch::x86_64::*;

/// The public entry and its AVX-512 loop for one element type: `$E` with `$L` lanes per
/// vector, its mask type, intrinsics and in-register transpose.
macro_rules! pack_transposed_for {
    (
        $name:ident, $inner:ident, $E:ty, lanes = $L:literal, mask = $M:ty,
        mask_storeu = $storeu:path, columns = $columns:ident $(,)?
    ) => {
        /// Writes `panel[p·width + l] = src[base + l·ld + p]` for `l < lanes`, `p < kc`,
        /// and zeros in lanes `lanes .. width` of every step (`pack_transposed`'s layout).
        ///
        /// # Panics
        /// If a line or the panel lies outside its slice.
        pub(super) fn $name(
            src: &[$E],
            base: usize,
            ld: usize,
            lanes: usize,
            width: usize,
            kc: usize,
            panel: &mut [$E],
        ) {
            let avx512 = std::arch::is_x86_feature_detected!("avx512f");
            let (lines, steps) = ((base, ld, lanes), (width, kc));
            super::pack::run_transposed_pack($inner, avx512, src, lines, steps, panel);
        }

        /// # Safety
        /// AVX-512F; lines `src + l·ld .. + kc` (`l < lanes`) readable; `panel` holds
        /// `kc·width` elements.
        #[target_feature(enable = "avx512f")]
        unsafe fn $inner(
            src: *const $E,
            ld: usize,
            lanes: usize,
            width: usize,
            kc: usize,
            panel: &mut [$E],
        ) {
            let out = panel.as_mut_ptr();
            let full_steps = kc - kc % $L;
            for l0 in (0..lanes).step_by($L) {
                let n = (lanes - l0).min($L);
                let keep: $M = if n == $L { !0 } else { ((1u32 << n) - 1) as $M };
                for p0 in (0..full_steps).step_by($L) {
                    // SAFETY: lines l0 .. l0 + n, elements p0 .. p0 + L ≤ kc of each.
                    let cols = unsafe { $columns(src.add(l0 * ld + p0), ld, n) };
                    for (q, col) in cols.iter().enumerate() {
                        // SAFETY: step p0 + q < kc, lanes l0 .. l0 + n ≤ width.
                        unsafe { $storeu(out.add((p0 + q) * width + l0), keep, *col) };
                    }
                }
                for p in full_steps..kc {
                    for r in 0..n {
                        // SAFETY: as above, for the last kc % L steps.
                        unsafe { *out.add(p * width + l0 + r) = *src.add((l0 + r) * ld + p) };
                    }
                }
            }
            if lanes < width {
                for step in panel[..kc * width].chunks_exact_mut(width) {
                    step[lanes..].fill(0.0);
                }
            }
        }
    };
}

pack_transposed_for!(
    pack_transposed_f32,
    pack_avx512_f32,
    f32,
    lanes = 16,
    mask = __mmask16,
    mask_storeu = _mm512_mask_storeu_ps,
    columns = columns16,
);

pack_transposed_for!(
    pack_transposed_f64,
    pack_avx512_f64,
    f64,
    lanes = 8,
    mask = __mmask8,
    mask_storeu = _mm512_mask_storeu_pd,
    columns = columns8,
);

/// The transposing merge of an edge tile (`driver::merge_transposed`) for one element
/// type: `$L`×`$L` blocks of the tile through the same in-register transposes, each
/// column leaving as one masked store to a row of C.
macro_rules! merge_transposed_for {
    (
        $name:ident, $E:ty, lanes = $L:literal, mask = $M:ty,
        maskz_loadu = $mloadu:path, mask_storeu = $storeu:path, set1 = $set1:path,
        add = $add:path, mul = $mul:path, columns = $columns:ident,
        full = [$(($fm:literal, $fn:literal)),*] $(,)?
    ) => {
        /// `C[j][i] = tile[i·ld + j] + beta·C[j][i]` for `i < mrb`, `j < nrb`, C not read
        /// when `beta == 0`: the arithmetic of `merge_edge` (a product, then a sum; not
        /// fused), so each element gets the same bits.
        ///
        /// # Safety
        /// AVX-512F; for every `j < nrb`, the `mrb` elements from `c + j·rs` are valid
        /// for reading and writing and not otherwise aliased. (The tile is a slice: a
        /// block beyond it panics.) `full` lists the sizes of the kernels' full tiles.
        #[target_feature(enable = "avx512f")]
        pub(super) unsafe fn $name(
            tile: &[$E],
            ld: usize,
            c: *mut $E,
            rs: usize,
            mrb: usize,
            nrb: usize,
            beta: $E,
        ) {
            if mrb == 0 || nrb == 0 {
                return;
            }
            // Every block read is L whole elements of a tile row.
            let width = nrb.next_multiple_of($L);
            assert!(width <= ld && (mrb - 1) * ld + width <= tile.len());
            let (t, betav) = (tile.as_ptr(), $set1(beta));
            // The loops for one tile size: with constant sizes (the full tiles below) they
            // unroll, the zero rows of a short tile fold away and only the stores remain
            // of the per-column bookkeeping.
            macro_rules! merge {
                ($mrb:expr, $nrb:expr) => {{
                    let (mrb, nrb): (usize, usize) = ($mrb, $nrb);
                    for i0 in (0..mrb).step_by($L) {
                        let n = (mrb - i0).min($L);
                        let keep: $M = if n == $L { !0 } else { ((1u32 << n) - 1) as $M };
                        for j0 in (0..nrb).step_by($L) {
                            // SAFETY: rows i0 .. i0 + n ≤ mrb, elements j0 .. j0 + L ≤
                            // width of each (asserted inside the tile).
                            let cols = unsafe { $columns(t.add(i0 * ld + j0), ld, n) };
                            for (q, col) in cols.iter().enumerate().take(nrb - j0) {
                                // SAFETY: row j0 + q < nrb of the region, lanes i0 ..
                                // i0 + n ≤ mrb (the mask keeps the others untouched).
                                unsafe {
                                    let p = c.add((j0 + q) * rs + i0);
                                    let v = if beta == 0.0 {
                                        *col
                                    } else {
                                        $add(*col, $mul(betav, $mloadu(keep, p)))
                                    };
                                    $storeu(p, keep, v);
                                }
                            }
                        }
                    }
                }};
            }
            match (mrb, nrb) {
                $(($fm, $fn) => merge!($fm, $fn),)*
                _ => merge!(mrb, nrb),
            }
        }
    };
}

merge_transposed_for!(
    merge_transposed_f32,
    f32,
    lanes = 16,
    mask = __mmask16,
    maskz_loadu = _mm512_maskz_loadu_ps,
    mask_storeu = _mm512_mask_storeu_ps,
    set1 = _mm512_set1_ps,
    add = _mm512_add_ps,
    mul = _mm512_mul_ps,
    columns = columns16,
    full = [(14, 32), (12, 32), (10, 32)],
);

merge_transposed_for!(
    merge_transposed_f64,
    f64,
    lanes = 8,
    mask = __mmask8,
    maskz_loadu = _mm512_maskz_loadu_pd,
    mask_storeu = _mm512_mask_storeu_pd,
    set1 = _mm512_set1_pd,
    add = _mm512_add_pd,
    mul = _mm512_mul_pd,
    columns = columns8,
    full = [(8, 24), (10, 16)],
);

/// The 8×8 `f64` transpose: `out[c]` lane `r` is `rows[r]` lane `c`.
/// `columns16` / `columns8`: the columns of a block of `n ≤ L` lines of `L` elements at
/// `src`, `src + ld`, ... (lines `n..L` read as zeros), transposed in registers. The
/// one read that both the transposing pack and the transposing merge make.
macro_rules! block_columns {
    ($name:ident, $E:ty, $V:ty, lanes = $L:literal, loadu = $loadu:path, zero = $zero:path,
     transpose = $transpose:ident) => {
        /// # Safety
        /// AVX-512F; for `r < n`, the `L` elements from `src + r·ld` are readable.
        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn $name(src: *const $E, ld: usize, n: usize) -> [$V; $L] {
            let rows: [$V; $L] = std::array::from_fn(|r| {
                if r < n {
                    // SAFETY: line r < n, readable by the contract.
                    unsafe { $loadu(src.add(r * ld)) }
                } else {
                    $zero()
                }
            });
            $transpose(rows)
        }
    };
}

block_columns!(
    columns16,
    f32,
    __m512,
    lanes = 16,
    loadu = _mm512_loadu_ps,
    zero = _mm512_setzero_ps,
    transpose = transpose16
);
block_columns!(
    columns8,
    f64,
    __m512d,
    lanes = 8,
    loadu = _mm512_loadu_pd,
    zero = _mm512_setzero_pd,
    transpose = transpose8
);

#[inline]
#[target_feature(enable = "avx512f")]
fn transpose8(rows: [__m512d; 8]) -> [__m512d; 8] {
    // Pairs of rows: within each 128-bit lane j, t[2i] holds element 2j of rows 2i and
    // 2i + 1, t[2i + 1] element 2j + 1.
    let t: [__m512d; 8] = std::array::from_fn(|x| {
        let (a, b) = (rows[x & !1], rows[x | 1]);
        if x % 2 == 0 {
            _mm512_unpacklo_pd(a, b)
        } else {
            _mm512_unpackhi_pd(a, b)
        }
    });
    // Column 2j + e gathers lane j of t[e], t[2 + e], t[4 + e], t[6 + e]: two rounds of
    // 128-bit lane shuffles, as in `transpose16`.
    let mut out = [_mm512_setzero_pd(); 8];
    for e in 0..2 {
        let u0 = _mm512_shuffle_f64x2::<0x88>(t[e], t[2 + e]);
        let u1 = _mm512_shuffle_f64x2::<0xDD>(t[e], t[2 + e]);
        let v0 = _mm512_shuffle_f64x2::<0x88>(t[4 + e], t[6 + e]);
        let v1 = _mm512_shuffle_f64x2::<0xDD>(t[4 + e], t[6 + e]);
        out[e] = _mm512_shuffle_f64x2::<0x88>(u0, v0);
        out[4 + e] = _mm512_shuffle_f64x2::<0xDD>(u0, v0);
        out[2 + e] = _mm512_shuffle_f64x2::<0x88>(u1, v1);
        out[6 + e] = _mm512_shuffle_f64x2::<0xDD>(u1, v1);
    }
    out
}

/// The 16×16 transpose: `out[c]` lane `r` is `rows[r]` lane `c`.
#[inline]
#[target_feature(enable = "avx512f")]
fn transpose16(rows: [__m512; 16]) -> [__m512; 16] {
    // Pairs of rows, 32-bit interleave: within each 128-bit lane j, t[2i] holds elements
    // 4j, 4j+1 of rows 2i and 2i+1, t[2i+1] elements 4j+2, 4j+3.
    let t: [__m512; 16] = std::array::from_fn(|x| {
        let (a, b) = (rows[x & !1], rows[x | 1]);
        if x % 2 == 0 {
            _mm512_unpacklo_ps(a, b)
        } else {
            _mm512_unpackhi_ps(a, b)
        }
    });
    // Quads of rows, 64-bit interleave: u[4g + e], 128-bit lane j, is element 4j + e of
    // rows 4g .. 4g + 4.
    let u: [__m512; 16] = std::array::from_fn(|x| {
        let (g, e) = (x / 4, x % 4);
        let (a, b) = (
            _mm512_castps_pd(t[4 * g + e / 2]),
            _mm512_castps_pd(t[4 * g + 2 + e / 2]),
        );
        _mm512_castpd_ps(if e % 2 == 0 {
            _mm512_unpacklo_pd(a, b)
        } else {
            _mm512_unpackhi_pd(a, b)
        })
    });
    // Column 4j + e gathers lane j of u[e], u[4 + e], u[8 + e], u[12 + e]: two rounds of
    // 128-bit lane shuffles (0x88 picks lanes 0 and 2 of each input, 0xDD lanes 1 and 3).
    let mut out = [_mm512_setzero_ps(); 16];
    for e in 0..4 {
        let v0 = _mm512_shuffle_f32x4::<0x88>(u[e], u[4 + e]);
        let v1 = _mm512_shuffle_f32x4::<0xDD>(u[e], u[4 + e]);
        let v2 = _mm512_shuffle_f32x4::<0x88>(u[8 + e], u[12 + e]);
        let v3 = _mm512_shuffle_f32x4::<0xDD>(u[8 + e], u[12 + e]);
        out[e] = _mm512_shuffle_f32x4::<0x88>(v0, v2);
        out[8 + e] = _mm512_shuffle_f32x4::<0xDD>(v0, v2);
        out[4 + e] = _mm512_shuffle_f32x4::<0x88>(v1, v3);
        out[12 + e] = _mm512_shuffle_f32x4::<0xDD>(v1, v3);
    }
    out
}

/// The check both transposing packs (`transpose`, `transpose_avx2`) are tested with.
#[cfg(test)]
pub(super) mod testing {
    use crate::Float;

    /// A transposing pack: `(src, base, ld, lanes, width, kc, panel)`.
    pub(in crate::gemm) type Pack<E> = fn(&[E], usize, usize, usize, usize, usize, &mut [E]);

    /// Runs `pack` on every width given, lanes below, at and above a vector, and every
    /// depth given, and compares the panel with the portable loop's layout element by
    /// element (as bits, so a misplaced zero or NaN cannot pass), and that nothing past
    /// the panel was written.
    pub(in crate::gemm) fn check_every_edge<E: Float>(
        widths: &[usize],
        depths: &[usize],
        pack: Pack<E>,
    ) {
        for &width in widths {
            for lanes in [0, 1, width / 2, width.saturating_sub(1), width] {
                for &kc in depths {
                    let (ld, base) = (kc + 3, 5);
                    let src: Vec<E> = (0..base + width * ld + kc)
                        .map(|i| E::from_f64(i as f64 * 0.25 - 7.0))
                        .collect();
                    let mut panel = vec![E::NAN; kc * width + 7];
                    pack(&src, base, ld, lanes, width, kc, &mut panel);
                    for p in 0..kc {
                        for l in 0..width {
                            let want = if l < lanes {
                                src[base + l * ld + p]
                            } else {
                                E::ZERO
                            };
                            assert_eq!(
                                panel[p * width + l].to_f64().to_bits(),
                                want.to_f64().to_bits(),
                                "width {width}, lanes {lanes}, kc {kc}, step {p}, lane {l}"
                            );
                        }
                    }
                    assert!(panel[kc * width..].iter().all(|x| x.is_nan()), "wrote past");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::check_every_edge;
    use super::*;

    #[test]
    fn equals_the_portable_layout_for_every_edge() {
        if !std::arch::is_x86_feature_detected!("avx512f") {
            eprintln!("SKIPPED: this CPU lacks AVX-512F (the transposing pack is not run)");
            return;
        }
        // Widths of the AVX-512 kernels' panels (f32 MR 10, 12, 14 and NR 16, 32; f64 MR
        // 8 and NR 8, 16, 24) and odd ones; k below, at and past whole blocks.
        let widths = [1, 8, 10, 14, 16, 17, 24, 32, 33];
        let depths = [0, 1, 7, 8, 9, 15, 16, 17, 33, 48, 100];
        check_every_edge::<f32>(&widths, &depths, pack_transposed_f32);
        check_every_edge::<f64>(&widths, &depths, pack_transposed_f64);
    }
}
