//! Numerical gradient checking, in the spirit of `torch.autograd.gradcheck`.
//!
//! The analytic gradient from [`Var::backward_with`] is compared with central
//! differences `(L(x + ε) − L(x − ε)) / 2ε` element by element, in f64: in f32 the
//! difference of two nearby losses keeps only a few significant digits, so a check there
//! cannot tell a wrong rule from rounding.

use std::fmt;

use ferrograd_tensor::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::{no_grad, Var};

/// Step and tolerances of a check. An element passes when
/// `|analytic − numeric| ≤ atol + rtol · |numeric|`.
#[derive(Clone, Debug)]
pub struct GradcheckOptions {
    /// Finite-difference step ε.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance.
    pub rtol: f64,
    /// Seed of the random upstream gradient used for non-scalar outputs.
    pub seed: u64,
}

impl Default for GradcheckOptions {
    /// ε = 1e-6, atol = 1e-6, rtol = 1e-5: tight for f64 (truncation error ~ε², rounding
    /// ~1e-16/ε ≈ 1e-10 relative to the loss).
    fn default() -> Self {
        GradcheckOptions {
            eps: 1e-6,
            atol: 1e-6,
            rtol: 1e-5,
            seed: 0x5eed,
        }
    }
}

/// The result for one input of the checked function.
///
/// Besides the summary numbers it keeps both full gradients, so a caller can show or
/// test them (e.g. that a derivative is exactly zero) without writing its own central
/// differences: see [`InputReport::numeric_grad`] and [`InputReport::analytic_grad`].
#[derive(Clone, Debug)]
pub struct InputReport {
    /// Position of the input in the argument list.
    pub input: usize,
    /// Largest |analytic − numeric| over the input's elements.
    pub max_abs_err: f64,
    /// Largest |analytic − numeric| / max(|numeric|, 1e-12).
    pub max_rel_err: f64,
    /// Flat index of the element that fails the tolerance by the most (or has the
    /// largest absolute error when all pass).
    pub worst_index: usize,
    /// Analytic gradient at the worst element.
    pub analytic: f64,
    /// Numeric gradient at the worst element.
    pub numeric: f64,
    /// Whether every element is within tolerance.
    pub passed: bool,
    // Private so that adding them did not break code that builds or matches an
    // `InputReport` by its public fields; read through the accessors.
    analytic_grad: Tensor<f64>,
    numeric_grad: Tensor<f64>,
}

impl InputReport {
    /// The gradient autograd computed for this input (shape of the input): the
    /// vector–Jacobian product with the check's upstream gradient ([`gradcheck`] says
    /// which).
    pub fn analytic_grad(&self) -> &Tensor<f64> {
        &self.analytic_grad
    }

    /// The central-difference gradient `(L(x + εeⱼ) − L(x − εeⱼ)) / 2ε` for every element
    /// `j` of this input (shape of the input), of the same scalar `L` as
    /// [`analytic_grad`](Self::analytic_grad).
    ///
    /// ```
    /// use ferrograd_autograd::{gradcheck, GradcheckOptions};
    /// use ferrograd_tensor::Tensor;
    /// // d/dx Σ x² = 2x, by autograd and by central differences.
    /// let x = Tensor::from_vec(vec![0.5, -2.0], [2]);
    /// let report = gradcheck("square", |v| v[0].square().sum(), &[x], &GradcheckOptions::default());
    /// let input = &report.inputs[0];
    /// assert_eq!(input.analytic_grad().data(), &[1.0, -4.0]);
    /// assert!((input.numeric_grad().data()[1] + 4.0).abs() < 1e-8);
    /// ```
    pub fn numeric_grad(&self) -> &Tensor<f64> {
        &self.numeric_grad
    }
}

/// Everything a gradient check found, printable as a readable report.
#[derive(Clone, Debug)]
pub struct GradcheckReport {
    /// The name given to the check (the op under test).
    pub name: String,
    /// One entry per input.
    pub inputs: Vec<InputReport>,
    /// The options used.
    pub options: GradcheckOptions,
}

