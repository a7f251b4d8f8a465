//! The batch iterator: coverage, shuffling and reproducibility.

use ferrograd_nn::data::Split;
use ferrograd_tensor::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Row i is [i, i + 0.5] with label i % 10, so a batch row tells which sample it is.
fn split(n: usize) -> Split<f64> {
    let x = Tensor::from_fn([n, 2], |k| (k / 2) as f64 + 0.5 * (k % 2) as f64);
    Split::new(x, (0..n).map(|i| i % 10).collect()).unwrap()
}

/// Sample ids of one epoch, checking rows and labels agree.
fn epoch_ids(batches: impl Iterator<Item = (Tensor<f64>, Vec<usize>)>) -> Vec<usize> {
    let mut ids = Vec::new();
    for (x, y) in batches {
        assert_eq!(x.dims()[0], y.len());
        for (r, &label) in y.iter().enumerate() {
            let id = x.row(r)[0] as usize;
            assert_eq!(x.row(r), &[id as f64, id as f64 + 0.5]);
            assert_eq!(label, id % 10);
            ids.push(id);
        }
    }
    ids
}

#[test]
fn every_sample_exactly_once_per_epoch() {
    let s = split(103);
    let mut rng = StdRng::seed_from_u64(0);
    for bs in [1, 7, 10, 103, 500] {
        let ordered = epoch_ids(s.batches(bs));
        assert_eq!(ordered, (0..103).collect::<Vec<_>>());
        let mut shuffled = epoch_ids(s.shuffled_batches(bs, &mut rng));
        shuffled.sort_unstable();
        assert_eq!(shuffled, (0..103).collect::<Vec<_>>());
    }
}

#[test]
fn drop_last_keeps_only_full_batches() {
    let s = split(103);
    let mut rng = StdRng::seed_from_u64(1);
    let it = s.shuffled_batches(10, &mut rng).drop_last(true);
    assert_eq!(it.len(), 10);
    let order = it.order();
    let ids = epoch_ids(it);
    assert_eq!(ids.len(), 100);
    assert_eq!(ids, order[..100]);
}

#[test]
fn shuffle_changes_order_between_epochs() {
    let s = split(200);
    let mut rng = StdRng::seed_from_u64(2);
    let e1 = epoch_ids(s.shuffled_batches(32, &mut rng));
    let e2 = epoch_ids(s.shuffled_batches(32, &mut rng));
    assert_ne!(e1, (0..200).collect::<Vec<_>>());
    assert_ne!(e1, e2);
}

#[test]
fn same_seed_same_order() {
    let s = split(200);
    let run = |seed| {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..3)
            .map(|_| epoch_ids(s.shuffled_batches(16, &mut rng)))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(9), run(9));
    assert_ne!(run(9), run(10));
}

#[test]
fn empty_split_has_no_batches() {
    let s = Split::<f32>::new(Tensor::zeros([0, 4]), vec![]).unwrap();
    assert_eq!(s.batches(8).count(), 0);
}

#[test]
fn split_rejects_mismatched_labels() {
    let err = Split::<f32>::new(Tensor::zeros([3, 4]), vec![0, 1]).unwrap_err();
    assert!(err.to_string().contains("[3, 4]"), "{err}");
}

#[test]
fn fraction_splits() {
    let s = split(10);
    let (a, b) = s.split_at_fraction(0.7).unwrap();
    assert_eq!((a.len(), b.len()), (7, 3));
    assert_eq!(b.labels, vec![7, 8, 9]);
    let mut rng = StdRng::seed_from_u64(4);
    let (a, b) = s.shuffled_split_at_fraction(0.5, &mut rng).unwrap();
    let mut all: Vec<usize> =
        a.x.data()
            .iter()
            .chain(b.x.data())
            .step_by(2)
            .map(|&v| v as usize)
            .collect();
    all.sort_unstable();
    assert_eq!(all, (0..10).collect::<Vec<_>>());
    assert!(s.split_at_fraction(1.5).is_err());
    assert!(s.split_at_fraction(f64::NAN).is_err());
}

#[test]
fn consuming_fraction_split_equals_the_copying_one() {
    for frac in [0.0, 0.3, 0.7, 1.0] {
        let s = split(10);
        let (a, b) = s.split_at_fraction(frac).unwrap();
        let (c, d) = s.clone().into_split_at_fraction(frac).unwrap();
        assert_eq!(
            (&a.x, &a.labels, &b.x, &b.labels),
            (&c.x, &c.labels, &d.x, &d.labels)
        );
    }
    assert!(split(10).into_split_at_fraction(-0.1).is_err());
}
