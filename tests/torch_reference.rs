//! Every op case of `tests/data/torch_reference.json` (PyTorch, float64) against ferrograd:
//! the forward value and the gradient of `sum(output * upstream)` with respect to every
//! input, in f64 and in f32. Each case and precision is one trial (`matmul/f64`), so the
//! summary line counts them.
//!
//! The file is part of the repository; missing or unreadable, it fails the test binary
//! with the command that regenerates it. A case the table in `tests/common/mod.rs` does not
//! know fails, and so does a table entry the file has no case for: neither side can drop a
//! case silently. `--nocapture` prints every case's errors after the run.
//!
//! An error is `max |ours − torch| / max(1, max |torch|)` over a tensor. Tolerances: 1e-10
//! in f64 and 1e-5 in f32 (the inputs are rounded to f32 first). A gradient absent from a
//! case's `grads` is one PyTorch does not have (e.g. w.r.t. q and k of argmax attention):
//! ours must then be exactly zero.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use common::{
    apply, load_reference, reference_path, spec, tensor_from_json, OpSpec, DEFAULT_TARGETS, OPS,
    REGENERATE,
};
use ferrograd::autograd::Var;
use ferrograd::tensor::{Float, Tensor};
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;

const TOL_F64: f64 = 1e-10;
const TOL_F32: f64 = 1e-5;

