//! Mean squared error, `nn.MSELoss`: L = reduce((x − y)²).
//!
//! ∂L/∂x = 2(x − y)·s and ∂L/∂y = −2(x − y)·s, with s = 1/numel for `Mean`, 1 for `Sum`.

use ferrograd_tensor::{scaled_difference, sum_squared_difference, Float, Tensor};

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
        let sq = sum_squared_difference(x.data(), y.data());
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
                let diff = Tensor::from_vec(scaled_difference(x.data(), y.data(), k), x.shape());
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
    use crate::ops::test_util::randn;
    use crate::{assert_gradcheck, Var};

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

    /// The gradient follows the upstream ∂L/∂L (here 3, the loss scaled after it), to the
    /// op's own rounding, and a retained graph walked twice gives it twice.
    #[test]
    fn gradient_is_right_when_the_loss_is_not_the_root_or_is_walked_twice() {
        let (x, y) = (randn(&[3, 70], 123), randn(&[3, 70], 124));
        // The op's own rounding: k = 2s·∂L/∂L with s = 1/210, then (x − y)·k.
        let expected = |g: f64| {
            let k = 2.0 * (1.0 / 210.0) * g;
            x.zip_with(&y, "expected", |a, b| (a - b) * k)
        };
        let (xv, yv) = (Var::leaf(x.clone()), Var::leaf(y.clone()));
        let scaled = xv.mse_loss(&yv, Reduction::Mean).scale(3.0).backward();
        assert_eq!(scaled.get(&xv).unwrap().data(), expected(3.0).data());
        assert_eq!(scaled.get(&yv).unwrap().data(), (-&expected(3.0)).data());
        let loss = xv.mse_loss(&yv, Reduction::Mean);
        let first = loss.backward_retain_graph();
        let second = loss.backward_retain_graph();
        assert_eq!(first.get(&xv).unwrap().data(), expected(1.0).data());
        assert_eq!(second.get(&xv).unwrap().data(), expected(1.0).data());
    }
}
