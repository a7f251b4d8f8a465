//! Elementwise functions of one input. Each is its forward `f` and its derivative `df`
//! side by side; the derivative is written in terms of the input `x` or, where cheaper,
//! the output `y` (exp, sigmoid, tanh, sqrt reuse the value forward already computed).

use ferrograd_tensor::{Float, Tensor};

use crate::Var;

impl<T: Float> Var<T> {
    // ANCHOR: unary
    /// Records `y = f(x)` whose backward is `grad_out ⊙ df(x, y)`.
    fn unary(
        &self,
        op: &'static str,
        f: impl Fn(T) -> T,
        df: impl Fn(T, T) -> T + 'static,
    ) -> Var<T> {
        let value = self.value().map(f);
        Var::from_op(op, value, &[self], move |ctx, sink| {
            let x = ctx.input(0);
            // Zipped slices rather than indexing: no bounds checks, so the loop vectorises.
            let grad = ctx
                .grad_out
                .data()
                .iter()
                .zip(x.data())
                .zip(ctx.output.data())
                .map(|((&g, &x), &y)| g * df(x, y))
                .collect();
            sink.add(0, Tensor::from_vec(grad, x.shape()));
        })
    }
    // ANCHOR_END: unary

    /// e^x. d/dx = e^x = y
    pub fn exp(&self) -> Var<T> {
        self.unary("exp", T::exp, |_, y| y)
    }

    /// ln x. d/dx = 1/x
    pub fn ln(&self) -> Var<T> {
        self.unary("ln", T::ln, |x, _| T::ONE / x)
    }

    /// √x. d/dx = 1/(2√x) = 1/(2y)
    pub fn sqrt(&self) -> Var<T> {
        self.unary("sqrt", T::sqrt, |_, y| T::ONE / (y + y))
    }

    /// x². d/dx = 2x
    pub fn square(&self) -> Var<T> {
        self.unary("square", |x| x * x, |x, _| x + x)
    }

    /// xⁿ. d/dx = n·xⁿ⁻¹
    pub fn powi(&self, n: i32) -> Var<T> {
        let nf = T::from_f64(n as f64);
        self.unary("powi", move |x| x.powi(n), move |x, _| nf * x.powi(n - 1))
    }

    // ANCHOR: relu
    /// max(x, 0). d/dx = 1 if x > 0 else 0
    ///
    /// NOTE: at exactly x = 0 the derivative is taken as 0, like PyTorch.
    pub fn relu(&self) -> Var<T> {
        self.unary(
            "relu",
            |x| if x < T::ZERO { T::ZERO } else { x },
            |x, _| if x > T::ZERO { T::ONE } else { T::ZERO },
        )
    }
    // ANCHOR_END: relu

    /// 1/(1+e⁻ˣ). d/dx = y(1−y)
    pub fn sigmoid(&self) -> Var<T> {
        let value = self.value().sigmoid();
        Var::from_op("sigmoid", value, &[self], |ctx, sink| {
            let grad = ctx
                .grad_out
                .zip_with(ctx.output, "sigmoid_backward", |g, y| g * y * (T::ONE - y));
            sink.add(0, grad);
        })
    }

    /// tanh x. d/dx = 1 − y²
    pub fn tanh(&self) -> Var<T> {
        self.unary("tanh", T::tanh, |_, y| T::ONE - y * y)
    }

    /// |x|. d/dx = sign(x) (0 at 0)
    pub fn abs(&self) -> Var<T> {
        self.unary("abs", T::abs, |x, _| {
            if x > T::ZERO {
                T::ONE
            } else if x < T::ZERO {
                -T::ONE
            } else {
                T::ZERO
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::test_util::{randn, uniform};
    use crate::{assert_gradcheck, Var};
    use ferrograd_tensor::Tensor;

    #[test]
    fn gradcheck_each_elementwise_op() {
        let x = randn(&[3, 4], 11);
        let pos = uniform(&[3, 4], 0.2, 3.0, 12);
        // Keep relu and abs inputs away from the kink at 0.
        let away = x.map(|v| if v.abs() < 0.1 { v + 0.3 } else { v });
        assert_gradcheck("exp", |v| v[0].exp(), std::slice::from_ref(&x));
        assert_gradcheck("ln", |v| v[0].ln(), std::slice::from_ref(&pos));
        assert_gradcheck("sqrt", |v| v[0].sqrt(), std::slice::from_ref(&pos));
        assert_gradcheck("square", |v| v[0].square(), std::slice::from_ref(&x));
        assert_gradcheck("powi3", |v| v[0].powi(3), std::slice::from_ref(&x));
        assert_gradcheck("relu", |v| v[0].relu(), std::slice::from_ref(&away));
        assert_gradcheck("sigmoid", |v| v[0].sigmoid(), std::slice::from_ref(&x));
        assert_gradcheck("tanh", |v| v[0].tanh(), std::slice::from_ref(&x));
        assert_gradcheck("abs", |v| v[0].abs(), &[away]);
    }

    // ANCHOR: relu_test
    #[test]
    fn relu_gradient_at_zero_is_zero() {
        let x = Var::leaf(Tensor::from_vec(vec![-1.0, 0.0, 2.0], [3]));
        let g = x.relu().sum().backward();
        assert_eq!(g.get(&x).unwrap().data(), &[0.0, 0.0, 1.0]);
    }
    // ANCHOR_END: relu_test
}
