//! Hand-derived properties of the optimisers' update rules, complementing the PyTorch
//! trajectories of `optim_reference.rs` (which cannot hold `#[test]`s: it has its own harness).

use ferrograd_autograd::Var;
use ferrograd_nn::optim::{Adam, AdamConfig, Optimizer, Sgd, SgdConfig};
use ferrograd_tensor::Tensor;

#[test]
fn adamw_decays_decoupled_from_the_gradient() {
    // With a zero gradient Adam's update is 0, so AdamW moves p only by the decay.
    let p = Var::leaf(Tensor::from_vec(vec![2.0f64, -4.0], [2]));
    let mut opt =
        ferrograd_nn::optim::AdamW::new(vec![p.clone()], AdamConfig::new(0.1).weight_decay(0.5));
    let loss = (&p * 0.0).sum();
    opt.step(&loss.backward());
    assert_eq!(p.value().data(), &[2.0 * 0.95, -4.0 * 0.95]);
    // Adam with the same decay treats it as a gradient: the first step is ±lr exactly.
    let q = Var::leaf(Tensor::from_vec(vec![2.0f64, -4.0], [2]));
    let mut adam = Adam::new(vec![q.clone()], AdamConfig::new(0.1).weight_decay(0.5));
    adam.step(&(&q * 0.0).sum().backward());
    let d = q.value();
    assert!(
        (d.data()[0] - 1.9).abs() < 1e-7 && (d.data()[1] + 3.9).abs() < 1e-7,
        "{d:?}"
    );
}

#[test]
fn sgd_weight_decay_minimises_half_wd_times_squared_norm() {
    // SGD(wd) on loss L is plain SGD on L + (wd/2)‖w‖².
    let wd = 0.3;
    let a = Var::leaf(Tensor::from_vec(vec![1.0f64, -2.0, 0.5], [3]));
    let b = Var::leaf(a.value().clone());
    let mut with_decay = Sgd::new(vec![a.clone()], SgdConfig::new(0.1).weight_decay(wd));
    let mut explicit = Sgd::new(vec![b.clone()], SgdConfig::new(0.1));
    for _ in 0..10 {
        with_decay.step(&a.powi(3).sum().backward());
        explicit.step(&(b.powi(3).sum() + b.square().sum().scale(wd / 2.0)).backward());
    }
    assert!(a.value().max_abs_diff(&b.value()) < 1e-14);
}

#[test]
fn nesterov_and_dampening_follow_pytorch_formulas() {
    // One parameter, constant gradient g = 1 (loss = w): hand-derived trajectories.
    let w = Var::leaf(Tensor::from_vec(vec![0.0f64], [1]));
    let mut opt = Sgd::new(
        vec![w.clone()],
        SgdConfig::new(1.0).momentum(0.5).nesterov(true),
    );
    opt.step(&w.sum().backward()); // b = 1, g = 1 + 0.5 = 1.5
    opt.step(&w.sum().backward()); // b = 1.5, g = 1 + 0.75 = 1.75
    assert_eq!(w.value().data(), &[-3.25]);
    let v = Var::leaf(Tensor::from_vec(vec![0.0f64], [1]));
    let mut damp = Sgd::new(
        vec![v.clone()],
        SgdConfig::new(1.0).momentum(0.5).dampening(0.5),
    );
    damp.step(&v.sum().backward()); // b = 1 (first step ignores dampening)
    damp.step(&v.sum().backward()); // b = 0.5 + 0.5 = 1
    assert_eq!(v.value().data(), &[-2.0]);
}
