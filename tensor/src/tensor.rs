//! The [`Tensor`] type: a contiguous row-major buffer and its [`Shape`].

use std::ops::{Index, IndexMut};

use crate::error::or_panic;
use crate::{DType, Float, Shape, TensorError};

/// A dense n-dimensional array stored contiguously in row-major order.
///
/// Tensors own their data and are cheap to move; `clone` copies the buffer. There are no
/// strided views: ops that would need one (transpose) copy, except the GEMM, which reads
/// transposed operands through strides while packing.
///
/// ```
/// use ferrograd_tensor::Tensor;
/// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3]);
/// assert_eq!(t[[1, 2]], 6.0);
/// assert_eq!(t.transpose().shape().dims(), &[3, 2]);
/// ```
#[derive(Clone, PartialEq)]
pub struct Tensor<T> {
    data: Vec<T>,
    shape: Shape,
}

impl<T: Float> Tensor<T> {
    /// Wraps `data` as a tensor of `shape`, or explains why the lengths differ.
    pub fn try_from_vec(data: Vec<T>, shape: impl Into<Shape>) -> Result<Self, TensorError> {
        let shape = shape.into();
        if data.len() != shape.try_numel("from_vec")? {
            return Err(TensorError::LengthMismatch {
                op: "from_vec",
                shape,
                len: data.len(),
            });
        }
        Ok(Tensor { data, shape })
    }

    /// Wraps `data` as a tensor of `shape`. Panics if the length is not the shape's
    /// number of elements.
    #[track_caller]
    pub fn from_vec(data: Vec<T>, shape: impl Into<Shape>) -> Self {
        or_panic(Self::try_from_vec(data, shape))
    }

    /// Copies a slice into a tensor of `shape`.
    #[track_caller]
    pub fn from_slice(data: &[T], shape: impl Into<Shape>) -> Self {
        Self::from_vec(data.to_vec(), shape)
    }

    /// A rank-0 tensor holding one value.
    pub fn scalar(value: T) -> Self {
        Tensor {
            data: vec![value],
            shape: Shape::scalar(),
        }
    }

    /// Every element equal to `value`. Panics, naming the shape, if it is too large to
    /// index or to allocate.
    #[track_caller]
    pub fn full(shape: impl Into<Shape>, value: T) -> Self {
        Self::filled(shape.into(), value, "full")
    }

    /// [`full`](Self::full) under the caller's name, so a panic names the op called.
    #[track_caller]
    fn filled(shape: Shape, value: T, op: &'static str) -> Self {
        Tensor {
            data: vec![value; alloc_len::<T>(&shape, op)],
            shape,
        }
    }

    /// All zeros. Panics, naming the shape, if it is too large (see [`full`](Self::full)).
    #[track_caller]
    pub fn zeros(shape: impl Into<Shape>) -> Self {
        Self::filled(shape.into(), T::ZERO, "zeros")
    }

    /// All ones. Panics, naming the shape, if it is too large (see [`full`](Self::full)).
    #[track_caller]
    pub fn ones(shape: impl Into<Shape>) -> Self {
        Self::filled(shape.into(), T::ONE, "ones")
    }

    /// Zeros of the same shape as `self`.
    pub fn zeros_like(&self) -> Self {
        Self::zeros(self.shape.clone())
    }

    /// The `n x n` identity matrix.
    pub fn eye(n: usize) -> Self {
        let mut t = Self::zeros([n, n]);
        for i in 0..n {
            t.data[i * n + i] = T::ONE;
        }
        t
    }

    /// `[0, 1, ..., n-1]` as a vector.
    pub fn arange(n: usize) -> Self {
        Tensor {
            data: (0..n).map(T::from_usize).collect(),
            shape: Shape::from([n]),
        }
    }

    /// Builds a tensor by calling `f` with each flat (row-major) index. Panics, naming
    /// the shape, if it is too large (see [`full`](Self::full)).
    #[track_caller]
    pub fn from_fn(shape: impl Into<Shape>, f: impl FnMut(usize) -> T) -> Self {
        let shape = shape.into();
        Tensor {
            data: (0..alloc_len::<T>(&shape, "from_fn")).map(f).collect(),
            shape,
        }
    }

    /// The shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// The dimensions (shorthand for `shape().dims()`).
    pub fn dims(&self) -> &[usize] {
        self.shape.dims()
    }

