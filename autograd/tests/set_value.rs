//! `p.set_value(p.value().map(f))` updates `p`. It used to panic with a bare "RefCell
//! already borrowed": the `Ref` returned by `value()` lived until the end of the
//! statement, so `set_value` could not borrow mutably.

use ferrograd_autograd::Var;
use ferrograd_tensor::Tensor;

#[test]
fn set_value_from_its_own_value_works() {
    let p = Var::leaf(Tensor::from_vec(vec![1.0f32, 2.0, 3.0], [3]));
    p.set_value(p.value().map(|x| 2.0 * x));
    assert_eq!(p.value().data(), &[2.0, 4.0, 6.0]);
}

#[test]
fn a_value_handle_keeps_the_old_value_across_updates() {
    let p = Var::leaf(Tensor::from_vec(vec![1.0f64, 2.0], [2]));
    let before = p.value();
    p.value_mut().data_mut()[0] = 10.0;
    assert_eq!(before.data(), &[1.0, 2.0]);
    assert_eq!(p.value().data(), &[10.0, 2.0]);
    p.set_value(Tensor::from_vec(vec![5.0, 6.0], [2]));
    assert_eq!(before.data(), &[1.0, 2.0]);
    assert_eq!(p.value().data(), &[5.0, 6.0]);
}

#[test]
#[should_panic(expected = "a `value_mut` guard is still alive")]
fn set_value_under_a_live_value_mut_guard_explains() {
    let p = Var::leaf(Tensor::from_vec(vec![1.0f32], [1]));
    let _guard = p.value_mut();
    p.set_value(Tensor::from_vec(vec![2.0], [1]));
}
