//! Row gathers, one-hot encoding and concatenation.

use crate::error::or_panic;
use crate::{Float, Shape, Tensor, TensorError};

impl<T: Float> Tensor<T> {
    /// The rows `indices` of a matrix, in that order (`index_select(0, indices)`).
    #[track_caller]
    pub fn index_select_rows(&self, indices: &[usize]) -> Tensor<T> {
        self.expect_matrix("index_select_rows");
        let (m, n) = (self.rows(), self.cols());
        let out = Shape::from([indices.len(), n]);
        let mut data = Vec::with_capacity(or_panic(out.try_numel("index_select_rows")));
        for &i in indices {
            assert!(
                i < m,
                "index_select_rows: row {i} is out of range for shape {}",
                self.shape()
            );
            data.extend_from_slice(self.row(i));
        }
        Tensor::from_vec(data, out)
    }

    /// `[indices.len(), classes]` with a 1 at `(i, indices[i])`.
    #[track_caller]
    pub fn one_hot(indices: &[usize], classes: usize) -> Tensor<T> {
        let mut out = Tensor::zeros([indices.len(), classes]);
        for (r, &c) in indices.iter().enumerate() {
            assert!(
                c < classes,
                "one_hot: index {c} is out of range for {classes} classes"
            );
            out.data_mut()[r * classes + c] = T::ONE;
        }
        out
    }

    /// Joins tensors along `axis`; all other dimensions must agree.
    pub fn try_concat(tensors: &[&Tensor<T>], axis: usize) -> Result<Tensor<T>, TensorError> {
        let first = tensors.first().ok_or(TensorError::InvalidShape {
            op: "concat",
            shape: Shape::scalar(),
            expected: "at least one tensor".into(),
        })?;
        if axis >= first.rank() {
            return Err(TensorError::AxisOutOfRange {
                op: "concat",
                axis,
                shape: first.shape().clone(),
            });
        }
        let mut dims = first.dims().to_vec();
        dims[axis] = 0;
        for t in tensors {
            let same_elsewhere = t.rank() == first.rank()
                && (0..t.rank()).all(|a| a == axis || t.dims()[a] == first.dims()[a]);
            if !same_elsewhere {
                return Err(TensorError::ShapeMismatch {
                    op: "concat",
                    lhs: first.shape().clone(),
                    rhs: t.shape().clone(),
                });
            }
            dims[axis] = dims[axis].checked_add(t.dims()[axis]).ok_or_else(|| {
                TensorError::InvalidShape {
                    op: "concat",
                    shape: t.shape().clone(),
                    expected: format!("lengths along axis {axis} that sum to at most usize::MAX"),
                }
            })?;
        }
        let total = Shape::from(dims.as_slice()).try_numel("concat")?;
        let outer: usize = first.dims()[..axis].iter().product();
        let mut data = Vec::with_capacity(total);
        for o in 0..outer {
            for t in tensors {
                let chunk: usize = t.dims()[axis..].iter().product();
                data.extend_from_slice(&t.data()[o * chunk..(o + 1) * chunk]);
            }
        }
        Ok(Tensor::from_vec(data, dims))
    }

    /// Joins tensors along `axis`, panicking with the shapes on mismatch.
    #[track_caller]
    pub fn concat(tensors: &[&Tensor<T>], axis: usize) -> Tensor<T> {
        or_panic(Self::try_concat(tensors, axis))
    }

    /// The slice `[start, end)` of `axis`.
    #[track_caller]
    pub fn narrow(&self, axis: usize, start: usize, end: usize) -> Tensor<T> {
        assert!(
            axis < self.rank() && start <= end && end <= self.dims()[axis],
            "narrow: range {start}..{end} of axis {axis} is out of bounds for shape {}",
            self.shape()
        );
        let outer: usize = self.dims()[..axis].iter().product();
        let inner: usize = self.dims()[axis + 1..].iter().product();
        let len = self.dims()[axis];
        let mut data = Vec::with_capacity(outer * (end - start) * inner);
        for o in 0..outer {
            data.extend_from_slice(
                &self.data()[(o * len + start) * inner..(o * len + end) * inner],
            );
        }
        let mut dims = self.dims().to_vec();
        dims[axis] = end - start;
        Tensor::from_vec(data, dims)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn gather_rows_and_one_hot() {
        let t = Tensor::from_vec((0..6).map(|x| x as f32).collect::<Vec<_>>(), [3, 2]);
        assert_eq!(
            t.index_select_rows(&[2, 0, 2]).data(),
            &[4.0, 5.0, 0.0, 1.0, 4.0, 5.0]
        );
        let oh = Tensor::<f32>::one_hot(&[1, 0], 3);
        assert_eq!(oh.data(), &[0.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn concat_both_axes_and_narrow_back() {
        let a = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], [2, 2]);
        let b = Tensor::from_vec(vec![5.0f64, 6.0], [2, 1]);
        let c = Tensor::concat(&[&a, &b], 1);
        assert_eq!(c.data(), &[1.0, 2.0, 5.0, 3.0, 4.0, 6.0]);
        assert_eq!(c.narrow(1, 2, 3), b);
        let r = Tensor::concat(&[&a, &a], 0);
        assert_eq!(r.dims(), &[4, 2]);
        assert_eq!(r.narrow(0, 2, 4), a);
        let err = Tensor::try_concat(&[&a, &b], 0).unwrap_err();
        assert!(err.to_string().contains("[2, 1]"));
    }
}
