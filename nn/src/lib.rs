//! Neural-network building blocks for ferrograd, with PyTorch's semantics.
//!
//! - [`Module`]: `forward` plus named parameters (`encoder.0.weight`, ...), `train()` /
//!   `eval()`; layers [`Linear`], [`ReLU`], [`Identity`] and the [`Sequential`] container.
//! - Losses: [`MSELoss`], [`CrossEntropyLoss`].
//! - [`optim`]: SGD, Adam and AdamW with PyTorch's exact update rules, stepping from the
//!   [`ferrograd_autograd::Gradients`] that `backward()` returns — no `zero_grad` to forget.
//! - Reproducibility: one [`seeded_rng`] threaded through everything random.
//! - [`data`]: MNIST read from its IDX files, splits and a batch iterator;
//!   [`checkpoint`]: safetensors files with PyTorch names ([`save_module`] /
//!   [`load_module`]). Both return errors naming the file and the defect. [`atomic`]
//!   replaces a file so that a writer killed midway leaves neither half a file nor a
//!   lasting temporary (checkpoints use it, and the course's figures and reports).
//! - [`check_finite`] stops a run whose loss became NaN or infinite, naming the step.
//!
//! ```
//! use ferrograd_autograd::Var;
//! use ferrograd_nn::optim::{Optimizer, Sgd, SgdConfig};
//! use ferrograd_nn::{Linear, Module, MSELoss};
//! use ferrograd_tensor::Tensor;
//! let mut rng = ferrograd_nn::seeded_rng(0);
//! let model = Linear::<f64>::new(2, 1, true, &mut rng);
//! let mut opt = Sgd::new(model.parameters(), SgdConfig::new(0.02));
//! let x = Var::constant(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], [2, 2]));
//! let y = Var::constant(Tensor::from_vec(vec![1.0, 2.0], [2, 1]));
//! let first = MSELoss::new().forward(&model.forward(&x), &y).item();
//! for _ in 0..100 {
//!     let loss = MSELoss::new().forward(&model.forward(&x), &y);
//!     opt.step(&loss.backward());
//! }
//! assert!(MSELoss::new().forward(&model.forward(&x), &y).item() < first);
//! ```

#![warn(missing_docs)]

pub mod atomic;
pub mod checkpoint;
pub mod data;
mod files;
mod layers;
mod loss;
mod module;
pub mod optim;
mod training;

pub use layers::{Identity, Linear, ReLU, Sequential};
pub use loss::{CrossEntropyLoss, MSELoss};
pub use module::{load_module, prefixed, save_module, Module};
pub use training::{check_finite, seeded_rng, NonFiniteLoss};
