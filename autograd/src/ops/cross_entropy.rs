//! Cross-entropy from logits with integer targets, `nn.CrossEntropyLoss()` (mean):
//! L = −(1/B) Σᵢ log softmax(xᵢ)[tᵢ].
//!
//! ∂L/∂x = (softmax(x) − onehot(t)) / B. Fused so the forward never exponentiates an
//! unshifted logit and the backward never forms the log-softmax Jacobian.

use ferrograd_tensor::{Float, Tensor};

use crate::Var;

impl<T: Float> Var<T> {
    /// Mean cross-entropy of `self` (logits, [batch, classes]) against class indices.
    #[track_caller]
    pub fn cross_entropy(&self, targets: &[usize]) -> Var<T> {
        let x = self.value();
        assert!(
            x.rank() == 2 && x.rows() == targets.len(),
            "cross_entropy: logits {} need one target per row, got {} targets",
            x.shape(),
            targets.len()
        );
        let classes = x.cols();
        if let Some(&bad) = targets.iter().find(|&&t| t >= classes) {
            panic!("cross_entropy: target {bad} is out of range for {classes} classes");
        }
        let log_p = x.log_softmax();
        drop(x);
        let batch = T::from_usize(targets.len());
        let nll: T = targets
            .iter()
            .enumerate()
            .map(|(r, &t)| -log_p.data()[r * classes + t])
            .sum();
        let targets = targets.to_vec();
        Var::from_op(
            "cross_entropy",
            Tensor::scalar(nll / batch),
            &[self],
            move |ctx, sink| {
                let k = ctx.grad_out.item() / batch;
                let mut g = log_p.map(|l| l.exp() * k);
                for (r, &t) in targets.iter().enumerate() {
                    g.data_mut()[r * classes + t] -= k;
                }
                sink.add(0, g);
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::test_util::randn;
    use crate::{assert_gradcheck, Var};
    use ferrograd_tensor::Tensor;

    #[test]
    fn gradcheck_cross_entropy() {
        let x = randn(&[5, 4], 131);
        assert_gradcheck(
            "cross_entropy",
            |v| v[0].cross_entropy(&[0, 3, 1, 1, 2]),
            &[x],
        );
    }

    #[test]
    fn stable_for_huge_logits() {
        let x = Var::leaf(Tensor::from_vec(vec![1000.0f32, 0.0, -1000.0, 0.0], [2, 2]));
        let loss = x.cross_entropy(&[1, 0]);
        assert!(loss.item().is_finite());
        assert!((loss.item() - 1000.0).abs() < 1e-3, "{}", loss.item());
        let g = loss.backward();
        assert!(g.get(&x).unwrap().data().iter().all(|v| v.is_finite()));
    }
}
