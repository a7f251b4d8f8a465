//! ferrograd: a small reverse-mode autodiff tensor library for teaching.
//!
//! This facade re-exports the three crates of the workspace:
//! - [`tensor`]: dense tensors, elementwise ops, linear algebra and the GEMM;
//! - [`autograd`]: differentiable values, backward rules and gradient checks;
//! - [`nn`]: modules, losses, optimisers, data sets and checkpoints.

pub use autograd;
pub use nn;
pub use tensor;
