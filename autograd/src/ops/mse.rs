//! Mean squared error, `nn.MSELoss`: L = reduce((x − y)²).
//!
//! ∂L/∂x = 2(x − y)·s and ∂L/∂y = −2(x − y)·s, with s = 1/numel for `Mean`, 1 for `Sum`.

use ferrograd_tensor::{Float, Tensor};

use crate::Var;

/// How a loss combines per-element terms, as in PyTorch's `reduction=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Reduction {
    /// Average over every element (PyTorch's default).
    #[default]
    Mean,
    /// Sum over every element.
    Sum,
}

impl<T: Float> Var<T> {
    /// `reduce((self − target)²)`; shapes must be equal (no silent broadcasting, which
    /// in a loss is almost always a bug).
    #[track_caller]
    pub fn mse_loss(&self, target: &Var<T>, reduction: Reduction) -> Var<T> {
        let (x, y) = (self.value(), target.value());
        assert!(
            x.shape() == y.shape(),
            "mse_loss: input {} and target {} must have the same shape",
            x.shape(),
            y.shape()
        );
        let sq: T = x
            .data()
            .iter()
            .zip(y.data())
            .map(|(&a, &b)| (a - b) * (a - b))
            .sum();
        let scale = match reduction {
            Reduction::Mean => T::ONE / T::from_usize(x.numel()),
            Reduction::Sum => T::ONE,
        };
        drop((x, y));
        Var::from_op(
            "mse_loss",
            Tensor::scalar(sq * scale),
            &[self, target],
            move |ctx, sink| {
                let (x, y) = (ctx.input(0), ctx.input(1));
                let k = (T::ONE + T::ONE) * scale * ctx.grad_out.item();
                let diff = x.zip_with(&y, "mse_backward", |a, b| (a - b) * k);
                if sink.wants(1) {
                    sink.add(1, -&diff);
                }
                sink.add(0, diff);
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Reduction;
    use crate::assert_gradcheck;
    use crate::ops::test_util::randn;

    #[test]
    fn gradcheck_both_reductions_and_both_inputs() {
        let (x, y) = (randn(&[4, 6], 121), randn(&[4, 6], 122));
        assert_gradcheck(
            "mse mean",
            |v| v[0].mse_loss(&v[1], Reduction::Mean),
            &[x.clone(), y.clone()],
        );
        assert_gradcheck("mse sum", |v| v[0].mse_loss(&v[1], Reduction::Sum), &[x, y]);
    }
}
