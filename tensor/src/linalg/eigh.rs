//! The symmetric eigendecomposition: Householder tridiagonalisation + implicit QL.

use super::{axpy, dot, householder, matrix_dims, reflect_rows, Reflector};
use crate::Tensor;

/// Relative tolerance of the symmetry check: `|A_ij - A_ji| ≤ SYM_TOL · max |A|`. Loose
/// enough for a covariance whose two triangles a GEMM rounded differently.
const SYM_TOL: f64 = 1e-9;

/// QL iterations allowed per eigenvalue before giving up (two or three are typical).
const MAX_ITER: usize = 100;

/// Eigenvalues and eigenvectors of a real symmetric matrix: `A = V diag(λ) Vᵀ`, `VᵀV = I`.
///
/// Returns `(λ, V)` with the eigenvalues sorted **descending** and eigenvector `j` in
/// column `j` of the `n × n` matrix `V`. Each eigenvector is signed so that its entry of
/// largest magnitude is positive (the first such entry on ties), which makes the output
/// deterministic; for repeated eigenvalues any orthonormal basis of the eigenspace may
/// be returned.
///
/// Algorithm: Householder reduction to tridiagonal form `A = Q T Qᵀ`, then the implicit QL
/// algorithm with Wilkinson-type shifts on `T`, accumulating the rotations into `Qᵀ`
/// (the `tred2`/`tql2` pair of EISPACK). Backward stable: `‖AV - VΛ‖ ≈ ε‖A‖`. O(n³):
/// about a second for n = 784 in release.
///
/// The input is checked: it must be square, finite, and symmetric up to a relative
/// `1e-9` (the two triangles are then averaged). Panics otherwise, naming the shape.
///
/// ```
/// use ferrograd_tensor::{linalg::eigh, Tensor};
/// let a = Tensor::from_vec(vec![2.0, 1.0, 1.0, 2.0], [2, 2]);
/// let (values, v) = eigh(&a);
/// assert!((values[0] - 3.0).abs() < 1e-12 && (values[1] - 1.0).abs() < 1e-12);
/// let h = std::f64::consts::FRAC_1_SQRT_2;
/// assert!(v.allclose(&Tensor::from_vec(vec![h, h, h, -h], [2, 2]), 0.0, 1e-12));
/// ```
#[track_caller]
pub fn eigh(a: &Tensor<f64>) -> (Vec<f64>, Tensor<f64>) {
    let (n, cols) = matrix_dims(a, "eigh");
    assert!(
        n == cols,
        "eigh: expected a square matrix, got shape {}",
        a.shape()
    );
    let mut w = checked_symmetric(a, n);
    let (mut d, mut e, reflectors) = tridiagonalize(&mut w, n);
    // Qᵀ, whose rows the QL rotations combine (contiguous, unlike Q's columns).
    let mut q = Tensor::eye(n);
    for (k, (v, beta)) in reflectors.iter().enumerate().rev() {
        reflect_rows(q.data_mut(), n, k + 1, k + 1, v, *beta);
    }
    let mut qt = q.transpose().into_vec();
    tql(&mut d, &mut e, &mut qt, n, a);

    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| d[j].total_cmp(&d[i]));
    let values = order.iter().map(|&i| d[i]).collect();
    let mut vectors = Tensor::zeros([n, n]);
    let vd = vectors.data_mut();
    for (j, &src) in order.iter().enumerate() {
        let u = &qt[src * n..(src + 1) * n];
        let mut big = 0;
        for (i, x) in u.iter().enumerate() {
            if x.abs() > u[big].abs() {
                big = i;
            }
        }
        let sign = if u[big] < 0.0 { -1.0 } else { 1.0 };
        for (i, x) in u.iter().enumerate() {
            vd[i * n + j] = sign * x;
        }
    }
    (values, vectors)
}