impl GradcheckReport {
    /// True when every input passed.
    pub fn passed(&self) -> bool {
        self.inputs.iter().all(|r| r.passed)
    }

    /// The largest absolute error over all inputs.
    pub fn max_abs_err(&self) -> f64 {
        self.inputs
            .iter()
            .map(|r| r.max_abs_err)
            .fold(0.0, f64::max)
    }

    /// Panics with the full report unless every input passed.
    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(self.passed(), "gradcheck failed:\n{self}");
    }
}

impl fmt::Display for GradcheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.options;
        writeln!(
            f,
            "gradcheck `{}` (eps={:e}, atol={:e}, rtol={:e})",
            self.name, o.eps, o.atol, o.rtol
        )?;
        for r in &self.inputs {
            writeln!(
                f,
                "  input {}: {}  max abs err {:.3e}, max rel err {:.3e}; worst element {}: \
                 analytic {:.12e} vs numeric {:.12e}",
                r.input,
                if r.passed { "ok  " } else { "FAIL" },
                r.max_abs_err,
                r.max_rel_err,
                r.worst_index,
                r.analytic,
                r.numeric
            )?;
        }
        Ok(())
    }
}

/// Checks the gradients of `f` at `inputs` against central differences.
///
/// `f` receives one leaf per input and returns any-shaped output; a non-scalar output `y`
/// is reduced to the scalar `sum(y * u)` with a fixed random `u`, which checks every
/// column of the Jacobian at once with probability one.
///
/// ```
/// use ferrograd_autograd::{gradcheck, GradcheckOptions};
/// use ferrograd_tensor::Tensor;
/// let x = Tensor::from_vec(vec![0.3, -1.2, 2.0], [3]);
/// let report = gradcheck("tanh", |v| v[0].tanh(), &[x], &GradcheckOptions::default());
/// assert!(report.passed(), "{report}");
/// ```
pub fn gradcheck(
    name: &str,
    f: impl Fn(&[Var<f64>]) -> Var<f64>,
    inputs: &[Tensor<f64>],
    options: &GradcheckOptions,
) -> GradcheckReport {
    let leaves: Vec<Var<f64>> = inputs.iter().map(|t| Var::leaf(t.clone())).collect();
    let out = f(&leaves);
    let upstream = if out.value().numel() == 1 {
        Tensor::ones(out.shape())
    } else {
        Tensor::randn(out.shape(), &mut StdRng::seed_from_u64(options.seed))
    };
    let grads = out.backward_with(upstream.clone());

    let loss_at = |perturbed: &[Tensor<f64>]| -> f64 {
        no_grad(|| {
            let vars: Vec<Var<f64>> = perturbed.iter().cloned().map(Var::constant).collect();
            let y = f(&vars);
            let y = y.value();
            y.data()
                .iter()
                .zip(upstream.data())
                .map(|(a, b)| a * b)
                .sum()
        })
    };

    let mut reports = Vec::with_capacity(inputs.len());
    let mut work: Vec<Tensor<f64>> = inputs.to_vec();
    for (i, leaf) in leaves.iter().enumerate() {
        let analytic = grads.get_or_zeros(leaf);
        let mut numeric_grad = Tensor::zeros(inputs[i].shape());
        let mut report = InputReport {
            input: i,
            max_abs_err: 0.0,
            max_rel_err: 0.0,
            worst_index: 0,
            analytic: 0.0,
            numeric: 0.0,
            passed: true,
            analytic_grad: Tensor::zeros([0]),
            numeric_grad: Tensor::zeros([0]),
        };
        let mut worst_excess = f64::NEG_INFINITY;
        for j in 0..inputs[i].numel() {
            let x0 = inputs[i].data()[j];
            work[i].data_mut()[j] = x0 + options.eps;
            let plus = loss_at(&work);
            work[i].data_mut()[j] = x0 - options.eps;
            let minus = loss_at(&work);
            work[i].data_mut()[j] = x0;
            let numeric = (plus - minus) / (2.0 * options.eps);
            numeric_grad.data_mut()[j] = numeric;
            let a = analytic.data()[j];
            let abs_err = (a - numeric).abs();
            let excess = abs_err - (options.atol + options.rtol * numeric.abs());
            report.max_abs_err = report.max_abs_err.max(abs_err);
            report.max_rel_err = report.max_rel_err.max(abs_err / numeric.abs().max(1e-12));
            // NaN compares false everywhere, so test for it explicitly.
            if excess > 0.0 || abs_err.is_nan() {
                report.passed = false;
            }
            if excess > worst_excess || (abs_err.is_nan() && !worst_excess.is_nan()) {
                worst_excess = if abs_err.is_nan() { f64::NAN } else { excess };
                report.worst_index = j;
                report.analytic = a;
                report.numeric = numeric;
            }
        }
        report.analytic_grad = analytic;
        report.numeric_grad = numeric_grad;
        reports.push(report);
    }
    GradcheckReport {
        name: name.to_string(),
        inputs: reports,
        options: options.clone(),
    }
}

