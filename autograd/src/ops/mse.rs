//! Mean squared error, `nn.MSELoss`: L = reduce((x − y)²).
//!
//! ∂L/∂x = 2(x − y)·s and ∂L/∂y = −2(x − y)·s, with s = 1/numel for `Mean`, 1 for `Sum`.

use ferrograd_tensor::{Float, Tensor};

use crate::Var;

/// How a loss combines per-element terms, as in PyTorch's `reduction=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Reduction {
    /// Average over every element (PyTorch's default).
    #[default]
    Mean,
    /// Sum over every element.
    Sum,
}

impl<T: Float> Var<T> {
    /// `reduce((self − target)²)`; shapes must be equal (no silent broadcasting, which
    /// in a loss is almost always a bug).
    #[track_caller]
    pub fn mse_loss(&self, target: &Var<T>, reduction: Reduction) -> Var<T> {
        let (x, y) = (self.value(), target.value());
        assert!(
            x.shape() == y.shape(),
            "mse_loss: input {} and target {} must have the same shape",
            x.shape(),
            y.shape()
        );
        let sq = sum_squared_difference(x.data(), y.data());
        let scale = match reduction {
            Reduction::Mean => T::ONE / T::from_usize(x.numel()),
            Reduction::Sum => T::ONE,
        };
        drop((x, y));
        Var::from_op(
            "mse_loss",
            Tensor::scalar(sq * scale),
            &[self, target],
            move |ctx, sink| {
                let (x, y) = (ctx.input(0), ctx.input(1));
                let k = (T::ONE + T::ONE) * scale * ctx.grad_out.item();
                let diff = x.zip_with(&y, "mse_backward", |a, b| (a - b) * k);
                if sink.wants(1) {
                    sink.add(1, -&diff);
                }
                sink.add(0, diff);
            },
        )
    }
}

/// Σ (aᵢ − bᵢ)², accumulated in 8 interleaved partial sums.
///
/// A single running sum is a chain of dependent adds that the compiler may not reorder
/// (float addition is not associative), so it runs one element per add latency. Eight
/// independent sums fill the SIMD lanes and pipeline, and each stays 8× shorter, so the
/// rounding error grows more slowly too (PyTorch also sums in vectorised blocks).
fn sum_squared_difference<T: Float>(a: &[T], b: &[T]) -> T {
    const LANES: usize = 8;
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: T = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(&x, &y)| (x - y) * (x - y))
        .sum();
    let mut acc = [T::ZERO; LANES];
    for (xa, xb) in ca.zip(cb) {
        for i in 0..LANES {
            let d = xa[i] - xb[i];
            acc[i] += d * d;
        }
    }
    acc.iter().copied().sum::<T>() + tail
}

#[cfg(test)]
mod tests {
    use super::Reduction;
    use crate::assert_gradcheck;
    use crate::ops::test_util::randn;

    #[test]
    fn gradcheck_both_reductions_and_both_inputs() {
        let (x, y) = (randn(&[4, 6], 121), randn(&[4, 6], 122));
        assert_gradcheck(
            "mse mean",
            |v| v[0].mse_loss(&v[1], Reduction::Mean),
            &[x.clone(), y.clone()],
        );
        assert_gradcheck("mse sum", |v| v[0].mse_loss(&v[1], Reduction::Sum), &[x, y]);
    }

    #[test]
    fn lane_sum_matches_the_plain_sum() {
        for n in [0, 1, 7, 8, 9, 100, 1003] {
            let a: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
            let b: Vec<f64> = (0..n).map(|i| (i as f64 * 0.11).cos()).collect();
            let plain: f64 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
            let lanes = super::sum_squared_difference(&a, &b);
            assert!((plain - lanes).abs() <= 1e-12 * plain.max(1.0), "n={n}");
        }
    }
}
