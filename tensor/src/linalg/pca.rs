//! Principal component analysis and the sample covariance.

use super::{eigh, matrix_dims};
use crate::Tensor;

/// The sample covariance of the rows of `x` (`n_samples × dim`), with divisor `n`:
/// `C = (X - 1μᵀ)ᵀ(X - 1μᵀ) / n`, a `dim × dim` symmetric matrix.
///
/// Divisor `n` (the maximum-likelihood estimate, NumPy's `bias=True`), not `n - 1`: with
/// samples as columns this is the homework's `XXᵀ/n` of centred data, and its eigenvalues
/// are exactly the per-sample squared errors PCA trades off (see [`Pca`]). The product
/// runs on the GEMM; the result is made exactly symmetric.
///
/// Panics unless `x` is a matrix with at least one row.
///
/// ```
/// use ferrograd_tensor::{linalg::covariance, Tensor};
/// let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 6.0], [2, 2]);
/// assert_eq!(covariance(&x).data(), &[1.0, 2.0, 2.0, 4.0]);
/// ```
#[track_caller]
pub fn covariance(x: &Tensor<f64>) -> Tensor<f64> {
    let (n, d) = matrix_dims(x, "covariance");
    assert!(
        n > 0,
        "covariance: need at least one sample, got shape {}",
        x.shape()
    );
    let (xc, _) = centered(x);
    let mut c = xc.matmul_t(true, &xc, false).scale(1.0 / n as f64);
    let cd = c.data_mut();
    for i in 0..d {
        for j in 0..i {
            let m = 0.5 * (cd[i * d + j] + cd[j * d + i]);
            cd[i * d + j] = m;
            cd[j * d + i] = m;
        }
    }
    c
}

/// `x` with its column means subtracted, and the means.
fn centered(x: &Tensor<f64>) -> (Tensor<f64>, Vec<f64>) {
    let (n, d) = (x.rows(), x.cols());
    let mut mean = vec![0.0; d];
    for row in x.data().chunks_exact(d.max(1)) {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += v;
        }
    }
    for m in &mut mean {
        *m /= n as f64;
    }
    let mut xc = x.clone();
    subtract_rows(&mut xc, &mean, -1.0);
    (xc, mean)
}

/// `x[i, :] += sign * v` for every row.
fn subtract_rows(x: &mut Tensor<f64>, v: &[f64], sign: f64) {
    let d = v.len().max(1);
    for row in x.data_mut().chunks_exact_mut(d) {
        for (a, b) in row.iter_mut().zip(v) {
            *a += sign * b;
        }
    }
}

/// A fitted principal component analysis: the mean, the top-`k` principal directions and
/// the whole spectrum of the sample covariance (divisor `n`, see [`covariance`]).
///
/// With `U_k` the top-`k` eigenvectors, `transform(x) = (x - μ) U_k` and
/// `inverse_transform(z) = z U_kᵀ + μ`. Projecting onto the top `k` components is the
/// best rank-`k` affine reconstruction in squared L2 error (Eckart–Young), and its mean
/// error per sample, `(1/n) Σ_i ‖x_i - x̂_i‖²`, equals [`discarded_variance(k)`]
/// (`Σ_{j>k} λ_j`) — the loss an optimal linear autoencoder with a `k`-unit bottleneck
/// reaches.
///
/// [`discarded_variance(k)`]: Pca::discarded_variance
#[derive(Clone, Debug, PartialEq)]
pub struct Pca {
    /// Per-feature mean μ of the training data (length `dim`).
    pub mean: Vec<f64>,
    /// `dim × k` principal directions as orthonormal columns, by decreasing variance; each
    /// signed so that its largest-magnitude entry is positive.
    pub components: Tensor<f64>,
    /// All `dim` eigenvalues of the covariance, descending: the variance along each
    /// principal direction. Rounding can leave values of order `-ε·λ_max` where the true
    /// value is 0.
    pub explained_variance: Vec<f64>,
}

