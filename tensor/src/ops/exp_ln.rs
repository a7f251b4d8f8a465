//! e^x and ln x over a whole slice at once, for the softmax family and cross-entropy.
//!
//! Why not `x.exp()` per element: for `f32` that is a call into libm per element, which
//! the compiler cannot vectorise, and a 2-class cross-entropy spends most of its time
//! there. Here the `f32` functions are written out in plain arithmetic that a compiler can
//! run 16 lanes wide:
//!
//! - **exp**: write x = n·ln 2 + r with n an integer and |r| ≤ ln 2 / 2, so that
//!   eˣ = 2ⁿ · eʳ. e^r is a degree-6 polynomial (1 + r + r²·Q(r), Q a minimax fit), and
//!   2ⁿ is built directly from its bits (exponent field n + 127). ln 2 is split into a
//!   high and a low part so that r keeps its low bits when n is large.
//! - **ln**: write x = 2ᵏ · m with m ∈ [√½, √2) (read k from the exponent bits), so that
//!   ln x = k·ln 2 + ln m. With f = m − 1 and s = f / (2 + f), ln(1 + f) = 2·atanh(s) is
//!   an odd series in s; its tail after 2s is a short polynomial R in z = s² (minimax),
//!   arranged as f − f²/2 + s·(f²/2 + R) so that the exactly known f carries the result.
//!
//! The coefficients are Remez fits, rounded to `f32` (`scripts/minimax_exp_ln.py`
//! reproduces them). Where rounding would cost accuracy, the large terms are added with
//! their rounding errors carried along (Fast2Sum), so that the last addition is the only
//! rounding at the scale of the result. Measured over all 2³² inputs (the tests with
//! `FERROGRAD_ULP_STRIDE=1`), both are within 1 ulp of the correctly rounded result everywhere: exp at most
//! 0.64 ulp from the exact value where eˣ is a normal float (0.78 in the subnormal range,
//! which rounds twice), ln at most 0.64 ulp; about 1 result in 800 (exp) and 1 in 9000
//! (ln) is not the correctly rounded one. Special values follow IEEE/libm: exp overflows
//! to +inf and underflows gradually through the subnormals to +0 (not flushed),
//! exp(−inf) = +0; ln(±0) = −inf, ln(x < 0) = NaN, ln(+inf) = +inf, subnormal inputs are
//! scaled exactly into the normal range first; NaN in, NaN out.
//!
//! Every polynomial step is a `mul_add`, and nothing else is left to the compiler's
//! discretion (rustc never contracts `a * b + c` into an FMA by itself), so each element's
//! result is fixed by IEEE arithmetic: the copy compiled for AVX-512 (16 lanes), the one
//! for AVX2 + FMA (8 lanes) and the baseline one (where `mul_add` is libm's exact `fmaf`)
//! give the same bits, and results do not depend on the machine. Which copy runs is
//! decided at run time, as in the optimisers' kernels.
//!
//! `f64` keeps `std`'s `exp` and `ln` per element, bit for bit as before: the reference
//! tests compare `f64` results with PyTorch to ~1e-16, and gradient checks need them.

use bytemuck::cast_slice_mut;

use crate::{DType, Float};

/// `x ← eˣ` for every element of `xs`.
///
/// `f32` runs a vectorised polynomial (within 1 ulp of the correctly rounded result, the
/// same bits on every CPU); `f64` calls `std`'s `exp` per element.
///
/// ```
/// let mut v = [0.0f32, 1.0, -f32::INFINITY, 100.0];
/// ferrograd_tensor::exp_in_place(&mut v);
/// assert_eq!(v[0], 1.0);
/// assert!((v[1] - std::f32::consts::E).abs() <= f32::EPSILON * 3.0);
/// assert_eq!(&v[2..], &[0.0, f32::INFINITY]);
/// ```
pub fn exp_in_place<T: Float>(xs: &mut [T]) {
    match T::DTYPE {
        DType::F32 => exp_f32_slice(cast_slice_mut(xs)),
        DType::F64 => xs.iter_mut().for_each(|x| *x = x.exp()),
    }
}

