//! `+ − × ÷` with broadcasting, negation, and scalar forms, as operators on `&Var`.
//!
//! d(a+b) = da + db · d(a−b) = da − db · d(ab) = b·da + a·db · d(a/b) = da/b − a·db/b²

use std::ops::{Add, Div, Mul, Neg, Sub};

use ferrograd_tensor::Float;

use crate::Var;

impl<T: Float> Var<T> {
    /// `self + rhs` with broadcasting; panics with both shapes when they don't broadcast.
    #[track_caller]
    fn add_var(&self, rhs: &Var<T>) -> Var<T> {
        let value = &*self.value() + &*rhs.value();
        Var::from_op("add", value, &[self, rhs], |ctx, sink| {
            if sink.wants(0) {
                sink.add(0, ctx.grad_out.clone());
            }
            if sink.wants(1) {
                sink.add(1, ctx.grad_out.clone());
            }
        })
    }

    #[track_caller]
    fn sub_var(&self, rhs: &Var<T>) -> Var<T> {
        let value = &*self.value() - &*rhs.value();
        Var::from_op("sub", value, &[self, rhs], |ctx, sink| {
            if sink.wants(0) {
                sink.add(0, ctx.grad_out.clone());
            }
            if sink.wants(1) {
                sink.add(1, -ctx.grad_out);
            }
        })
    }

    // ANCHOR: mul
    #[track_caller]
    fn mul_var(&self, rhs: &Var<T>) -> Var<T> {
        let value = &*self.value() * &*rhs.value();
        Var::from_op("mul", value, &[self, rhs], |ctx, sink| {
            if sink.wants(0) {
                sink.add(0, ctx.grad_out * &*ctx.input(1));
            }
            if sink.wants(1) {
                sink.add(1, ctx.grad_out * &*ctx.input(0));
            }
        })
    }
    // ANCHOR_END: mul

    #[track_caller]
    fn div_var(&self, rhs: &Var<T>) -> Var<T> {
        let value = &*self.value() / &*rhs.value();
        Var::from_op("div", value, &[self, rhs], |ctx, sink| {
            let b = ctx.input(1);
            if sink.wants(0) {
                sink.add(0, ctx.grad_out / &*b);
            }
            if sink.wants(1) {
                // −a·g/b² = −(a/b)·g/b = −output·g/b
                let g = ctx
                    .grad_out
                    .zip_with(ctx.output, "div_backward", |g, y| -g * y);
                sink.add(1, &g / &*b);
            }
        })
    }

    /// `-self`.
    fn neg_var(&self) -> Var<T> {
        let value = -&*self.value();
        Var::from_op("neg", value, &[self], |ctx, sink| {
            sink.add(0, -ctx.grad_out)
        })
    }

    /// `s · self` for a constant `s`. d(s·x) = s·dx
    pub fn scale(&self, s: T) -> Var<T> {
        let value = self.value().scale(s);
        Var::from_op("scale", value, &[self], move |ctx, sink| {
            sink.add(0, ctx.grad_out.scale(s))
        })
    }

    /// `self + s` for a constant `s`. d(x+s) = dx
    pub fn add_scalar(&self, s: T) -> Var<T> {
        let value = self.value().add_scalar(s);
        Var::from_op("add_scalar", value, &[self], |ctx, sink| {
            sink.add(0, ctx.grad_out.clone())
        })
    }
}

macro_rules! binary_operator {
    ($trait:ident, $method:ident, $var_fn:ident, $scalar:expr) => {
        impl<T: Float> $trait<&Var<T>> for &Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: &Var<T>) -> Var<T> {
                self.$var_fn(rhs)
            }
        }
        impl<T: Float> $trait<Var<T>> for Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: Var<T>) -> Var<T> {
                (&self).$var_fn(&rhs)
            }
        }
        impl<T: Float> $trait<&Var<T>> for Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: &Var<T>) -> Var<T> {
                (&self).$var_fn(rhs)
            }
        }
        impl<T: Float> $trait<Var<T>> for &Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: Var<T>) -> Var<T> {
                self.$var_fn(&rhs)
            }
        }
        impl<T: Float> $trait<T> for &Var<T> {
            type Output = Var<T>;
            fn $method(self, rhs: T) -> Var<T> {
                #[allow(clippy::redundant_closure_call)]
                ($scalar)(self, rhs)
            }
        }
        impl<T: Float> $trait<T> for Var<T> {
            type Output = Var<T>;
            fn $method(self, rhs: T) -> Var<T> {
                #[allow(clippy::redundant_closure_call)]
                ($scalar)(&self, rhs)
            }
        }
    };
}

