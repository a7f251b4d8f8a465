//! Cross-entropy from logits with integer targets, `nn.CrossEntropyLoss()` (mean):
//! L = −(1/B) Σᵢ log softmax(xᵢ)[tᵢ].
//!
//! ∂L/∂x = (softmax(x) − onehot(t)) / B. Fused so the forward never exponentiates an
//! unshifted logit and the backward never forms the log-softmax Jacobian.

use ferrograd_tensor::{ln_in_place, softmax_minus_onehot, Float, SoftmaxParts, Tensor};

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
        // One exp per logit and one ln per row compute everything forward and backward
        // need: e = exp(x − max) (kept), total = Σe, and the row's −log softmax(x)[t] =
        // ln(total) − (x[t] − max). Backward then needs no exp at all: softmax(x) = e / total.
        let SoftmaxParts { max, exp: e, total } = x.softmax_parts();
        let mut log_totals = total.clone();
        ln_in_place(&mut log_totals); // all rows in one call, which vectorises
        let data = x.data();
        let mut nll = T::ZERO;
        for (r, (&t, (&max, &log_total))) in
            targets.iter().zip(max.iter().zip(&log_totals)).enumerate()
        {
            // −((x[t] − max) − ln total), the same rounding as negating log_softmax's entry.
            nll += -((data[r * classes + t] - max) - log_total);
        }
        drop(x);
        let batch = T::from_usize(targets.len());
        let targets = targets.to_vec();
        Var::from_op(
            "cross_entropy",
            Tensor::scalar(nll / batch),
            &[self],
            move |ctx, sink| {
                let k = ctx.grad_out.item() / batch;
                // (softmax − onehot)·k, with softmax = e · (1/total) of each row.
                let mut g = e.clone();
                softmax_minus_onehot(&mut g, classes, &total, &targets, k);
                sink.add(0, Tensor::from_vec(g, [targets.len(), classes]));
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

    /// A logit of −inf is a class with probability 0, as in PyTorch: it adds nothing to
    /// the row's total, the loss stays finite and its gradient is 0 there.
    #[test]
    fn minus_infinity_logits_are_zero_probability() {
        let inf = f32::INFINITY;
        let x = Var::leaf(Tensor::from_vec(
            vec![0.0f32, -inf, -inf, 3.0, 1.0, -inf],
            [3, 2],
        ));
        let loss = x.cross_entropy(&[0, 1, 0]);
        assert_eq!(loss.item(), 0.0);
        let g = loss.backward();
        assert_eq!(g.get(&x).unwrap().data(), [0.0; 6]);
        // The target at −inf: infinitely wrong, as PyTorch's inf.
        assert_eq!(x.cross_entropy(&[1, 1, 0]).item(), inf);
    }
}
