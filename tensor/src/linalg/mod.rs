//! Dense linear algebra in f64: Householder QR, Haar-random orthogonal matrices, the
//! symmetric eigendecomposition, PCA, singular values and principal angles.
//!
//! Design in brief:
//! - The API is f64-only: these routines feed analysis (PCA of a data set, the spectrum of
//!   a weight matrix), where the extra precision is cheap next to the cost of being wrong.
//!   Convert with [`Tensor::cast`] at the boundary.
//! - Every algorithm works on a private row-major copy and is written so that its inner
//!   loops run along contiguous rows: Householder reflectors are applied as
//!   `A -= beta v (vᵀA)`, and Givens rotations act on rows of a transposed eigenvector
//!   matrix. Products of whole matrices go through [`Tensor::matmul_t`] (the GEMM).
//! - [`eigh`] is Householder tridiagonalisation followed by the implicit QL algorithm
//!   (the classic `tred2`/`tql2` pair), O(n³) with a small constant: a 784×784
//!   covariance takes about a second in release.
//! - [`singular_values`] reduces to a square triangular factor by QR and then runs
//!   one-sided (Hestenes) Jacobi, which keeps small singular values accurate;
//!   [`principal_angles`] combines cosines and sines so small angles are accurate too.
//! - Misuse of shapes panics with the shape in the message, like ndarray; so does an
//!   asymmetric input to [`eigh`].

mod eigh;
mod pca;
mod qr;
mod subspace;
mod svd;

pub use eigh::eigh;
pub use pca::{covariance, pca, Pca};
pub use qr::{haar_orthogonal, qr};
pub use subspace::principal_angles;
pub use svd::singular_values;

use crate::Tensor;

/// `(rows, cols)` of a matrix, panicking with `op` and the shape unless it is rank 2.
#[track_caller]
fn matrix_dims(a: &Tensor<f64>, op: &str) -> (usize, usize) {
    assert!(
        a.rank() == 2,
        "{op}: expected a matrix (rank 2), got shape {}",
        a.shape()
    );
    (a.dims()[0], a.dims()[1])
}

/// A Householder reflector `I - β v vᵀ` as `(v, β)`.
type Reflector = (Vec<f64>, f64);

/// `Σ x_i y_i`.
#[inline]
fn dot(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| a * b).sum()
}

/// `y += alpha x`.
#[inline]
fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// The Householder reflector `H = I - beta v vᵀ` with `H x = alpha e₁`, returned as
/// `(v, beta, alpha)`; `alpha = -sign(x₀)‖x‖` avoids cancellation in `v₀ = x₀ - alpha`.
/// For `x = 0` the reflector is the identity (`beta = 0`).
fn householder(x: &[f64]) -> (Vec<f64>, f64, f64) {
    let sigma = x.iter().map(|v| v * v).sum::<f64>().sqrt();
    let mut v = x.to_vec();
    if sigma == 0.0 {
        return (v, 0.0, 0.0);
    }
    let alpha = if x[0] >= 0.0 { -sigma } else { sigma };
    v[0] -= alpha;
    // vᵀv = 2 sigma (sigma + |x₀|), so beta = 2 / vᵀv without another pass.
    let beta = 1.0 / (sigma * (sigma + x[0].abs()));
    (v, beta, alpha)
}

/// Applies `H = I - beta v vᵀ` from the left to the block of the row-major matrix `a`
/// (row length `ld`) with rows `r0..r0 + v.len()` and columns `c0..ld`, as
/// `B -= beta v (vᵀB)`: two passes over contiguous rows. `w` is scratch.
fn reflect_rows(a: &mut [f64], ld: usize, r0: usize, c0: usize, v: &[f64], beta: f64) {
    if beta == 0.0 || c0 >= ld {
        return;
    }
    let mut w = vec![0.0; ld - c0];
    for (i, &vi) in v.iter().enumerate() {
        let row = &a[(r0 + i) * ld + c0..(r0 + i + 1) * ld];
        axpy(vi, row, &mut w);
    }
    for (i, &vi) in v.iter().enumerate() {
        let row = &mut a[(r0 + i) * ld + c0..(r0 + i + 1) * ld];
        axpy(-beta * vi, &w, row);
    }
}
