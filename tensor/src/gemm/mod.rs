//! General matrix multiply `C = alpha * op(A) * op(B) + beta * C`.
//!
//! PLACEHOLDER: a correct naive loop with the final public API. The BLIS-style
//! implementation (packing, micro-kernels, dispatch, threading) replaces the body.

use crate::Float;

/// A read-only strided matrix view: element `(i, j)` is `data[i * row_stride + j * col_stride]`.
///
/// `t()` swaps the roles of rows and columns, which is how a transposed operand reaches
/// the GEMM: the packing routines read through the strides, so nothing is copied.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, T> {
    /// Backing storage.
    pub data: &'a [T],
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Distance in elements between vertically adjacent elements.
    pub row_stride: usize,
    /// Distance in elements between horizontally adjacent elements.
    pub col_stride: usize,
}

impl<'a, T> MatRef<'a, T> {
    /// A row-major `rows x cols` matrix stored densely in `data`.
    #[track_caller]
    pub fn new(data: &'a [T], rows: usize, cols: usize) -> Self {
        assert!(
            data.len() >= rows * cols,
            "MatRef::new: a {rows}x{cols} matrix needs {} elements, the slice has {}",
            rows * cols,
            data.len()
        );
        MatRef {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose, as a view (no copy).
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }
}

/// A mutable row-major matrix view with a leading dimension (`row_stride >= cols`).
#[derive(Debug)]
pub struct MatMut<'a, T> {
    /// Backing storage.
    pub data: &'a mut [T],
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Distance in elements between vertically adjacent elements.
    pub row_stride: usize,
}

impl<'a, T> MatMut<'a, T> {
    /// A row-major `rows x cols` matrix stored densely in `data`.
    #[track_caller]
    pub fn new(data: &'a mut [T], rows: usize, cols: usize) -> Self {
        assert!(
            data.len() >= rows * cols,
            "MatMut::new: a {rows}x{cols} matrix needs {} elements, the slice has {}",
            rows * cols,
            data.len()
        );
        MatMut {
            data,
            rows,
            cols,
            row_stride: cols,
        }
    }
}

/// `C = alpha * A * B + beta * C` where `A` is `m x k`, `B` is `k x n`, `C` is `m x n`.
///
/// Pass `a.t()` / `b.t()` for transposed operands. With `beta == 0`, `C` is written without
/// being read, so it may hold garbage (even NaN) on entry, as in BLAS.
///
/// Panics if the shapes do not fit, naming all three.
#[track_caller]
pub fn gemm<T: Float>(alpha: T, a: MatRef<'_, T>, b: MatRef<'_, T>, beta: T, c: MatMut<'_, T>) {
    assert!(
        a.cols == b.rows && c.rows == a.rows && c.cols == b.cols,
        "gemm: A is {}x{}, B is {}x{}, C is {}x{}: need A.cols == B.rows and C = A.rows x B.cols",
        a.rows,
        a.cols,
        b.rows,
        b.cols,
        c.rows,
        c.cols
    );
    for i in 0..c.rows {
        for j in 0..c.cols {
            let mut acc = T::ZERO;
            for p in 0..a.cols {
                acc += a.data[i * a.row_stride + p * a.col_stride]
                    * b.data[p * b.row_stride + j * b.col_stride];
            }
            let dst = &mut c.data[i * c.row_stride + j];
            *dst = if beta == T::ZERO {
                alpha * acc
            } else {
                alpha * acc + beta * *dst
            };
        }
    }
}
