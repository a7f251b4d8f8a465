//! Elementwise maps, broadcasting binary ops, reductions, softmax and row indexing.
//!
//! Each loop runs over plain slices with no per-element dispatch or bounds-check
//! surprises, so rustc auto-vectorises the simple ones (add, mul, relu, scale).

mod binary;
mod exp_ln;
mod index;
mod reduce;
mod softmax;
mod squared_difference;
mod unary;

pub use exp_ln::{exp_in_place, ln_in_place};
pub use reduce::sum_over_rows;
pub use softmax::{normalize_rows, softmax_minus_onehot, SoftmaxParts};
pub use squared_difference::{scaled_difference, sum_squared_difference};
