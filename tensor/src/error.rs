//! The error type of fallible (`try_`) tensor operations.

use std::fmt;

use crate::Shape;

/// Why a tensor operation could not be carried out. Each variant names the op and the
/// shapes involved, so the message alone tells what to fix.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorError {
    /// Two operands' shapes do not fit together (broadcasting, matmul, concat, ...).
    ShapeMismatch {
        /// The operation that was attempted.
        op: &'static str,
        /// Shape of the left (first) operand.
        lhs: Shape,
        /// Shape of the right (second) operand.
        rhs: Shape,
    },
    /// A buffer's length does not match the number of elements of the requested shape.
    LengthMismatch {
        /// The operation that was attempted.
        op: &'static str,
        /// The requested shape.
        shape: Shape,
        /// Elements the buffer actually has.
        len: usize,
    },
    /// An axis beyond the tensor's rank.
    AxisOutOfRange {
        /// The operation that was attempted.
        op: &'static str,
        /// The axis asked for.
        axis: usize,
        /// The tensor's shape.
        shape: Shape,
    },
    /// The op needs a tensor of a particular rank or extent.
    InvalidShape {
        /// The operation that was attempted.
        op: &'static str,
        /// The offending shape.
        shape: Shape,
        /// What was expected instead, in words.
        expected: String,
    },
    /// The shape has more elements than `usize` can count (the product of its non-zero
    /// dimensions overflows), so no buffer can hold it and no index can reach it.
    TooLarge {
        /// The operation that was attempted.
        op: &'static str,
        /// The offending shape.
        shape: Shape,
    },
}

impl fmt::Display for TensorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TensorError::ShapeMismatch { op, lhs, rhs } => {
                write!(f, "{op}: shapes {lhs} and {rhs} are incompatible")
            }
            TensorError::LengthMismatch { op, shape, len } => match shape.checked_numel() {
                Some(n) => write!(
                    f,
                    "{op}: shape {shape} needs {n} elements but the buffer has {len}"
                ),
                None => write!(
                    f,
                    "{op}: shape {shape} has more elements than usize can count; the \
                     buffer has {len}"
                ),
            },
            TensorError::AxisOutOfRange { op, axis, shape } => {
                write!(f, "{op}: axis {axis} is out of range for shape {shape}")
            }
            TensorError::InvalidShape {
                op,
                shape,
                expected,
            } => write!(f, "{op}: got shape {shape}, expected {expected}"),
            TensorError::TooLarge { op, shape } => write!(
                f,
                "{op}: shape {shape} is too large: the product of its non-zero dimensions \
                 overflows usize (at most {} elements can be counted)",
                usize::MAX
            ),
        }
    }
}

impl std::error::Error for TensorError {}

/// Unwraps a `try_` result, panicking with the error's message (the shapes and the op),
/// which is how the infallible variants report misuse, like ndarray and PyTorch do.
#[track_caller]
pub(crate) fn or_panic<V>(result: Result<V, TensorError>) -> V {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}