/// `x ← ln x` for every element of `xs`.
///
/// `f32` runs a vectorised polynomial (within 1 ulp of the correctly rounded result, the
/// same bits on every CPU); `f64` calls `std`'s `ln` per element.
///
/// ```
/// let mut v = [1.0f32, std::f32::consts::E, 0.0, -1.0];
/// ferrograd_tensor::ln_in_place(&mut v);
/// assert_eq!(v[0], 0.0);
/// assert!((v[1] - 1.0).abs() <= f32::EPSILON);
/// assert_eq!(v[2], f32::NEG_INFINITY);
/// assert!(v[3].is_nan());
/// ```
pub fn ln_in_place<T: Float>(xs: &mut [T]) {
    match T::DTYPE {
        DType::F32 => ln_f32_slice(cast_slice_mut(xs)),
        DType::F64 => xs.iter_mut().for_each(|x| *x = x.ln()),
    }
}

fn exp_f32_slice(xs: &mut [f32]) {
    crate::dispatch_simd!(exp_loop(xs))
}

fn ln_f32_slice(xs: &mut [f32]) {
    crate::dispatch_simd!(ln_loop(xs))
}

#[inline(always)]
fn exp_loop(xs: &mut [f32]) {
    for x in xs {
        *x = exp_f32(*x);
    }
}

#[inline(always)]
fn ln_loop(xs: &mut [f32]) {
    for x in xs {
        *x = ln_f32(*x);
    }
}

/// 1.5·2²³: adding it to a float of magnitude below 2²² rounds that float to an integer
/// (the sum's ulp is 1), and leaves the integer in the sum's low mantissa bits.
const ROUND_TO_INT: f32 = 12_582_912.0;

/// Below this eˣ is under half the smallest subnormal (e^−103.972… = 2^−150), so rounds
/// to 0; clamping here keeps n = −150 in range of the exponent arithmetic.
const EXP_LO: f32 = -104.0;
/// Above ln(f32::MAX) ≈ 88.723 eˣ overflows; clamping at 89 gives n = 128 and eʳ > 1, so
/// the result still overflows to +inf.
const EXP_HI: f32 = 89.0;

/// ln 2 = `LN2_HI_EXP + LN2_LO_EXP` to ~2⁻⁵⁰: the high part is `f32(ln 2)`, for which
/// x − n·`LN2_HI_EXP` is exact in one FMA for every |n| ≤ 150 (the difference is a
/// multiple of x's and the product's common ulp, and is below ½).
const LN2_HI_EXP: f32 = 6.931472e-1;
const LN2_LO_EXP: f32 = -1.9046543e-9;

/// Q(r) ≈ (eʳ − 1 − r)/r² on |r| ≤ ln2/2 + 2·10⁻⁵ (minimax for the relative error of eʳ;
/// the margin covers n computed from a rounded x·log₂e):
/// relative error 2^−28 after rounding the coefficients to `f32`.
const EXP_Q: [f32; 5] = [
    4.9999994e-1,
    1.6666521e-1,
    4.166839e-2,
    8.368714e-3,
    1.3814605e-3,
];

