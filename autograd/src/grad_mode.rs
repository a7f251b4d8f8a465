//! Turning graph recording off (`no_grad`), as in `torch.no_grad()`.

use std::cell::Cell;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether ops on this thread currently record themselves for `backward`.
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(Cell::get)
}

/// Runs `f` with recording switched off: every value it creates is a constant, so no graph
/// is kept alive and nothing is saved for backward (evaluation, optimiser updates,
/// computing features of a frozen encoder).
///
/// ```
/// use ferrograd_autograd::{no_grad, Var};
/// use ferrograd_tensor::Tensor;
/// let w = Var::leaf(Tensor::<f64>::ones([2]));
/// let y = no_grad(|| &w * 3.0);
/// assert!(!y.requires_grad());
/// ```
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = NoGradGuard::new();
    f()
}

/// Switches recording off until dropped (the RAII form of [`no_grad`]); restores the
/// previous state, so guards nest.
pub struct NoGradGuard {
    previous: bool,
}

impl NoGradGuard {
    /// Starts a no-grad region.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        let previous = GRAD_ENABLED.with(|g| g.replace(false));
        NoGradGuard { previous }
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.previous));
    }
}
