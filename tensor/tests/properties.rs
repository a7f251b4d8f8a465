//! Property tests: broadcasting, reshape, reductions and the GEMM (through
//! `Tensor::matmul`) against naive references, over random shapes that include
//! zero-sized axes. Shrinking turns a failure into the smallest shape that shows it,
//! which is how edge cases that hand-picked shapes miss get found.
//!
//! Elements are small integers, so every sum and product is exact in f64 and results are
//! compared for equality, not within a tolerance. Case counts are kept modest so the
//! suite stays quick on a small machine.

use ferrograd_tensor::{Shape, Tensor};
use proptest::prelude::*;

/// Dimensions of rank 0..=4 with extents 0..=4 (zero included on purpose).
fn dims() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0usize..=4, 0..=4)
}

/// A tensor of `dims` holding small integers.
fn tensor_of(dims: Vec<usize>) -> impl Strategy<Value = Tensor<f64>> {
    let n: usize = dims.iter().product();
    prop::collection::vec(-8i32..=8, n)
        .prop_map(move |v| Tensor::from_vec(v.into_iter().map(f64::from).collect(), dims.clone()))
}

fn tensor() -> impl Strategy<Value = Tensor<f64>> {
    dims().prop_flat_map(tensor_of)
}

/// Every multi-index of `dims` in row-major order.
fn indices(dims: &[usize]) -> Vec<Vec<usize>> {
    let mut out = vec![vec![]];
    for &d in dims {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                (0..d).map(move |i| {
                    let mut p = prefix.clone();
                    p.push(i);
                    p
                })
            })
            .collect();
    }
    out
}

/// Element at `index` computed from the dims alone (no strides from the library).
fn at(t: &Tensor<f64>, index: &[usize]) -> f64 {
    let flat = index
        .iter()
        .zip(t.dims())
        .fold(0, |acc, (&i, &d)| acc * d + i);
    t.data()[flat]
}

/// NumPy's broadcast rule, written out directly.
fn broadcast_dims(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let pad = |s: &[usize]| {
        let mut v = vec![1; rank - s.len()];
        v.extend_from_slice(s);
        v
    };
    let (a, b) = (pad(a), pad(b));
    a.iter()
        .zip(&b)
        .map(|(&x, &y)| match (x, y) {
            _ if x == y => Some(x),
            (1, y) => Some(y),
            (x, 1) => Some(x),
            _ => None,
        })
        .collect()
}

/// The element of `t` that position `index` of the broadcast result reads.
fn broadcast_at(t: &Tensor<f64>, index: &[usize]) -> f64 {
    let offset = index.len() - t.rank();
    let own: Vec<usize> = t
        .dims()
        .iter()
        .enumerate()
        .map(|(a, &d)| if d == 1 { 0 } else { index[offset + a] })
        .collect();
    at(t, &own)
}

/// A pair of shapes that broadcast: `out`, with some dims set to 1 and leading ones
/// dropped on each side.
fn broadcastable_pair() -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>)> {
    (dims(), any::<u64>(), any::<u64>(), 0usize..=4, 0usize..=4).prop_flat_map(
        |(out, ma, mb, da, db)| {
            let derive = |mask: u64, drop: usize| -> Vec<usize> {
                let v: Vec<usize> = out
                    .iter()
                    .enumerate()
                    .map(|(i, &d)| if mask >> i & 1 == 1 { 1 } else { d })
                    .collect();
                v[drop.min(v.len())..].to_vec()
            };
            (tensor_of(derive(ma, da)), tensor_of(derive(mb, db)))
        },
    )
}

/// Naive `a @ b`.
fn naive_matmul(a: &Tensor<f64>, b: &Tensor<f64>) -> Vec<f64> {
    let (m, k, n) = (a.dims()[0], a.dims()[1], b.dims()[1]);
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            out[i * n + j] = (0..k)
                .map(|p| a.data()[i * k + p] * b.data()[p * n + j])
                .sum();
        }
    }
    out
}

