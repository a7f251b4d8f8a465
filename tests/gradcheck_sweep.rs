//! `ferrograd::autograd::gradcheck` over every differentiable op, on random f64 inputs, with one
//! table of the errors achieved. The expressions are those of the PyTorch reference
//! test (`tests/common/mod.rs`), plus the ops the reference does not cover. Run with
//! `--nocapture` to see the table.

mod common;

use common::{apply, random_inputs, DEFAULT_TARGETS, OPS};
use ferrograd::autograd::{gradcheck, GradcheckOptions};

#[test]
fn gradcheck_every_differentiable_op() {
    let options = GradcheckOptions::default();
    eprintln!(
        "gradcheck, central differences in f64: eps={:e}, pass when |analytic - numeric| <= {:e} + {:e}*|numeric|",
        options.eps, options.atol, options.rtol
    );
    eprintln!(
        "{:<28} {:<6} {:<12} {:>11} {:>11}  result",
        "op", "input", "shape", "max abs", "max rel"
    );
    let mut failures = Vec::new();
    let (mut worst_abs, mut worst_rel) = ((0.0f64, ""), (0.0f64, ""));
    for (seed, spec) in OPS.iter().enumerate() {
        let inputs = random_inputs(spec, 1000 + seed as u64);
        let report = gradcheck(
            spec.name,
            |v| apply(spec.name, v, DEFAULT_TARGETS),
            &inputs,
            &options,
        );
        for (r, &(input, shape, _)) in report.inputs.iter().zip(spec.inputs) {
            eprintln!(
                "{:<28} {:<6} {:<12} {:>11.3e} {:>11.3e}  {}",
                spec.name,
                input,
                format!("{shape:?}"),
                r.max_abs_err,
                r.max_rel_err,
                if r.passed { "ok" } else { "FAIL" }
            );
            if r.max_abs_err > worst_abs.0 {
                worst_abs = (r.max_abs_err, spec.name);
            }
            if r.max_rel_err > worst_rel.0 {
                worst_rel = (r.max_rel_err, spec.name);
            }
        }
        if !report.passed() {
            failures.push(report.to_string());
        }
    }
    eprintln!(
        "{} ops; worst max abs err {:.3e} ({}), worst max rel err {:.3e} ({})",
        OPS.len(),
        worst_abs.0,
        worst_abs.1,
        worst_rel.0,
        worst_rel.1
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
