//! Every op case of `torch_reference.json` (PyTorch, float64) against ferrograd: the
//! forward value and the gradient of `sum(output * upstream)` with respect to every
//! input, in f64 and in f32.
//!
//! The file is found through `$FERROGRAD_REFERENCE`, else at
//! `<workspace>/../shared/reference/torch_reference.json`; when it is absent the test
//! says so on stderr and passes. A case whose name the test does not know fails the
//! test, so a case added to the reference cannot be skipped silently. Run with
//! `--nocapture` to see the per-case errors.
//!
//! An error is `max |ours − torch| / max(1, max |torch|)` over a tensor. Tolerances: 1e-10
//! in f64 and 1e-5 in f32 (the inputs are rounded to f32 first), as the reference's
//! README states. A gradient absent from a case's `grads` is one PyTorch does not have
//! (e.g. w.r.t. q and k of argmax attention): ours must then be exactly zero.

mod common;

use common::{apply, load_reference, spec, tensor_from_json, OpSpec, DEFAULT_TARGETS, OPS};
use ferrograd::autograd::Var;
use ferrograd::tensor::{Float, Tensor};
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
    /// (input name, error); for inputs without a reference gradient the error is the
    /// largest |gradient| (which must be exactly 0).
    grads: Vec<(&'static str, f64, bool)>,
}

impl Errors {
    fn worst_grad(&self) -> (f64, &'static str) {
        self.grads
            .iter()
            .map(|&(n, e, _)| (e, n))
            .fold((0.0, "-"), |a, b| if b.0 > a.0 { b } else { a })
    }
}

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
            "{}: output shape {} but PyTorch's is {}",
            case.name,
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
                        "{}: gradient w.r.t. {input} has shape {} but PyTorch's is {}",
                        case.name,
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

/// Failures of one precision's results, if any.
fn check(case: &str, dtype: &str, e: &Errors, tol: f64, failures: &mut Vec<String>) {
    if e.forward.is_nan() || e.forward > tol {
        failures.push(format!(
            "{case} ({dtype}): forward error {:.3e} > {tol:e}",
            e.forward
        ));
    }
    for &(input, err, has_reference) in &e.grads {
        if has_reference && (err.is_nan() || err > tol) {
            failures.push(format!(
                "{case} ({dtype}): gradient w.r.t. {input} error {err:.3e} > {tol:e}"
            ));
        }
        if !has_reference && err != 0.0 {
            failures.push(format!(
                "{case} ({dtype}): PyTorch has no gradient w.r.t. {input}, ours has \
                 |g| up to {err:.3e} (must be exactly 0)"
            ));
        }
    }
}

fn fmt_grads(e: &Errors) -> String {
    e.grads
        .iter()
        .map(|&(n, err, has_ref)| {
            if has_ref {
                format!("{n} {err:.1e}")
            } else {
                format!(
                    "{n} ={}",
                    if err == 0.0 {
                        "0".into()
                    } else {
                        format!("{err:.1e}")
                    }
                )
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn every_op_case_matches_pytorch_in_f64_and_f32() {
    let Some(reference) = load_reference() else {
        return;
    };
    let cases = reference["ops"]
        .as_array()
        .expect("torch_reference.json: `ops` must be an array of cases");
    assert!(!cases.is_empty(), "torch_reference.json: `ops` is empty");
    eprintln!(
        "reference: {} ({} op cases)",
        reference["source"].as_str().unwrap_or("?"),
        cases.len()
    );
    eprintln!("error = max|ours - torch| / max(1, max|torch|); `=0` marks a gradient PyTorch does not have (ours must be exactly 0)");
    eprintln!(
        "{:<28} {:>9} {:>9} {:>9} {:>9}   per-input gradient errors (f64 | f32)",
        "case", "fwd f64", "grad f64", "fwd f32", "grad f32"
    );

    let mut failures = Vec::new();
    let mut unknown = Vec::new();
    let mut seen = Vec::new();
    for raw in cases {
        let name = raw["name"].as_str().unwrap_or("<unnamed>");
        let Some(spec) = spec(name).filter(|s| s.in_reference) else {
            unknown.push(name.to_string());
            continue;
        };
        seen.push(spec.name);
        let case = match parse_case(raw, spec) {
            Ok(c) => c,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let (e64, e32) = match (run::<f64>(&case), run::<f32>(&case)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                failures.push(e);
                continue;
            }
        };
        check(name, "f64", &e64, TOL_F64, &mut failures);
        check(name, "f32", &e32, TOL_F32, &mut failures);
        eprintln!(
            "{:<28} {:>9.2e} {:>9.2e} {:>9.2e} {:>9.2e}   {} | {}",
            name,
            e64.forward,
            e64.worst_grad().0,
            e32.forward,
            e32.worst_grad().0,
            fmt_grads(&e64),
            fmt_grads(&e32)
        );
    }
    let missing: Vec<_> = OPS
        .iter()
        .filter(|s| s.in_reference && !seen.contains(&s.name))
        .map(|s| s.name)
        .collect();
    if !missing.is_empty() {
        eprintln!("note: the reference has no case for {missing:?}");
    }
    if !unknown.is_empty() {
        failures.push(format!(
            "the reference has op cases this test does not know: {unknown:?}; add their \
             expression to tests/common/mod.rs (OPS and apply)"
        ));
    }
    assert!(
        failures.is_empty(),
        "{} failure(s) against PyTorch:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
