//! Σ (aᵢ − bᵢ)², the sum inside mean squared error, and k·(aᵢ − bᵢ), its gradient.
//!
//! An autoencoder's loss compares a whole batch of reconstructions with its inputs (MNIST:
//! 100 × 784 values; its evaluation, 1000 × 784 at a time). Summing them is a chain of
//! dependent adds, so the sum keeps `LANES` (64) independent partial sums: the adds
//! overlap, and each partial sum is 64 times shorter than one running sum, so its
//! rounding error grows more slowly. Both loops run in the widest SIMD copy the CPU has
//! (see [`simd`](crate::simd)); the lane count is fixed, so every copy gives the same
//! bits.

use std::mem::MaybeUninit;

use crate::Float;

/// Partial sums of [`sum_squared_difference`]: four 512-bit vectors of `f32`, enough
/// independent add chains to hide the add latency on every SIMD width.
const LANES: usize = 64;

/// Σ (aᵢ − bᵢ)² over equal-length slices, in 64 interleaved partial sums (the
/// rounding is the same on every CPU).
///
/// ```
/// let s = ferrograd_tensor::sum_squared_difference(&[1.0f32, 2.0, 3.0], &[0.0, 0.0, 1.0]);
/// assert_eq!(s, 1.0 + 4.0 + 4.0);
/// ```
#[track_caller]
pub fn sum_squared_difference<T: Float>(a: &[T], b: &[T]) -> T {
    check_lengths("sum_squared_difference", a, b);
    squared_difference(a, b, T::ZERO, &mut [])
}

/// `k·(aᵢ − bᵢ)` for equal-length slices, in one vectorised pass: the gradient of
/// `s·Σ(aᵢ − bᵢ)²` with respect to `a` when `k = 2s`.
///
/// ```
/// let g = ferrograd_tensor::scaled_difference(&[1.0f32, 2.0], &[0.0, 4.0], 2.0);
/// assert_eq!(g, [2.0, -4.0]);
/// ```
#[track_caller]
pub fn scaled_difference<T: Float>(a: &[T], b: &[T], k: T) -> Vec<T> {
    check_lengths("scaled_difference", a, b);
    let mut out = Vec::with_capacity(a.len());
    squared_difference(a, b, k, &mut out.spare_capacity_mut()[..a.len()]);
    // SAFETY: the loop wrote every one of the first `a.len()` elements (its contract).
    unsafe { out.set_len(a.len()) };
    out
}

#[track_caller]
fn check_lengths<T>(op: &str, a: &[T], b: &[T]) {
    assert!(
        a.len() == b.len(),
        "{op}: operands of {} and {} elements",
        a.len(),
        b.len()
    );
}

/// [`squared_difference_loop`] in the widest copy the CPU runs.
fn squared_difference<T: Float>(a: &[T], b: &[T], k: T, out: &mut [MaybeUninit<T>]) -> T {
    crate::dispatch_simd!(squared_difference_loop(a, b, k, out))
}

/// The sum, and when `out` is not empty (it then has `a.len()` elements) every
/// `out[i] = k·(a[i] − b[i])`. `a` and `b` have equal lengths.
#[inline(always)]
fn squared_difference_loop<T: Float>(a: &[T], b: &[T], k: T, out: &mut [MaybeUninit<T>]) -> T {
    let full = a.len() / LANES * LANES;
    let (a_body, b_body) = (&a[..full], &b[..full]);
    let mut acc = [T::ZERO; LANES];
    if out.is_empty() {
        for (xa, xb) in a_body.chunks_exact(LANES).zip(b_body.chunks_exact(LANES)) {
            for i in 0..LANES {
                let d = xa[i] - xb[i];
                acc[i] += d * d;
            }
        }
    } else {
        let lanes = a_body.chunks_exact(LANES).zip(b_body.chunks_exact(LANES));
        for ((xa, xb), o) in lanes.zip(out[..full].chunks_exact_mut(LANES)) {
            for i in 0..LANES {
                let d = xa[i] - xb[i];
                acc[i] += d * d;
                o[i].write(d * k);
            }
        }
    }
    let mut tail = T::ZERO;
    for i in full..a.len() {
        let d = a[i] - b[i];
        tail += d * d;
        if let Some(o) = out.get_mut(i) {
            o.write(d * k);
        }
    }
    acc.iter().fold(T::ZERO, |s, &x| s + x) + tail
}

crate::simd_copies! {
    fn squared_difference_loop[T: Float](a: &[T], b: &[T], k: T, out: &mut [MaybeUninit<T>]) -> T;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 2000) as f32 * 0.013 - 13.0)
            .collect()
    }

    /// Every SIMD copy gives the baseline loop's bits, for the sum and the scaled
    /// differences, on lengths around the lane count.
    #[test]
    fn copies_match_the_baseline_bit_for_bit() {
        for n in [0, 1, 63, 64, 65, 200, 78_400, 78_401] {
            let (a, b) = (data(n, 1), data(n, 2));
            let s_fast = sum_squared_difference(&a, &b);
            let fast = scaled_difference(&a, &b, 0.75f32);
            assert_eq!(fast.len(), n);
            let mut plain = vec![MaybeUninit::uninit(); n];
            let s_plain = squared_difference_loop(&a, &b, 0.75f32, &mut plain);
            assert_eq!(s_fast.to_bits(), s_plain.to_bits(), "n={n}");
            for (i, (f, p)) in fast.iter().zip(&plain).enumerate() {
                // SAFETY: the loop wrote all n elements.
                let p = unsafe { p.assume_init() };
                assert_eq!(f.to_bits(), p.to_bits(), "n={n} i={i}");
                assert_eq!(*f, (a[i] - b[i]) * 0.75);
            }
        }
    }

    /// The lane sums agree with a plain serial sum to rounding, in f64.
    #[test]
    fn lane_sum_matches_the_plain_sum() {
        for n in [0, 1, 7, 64, 100, 1003] {
            let a: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
            let b: Vec<f64> = (0..n).map(|i| (i as f64 * 0.11).cos()).collect();
            let plain: f64 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
            let lanes = sum_squared_difference(&a, &b);
            assert!((plain - lanes).abs() <= 1e-12 * plain.max(1.0), "n={n}");
        }
    }

    #[test]
    #[should_panic(expected = "sum_squared_difference: operands of 3 and 2 elements")]
    fn unequal_lengths_are_refused_by_the_sum() {
        sum_squared_difference(&[1.0f32, 2.0, 3.0], &[1.0, 2.0]);
    }

    #[test]
    #[should_panic(expected = "scaled_difference: operands of 1 and 2 elements")]
    fn unequal_lengths_are_refused_by_the_gradient() {
        scaled_difference(&[1.0f32], &[1.0, 2.0], 2.0);
    }
}
