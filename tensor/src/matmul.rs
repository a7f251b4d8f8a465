//! Matrix products of tensors, on top of [`gemm`](crate::gemm::gemm).

use crate::gemm::{gemm, MatMut, MatRef};
use crate::{Float, Tensor};

impl<T: Float> Tensor<T> {
    /// A read-only GEMM view of a matrix, transposed if `transpose`.
    #[track_caller]
    pub fn as_mat(&self, transpose: bool) -> MatRef<'_, T> {
        self.expect_matrix("as_mat");
        let m = MatRef::new(self.data(), self.rows(), self.cols());
        if transpose {
            m.t()
        } else {
            m
        }
    }

    /// A mutable GEMM view of a matrix.
    #[track_caller]
    pub fn as_mat_mut(&mut self) -> MatMut<'_, T> {
        self.expect_matrix("as_mat_mut");
        let (r, c) = (self.rows(), self.cols());
        MatMut::new(self.data_mut(), r, c)
    }

    /// The matrix product `self @ rhs`.
    #[track_caller]
    pub fn matmul(&self, rhs: &Tensor<T>) -> Tensor<T> {
        self.matmul_t(false, rhs, false)
    }

    /// `op(self) @ op(rhs)` where `op` transposes when its flag is set — without copying
    /// either operand.
    #[track_caller]
    pub fn matmul_t(&self, trans_self: bool, rhs: &Tensor<T>, trans_rhs: bool) -> Tensor<T> {
        assert!(
            self.rank() == 2 && rhs.rank() == 2,
            "matmul: expected two matrices, got shapes {} and {}",
            self.shape(),
            rhs.shape()
        );
        let a = self.as_mat(trans_self);
        let b = rhs.as_mat(trans_rhs);
        assert!(
            a.cols == b.rows,
            "matmul: shapes {}{} and {}{} are incompatible (inner dimensions {} and {})",
            self.shape(),
            if trans_self { "ᵀ" } else { "" },
            rhs.shape(),
            if trans_rhs { "ᵀ" } else { "" },
            a.cols,
            b.rows
        );
        let mut out = Tensor::zeros([a.rows, b.cols]);
        gemm(T::ONE, a, b, T::ZERO, out.as_mat_mut());
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn small_product_and_transposes() {
        let a = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3]);
        let b = Tensor::from_vec(vec![1.0f64, 0.0, 0.0, 1.0, 1.0, 1.0], [3, 2]);
        assert_eq!(a.matmul(&b).data(), &[4.0, 5.0, 10.0, 11.0]);
        let at = a.transpose();
        assert_eq!(at.matmul_t(true, &b, false), a.matmul(&b));
        assert_eq!(a.matmul_t(false, &b.transpose(), true), a.matmul(&b));
    }

    #[test]
    #[should_panic(expected = "matmul: shapes [2, 3] and [2, 3] are incompatible")]
    fn mismatch_names_shapes() {
        let a = Tensor::<f32>::zeros([2, 3]);
        let _ = a.matmul(&a);
    }
}