/// eˣ for one `f32`, branch-free so that a loop of it vectorises.
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    // `clamp` keeps NaN as NaN, and NaN then propagates through the arithmetic below.
    let x = x.clamp(EXP_LO, EXP_HI);
    // n = round(x / ln 2), as a float and (in the low bits of `shifted`) as an integer.
    let shifted = x.mul_add(std::f32::consts::LOG2_E, ROUND_TO_INT);
    let n = shifted - ROUND_TO_INT;
    // r = x − n·ln 2 and the part of it that rounding r drops, so that the error of r does
    // not reach the result (it would cost up to ¼ ulp).
    let d = (-n).mul_add(LN2_HI_EXP, x); // exact
    let r = (-n).mul_add(LN2_LO_EXP, d);
    let r_err = (-n).mul_add(LN2_LO_EXP, d - r);
    let [q0, q1, q2, q3, q4] = EXP_Q;
    let q = q4
        .mul_add(r, q3)
        .mul_add(r, q2)
        .mul_add(r, q1)
        .mul_add(r, q0);
    // eʳ = (1 + r) + r²·Q(r) with 1 + r summed with its rounding error (Fast2Sum, |r| < 1),
    // so that the one rounding at the scale of the result is the last.
    let one_r = 1.0 + r;
    let one_r_err = (1.0 - one_r) + r;
    let tail = (r * r).mul_add(q, r_err.mul_add(r, r_err));
    let e_r = one_r + (one_r_err + tail);
    // 2ⁿ as two factors 2^(n/2) and 2^(n − n/2), each a normal float for n ∈ [−150, 128]:
    // the first product is exact, the second rounds once (to a subnormal or to +inf when
    // the result is out of the normal range).
    let n_bits = shifted.to_bits().wrapping_sub(ROUND_TO_INT.to_bits()) as i32;
    let half = n_bits >> 1;
    e_r * pow2(half) * pow2(n_bits.wrapping_sub(half))
}

/// 2ᵏ for k ∈ [−126, 127], from the exponent bits.
#[inline(always)]
fn pow2(k: i32) -> f32 {
    f32::from_bits((k.wrapping_add(127) as u32) << 23)
}

/// ln 2 = `LN2_HI_LN + LN2_LO_LN`, with the high part on 16 bits so that k·`LN2_HI_LN`
/// is exact for every exponent |k| ≤ 149.
const LN2_HI_LN: f32 = 6.9314575e-1;
const LN2_LO_LN: f32 = 1.4286068e-6;

/// R(z)/z ≈ (2·atanh(s) − 2s)/(s·z) = 2/3 + 2z/5 + 2z²/7 + … for z = s² ≤ 0.02944
/// (minimax for the error of ln): error 2^−31 after rounding the coefficients to `f32`.
const LN_R: [f32; 4] = [6.666667e-1, 4.000034e-1, 2.8536052e-1, 2.3617417e-1];

/// √½'s bit pattern: mantissas are re-based to [√½, √2) around it.
const SQRT_HALF_BITS: u32 = 0x3f35_04f3;

/// ln x for one `f32`, branch-free so that a loop of it vectorises.
#[inline(always)]
fn ln_f32(x: f32) -> f32 {
    // Subnormals: scale into the normal range (exactly) and take the 23 back from k.
    let subnormal = x < f32::MIN_POSITIVE;
    let (x_n, k_bias) = if subnormal {
        (x * 8_388_608.0, -23.0)
    } else {
        (x, 0.0)
    };
    // x = 2ᵏ · m with m ∈ [√½, √2): adding bits(1) − bits(√½) carries into the exponent
    // field exactly when x's mantissa is at least √2's (which is √½'s), and leaves in the
    // mantissa field the amount by which m exceeds √½.
    let bits = x_n
        .to_bits()
        .wrapping_add(1.0f32.to_bits() - SQRT_HALF_BITS);
    let k = ((bits >> 23) as i32).wrapping_sub(127) as f32 + k_bias;
    let m = f32::from_bits((bits & 0x007f_ffff) + SQRT_HALF_BITS);
    let f = m - 1.0; // exact (Sterbenz)
    let s = f / (2.0 + f);
    let z = s * s;
    let [r1, r2, r3, r4] = LN_R;
    let r = z * r4.mul_add(z, r3).mul_add(z, r2).mul_add(z, r1);
    // ln x = k·ln2_hi + f − f²/2 + (k·ln2_lo + s·(f²/2 + R)), where the big terms are
    // summed with their rounding errors (Fast2Sum: |k·ln2_hi| ≥ ln 2 > |f| unless k = 0,
    // and |k·ln2_hi + f| > f²/2), so the one rounding at the scale of the result is the
    // last.
    let half_f = 0.5 * f;
    let hfsq = half_f * f;
    let hfsq_err = half_f.mul_add(f, -hfsq);
    let hi = k * LN2_HI_LN; // exact
    let sum = hi + f;
    let sum_err = (hi - sum) + f;
    let big = sum - hfsq;
    let big_err = (sum - big) - hfsq;
    let small = s.mul_add(
        hfsq + r,
        k.mul_add(LN2_LO_LN, (sum_err + big_err) - hfsq_err),
    );
    let y = big + small;
    if x > 0.0 && x < f32::INFINITY {
        y
    } else if x == 0.0 {
        f32::NEG_INFINITY
    } else if x < 0.0 {
        f32::NAN
    } else {
        x // +inf and NaN
    }
}