/// One reference case, parsed, with its inputs in the table's order.
struct Case {
    name: String,
    inputs: Vec<(&'static str, Tensor<f64>)>,
    targets: Vec<usize>,
    output: Tensor<f64>,
    upstream: Tensor<f64>,
    /// PyTorch's gradient per input, `None` where PyTorch has none.
    grads: Vec<Option<Tensor<f64>>>,
}

/// Errors of one case in one precision.
struct Errors {
    forward: f64,
    /// (input name, error, PyTorch has this gradient); without a reference gradient the
    /// error is the largest |gradient|, which must be exactly 0.
    grads: Vec<(&'static str, f64, bool)>,
}

impl Errors {
    fn worst_grad(&self) -> f64 {
        self.grads
            .iter()
            .filter(|g| g.2)
            .fold(0.0, |m, g| m.max(g.1))
    }
}

/// What a passing or failing trial measured, for the report after the run.
struct Measured {
    case: String,
    dtype: &'static str,
    errors: Errors,
}

type Log = Arc<Mutex<Vec<Measured>>>;

fn normalised_err(ours: &Tensor<f64>, reference: &Tensor<f64>) -> f64 {
    let scale = reference.data().iter().fold(1.0f64, |m, x| m.max(x.abs()));
    ours.max_abs_diff(reference) / scale
}

fn parse_case(raw: &Value, spec: &'static OpSpec) -> Result<Case, String> {
    let name = spec.name.to_string();
    let obj_keys = |field: &str| -> Result<Vec<String>, String> {
        raw[field]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .ok_or_else(|| format!("{name}: `{field}` is not an object"))
    };
    let known: Vec<&str> = spec.inputs.iter().map(|i| i.0).collect();
    for field in ["inputs", "grads"] {
        for key in obj_keys(field)? {
            if !known.contains(&key.as_str()) {
                return Err(format!(
                    "{name}: reference {field} has `{key}`, which the test's expression \
                     (inputs {known:?}) does not take"
                ));
            }
        }
    }
    let mut inputs = Vec::new();
    let mut grads = Vec::new();
    for &(input, _, _) in spec.inputs {
        let v = &raw["inputs"][input];
        if v.is_null() {
            return Err(format!("{name}: reference has no input `{input}`"));
        }
        inputs.push((
            input,
            tensor_from_json(v, &format!("{name}.inputs.{input}")),
        ));
        let g = &raw["grads"][input];
        grads.push(if g.is_null() {
            None
        } else {
            Some(tensor_from_json(g, &format!("{name}.grads.{input}")))
        });
    }
    let targets = match raw.get("targets") {
        Some(t) => t
            .as_array()
            .ok_or_else(|| format!("{name}: `targets` is not an array"))?
            .iter()
            .map(|x| x.as_u64().map(|x| x as usize))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| format!("{name}: `targets` must be non-negative integers"))?,
        None => DEFAULT_TARGETS.to_vec(),
    };
    Ok(Case {
        name: name.clone(),
        inputs,
        targets,
        output: tensor_from_json(&raw["output"], &format!("{name}.output")),
        upstream: tensor_from_json(&raw["upstream"], &format!("{name}.upstream")),
        grads,
    })
}

/// Runs a case in precision `T` and measures its errors against the f64 reference.
fn run<T: Float>(case: &Case) -> Result<Errors, String> {
    let leaves: Vec<Var<T>> = case
        .inputs
        .iter()
        .map(|(_, t)| Var::leaf(t.cast::<T>()))
        .collect();
    let out = apply(&case.name, &leaves, &case.targets);
    let ours = out.value().cast::<f64>();
    if ours.shape() != case.output.shape() {
        return Err(format!(
            "output shape {} but PyTorch's is {}",
            ours.shape(),
            case.output.shape()
        ));
    }
    let forward = normalised_err(&ours, &case.output);
    let grads = out.backward_with(case.upstream.cast::<T>());
    let mut errs = Vec::new();
    for ((input, _), (leaf, reference)) in case.inputs.iter().zip(leaves.iter().zip(&case.grads)) {
        let g = grads.get_or_zeros(leaf).cast::<f64>();
        match reference {
            Some(r) => {
                if g.shape() != r.shape() {
                    return Err(format!(
                        "gradient w.r.t. {input} has shape {} but PyTorch's is {}",
                        g.shape(),
                        r.shape()
                    ));
                }
                errs.push((*input, normalised_err(&g, r), true));
            }
            None => {
                let largest = g.data().iter().fold(0.0f64, |m, x| m.max(x.abs()));
                errs.push((*input, largest, false));
            }
        }
    }
    Ok(Errors {
        forward,
        grads: errs,
    })
}

/// The tolerance violations of one precision's results.
fn violations(e: &Errors, tol: f64) -> Vec<String> {
    let mut out = Vec::new();
    if e.forward.is_nan() || e.forward > tol {
        out.push(format!("forward error {:.3e} > {tol:e}", e.forward));
    }
    for &(input, err, has_reference) in &e.grads {
        if has_reference && (err.is_nan() || err > tol) {
            out.push(format!(
                "gradient w.r.t. {input}: error {err:.3e} > {tol:e}"
            ));
        }
        if !has_reference && err != 0.0 {
            out.push(format!(
                "PyTorch has no gradient w.r.t. {input}, ours has |g| up to {err:.3e} \
                 (must be exactly 0)"
            ));
        }
    }
    out
}

fn trial<T: Float>(case: Arc<Case>, dtype: &'static str, tol: f64, log: Log) -> Trial {
    Trial::test(format!("{}/{dtype}", case.name), move || {
        let errors = run::<T>(&case)?;
        let bad = violations(&errors, tol);
        log.lock().unwrap().push(Measured {
            case: case.name.clone(),
            dtype,
            errors,
        });
        if bad.is_empty() {
            Ok(())
        } else {
            Err(Failed::from(bad.join("\n")))
        }
    })
}

fn failing(name: impl Into<String>, message: String) -> Trial {
    Trial::test(name, move || Err(message.into()))
}

fn fmt_grads(e: &Errors) -> String {
    e.grads
        .iter()
        .map(|&(n, err, has_ref)| match (has_ref, err == 0.0) {
            (true, _) => format!("{n} {err:.1e}"),
            (false, true) => format!("{n} =0"),
            (false, false) => format!("{n} ={err:.1e}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The worst errors of the run (one line per precision), and with `--nocapture` every
/// case's, so the margin to the tolerance is visible without editing the test.
fn report(log: &[Measured], all: bool) {
    if all {
        println!("\nerror = max|ours - torch| / max(1, max|torch|); `=0`: a gradient PyTorch does not have (ours must be exactly 0)");
        println!(
            "{:<28} {:<4} {:>9} {:>9}   per input",
            "case", "", "forward", "grad"
        );
        for m in log {
            println!(
                "{:<28} {:<4} {:>9.2e} {:>9.2e}   {}",
                m.case,
                m.dtype,
                m.errors.forward,
                m.errors.worst_grad(),
                fmt_grads(&m.errors)
            );
        }
    }
    for (dtype, tol) in [("f64", TOL_F64), ("f32", TOL_F32)] {
        let worst = |f: fn(&Errors) -> f64| {
            log.iter()
                .filter(|m| m.dtype == dtype)
                .map(|m| (f(&m.errors), m.case.as_str()))
                .fold(
                    (f64::NEG_INFINITY, "-"),
                    |a, b| if b.0 > a.0 { b } else { a },
                )
        };
        let (fwd, grad) = (worst(|e| e.forward), worst(Errors::worst_grad));
        let n = log.iter().filter(|m| m.dtype == dtype).count();
        if n > 0 {
            println!(
                "worst {dtype} error over {n} cases (tolerance {tol:e}): forward {:.2e} ({}), gradient {:.2e} ({})",
                fwd.0, fwd.1, grad.0, grad.1
            );
        }
    }
}

fn main() {
    let args = Arguments::from_args();
    let reference = load_reference();
    let path = reference_path();
    let cases = reference["ops"].as_array().unwrap_or_else(|| {
        panic!(
            "{}: `ops` must be an array of cases; {REGENERATE}",
            path.display()
        )
    });
    let log: Log = Arc::default();
    let mut trials = Vec::new();
    let mut seen = HashSet::new();
    for raw in cases {
        let name = raw["name"].as_str().unwrap_or("<unnamed>");
        if !seen.insert(name) {
            trials.push(failing(
                format!("{name}/duplicate"),
                format!("{}: more than one case named `{name}`", path.display()),
            ));
            continue;
        }
        let Some(spec) = spec(name) else {
            trials.push(failing(
                name,
                format!(
                    "{} has op case `{name}`, which this test does not know; add its \
                     expression to tests/common/mod.rs (OPS and apply)",
                    path.display()
                ),
            ));
            continue;
        };
        match parse_case(raw, spec) {
            Ok(case) => {
                let case = Arc::new(case);
                trials.push(trial::<f64>(case.clone(), "f64", TOL_F64, log.clone()));
                trials.push(trial::<f32>(case, "f32", TOL_F32, log.clone()));
            }
            Err(e) => trials.push(failing(name, format!("{}: {e}", path.display()))),
        }
    }
    for spec in OPS.iter().filter(|s| !seen.contains(s.name)) {
        trials.push(failing(
            spec.name,
            format!(
                "{} has no case for `{}`; add it to scripts/torch_reference/generate.py and {REGENERATE}",
                path.display(),
                spec.name
            ),
        ));
    }
    let conclusion = libtest_mimic::run(&args, trials);
    if !args.list {
        let mut log = log.lock().unwrap();
        // Trials finish in any order; report in the table's.
        log.sort_by_key(|m| {
            let at = OPS.iter().position(|s| s.name == m.case);
            (at, m.dtype != "f64")
        });
        report(&log, args.nocapture);
    }
    conclusion.exit();
}
