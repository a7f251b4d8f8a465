//! Gathering: whole rows (`index_select(0, idx)`, an embedding lookup) or one element per
//! row (`gather(1, idx)`, how a loss picks each sample's target).
//!
//! Backward scatters G back to the positions read, adding where an index repeats.

use ferrograd_tensor::{Float, Tensor};

use crate::Var;

impl<T: Float> Var<T> {
    /// Rows `indices` of a matrix, in order; repeats allowed.
    #[track_caller]
    pub fn index_select_rows(&self, indices: &[usize]) -> Var<T> {
        let value = self.value().index_select_rows(indices);
        let indices = indices.to_vec();
        Var::from_op("index_select_rows", value, &[self], move |ctx, sink| {
            let mut g = ctx.input(0).zeros_like();
            let n = g.cols();
            for (r, &i) in indices.iter().enumerate() {
                let src = &ctx.grad_out.data()[r * n..(r + 1) * n];
                for (d, &s) in g.data_mut()[i * n..(i + 1) * n].iter_mut().zip(src) {
                    *d += s;
                }
            }
            sink.add(0, g);
        })
    }

    /// `out[i] = self[i, indices[i]]` for a matrix: one element per row, shape `[rows]`.
    #[track_caller]
    pub fn gather_cols(&self, indices: &[usize]) -> Var<T> {
        let x = self.value();
        assert!(
            x.rank() == 2 && indices.len() == x.rows(),
            "gather_cols: {} indices for a tensor of shape {} (expected one per row)",
            indices.len(),
            x.shape()
        );
        let n = x.cols();
        let data = indices
            .iter()
            .enumerate()
            .map(|(r, &c)| {
                assert!(
                    c < n,
                    "gather_cols: column {c} is out of range for shape {}",
                    x.shape()
                );
                x.data()[r * n + c]
            })
            .collect();
        drop(x);
        let value = Tensor::from_vec(data, [indices.len()]);
        let indices = indices.to_vec();
        Var::from_op("gather_cols", value, &[self], move |ctx, sink| {
            let mut g = ctx.input(0).zeros_like();
            let n = g.cols();
            for (r, &c) in indices.iter().enumerate() {
                g.data_mut()[r * n + c] += ctx.grad_out.data()[r];
            }
            sink.add(0, g);
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::assert_gradcheck;
    use crate::ops::test_util::randn;

    #[test]
    fn gradcheck_row_select_with_repeats_and_gather() {
        let x = randn(&[4, 3], 91);
        assert_gradcheck(
            "index_select_rows",
            |v| v[0].index_select_rows(&[2, 0, 2, 3]),
            std::slice::from_ref(&x),
        );
        assert_gradcheck("gather_cols", |v| v[0].gather_cols(&[2, 0, 1, 1]), &[x]);
    }
}
