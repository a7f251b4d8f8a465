//! Shared by the workspace-level correctness tests: the table of op expressions (one per
//! case of `tests/data/torch_reference.json`), random inputs for them, and the reference
//! loader.
//!
//! Each test binary uses only part of this module.
#![allow(dead_code)]

use std::path::PathBuf;

use ferrograd::autograd::{Reduction, Var};
use ferrograd::tensor::{Float, Shape, Tensor};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::Value;

/// Where an op's random test input is drawn from.
#[derive(Clone, Copy, Debug)]
pub enum Domain {
    /// N(0, 1).
    Normal,
    /// Uniform in [0.5, 2): for `ln`, `sqrt` and divisors.
    Positive,
    /// N(0, 1) with |x| < 0.1 pushed out by 0.3: away from the kink of relu / abs.
    AwayFromZero,
}

/// One op of the table: its name (that of its reference case) and its inputs, in the order
/// [`apply`] takes them.
pub struct OpSpec {
    pub name: &'static str,
    pub inputs: &'static [(&'static str, &'static [usize], Domain)],
}

use Domain::{AwayFromZero, Normal, Positive};

/// Targets of `cross_entropy` when the reference does not give them (5 rows, 4 classes);
/// `CE_TARGETS` in the generator.
pub const DEFAULT_TARGETS: &[usize] = &[0, 3, 1, 1, 2];

const QKV: &[(&str, &[usize], Domain)] = &[
    ("q", &[3, 8], Normal),
    ("k", &[6, 8], Normal),
    ("v", &[6, 4], Normal),
];
const X34: &[(&str, &[usize], Domain)] = &[("x", &[3, 4], Normal)];
const XY35: &[(&str, &[usize], Domain)] = &[("x", &[3, 5], Normal), ("y", &[3, 5], Normal)];
const XY46: &[(&str, &[usize], Domain)] = &[("x", &[4, 6], Normal), ("y", &[4, 6], Normal)];

macro_rules! op {
    ($name:literal, $inputs:expr) => {
        OpSpec {
            name: $name,
            inputs: $inputs,
        }
    };
}

/// Every differentiable op, each with a case in the PyTorch reference (the generator,
/// `scripts/torch_reference/generate.py`, uses the same names, shapes and domains).
pub const OPS: &[OpSpec] = &[
    op!(
        "matmul",
        &[("a", &[7, 13], Normal), ("b", &[13, 5], Normal)]
    ),
    op!(
        "matmul_a_t",
        &[("a", &[13, 7], Normal), ("b", &[13, 5], Normal)]
    ),
    op!(
        "matmul_b_t",
        &[("a", &[7, 13], Normal), ("b", &[5, 13], Normal)]
    ),
    op!(
        "add_row_broadcast",
        &[("x", &[4, 6], Normal), ("b", &[6], Normal)]
    ),
    op!("sub", XY35),
    op!("mul", XY35),
    op!("div", &[("x", &[3, 5], Normal), ("y", &[3, 5], Positive)]),
    op!("scale", X34),
    op!("neg", X34),
    op!("relu", &[("x", &[5, 6], AwayFromZero)]),
    op!("exp", X34),
    op!("log", &[("x", &[3, 4], Positive)]),
    op!("tanh", X34),
    op!("sigmoid", X34),
    op!("square", X34),
    op!("sqrt", &[("x", &[3, 4], Positive)]),
    op!("sum_all", X34),
    op!("mean_all", X34),
    op!("sum_rows", X34),
    op!("sum_cols", X34),
    op!("transpose", X34),
    op!("softmax_rows", &[("x", &[4, 7], Normal)]),
    op!("log_softmax_rows", &[("x", &[4, 7], Normal)]),
    op!("mse_mean", XY46),
    op!("mse_sum", XY46),
    op!("sq_err_per_sample_mean", XY46),
    op!("cross_entropy", &[("x", &[5, 4], Normal)]),
    op!(
        "linear",
        &[
            ("x", &[4, 5], Normal),
            ("w", &[3, 5], Normal),
            ("b", &[3], Normal)
        ]
    ),
    op!("softmax_attention", QKV),
    op!("argmax_attention", QKV),
    op!("quadratic_kernel_attention", QKV),
    op!(
        "matmul_a_t_b_t",
        &[("a", &[13, 7], Normal), ("b", &[5, 13], Normal)]
    ),
    op!("matmul_self_b_t", &[("x", &[4, 3], Normal)]),
    op!(
        "add_col_row_broadcast",
        &[("c", &[4, 1], Normal), ("r", &[1, 6], Normal)]
    ),
    op!(
        "mul_col_row_broadcast",
        &[("c", &[4, 1], Normal), ("r", &[1, 6], Normal)]
    ),
    op!(
        "div_col_row_broadcast",
        &[("c", &[4, 1], Normal), ("r", &[1, 6], Positive)]
    ),
    op!("add_scalar", X34),
    op!("rsub_scalar", X34),
    op!("powi3", X34),
    op!("powi_neg2", &[("x", &[3, 4], Positive)]),
    op!("abs", &[("x", &[3, 4], AwayFromZero)]),
    op!("mean_rows_keepdim", X34),
    op!("sum_axis_rank3", &[("x", &[2, 3, 4], Normal)]),
    // Square operands: an [n, 1] column has as many elements as a row of [n, n].
    op!("sum_rows_square", &[("x", &[4, 4], Normal)]),
    op!("row_normalise_square", &[("x", &[4, 4], Normal)]),
    op!("center_rows_square", &[("x", &[4, 4], Normal)]),
    op!("max_all", X34),
    op!("max_axis0", X34),
    op!("max_axis1_keepdim", X34),
    op!("reshape", X34),
    op!(
        "concat_axis1",
        &[("a", &[2, 3], Normal), ("b", &[2, 2], Normal)]
    ),
    op!(
        "concat_axis0_reused",
        &[("a", &[2, 3], Normal), ("b", &[1, 3], Normal)]
    ),
    op!("narrow_cols", &[("x", &[4, 5], Normal)]),
    op!("narrow_rows", &[("x", &[4, 5], Normal)]),
    op!("index_select_rows", &[("x", &[4, 3], Normal)]),
    op!("gather_cols", &[("x", &[4, 3], Normal)]),
    op!("mul_mask", X34),
    op!("masked_fill", X34),
    op!(
        "linear_no_bias",
        &[("x", &[4, 5], Normal), ("w", &[3, 5], Normal)]
    ),
    op!("softmax_large_logits", &[("x", &[2, 3], Normal)]),
];

