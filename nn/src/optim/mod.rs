//! Optimisers with PyTorch's exact update rules.
//!
//! An optimiser is built over a list of parameters and updates them in place from a
//! [`Gradients`] store returned by `backward()`. A parameter the loss did not reach has
//! no gradient and is skipped, as PyTorch skips `p.grad is None`.
//!
//! "Weight decay" means two different things:
//! - [`Sgd`] and [`Adam`]: L2 regularisation — `wd · p` is added to the gradient. For SGD
//!   this is exactly minimising `loss + (wd/2)·‖p‖²`; for Adam the added term is rescaled
//!   by the adaptive denominator, so it is *not* equivalent to an L2 penalty's effect on SGD.
//! - [`AdamW`]: decoupled decay — `p ← p·(1 − lr·wd)` before the Adam step, independent
//!   of the gradient's scale (Loshchilov & Hutter).

mod adam;
mod kernels;
mod sgd;

pub use adam::{Adam, AdamConfig, AdamW};
pub use sgd::{Sgd, SgdConfig};

use ferrograd_autograd::Gradients;
use ferrograd_tensor::Float;

/// Something that updates parameters from gradients.
pub trait Optimizer<T: Float> {
    /// Applies one update using `grads`.
    fn step(&mut self, grads: &Gradients<T>);

    /// The current learning rate.
    fn learning_rate(&self) -> f64;

    /// Changes the learning rate (for schedules).
    fn set_learning_rate(&mut self, lr: f64);
}