/// Fits a PCA with `k` components to `x` (`n_samples × dim`, one sample per row) via
/// [`eigh`] of the `dim × dim` [`covariance`].
///
/// Panics unless `x` is a non-empty matrix and `k ≤ dim`.
///
/// ```
/// use ferrograd_tensor::{linalg::pca, Tensor};
/// // Points on the line y = 2x, offset by (1, 1).
/// let x = Tensor::from_vec(vec![1.0, 1.0, 2.0, 3.0, 3.0, 5.0, 4.0, 7.0], [4, 2]);
/// let p = pca(&x, 1);
/// assert_eq!(p.mean, vec![2.5, 4.0]);
/// assert!(p.discarded_variance(1).abs() < 1e-12);
/// assert!(p.inverse_transform(&p.transform(&x)).allclose(&x, 0.0, 1e-12));
/// ```
#[track_caller]
pub fn pca(x: &Tensor<f64>, k: usize) -> Pca {
    let (_, d) = matrix_dims(x, "pca");
    assert!(
        k <= d,
        "pca: k = {k} components exceed the dimension {d} of data of shape {}",
        x.shape()
    );
    let c = covariance(x);
    let (_, mean) = centered(x);
    let (explained_variance, vectors) = eigh(&c);
    let components = if k == d {
        vectors
    } else {
        vectors.narrow(1, 0, k)
    };
    Pca {
        mean,
        components,
        explained_variance,
    }
}

impl Pca {
    /// The data dimension `dim`.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// The number of components `k` kept.
    pub fn n_components(&self) -> usize {
        self.components.cols()
    }

    /// Coordinates in the principal basis: `(x - μ) U_k`, `n × k`. Panics unless `x` has
    /// `dim` columns.
    #[track_caller]
    pub fn transform(&self, x: &Tensor<f64>) -> Tensor<f64> {
        let (_, d) = matrix_dims(x, "Pca::transform");
        assert!(
            d == self.dim(),
            "Pca::transform: data of shape {} has {d} features, the PCA was fitted on {}",
            x.shape(),
            self.dim()
        );
        let mut xc = x.clone();
        subtract_rows(&mut xc, &self.mean, -1.0);
        xc.matmul(&self.components)
    }

    /// Back to data space: `z U_kᵀ + μ`, `n × dim`. Panics unless `z` has `k` columns.
    #[track_caller]
    pub fn inverse_transform(&self, z: &Tensor<f64>) -> Tensor<f64> {
        let (_, k) = matrix_dims(z, "Pca::inverse_transform");
        assert!(
            k == self.n_components(),
            "Pca::inverse_transform: codes of shape {} have {k} columns, the PCA keeps {}",
            z.shape(),
            self.n_components()
        );
        let mut x = z.matmul_t(false, &self.components, true);
        subtract_rows(&mut x, &self.mean, 1.0);
        x
    }

    /// The projection onto the affine principal subspace: `inverse_transform(transform(x))`.
    #[track_caller]
    pub fn reconstruct(&self, x: &Tensor<f64>) -> Tensor<f64> {
        self.inverse_transform(&self.transform(x))
    }

    /// `Σ_{j ≥ k} λ_j` (0-based): the variance outside the top `k` directions, which is the
    /// mean squared reconstruction error per sample (summed over features) of the best
    /// rank-`k` projection on the training data. Any `k ≤ dim`, not only the fitted one.
    #[track_caller]
    pub fn discarded_variance(&self, k: usize) -> f64 {
        assert!(
            k <= self.dim(),
            "Pca::discarded_variance: k = {k} exceeds the dimension {}",
            self.dim()
        );
        self.explained_variance[k..].iter().sum()
    }

    /// `Σ_j λ_j`, the trace of the covariance (total variance).
    pub fn total_variance(&self) -> f64 {
        self.explained_variance.iter().sum()
    }

    /// `λ_j / Σ λ`, the fraction of the total variance along each principal direction.
    pub fn explained_variance_ratio(&self) -> Vec<f64> {
        let total = self.total_variance();
        self.explained_variance.iter().map(|l| l / total).collect()
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;
    use crate::linalg::haar_orthogonal;

    /// `n` samples of anisotropic Gaussian data in `d` dimensions: a rotated diagonal
    /// scaling plus an offset, so the spectrum is spread out and the mean non-zero.
    fn data(n: usize, d: usize, seed: u64) -> Tensor<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        let g = Tensor::<f64>::randn([n, d], &mut rng);
        let scaled = Tensor::from_fn([n, d], |i| g.data()[i] * (1.0 + (i % d) as f64));
        let mut x = scaled.matmul(&haar_orthogonal(d, &mut rng));
        subtract_rows(
            &mut x,
            &(0..d).map(|j| j as f64 - 2.0).collect::<Vec<_>>(),
            1.0,
        );
        x
    }

    fn mean_sq_error(a: &Tensor<f64>, b: &Tensor<f64>) -> f64 {
        let diff: f64 = a
            .data()
            .iter()
            .zip(b.data())
            .map(|(x, y)| (x - y).powi(2))
            .sum();
        diff / a.rows() as f64
    }

