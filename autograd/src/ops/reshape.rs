//! Reshape: the same elements under another shape. ∂L/∂x = reshape(G, shape(x))

use ferrograd_tensor::{Float, Shape};

use crate::Var;

impl<T: Float> Var<T> {
    /// The same data under `shape` (same number of elements); panics with both shapes.
    #[track_caller]
    pub fn reshape(&self, shape: impl Into<Shape>) -> Var<T> {
        let value = self.value().reshape(shape);
        let in_shape = self.shape();
        Var::from_op("reshape", value, &[self], move |ctx, sink| {
            sink.add(0, ctx.grad_out.reshape(in_shape.clone()))
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::assert_gradcheck;
    use crate::ops::test_util::randn;

    #[test]
    fn gradcheck_reshape() {
        assert_gradcheck(
            "reshape",
            |v| v[0].reshape([4, 3]).square(),
            &[randn(&[3, 4], 41)],
        );
    }
}
