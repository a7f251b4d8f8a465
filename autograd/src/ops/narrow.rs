//! A slice `[start, end)` of one axis (`torch.narrow`). ∂L/∂x is G placed back at the
//! slice's position, zeros elsewhere — the inverse of [`concat`](crate::Var::concat).

use ferrograd_tensor::{Float, Tensor};

use crate::Var;

impl<T: Float> Var<T> {
    /// Elements `start..end` along `axis`; panics with the shape when out of bounds.
    #[track_caller]
    pub fn narrow(&self, axis: usize, start: usize, end: usize) -> Var<T> {
        let value = self.value().narrow(axis, start, end);
        Var::from_op("narrow", value, &[self], move |ctx, sink| {
            let x = ctx.input(0);
            let dims = x.dims();
            let len = dims[axis];
            let pieces: Vec<Tensor<T>> = [(0, start), (end, len)]
                .iter()
                .map(|&(a, b)| {
                    let mut d = dims.to_vec();
                    d[axis] = b - a;
                    Tensor::zeros(d)
                })
                .collect();
            let g = Tensor::concat(&[&pieces[0], ctx.grad_out, &pieces[1]], axis);
            sink.add(0, g);
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::test_util::randn;
    use crate::{assert_gradcheck, Var};

    #[test]
    fn gradcheck_narrow_on_each_axis() {
        let x = randn(&[4, 5], 141);
        assert_gradcheck(
            "narrow cols",
            |v| v[0].narrow(1, 1, 4),
            std::slice::from_ref(&x),
        );
        assert_gradcheck(
            "narrow rows",
            |v| v[0].narrow(0, 0, 1),
            std::slice::from_ref(&x),
        );
        assert_gradcheck("narrow all", |v| v[0].narrow(1, 0, 5), &[x]);
    }

    #[test]
    fn narrow_then_concat_is_identity() {
        let x = Var::leaf(randn(&[3, 6], 142));
        let parts = [x.narrow(1, 0, 2), x.narrow(1, 2, 6)];
        let y = Var::concat(&[&parts[0], &parts[1]], 1);
        assert_eq!(*y.value(), *x.value());
        let g = y.sum().backward();
        assert!(g.get(&x).unwrap().data().iter().all(|&v| v == 1.0));
    }
}
