//! Sums and means, over everything or one axis.
//!
//! ∂(Σx)/∂x = 1 · ∂(mean x)/∂x = 1/n; along an axis the gradient of each output is
//! broadcast back over the axis it summed.

use ferrograd_tensor::{Float, Tensor};

use crate::Var;

impl<T: Float> Var<T> {
    /// Σ of all elements, as a scalar.
    pub fn sum(&self) -> Var<T> {
        let value = Tensor::scalar(self.value().sum());
        Var::from_op("sum", value, &[self], |ctx, sink| {
            let g = ctx.grad_out.item();
            sink.add(0, Tensor::full(ctx.input(0).shape(), g));
        })
    }

    /// Mean of all elements, as a scalar.
    pub fn mean(&self) -> Var<T> {
        let n = T::from_usize(self.value().numel());
        self.sum().scale(T::ONE / n)
    }

    /// Σ along `axis`; the axis is kept with size 1 if `keepdim`.
    #[track_caller]
    pub fn sum_axis(&self, axis: usize, keepdim: bool) -> Var<T> {
        let value = self.value().sum_axis(axis, keepdim);
        Var::from_op("sum_axis", value, &[self], move |ctx, sink| {
            // Re-insert the summed axis as size 1; the sink broadcasts it back.
            let mut dims = ctx.input(0).dims().to_vec();
            dims[axis] = 1;
            let g = ctx.grad_out.reshape(dims);
            let ones = Tensor::ones(ctx.input(0).shape());
            sink.add(0, &ones * &g);
        })
    }

    /// Mean along `axis`.
    #[track_caller]
    pub fn mean_axis(&self, axis: usize, keepdim: bool) -> Var<T> {
        let n = T::from_usize(self.value().dims()[axis]);
        self.sum_axis(axis, keepdim).scale(T::ONE / n)
    }
}

#[cfg(test)]
mod tests {
    use crate::assert_gradcheck;
    use crate::ops::test_util::randn;

    #[test]
    fn gradcheck_sums_and_means() {
        let x = randn(&[3, 4], 51);
        assert_gradcheck("sum", |v| v[0].sum(), std::slice::from_ref(&x));
        assert_gradcheck("mean", |v| v[0].mean(), std::slice::from_ref(&x));
        for axis in 0..2 {
            for keepdim in [false, true] {
                assert_gradcheck(
                    "sum_axis",
                    |v| v[0].sum_axis(axis, keepdim),
                    std::slice::from_ref(&x),
                );
                assert_gradcheck(
                    "mean_axis",
                    |v| v[0].mean_axis(axis, keepdim),
                    std::slice::from_ref(&x),
                );
            }
        }
        let x3 = randn(&[2, 3, 4], 52);
        assert_gradcheck("sum_axis rank 3", |v| v[0].sum_axis(1, false), &[x3]);
    }
}
