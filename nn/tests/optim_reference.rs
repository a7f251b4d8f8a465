//! The optimisers against PyTorch: every case of `shared/reference/torch_reference.json`
//! (`optimizers`) starts from `w0`, takes 5 steps on
//! `loss(w) = Σ(w − target)² + 0.3·Σw³`, and records `w` after each step.

use std::path::PathBuf;

use ferrograd_autograd::Var;
use ferrograd_nn::optim::{Adam, AdamConfig, Optimizer, Sgd, SgdConfig};
use ferrograd_tensor::{Float, Tensor};
use serde_json::Value;

fn reference() -> Option<Value> {
    let path = std::env::var_os("FERROGRAD_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../shared/reference/torch_reference.json")
        });
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(serde_json::from_str(&text).expect("torch_reference.json is valid JSON")),
        Err(e) => {
            eprintln!(
                "SKIPPED optimiser reference tests: cannot read {} ({e}); set FERROGRAD_REFERENCE",
                path.display()
            );
            None
        }
    }
}

fn tensor<T: Float>(v: &Value) -> Tensor<T> {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let data = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| T::from_f64(x.as_f64().unwrap()))
        .collect();
    Tensor::from_vec(data, shape)
}

fn make_optimizer<T: Float>(name: &str, params: Vec<Var<T>>) -> Box<dyn Optimizer<T>> {
    match name {
        "sgd" => Box::new(Sgd::new(params, SgdConfig::new(0.05))),
        "sgd_weight_decay" => Box::new(Sgd::new(params, SgdConfig::new(0.05).weight_decay(0.1))),
        "sgd_momentum" => Box::new(Sgd::new(params, SgdConfig::new(0.05).momentum(0.9))),
        "adam" => Box::new(Adam::new(params, AdamConfig::new(0.01))),
        "adam_weight_decay" => Box::new(Adam::new(params, AdamConfig::new(0.01).weight_decay(0.1))),
        other => {
            panic!("reference optimiser case `{other}` has no ferrograd counterpart in this test")
        }
    }
}

/// Runs every case in `T`, returning the worst relative error over all steps.
fn run_cases<T: Float>(reference: &Value) -> Vec<(String, f64)> {
    let mut results = Vec::new();
    for case in reference["optimizers"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let w = Var::leaf(tensor::<T>(&case["w0"]));
        let target = Var::constant(tensor::<T>(&case["target"]));
        let mut opt = make_optimizer(name, vec![w.clone()]);
        let mut worst: f64 = 0.0;
        for expected in case["after_each_step"].as_array().unwrap() {
            let loss = (&w - &target).square().sum() + w.powi(3).sum().scale(T::from_f64(0.3));
            opt.step(&loss.backward());
            let expected = tensor::<f64>(expected);
            let got = w.value().cast::<f64>();
            let scale = expected.data().iter().fold(1.0f64, |m, x| m.max(x.abs()));
            worst = worst.max(got.max_abs_diff(&expected) / scale);
        }
        results.push((name.to_string(), worst));
    }
    results
}

#[test]
fn optimisers_match_pytorch_in_f64_and_f32() {
    let Some(reference) = reference() else { return };
    for (name, err) in run_cases::<f64>(&reference) {
        eprintln!("f64 {name:<18} max rel err over 5 steps {err:.2e}");
        assert!(
            err < 1e-12,
            "{name}: f64 trajectory differs from PyTorch by {err:e}"
        );
    }
    for (name, err) in run_cases::<f32>(&reference) {
        eprintln!("f32 {name:<18} max rel err over 5 steps {err:.2e}");
        assert!(
            err < 1e-5,
            "{name}: f32 trajectory differs from PyTorch by {err:e}"
        );
    }
}

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
