//! Householder QR and Haar-random orthogonal matrices.

use rand::Rng;

use super::{householder, matrix_dims, reflect_rows};
use crate::Tensor;

/// The thin (reduced) QR factorisation `A = Q R` of an `m × n` matrix with `m ≥ n`:
/// `Q` is `m × n` with orthonormal columns (`QᵀQ = I`), `R` is `n × n` upper triangular.
///
/// Computed with Householder reflections `H_k = I - β_k v_k v_kᵀ`, so `Q` is orthonormal to
/// machine precision whatever the conditioning of `A`; `Q = H_0 ⋯ H_{n-1} [I; 0]` is formed
/// by backward accumulation. The diagonal of `R` may be negative (`R_kk = ∓‖·‖` is chosen
/// to avoid cancellation). When `A` is rank deficient the factorisation still holds but
/// the span of `Q` need not equal the span of `A`.
///
/// Panics unless `a` is a matrix with at least as many rows as columns.
///
/// ```
/// use ferrograd_tensor::{linalg::qr, Tensor};
/// let a = Tensor::from_vec(vec![3.0, 1.0, 4.0, 1.0, 0.0, 2.0], [3, 2]);
/// let (q, r) = qr(&a);
/// assert!(q.matmul(&r).allclose(&a, 0.0, 1e-12));
/// assert!(q.matmul_t(true, &q, false).allclose(&Tensor::eye(2), 0.0, 1e-12));
/// assert_eq!(r[[1, 0]], 0.0);
/// ```
#[track_caller]
pub fn qr(a: &Tensor<f64>) -> (Tensor<f64>, Tensor<f64>) {
    let (m, n) = matrix_dims(a, "qr");
    assert!(
        m >= n,
        "qr: expected at least as many rows as columns (m >= n), got shape {}",
        a.shape()
    );
    let mut w = a.data().to_vec();
    let mut reflectors = Vec::with_capacity(n);
    let mut col = vec![0.0; m];
    for k in 0..n {
        let x = &mut col[..m - k];
        for (i, xi) in x.iter_mut().enumerate() {
            *xi = w[(k + i) * n + k];
        }
        let (v, beta, alpha) = householder(x);
        // Column k becomes alpha e_k exactly; the rest of the block is reflected.
        reflect_rows(&mut w, n, k, k + 1, &v, beta);
        w[k * n + k] = if beta == 0.0 { x[0] } else { alpha };
        for i in k + 1..m {
            w[i * n + k] = 0.0;
        }
        reflectors.push((v, beta));
    }
    let mut r = Tensor::zeros([n, n]);
    for i in 0..n {
        r.data_mut()[i * n + i..(i + 1) * n].copy_from_slice(&w[i * n + i..(i + 1) * n]);
    }
    // Q = H_0 (H_1 (⋯ (H_{n-1} [I; 0]))); H_k only touches rows k.. and, at that point,
    // only columns k.. are non-trivial there.
    let mut q = Tensor::zeros([m, n]);
    let qd = q.data_mut();
    for i in 0..n {
        qd[i * n + i] = 1.0;
    }
    for (k, (v, beta)) in reflectors.iter().enumerate().rev() {
        reflect_rows(qd, n, k, k, v, *beta);
    }
    (q, r)
}

