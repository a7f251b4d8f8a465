//! Shapes and NumPy broadcasting.

use std::fmt;

use crate::TensorError;

/// The extent of each axis of a tensor, outermost first (row-major).
///
/// A rank-0 shape `[]` is a scalar with one element.
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

    /// Number of elements (1 for a scalar).
    pub fn numel(&self) -> usize {
        self.0.iter().product()
    }

    /// Row-major strides in elements.
    pub fn strides(&self) -> Vec<usize> {
        let mut strides = vec![1; self.0.len()];
        for i in (0..self.0.len().saturating_sub(1)).rev() {
            strides[i] = strides[i + 1] * self.0[i + 1];
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
        Ok(Shape(dims))
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
