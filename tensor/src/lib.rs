//! Dense tensors for ferrograd: storage, shapes, elementwise ops, reductions, linear
//! algebra and a BLIS-style GEMM.
//!
//! Design in brief:
//! - A [`Tensor<T>`] is a contiguous row-major `Vec<T>` plus a [`Shape`]; `T` is `f32` or
//!   `f64` through the [`Float`] trait, so each op is written once.
//! - Elementwise ops are plain slice loops the compiler vectorises; binary ops broadcast
//!   like NumPy. Ops that can fail on shapes come as `try_x` returning [`TensorError`] and
//!   `x` that panics with the same message (op name and both shapes).
//! - All matrix products go through [`gemm::gemm`], which reads transposed operands
//!   through strides while packing, so no transpose is ever materialised for a product.

#![warn(missing_docs)]

mod display;
pub mod element;
pub mod error;
pub mod gemm;
pub mod linalg;
mod matmul;
mod ops;
mod random;
pub mod shape;
#[doc(hidden)]
pub mod simd;
mod tensor;

pub use element::{DType, Float};
pub use error::TensorError;
pub use ops::{
    exp_in_place, ln_in_place, normalize_rows, scaled_difference, softmax_minus_onehot,
    sum_over_rows, sum_squared_difference, SoftmaxParts,
};
pub use shape::Shape;
pub use tensor::Tensor;
