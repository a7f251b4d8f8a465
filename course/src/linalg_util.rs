//! Small `f64` matrix helpers shared by the examples (norms, column scaling, Gram
//! matrices), the synthetic data of the linear-autoencoder examples, and a list printer.
//!
//! Matrices are row-major `Tensor<f64>` of shape `[rows, cols]`.

use ferrograd::tensor::linalg::haar_orthogonal;
use ferrograd::tensor::Tensor;
use rand::Rng;

/// Squared Frobenius norm `‖A‖_F²`: the sum of the squares of all entries.
pub fn sq_norm(a: &Tensor<f64>) -> f64 {
    a.data().iter().map(|v| v * v).sum()
}

/// Frobenius norm `‖A‖_F` (the Euclidean norm of all entries, whatever the shape).
pub fn fro(a: &Tensor<f64>) -> f64 {
    sq_norm(a).sqrt()
}

/// `A diag(s)`: column `j` of `a` scaled by `s[j]` (`s.len()` must be `a.cols()`).
pub fn scale_cols(a: &Tensor<f64>, s: &[f64]) -> Tensor<f64> {
    let mut out = a.clone();
    for row in out.data_mut().chunks_exact_mut(s.len()) {
        row.iter_mut().zip(s).for_each(|(x, si)| *x *= si);
    }
    out
}

/// `AᵀA − I`: zero exactly when the columns of `a` are orthonormal.
pub fn gram_minus_eye(a: &Tensor<f64>) -> Tensor<f64> {
    &a.matmul_t(true, a, false) - &Tensor::eye(a.cols())
}

/// The imbalance `W1W1ᵀ − W2ᵀW2` (k×k) of an encoder `W1` (k×m) and decoder `W2` (m×k),
/// conserved by gradient flow on any loss of the product `W2W1`.
pub fn imbalance(w1: &Tensor<f64>, w2: &Tensor<f64>) -> Tensor<f64> {
    &w1.matmul_t(false, w1, true) - &w2.matmul_t(true, w2, false)
}

/// The population variances of the linear-autoencoder examples' data, `m ≥ 5` of them:
/// 4, 3, 2, 1.5 (the top four, kept by a bottleneck of width 4), then `m − 4` values
/// falling geometrically from 0.5 to 0.05 — well separated at the cut after the fourth.
pub fn ae_variances(m: usize) -> Vec<f64> {
    let mut variances = vec![4.0, 3.0, 2.0, 1.5];
    let k = variances.len();
    variances.extend((0..m - k).map(|i| 0.5 * 0.1f64.powf(i as f64 / (m - k - 1) as f64)));
    variances
}

/// `m × n` zero-centred samples (as columns), `m = variances.len()`, with population
/// covariance `Q diag(variances) Qᵀ` for a Haar-random `Q`: `X = Q diag(√v) Z` with `Z`
/// standard normal, then each feature (row) centred.
pub fn synthetic_data<R: Rng>(variances: &[f64], n: usize, rng: &mut R) -> Tensor<f64> {
    let m = variances.len();
    let q = haar_orthogonal(m, rng);
    let sd: Vec<f64> = variances.iter().map(|v| v.sqrt()).collect();
    let z = Tensor::<f64>::randn([m, n], rng);
    let mut x = scale_cols(&q, &sd).matmul(&z);
    for row in x.data_mut().chunks_exact_mut(n) {
        let mean = row.iter().sum::<f64>() / n as f64;
        row.iter_mut().for_each(|v| *v -= mean);
    }
    x
}

/// `[a, b, …]` with `digits` decimals each.
pub fn fmt_list(v: &[f64], digits: usize) -> String {
    let items: Vec<String> = v.iter().map(|x| format!("{x:.digits$}")).collect();
    format!("[{}]", items.join(", "))
}
