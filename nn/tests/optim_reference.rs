//! The optimisers against PyTorch: every case of `tests/data/optim_reference.json` (in this
//! package) starts from `w0`, takes 5 steps on `loss(w) = Σ(w − target)² + 0.3·Σw³`, and
//! records `w` after each step. Each case is one trial per precision (`adam/f64`).
//!
//! The optimiser is built from the case's `kind` and full `config`, so every case in the
//! file runs, including ones added later; an unknown kind, a missing config key, or a key
//! this test does not apply (a knob ferrograd lacks) fails the case rather than being
//! ignored. A missing or unreadable file fails the test binary.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ferrograd_autograd::Var;
use ferrograd_nn::optim::{Adam, AdamConfig, AdamW, Optimizer, Sgd, SgdConfig};
use ferrograd_tensor::{Float, Tensor};
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;

// f64 trajectories agree to rounding (the same operations in the same order as PyTorch's
// single-tensor loop); f32 starts from w0 rounded to f32.
const TOL_F64: f64 = 1e-12;
const TOL_F32: f64 = 1e-5;

const REGENERATE: &str = "regenerate it with `python -m venv .venv && .venv/bin/pip install \
     -r scripts/torch_reference/requirements.txt && .venv/bin/python \
     scripts/torch_reference/generate.py` from the workspace root (see tests/data/README.md there)";

fn reference_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/optim_reference.json")
}

fn load_reference() -> Value {
    let path = reference_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the PyTorch optimiser reference {}: {e}; {REGENERATE}",
            path.display()
        )
    });
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{}: invalid JSON ({e}); {REGENERATE}", path.display()))
}

fn tensor<T: Float>(v: &Value, what: &str) -> Result<Tensor<T>, String> {
    let bad = || format!("{what}: expected {{shape, data}} with numbers");
    let shape = v["shape"]
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|d| d.as_u64().map(|d| d as usize))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)?;
    let data = v["data"]
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|x| x.as_f64().map(T::from_f64))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)?;
    if data.len() != shape.iter().product::<usize>() {
        return Err(format!("{what}: {} values for shape {shape:?}", data.len()));
    }
    Ok(Tensor::from_vec(data, shape))
}

/// A case's `config`, consumed key by key so that leftovers can be reported.
struct Config(BTreeMap<String, Value>);

impl Config {
    fn take(&mut self, key: &str) -> Result<Value, String> {
        self.0
            .remove(key)
            .ok_or_else(|| format!("config has no `{key}` (cases carry their full config)"))
    }

    fn f64(&mut self, key: &str) -> Result<f64, String> {
        let v = self.take(key)?;
        v.as_f64()
            .ok_or_else(|| format!("config `{key}` = {v} is not a number"))
    }

    fn bool(&mut self, key: &str) -> Result<bool, String> {
        let v = self.take(key)?;
        v.as_bool()
            .ok_or_else(|| format!("config `{key}` = {v} is not a boolean"))
    }

    fn pair(&mut self, key: &str) -> Result<(f64, f64), String> {
        let v = self.take(key)?;
        match v.as_array().map(|a| a.as_slice()) {
            Some([a, b]) => a.as_f64().zip(b.as_f64()),
            _ => None,
        }
        .ok_or_else(|| format!("config `{key}` = {v} is not a pair of numbers"))
    }

    /// Fails on keys nothing read: a setting the file asks for and we would not apply.
    fn finish(self) -> Result<(), String> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "config has keys this test does not apply: {:?}",
                self.0.keys().collect::<Vec<_>>()
            ))
        }
    }
}

fn adam_config(c: &mut Config) -> Result<AdamConfig, String> {
    let (b1, b2) = c.pair("betas")?;
    Ok(AdamConfig::new(c.f64("lr")?)
        .betas(b1, b2)
        .eps(c.f64("eps")?)
        .weight_decay(c.f64("weight_decay")?))
}

