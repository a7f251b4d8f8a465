//! Softmax over the last axis, y = eˣ / Σeˣ per row.
//!
//! ∂L/∂x = y ⊙ (G − Σ_row(G ⊙ y)): the Jacobian diag(y) − y yᵀ applied to G without
//! forming it.

use ferrograd_tensor::{Float, Tensor};

use crate::Var;

impl<T: Float> Var<T> {
    /// Numerically stable softmax over the last axis.
    pub fn softmax(&self) -> Var<T> {
        let value = self.value().softmax();
        Var::from_op("softmax", value, &[self], |ctx, sink| {
            let y = ctx.output;
            let n = y.dims().last().copied().unwrap_or(1).max(1);
            let mut grad = Vec::with_capacity(y.numel());
            for (yr, gr) in y
                .data()
                .chunks_exact(n)
                .zip(ctx.grad_out.data().chunks_exact(n))
            {
                let dot: T = yr.iter().zip(gr).map(|(&y, &g)| y * g).sum();
                grad.extend(yr.iter().zip(gr).map(|(&y, &g)| y * (g - dot)));
            }
            sink.add(0, Tensor::from_vec(grad, y.shape()));
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::assert_gradcheck;
    use crate::ops::test_util::randn;

    #[test]
    fn gradcheck_softmax() {
        assert_gradcheck("softmax", |v| v[0].softmax(), &[randn(&[4, 7], 71)]);
        assert_gradcheck(
            "softmax large logits",
            |v| v[0].softmax(),
            &[randn(&[2, 3], 72).scale(30.0)],
        );
    }
}
