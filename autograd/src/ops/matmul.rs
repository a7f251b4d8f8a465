//! Matrix product with optional transposes, C = op(A) · op(B).
//!
//! ∂L/∂op(A) = G · op(B)ᵀ and ∂L/∂op(B) = op(A)ᵀ · G, transposed back when the operand
//! itself was transposed. Each is one GEMM call on strided views, accumulating with
//! beta = 1 into an existing gradient — no transpose or temporary is materialised.

use ferrograd_tensor::Float;

use crate::Var;

impl<T: Float> Var<T> {
    /// The matrix product `self @ rhs`.
    #[track_caller]
    pub fn matmul(&self, rhs: &Var<T>) -> Var<T> {
        self.matmul_t(false, rhs, false)
    }

    /// `op(self) @ op(rhs)`, where `op` transposes when the flag is set
    /// (e.g. `q.matmul_t(false, &k, true)` is q kᵀ).
    #[track_caller]
    pub fn matmul_t(&self, trans_a: bool, rhs: &Var<T>, trans_b: bool) -> Var<T> {
        let value = self.value().matmul_t(trans_a, &rhs.value(), trans_b);
        Var::from_op("matmul", value, &[self, rhs], move |ctx, sink| {
            let (a, b) = (ctx.input(0), ctx.input(1));
            let g = ctx.grad_out.as_mat(false);
            let op_a = a.as_mat(trans_a);
            let op_b = b.as_mat(trans_b);
            if sink.wants(0) {
                if trans_a {
                    // A = op(A)ᵀ, so ∂A = (G op(B)ᵀ)ᵀ = op(B) Gᵀ
                    sink.add_matmul(0, T::ONE, op_b, g.t());
                } else {
                    sink.add_matmul(0, T::ONE, g, op_b.t());
                }
            }
            if sink.wants(1) {
                if trans_b {
                    // ∂B = (op(A)ᵀ G)ᵀ = Gᵀ op(A)
                    sink.add_matmul(1, T::ONE, g.t(), op_a);
                } else {
                    sink.add_matmul(1, T::ONE, op_a.t(), g);
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::assert_gradcheck;
    use crate::ops::test_util::randn;

    #[test]
    fn gradcheck_all_transpose_combinations() {
        let (m, k, n) = (7, 13, 5);
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = randn(&(if ta { [k, m] } else { [m, k] }), 21);
            let b = randn(&(if tb { [n, k] } else { [k, n] }), 22);
            assert_gradcheck(
                &format!("matmul ta={ta} tb={tb}"),
                |v| v[0].matmul_t(ta, &v[1], tb),
                &[a, b],
            );
        }
    }

    #[test]
    fn gradcheck_matrix_used_on_both_sides() {
        // x xᵀ: the same leaf is both operands, so both contributions must add up.
        let x = randn(&[4, 3], 23);
        assert_gradcheck("x xT", |v| v[0].matmul_t(false, &v[0], true), &[x]);
    }
}