/// `cases` cases, and no regression files written next to the sources: a failure prints
/// its shrunk input, which then becomes an ordinary test (as `sum_to_an_empty_shape_is_empty`).
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// Found by `broadcasting_matches_the_rule`: the bias-gradient fast path chunked the
/// gradient by the last extent, which is 0 here, and panicked "chunk size must be
/// non-zero".
#[test]
fn sum_to_an_empty_shape_is_empty() {
    let g = Tensor::<f64>::ones([1, 0]);
    assert_eq!(g.sum_to_shape(&Shape::from([0])).dims(), &[0]);
    let g = Tensor::<f64>::ones([3, 0]);
    assert_eq!(g.sum_to_shape(&Shape::from([1, 0])).dims(), &[1, 0]);
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn broadcasting_matches_the_rule((a, b) in broadcastable_pair()) {
        let out = broadcast_dims(a.dims(), b.dims()).expect("built to broadcast");
        let sum = &a + &b;
        let prod = a.try_mul(&b).unwrap();
        prop_assert_eq!(sum.dims(), out.as_slice());
        prop_assert_eq!(prod.dims(), out.as_slice());
        for idx in indices(&out) {
            let (x, y) = (broadcast_at(&a, &idx), broadcast_at(&b, &idx));
            prop_assert_eq!(at(&sum, &idx), x + y);
            prop_assert_eq!(at(&prod, &idx), x * y);
        }
        // Summing a broadcast gradient back to an operand's shape undoes the broadcast.
        let ones = Tensor::<f64>::ones(out.clone());
        let back = ones.sum_to_shape(a.shape());
        let copies = if a.numel() == 0 { 0 } else { sum.numel() / a.numel() };
        prop_assert!(back.data().iter().all(|&x| x == copies as f64));
    }

    #[test]
    fn incompatible_shapes_are_errors_not_panics(a in tensor(), b in tensor()) {
        let rule = broadcast_dims(a.dims(), b.dims());
        match a.try_add(&b) {
            Ok(t) => prop_assert_eq!(Some(t.dims().to_vec()), rule),
            Err(e) => {
                prop_assert!(rule.is_none(), "{}", e);
                let msg = e.to_string();
                prop_assert!(msg.contains(&a.shape().to_string()), "{}", msg);
            }
        }
    }

    #[test]
    fn reshape_keeps_the_data_and_checks_the_count(
        t in tensor(),
        other in dims(),
        perm in any::<prop::sample::Index>(),
        ones in 0usize..=2,
    ) {
        // Any rearrangement of the dims, with 1s inserted, has the same count.
        let mut target = t.dims().to_vec();
        if !target.is_empty() {
            let i = perm.index(target.len());
            target.rotate_left(i);
        }
        target.extend(std::iter::repeat_n(1, ones));
        let r = t.try_reshape(target.clone()).unwrap();
        prop_assert_eq!(r.dims(), target.as_slice());
        prop_assert_eq!(r.data(), t.data());
        let other_count: usize = other.iter().product();
        match t.try_reshape(other.clone()) {
            Ok(r) => {
                prop_assert_eq!(other_count, t.numel());
                prop_assert_eq!(r.data(), t.data());
            }
            Err(_) => prop_assert_ne!(other_count, t.numel()),
        }
    }

    #[test]
    fn reductions_match_naive_loops(t in tensor(), keepdim in any::<bool>()) {
        let all: Vec<f64> = t.data().to_vec();
        prop_assert_eq!(t.sum(), all.iter().sum::<f64>());
        prop_assert!(same(t.mean(), all.iter().sum::<f64>() / all.len() as f64));
        prop_assert_eq!(t.max(), all.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        for axis in 0..t.rank() {
            let mut reduced = t.dims().to_vec();
            let len = reduced[axis];
            reduced[axis] = 1;
            let sum = t.sum_axis(axis, true);
            let mean = t.mean_axis(axis, true);
            let max = t.max_axis(axis, true);
            prop_assert_eq!(sum.dims(), reduced.as_slice());
            for idx in indices(&reduced) {
                let column: Vec<f64> = (0..len)
                    .map(|i| {
                        let mut j = idx.clone();
                        j[axis] = i;
                        at(&t, &j)
                    })
                    .collect();
                let s: f64 = column.iter().sum();
                prop_assert_eq!(at(&sum, &idx), s);
                prop_assert!(same(at(&mean, &idx), s / len as f64));
                prop_assert_eq!(
                    at(&max, &idx),
                    column.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                );
            }
            let flat = t.sum_axis(axis, keepdim);
            let mut want = t.dims().to_vec();
            if keepdim { want[axis] = 1 } else { want.remove(axis); }
            prop_assert_eq!(flat.dims(), want.as_slice());
            prop_assert_eq!(flat.data(), sum.data());
        }
        prop_assert!(t.try_sum_axis(t.rank(), keepdim).is_err());
    }
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn matmul_matches_the_naive_product(
        (a, b) in (0usize..=130, 0usize..=130, 0usize..=130)
            .prop_flat_map(|(m, k, n)| (tensor_of(vec![m, k]), tensor_of(vec![k, n]))),
        ta in any::<bool>(),
        tb in any::<bool>(),
    ) {
        let want = naive_matmul(&a, &b);
        let got = a.matmul(&b);
        prop_assert_eq!(got.dims(), &[a.dims()[0], b.dims()[1]]);
        prop_assert_eq!(got.data(), want.as_slice());
        // The same product from stored transposes, read through the GEMM's strides.
        let sa = if ta { a.transpose() } else { a.clone() };
        let sb = if tb { b.transpose() } else { b.clone() };
        let strided = sa.matmul_t(ta, &sb, tb);
        prop_assert_eq!(strided.data(), want.as_slice());
    }

    #[test]
    fn shape_counts_agree_with_the_product(d in prop::collection::vec(0usize..=1 << 20, 0..=5)) {
        // Exact product in u128 (five factors of at most 2^20 cannot overflow it).
        let exact: u128 = d.iter().filter(|&&x| x != 0).map(|&x| x as u128).product();
        let s = Shape::new(d.clone());
        match s.checked_numel() {
            Some(n) => {
                prop_assert!(exact <= usize::MAX as u128);
                let zero = d.contains(&0);
                prop_assert_eq!(n as u128, if zero { 0 } else { exact });
            }
            None => prop_assert!(exact > usize::MAX as u128),
        }
    }
}
