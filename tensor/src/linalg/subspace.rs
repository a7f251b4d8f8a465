//! Principal angles between subspaces.

use super::{matrix_dims, qr, singular_values};
use crate::Tensor;

/// The principal angles (radians, ascending, in `[0, π/2]`) between the column spans of
/// `a` (`m × p`) and `b` (`m × q`); there are `min(p, q)` of them.
///
/// Both are orthonormalised by [`qr`] (so each must have full column rank and at most
/// `m` columns). With `Q_b` the one with fewer columns, the cosines are the singular
/// values of `Q_aᵀQ_b` and the sines those of `Q_b - Q_a Q_aᵀ Q_b`; an angle below π/4 is
/// taken from its sine and one above from its cosine, so small angles are accurate to
/// about `ε` rather than the `√ε` of `acos` alone (Knyazev & Argentati 2002).
///
/// Panics if the row counts differ or a matrix has more columns than rows.
///
/// ```
/// use ferrograd_tensor::{linalg::principal_angles, Tensor};
/// // The x-axis against the line at 30° in the xy-plane of R³.
/// let a = Tensor::from_vec(vec![1.0, 0.0, 0.0], [3, 1]);
/// let b = Tensor::from_vec(vec![3f64.sqrt() / 2.0, 0.5, 0.0], [3, 1]);
/// let angles = principal_angles(&a, &b);
/// assert!((angles[0] - std::f64::consts::FRAC_PI_6).abs() < 1e-15);
/// ```
#[track_caller]
pub fn principal_angles(a: &Tensor<f64>, b: &Tensor<f64>) -> Vec<f64> {
    let (m, p) = matrix_dims(a, "principal_angles");
    let (mb, q) = matrix_dims(b, "principal_angles");
    assert!(
        m == mb && p <= m && q <= m,
        "principal_angles: expected two matrices with the same number of rows and at most \
         that many columns, got shapes {} and {}",
        a.shape(),
        b.shape()
    );
    let (qa, _) = qr(a);
    let (qb, _) = qr(b);
    let (qa, qb) = if q <= p { (qa, qb) } else { (qb, qa) };
    let k = qb.cols();
    let overlap = qa.matmul_t(true, &qb, false);
    let cosines = singular_values(&overlap);
    let mut residual = qb;
    residual.add_scaled_(-1.0, &qa.matmul(&overlap));
    let mut sines = singular_values(&residual);
    sines.reverse();
    (0..k)
        .map(|i| {
            let (c, s) = (cosines[i].min(1.0), sines[i].min(1.0));
            if s < c {
                s.asin()
            } else {
                c.acos()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::f64::consts::FRAC_PI_2;

    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;
    use crate::linalg::haar_orthogonal;

    #[test]
    fn same_subspace_after_mixing_has_zero_angles() {
        let mut rng = StdRng::seed_from_u64(1);
        let a = Tensor::<f64>::randn([20, 4], &mut rng);
        // An invertible mixing: a random matrix plus a multiple of the identity.
        let mut mix = Tensor::<f64>::randn([4, 4], &mut rng);
        mix.add_scaled_(3.0, &Tensor::eye(4));
        let b = a.matmul(&mix);
        let angles = principal_angles(&a, &b);
        assert_eq!(angles.len(), 4);
        assert!(angles.iter().all(|&t| t < 1e-13), "{angles:?}");
    }

    #[test]
    fn orthogonal_subspaces_are_at_right_angles() {
        let q = haar_orthogonal(7, &mut StdRng::seed_from_u64(2));
        let a = q.narrow(1, 0, 2);
        let b = q.narrow(1, 2, 5);
        for angles in [principal_angles(&a, &b), principal_angles(&b, &a)] {
            assert_eq!(angles.len(), 2);
            assert!(
                angles.iter().all(|t| (t - FRAC_PI_2).abs() < 1e-13),
                "{angles:?}"
            );
        }
    }

    #[test]
    fn known_angles_small_and_large() {
        // span{e0, e1} against span{cos t0 e0 + sin t0 e2, cos t1 e1 + sin t1 e3}, then
        // both rotated by the same orthogonal matrix (angles are invariant).
        for (t0, t1) in [(1e-9, 1.2), (0.7, 0.3), (FRAC_PI_2, 1e-12)] {
            let mut a = Tensor::zeros([5, 2]);
            a[[0, 0]] = 1.0;
            a[[1, 1]] = 1.0;
            let mut b = Tensor::zeros([5, 2]);
            b[[0, 0]] = f64::cos(t0);
            b[[2, 0]] = f64::sin(t0);
            b[[1, 1]] = f64::cos(t1);
            b[[3, 1]] = f64::sin(t1);
            let r = haar_orthogonal(5, &mut StdRng::seed_from_u64(3));
            let angles = principal_angles(&r.matmul(&a), &r.matmul(&b));
            let (lo, hi) = if t0 < t1 { (t0, t1) } else { (t1, t0) };
            assert!(
                (angles[0] - lo).abs() < 1e-15 + 1e-14 * lo,
                "{angles:?} vs {lo}"
            );
            assert!((angles[1] - hi).abs() < 1e-14, "{angles:?} vs {hi}");
        }
    }

    #[test]
    fn different_column_counts_are_symmetric() {
        let mut rng = StdRng::seed_from_u64(4);
        let a = Tensor::<f64>::randn([10, 3], &mut rng);
        let b = Tensor::<f64>::randn([10, 5], &mut rng);
        let ab = principal_angles(&a, &b);
        let ba = principal_angles(&b, &a);
        assert_eq!(ab.len(), 3);
        for (x, y) in ab.iter().zip(&ba) {
            assert!((x - y).abs() < 1e-14);
        }
        assert!(ab.windows(2).all(|w| w[0] <= w[1]));
        assert!(ab.iter().all(|&t| (0.0..=FRAC_PI_2).contains(&t)));
    }

    #[test]
    #[should_panic(expected = "got shapes [4, 2] and [5, 2]")]
    fn row_mismatch_panics() {
        let _ = principal_angles(&Tensor::zeros([4, 2]), &Tensor::zeros([5, 2]));
    }
}
