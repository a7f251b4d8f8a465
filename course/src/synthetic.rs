//! The synthetic data set of the homework's autoencoder problem: Gaussian data whose
//! variance is high along a few hidden directions, with labels that depend only on them.
//!
//! # What the homework does, and what this module matches
//!
//! Source: `SyntheticDataset._build` in the CS182 (Berkeley, Fall 2023) autoencoder
//! notebook, `q_autoencoder/q_autoencoder.ipynb` of `Berkeley-CS182/cs182fa23_public`,
//! used there with `input_dims=100, num_samples=20000, data_splits=[0.7, 0.2, 0.1],
//! num_high_var_dims=20, var_scale=10` ([`SyntheticConfig::homework`]). In NumPy terms:
//!
//! 1. `cov = I; cov[:k, :k] *= var_scale`, `X ~ N(0, cov)`, `n` rows. So **`var_scale` is
//!    a variance**: the first `k` coordinates have variance `var_scale` (standard
//!    deviation `sqrt(var_scale)`), the other `d - k` variance 1.
//! 2. `u, _, _ = svd(randn(d, d))`; the samples are `X @ u`: each row is rotated by a
//!    random orthogonal matrix, applied on the right. Here `u` is
//!    [`ferrograd::tensor::linalg::haar_orthogonal`] (the sign-fixed QR of a Gaussian, exactly
//!    Haar; the homework's SVD factor is Haar up to LAPACK's sign convention).
//! 3. `target = X[:, :k].sum(axis=1) > 0`: the label is computed from the **unrotated**
//!    high-variance coordinates, 1 if their sum is strictly positive, else 0.
//! 4. No shuffling (the rows are i.i.d.): train is the first `int(n * f_train)` rows,
//!    valid the next `int(n * f_valid)`, and test **the rest** (`sample[valid_end:]`).
//!
//! The distribution of the rotated rows is `N(0, uᵀ cov u)`: its covariance eigenvalues
//! are `var_scale` (k times) and 1 (d - k times) ([`SyntheticConfig::eigenvalues`]), so a
//! rank-`r` linear autoencoder's best expected squared error per sample is the sum of
//! the `d - r` smallest of them (the PCA optimum). Samples are drawn in `f64` and stored
//! as `T` (the homework stores `float32`).

use ferrograd::tensor::linalg::haar_orthogonal;
use ferrograd::tensor::{Float, Tensor};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use ferrograd::nn::data::{fraction_count, DataError, Split};

/// The parameters of the synthetic data set.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntheticConfig {
    /// Dimension `d` of each sample.
    pub dim: usize,
    /// Total number of samples `n`, before splitting.
    pub samples: usize,
    /// Number `k` of high-variance coordinates (before the rotation).
    pub high_var_dims: usize,
    /// Variance of those `k` coordinates (the others have variance 1).
    pub var_scale: f64,
    /// Fractions of samples for [train, valid, test]. Train and valid take
    /// `floor(n * fraction)` samples in that order; test takes the rest, as in the
    /// homework.
    pub splits: [f64; 3],
}

impl SyntheticConfig {
    /// The homework's setting: d = 100, n = 20 000, k = 20, var_scale = 10, splits
    /// 0.7 / 0.2 / 0.1 (14 000 / 4 000 / 2 000 samples).
    pub fn homework() -> Self {
        SyntheticConfig {
            dim: 100,
            samples: 20_000,
            high_var_dims: 20,
            var_scale: 10.0,
            splits: [0.7, 0.2, 0.1],
        }
    }

    /// The covariance eigenvalues of the generated distribution, sorted descending:
    /// `[var_scale; k] ++ [1; d - k]` when `var_scale >= 1`.
    pub fn eigenvalues(&self) -> Vec<f64> {
        let mut v = vec![self.var_scale; self.high_var_dims.min(self.dim)];
        v.resize(self.dim, 1.0);
        v.sort_by(|a, b| b.total_cmp(a));
        v
    }

    /// Sizes of the train, valid and test splits.
    pub fn split_sizes(&self) -> Result<[usize; 3], DataError> {
        self.validate()?;
        let train = fraction_count(self.splits[0], self.samples)?;
        let valid = fraction_count(self.splits[1], self.samples)?;
        Ok([train, valid, self.samples - train - valid])
    }

