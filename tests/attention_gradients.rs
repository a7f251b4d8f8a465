//! Gradients of attention, and of graphs shaped like real models.
//!
//! Argmax attention `one_hot(argmax(q kᵀ)) v` is piecewise constant in q and k: away from
//! ties, no small change of q or k changes which key wins, so ∂out/∂q = ∂out/∂k = 0
//! exactly — analytically (the graph does not reach q, k) and numerically (the perturbed
//! output is bit-for-bit the same). Only v gets a gradient, which is why argmax attention
//! cannot learn its queries and keys and softmax attention, whose q and k gradients are
//! non-zero, can.
//!
//! The other tests gradcheck composite graphs: a value used many times, diamonds with a
//! shared intermediate node, broadcasting in both operands, and a 2-layer MLP whose
//! first layer is applied twice (tied weights).

mod common;

use common::{argmax_attention, quadratic_kernel_attention, softmax_attention};
use ferrograd::autograd::{assert_gradcheck, gradcheck, GradcheckOptions, Var};
use ferrograd::tensor::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn randn(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::randn(shape, &mut StdRng::seed_from_u64(seed))
}

fn max_abs(t: &Tensor<f64>) -> f64 {
    t.data().iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// Queries [5, 8], keys [7, 8], values [7, 4].
fn qkv() -> [Tensor<f64>; 3] {
    [
        randn(&[5, 8], 201),
        randn(&[7, 8], 202),
        randn(&[7, 4], 203),
    ]
}

/// The smallest gap, over rows of q kᵀ, between the best and the second-best score.
fn min_score_margin(q: &Tensor<f64>, k: &Tensor<f64>) -> f64 {
    let scores = q.matmul_t(false, k, true);
    (0..scores.rows())
        .map(|r| {
            let mut row = scores.row(r).to_vec();
            row.sort_by(|a, b| b.total_cmp(a));
            row[0] - row[1]
        })
        .fold(f64::INFINITY, f64::min)
}

#[test]
fn argmax_attention_has_exactly_zero_gradient_wrt_q_and_k() {
    let [q, k, v] = qkv();
    // A perturbation of ε = 1e-6 in one element of q (or k) moves a score by at most
    // ε · max|k| (or ε · max|q|) < 1e-5: far below the margin, so no winner can change.
    let margin = min_score_margin(&q, &k);
    assert!(
        margin > 1e-3,
        "inputs too close to a tie: margin {margin:e}"
    );

    let (ql, kl, vl) = (
        Var::leaf(q.clone()),
        Var::leaf(k.clone()),
        Var::leaf(v.clone()),
    );
    let out = argmax_attention(&ql, &kl, &vl);
    let upstream = randn(&[5, 4], 204);
    let grads = out.backward_with(upstream.clone());
    assert!(grads.get(&ql).is_none() && grads.get(&kl).is_none());
    assert!(grads.get_or_zeros(&ql).data().iter().all(|&g| g == 0.0));
    assert!(grads.get_or_zeros(&kl).data().iter().all(|&g| g == 0.0));
    // ∂/∂v = one_hotᵀ · upstream: each key's value receives the upstream rows of the
    // queries it won.
    let winners = q.matmul_t(false, &k, true).argmax_axis(1);
    let expected = Tensor::one_hot(&winners, 7).matmul_t(true, &upstream, false);
    let gv = grads.get(&vl).expect("v gets a gradient");
    assert!(gv.max_abs_diff(&expected) < 1e-14);
    assert!(max_abs(gv) > 0.1, "v's gradient is not zero");

    // Numerically: the central difference for every element of q and k is exactly 0 (the
    // output does not change by a single bit), and v's gradient passes the check.
    let report = gradcheck(
        "argmax attention",
        |x| argmax_attention(&x[0], &x[1], &x[2]),
        &[q, k, v],
        &GradcheckOptions::default(),
    );
    eprintln!("{report}");
    report.assert_passed();
    assert_eq!(report.inputs[0].max_abs_err, 0.0, "numeric ∂/∂q must be 0");
    assert_eq!(report.inputs[1].max_abs_err, 0.0, "numeric ∂/∂k must be 0");
}

#[test]
fn softmax_attention_has_nonzero_gradients_that_pass_gradcheck() {
    let [q, k, v] = qkv();
    let (ql, kl, vl) = (
        Var::leaf(q.clone()),
        Var::leaf(k.clone()),
        Var::leaf(v.clone()),
    );
    let grads = softmax_attention(&ql, &kl, &vl).backward_with(randn(&[5, 4], 204));
    for (name, leaf) in [("q", &ql), ("k", &kl), ("v", &vl)] {
        let g = grads.get_or_zeros(leaf);
        assert!(max_abs(&g) > 1e-2, "∂/∂{name} should be non-zero: {g:?}");
    }
    let report = assert_gradcheck(
        "softmax attention",
        |x| softmax_attention(&x[0], &x[1], &x[2]),
        &[q, k, v],
    );
    eprintln!("{report}");
}

#[test]
fn softmax_attention_tends_to_argmax_attention_as_temperature_goes_to_zero() {
    // softmax(β q kᵀ) v → one_hot(argmax q kᵀ) v as β → ∞, and its q, k gradients,
    // of order β e^(−β·margin), vanish: argmax attention is the zero-temperature limit.
    let [q, k, v] = qkv().map(Var::constant);
    let ql = Var::leaf(q.value().clone());
    let hard = argmax_attention(&q, &k, &v);
    let margin = min_score_margin(&q.value(), &k.value());
    let mut last_grad = f64::INFINITY;
    for beta_margin in [1.0, 5.0, 20.0, 60.0] {
        let beta = beta_margin / margin;
        let soft = ql
            .matmul_t(false, &k, true)
            .scale(beta)
            .softmax()
            .matmul(&v);
        let gap = soft.value().max_abs_diff(&hard.value());
        let gq = max_abs(&soft.sum().backward().get_or_zeros(&ql));
        eprintln!("beta*margin {beta_margin:>4}: |soft - hard| {gap:.2e}, max|dq| {gq:.2e}");
        assert!(gq < last_grad || gq < 1e-20, "q's gradient should shrink");
        last_grad = gq;
        if beta_margin == 60.0 {
            assert!(gap < 1e-12 && gq < 1e-12, "gap {gap:e}, grad {gq:e}");
        }
    }
}

#[test]
fn value_used_many_times_gets_every_contribution() {
    // x appears in 6 places; the gradient of the shared leaf must equal the sum of the
    // gradients of 6 distinct copies, and pass gradcheck.
    let f = |x: [&Var<f64>; 6]| {
        let a = x[0] * x[1];
        let b = &x[2].exp() * x[3];
        let c = x[4].matmul_t(false, x[5], true); // x xᵀ
        (&(&a + &b).sum_axis(1, true) * &c.softmax().sum_axis(1, true)).sum() + a.mean()
    };
    let x = randn(&[3, 4], 211);
    let shared = Var::leaf(x.clone());
    let g_shared = f([&shared; 6]).backward().remove(&shared).unwrap();
    let copies: Vec<_> = (0..6).map(|_| Var::leaf(x.clone())).collect();
    let grads = f(std::array::from_fn(|i| &copies[i])).backward();
    let mut total = Tensor::zeros([3, 4]);
    for c in &copies {
        total.add_scaled_(1.0, grads.get(c).unwrap());
    }
    assert!(g_shared.max_abs_diff(&total) < 1e-13);
    assert_gradcheck("x used 6 times", |v| f([&v[0]; 6]), &[x]);
}

#[test]
fn diamonds_with_shared_intermediate_nodes() {
    // h is an intermediate (non-leaf) node read by three branches that meet again, and
    // a second diamond sits on top (with a skip connection back to h): h's backward may
    // run only after all of its consumers have added their contributions.
    let f = |v: &[Var<f64>]| {
        let h = v[0].matmul(&v[1]).tanh(); // [4, 5]
        let a = h.sigmoid();
        let b = h.square();
        let c = h.t().t();
        let d = &(&a * &b) + &c; // first diamond: h → a, b, c → d
        let e = d.relu();
        let f = d.exp();
        (&(&e * &f) + &h).log_softmax().sum_axis(0, false) // second: d → e, f; skip from h
    };
    let (x, w) = (randn(&[4, 3], 221), randn(&[3, 5], 222));
    assert_gradcheck("diamonds", f, &[x, w]);
}

#[test]
fn broadcasting_in_both_operands_composite() {
    // col [4, 1] and row [1, 6] broadcast against each other, a bias [6] against the
    // [4, 6] result; every gradient comes back in its operand's shape.
    let f = |v: &[Var<f64>]| {
        let (col, row, bias) = (&v[0], &v[1], &v[2]);
        let outer = col * row;
        let ratio = &outer / &row.exp();
        ((&(&ratio + bias) - col).tanh() * &(row - col).sigmoid()).sum_axis(1, false)
    };
    let inputs = [randn(&[4, 1], 231), randn(&[1, 6], 232), randn(&[6], 233)];
    let leaves: Vec<_> = inputs.iter().cloned().map(Var::leaf).collect();
    let grads = f(&leaves).sum().backward();
    for (leaf, input) in leaves.iter().zip(&inputs) {
        assert_eq!(grads.get(leaf).unwrap().shape(), input.shape());
    }
    assert_gradcheck("broadcast composite", f, &inputs);
}

/// A 2-layer MLP whose first layer (w1, b1) is applied twice:
/// logits = W2 · tanh(W1 · tanh(W1 x + b1) + b1) + b2, trained with cross-entropy.
/// `layer1b` lets the second application use separate (untied) parameters.
fn mlp_loss(
    x: &Var<f64>,
    layer1a: (&Var<f64>, &Var<f64>),
    layer1b: (&Var<f64>, &Var<f64>),
    layer2: (&Var<f64>, &Var<f64>),
) -> Var<f64> {
    let h1 = x.linear(layer1a.0, Some(layer1a.1)).tanh();
    let h2 = h1.linear(layer1b.0, Some(layer1b.1)).tanh();
    h2.linear(layer2.0, Some(layer2.1))
        .cross_entropy(&[0, 2, 1, 2, 0, 1])
}

#[test]
fn mlp_with_weights_shared_between_two_layers() {
    let x = randn(&[6, 5], 241);
    let (w1, b1) = (randn(&[5, 5], 242).scale(0.5), randn(&[5], 243));
    let (w2, b2) = (randn(&[3, 5], 244), randn(&[3], 245));
    let report = assert_gradcheck(
        "MLP with tied first layer",
        |v| mlp_loss(&v[0], (&v[1], &v[2]), (&v[1], &v[2]), (&v[3], &v[4])),
        &[x.clone(), w1.clone(), b1.clone(), w2.clone(), b2.clone()],
    );
    eprintln!("{report}");

    // Tied gradient = sum of the two untied ones.
    let leaf = |t: &Tensor<f64>| Var::leaf(t.clone());
    let (xv, w1v, b1v, w2v, b2v) = (leaf(&x), leaf(&w1), leaf(&b1), leaf(&w2), leaf(&b2));
    let tied = mlp_loss(&xv, (&w1v, &b1v), (&w1v, &b1v), (&w2v, &b2v)).backward();
    let (w1a, b1a, w1b, b1b) = (leaf(&w1), leaf(&b1), leaf(&w1), leaf(&b1));
    let untied = mlp_loss(&xv, (&w1a, &b1a), (&w1b, &b1b), (&w2v, &b2v)).backward();
    let sum = |a: &Var<f64>, b: &Var<f64>| {
        let mut s = untied.get(a).unwrap().clone();
        s.add_scaled_(1.0, untied.get(b).unwrap());
        s
    };
    assert!(tied.get(&w1v).unwrap().max_abs_diff(&sum(&w1a, &w1b)) < 1e-14);
    assert!(tied.get(&b1v).unwrap().max_abs_diff(&sum(&b1a, &b1b)) < 1e-14);
    assert!(max_abs(untied.get(&w1a).unwrap()) > 1e-3 && max_abs(untied.get(&w1b).unwrap()) > 1e-3);
}

#[test]
fn quadratic_kernel_attention_with_as_many_queries_as_value_columns() {
    // out [4, 4] = (S v) / rowsum(S): the [4, 1] denominator has as many elements as a
    // row of the output, which once made the division broadcast it along the wrong axis.
    let (q, k, v) = (
        randn(&[4, 8], 251),
        randn(&[6, 8], 252),
        randn(&[6, 4], 253),
    );
    let out = quadratic_kernel_attention(
        &Var::constant(q.clone()),
        &Var::constant(k.clone()),
        &Var::constant(v.clone()),
    );
    let expected = Tensor::from_fn([4, 4], |flat| {
        let (i, c) = (flat / 4, flat % 4);
        let sim = |j: usize| {
            let dot: f64 = q.row(i).iter().zip(k.row(j)).map(|(a, b)| a * b).sum();
            (dot + 1.0).powi(2)
        };
        let num: f64 = (0..6).map(|j| sim(j) * v.row(j)[c]).sum();
        let den: f64 = (0..6).map(sim).sum();
        num / den
    });
    assert!(out.value().max_abs_diff(&expected) < 1e-12);
    assert_gradcheck(
        "quadratic kernel attention, square output",
        |x| quadratic_kernel_attention(&x[0], &x[1], &x[2]),
        &[q, k, v],
    );
}