/// The table entry called `name`.
pub fn spec(name: &str) -> Option<&'static OpSpec> {
    OPS.iter().find(|s| s.name == name)
}

fn c<T: Float>(x: f64) -> T {
    T::from_f64(x)
}

/// A fixed 0/1 mask for the mask ops (every third element).
fn mask34<T: Float>() -> Tensor<T> {
    Tensor::from_fn([3, 4], |i| if i % 3 == 0 { T::ONE } else { T::ZERO })
}

/// Builds the expression of op `name` from its inputs (in the table's order). `targets`
/// are the class indices of `cross_entropy`. Panics for a name not in the table.
pub fn apply<T: Float>(name: &str, v: &[Var<T>], targets: &[usize]) -> Var<T> {
    match name {
        "matmul" => v[0].matmul(&v[1]),
        "matmul_a_t" => v[0].matmul_t(true, &v[1], false),
        "matmul_b_t" => v[0].matmul_t(false, &v[1], true),
        "add_row_broadcast" | "add_col_row_broadcast" => &v[0] + &v[1],
        "sub" => &v[0] - &v[1],
        "mul" | "mul_col_row_broadcast" => &v[0] * &v[1],
        "div" | "div_col_row_broadcast" => &v[0] / &v[1],
        "scale" => &v[0] * c::<T>(2.5),
        "neg" => -&v[0],
        "relu" => v[0].relu(),
        "exp" => v[0].exp(),
        "log" => v[0].ln(),
        "tanh" => v[0].tanh(),
        "sigmoid" => v[0].sigmoid(),
        "square" => v[0].square(),
        "sqrt" => v[0].sqrt(),
        "sum_all" => v[0].sum(),
        "mean_all" => v[0].mean(),
        "sum_rows" => v[0].sum_axis(1, false),
        "sum_cols" => v[0].sum_axis(0, false),
        "transpose" => v[0].t(),
        "softmax_rows" => v[0].softmax(),
        "log_softmax_rows" => v[0].log_softmax(),
        "mse_mean" => v[0].mse_loss(&v[1], Reduction::Mean),
        "mse_sum" => v[0].mse_loss(&v[1], Reduction::Sum),
        "sq_err_per_sample_mean" => (&v[0] - &v[1]).square().sum_axis(1, false).mean(),
        "cross_entropy" => v[0].cross_entropy(targets),
        "linear" => v[0].linear(&v[1], Some(&v[2])),
        "softmax_attention" => softmax_attention(&v[0], &v[1], &v[2]),
        "argmax_attention" => argmax_attention(&v[0], &v[1], &v[2]),
        "quadratic_kernel_attention" => quadratic_kernel_attention(&v[0], &v[1], &v[2]),
        "matmul_a_t_b_t" => v[0].matmul_t(true, &v[1], true),
        "matmul_self_b_t" => v[0].matmul_t(false, &v[0], true),
        "add_scalar" => &v[0] + c::<T>(1.5),
        "rsub_scalar" => (-&v[0]).add_scalar(c(1.5)),
        "powi3" => v[0].powi(3),
        "powi_neg2" => v[0].powi(-2),
        "abs" => v[0].abs(),
        "mean_rows_keepdim" => v[0].mean_axis(1, true),
        "sum_axis_rank3" => v[0].sum_axis(1, false),
        "sum_rows_square" => v[0].sum_axis(1, false),
        "row_normalise_square" => {
            let e = v[0].exp();
            &e / &e.sum_axis(1, true)
        }
        "center_rows_square" => &v[0] - &v[0].mean_axis(1, true),
        "max_all" => v[0].max(),
        "max_axis0" => v[0].max_axis(0, false),
        "max_axis1_keepdim" => v[0].max_axis(1, true),
        "reshape" => v[0].reshape([4, 3]).square(),
        "concat_axis1" => Var::concat(&[&v[0], &v[1]], 1),
        "concat_axis0_reused" => Var::concat(&[&v[0], &v[1], &v[0]], 0),
        "narrow_cols" => v[0].narrow(1, 1, 4),
        "narrow_rows" => v[0].narrow(0, 2, 4),
        "index_select_rows" => v[0].index_select_rows(&[2, 0, 2, 3]),
        "gather_cols" => v[0].gather_cols(&[2, 0, 1, 1]),
        "mul_mask" => v[0].mul_mask(&mask34()),
        "masked_fill" => v[0].masked_fill(&mask34(), c(-7.0)).square(),
        "linear_no_bias" => v[0].linear(&v[1], None),
        "softmax_large_logits" => v[0].scale(c(30.0)).softmax(),
        _ => panic!("apply: no expression for op `{name}`"),
    }
}