binary_operator!(Add, add, add_var, |x: &Var<T>, s: T| x.add_scalar(s));
binary_operator!(Sub, sub, sub_var, |x: &Var<T>, s: T| x.add_scalar(-s));
binary_operator!(Mul, mul, mul_var, |x: &Var<T>, s: T| x.scale(s));
binary_operator!(Div, div, div_var, |x: &Var<T>, s: T| x.scale(T::ONE / s));

impl<T: Float> Neg for &Var<T> {
    type Output = Var<T>;
    fn neg(self) -> Var<T> {
        self.neg_var()
    }
}

impl<T: Float> Neg for Var<T> {
    type Output = Var<T>;
    fn neg(self) -> Var<T> {
        self.neg_var()
    }
}

macro_rules! scalar_lhs {
    ($t:ty) => {
        impl Mul<&Var<$t>> for $t {
            type Output = Var<$t>;
            fn mul(self, rhs: &Var<$t>) -> Var<$t> {
                rhs.scale(self)
            }
        }
        impl Add<&Var<$t>> for $t {
            type Output = Var<$t>;
            fn add(self, rhs: &Var<$t>) -> Var<$t> {
                rhs.add_scalar(self)
            }
        }
        impl Sub<&Var<$t>> for $t {
            type Output = Var<$t>;
            fn sub(self, rhs: &Var<$t>) -> Var<$t> {
                rhs.neg_var().add_scalar(self)
            }
        }
    };
}

scalar_lhs!(f32);
scalar_lhs!(f64);

#[cfg(test)]
mod tests {
    use crate::ops::test_util::{randn, uniform};
    use crate::{assert_gradcheck, Var};
    use ferrograd_tensor::Tensor;

    #[test]
    fn gradcheck_add_sub_mul_div_same_shape() {
        let (x, y) = (randn(&[3, 5], 1), uniform(&[3, 5], 0.5, 2.0, 2));
        assert_gradcheck("add", |v| &v[0] + &v[1], &[x.clone(), y.clone()]);
        assert_gradcheck("sub", |v| &v[0] - &v[1], &[x.clone(), y.clone()]);
        assert_gradcheck("mul", |v| &v[0] * &v[1], &[x.clone(), y.clone()]);
        assert_gradcheck("div", |v| &v[0] / &v[1], &[x, y]);
    }

    // ANCHOR: mul_test
    #[test]
    fn gradcheck_broadcasting_in_both_operands() {
        let col = randn(&[4, 1], 3);
        let row = uniform(&[1, 6], 0.5, 2.0, 4);
        let bias = randn(&[6], 5);
        assert_gradcheck(
            "add col+row",
            |v| &v[0] + &v[1],
            &[col.clone(), row.clone()],
        );
        assert_gradcheck(
            "mul col*row",
            |v| &v[0] * &v[1],
            &[col.clone(), row.clone()],
        );
        assert_gradcheck("div col/row", |v| &v[0] / &v[1], &[col, row]);
        let x = randn(&[4, 6], 6);
        assert_gradcheck("add bias", |v| &v[0] + &v[1], &[x.clone(), bias.clone()]);
        assert_gradcheck("sub bias", |v| &v[1] - &v[0], &[x, bias]);
    }
    // ANCHOR_END: mul_test

    #[test]
    fn gradcheck_neg_and_scalars() {
        let x = randn(&[3, 4], 7);
        assert_gradcheck("neg", |v| -&v[0], std::slice::from_ref(&x));
        assert_gradcheck("scale", |v| &v[0] * 2.5, std::slice::from_ref(&x));
        assert_gradcheck("rscale", |v| 2.5 * &v[0], std::slice::from_ref(&x));
        assert_gradcheck("add_scalar", |v| &v[0] + 1.5, std::slice::from_ref(&x));
        assert_gradcheck("rsub", |v| 1.5 - &v[0], std::slice::from_ref(&x));
        assert_gradcheck("div_scalar", |v| &v[0] / 4.0, &[x]);
    }

    #[test]
    fn bias_gradient_sums_over_rows() {
        let x = Var::constant(Tensor::<f64>::zeros([3, 2]));
        let b = Var::leaf(Tensor::from_vec(vec![1.0, 2.0], [2]));
        let g = (&x + &b).sum().backward();
        assert_eq!(g.get(&b).unwrap().data(), &[3.0, 3.0]);
    }
}