    fn validate(&self) -> Result<(), DataError> {
        let bad = |msg: String| Err(DataError::InvalidArgument(msg));
        if self.dim == 0 {
            return bad("synthetic data: dim must be at least 1".into());
        }
        if self.high_var_dims > self.dim {
            return bad(format!(
                "synthetic data: high_var_dims = {} exceeds dim = {}",
                self.high_var_dims, self.dim
            ));
        }
        if !(self.var_scale.is_finite() && self.var_scale > 0.0) {
            return bad(format!(
                "synthetic data: var_scale = {} must be a positive variance",
                self.var_scale
            ));
        }
        let [tr, va, te] = self.splits;
        if ![tr, va, te].iter().all(|f| (0.0..=1.0).contains(f)) || tr + va > 1.0 {
            return bad(format!(
                "synthetic data: split fractions {:?} must lie in [0, 1] with train + valid <= 1",
                self.splits
            ));
        }
        Ok(())
    }
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        Self::homework()
    }
}

/// A generated synthetic data set: three splits of rotated samples with binary labels,
/// and the rotation that was used.
#[derive(Clone)]
pub struct Synthetic<T = f32> {
    /// Training samples.
    pub train: Split<T>,
    /// Validation samples.
    pub valid: Split<T>,
    /// Test samples.
    pub test: Split<T>,
    /// The orthogonal `d x d` matrix `U`; a sample is `x_unrotated @ U` (row vectors).
    pub rotation: Tensor<f64>,
    /// The parameters it was generated with.
    pub config: SyntheticConfig,
}

impl<T: Float> std::fmt::Debug for Synthetic<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Synthetic")
            .field("train", &self.train)
            .field("valid", &self.valid)
            .field("test", &self.test)
            .field("config", &self.config)
            .finish()
    }
}

impl<T: Float> Synthetic<T> {
    /// Draws the data set from `rng` (see the [module docs](self) for the exact recipe).
    /// Errors if the configuration is inconsistent (k > d, bad fractions, non-positive
    /// variance).
    pub fn generate<R: Rng + ?Sized>(
        config: &SyntheticConfig,
        rng: &mut R,
    ) -> Result<Self, DataError> {
        let [n_train, n_valid, _] = config.split_sizes()?;
        let (n, d, k) = (config.samples, config.dim, config.high_var_dims);
        let std_high = config.var_scale.sqrt();
        // X first, then the rotation, in the homework's order.
        let mut x = Tensor::<f64>::zeros([n, d]);
        let mut labels = Vec::with_capacity(n);
        for row in x.data_mut().chunks_exact_mut(d) {
            for (j, v) in row.iter_mut().enumerate() {
                let z: f64 = StandardNormal.sample(rng);
                *v = if j < k { std_high * z } else { z };
            }
            labels.push(usize::from(row[..k].iter().sum::<f64>() > 0.0));
        }
        let rotation = haar_orthogonal(d, rng);
        let samples = x.matmul(&rotation).cast::<T>();
        let all = Split::new(samples, labels)?;
        let valid_end = n_train + n_valid;
        Ok(Synthetic {
            train: all.slice(0, n_train),
            valid: all.slice(n_train, valid_end),
            test: all.slice(valid_end, n),
            rotation,
            config: config.clone(),
        })
    }

    /// The covariance eigenvalues of the distribution, descending (see
    /// [`SyntheticConfig::eigenvalues`]).
    pub fn eigenvalues(&self) -> Vec<f64> {
        self.config.eigenvalues()
    }

    /// The exact covariance of a sample, `Uᵀ diag(var) U` (`d x d`).
    pub fn covariance(&self) -> Tensor<f64> {
        let d = self.config.dim;
        let k = self.config.high_var_dims;
        let mut scaled = self.rotation.clone();
        for (i, row) in scaled.data_mut().chunks_exact_mut(d).enumerate() {
            if i < k {
                row.iter_mut().for_each(|v| *v *= self.config.var_scale);
            }
        }
        // diag(var) U scales row i of U; Uᵀ (diag(var) U) is then one product.
        self.rotation.matmul_t(true, &scaled, false)
    }

    /// An orthonormal basis of the high-variance subspace, one direction per row
    /// (`k x d`): the first `k` rows of `U`, the images of the first `k` coordinates.
    pub fn high_variance_basis(&self) -> Tensor<f64> {
        self.rotation.narrow(0, 0, self.config.high_var_dims)
    }
}
