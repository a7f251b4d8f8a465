//! What the AVX-512 loops get from single instructions, for their AVX2 copies: loads and
//! stores of the lanes a bit mask selects, and the sum of a vector's lanes.
//!
//! AVX-512 masks are bits (`kmask`); AVX2 masks are vectors whose lanes are all ones or
//! all zeros, so the loops keep their one-bit-per-lane masks and these helpers expand
//! them. A full mask takes a plain load or store, never slower than `vmaskmov` and on
//! some cores much faster (its store form especially), and a loop's steps are nearly all
//! full. As with AVX-512, lanes outside the mask are neither read nor written, so they
//! may lie past the end of a slice.

use std::arch::x86_64::*;

/// Lane `l` of the result is all ones when bit `l` of `mask` is set (8 lanes of 32 bits).
#[target_feature(enable = "avx2,fma")]
#[inline]
fn lanes32(mask: u8) -> __m256i {
    let bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    _mm256_cmpeq_epi32(
        _mm256_and_si256(_mm256_set1_epi32(i32::from(mask)), bit),
        bit,
    )
}

/// Lane `l` of the result is all ones when bit `l` of `mask` is set (4 lanes of 64 bits).
#[target_feature(enable = "avx2,fma")]
#[inline]
fn lanes64(mask: u8) -> __m256i {
    let bit = _mm256_setr_epi64x(1, 2, 4, 8);
    _mm256_cmpeq_epi64(
        _mm256_and_si256(_mm256_set1_epi64x(i64::from(mask)), bit),
        bit,
    )
}

/// The lanes of `p[0..8]` under `mask`, zero elsewhere.
///
/// # Safety
/// `p.add(l)` is readable for every set bit `l`.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) unsafe fn loadz_ps(mask: u8, p: *const f32) -> __m256 {
    // SAFETY: forwarded; a full mask reads all eight.
    unsafe {
        if mask == u8::MAX {
            _mm256_loadu_ps(p)
        } else {
            _mm256_maskload_ps(p, lanes32(mask))
        }
    }
}

/// Writes the lanes of `x` under `mask` to `p[0..8]`.
///
/// # Safety
/// `p.add(l)` is writable for every set bit `l`.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) unsafe fn store_ps(p: *mut f32, mask: u8, x: __m256) {
    // SAFETY: forwarded; a full mask writes all eight.
    unsafe {
        if mask == u8::MAX {
            _mm256_storeu_ps(p, x)
        } else {
            _mm256_maskstore_ps(p, lanes32(mask), x)
        }
    }
}

/// The lanes of `p[0..4]` under the low four bits of `mask`, zero elsewhere.
///
/// # Safety
/// `p.add(l)` is readable for every set bit `l < 4`.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) unsafe fn loadz_pd(mask: u8, p: *const f64) -> __m256d {
    // SAFETY: forwarded; a full mask reads all four.
    unsafe {
        if mask & 0xf == 0xf {
            _mm256_loadu_pd(p)
        } else {
            _mm256_maskload_pd(p, lanes64(mask))
        }
    }
}

/// Writes the lanes of `x` under the low four bits of `mask` to `p[0..4]`.
///
/// # Safety
/// `p.add(l)` is writable for every set bit `l < 4`.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) unsafe fn store_pd(p: *mut f64, mask: u8, x: __m256d) {
    // SAFETY: forwarded; a full mask writes all four.
    unsafe {
        if mask & 0xf == 0xf {
            _mm256_storeu_pd(p, x)
        } else {
            _mm256_maskstore_pd(p, lanes64(mask), x)
        }
    }
}

/// The sum of the eight lanes, as halves: lane l + lane l+4, then l + l+2, then the two.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn sum_ps(x: __m256) -> f32 {
    let four = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps::<1>(x));
    let two = _mm_add_ps(four, _mm_movehl_ps(four, four));
    _mm_cvtss_f32(_mm_add_ss(two, _mm_movehdup_ps(two)))
}

/// The sum of the four lanes, as halves: lane l + lane l+2, then the two.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn sum_pd(x: __m256d) -> f64 {
    let two = _mm_add_pd(_mm256_castpd256_pd128(x), _mm256_extractf128_pd::<1>(x));
    _mm_cvtsd_f64(_mm_add_sd(two, _mm_unpackhi_pd(two, two)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn avx2() -> bool {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }

    #[test]
    fn masked_lanes_only() {
        if !avx2() {
            eprintln!("skipped: this CPU has no AVX2+FMA");
            return;
        }
        let src: Vec<f32> = (1..=8).map(|v| v as f32).collect();
        let srcd: Vec<f64> = (1..=4).map(|v| v as f64).collect();
        for mask in 0..=u8::MAX {
            let (mut out, mut outd) = ([0f32; 8], [0f64; 4]);
            let mut stored = [-1f32; 8];
            let mut storedd = [-1f64; 4];
            // SAFETY: AVX2+FMA checked; all eight (four) lanes are in bounds.
            unsafe {
                _mm256_storeu_ps(out.as_mut_ptr(), loadz_ps(mask, src.as_ptr()));
                store_ps(stored.as_mut_ptr(), mask, _mm256_loadu_ps(src.as_ptr()));
                _mm256_storeu_pd(outd.as_mut_ptr(), loadz_pd(mask, srcd.as_ptr()));
                store_pd(storedd.as_mut_ptr(), mask, _mm256_loadu_pd(srcd.as_ptr()));
            }
            for l in 0..8 {
                let on = mask & (1 << l) != 0;
                assert_eq!(out[l], if on { src[l] } else { 0.0 }, "load mask {mask:#b}");
                assert_eq!(stored[l], if on { src[l] } else { -1.0 }, "store {mask:#b}");
                if l < 4 {
                    assert_eq!(outd[l], if on { srcd[l] } else { 0.0 }, "load {mask:#b}");
                    assert_eq!(storedd[l], if on { srcd[l] } else { -1.0 }, "{mask:#b}");
                }
            }
        }
    }

    #[test]
    fn sums_pair_the_halves() {
        if !avx2() {
            eprintln!("skipped: this CPU has no AVX2+FMA");
            return;
        }
        // Magnitudes far apart, so that another order of the additions rounds otherwise.
        let x = [1e8f32, 1.0, -1e8, 3.0, 0.5, -1.0, 7.0, 0.25];
        let halves = ((x[0] + x[4]) + (x[2] + x[6])) + ((x[1] + x[5]) + (x[3] + x[7]));
        let y = [1e17f64, 1.0, -1e17, 3.0];
        // SAFETY: AVX2+FMA checked.
        let (s, sd) = unsafe {
            (
                sum_ps(_mm256_loadu_ps(x.as_ptr())),
                sum_pd(_mm256_loadu_pd(y.as_ptr())),
            )
        };
        assert_eq!(s.to_bits(), halves.to_bits());
        assert_eq!(sd.to_bits(), ((y[0] + y[2]) + (y[1] + y[3])).to_bits());
        // The data tell the orders apart: summed in lane order, they round otherwise.
        assert_ne!(x.iter().sum::<f32>().to_bits(), halves.to_bits());
        assert_ne!(y.iter().sum::<f64>().to_bits(), sd.to_bits());
    }
}
