//! The homework's synthetic data set: sizes, distribution, labels, reproducibility.

use course::synthetic::{Synthetic, SyntheticConfig};
use ferrograd::tensor::linalg::{covariance, eigh};
use ferrograd::tensor::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn homework(seed: u64) -> Synthetic<f64> {
    Synthetic::generate(
        &SyntheticConfig::homework(),
        &mut StdRng::seed_from_u64(seed),
    )
    .unwrap()
}

#[test]
fn homework_sizes() {
    let s = homework(0);
    assert_eq!(s.train.x.dims(), &[14000, 100]);
    assert_eq!(s.valid.x.dims(), &[4000, 100]);
    assert_eq!(s.test.x.dims(), &[2000, 100]);
    assert_eq!(
        SyntheticConfig::homework().split_sizes().unwrap(),
        [14000, 4000, 2000]
    );
    let e = s.eigenvalues();
    assert_eq!(e.len(), 100);
    assert!(e[..20].iter().all(|&v| v == 10.0) && e[20..].iter().all(|&v| v == 1.0));
}

#[test]
fn rotation_is_orthogonal_and_covariance_matches_samples() {
    let s = homework(1);
    let u = &s.rotation;
    assert!(u
        .matmul_t(true, u, false)
        .allclose(&Tensor::eye(100), 0.0, 1e-10));

    let all = Tensor::concat(&[&s.train.x, &s.valid.x, &s.test.x], 0);
    let (emp, _) = eigh(&covariance(&all));
    // 20 000 samples: eigenvalues within a few percent of 10 and 1 (the top/bottom of a
    // Marchenko-Pastur spread, ratio d/n = 1/200, are ~7% off at most).
    for (i, &v) in emp.iter().enumerate() {
        let want = if i < 20 { 10.0 } else { 1.0 };
        assert!(
            (v - want).abs() < 0.15 * want,
            "eigenvalue {i} = {v}, want ~{want}"
        );
    }
    let (exact, _) = eigh(&s.covariance());
    for (a, b) in exact.iter().zip(s.eigenvalues()) {
        assert!((a - b).abs() < 1e-9, "{a} vs {b}");
    }
    // The high-variance subspace is spanned by the first k rows of U.
    let basis = s.high_variance_basis();
    let proj = all.matmul_t(false, &basis, true); // [n, k] coordinates
    let var_in: f64 = proj.data().iter().map(|v| v * v).sum::<f64>() / (20000.0 * 20.0);
    assert!(
        (var_in - 10.0).abs() < 0.5,
        "variance inside the subspace {var_in}"
    );
}

#[test]
fn labels_are_the_sign_of_the_unrotated_high_variance_sum() {
    let s = homework(2);
    for split in [&s.train, &s.valid, &s.test] {
        // Undo the rotation: x = sample @ Uᵀ.
        let x = split.x.matmul_t(false, &s.rotation, true);
        for (i, &label) in split.labels.iter().enumerate() {
            let sum: f64 = x.row(i)[..20].iter().sum();
            assert_eq!(label, usize::from(sum > 0.0), "row {i}: sum {sum}");
        }
        let var = |cols: std::ops::Range<usize>| {
            let mut acc = 0.0;
            for i in 0..split.len() {
                acc += x.row(i)[cols.clone()].iter().map(|v| v * v).sum::<f64>();
            }
            acc / (split.len() * cols.len()) as f64
        };
        assert!((var(0..20) - 10.0).abs() < 0.6, "{}", var(0..20));
        assert!((var(20..100) - 1.0).abs() < 0.06, "{}", var(20..100));
    }
    let ones = s.train.labels.iter().filter(|&&l| l == 1).count() as f64 / 14000.0;
    assert!((ones - 0.5).abs() < 0.02, "class balance {ones}");
}

#[test]
fn seeded_and_f32_agrees_with_f64() {
    let a = homework(7);
    let b = homework(7);
    assert_eq!(a.train, b.train);
    assert_ne!(homework(8).train, a.train);
    let c: Synthetic<f32> =
        Synthetic::generate(&SyntheticConfig::homework(), &mut StdRng::seed_from_u64(7)).unwrap();
    assert_eq!(c.test.labels, a.test.labels);
    assert_eq!(c.test.x, a.test.x.cast::<f32>());
}

#[test]
fn bad_configurations_are_errors() {
    let mut rng = StdRng::seed_from_u64(0);
    let base = SyntheticConfig {
        dim: 5,
        samples: 10,
        high_var_dims: 2,
        var_scale: 4.0,
        splits: [0.5, 0.3, 0.2],
    };
    let ok = Synthetic::<f32>::generate(&base, &mut rng).unwrap();
    assert_eq!((ok.train.len(), ok.valid.len(), ok.test.len()), (5, 3, 2));
    for (cfg, needle) in [
        (
            SyntheticConfig {
                high_var_dims: 6,
                ..base.clone()
            },
            "high_var_dims",
        ),
        (
            SyntheticConfig {
                var_scale: -1.0,
                ..base.clone()
            },
            "var_scale",
        ),
        (
            SyntheticConfig {
                var_scale: f64::NAN,
                ..base.clone()
            },
            "var_scale",
        ),
        (
            SyntheticConfig {
                splits: [0.8, 0.3, 0.0],
                ..base.clone()
            },
            "fractions",
        ),
        (
            SyntheticConfig {
                dim: 0,
                high_var_dims: 0,
                ..base.clone()
            },
            "dim",
        ),
    ] {
        let err = Synthetic::<f32>::generate(&cfg, &mut rng).unwrap_err();
        assert!(err.to_string().contains(needle), "{err}");
    }
}
