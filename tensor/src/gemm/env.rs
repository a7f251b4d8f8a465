//! The environment variables the GEMM reads, parsed in one place.
//!
//! Each is read once, on first use, deep inside some product; a bad value there can only
//! panic. [`check_env`] parses all of them up front, so a program can refuse a typo
//! before it starts any work (the course's examples do, with exit code 2).

use std::env::VarError;

/// `var` as a positive whole number: `Ok(None)` when unset or empty.
pub(crate) fn positive(var: &str) -> Result<Option<usize>, String> {
    let bad = |s: &dyn std::fmt::Debug| format!("{var}={s:?}: expected a positive integer");
    match std::env::var(var) {
        Err(VarError::NotPresent) => Ok(None),
        Err(VarError::NotUnicode(s)) => Err(bad(&s)),
        Ok(s) if s.trim().is_empty() => Ok(None),
        Ok(s) => match s.trim().parse::<usize>() {
            Ok(v) if v > 0 => Ok(Some(v)),
            _ => Err(bad(&s)),
        },
    }
}

/// Parses every environment variable the GEMM reads — `FERROGRAD_GEMM_KERNEL`,
/// `FERROGRAD_NUM_THREADS` and `FERROGRAD_GEMM_KC` / `_MC` / `_NC` — and returns the
/// first bad one's message (naming the variable, its value and what it accepts) instead
/// of panicking at the first product.
///
/// ```
/// // Unset variables are fine; a program calls this once at start.
/// assert!(ferrograd_tensor::gemm::check_env().is_ok());
/// ```
pub fn check_env() -> Result<(), String> {
    super::dispatch::env_kernel()?;
    positive(super::threading::NUM_THREADS_ENV)?;
    for var in super::dispatch::BLOCKING_ENV {
        positive(var)?;
    }
    Ok(())
}