fn make_optimizer<T: Float>(
    kind: &str,
    config: &Value,
    params: Vec<Var<T>>,
) -> Result<Box<dyn Optimizer<T>>, String> {
    let map = config
        .as_object()
        .ok_or("`config` is not an object")?
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut c = Config(map);
    let opt: Box<dyn Optimizer<T>> = match kind {
        "sgd" => {
            let config = SgdConfig::new(c.f64("lr")?)
                .momentum(c.f64("momentum")?)
                .dampening(c.f64("dampening")?)
                .weight_decay(c.f64("weight_decay")?)
                .nesterov(c.bool("nesterov")?);
            Box::new(Sgd::new(params, config))
        }
        "adam" => Box::new(Adam::new(params, adam_config(&mut c)?)),
        "adamw" => Box::new(AdamW::new(params, adam_config(&mut c)?)),
        other => {
            return Err(format!(
                "unknown optimiser kind `{other}` (this test builds sgd, adam, adamw)"
            ))
        }
    };
    c.finish()?;
    Ok(opt)
}

/// Runs a case in `T`: the worst error over its steps, relative to max(1, max |w|).
fn run<T: Float>(case: &Value) -> Result<f64, String> {
    let kind = case["kind"].as_str().ok_or("case has no `kind`")?;
    let w = Var::leaf(tensor::<T>(&case["w0"], "w0")?);
    let target = Var::constant(tensor::<T>(&case["target"], "target")?);
    let mut opt = make_optimizer(kind, &case["config"], vec![w.clone()])?;
    let steps = case["after_each_step"]
        .as_array()
        .filter(|s| !s.is_empty())
        .ok_or("`after_each_step` is not a non-empty array")?;
    let mut worst: f64 = 0.0;
    for (i, expected) in steps.iter().enumerate() {
        let loss = (&w - &target).square().sum() + w.powi(3).sum().scale(T::from_f64(0.3));
        opt.step(&loss.backward());
        let expected = tensor::<f64>(expected, &format!("after_each_step[{i}]"))?;
        let got = w.value().cast::<f64>();
        if got.shape() != expected.shape() {
            return Err(format!(
                "step {}: w has shape {} but PyTorch's is {}",
                i + 1,
                got.shape(),
                expected.shape()
            ));
        }
        let scale = expected.data().iter().fold(1.0f64, |m, x| m.max(x.abs()));
        worst = worst.max(got.max_abs_diff(&expected) / scale);
    }
    Ok(worst)
}

type Log = Arc<Mutex<Vec<(String, &'static str, f64)>>>;

fn trial<T: Float>(name: &str, case: Arc<Value>, dtype: &'static str, tol: f64, log: Log) -> Trial {
    let name = name.to_string();
    Trial::test(format!("{name}/{dtype}"), move || {
        let err =
            run::<T>(&case).map_err(|e| format!("{}: {name}: {e}", reference_path().display()))?;
        log.lock().unwrap().push((name, dtype, err));
        if err.is_nan() || err > tol {
            return Err(Failed::from(format!(
                "{dtype} trajectory differs from PyTorch's by {err:.3e} (> {tol:e})"
            )));
        }
        Ok(())
    })
}

fn main() {
    let args = Arguments::from_args();
    let reference = load_reference();
    let path = reference_path();
    let cases = reference["optimizers"]
        .as_array()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "{}: `optimizers` must be a non-empty array of cases; {REGENERATE}",
                path.display()
            )
        });
    let log: Log = Arc::default();
    let mut trials = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let name = case["name"]
            .as_str()
            .map_or_else(|| format!("<case {i}: no name>"), str::to_string);
        let case = Arc::new(case.clone());
        trials.push(trial::<f64>(
            &name,
            case.clone(),
            "f64",
            TOL_F64,
            log.clone(),
        ));
        trials.push(trial::<f32>(&name, case, "f32", TOL_F32, log.clone()));
    }
    let conclusion = libtest_mimic::run(&args, trials);
    let log = log.lock().unwrap();
    for dtype in ["f64", "f32"] {
        let mine = log.iter().filter(|m| m.1 == dtype);
        if let Some((name, _, err)) = mine.clone().max_by(|a, b| a.2.total_cmp(&b.2)) {
            println!(
                "worst {dtype} trajectory error over {} optimiser cases: {err:.2e} ({name})",
                mine.count()
            );
        }
    }
    if args.nocapture {
        for (name, dtype, err) in log.iter() {
            println!("{name:<28} {dtype} {err:.2e}");
        }
    }
    conclusion.exit();
}
