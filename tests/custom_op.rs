//! A differentiable op written *outside* the crates, through the public API only — the
//! equivalent of PyTorch's `torch.autograd.Function`. This file is the source of the
//! book's "Write your own op" chapter (`book/src/custom_op.md`), which walks through it.
//!
//! ```sh
//! cargo test --release --test custom_op                 # everything
//! cargo test --release --test custom_op -- --nocapture  # also print the gradcheck reports
//! ```
//!
//! It also holds the program behind the picture of a graph in the "engine" chapter
//! (`engine_graph_dot_is_the_committed_one`).

// ANCHOR: imports
use ferrograd::autograd::{gradcheck, no_grad, BackwardCtx, GradSink, GradcheckOptions, Var};
use ferrograd::nn::seeded_rng;
use ferrograd::tensor::{Float, Tensor};
// ANCHOR_END: imports

// ANCHOR: silu
/// SiLU ("swish"): `y = x · σ(x)`, elementwise, with `σ(x) = 1 / (1 + e⁻ˣ)`.
///
/// Derivative (product rule, then `σ' = σ(1 − σ)`):
/// `dy/dx = σ(x) + x · σ(x)(1 − σ(x)) = σ(x) · (1 + x(1 − σ(x)))`.
///
/// PyTorch: `torch.nn.functional.silu(x)`.
pub fn silu<T: Float>(x: &Var<T>) -> Var<T> {
    // ANCHOR: silu_forward
    // Forward, on plain tensors: nothing here is recorded.
    // s = σ(x) is kept for backward; the output is x · σ(x).
    let s = x.value().sigmoid();
    let value = &*x.value() * &s;
    // ANCHOR_END: silu_forward
    // ANCHOR: silu_record
    Var::from_op("silu", value, &[x], move |ctx, sink| {
        // `move` puts `s` into the closure: that is this op's "save_for_backward".
        silu_backward(ctx, sink, &s)
    })
    // ANCHOR_END: silu_record
}

// ANCHOR: silu_backward
/// ∂L/∂x = ∂L/∂y ⊙ σ(x)(1 + x(1 − σ(x))), with `s = σ(x)` saved by forward.
fn silu_backward<T: Float>(ctx: &BackwardCtx<'_, T>, sink: &mut GradSink<'_, T>, s: &Tensor<T>) {
    if !sink.wants(0) {
        return; // x is a constant: nothing to compute
    }
    let x = ctx.input(0);
    let dy_dx = x.zip_with(s, "silu_backward", |x, s| s * (T::ONE + x * (T::ONE - s)));
    sink.add(0, ctx.grad_out * &dy_dx);
}
// ANCHOR_END: silu_backward
// ANCHOR_END: silu

// ANCHOR: wrong_silu
/// The tempting mistake: treating σ(x) as a constant, i.e. `dy/dx = σ(x)` (the first term
/// of the product rule only). Kept here so a test can show gradcheck catching it.
fn silu_forgetting_the_product_rule(x: &Var<f64>) -> Var<f64> {
    let s = x.value().sigmoid();
    let value = &*x.value() * &s;
    Var::from_op("wrong_silu", value, &[x], move |ctx, sink| {
        sink.add(0, ctx.grad_out * &s);
    })
}
// ANCHOR_END: wrong_silu

// ANCHOR: sum_n
/// `y = x₀ + x₁ + … + xₙ₋₁` with broadcasting, for any number of terms.
/// `∂y/∂xᵢ = 1`, so each term receives `grad_out` — summed back to its own shape by the
/// sink, not by this rule.
pub fn sum_n<T: Float>(terms: &[&Var<T>]) -> Var<T> {
    assert!(!terms.is_empty(), "sum_n: needs at least one term");
    let mut value = terms[0].value().clone();
    for t in &terms[1..] {
        value = &value + &*t.value();
    }
    Var::from_op("sum_n", value, terms, |ctx, sink| {
        for i in 0..ctx.num_inputs() {
            if sink.wants(i) {
                sink.add(i, ctx.grad_out.clone());
            }
        }
    })
}
// ANCHOR_END: sum_n

fn tensor(data: &[f64]) -> Tensor<f64> {
    Tensor::from_slice(data, [data.len()])
}

fn assert_close(actual: &[f64], expected: &[f64], tol: f64, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths differ");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= tol,
            "{what}[{i}]: got {a:.17e}, expected {e:.17e} (tolerance {tol:e})"
        );
    }
}