/// A copy of `a` with the triangles averaged, after checking it is finite and symmetric.
#[track_caller]
fn checked_symmetric(a: &Tensor<f64>, n: usize) -> Vec<f64> {
    let x = a.data();
    if let Some(k) = x.iter().position(|v| !v.is_finite()) {
        panic!(
            "eigh: matrix of shape {} has a non-finite entry {} at ({}, {})",
            a.shape(),
            x[k],
            k / n,
            k % n
        );
    }
    let scale = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let (mut worst, mut at) = (0.0, (0, 0));
    for i in 0..n {
        for j in 0..i {
            let diff = (x[i * n + j] - x[j * n + i]).abs();
            if diff > worst {
                worst = diff;
                at = (i, j);
            }
        }
    }
    let tol = SYM_TOL * scale;
    assert!(
        worst <= tol,
        "eigh: matrix of shape {} is not symmetric: A[{i}, {j}] = {} but A[{j}, {i}] = {} \
         (difference {worst:.3e}, tolerance {tol:.3e})",
        a.shape(),
        x[at.0 * n + at.1],
        x[at.1 * n + at.0],
        i = at.0,
        j = at.1,
    );
    let mut w = x.to_vec();
    for i in 0..n {
        for j in 0..i {
            let m = 0.5 * (x[i * n + j] + x[j * n + i]);
            w[i * n + j] = m;
            w[j * n + i] = m;
        }
    }
    w
}

/// Householder tridiagonalisation `Qᵀ A Q = T` of the symmetric row-major `a` (destroyed).
/// Returns the diagonal `d`, the off-diagonal `e` (`e[i] = T[i, i+1]`, `e[n-1] = 0`) and
/// the reflectors `(v_k, β_k)`, `H_k` acting on indices `k+1..n`, with `Q = H_0 ⋯ H_{n-2}`.
fn tridiagonalize(a: &mut [f64], n: usize) -> (Vec<f64>, Vec<f64>, Vec<Reflector>) {
    let mut d = vec![0.0; n];
    let mut e = vec![0.0; n];
    let mut reflectors = Vec::with_capacity(n.saturating_sub(1));
    for k in 0..n.saturating_sub(1) {
        d[k] = a[k * n + k];
        let s = k + 1;
        let (v, beta, alpha) = householder(&a[k * n + s..(k + 1) * n]);
        e[k] = if beta == 0.0 { 0.0 } else { alpha };
        if beta != 0.0 {
            // A22 ← H A22 H = A22 - v wᵀ - w vᵀ with p = β A22 v, w = p - (β vᵀp / 2) v.
            let mut p: Vec<f64> = (s..n)
                .map(|i| beta * dot(&a[i * n + s..(i + 1) * n], &v))
                .collect();
            let half = 0.5 * beta * dot(&p, &v);
            axpy(-half, &v, &mut p);
            for (i, (&vi, &pi)) in v.iter().zip(&p).enumerate() {
                let row = &mut a[(s + i) * n + s..(s + i + 1) * n];
                axpy(-vi, &p, row);
                axpy(-pi, &v, row);
            }
        }
        reflectors.push((v, beta));
    }
    if n > 0 {
        d[n - 1] = a[n * n - 1];
    }
    (d, e, reflectors)
}

