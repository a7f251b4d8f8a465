//! Losses with PyTorch's semantics.

use ferrograd_autograd::{Reduction, Var};
use ferrograd_tensor::Float;

/// `nn.MSELoss(reduction=...)`: mean (default) or sum of `(input − target)²` over every
/// element.
///
/// With `Mean` the loss divides by *all* `batch × features` entries — not by the batch
/// size. [`squared_error_per_sample`] is the per-sample version the homework uses.
#[derive(Clone, Copy, Debug, Default)]
pub struct MSELoss {
    /// How elements are combined.
    pub reduction: Reduction,
}

impl MSELoss {
    /// Mean over all elements, like `nn.MSELoss()`.
    pub fn new() -> Self {
        MSELoss::default()
    }

    /// With an explicit reduction.
    pub fn with_reduction(reduction: Reduction) -> Self {
        MSELoss { reduction }
    }

    /// The loss of `input` against `target` (same shape).
    #[track_caller]
    pub fn forward<T: Float>(&self, input: &Var<T>, target: &Var<T>) -> Var<T> {
        input.mse_loss(target, self.reduction)
    }
}

/// The homework's autoencoder loss: the squared L2 error of each sample (summed over
/// features), averaged over the batch: `(1/B) Σᵢ ‖xᵢ − yᵢ‖²` = `features × MSELoss()`.
#[track_caller]
pub fn squared_error_per_sample<T: Float>(input: &Var<T>, target: &Var<T>) -> Var<T> {
    let batch = input.dims().first().copied().unwrap_or(1).max(1);
    input
        .mse_loss(target, Reduction::Sum)
        .scale(T::ONE / T::from_usize(batch))
}

/// `nn.CrossEntropyLoss()`: mean negative log-likelihood of integer `targets` under
/// `softmax(logits)`, computed stably from the logits.
#[derive(Clone, Copy, Debug, Default)]
pub struct CrossEntropyLoss;

impl CrossEntropyLoss {
    /// The loss of `logits` ([batch, classes]) against class indices.
    #[track_caller]
    pub fn forward<T: Float>(&self, logits: &Var<T>, targets: &[usize]) -> Var<T> {
        logits.cross_entropy(targets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrograd_tensor::Tensor;

    #[test]
    fn per_sample_loss_is_features_times_mse() {
        let x = Var::constant(Tensor::<f64>::from_fn([4, 6], |i| i as f64 * 0.1));
        let y = Var::constant(Tensor::<f64>::zeros([4, 6]));
        let per_sample = squared_error_per_sample(&x, &y).item();
        let mse = MSELoss::new().forward(&x, &y).item();
        assert!((per_sample - 6.0 * mse).abs() < 1e-12);
    }
}
