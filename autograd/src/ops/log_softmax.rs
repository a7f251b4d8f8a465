//! Log-softmax over the last axis, y = x − max − ln Σe^(x−max) per row.
//!
//! ∂L/∂x = G − softmax(x) · Σ_row G, with softmax(x) = eʸ (kept from forward).

use ferrograd_tensor::{Float, Tensor};

use crate::Var;

impl<T: Float> Var<T> {
    /// Numerically stable log-softmax over the last axis.
    pub fn log_softmax(&self) -> Var<T> {
        // The forward pass computes softmax(x) on the way (one exp per element); keeping
        // it costs one tensor of memory and saves backward from exponentiating y again.
        let (value, softmax) = self.value().log_softmax_and_softmax();
        Var::from_op("log_softmax", value, &[self], move |ctx, sink| {
            let n = softmax.dims().last().copied().unwrap_or(1).max(1);
            let mut grad = Vec::with_capacity(softmax.numel());
            for (pr, gr) in softmax
                .data()
                .chunks_exact(n)
                .zip(ctx.grad_out.data().chunks_exact(n))
            {
                let total: T = gr.iter().copied().sum();
                grad.extend(pr.iter().zip(gr).map(|(&p, &g)| g - p * total));
            }
            sink.add(0, Tensor::from_vec(grad, softmax.shape()));
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::assert_gradcheck;
    use crate::ops::test_util::randn;

    #[test]
    fn gradcheck_log_softmax() {
        assert_gradcheck("log_softmax", |v| v[0].log_softmax(), &[randn(&[4, 7], 81)]);
        assert_gradcheck(
            "log_softmax large logits",
            |v| v[0].log_softmax(),
            &[randn(&[2, 3], 82).scale(50.0)],
        );
    }
}
