//! Linear algebra at realistic size: the eigendecomposition of a 784 × 784 covariance
//! (the size of MNIST's). Takes about a second in release; see the timing with
//! `cargo test -p ferrograd-tensor --release --test linalg -- --nocapture`.

use std::time::Instant;

use ferrograd_tensor::linalg::{covariance, eigh, pca};
use ferrograd_tensor::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

#[test]
fn eigh_of_a_784_covariance() {
    let (n, d) = (1000, 784);
    let mut rng = StdRng::seed_from_u64(0);
    // Decaying feature scales, like pixel variances: a spread-out spectrum with a tail.
    let g = Tensor::<f64>::randn([n, d], &mut rng);
    let x = Tensor::from_fn([n, d], |i| g.data()[i] / (1.0 + (i % d) as f64 / 20.0));
    let c = covariance(&x);

    let start = Instant::now();
    let (values, v) = eigh(&c);
    let elapsed = start.elapsed();

    let av = c.matmul(&v);
    let vl = Tensor::from_fn([d, d], |k| v.data()[k] * values[k % d]);
    let residual = av.max_abs_diff(&vl) / values[0];
    let orth = v.matmul_t(true, &v, false).max_abs_diff(&Tensor::eye(d));
    println!("eigh {d}x{d}: {elapsed:?}, ‖AV - VΛ‖/λ_max = {residual:.2e}, ‖VᵀV - I‖ = {orth:.2e}");
    assert!(residual < 1e-12 && orth < 1e-12);
    assert!(values.windows(2).all(|w| w[0] >= w[1]));

    let p = pca(&x, 50);
    let err: f64 = p
        .reconstruct(&x)
        .data()
        .iter()
        .zip(x.data())
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        / n as f64;
    assert!((err - p.discarded_variance(50)).abs() < 1e-9 * p.total_variance());
}
