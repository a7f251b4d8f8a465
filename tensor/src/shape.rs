//! Shapes and NumPy broadcasting.

use std::fmt;

use crate::TensorError;

/// The extent of each axis of a tensor, outermost first (row-major).
///
/// A rank-0 shape `[]` is a scalar with one element.
///
/// Any dimensions can be stored, but a tensor only accepts a shape whose size is
/// representable: the product of its non-zero dimensions must fit in `usize`
/// ([`checked_numel`](Self::checked_numel)). Counting only non-zero dimensions is
/// deliberate: it makes every partial product (a stride, the `outer`/`inner` split of an
/// axis) fit too, so code that walks a valid shape never needs to check again, even for
/// an empty tensor such as `[0, 2^40, 2^40]` (which is therefore rejected).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape(Vec<usize>);

impl Shape {
    /// A shape from its dimensions.
    pub fn new(dims: impl Into<Vec<usize>>) -> Self {
        Shape(dims.into())
    }

    /// The scalar shape `[]`.
    pub fn scalar() -> Self {
        Shape(Vec::new())
    }

    /// The dimensions, outermost first.
    pub fn dims(&self) -> &[usize] {
        &self.0
    }

    /// Number of axes.
    pub fn rank(&self) -> usize {
        self.0.len()
    }

    /// Number of elements (1 for a scalar), or `None` when the shape is too large to
    /// index: the product of its non-zero dimensions overflows `usize`.
    pub fn checked_numel(&self) -> Option<usize> {
        let mut product: usize = 1;
        let mut empty = false;
        for &d in &self.0 {
            if d == 0 {
                empty = true;
            } else {
                product = product.checked_mul(d)?;
            }
        }
        Some(if empty { 0 } else { product })
    }

    /// Number of elements, or [`TensorError::TooLarge`] naming `op` and the shape.
    pub fn try_numel(&self, op: &'static str) -> Result<usize, TensorError> {
        self.checked_numel().ok_or_else(|| TensorError::TooLarge {
            op,
            shape: self.clone(),
        })
    }

    /// Number of elements (1 for a scalar). Panics, naming the shape, when it is too
    /// large to index (see [`checked_numel`](Self::checked_numel)); a wrapped product
    /// would label a small buffer with a huge shape.
    #[track_caller]
    pub fn numel(&self) -> usize {
        match self.try_numel("numel") {
            Ok(n) => n,
            Err(e) => panic!("{e}"),
        }
    }

    /// Row-major strides in elements. Panics, naming the shape, when it is too large to
    /// index (see [`checked_numel`](Self::checked_numel)).
    #[track_caller]
    pub fn strides(&self) -> Vec<usize> {
        let mut strides = vec![1usize; self.0.len()];
        for i in (0..self.0.len().saturating_sub(1)).rev() {
            // A zero dimension contributes nothing, as in checked_numel: the stride is
            // then never used, since an empty tensor has no element to address.
            let d = self.0[i + 1].max(1);
            strides[i] = match strides[i + 1].checked_mul(d) {
                Some(s) => s,
                None => panic!(
                    "{}",
                    TensorError::TooLarge {
                        op: "strides",
                        shape: self.clone(),
                    }
                ),
            };
        }
        strides
    }

    /// The shape of `lhs op rhs` under NumPy broadcasting: align trailing axes; each pair
    /// must be equal or contain a 1.
    pub fn broadcast(lhs: &Shape, rhs: &Shape, op: &'static str) -> Result<Shape, TensorError> {
        let rank = lhs.rank().max(rhs.rank());
        let mut dims = vec![0; rank];
        for (i, d) in dims.iter_mut().enumerate() {
            let l = lhs.dim_from_end(rank - 1 - i);
            let r = rhs.dim_from_end(rank - 1 - i);
            *d = if l == r || r == 1 {
                l
            } else if l == 1 {
                r
            } else {
                return Err(TensorError::ShapeMismatch {
                    op,
                    lhs: lhs.clone(),
                    rhs: rhs.clone(),
                });
            };
        }
        let out = Shape(dims);
        // Two indexable operands can broadcast to one that is not ([2^32, 1] + [1, 2^32]).
        out.try_numel(op)?;
        Ok(out)
    }

    /// Strides that read this shape as if it were broadcast to `target` (0 on broadcast
    /// axes). The caller guarantees that `self` broadcasts to `target`.
    pub fn broadcast_strides(&self, target: &Shape) -> Vec<usize> {
        let own = self.strides();
        let offset = target.rank() - self.rank();
        (0..target.rank())
            .map(|i| {
                if i < offset || self.0[i - offset] == 1 {
                    0
                } else {
                    own[i - offset]
                }
            })
            .collect()
    }

    /// Dimension `i` counted from the last axis (0 = last); 1 beyond the rank.
    fn dim_from_end(&self, i: usize) -> usize {
        if i < self.0.len() {
            self.0[self.0.len() - 1 - i]
        } else {
            1
        }
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl From<Vec<usize>> for Shape {
    fn from(dims: Vec<usize>) -> Self {
        Shape(dims)
    }
}

impl From<&[usize]> for Shape {
    fn from(dims: &[usize]) -> Self {
        Shape(dims.to_vec())
    }
}

impl<const N: usize> From<[usize; N]> for Shape {
    fn from(dims: [usize; N]) -> Self {
        Shape(dims.to_vec())
    }
}

impl From<&Shape> for Shape {
    fn from(shape: &Shape) -> Self {
        shape.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_aligns_trailing_axes() {
        let s = Shape::broadcast(&Shape::from([4, 6]), &Shape::from([6]), "add").unwrap();
        assert_eq!(s.dims(), &[4, 6]);
        let s = Shape::broadcast(&Shape::from([4, 1]), &Shape::from([1, 6]), "add").unwrap();
        assert_eq!(s.dims(), &[4, 6]);
        let s = Shape::broadcast(&Shape::scalar(), &Shape::from([2, 3]), "mul").unwrap();
        assert_eq!(s.dims(), &[2, 3]);
    }

    #[test]
    fn broadcast_rejects_incompatible_shapes_naming_both() {
        let err = Shape::broadcast(&Shape::from([4, 6]), &Shape::from([5]), "add").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("[4, 6]") && msg.contains("[5]") && msg.contains("add"),
            "{msg}"
        );
    }

    #[test]
    fn strides_are_row_major() {
        assert_eq!(Shape::from([2, 3, 4]).strides(), vec![12, 4, 1]);
        assert_eq!(
            Shape::from([3]).broadcast_strides(&Shape::from([2, 3])),
            vec![0, 1]
        );
        assert_eq!(
            Shape::from([2, 1]).broadcast_strides(&Shape::from([2, 3])),
            vec![1, 0]
        );
    }
}
