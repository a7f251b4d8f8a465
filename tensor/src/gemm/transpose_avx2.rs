//! The transposing pack (`pack::pack_transposed`) on AVX2: eight `f32` lines (four `f64`)
//! at a time, as many steps at a time, through registers.
//!
//! The forward product `X·Wᵀ` packs `Wᵀ` by transposing W at every call (`transpose.rs`
//! explains why). The portable loop moves one element per instruction, and with the AVX2
//! kernels it held `100×784 · 784×192` (`nt`) at 86 % of the peak where the same product
//! with B read in place (`nn`) reaches 94 %. Here 8×8 blocks (`f32`: three rounds of
//! shuffles, 24 for 64 elements) or 4×4 blocks (`f64`: two rounds, 8 for 16) go through
//! registers. Groups of fewer lines than a vector (an edge panel) and the last steps
//! short of a block keep the portable element-by-element loop. Elements are only moved,
//! so the panel is bit for bit the portable loop's.
//!
//! Measured on Zen 5 with the AVX2 kernels forced (`bench_gemm --best --cpu-time`, one
//! thread, alternating with the portable loop): f32 `100×784·784×192` and
//! `100×192·192×784` (`nt`) 116 → 123–124 GFLOP/s, `100×100·100×500` 114–116 → 121–122;
//! f64 within noise. The whole autoencoder runs moved by less than their noise (about
//! 1 % of MNIST's CPU time): the forward products are a third of their products.

use std::arch::x86_64::*;

/// The public entry and its AVX2 loop for one element type: `$E` with `$L` lanes per
/// vector, its vector type, loads and stores, and the in-register transpose.
macro_rules! pack_transposed_for {
    (
        $name:ident, $inner:ident, $E:ty, $V:ty, lanes = $L:literal,
        loadu = $loadu:path, storeu = $storeu:path, transpose = $transpose:ident $(,)?
    ) => {
        /// Writes `panel[p·width + l] = src[base + l·ld + p]` for `l < lanes`, `p < kc`,
        /// and zeros in lanes `lanes .. width` of every step (`pack_transposed`'s layout).
        ///
        /// # Panics
        /// If a line or the panel lies outside its slice, or the CPU lacks AVX2.
        pub(super) fn $name(
            src: &[$E],
            base: usize,
            ld: usize,
            lanes: usize,
            width: usize,
            kc: usize,
            panel: &mut [$E],
        ) {
            let avx2 = std::arch::is_x86_feature_detected!("avx2");
            let (lines, steps) = ((base, ld, lanes), (width, kc));
            super::pack::run_transposed_pack($inner, avx2, src, lines, steps, panel);
        }

        /// # Safety
        /// AVX2; lines `src + l·ld .. + kc` (`l < lanes`) readable; `panel` holds
        /// `kc·width` elements.
        #[target_feature(enable = "avx2")]
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
                // Whole blocks of L lines and L steps through registers.
                let vector_steps = if n == $L { full_steps } else { 0 };
                for p0 in (0..vector_steps).step_by($L) {
                    let rows: [$V; $L] = std::array::from_fn(|r| {
                        // SAFETY: line l0 + r < lanes, elements p0 .. p0 + L ≤ kc.
                        unsafe { $loadu(src.add((l0 + r) * ld + p0)) }
                    });
                    for (q, col) in $transpose(rows).iter().enumerate() {
                        // SAFETY: step p0 + q < kc, lanes l0 .. l0 + L ≤ lanes ≤ width.
                        unsafe { $storeu(out.add((p0 + q) * width + l0), *col) };
                    }
                }
                for p in vector_steps..kc {
                    for r in 0..n {
                        // SAFETY: as above, element by element.
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
    pack_avx2_f32,
    f32,
    __m256,
    lanes = 8,
    loadu = _mm256_loadu_ps,
    storeu = _mm256_storeu_ps,
    transpose = transpose8,
);

pack_transposed_for!(
    pack_transposed_f64,
    pack_avx2_f64,
    f64,
    __m256d,
    lanes = 4,
    loadu = _mm256_loadu_pd,
    storeu = _mm256_storeu_pd,
    transpose = transpose4,
);

/// The 8×8 `f32` transpose: `out[c]` lane `r` is `rows[r]` lane `c`.
#[inline]
#[target_feature(enable = "avx2")]
fn transpose8(r: [__m256; 8]) -> [__m256; 8] {
    // Pairs of rows, within each 128-bit half: t[2i] = [a0 b0 a1 b1 | a4 b4 a5 b5] for
    // rows a = r[2i], b = r[2i + 1], t[2i + 1] the elements 2, 3 | 6, 7.
    let t: [__m256; 8] = std::array::from_fn(|x| {
        let (a, b) = (r[x & !1], r[x | 1]);
        if x % 2 == 0 {
            _mm256_unpacklo_ps(a, b)
        } else {
            _mm256_unpackhi_ps(a, b)
        }
    });
    // Quads of rows: u[4g + e] = element e | e + 4 of rows 4g .. 4g + 4.
    let u: [__m256; 8] = std::array::from_fn(|x| {
        let (g, e) = (x / 4, x % 4);
        let (a, b) = (t[4 * g + e / 2], t[4 * g + 2 + e / 2]);
        if e % 2 == 0 {
            _mm256_shuffle_ps::<0x44>(a, b)
        } else {
            _mm256_shuffle_ps::<0xEE>(a, b)
        }
    });
    // Column e is the low halves of u[e] and u[4 + e]; column e + 4 their high halves.
    std::array::from_fn(|c| {
        let e = c % 4;
        if c < 4 {
            _mm256_permute2f128_ps::<0x20>(u[e], u[4 + e])
        } else {
            _mm256_permute2f128_ps::<0x31>(u[e], u[4 + e])
        }
    })
}

/// The 4×4 `f64` transpose: `out[c]` lane `r` is `rows[r]` lane `c`.
#[inline]
#[target_feature(enable = "avx2")]
fn transpose4(r: [__m256d; 4]) -> [__m256d; 4] {
    // t[0] = [a0 b0 | a2 b2], t[1] = [a1 b1 | a3 b3], t[2], t[3] the same for rows c, d.
    let t = [
        _mm256_unpacklo_pd(r[0], r[1]),
        _mm256_unpackhi_pd(r[0], r[1]),
        _mm256_unpacklo_pd(r[2], r[3]),
        _mm256_unpackhi_pd(r[2], r[3]),
    ];
    [
        _mm256_permute2f128_pd::<0x20>(t[0], t[2]),
        _mm256_permute2f128_pd::<0x20>(t[1], t[3]),
        _mm256_permute2f128_pd::<0x31>(t[0], t[2]),
        _mm256_permute2f128_pd::<0x31>(t[1], t[3]),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::transpose::testing::check_every_edge;
    use super::*;

    #[test]
    fn equals_the_portable_layout_for_every_edge() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            eprintln!("SKIPPED: this CPU lacks AVX2 (the transposing pack is not run)");
            return;
        }
        // Widths of the AVX2 kernels' panels (f32 MR 6 and NR 16, 8; f64 MR 6 and NR 8,
        // 4) and odd ones; k below, at and past whole blocks of 4 and 8.
        let widths = [1, 4, 6, 8, 9, 12, 16, 17, 24];
        let depths = [0, 1, 3, 4, 5, 7, 8, 9, 16, 17, 100];
        check_every_edge::<f32>(&widths, &depths, pack_transposed_f32);
        check_every_edge::<f64>(&widths, &depths, pack_transposed_f64);
    }
}
