//! Masking: multiply by a constant 0/1 mask (dropout, masked autoencoders) or overwrite
//! masked entries with a constant (`masked_fill`, e.g. −∞ before a softmax).
//!
//! ∂(x ⊙ m)/∂x = m · ∂masked_fill(x)/∂x = 1 where kept, 0 where filled

use ferrograd_tensor::{Float, Tensor};

use crate::Var;

impl<T: Float> Var<T> {
    /// `self ⊙ mask` for a constant mask (broadcasting like `*`).
    #[track_caller]
    pub fn mul_mask(&self, mask: &Tensor<T>) -> Var<T> {
        self * &Var::constant(mask.clone())
    }

    /// Entries where `mask` is non-zero replaced by `value`; shapes must be equal.
    #[track_caller]
    pub fn masked_fill(&self, mask: &Tensor<T>, value: T) -> Var<T> {
        let x = self.value();
        assert!(
            x.shape() == mask.shape(),
            "masked_fill: mask {} does not match input {}",
            mask.shape(),
            x.shape()
        );
        let out = x.zip_with(
            mask,
            "masked_fill",
            |x, m| if m != T::ZERO { value } else { x },
        );
        drop(x);
        let keep = mask.map(|m| if m != T::ZERO { T::ZERO } else { T::ONE });
        Var::from_op("masked_fill", out, &[self], move |ctx, sink| {
            sink.add(0, ctx.grad_out * &keep)
        })
    }

    /// A constant one-hot matrix `[indices.len(), classes]` (no gradient: indices are not
    /// differentiable).
    #[track_caller]
    pub fn one_hot(indices: &[usize], classes: usize) -> Var<T> {
        Var::constant(Tensor::one_hot(indices, classes))
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::test_util::randn;
    use crate::{assert_gradcheck, Var};
    use ferrograd_tensor::Tensor;

    #[test]
    fn gradcheck_masks() {
        let x = randn(&[3, 4], 111);
        let mask = Tensor::from_fn([3, 4], |i| if i % 3 == 0 { 1.0 } else { 0.0 });
        let m2 = mask.clone();
        assert_gradcheck(
            "mul_mask",
            move |v| v[0].mul_mask(&mask),
            std::slice::from_ref(&x),
        );
        assert_gradcheck(
            "masked_fill",
            move |v| v[0].masked_fill(&m2, -7.0).square(),
            &[x],
        );
    }

    #[test]
    fn masked_entries_get_no_gradient() {
        let x = Var::leaf(Tensor::from_vec(vec![1.0, 2.0], [2]));
        let mask = Tensor::from_vec(vec![1.0, 0.0], [2]);
        let y = x.masked_fill(&mask, f64::NEG_INFINITY);
        assert_eq!(y.value().data()[0], f64::NEG_INFINITY);
        let g = x.masked_fill(&mask, 0.0).sum().backward();
        assert_eq!(g.get(&x).unwrap().data(), &[0.0, 1.0]);
        let oh = Var::<f64>::one_hot(&[1], 3);
        assert!(!oh.requires_grad());
    }
}