    /// Number of axes.
    pub fn rank(&self) -> usize {
        self.shape.rank()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// The element type's tag.
    pub fn dtype(&self) -> DType {
        T::DTYPE
    }

    /// The elements in row-major order.
    pub fn data(&self) -> &[T] {
        &self.data
    }

    /// The elements in row-major order, mutably.
    pub fn data_mut(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// Gives up the buffer.
    pub fn into_vec(self) -> Vec<T> {
        self.data
    }

    /// The single value of a one-element tensor (a loss, say). Panics otherwise.
    #[track_caller]
    pub fn item(&self) -> T {
        assert!(
            self.data.len() == 1,
            "item: tensor of shape {} has {} elements, expected exactly 1",
            self.shape,
            self.data.len()
        );
        self.data[0]
    }

    /// Rows of a matrix (`dims()[0]`); panics unless rank 2.
    #[track_caller]
    pub fn rows(&self) -> usize {
        self.expect_matrix("rows");
        self.shape.dims()[0]
    }

    /// Columns of a matrix (`dims()[1]`); panics unless rank 2.
    #[track_caller]
    pub fn cols(&self) -> usize {
        self.expect_matrix("cols");
        self.shape.dims()[1]
    }

    /// Row `i` of a matrix as a slice.
    #[track_caller]
    pub fn row(&self, i: usize) -> &[T] {
        let n = self.cols();
        &self.data[i * n..(i + 1) * n]
    }

    /// Panics with the op's name unless this is a matrix.
    #[track_caller]
    pub(crate) fn expect_matrix(&self, op: &'static str) {
        assert!(
            self.rank() == 2,
            "{op}: expected a matrix (rank 2), got shape {}",
            self.shape
        );
    }

    /// The same data under another shape with the same number of elements.
    pub fn try_reshape(&self, shape: impl Into<Shape>) -> Result<Self, TensorError> {
        let shape = shape.into();
        if shape.try_numel("reshape")? != self.numel() {
            return Err(TensorError::ShapeMismatch {
                op: "reshape",
                lhs: self.shape.clone(),
                rhs: shape,
            });
        }
        Ok(Tensor {
            data: self.data.clone(),
            shape,
        })
    }

    /// The same data under another shape; panics if the element counts differ.
    #[track_caller]
    pub fn reshape(&self, shape: impl Into<Shape>) -> Self {
        or_panic(self.try_reshape(shape))
    }

    /// Like [`reshape`](Self::reshape) but reuses the buffer.
    #[track_caller]
    pub fn into_reshape(mut self, shape: impl Into<Shape>) -> Self {
        let shape = shape.into();
        if or_panic(shape.try_numel("reshape")) != self.numel() {
            panic!(
                "{}",
                TensorError::ShapeMismatch {
                    op: "reshape",
                    lhs: self.shape,
                    rhs: shape
                }
            );
        }
        self.shape = shape;
        self
    }

    /// The transpose of a matrix, materialised. Copies in tiles so both the reads and the
    /// writes stay within a few cache lines.
    #[track_caller]
    pub fn transpose(&self) -> Self {
        self.expect_matrix("transpose");
        let (m, n) = (self.rows(), self.cols());
        let mut out = vec![T::ZERO; m * n];
        const TILE: usize = 32;
        for i0 in (0..m).step_by(TILE) {
            for j0 in (0..n).step_by(TILE) {
                for i in i0..(i0 + TILE).min(m) {
                    for j in j0..(j0 + TILE).min(n) {
                        out[j * m + i] = self.data[i * n + j];
                    }
                }
            }
        }
        Tensor {
            data: out,
            shape: Shape::from([n, m]),
        }
    }

    /// Converts every element to another float type.
    pub fn cast<U: Float>(&self) -> Tensor<U> {
        Tensor {
            data: self.data.iter().map(|&x| U::from_f64(x.to_f64())).collect(),
            shape: self.shape.clone(),
        }
    }

    /// Flat row-major offset of a multi-index; panics with the shape when out of bounds.
    #[track_caller]
    fn offset(&self, index: &[usize]) -> usize {
        assert!(
            index.len() == self.rank() && index.iter().zip(self.dims()).all(|(&i, &d)| i < d),
            "index {index:?} is out of bounds for shape {}",
            self.shape
        );
        index
            .iter()
            .zip(self.shape.strides())
            .map(|(&i, s)| i * s)
            .sum()
    }

    /// Element at a multi-index.
    #[track_caller]
    pub fn get(&self, index: &[usize]) -> T {
        self.data[self.offset(index)]
    }

    /// Sets the element at a multi-index.
    #[track_caller]
    pub fn set(&mut self, index: &[usize], value: T) {
        let o = self.offset(index);
        self.data[o] = value;
    }

    /// True when every pair of elements is within `atol + rtol * |other|` (NumPy's
    /// `allclose`), and the shapes are equal.
    pub fn allclose(&self, other: &Tensor<T>, rtol: f64, atol: f64) -> bool {
        self.shape == other.shape
            && self.data.iter().zip(&other.data).all(|(&a, &b)| {
                let (a, b) = (a.to_f64(), b.to_f64());
                (a - b).abs() <= atol + rtol * b.abs()
            })
    }

    /// Largest absolute elementwise difference; panics when the shapes differ.
    #[track_caller]
    pub fn max_abs_diff(&self, other: &Tensor<T>) -> f64 {
        assert!(
            self.shape == other.shape,
            "max_abs_diff: shapes {} and {} differ",
            self.shape,
            other.shape
        );
        self.data
            .iter()
            .zip(&other.data)
            .map(|(&a, &b)| (a.to_f64() - b.to_f64()).abs())
            .fold(0.0, f64::max)
    }
}

/// The element count of a tensor about to be allocated, panicking with the shape (rather
/// than with the allocator's bare "capacity overflow") when it cannot be counted or its
/// bytes exceed `isize::MAX`, the most any allocation may hold.
#[track_caller]
fn alloc_len<T>(shape: &Shape, op: &'static str) -> usize {
    let n = or_panic(shape.try_numel(op));
    let fits = n
        .checked_mul(std::mem::size_of::<T>())
        .is_some_and(|bytes| bytes <= isize::MAX as usize);
    assert!(
        fits,
        "{op}: shape {shape} has {n} elements of {} bytes, more than one allocation can hold",
        std::mem::size_of::<T>()
    );
    n
}

impl<T: Float, const N: usize> Index<[usize; N]> for Tensor<T> {
    type Output = T;
    #[track_caller]
    fn index(&self, index: [usize; N]) -> &T {
        &self.data[self.offset(&index)]
    }
}

impl<T: Float, const N: usize> IndexMut<[usize; N]> for Tensor<T> {
    #[track_caller]
    fn index_mut(&mut self, index: [usize; N]) -> &mut T {
        let o = self.offset(&index);
        &mut self.data[o]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_vec_checks_length_against_shape() {
        let err = Tensor::try_from_vec(vec![1.0f32; 5], [2, 3]).unwrap_err();
        assert!(err.to_string().contains("[2, 3]"), "{err}");
        assert!(err.to_string().contains('5'), "{err}");
    }

    #[test]
    fn constructors() {
        let e = Tensor::<f64>::eye(3);
        assert_eq!(e[[1, 1]], 1.0);
        assert_eq!(e[[1, 2]], 0.0);
        assert_eq!(Tensor::<f32>::arange(4).data(), &[0.0, 1.0, 2.0, 3.0]);
        assert_eq!(Tensor::<f32>::full([2, 2], 7.0).data(), &[7.0; 4]);
        assert_eq!(Tensor::<f32>::scalar(3.0).item(), 3.0);
    }

    #[test]
    fn reshape_and_transpose() {
        let t = Tensor::from_vec((0..6).map(|x| x as f64).collect(), [2, 3]);
        assert_eq!(t.reshape([3, 2])[[2, 1]], 5.0);
        let tt = t.transpose();
        assert_eq!(tt.dims(), &[3, 2]);
        for i in 0..2 {
            for j in 0..3 {
                assert_eq!(t[[i, j]], tt[[j, i]]);
            }
        }
        assert!(t.try_reshape([4, 2]).is_err());
    }

    #[test]
    fn transpose_large_non_square() {
        let t = Tensor::from_fn([37, 70], |i| i as f32);
        let tt = t.transpose();
        assert_eq!(tt.transpose(), t);
        assert_eq!(tt[[69, 36]], t[[36, 69]]);
    }

    #[test]
    #[should_panic(expected = "out of bounds for shape [2, 3]")]
    fn index_out_of_bounds_names_shape() {
        let t = Tensor::<f32>::zeros([2, 3]);
        let _ = t[[2, 0]];
    }
}
