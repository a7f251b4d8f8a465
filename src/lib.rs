//! The facade of ferrograd: `ferrograd::tensor`, `ferrograd::autograd` and `ferrograd::nn`
//! re-export the three crates of the workspace, so one dependency brings the whole library.
//!
//! The documentation below is the repository's README, included here so its tour is
//! compiled and run by `cargo test` and cannot drift from the code.
//!
#![doc = include_str!("../README.md")]

#[doc(inline)]
pub use ferrograd_autograd as autograd;
#[doc(inline)]
pub use ferrograd_nn as nn;
#[doc(inline)]
pub use ferrograd_tensor as tensor;
