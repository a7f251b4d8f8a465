//! Concatenation along an axis. Each input's gradient is its slice of G.

use ferrograd_tensor::{Float, Tensor};

use crate::Var;

impl<T: Float> Var<T> {
    /// Joins `vars` along `axis`; other dimensions must agree (panics with the shapes).
    #[track_caller]
    pub fn concat(vars: &[&Var<T>], axis: usize) -> Var<T> {
        let values: Vec<_> = vars.iter().map(|v| v.value()).collect();
        let refs: Vec<&Tensor<T>> = values.iter().map(|v| &**v).collect();
        let value = Tensor::concat(&refs, axis);
        let sizes: Vec<usize> = refs.iter().map(|t| t.dims()[axis]).collect();
        drop(values);
        Var::from_op("concat", value, vars, move |ctx, sink| {
            let mut start = 0;
            for (i, &len) in sizes.iter().enumerate() {
                if sink.wants(i) {
                    sink.add(i, ctx.grad_out.narrow(axis, start, start + len));
                }
                start += len;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::test_util::randn;
    use crate::{assert_gradcheck, Var};

    #[test]
    fn gradcheck_concat_both_axes() {
        let (a, b) = (randn(&[2, 3], 101), randn(&[2, 2], 102));
        assert_gradcheck(
            "concat axis 1",
            |v| Var::concat(&[&v[0], &v[1]], 1),
            &[a.clone(), b],
        );
        let c = randn(&[1, 3], 103);
        assert_gradcheck(
            "concat axis 0",
            |v| Var::concat(&[&v[0], &v[1], &v[0]], 0),
            &[a, c],
        );
    }
}
