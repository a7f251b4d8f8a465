//! 2-D transpose. ∂L/∂x = Gᵀ

use ferrograd_tensor::Float;

use crate::Var;

impl<T: Float> Var<T> {
    /// The transpose of a matrix (materialised; inside a product prefer
    /// [`matmul_t`](Var::matmul_t), which reads transposes without copying).
    #[track_caller]
    pub fn t(&self) -> Var<T> {
        let value = self.value().transpose();
        Var::from_op("transpose", value, &[self], |ctx, sink| {
            sink.add(0, ctx.grad_out.transpose())
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::assert_gradcheck;
    use crate::ops::test_util::randn;

    #[test]
    fn gradcheck_transpose() {
        let (x, y) = (randn(&[3, 4], 42), randn(&[4, 3], 43));
        assert_gradcheck("transpose", |v| &v[0].t() * &v[1], &[x, y]);
    }
}
