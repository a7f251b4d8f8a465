//! Losses with PyTorch's semantics.

use ferrograd_autograd::{Reduction, Var};
use ferrograd_tensor::Float;

/// `nn.MSELoss(reduction=...)`: mean (default) or sum of `(input − target)²` over every
/// element.
///
/// With `Mean` the loss divides by *all* `batch × features` entries — not by the batch
/// size. The homework's per-sample loss (summed over features, averaged over the batch) is
/// `features × MSELoss()`; the `course` package defines it.
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
