//! The fused affine map of `nn.Linear`: y = x Wᵀ + b, W of shape [out, in].
//!
//! ∂L/∂x = G W · ∂L/∂W = Gᵀ x · ∂L/∂b = Σ_rows G
//!
//! One op instead of matmul + add saves a temporary and a graph node per layer; the bias
//! is written into the output first and the GEMM accumulates onto it (beta = 1).

use ferrograd_tensor::{Float, Tensor};

use crate::Var;

impl<T: Float> Var<T> {
    /// `x Wᵀ + b` for `x` `[batch, in]`, `weight` `[out, in]`, optional `bias` `[out]`.
    #[track_caller]
    pub fn linear(&self, weight: &Var<T>, bias: Option<&Var<T>>) -> Var<T> {
        let x = self.value();
        let w = weight.value();
        assert!(
            x.rank() == 2 && w.rank() == 2 && x.cols() == w.cols(),
            "linear: input {} does not fit weight {} (expected input [batch, {}])",
            x.shape(),
            w.shape(),
            w.dims().get(1).copied().unwrap_or(0)
        );
        let (batch, out) = (x.rows(), w.rows());
        let mut y = match bias {
            Some(b) => {
                let b = b.value();
                assert!(
                    b.dims() == [out],
                    "linear: bias {} does not fit weight {} (expected [{out}])",
                    b.shape(),
                    w.shape()
                );
                // `repeat` doubles the filled prefix with each copy: log₂(batch) copies,
                // not one per row (a 2-class probe's bias is 2 numbers, 200 times).
                Tensor::from_vec(b.data().repeat(batch), [batch, out])
            }
            None => Tensor::zeros([batch, out]),
        };
        let beta = if bias.is_some() { T::ONE } else { T::ZERO };
        ferrograd_tensor::gemm::gemm(
            T::ONE,
            x.as_mat(false),
            w.as_mat(true),
            beta,
            y.as_mat_mut(),
        );
        drop((x, w));
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        Var::from_op("linear", y, &inputs, |ctx, sink| {
            let g = ctx.grad_out.as_mat(false);
            if sink.wants(0) {
                let w = ctx.input(1);
                sink.add_matmul(0, T::ONE, g, w.as_mat(false));
            }
            if sink.wants(1) {
                let x = ctx.input(0);
                sink.add_matmul(1, T::ONE, g.t(), x.as_mat(false));
            }
            if ctx.inputs.len() == 3 && sink.wants(2) {
                sink.add(2, ctx.grad_out.sum_axis(0, false));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::assert_gradcheck;
    use crate::ops::test_util::randn;

    #[test]
    fn gradcheck_with_and_without_bias() {
        let (x, w, b) = (randn(&[4, 5], 31), randn(&[3, 5], 32), randn(&[3], 33));
        assert_gradcheck(
            "linear",
            |v| v[0].linear(&v[1], Some(&v[2])),
            &[x.clone(), w.clone(), b],
        );
        assert_gradcheck("linear no bias", |v| v[0].linear(&v[1], None), &[x, w]);
    }

    #[test]
    fn equals_matmul_plus_bias() {
        use crate::Var;
        let (x, w, b) = (randn(&[4, 5], 34), randn(&[3, 5], 35), randn(&[3], 36));
        let fused = Var::constant(x.clone())
            .linear(&Var::constant(w.clone()), Some(&Var::constant(b.clone())));
        let composed = &x.matmul_t(false, &w, true) + &b;
        assert!(fused.value().max_abs_diff(&composed) < 1e-12);
    }

    #[test]
    #[should_panic(expected = "linear: input [4, 6] does not fit weight [3, 5]")]
    fn shape_mismatch_names_both() {
        use crate::Var;
        let x = Var::constant(randn(&[4, 6], 1));
        let w = Var::constant(randn(&[3, 5], 2));
        let _ = x.linear(&w, None);
    }
}