/// The implicit QL algorithm on the symmetric tridiagonal `(d, e)` (JAMA's `tql2`):
/// leaves the eigenvalues in `d` (unsorted) and applies every rotation to the rows of the
/// row-major `n × n` matrix `z`, so row `i` ends as the eigenvector of `d[i]` when `z`
/// starts as `Qᵀ`. `a` is only for the panic message.
#[track_caller]
fn tql(d: &mut [f64], e: &mut [f64], z: &mut [f64], n: usize, a: &Tensor<f64>) {
    let eps = f64::EPSILON;
    let mut shift = 0.0;
    let mut tst1 = 0.0f64;
    for l in 0..n {
        tst1 = tst1.max(d[l].abs() + e[l].abs());
        // First negligible off-diagonal at or after l; e[n-1] = 0 stops the search.
        let mut m = l;
        while m + 1 < n && e[m].abs() > eps * tst1 {
            m += 1;
        }
        // Iterate until e[l] is negligible; then d[l] has converged.
        if m > l {
            let mut iter = 0;
            loop {
                iter += 1;
                assert!(
                    iter <= MAX_ITER,
                    "eigh: the QL iteration did not converge for eigenvalue {l} of a matrix of shape {}",
                    a.shape()
                );
                // Shift: the eigenvalue of the leading 2×2 block nearer d[l].
                let g = d[l];
                let mut p = (d[l + 1] - g) / (2.0 * e[l]);
                let mut r = p.hypot(1.0);
                if p < 0.0 {
                    r = -r;
                }
                d[l] = e[l] / (p + r);
                d[l + 1] = e[l] * (p + r);
                let dl1 = d[l + 1];
                let h = g - d[l];
                for di in &mut d[l + 2..] {
                    *di -= h;
                }
                shift += h;

                // Chase the bulge from the bottom (m) up to l with Givens rotations.
                p = d[m];
                let (mut c, mut c2, mut c3) = (1.0, 1.0, 1.0);
                let el1 = e[l + 1];
                let (mut s, mut s2) = (0.0, 0.0);
                for i in (l..m).rev() {
                    c3 = c2;
                    c2 = c;
                    s2 = s;
                    let g = c * e[i];
                    let h = c * p;
                    r = p.hypot(e[i]);
                    e[i + 1] = s * r;
                    s = e[i] / r;
                    c = p / r;
                    p = c * d[i] - s * g;
                    d[i + 1] = h + s * (c * g + s * d[i]);
                    let (top, bottom) = z.split_at_mut((i + 1) * n);
                    let zi = &mut top[i * n..];
                    for (x, y) in zi.iter_mut().zip(&mut bottom[..n]) {
                        let old = *y;
                        *y = s * *x + c * old;
                        *x = c * *x - s * old;
                    }
                }
                p = -s * s2 * c3 * el1 * e[l] / dl1;
                e[l] = s * p;
                d[l] = c * p;
                if e[l].abs() <= eps * tst1 {
                    break;
                }
            }
        }
        d[l] += shift;
        e[l] = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;
    use crate::linalg::haar_orthogonal;

    fn random_symmetric(n: usize, seed: u64) -> Tensor<f64> {
        let g = Tensor::<f64>::randn([n, n], &mut StdRng::seed_from_u64(seed));
        Tensor::from_fn([n, n], |k| 0.5 * (g.data()[k] + g[[k % n, k / n]]))
    }

    /// `‖AV - VΛ‖_max` and `‖VᵀV - I‖_max`, after checking the order.
    fn residuals(a: &Tensor<f64>, values: &[f64], v: &Tensor<f64>) -> (f64, f64) {
        let n = a.rows();
        assert_eq!(values.len(), n);
        assert_eq!(v.dims(), &[n, n]);
        assert!(
            values.windows(2).all(|w| w[0] >= w[1]),
            "not descending: {values:?}"
        );
        let av = a.matmul(v);
        let vl = Tensor::from_fn([n, n], |k| v.data()[k] * values[k % n]);
        let vtv = v.matmul_t(true, v, false);
        (av.max_abs_diff(&vl), vtv.max_abs_diff(&Tensor::eye(n)))
    }

    #[test]
    fn random_symmetric_matrices() {
        for (n, seed) in [(1, 1), (2, 2), (7, 3), (65, 4), (200, 5)] {
            let a = random_symmetric(n, seed);
            let (values, v) = eigh(&a);
            let (res, orth) = residuals(&a, &values, &v);
            assert!(res < 1e-12, "n = {n}: ‖AV - VΛ‖ = {res:e}");
            assert!(orth < 1e-12, "n = {n}: ‖VᵀV - I‖ = {orth:e}");
            let trace: f64 = (0..n).map(|i| a[[i, i]]).sum();
            let sum: f64 = values.iter().sum();
            assert!((trace - sum).abs() < 1e-10, "trace {trace} vs Σλ {sum}");
        }
    }

    #[test]
    fn two_by_two_analytic() {
        let (values, v) = eigh(&Tensor::from_vec(vec![2.0, 1.0, 1.0, 2.0], [2, 2]));
        assert!((values[0] - 3.0).abs() < 1e-14 && (values[1] - 1.0).abs() < 1e-14);
        let h = std::f64::consts::FRAC_1_SQRT_2;
        // Sign convention: the largest-magnitude entry (first on ties) is positive.
        assert!(v.max_abs_diff(&Tensor::from_vec(vec![h, h, h, -h], [2, 2])) < 1e-14);
    }

    #[test]
    fn second_difference_matrix_has_cosine_spectrum() {
        // tridiag(-1, 2, -1) of size n: λ_k = 2 - 2 cos(kπ / (n + 1)), k = 1..n.
        let n = 30;
        let a = Tensor::from_fn([n, n], |k| match (k / n).abs_diff(k % n) {
            0 => 2.0,
            1 => -1.0,
            _ => 0.0,
        });
        let (values, v) = eigh(&a);
        for (j, &l) in values.iter().enumerate() {
            let k = (n - j) as f64;
            let exact = 2.0 - 2.0 * (k * std::f64::consts::PI / (n as f64 + 1.0)).cos();
            assert!((l - exact).abs() < 1e-13, "λ_{j} = {l}, exact {exact}");
        }
        let (res, orth) = residuals(&a, &values, &v);
        assert!(res < 1e-13 && orth < 1e-13);
    }

    #[test]
    fn repeated_eigenvalues() {
        let spectrum = [5.0, 5.0, 5.0, 2.0, 2.0, -1.0, -1.0, -1.0];
        let n = spectrum.len();
        let q = haar_orthogonal(n, &mut StdRng::seed_from_u64(8));
        let ql = Tensor::from_fn([n, n], |k| q.data()[k] * spectrum[k % n]);
        let a = ql.matmul_t(false, &q, true);
        // Exactly symmetric, as eigh would otherwise average the triangles anyway.
        let a = Tensor::from_fn([n, n], |k| 0.5 * (a.data()[k] + a[[k % n, k / n]]));
        let (values, v) = eigh(&a);
        for (l, s) in values.iter().zip(spectrum) {
            assert!((l - s).abs() < 1e-13, "{values:?}");
        }
        let (res, orth) = residuals(&a, &values, &v);
        assert!(res < 1e-13 && orth < 1e-13, "{res:e} {orth:e}");

        let (values, v) = eigh(&Tensor::eye(5));
        assert_eq!(values, vec![1.0; 5]);
        assert!(v.max_abs_diff(&Tensor::eye(5)) < 1e-15);
        let (values, _) = eigh(&Tensor::zeros([4, 4]));
        assert_eq!(values, vec![0.0; 4]);
    }

    #[test]
    fn diagonal_input_is_sorted_and_permuted() {
        let a = Tensor::from_vec(vec![1.0, 0.0, 0.0, 0.0, -3.0, 0.0, 0.0, 0.0, 7.0], [3, 3]);
        let (values, v) = eigh(&a);
        assert_eq!(values, vec![7.0, 1.0, -3.0]);
        let p = Tensor::from_vec(vec![0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0], [3, 3]);
        assert_eq!(v, p);
    }

    #[test]
    fn badly_scaled_and_indefinite() {
        let a = random_symmetric(40, 6);
        let big = Tensor::from_fn([40, 40], |k| a.data()[k] * 1e12);
        let (values, v) = eigh(&big);
        let (res, orth) = residuals(&big, &values, &v);
        assert!(res < 1e-12 * 1e12 && orth < 1e-12);
        let (small_values, _) = eigh(&a);
        for (x, y) in values.iter().zip(&small_values) {
            assert!((x / 1e12 - y).abs() < 1e-12);
        }
    }

    #[test]
    fn empty_matrix() {
        let (values, v) = eigh(&Tensor::zeros([0, 0]));
        assert!(values.is_empty());
        assert_eq!(v.dims(), &[0, 0]);
    }

    #[test]
    #[should_panic(expected = "eigh: matrix of shape [2, 2] is not symmetric: A[1, 0] = 3")]
    fn asymmetric_panics() {
        let _ = eigh(&Tensor::from_vec(vec![1.0, 2.0, 3.0, 1.0], [2, 2]));
    }

    #[test]
    #[should_panic(expected = "eigh: expected a square matrix, got shape [2, 3]")]
    fn non_square_panics() {
        let _ = eigh(&Tensor::zeros([2, 3]));
    }

    #[test]
    #[should_panic(expected = "eigh: matrix of shape [2, 2] has a non-finite entry NaN at (1, 1)")]
    fn nan_panics() {
        let _ = eigh(&Tensor::from_vec(vec![1.0, 0.0, 0.0, f64::NAN], [2, 2]));
    }

    #[test]
    fn tiny_asymmetry_is_tolerated() {
        let a = Tensor::from_vec(vec![2.0, 1.0, 1.0 + 1e-13, 2.0], [2, 2]);
        let (values, _) = eigh(&a);
        assert!((values[0] - 3.0).abs() < 1e-12);
    }
}
