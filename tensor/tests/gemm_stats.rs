//! The opt-in per-shape GEMM recorder (`gemm::stats`). Its own test binary: the recorder
//! is process-wide, and the other GEMM tests would add their calls to the table.

use ferrograd_tensor::gemm::{gemm, stats, MatMut, MatRef};
use ferrograd_tensor::DType;

#[test]
fn records_calls_by_shape_and_layout_only_when_enabled() {
    let a = vec![1.0f32; 3 * 7];
    let b = vec![1.0f32; 7 * 5];
    let mut c = vec![0.0f32; 3 * 5];
    let ad = vec![1.0f64; 40 * 30];
    let bd = vec![1.0f64; 30 * 20];
    let mut cd = vec![0.0f64; 40 * 20];

    // Off by default: nothing is recorded.
    assert!(!stats::enabled());
    gemm(
        1.0,
        MatRef::new(&a, 3, 7),
        MatRef::new(&b, 7, 5),
        0.0,
        MatMut::new(&mut c, 3, 5),
    );
    assert!(stats::snapshot().is_empty());

    stats::set_enabled(true);
    for _ in 0..3 {
        // 3x7 · 7x5, both as stored: "nn".
        gemm(
            1.0,
            MatRef::new(&a, 3, 7),
            MatRef::new(&b, 7, 5),
            0.0,
            MatMut::new(&mut c, 3, 5),
        );
    }
    // Aᵀ (A stored 30x40) · Bᵀ (B stored 20x30): 40x30 · 30x20, "tt"; then "nt" and "tn".
    gemm(
        1.0,
        MatRef::new(&ad, 30, 40).t(),
        MatRef::new(&bd, 20, 30).t(),
        0.0,
        MatMut::new(&mut cd, 40, 20),
    );
    gemm(
        1.0,
        MatRef::new(&ad, 40, 30),
        MatRef::new(&bd, 20, 30).t(),
        0.0,
        MatMut::new(&mut cd, 40, 20),
    );
    gemm(
        1.0,
        MatRef::new(&ad, 30, 40).t(),
        MatRef::new(&bd, 30, 20),
        1.0,
        MatMut::new(&mut cd, 40, 20),
    );
    assert_eq!(c[0], 7.0);
    assert_eq!(cd[0], 60.0);
    stats::set_enabled(false);
    gemm(
        1.0,
        MatRef::new(&a, 3, 7),
        MatRef::new(&b, 7, 5),
        0.0,
        MatMut::new(&mut c, 3, 5),
    );

    let snap = stats::snapshot();
    assert_eq!(snap.len(), 4, "{snap:?}");
    let find = |dtype, m, k, n, layout: &str| {
        snap.iter()
            .find(|s| {
                s.key.dtype == dtype
                    && (s.key.m, s.key.k, s.key.n) == (m, k, n)
                    && s.key.layout_str() == layout
            })
            .unwrap_or_else(|| panic!("no {layout} {m}x{k}x{n} in {snap:?}"))
    };
    let small = find(DType::F32, 3, 7, 5, "nn");
    assert_eq!(small.calls, 3);
    assert_eq!(small.flops(), 3.0 * 2.0 * 3.0 * 7.0 * 5.0);
    for layout in ["tt", "nt", "tn"] {
        let s = find(DType::F64, 40, 30, 20, layout);
        assert_eq!(s.calls, 1);
        assert!(s.seconds > 0.0 && s.gflops() > 0.0);
    }
    // Sorted by time, most first.
    assert!(snap.windows(2).all(|w| w[0].seconds >= w[1].seconds));

    let table = stats::table(2, Some(100.0));
    assert!(table.contains("%peak"), "{table}");
    assert!(
        table.contains("total: 4 shapes (2 shown), 6 calls"),
        "{table}"
    );
    assert_eq!(table.lines().count(), 1 + 2 + 1, "{table}");

    stats::reset();
    assert!(stats::snapshot().is_empty());
}
