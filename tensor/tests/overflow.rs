//! Shape arithmetic never wraps: a shape whose element count overflows `usize` is an
//! error naming the shape (`try_` forms) or a panic naming it (the others), never a tensor
//! whose buffer is smaller than its label. Each test failed before the counts were checked
//! (in release builds the product wrapped to 0 or 4 and the calls returned `Ok`).

use std::panic::{catch_unwind, AssertUnwindSafe};

use ferrograd_tensor::{Shape, Tensor, TensorError};

const BIG: usize = 1 << 32;

/// The panic message of `f`, which must panic.
fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn from_vec_rejects_a_shape_whose_count_overflows() {
    let err = Tensor::<f32>::try_from_vec(vec![], [BIG, BIG]).unwrap_err();
    assert!(matches!(err, TensorError::TooLarge { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("[4294967296, 4294967296]"), "{msg}");
    assert!(msg.contains("from_vec"), "{msg}");
}

#[test]
fn reshape_rejects_a_shape_whose_count_wraps_to_the_same_length() {
    let t = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], [2, 2]);
    // ((2^62 + 1) * 4) mod 2^64 == 4: a wrapping product would accept this.
    let err = t.try_reshape([(1 << 62) + 1, 4]).unwrap_err();
    assert!(matches!(err, TensorError::TooLarge { .. }), "{err:?}");
    assert!(err.to_string().contains("4611686018427387905"), "{err}");
    let msg = panic_message(|| {
        let _ = t.reshape([(1 << 62) + 1, 4]);
    });
    assert!(msg.contains("4611686018427387905, 4"), "{msg}");
    let msg = panic_message(|| {
        let _ = t.clone().into_reshape([(1 << 62) + 1, 4]);
    });
    assert!(msg.contains("too large"), "{msg}");
}

#[test]
fn constructors_panic_naming_the_shape() {
    for (what, f) in [
        (
            "zeros",
            Box::new(|| drop(Tensor::<f32>::zeros([1 << 63, 2]))) as Box<dyn Fn()>,
        ),
        ("ones", Box::new(|| drop(Tensor::<f32>::ones([BIG, BIG])))),
        (
            "full",
            Box::new(|| drop(Tensor::<f64>::full([BIG, BIG, 2], 1.0))),
        ),
        (
            "from_fn",
            Box::new(|| drop(Tensor::<f32>::from_fn([BIG, BIG], |_| 0.0))),
        ),
    ] {
        let msg = panic_message(f);
        assert!(
            msg.contains("too large") && msg.contains(what),
            "{what}: {msg}"
        );
        assert!(
            msg.contains(", 4294967296") || msg.contains("[9223372036854775808, 2]"),
            "{msg}"
        );
    }
}

#[test]
fn a_countable_shape_too_big_to_allocate_names_the_shape() {
    // 2^61 f32 elements are countable but need 2^63 bytes, past isize::MAX.
    let msg = panic_message(|| drop(Tensor::<f32>::zeros([1 << 61])));
    assert!(msg.contains("[2305843009213693952]"), "{msg}");
}

#[test]
fn broadcasting_two_valid_shapes_to_an_uncountable_one_is_an_error() {
    let a = Shape::from([BIG, 1]);
    let b = Shape::from([1, BIG]);
    let err = Shape::broadcast(&a, &b, "add").unwrap_err();
    assert!(
        matches!(err, TensorError::TooLarge { op: "add", .. }),
        "{err:?}"
    );
}

#[test]
fn empty_shapes_count_only_their_non_zero_dims() {
    assert_eq!(Shape::from([0, BIG]).checked_numel(), Some(0));
    assert_eq!(Shape::from([BIG, 0, BIG]).checked_numel(), None);
    let t = Tensor::<f32>::zeros([0, BIG]);
    assert_eq!(t.numel(), 0);
    assert_eq!(t.shape().strides(), vec![BIG, 1]);
}

#[test]
fn strides_of_an_uncountable_shape_panic_naming_it() {
    let msg = panic_message(|| drop(Shape::from([2, BIG, BIG]).strides()));
    assert!(msg.contains("[2, 4294967296, 4294967296]"), "{msg}");
}

#[test]
fn concat_lengths_that_overflow_are_an_error() {
    // Two empty tensors whose lengths along axis 1 sum past usize::MAX.
    let a = Tensor::<f32>::zeros([0, usize::MAX]);
    let b = Tensor::<f32>::zeros([0, 1]);
    let err = Tensor::try_concat(&[&a, &b], 1).unwrap_err();
    assert!(err.to_string().contains("concat"), "{err}");
}

#[test]
fn indexing_checks_every_index_against_its_dim() {
    let t = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], [2, 2]);
    let msg = panic_message(|| {
        let _ = t[[1 << 62, 0]];
    });
    assert!(msg.contains("out of bounds for shape [2, 2]"), "{msg}");
    let msg = panic_message(|| {
        let _ = t[[0, 2]];
    });
    assert!(msg.contains("out of bounds"), "{msg}");
}
