//! Singular values by QR and one-sided (Hestenes) Jacobi.

use super::{dot, matrix_dims, qr};
use crate::Tensor;

/// Sweeps allowed; convergence is quadratic and 6–10 sweeps are typical.
const MAX_SWEEPS: usize = 60;

/// The singular values of an `m × n` matrix, descending, `min(m, n)` of them:
/// `σ_i = sqrt(λ_i(AᵀA))`, computed without forming `AᵀA`.
///
/// The matrix (transposed if wide) is first reduced to its square triangular factor `R`
/// by [`qr`], then one-sided Jacobi rotates pairs of columns of `R` until all are
/// mutually orthogonal; the singular values are the column norms. Every value is accurate
/// to about `ε·σ_max` (backward stable), so small singular values keep far more digits
/// than `sqrt(eigh(AᵀA))`, whose error is about `ε·σ_max²/σ_i`. O(mn² + n³) per call,
/// meant for matrices up to a few hundred columns.
///
/// Panics unless `a` is a matrix.
///
/// ```
/// use ferrograd_tensor::{linalg::singular_values, Tensor};
/// let a = Tensor::from_vec(vec![3.0, 0.0, 0.0, 0.0, -4.0, 0.0], [2, 3]);
/// let s = singular_values(&a);
/// assert!((s[0] - 4.0).abs() < 1e-15 && (s[1] - 3.0).abs() < 1e-15);
/// ```
#[track_caller]
pub fn singular_values(a: &Tensor<f64>) -> Vec<f64> {
    let (m, n) = matrix_dims(a, "singular_values");
    let (_, r) = if m < n { qr(&a.transpose()) } else { qr(a) };
    let k = r.rows();
    // Row j of Rᵀ is column j of R: the rotations then work on contiguous rows.
    let mut cols = r.transpose().into_vec();
    let tol = f64::EPSILON * k as f64;
    for _ in 0..MAX_SWEEPS {
        let mut rotated = false;
        for p in 0..k {
            for q in p + 1..k {
                let (head, tail) = cols.split_at_mut(q * k);
                let cp = &mut head[p * k..(p + 1) * k];
                let cq = &mut tail[..k];
                let alpha = dot(cp, cp);
                let beta = dot(cq, cq);
                let gamma = dot(cp, cq);
                if gamma == 0.0 || gamma.abs() <= tol * alpha.sqrt() * beta.sqrt() {
                    continue;
                }
                rotated = true;
                // The rotation that makes the two columns orthogonal (smaller angle).
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + zeta.hypot(1.0));
                let c = 1.0 / t.hypot(1.0);
                let s = c * t;
                for (x, y) in cp.iter_mut().zip(cq.iter_mut()) {
                    let old = *x;
                    *x = c * old - s * *y;
                    *y = s * old + c * *y;
                }
            }
        }
        if !rotated {
            break;
        }
    }
    let mut sigma: Vec<f64> = cols
        .chunks_exact(k.max(1))
        .map(|c| dot(c, c).sqrt())
        .collect();
    sigma.truncate(k);
    sigma.sort_by(|x, y| y.total_cmp(x));
    sigma
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;
    use crate::linalg::{eigh, haar_orthogonal};

    /// `U diag(s) Vᵀ` with Haar-random `U` (m × m, first n columns) and `V` (n × n).
    fn with_singular_values(m: usize, s: &[f64], seed: u64) -> Tensor<f64> {
        let n = s.len();
        let mut rng = StdRng::seed_from_u64(seed);
        let u = haar_orthogonal(m, &mut rng).narrow(1, 0, n);
        let v = haar_orthogonal(n, &mut rng);
        let us = Tensor::from_fn([m, n], |i| u.data()[i] * s[i % n]);
        us.matmul_t(false, &v, true)
    }

    #[test]
    fn prescribed_spectrum_including_tiny_values() {
        let s = [10.0, 3.0, 1.0, 1e-3, 1e-9];
        let a = with_singular_values(9, &s, 1);
        let got = singular_values(&a);
        for (g, e) in got.iter().zip(s) {
            assert!((g - e).abs() < 1e-13, "{got:?}");
        }
        // The wide transpose has the same singular values.
        let gt = singular_values(&a.transpose());
        for (g, e) in gt.iter().zip(s) {
            assert!((g - e).abs() < 1e-13, "{gt:?}");
        }
        // sqrt(eigh(AᵀA)) loses the 1e-9 entirely (error ≈ ε·σ_max²/σ), which is why
        // singular_values does not use it.
        let (l, _) = eigh(&a.matmul_t(true, &a, false));
        let naive = l[4].max(0.0).sqrt();
        assert!((naive - 1e-9).abs() > 1e-11, "naive {naive}");
    }

    #[test]
    fn agrees_with_eigh_on_well_conditioned_random() {
        let a = Tensor::<f64>::randn([30, 12], &mut StdRng::seed_from_u64(2));
        let s = singular_values(&a);
        assert_eq!(s.len(), 12);
        let (l, _) = eigh(&a.matmul_t(true, &a, false));
        for (si, li) in s.iter().zip(&l) {
            assert!((si - li.sqrt()).abs() < 1e-12, "{si} vs {}", li.sqrt());
        }
        let fro: f64 = a.data().iter().map(|x| x * x).sum();
        let ssq: f64 = s.iter().map(|x| x * x).sum();
        assert!((fro - ssq).abs() < 1e-10 * fro);
        assert!(s.windows(2).all(|w| w[0] >= w[1]));
    }

    #[test]
    fn rank_deficient_and_degenerate() {
        let s = singular_values(&with_singular_values(6, &[2.0, 2.0, 0.0, 0.0], 3));
        assert!(
            (s[0] - 2.0).abs() < 1e-14 && (s[1] - 2.0).abs() < 1e-14,
            "{s:?}"
        );
        assert!(s[2] < 1e-14 && s[3] < 1e-14, "{s:?}");
        assert_eq!(singular_values(&Tensor::zeros([3, 2])), vec![0.0, 0.0]);
        assert_eq!(singular_values(&Tensor::zeros([0, 3])), Vec::<f64>::new());
        let one = singular_values(&Tensor::from_vec(vec![-5.0], [1, 1]));
        assert_eq!(one, vec![5.0]);
    }
}