    #[test]
    fn covariance_by_hand() {
        let x = Tensor::from_vec(vec![1.0, 2.0, 0.0, 3.0, 6.0, 0.0, 2.0, 1.0, 3.0], [3, 3]);
        let c = covariance(&x);
        // Means (2, 3, 1); centred rows (-1,-1,-1), (1,3,-1), (0,-2,2); divisor 3.
        let expected = [2.0, 4.0, 0.0, 4.0, 14.0, -6.0, 0.0, -6.0, 6.0].map(|v| v / 3.0);
        assert!(c.max_abs_diff(&Tensor::from_vec(expected.to_vec(), [3, 3])) < 1e-15);
        assert_eq!(c, c.transpose());
    }

    #[test]
    fn full_rank_reconstruction_is_exact() {
        let x = data(50, 6, 1);
        let p = pca(&x, 6);
        assert!(p.reconstruct(&x).max_abs_diff(&x) < 1e-12);
        assert!(p.discarded_variance(6) == 0.0);
        let u = &p.components;
        assert!(u.matmul_t(true, u, false).max_abs_diff(&Tensor::eye(6)) < 1e-12);
    }

    #[test]
    fn discarded_variance_is_the_mean_reconstruction_error() {
        let x = data(200, 7, 2);
        for k in 0..=7 {
            let p = pca(&x, k);
            let err = mean_sq_error(&p.reconstruct(&x), &x);
            let dv = p.discarded_variance(k);
            assert!(
                (err - dv).abs() < 1e-10 * p.total_variance(),
                "k = {k}: reconstruction error {err} vs discarded variance {dv}"
            );
        }
        // And the spectrum is spread, so these are genuinely different numbers.
        let p = pca(&x, 3);
        assert!(p.discarded_variance(1) > 2.0 * p.discarded_variance(3));
    }

    #[test]
    fn pca_beats_a_random_projection() {
        let x = data(300, 8, 3);
        let p = pca(&x, 3);
        let q = haar_orthogonal(8, &mut StdRng::seed_from_u64(4)).narrow(1, 0, 3);
        let random = Pca {
            components: q,
            ..p.clone()
        };
        let best = mean_sq_error(&p.reconstruct(&x), &x);
        assert!(mean_sq_error(&random.reconstruct(&x), &x) > best);
    }

    #[test]
    fn codes_are_uncorrelated_with_the_top_variances() {
        let x = data(400, 5, 5);
        let p = pca(&x, 3);
        let z = p.transform(&x);
        assert_eq!(z.dims(), &[400, 3]);
        let cz = covariance(&z);
        let diag = Tensor::from_fn([3, 3], |i| {
            if i % 4 == 0 {
                p.explained_variance[i / 4]
            } else {
                0.0
            }
        });
        assert!(cz.max_abs_diff(&diag) < 1e-10, "{cz:?}");
        let c = covariance(&x);
        let trace: f64 = (0..5).map(|i| c[[i, i]]).sum();
        assert!((p.total_variance() - trace).abs() < 1e-10);
        let ratio: f64 = p.explained_variance_ratio().iter().sum();
        assert!((ratio - 1.0).abs() < 1e-12);
    }

    #[test]
    fn points_on_a_line() {
        let x = Tensor::from_fn([5, 2], |i| {
            let t = (i / 2) as f64 - 1.0;
            if i % 2 == 0 {
                0.6 * t
            } else {
                0.8 * t + 10.0
            }
        });
        let p = pca(&x, 1);
        assert!((p.components[[0, 0]] - 0.6).abs() < 1e-14);
        assert!((p.components[[1, 0]] - 0.8).abs() < 1e-14);
        // t = -1..3 has variance 2 (divisor n = 5).
        assert!((p.explained_variance[0] - 2.0).abs() < 1e-14);
        assert!(p.explained_variance[1].abs() < 1e-14);
    }

    #[test]
    #[should_panic(
        expected = "Pca::transform: data of shape [2, 4] has 4 features, the PCA was fitted on 3"
    )]
    fn transform_checks_features() {
        let p = pca(&data(10, 3, 6), 2);
        let _ = p.transform(&Tensor::zeros([2, 4]));
    }

    #[test]
    #[should_panic(
        expected = "pca: k = 4 components exceed the dimension 3 of data of shape [10, 3]"
    )]
    fn too_many_components() {
        let _ = pca(&data(10, 3, 7), 4);
    }
}