// ANCHOR: test_by_hand
#[test]
fn silu_matches_values_worked_out_by_hand() {
    let e = std::f64::consts::E;
    let e2 = e * e;
    let x = Var::leaf(tensor(&[-2.0, 0.0, 1.0]));
    let y = silu(&x);
    // y = x/(1 + e⁻ˣ):  -2/(1 + e²),  0,  1/(1 + e⁻¹) = e/(1 + e)
    let expected_y = [-2.0 / (1.0 + e2), 0.0, e / (1.0 + e)];
    assert_close(y.value().data(), &expected_y, 1e-15, "silu(x)");
    // dy/dx = σ(x)(1 + x(1 − σ(x))):
    //   x = -2: σ = 1/(1+e²), 1 − σ = e²/(1+e²)  →  (1 − e²)/(1 + e²)²
    //   x =  0: σ = 1/2                          →  1/2
    //   x =  1: σ = e/(1+e),  1 − σ = 1/(1+e)    →  e(2 + e)/(1 + e)²
    let expected_dx = [
        (1.0 - e2) / ((1.0 + e2) * (1.0 + e2)),
        0.5,
        e * (2.0 + e) / ((1.0 + e) * (1.0 + e)),
    ];
    let grads = y.sum().backward();
    assert_close(
        grads.get(&x).unwrap().data(),
        &expected_dx,
        1e-15,
        "dsilu/dx",
    );
}
// ANCHOR_END: test_by_hand

// ANCHOR: test_composition
#[test]
fn silu_matches_the_same_function_built_from_builtin_ops() {
    let data = Tensor::randn([4, 5], &mut seeded_rng(7));
    let upstream = Tensor::randn([4, 5], &mut seeded_rng(8));
    let ours = Var::leaf(data.clone());
    let composed = Var::leaf(data);
    let y_ours = silu(&ours);
    let y_composed = &composed * &composed.sigmoid(); // autograd applies the product rule
    assert_close(
        y_ours.value().data(),
        y_composed.value().data(),
        1e-15,
        "forward",
    );
    let g_ours = y_ours.backward_with(upstream.clone());
    let g_composed = y_composed.backward_with(upstream);
    assert_close(
        g_ours.get(&ours).unwrap().data(),
        g_composed.get(&composed).unwrap().data(),
        1e-14,
        "backward",
    );
}
// ANCHOR_END: test_composition

// ANCHOR: test_gradcheck
#[test]
fn silu_passes_gradcheck() {
    let options = GradcheckOptions::default();
    // Ordinary inputs, and large |x| where σ saturates (σ(±30) is 1 or ~1e-13).
    let inputs = [
        Tensor::randn([3, 4], &mut seeded_rng(1)),
        tensor(&[-30.0, -8.0, -1e-3, 1e-3, 8.0, 30.0]),
    ];
    for x in inputs {
        let report = gradcheck("silu", |v| silu(&v[0]), &[x], &options);
        eprintln!("{report}");
        assert!(report.passed(), "{report}");
        assert!(report.max_abs_err() < 1e-8, "{report}");
    }
}
// ANCHOR_END: test_gradcheck

// ANCHOR: test_in_a_layer
#[test]
fn silu_inside_a_layer_passes_gradcheck_for_every_input() {
    // y = silu(x W + b): the gradient reaches x, W and b through the custom op.
    let x = Tensor::randn([5, 3], &mut seeded_rng(2));
    let w = Tensor::randn([3, 4], &mut seeded_rng(3));
    let b = Tensor::randn([4], &mut seeded_rng(4));
    let report = gradcheck(
        "silu(x W + b)",
        |v| silu(&(&v[0].matmul(&v[1]) + &v[2])),
        &[x, w, b],
        &GradcheckOptions::default(),
    );
    eprintln!("{report}");
    assert!(report.passed(), "{report}");
}
// ANCHOR_END: test_in_a_layer

// ANCHOR: test_wrong_rule
#[test]
fn gradcheck_catches_the_forgotten_product_rule() {
    let x = tensor(&[-2.0, -0.5, 0.5, 2.0]);
    let report = gradcheck(
        "wrong_silu",
        |v| silu_forgetting_the_product_rule(&v[0]),
        &[x],
        &GradcheckOptions::default(),
    );
    eprintln!("{report}");
    assert!(!report.passed(), "a wrong rule must fail:\n{report}");
    // The missing term x·σ(x)(1 − σ(x)) is largest in magnitude at |x| = 2, not near 0.
    assert!(report.max_abs_err() > 0.1, "{report}");
}
// ANCHOR_END: test_wrong_rule

// ANCHOR: test_no_record
#[test]
fn silu_records_nothing_when_no_gradient_is_needed() {
    let c = Var::constant(tensor(&[1.0, 2.0]));
    let y = silu(&c);
    assert!(y.is_leaf() && !y.requires_grad());
    let x = Var::leaf(tensor(&[1.0, 2.0]));
    let y = no_grad(|| silu(&x));
    assert!(y.is_leaf() && !y.requires_grad());
    // Recorded otherwise, under the name given to `from_op`.
    assert_eq!(silu(&x).op_name(), "silu");
}
// ANCHOR_END: test_no_record

