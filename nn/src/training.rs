//! Small training utilities: seeding and a guard against diverging losses.

use std::fmt;

use ferrograd_tensor::Float;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// The one generator a run threads through initialisation, shuffling, noise and masks:
/// the same seed reproduces the whole run bit for bit.
pub fn seeded_rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// A loss became NaN or infinite; says at which step, so the run can stop with a clear
/// message instead of silently training on garbage.
#[derive(Clone, Debug, PartialEq)]
pub struct NonFiniteLoss {
    /// The optimisation step (0-based) at which it happened.
    pub step: usize,
    /// The offending value.
    pub value: f64,
}

impl fmt::Display for NonFiniteLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "training diverged: the loss became {} at step {} (try a smaller learning rate)",
            self.value, self.step
        )
    }
}

impl std::error::Error for NonFiniteLoss {}

/// Returns the loss as f64, or an error naming `step` if it is NaN or infinite.
pub fn check_finite<T: Float>(loss: T, step: usize) -> Result<f64, NonFiniteLoss> {
    let value = loss.to_f64();
    if value.is_finite() {
        Ok(value)
    } else {
        Err(NonFiniteLoss { step, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_loss_names_the_step() {
        assert_eq!(check_finite(1.5f32, 3), Ok(1.5));
        let err = check_finite(f32::NAN, 42).unwrap_err();
        assert!(err.to_string().contains("step 42") && err.to_string().contains("NaN"));
        assert!(check_finite(f64::INFINITY, 0).is_err());
    }
}