/// Runs [`gradcheck`] with default options and panics with the report on failure.
#[track_caller]
pub fn assert_gradcheck(
    name: &str,
    f: impl Fn(&[Var<f64>]) -> Var<f64>,
    inputs: &[Tensor<f64>],
) -> GradcheckReport {
    let report = gradcheck(name, f, inputs, &GradcheckOptions::default());
    report.assert_passed();
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BackwardCtx;

    #[test]
    fn keeps_both_full_gradients_per_input() {
        // f(a, b) = Σ a ⊙ b: ∂f/∂a = b and ∂f/∂b = a exactly, so both the analytic and the
        // numeric gradient are known in closed form (the latter up to rounding, as f is
        // linear in each input and central differences have no truncation error).
        let a = Tensor::from_vec(vec![1.0, -2.0, 3.0, 0.25], [2, 2]);
        let b = Tensor::from_vec(vec![0.5, 4.0, -1.0, 2.0], [2, 2]);
        let report = gradcheck(
            "mul_sum",
            |v| (&v[0] * &v[1]).sum(),
            &[a.clone(), b.clone()],
            &GradcheckOptions::default(),
        );
        report.assert_passed();
        for (input, expected) in report.inputs.iter().zip([&b, &a]) {
            assert_eq!(input.analytic_grad().shape(), expected.shape());
            assert_eq!(input.numeric_grad().shape(), expected.shape());
            assert_eq!(input.analytic_grad().data(), expected.data());
            assert!(input.numeric_grad().max_abs_diff(expected) < 1e-8);
        }
    }

    #[test]
    fn catches_a_wrong_rule_and_names_the_worst_element() {
        // A deliberately wrong derivative: d(x²)/dx reported as x instead of 2x.
        let wrong_square = |v: &[Var<f64>]| {
            let value = v[0].value().square();
            Var::from_op(
                "wrong_square",
                value,
                &[&v[0]],
                |ctx: &BackwardCtx<'_, f64>, sink| {
                    let g = ctx.grad_out * &*ctx.input(0);
                    sink.add(0, g);
                },
            )
        };
        let x = Tensor::from_vec(vec![0.5, -3.0, 1.0], [3]);
        let report = gradcheck(
            "wrong_square",
            wrong_square,
            &[x],
            &GradcheckOptions::default(),
        );
        assert!(!report.passed());
        assert_eq!(
            report.inputs[0].worst_index, 1,
            "largest |x| has the largest error"
        );
        // The output is not a scalar, so both gradients are weighted by the same random
        // upstream u: analytic u ⊙ x against numeric u ⊙ 2x, the factor 2 at every element.
        let input = &report.inputs[0];
        for (a, n) in input
            .analytic_grad()
            .data()
            .iter()
            .zip(input.numeric_grad().data())
        {
            assert!(
                (n - 2.0 * a).abs() < 1e-6,
                "numeric {n} vs 2 × analytic {a}"
            );
        }
        let text = report.to_string();
        assert!(
            text.contains("wrong_square") && text.contains("FAIL"),
            "{text}"
        );
    }
}