#[test]
fn silu_works_in_f32_too() {
    let x = Var::leaf(Tensor::<f32>::from_vec(vec![0.0, 1.0], [2]));
    let g = silu(&x).sum().backward();
    let dx = g.get(&x).unwrap().data();
    assert!((dx[0] - 0.5).abs() < 1e-7 && (dx[1] - 0.927_670_5).abs() < 1e-6);
}

// ANCHOR: test_sum_n
#[test]
fn sum_n_gives_each_term_a_gradient_of_its_own_shape() {
    // Shapes [4, 3], [3] and [4, 1] broadcast to [4, 3]; the sink undoes it per input.
    let a = Tensor::randn([4, 3], &mut seeded_rng(5));
    let b = Tensor::randn([3], &mut seeded_rng(6));
    let c = Tensor::randn([4, 1], &mut seeded_rng(7));
    let report = gradcheck(
        "sum_n",
        |v| sum_n(&[&v[0], &v[1], &v[2]]),
        &[a.clone(), b.clone(), c.clone()],
        &GradcheckOptions::default(),
    );
    eprintln!("{report}");
    assert!(report.passed(), "{report}");

    let (a, b, c) = (Var::leaf(a), Var::leaf(b), Var::constant(c));
    let grads = sum_n(&[&a, &b, &c]).sum().backward();
    assert_eq!(grads.get(&a).unwrap().data(), &[1.0; 12]);
    assert_eq!(
        grads.get(&b).unwrap().data(),
        &[4.0; 3],
        "summed over 4 rows"
    );
    assert!(grads.get(&c).is_none(), "constants get no gradient");
}
// ANCHOR_END: test_sum_n

/// The graph pictured in the engine chapter: one layer, a ReLU and a squared error.
// ANCHOR: engine_graph
fn engine_graph() -> Var<f64> {
    let x = Var::constant(Tensor::randn([4, 3], &mut seeded_rng(0))); // data
    let y = Var::constant(Tensor::randn([4, 2], &mut seeded_rng(1))); // targets
    let w = Var::leaf(Tensor::randn([3, 2], &mut seeded_rng(2))); // parameters
    let b = Var::leaf(Tensor::zeros([2]));
    let h = (&x.matmul(&w) + &b).relu();
    (&h - &y).square().mean()
}
// ANCHOR_END: engine_graph

/// Renames the node ids of `to_dot()` output to n0, n1, … in order of first appearance:
/// ids come from a process-wide counter, so they depend on what else ran before.
fn normalise_ids(dot: &str) -> String {
    let mut names: Vec<String> = Vec::new();
    let mut out = String::new();
    let mut rest = dot;
    while let Some(pos) = rest.find('n') {
        let (before, after) = rest.split_at(pos);
        out.push_str(before);
        let digits = after[1..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after.len() - 1);
        let prev_is_word = out.chars().last().is_some_and(|c| c.is_alphanumeric());
        if digits == 0 || prev_is_word {
            out.push('n');
            rest = &after[1..];
            continue;
        }
        let id = &after[1..1 + digits];
        let k = match names.iter().position(|n| n == id) {
            Some(k) => k,
            None => {
                names.push(id.to_string());
                names.len() - 1
            }
        };
        out.push_str(&format!("n{k}"));
        rest = &after[1 + digits..];
    }
    out.push_str(rest);
    out
}

/// `book/src/img/engine_graph.dot` is this graph's `to_dot()`; the SVG next to it is
/// rendered from it. To refresh both after changing the graph or `to_dot`:
///
/// ```sh
/// FERROGRAD_BLESS=1 cargo test --release --test custom_op engine_graph
/// dot -Tsvg book/src/img/engine_graph.dot -o book/src/img/engine_graph.svg
/// ```
#[test]
fn engine_graph_dot_is_the_committed_one() {
    let dot = normalise_ids(&engine_graph().to_dot());
    for op in ["matmul", "add", "relu", "sub", "square", "sum", "scale"] {
        assert!(dot.contains(op), "{op} missing from\n{dot}");
    }
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src/img/engine_graph.dot");
    if std::env::var_os("FERROGRAD_BLESS").is_some() {
        std::fs::write(&path, &dot).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        committed,
        dot,
        "{} is stale: rerun with FERROGRAD_BLESS=1 and re-render the SVG (see this test's doc)",
        path.display()
    );
}

#[test]
fn normalise_ids_renumbers_in_order_of_appearance() {
    let dot = "digraph ferrograd {\n  n17 [label=\"{leaf | [2]}\"];\n  n3 -> n17;\n}\n";
    assert_eq!(
        normalise_ids(dot),
        "digraph ferrograd {\n  n0 [label=\"{leaf | [2]}\"];\n  n1 -> n0;\n}\n"
    );
}
