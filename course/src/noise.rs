//! Gaussian noise in bulk, for the denoising autoencoder's input.
//!
//! One `N(0, 1)` sample per pixel per step is tens of millions of samples in a run; drawn
//! one at a time (`rand_distr`'s ziggurat: a branch and a table look-up each) they cost
//! about a tenth of the GEMMs. Here they come in blocks of [`BLOCK`] by the Box–Muller
//! transform, whose every step is branch-free arithmetic that the compiler turns into
//! SIMD:
//!
//! `(z₀, z₁) = √(−2 ln u) · (cos θ, sin θ)`, for `u` uniform in (0, 1] and `θ` uniform
//! on the circle, are two independent standard normals.
//!
//! `ln`, `cos` and `sin` are short polynomials on a reduced range (error below 1e-6,
//! far under the f32 noise's own resolution), since the library calls do not vectorise.
//! The samples are a deterministic function of the generator's stream: the same seed gives
//! the same noise on every machine.

use rand::Rng;

/// Samples produced per call of [`standard_normal_block`]. Large enough that the vector
/// loads of the random words come long after their (scalar) stores have retired: with 32,
/// every call stalled on store-to-load forwarding and ran no faster than the ziggurat.
pub const BLOCK: usize = 256;

/// [`BLOCK`] independent standard-normal samples, from `BLOCK / 2` draws of a `u64`.
pub fn standard_normal_block<R: Rng + ?Sized>(rng: &mut R) -> [f32; BLOCK] {
    let mut bits = [0u64; BLOCK / 2];
    for b in &mut bits {
        *b = rng.random();
    }
    let mut out = [0.0f32; BLOCK];
    // The workspace is compiled for baseline x86-64 (4 lanes); copies of the same code
    // built for AVX-512 or AVX2 run 16 or 8 wide. Without FMA contraction (rustc never
    // fuses on its own) and with `/` and `sqrt` correctly rounded at any width, all
    // copies give the same bits.
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            unsafe { box_muller_avx512(&bits, &mut out) };
            return out;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            unsafe { box_muller_avx2(&bits, &mut out) };
            return out;
        }
    }
    box_muller(&bits, &mut out);
    out
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn box_muller_avx512(bits: &[u64; BLOCK / 2], out: &mut [f32; BLOCK]) {
    box_muller(bits, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn box_muller_avx2(bits: &[u64; BLOCK / 2], out: &mut [f32; BLOCK]) {
    box_muller(bits, out)
}

/// Two normals per random word: the first half of `out` gets the z₀s, the second the z₁s.
#[inline(always)]
fn box_muller(bits: &[u64; BLOCK / 2], out: &mut [f32; BLOCK]) {
    // Split the words into 32-bit halves first, so the loop below works on 32-bit lanes
    // only and the compiler can fill whole vector registers with them.
    let hi: [u32; BLOCK / 2] = std::array::from_fn(|i| (bits[i] >> 32) as u32);
    let lo: [u32; BLOCK / 2] = std::array::from_fn(|i| bits[i] as u32);
    let (first, second) = out.split_at_mut(BLOCK / 2);
    for (((z0, z1), &hi), &lo) in first.iter_mut().zip(second).zip(&hi).zip(&lo) {
        // 24 bits for u, 2 bits for the quadrant of θ, 22 for θ within it.
        let u = 1.0 - (hi >> 8) as f32 * (1.0 / (1u32 << 24) as f32); // in [2⁻²⁴, 1]
        let radius = (-2.0 * ln(u)).sqrt();
        let quadrant = (lo >> 22) & 3;
        let frac = (lo & 0x3F_FFFF) as f32 * (1.0 / (1u32 << 22) as f32);
        let a = (frac - 0.5) * std::f32::consts::FRAC_PI_2; // in [−π/4, π/4)
        let (c, s) = (cos_small(a), sin_small(a));
        // Rotate (cos a, sin a) by quadrant · 90° so θ covers the whole circle:
        // 0: (c, s), 1: (−s, c), 2: (−c, −s), 3: (s, −c).
        let (x, y) = if quadrant & 1 == 1 { (s, c) } else { (c, s) };
        let x_sign = ((quadrant ^ (quadrant >> 1)) & 1) << 31;
        let y_sign = (quadrant >> 1) << 31;
        *z0 = radius * f32::from_bits(x.to_bits() ^ x_sign);
        *z1 = radius * f32::from_bits(y.to_bits() ^ y_sign);
    }
}

// Series coefficients as products: `x / 3.0` would be a division per sample (the compiler
// may not turn it into a multiplication, which rounds differently).
const THIRD: f32 = 1.0 / 3.0;
const FIFTH: f32 = 1.0 / 5.0;
const SEVENTH: f32 = 1.0 / 7.0;
const NINTH: f32 = 1.0 / 9.0;

/// ln x for x > 0 (normal): x = m·2ᵉ with m in [√½, √2), ln x = e·ln 2 + ln m, and
/// ln m = 2·atanh(t) = 2(t + t³/3 + t⁵/5 + …) for t = (m − 1)/(m + 1), |t| < 0.172.
#[inline(always)]
fn ln(x: f32) -> f32 {
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xFF) as i32 - 127;
    let mut m = f32::from_bits((bits & 0x7F_FFFF) | 0x3F80_0000); // in [1, 2)
    let big = m > std::f32::consts::SQRT_2;
    m = if big { 0.5 * m } else { m };
    e += big as i32;
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    let series = 1.0 + t2 * (THIRD + t2 * (FIFTH + t2 * (SEVENTH + t2 * NINTH)));
    e as f32 * std::f32::consts::LN_2 + 2.0 * t * series
}

/// sin a for |a| ≤ π/4: a − a³/3! + a⁵/5! − a⁷/7! + a⁹/9! (the next term is below 2e-9).
#[inline(always)]
fn sin_small(a: f32) -> f32 {
    const C: [f32; 4] = [-1.0 / 6.0, 1.0 / 120.0, -1.0 / 5040.0, 1.0 / 362_880.0];
    let a2 = a * a;
    a * (1.0 + a2 * (C[0] + a2 * (C[1] + a2 * (C[2] + a2 * C[3]))))
}

/// cos a for |a| ≤ π/4: 1 − a²/2! + a⁴/4! − a⁶/6! + a⁸/8! (the next term is below 3e-8).
#[inline(always)]
fn cos_small(a: f32) -> f32 {
    const C: [f32; 4] = [-0.5, 1.0 / 24.0, -1.0 / 720.0, 1.0 / 40_320.0];
    let a2 = a * a;
    1.0 + a2 * (C[0] + a2 * (C[1] + a2 * (C[2] + a2 * C[3])))
}

#[cfg(test)]
mod tests {
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn polynomials_match_the_library_functions() {
        for i in 1..=10_000 {
            let x = i as f32 / 10_000.0;
            assert!((ln(x) - x.ln()).abs() < 1e-6, "ln {x}");
            let tiny = x * 1e-6;
            assert!((ln(tiny) - tiny.ln()).abs() < 2e-6, "ln {tiny}");
            let a = (x - 0.5) * std::f32::consts::FRAC_PI_2;
            assert!((sin_small(a) - a.sin()).abs() < 1e-6, "sin {a}");
            assert!((cos_small(a) - a.cos()).abs() < 1e-6, "cos {a}");
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_simd_copies_give_the_same_bits() {
        let mut rng = SmallRng::seed_from_u64(4);
        for _ in 0..1000 {
            let bits: [u64; BLOCK / 2] = std::array::from_fn(|_| rng.random());
            let mut plain = [0.0; BLOCK];
            box_muller(&bits, &mut plain);
            let plain = plain.map(f32::to_bits);
            if std::arch::is_x86_feature_detected!("avx2") {
                let mut wide = [0.0; BLOCK];
                // SAFETY: AVX2 checked just above.
                unsafe { box_muller_avx2(&bits, &mut wide) };
                assert_eq!(plain, wide.map(f32::to_bits));
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                let mut wide = [0.0; BLOCK];
                // SAFETY: AVX-512F checked just above.
                unsafe { box_muller_avx512(&bits, &mut wide) };
                assert_eq!(plain, wide.map(f32::to_bits));
            }
        }
    }

    #[test]
    fn same_seed_same_samples() {
        let a = standard_normal_block(&mut SmallRng::seed_from_u64(9));
        let b = standard_normal_block(&mut SmallRng::seed_from_u64(9));
        assert_eq!(a, b);
        assert_ne!(a, standard_normal_block(&mut SmallRng::seed_from_u64(10)));
    }

    #[test]
    fn moments_and_tail_masses_are_those_of_n01() {
        let mut rng = SmallRng::seed_from_u64(1);
        let n = 1 << 20;
        let z: Vec<f64> = (0..n / BLOCK)
            .flat_map(|_| standard_normal_block(&mut rng))
            .map(f64::from)
            .collect();
        let mean = z.iter().sum::<f64>() / n as f64;
        let var = z.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        let kurt = z.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / n as f64 / var / var;
        // Standard errors at n = 2²⁰: mean 0.001, variance 0.0014, kurtosis 0.005.
        assert!(mean.abs() < 0.005, "mean {mean}");
        assert!((var - 1.0).abs() < 0.007, "variance {var}");
        assert!((kurt - 3.0).abs() < 0.03, "kurtosis {kurt}");
        let within = |k: f64| z.iter().filter(|x| x.abs() < k).count() as f64 / n as f64;
        assert!((within(1.0) - 0.682_689).abs() < 0.003);
        assert!((within(2.0) - 0.954_500).abs() < 0.002);
        assert!((within(3.0) - 0.997_300).abs() < 0.0005);
        // Each coordinate is symmetric, and the two of a pair are uncorrelated.
        let pos = z.iter().filter(|&&x| x > 0.0).count() as f64 / n as f64;
        assert!((pos - 0.5).abs() < 0.003);
        let half = BLOCK / 2;
        let corr: f64 = z
            .chunks_exact(BLOCK)
            .flat_map(|b| (0..half).map(move |i| b[i] * b[i + half]))
            .sum::<f64>()
            / (n / 2) as f64;
        assert!(corr.abs() < 0.01, "pair correlation {corr}");
    }
}