/// A Haar-distributed (uniformly random) `n × n` orthogonal matrix.
///
/// Draws `G` with i.i.d. N(0, 1) entries, factors `G = Q R`, and multiplies column `j` of
/// `Q` by `sign(R_jj)`. Without that fix the distribution of `Q` depends on the QR
/// convention and is not Haar (Mezzadri 2007, "How to generate random matrices from the
/// classical compact groups"). Both determinants, +1 and -1, occur. Deterministic for a
/// given generator state.
///
/// ```
/// use rand::{rngs::StdRng, SeedableRng};
/// use ferrograd_tensor::{linalg::haar_orthogonal, Tensor};
/// let q = haar_orthogonal(4, &mut StdRng::seed_from_u64(0));
/// assert!(q.matmul_t(true, &q, false).allclose(&Tensor::eye(4), 0.0, 1e-12));
/// ```
pub fn haar_orthogonal<R: Rng + ?Sized>(n: usize, rng: &mut R) -> Tensor<f64> {
    let g = Tensor::<f64>::randn([n, n], rng);
    let (mut q, r) = qr(&g);
    let signs: Vec<f64> = (0..n)
        .map(|j| if r[[j, j]] < 0.0 { -1.0 } else { 1.0 })
        .collect();
    for row in q.data_mut().chunks_exact_mut(n.max(1)) {
        for (x, s) in row.iter_mut().zip(&signs) {
            *x *= s;
        }
    }
    q
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    fn check_qr(m: usize, n: usize, seed: u64) {
        let a = Tensor::<f64>::randn([m, n], &mut StdRng::seed_from_u64(seed));
        let (q, r) = qr(&a);
        assert_eq!(q.dims(), &[m, n]);
        assert_eq!(r.dims(), &[n, n]);
        let qtq = q.matmul_t(true, &q, false);
        assert!(
            qtq.max_abs_diff(&Tensor::eye(n)) < 1e-12,
            "QᵀQ ≠ I for {m}x{n}"
        );
        assert!(q.matmul(&r).max_abs_diff(&a) < 1e-12, "QR ≠ A for {m}x{n}");
        for i in 0..n {
            for j in 0..i {
                assert_eq!(r[[i, j]], 0.0, "R not upper triangular at ({i}, {j})");
            }
        }
    }

    #[test]
    fn qr_random_tall_and_square() {
        check_qr(7, 5, 1);
        check_qr(65, 13, 2);
        check_qr(20, 20, 3);
        check_qr(1, 1, 4);
        check_qr(5, 1, 5);
    }

    #[test]
    fn qr_rank_deficient_still_factors() {
        // Two equal columns and a zero column.
        let mut rng = StdRng::seed_from_u64(9);
        let c = Tensor::<f64>::randn([6, 1], &mut rng);
        let a = Tensor::from_fn([6, 3], |i| if i % 3 == 2 { 0.0 } else { c.data()[i / 3] });
        let (q, r) = qr(&a);
        assert!(q.matmul(&r).max_abs_diff(&a) < 1e-12);
        assert!(q.matmul_t(true, &q, false).max_abs_diff(&Tensor::eye(3)) < 1e-12);
    }

    #[test]
    fn qr_of_upper_triangular_keeps_magnitudes() {
        let a = Tensor::from_vec(vec![2.0, 1.0, 0.0, 3.0], [2, 2]);
        let (_, r) = qr(&a);
        assert!((r[[0, 0]].abs() - 2.0).abs() < 1e-15);
        assert!((r[[1, 1]].abs() - 3.0).abs() < 1e-15);
    }

    #[test]
    #[should_panic(
        expected = "qr: expected at least as many rows as columns (m >= n), got shape [3, 5]"
    )]
    fn qr_wide_panics_with_shape() {
        let _ = qr(&Tensor::zeros([3, 5]));
    }

    /// Determinant by Gaussian elimination with partial pivoting.
    fn det(a: &Tensor<f64>) -> f64 {
        let n = a.rows();
        let mut m = a.data().to_vec();
        let mut d = 1.0;
        for k in 0..n {
            let p = (k..n)
                .max_by(|&i, &j| m[i * n + k].abs().total_cmp(&m[j * n + k].abs()))
                .unwrap();
            if p != k {
                for j in 0..n {
                    m.swap(k * n + j, p * n + j);
                }
                d = -d;
            }
            d *= m[k * n + k];
            for i in k + 1..n {
                let f = m[i * n + k] / m[k * n + k];
                for j in k..n {
                    m[i * n + j] -= f * m[k * n + j];
                }
            }
        }
        d
    }

    #[test]
    fn haar_is_orthogonal_reproducible_and_has_both_determinants() {
        let (mut pos, mut neg) = (0, 0);
        for seed in 0..40 {
            let q = haar_orthogonal(6, &mut StdRng::seed_from_u64(seed));
            assert!(q.matmul_t(true, &q, false).max_abs_diff(&Tensor::eye(6)) < 1e-12);
            assert!(q.matmul_t(false, &q, true).max_abs_diff(&Tensor::eye(6)) < 1e-12);
            let d = det(&q);
            assert!((d.abs() - 1.0).abs() < 1e-12, "det = {d}");
            if d > 0.0 {
                pos += 1;
            } else {
                neg += 1;
            }
        }
        assert!(
            pos > 5 && neg > 5,
            "det signs: {pos} positive, {neg} negative"
        );
        let a = haar_orthogonal(5, &mut StdRng::seed_from_u64(11));
        let b = haar_orthogonal(5, &mut StdRng::seed_from_u64(11));
        assert_eq!(a, b);
        assert_ne!(a, haar_orthogonal(5, &mut StdRng::seed_from_u64(12)));
    }

    #[test]
    fn haar_first_column_is_uniform_on_the_sphere() {
        // For Haar Q, E[Q_00²] = 1/n and the sign of Q_00 is ±1 with equal probability;
        // without the sign fix, Householder QR makes R_00 = -‖g‖·sign(g_00) and the
        // first column's first entry is always ≤ 0 — this test would then fail.
        let n = 4;
        let trials = 2000;
        let mut rng = StdRng::seed_from_u64(5);
        let (mut sq, mut positive) = (0.0, 0);
        for _ in 0..trials {
            let q = haar_orthogonal(n, &mut rng);
            sq += q[[0, 0]] * q[[0, 0]];
            positive += usize::from(q[[0, 0]] > 0.0);
        }
        let mean_sq = sq / trials as f64;
        assert!((mean_sq - 0.25).abs() < 0.02, "E[Q_00²] = {mean_sq}");
        assert!(
            (850..1150).contains(&positive),
            "{positive} positive of {trials}"
        );
    }

    #[test]
    fn haar_trivial_sizes() {
        let mut rng = StdRng::seed_from_u64(0);
        assert_eq!(haar_orthogonal(0, &mut rng).dims(), &[0, 0]);
        let one = haar_orthogonal(1, &mut rng);
        assert!((one.item() - 1.0).abs() < 1e-15, "{one:?}");
    }
}