/// softmax(q kᵀ / √d) v.
pub fn softmax_attention<T: Float>(q: &Var<T>, k: &Var<T>, v: &Var<T>) -> Var<T> {
    let d = q.dims()[1] as f64;
    q.matmul_t(false, k, true)
        .scale(c(1.0 / d.sqrt()))
        .softmax()
        .matmul(v)
}

/// one_hot(argmax(q kᵀ)) v: each query copies the value of its best-matching key.
pub fn argmax_attention<T: Float>(q: &Var<T>, k: &Var<T>, v: &Var<T>) -> Var<T> {
    let scores = q.matmul_t(false, k, true);
    let winners = scores.argmax_axis(1);
    Var::one_hot(&winners, k.dims()[0]).matmul(v)
}

/// Eq. 6 with sim(q, k) = (q·k + 1)²: out_i = Σ_j sim(q_i, k_j) v_j / Σ_j sim(q_i, k_j).
pub fn quadratic_kernel_attention<T: Float>(q: &Var<T>, k: &Var<T>, v: &Var<T>) -> Var<T> {
    let s = q.matmul_t(false, k, true).add_scalar(T::ONE).square();
    s.matmul(v) / s.sum_axis(1, true)
}

/// Random input of `shape` from `domain`, in f64, reproducible from `seed`.
pub fn random_input(shape: &[usize], domain: Domain, seed: u64) -> Tensor<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    match domain {
        Normal => Tensor::randn(shape, &mut rng),
        Positive => Tensor::uniform(shape, 0.5, 2.0, &mut rng),
        AwayFromZero => {
            Tensor::randn(shape, &mut rng).map(|x: f64| if x.abs() < 0.1 { x + 0.3 } else { x })
        }
    }
}

/// Random inputs for every input of `spec`.
pub fn random_inputs(spec: &OpSpec, seed: u64) -> Vec<Tensor<f64>> {
    spec.inputs
        .iter()
        .enumerate()
        .map(|(i, &(_, shape, domain))| random_input(shape, domain, seed * 100 + i as u64))
        .collect()
}

/// The op reference, committed in the repository.
pub fn reference_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/torch_reference.json")
}

/// How to rebuild the reference files, for failure messages.
pub const REGENERATE: &str = "regenerate it with `python -m venv .venv && .venv/bin/pip install \
     -r scripts/torch_reference/requirements.txt && .venv/bin/python \
     scripts/torch_reference/generate.py` (see tests/data/README.md)";

/// The parsed reference. Panics, naming the file, when it is missing or not JSON: a
/// correctness test without its data must not pass.
pub fn load_reference() -> Value {
    let path = reference_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the PyTorch reference {}: {e}; {REGENERATE}",
            path.display()
        )
    });
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{}: invalid JSON ({e}); {REGENERATE}", path.display()))
}

/// A `{shape, data}` object as an f64 tensor.
pub fn tensor_from_json(v: &Value, what: &str) -> Tensor<f64> {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: missing `shape`"))
        .iter()
        .map(|d| d.as_u64().unwrap_or_else(|| panic!("{what}: bad dim {d}")) as usize)
        .collect();
    let data: Vec<f64> = v["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: missing `data`"))
        .iter()
        .map(|x| {
            x.as_f64()
                .unwrap_or_else(|| panic!("{what}: bad value {x}"))
        })
        .collect();
    Tensor::from_vec(data, Shape::new(shape))
}
