//! Maxima (differentiable) and argmax (not).
//!
//! ∂(max x)/∂xᵢ = 1 at the selected element, 0 elsewhere. On ties the first maximum gets
//! the whole gradient, like `torch.max(dim)`. argmax returns indices: a step function,
//! whose derivative is 0 wherever it exists, so it ends the graph.

use ferrograd_tensor::{Float, Tensor};

use crate::Var;

impl<T: Float> Var<T> {
    /// The largest element, as a scalar.
    #[track_caller]
    pub fn max(&self) -> Var<T> {
        let x = self.value();
        let at = x.argmax();
        let value = Tensor::scalar(x.data()[at]);
        drop(x);
        Var::from_op("max", value, &[self], move |ctx, sink| {
            let mut g = ctx.input(0).zeros_like();
            g.data_mut()[at] = ctx.grad_out.item();
            sink.add(0, g);
        })
    }

    /// The maximum along `axis` (kept as size 1 if `keepdim`).
    #[track_caller]
    pub fn max_axis(&self, axis: usize, keepdim: bool) -> Var<T> {
        let x = self.value();
        let value = x.max_axis(axis, keepdim);
        let winners = x.argmax_axis(axis);
        drop(x);
        Var::from_op("max_axis", value, &[self], move |ctx, sink| {
            let x = ctx.input(0);
            let dims = x.dims();
            let (len, inner) = (dims[axis], dims[axis + 1..].iter().product::<usize>());
            let mut g = x.zeros_like();
            for (flat_out, &w) in winners.iter().enumerate() {
                let (o, i) = (flat_out / inner, flat_out % inner);
                g.data_mut()[(o * len + w) * inner + i] = ctx.grad_out.data()[flat_out];
            }
            sink.add(0, g);
        })
    }

    /// Indices of the maxima along `axis` (first on ties). Not differentiable: the result
    /// is plain indices, outside the graph.
    #[track_caller]
    pub fn argmax_axis(&self, axis: usize) -> Vec<usize> {
        self.value().argmax_axis(axis)
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::test_util::randn;
    use crate::{assert_gradcheck, Var};
    use ferrograd_tensor::Tensor;

    #[test]
    fn gradcheck_max() {
        let x = randn(&[3, 5], 61);
        assert_gradcheck("max", |v| v[0].max(), std::slice::from_ref(&x));
        assert_gradcheck(
            "max_axis 0",
            |v| v[0].max_axis(0, false),
            std::slice::from_ref(&x),
        );
        assert_gradcheck("max_axis 1", |v| v[0].max_axis(1, true), &[x]);
    }

    #[test]
    fn tie_sends_gradient_to_first_maximum() {
        let x = Var::leaf(Tensor::from_vec(vec![1.0, 3.0, 3.0], [1, 3]));
        let g = x.max_axis(1, false).sum().backward();
        assert_eq!(g.get(&x).unwrap().data(), &[0.0, 1.0, 0.0]);
        assert_eq!(x.argmax_axis(1), vec![1]);
    }
}
