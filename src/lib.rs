//! ferrograd: a small reverse-mode autodiff tensor library for teaching.
//!
//! This facade re-exports the three crates of the workspace:
//! - [`tensor`]: dense tensors, elementwise ops, linear algebra and the GEMM;
//! - [`autograd`]: differentiable values, backward rules and gradient checks;
//! - [`nn`]: modules, losses, optimisers, data sets and checkpoints.
//!
//! The tour from the README, compiled and run as a test so it cannot go stale:
//!
//! ```
//! use ferrograd::autograd::{self, Var};
//! use ferrograd::nn::optim::{Adam, AdamConfig, Optimizer};
//! use ferrograd::nn::{self, Linear, Module, ReLU, Sequential};
//! use ferrograd::tensor::Tensor;
//!
//! // 1. Values that require a gradient are leaves; ops record themselves as they run.
//! let w = Var::leaf(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], [2, 2]));
//! let x = Var::constant(Tensor::from_vec(vec![1.0, -2.0], [1, 2]));
//! let loss = x.matmul(&w).relu().sum();
//!
//! // 2. backward() returns a store of gradients, keyed by value: no zero_grad, nothing stale.
//! let grads = loss.backward();
//! let dw: &Tensor<f64> = grads.get(&w).unwrap();
//! assert_eq!(dw.dims(), &[2, 2]);
//!
//! // 3. Every rule is checked against central differences in f64.
//! let inputs = [
//!     Tensor::randn([3, 4], &mut nn::seeded_rng(0)),
//!     Tensor::randn([4, 2], &mut nn::seeded_rng(1)),
//! ];
//! let report = autograd::gradcheck(
//!     "tanh∘matmul",
//!     |v| v[0].matmul(&v[1]).tanh(),
//!     &inputs,
//!     &autograd::GradcheckOptions::default(),
//! );
//! assert!(report.passed(), "{report}");
//!
//! // 4. Modules and optimisers have PyTorch's names and update rules.
//! let mut rng = nn::seeded_rng(0);
//! let model = Sequential::<f32>::new()
//!     .with(Linear::new(784, 192, true, &mut rng))
//!     .with(ReLU)
//!     .with(Linear::new(192, 10, true, &mut rng));
//! let mut opt = Adam::new(model.parameters(), AdamConfig::new(1e-3));
//! let xb = Var::constant(Tensor::rand([8, 784], &mut rng));
//! let labels = [0, 1, 2, 3, 4, 5, 6, 7];
//! let before = model.forward(&xb).cross_entropy(&labels).item();
//! for _ in 0..20 {
//!     let loss = model.forward(&xb).cross_entropy(&labels);
//!     opt.step(&loss.backward());
//! }
//! assert!(model.forward(&xb).cross_entropy(&labels).item() < before);
//!
//! // 5. Checkpoints are safetensors with PyTorch's parameter names ("0.weight", ...).
//! let path = std::env::temp_dir().join(format!("ferrograd-tour-{}.safetensors", std::process::id()));
//! nn::save_module(&model, &path)?;
//! nn::load_module(&model, &path)?;
//! std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use ferrograd_autograd as autograd;
pub use ferrograd_nn as nn;
pub use ferrograd_tensor as tensor;