crate::simd_copies! {
    fn exp_loop[](xs: &mut [f32]);
    fn ln_loop[](xs: &mut [f32]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in representable `f32`s between `y` and the reference `r`; 0 when both are
    /// the same infinity or both NaN, `u32::MAX` when they cannot be compared that way.
    fn ulps(y: f32, r: f32) -> u32 {
        if y.to_bits() == r.to_bits() || (y.is_nan() && r.is_nan()) {
            return 0;
        }
        if y.is_nan() || r.is_nan() || y.is_infinite() || r.is_infinite() {
            return u32::MAX;
        }
        if (y.to_bits() ^ r.to_bits()) >> 31 != 0 {
            // Opposite signs: only ±0 against a tiny value of either sign is meaningful.
            return (y.to_bits() & 0x7fff_ffff) + (r.to_bits() & 0x7fff_ffff);
        }
        y.to_bits().abs_diff(r.to_bits())
    }

    /// The error of `y` against the exact `r` in units of the last place of `f32(r)`
    /// (subnormal ulp below the normal range).
    fn ulp_error(y: f32, r: f64) -> f64 {
        let e = (r.abs() as f32).max(f32::MIN_POSITIVE);
        let ulp = f32::from_bits(e.to_bits() & 0x7f80_0000) as f64 * f64::from(f32::EPSILON);
        (y as f64 - r).abs() / ulp
    }

    /// How far `f` is from the correctly rounded results over some inputs.
    #[derive(Debug, Default)]
    struct Stats {
        /// Largest distance in ulps from the reference rounded to `f32`.
        ulps: u32,
        /// Largest error in ulps from the exact (`f64`) reference.
        error: f64,
        /// The input of the largest error.
        at: f32,
        /// Results that are not the correctly rounded one, and all results.
        misrounded: u64,
        count: u64,
    }

    impl Stats {
        fn within(&self, ulps: u32, error: f64) -> bool {
            self.ulps <= ulps && self.error < error
        }
    }

    /// `Stats` of `f` over `xs` against `reference` computed in `f64`, running `f` on
    /// whole chunks as the callers do.
    fn measure(
        xs: impl Iterator<Item = f32>,
        f: fn(&mut [f32]),
        reference: fn(f64) -> f64,
    ) -> Stats {
        let mut stats = Stats::default();
        let mut chunk = Vec::with_capacity(4096);
        let mut out = Vec::with_capacity(4096);
        let mut xs = xs.peekable();
        while xs.peek().is_some() {
            chunk.clear();
            chunk.extend(xs.by_ref().take(4096));
            out.clear();
            out.extend_from_slice(&chunk);
            f(&mut out);
            for (&x, &y) in chunk.iter().zip(&out) {
                let r = reference(x as f64);
                let u = ulps(y, r as f32);
                let e = if r.is_finite() && (r as f32).is_finite() {
                    ulp_error(y, r)
                } else {
                    0.0
                };
                stats.ulps = stats.ulps.max(u);
                if e > stats.error {
                    (stats.error, stats.at) = (e, x);
                }
                stats.misrounded += u64::from(u != 0);
                stats.count += 1;
            }
        }
        stats
    }

    /// Every `stride`-th bit pattern in `lo..=hi`.
    fn strided(lo: u32, hi: u32, stride: usize) -> impl Iterator<Item = f32> {
        (lo..=hi).step_by(stride).map(f32::from_bits)
    }

    /// The stride of the whole-domain tests: every 61st pattern (a prime, so all low
    /// mantissa bits are visited) unless `FERROGRAD_ULP_STRIDE` says otherwise;
    /// `FERROGRAD_ULP_STRIDE=1` checks all 2³² inputs (about a minute per function).
    fn domain_stride() -> usize {
        match std::env::var("FERROGRAD_ULP_STRIDE") {
            Err(_) => 61,
            Ok(v) => v.parse().ok().filter(|&s| s >= 1).unwrap_or_else(|| {
                panic!("FERROGRAD_ULP_STRIDE={v:?}: expected a whole number ≥ 1")
            }),
        }
    }

    /// The bounds the tests hold the functions to: at most 1 ulp from the correctly
    /// rounded result, and under these many ulps from the exact one (measured over all
    /// 2³² inputs with `FERROGRAD_ULP_STRIDE=1`: 0.775 for exp, through double rounding
    /// into the subnormals, 0.638 for ln).
    const EXP_MAX_ULPS: u32 = 1;
    const EXP_MAX_ERROR: f64 = 0.8;
    const LN_MAX_ULPS: u32 = 1;
    const LN_MAX_ERROR: f64 = 0.65;

    #[test]
    fn exp_is_within_one_ulp_over_its_domain() {
        // Both signs up to the clamps (37 M inputs at the default stride).
        let pos = strided(0, EXP_HI.to_bits(), domain_stride());
        let neg = strided(0x8000_0000, EXP_LO.to_bits(), domain_stride());
        let stats = measure(pos.chain(neg), exp_in_place::<f32>, f64::exp);
        eprintln!("exp over its domain: {stats:?}");
        assert!(stats.within(EXP_MAX_ULPS, EXP_MAX_ERROR), "exp: {stats:?}");
    }

    #[test]
    fn exp_edges_are_within_one_ulp_everywhere() {
        // Every pattern around the overflow threshold and through the whole subnormal
        // range down to where the result rounds to 0 (and a little past it).
        let overflow = strided(88.0f32.to_bits(), EXP_HI.to_bits() + 64, 1);
        let subnormal = strided((-87.0f32).to_bits(), (-104.5f32).to_bits(), 1);
        let tiny = strided(0, 0x3400_0000, 7).chain(strided(0x8000_0000, 0xb400_0000, 7));
        let xs = overflow.chain(subnormal).chain(tiny);
        let stats = measure(xs, exp_in_place::<f32>, f64::exp);
        assert!(stats.within(EXP_MAX_ULPS, EXP_MAX_ERROR), "exp: {stats:?}");
    }

    #[test]
    fn exp_special_values() {
        let mut v = [
            0.0f32,
            -0.0,
            f32::NEG_INFINITY,
            f32::INFINITY,
            f32::NAN,
            1000.0,
            -1000.0,
            f32::MAX,
            f32::MIN,
            88.72283,   // largest x with a finite eˣ
            88.72284,   // smallest that overflows
            -103.97207, // rounds up to the smallest subnormal
            -103.97209, // rounds down to 0
        ];
        exp_in_place(&mut v);
        assert_eq!(v[..2], [1.0, 1.0]);
        assert_eq!(v[2].to_bits(), 0, "exp(-inf) is +0");
        assert_eq!(v[3], f32::INFINITY);
        assert!(v[4].is_nan());
        assert_eq!(v[5..9], [f32::INFINITY, 0.0, f32::INFINITY, 0.0]);
        assert!(v[9].is_finite() && v[10] == f32::INFINITY, "{v:?}");
        assert_eq!(v[11], f32::from_bits(1));
        assert_eq!(v[12], 0.0);
    }

    #[test]
    fn ln_is_within_one_ulp_over_its_domain() {
        // Positive finite patterns, subnormals included (35 M at the default stride).
        let xs = strided(1, f32::MAX.to_bits(), domain_stride());
        let stats = measure(xs, ln_in_place::<f32>, f64::ln);
        eprintln!("ln over its domain: {stats:?}");
        assert!(stats.within(LN_MAX_ULPS, LN_MAX_ERROR), "ln: {stats:?}");
    }

    #[test]
    fn ln_near_one_and_subnormals_are_within_one_ulp() {
        // Every pattern in [0.69, 1.45] (where ln x is small and cancellation would show)
        // and every 3rd subnormal.
        let near_one = strided(0.69f32.to_bits(), 1.45f32.to_bits(), 1);
        let subnormal = strided(1, 0x007f_ffff, 3);
        let stats = measure(near_one.chain(subnormal), ln_in_place::<f32>, f64::ln);
        assert!(stats.within(LN_MAX_ULPS, LN_MAX_ERROR), "ln: {stats:?}");
    }

    #[test]
    fn ln_special_values() {
        let mut v = [
            0.0f32,
            -0.0,
            -1.0,
            f32::NEG_INFINITY,
            -f32::from_bits(1),
            f32::INFINITY,
            f32::NAN,
            1.0,
            f32::from_bits(1),
            f32::MAX,
        ];
        ln_in_place(&mut v);
        assert_eq!(v[..2], [f32::NEG_INFINITY; 2]);
        assert!(v[2..5].iter().all(|y| y.is_nan()), "{v:?}");
        assert_eq!(v[5], f32::INFINITY);
        assert!(v[6].is_nan());
        assert_eq!(v[7].to_bits(), 0, "ln 1 is +0");
        assert_eq!(v[8], (f32::from_bits(1) as f64).ln() as f32);
        assert_eq!(v[9], (f32::MAX as f64).ln() as f32);
    }

    #[test]
    fn f64_is_std_bit_for_bit() {
        let xs: Vec<f64> = (0..2000).map(|i| (i as f64 - 1000.0) * 0.37).collect();
        let mut e = xs.clone();
        exp_in_place(&mut e);
        let mut l = xs.clone();
        ln_in_place(&mut l);
        for ((&x, &e), &l) in xs.iter().zip(&e).zip(&l) {
            assert_eq!(e.to_bits(), x.exp().to_bits(), "exp({x})");
            assert_eq!(l.to_bits(), x.ln().to_bits(), "ln({x})");
        }
    }

    /// A xorshift stream of `f32`s: half anywhere in `lo..hi`, half raw bit patterns
    /// (NaNs, infinities, subnormals, huge values).
    fn mixed_inputs(n: usize, lo: f32, hi: f32, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|i| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                if i % 2 == 0 {
                    lo + (hi - lo) * ((s >> 40) as f32 / (1u64 << 24) as f32)
                } else {
                    f32::from_bits(s as u32)
                }
            })
            .collect()
    }

    /// Every copy the dispatcher may pick gives the bits of the baseline copy (NaN
    /// payloads aside), on lengths that exercise the vector loops' tails.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn simd_copies_match_the_baseline_bit_for_bit() {
        type Loop = unsafe fn(&mut [f32]);
        let mut copies: Vec<(&str, Loop, Loop)> = Vec::new();
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            copies.push(("avx2", avx2_fma::exp_loop, avx2_fma::ln_loop));
        }
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("fma")
        {
            copies.push(("avx512", avx512::exp_loop, avx512::ln_loop));
        }
        let same = |a: &[f32], b: &[f32]| {
            a.iter()
                .zip(b)
                .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
        };
        let lengths = (0..=70).chain([1003, 100_000]);
        for (i, n) in lengths.enumerate() {
            let exp_in = mixed_inputs(n, -110.0, 95.0, 0x9e37_79b9 + i as u64);
            let ln_in: Vec<f32> = mixed_inputs(n, 0.0, 4.0, 0x85eb_ca6b + i as u64);
            let (mut e, mut l) = (exp_in.clone(), ln_in.clone());
            exp_loop(&mut e);
            ln_loop(&mut l);
            for &(name, exp_copy, ln_copy) in &copies {
                let (mut e2, mut l2) = (exp_in.clone(), ln_in.clone());
                // SAFETY: the features were checked when the copy was listed.
                unsafe {
                    exp_copy(&mut e2);
                    ln_copy(&mut l2);
                }
                assert!(same(&e, &e2), "{name} exp differs, length {n}");
                assert!(same(&l, &l2), "{name} ln differs, length {n}");
            }
        }
    }
}
