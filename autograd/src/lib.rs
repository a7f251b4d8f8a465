//! Reverse-mode automatic differentiation over [`ferrograd_tensor::Tensor`].
//!
//! # Design
//!
//! A [`Var`] is a reference-counted node holding a tensor and, if it was computed by an
//! op from values that require gradients, that op's inputs and backward rule. The graph
//! is therefore built as ordinary Rust values are computed (define-by-run, like PyTorch
//! and micrograd), and it is freed by `Rc` as soon as nothing refers to it — or, as in
//! PyTorch, when [`Var::backward`] walks it, unless
//! [`backward_retain_graph`](Var::backward_retain_graph) is used. Nothing is recorded
//! when no input requires a gradient or inside [`no_grad`].
//!
//! `backward()` orders the nodes reachable from the loss so that each comes after every
//! node computed from it, runs each backward rule exactly once, and *adds* every
//! contribution into a [`Gradients`] store keyed by value id: a value used twice gets
//! both contributions. Gradients are returned rather than stored on the parameters
//! (candle's choice): each pass starts from an empty store, so a stale gradient or a
//! forgotten `zero_grad` cannot exist, and optimisers take `&Gradients`.
//!
//! Each op lives in one file under `src/ops/` with its forward, its backward rule (the
//! derivative in one line of math in the doc) and its tests. Rules hand their results to
//! a [`GradSink`], the single place where broadcasting is undone (a gradient is summed
//! back to its input's shape) and where accumulation happens — matrix-product gradients
//! accumulate straight through the GEMM with `beta = 1`.
//!
//! [`gradcheck()`] compares every rule against central differences in f64, and every op is
//! also tested against PyTorch's values (`tests/torch_reference.rs` in the workspace).
//!
//! ```
//! use ferrograd_autograd::Var;
//! use ferrograd_tensor::Tensor;
//! // y = Σ relu(x W): the gradient reaches W through relu and matmul.
//! let x = Var::constant(Tensor::from_vec(vec![1.0, -2.0], [1, 2]));
//! let w = Var::leaf(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], [2, 2]));
//! let y = x.matmul(&w).relu().sum();
//! let grads = y.backward();
//! // x W = [-5, -6]: both units are off, so no gradient flows.
//! assert_eq!(grads.get(&w).unwrap().data(), &[0.0; 4]);
//! ```

#![warn(missing_docs)]

mod dot;
mod engine;
mod grad_mode;
pub mod gradcheck;
mod ops;
mod var;

pub use engine::{GradSink, Gradients};
pub use grad_mode::{is_grad_enabled, no_grad, NoGradGuard};
pub use gradcheck::{assert_gradcheck, gradcheck, GradcheckOptions, GradcheckReport};
pub use ops::Reduction;
pub use var::{BackwardCtx, BackwardFn, Value, Var};
