//! The per-step pieces of training outside the GEMM — optimiser updates, losses,
//! log-softmax, gradient accumulation — each timed against a verbatim copy of the code it
//! replaced, in the same process.
//!
//! ```sh
//! cargo run --release --example bench_train_step            # the table
//! cargo run --release --example bench_train_step -- --reps 50
//! ```
//!
//! Old and new run alternately (old, new, old, new, ...) and each keeps its best time, so
//! noise from other processes on a shared machine hits both alike and mostly drops out of
//! the ratio. Every row also checks that both give the same numbers (bit for bit where
//! the change promises it). The last row times one whole training step of the MNIST
//! autoencoder (784-192-96, ReLU, batch 100: forward, backward, Adam) for scale.
//!
//! The "libm → vector exp" rows do not promise the same bits: `exp_in_place` and
//! `ln_in_place` are within 1 ulp of libm's `expf`/`logf` (both within 0.64 ulp of the
//! exact value), so a loss may move by a few ulps. Their check is a tolerance, printed
//! with the measured difference: |Δloss| ≤ 8ε·max(1, |loss|), and for values in [0, 1]
//! (softmax, and a gradient scaled by the batch: (softmax − onehot)/B) |Δ| ≤ 8ε, ε being
//! `f32::EPSILON`; log-softmax entries |Δ| ≤ 8ε·max(1, |y|).

use std::hint::black_box;
use std::time::Instant;

use clap::Parser;
use course::flags::count_in;
use course::probe::ProbeGradients;
use ferrograd::autograd::{Gradients, Reduction, Var};
use ferrograd::nn::optim::{Adam, AdamConfig, AdamW, Optimizer, Sgd, SgdConfig};
use ferrograd::nn::{Linear, Module, ReLU, Sequential};
use ferrograd::tensor::{exp_in_place, ln_in_place, Tensor};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

#[derive(Parser)]
#[command(about = "Old vs new code paths of a training step (interleaved, best of N)")]
struct Args {
    /// Timed repetitions of each path (best kept), 1 to 10000.
    #[arg(long, default_value_t = 30, value_parser = count_in(1, MAX_COUNT))]
    reps: usize,
    /// Calls per timed repetition, 1 to 10000.
    #[arg(long, default_value_t = 5, value_parser = count_in(1, MAX_COUNT))]
    inner: usize,
}

/// Largest accepted `--reps` and `--inner`: zero would time nothing (and leave the rows'
/// checks without outputs to compare); far larger would run for days.
const MAX_COUNT: usize = 10_000;

fn randn(dims: &[usize], rng: &mut SmallRng) -> Tensor<f32> {
    let n = dims.iter().product();
    Tensor::from_vec(
        (0..n)
            .map(|_| StandardNormal.sample(rng))
            .collect::<Vec<f32>>(),
        dims,
    )
}

/// Best-of-`reps` seconds per call of `old` and `new`, run alternately.
fn race(args: &Args, mut old: impl FnMut(), mut new: impl FnMut()) -> (f64, f64) {
    let (mut best_old, mut best_new) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..args.reps {
        let t = Instant::now();
        for _ in 0..args.inner {
            old();
        }
        best_old = best_old.min(t.elapsed().as_secs_f64() / args.inner as f64);
        let t = Instant::now();
        for _ in 0..args.inner {
            new();
        }
        best_new = best_new.min(t.elapsed().as_secs_f64() / args.inner as f64);
    }
    (best_old, best_new)
}

fn row(name: &str, (old, new): (f64, f64), check: &str) {
    println!(
        "{name:<44} {:>10.2} {:>10.2} {:>7.2}x  {check}",
        old * 1e6,
        new * 1e6,
        old / new
    );
}

// ---- The replaced code, verbatim (modulo being free functions) ----------------------

/// Adam/AdamW state of the old code: one tensor pair per parameter.
struct OldAdam {
    m: Vec<Tensor<f32>>,
    v: Vec<Tensor<f32>>,
    step: i32,
}

/// The old `AdamCore::step` loop: a separate decay pass for AdamW, then the update.
#[allow(clippy::too_many_arguments)]
fn old_adam_step(
    params: &[Var<f32>],
    grads: &[Tensor<f32>],
    s: &mut OldAdam,
    c: AdamConfig,
    decoupled: bool,
) {
    let (b1, b2) = (c.betas.0 as f32, c.betas.1 as f32);
    let (lr, eps, wd) = (c.lr as f32, c.eps as f32, c.weight_decay as f32);
    s.step += 1;
    for (((p, grad), m), v) in params.iter().zip(grads).zip(&mut s.m).zip(&mut s.v) {
        let mut p = p.value_mut();
        if c.weight_decay != 0.0 && decoupled {
            p.map_inplace(|x| x * (1.0 - lr * wd));
        }
        let bias_correction1 = 1.0 - b1.powi(s.step);
        let bias_correction2_sqrt = (1.0 - b2.powi(s.step)).sqrt();
        let step_size = lr / bias_correction1;
        let l2 = if decoupled { 0.0 } else { wd };
        for (((x, &g), m), v) in p
            .data_mut()
            .iter_mut()
            .zip(grad.data())
            .zip(m.data_mut())
            .zip(v.data_mut())
        {
            let g = g + l2 * *x;
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            let denom = v.sqrt() / bias_correction2_sqrt + eps;
            *x -= step_size * *m / denom;
        }
    }
}

/// The old `Sgd::step`: clone the gradient, then one tensor op per option.
fn old_sgd_step(
    params: &[Var<f32>],
    grads: &[Tensor<f32>],
    bufs: &mut [Option<Tensor<f32>>],
    c: SgdConfig,
) {
    let (lr, wd, mu) = (c.lr as f32, c.weight_decay as f32, c.momentum as f32);
    let damp = (1.0 - c.dampening) as f32;
    for ((p, grad), buf) in params.iter().zip(grads).zip(bufs) {
        let mut p = p.value_mut();
        let mut g = grad.clone();
        if c.weight_decay != 0.0 {
            g.add_scaled_(wd, &p);
        }
        if c.momentum != 0.0 {
            let b = match buf {
                None => buf.insert(g.clone()),
                Some(b) => {
                    for (b, &gi) in b.data_mut().iter_mut().zip(g.data()) {
                        *b = mu * *b + damp * gi;
                    }
                    b
                }
            };
            if c.nesterov {
                g.add_scaled_(mu, b);
            } else {
                g.data_mut().copy_from_slice(b.data());
            }
        }
        p.add_scaled_(-lr, &g);
    }
}

/// The old cross-entropy: log-softmax forward, exp of it again in backward.
fn old_cross_entropy(x: &Var<f32>, targets: &[usize]) -> Var<f32> {
    let classes = x.value().cols();
    let log_p = x.value().log_softmax();
    let batch = targets.len() as f32;
    let nll: f32 = targets
        .iter()
        .enumerate()
        .map(|(r, &t)| -log_p.data()[r * classes + t])
        .sum();
    let targets = targets.to_vec();
    Var::from_op(
        "cross_entropy",
        Tensor::scalar(nll / batch),
        &[x],
        move |ctx, sink| {
            let k = ctx.grad_out.item() / batch;
            let mut g = log_p.map(|l| l.exp() * k);
            for (r, &t) in targets.iter().enumerate() {
                g.data_mut()[r * classes + t] -= k;
            }
            sink.add(0, g);
        },
    )
}

/// The old log-softmax: backward exponentiates the output.
fn old_log_softmax(x: &Var<f32>) -> Var<f32> {
    let value = x.value().log_softmax();
    Var::from_op("log_softmax", value, &[x], |ctx, sink| {
        let y = ctx.output;
        let n = y.dims().last().copied().unwrap_or(1).max(1);
        let mut grad = Vec::with_capacity(y.numel());
        for (yr, gr) in y
            .data()
            .chunks_exact(n)
            .zip(ctx.grad_out.data().chunks_exact(n))
        {
            let total: f32 = gr.iter().copied().sum();
            grad.extend(yr.iter().zip(gr).map(|(&y, &g)| g - y.exp() * total));
        }
        sink.add(0, Tensor::from_vec(grad, y.shape()));
    })
}

/// The old mse forward: one serial sum of squares.
fn old_mse(x: &Var<f32>, y: &Var<f32>) -> Var<f32> {
    let sq: f32 = x
        .value()
        .data()
        .iter()
        .zip(y.value().data())
        .map(|(&a, &b)| (a - b) * (a - b))
        .sum();
    Var::from_op("mse_loss", Tensor::scalar(sq), &[x, y], move |ctx, sink| {
        let (x, y) = (ctx.input(0), ctx.input(1));
        let k = 2.0 * ctx.grad_out.item();
        let diff = x.zip_with(&y, "mse_backward", |a, b| (a - b) * k);
        if sink.wants(1) {
            sink.add(1, -&diff);
        }
        sink.add(0, diff);
    })
}

/// The cross-entropy before `exp_in_place`: the same fused pass, one libm `exp` per logit
/// and one `ln` per row, row by row.
fn scalar_exp_cross_entropy(x: &Var<f32>, targets: &[usize]) -> Var<f32> {
    let x_value = x.value();
    let classes = x_value.cols();
    let mut e = Vec::with_capacity(x_value.numel());
    let mut inv_totals = Vec::with_capacity(targets.len());
    let mut nll = 0.0f32;
    for (row, &t) in x_value.data().chunks_exact(classes.max(1)).zip(targets) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let start = e.len();
        e.extend(row.iter().map(|&v| (v - max).exp()));
        let total: f32 = e[start..].iter().copied().sum();
        // −((x[t] − max) − ln total), the same rounding as negating log_softmax's entry.
        nll += -((row[t] - max) - total.ln());
        inv_totals.push(1.0 / total);
    }
    drop(x_value);
    let batch = targets.len() as f32;
    let targets = targets.to_vec();
    Var::from_op(
        "cross_entropy",
        Tensor::scalar(nll / batch),
        &[x],
        move |ctx, sink| {
            let k = ctx.grad_out.item() / batch;
            // (softmax − onehot)·k, with softmax = e · (1/total) of each row.
            let mut g = Vec::with_capacity(e.len());
            for (row, &inv) in e.chunks_exact(classes.max(1)).zip(&inv_totals) {
                let s = inv * k;
                g.extend(row.iter().map(|&v| v * s));
            }
            for (r, &t) in targets.iter().enumerate() {
                g[r * classes + t] -= k;
            }
            sink.add(0, Tensor::from_vec(g, [targets.len(), classes]));
        },
    )
}

/// `Tensor::softmax` before `exp_in_place`: libm `exp` per element, row by row.
fn scalar_exp_softmax(t: &Tensor<f32>) -> Tensor<f32> {
    let mut out = t.clone();
    let n = t.dims().last().copied().unwrap_or(1);
    if n == 0 {
        return out;
    }
    for row in out.data_mut().chunks_exact_mut(n) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut total = 0.0;
        for x in row.iter_mut() {
            *x = (*x - max).exp();
            total += *x;
        }
        let inv = 1.0 / total;
        for x in row.iter_mut() {
            *x *= inv;
        }
    }
    out
}

/// `Tensor::log_softmax` before `exp_in_place`/`ln_in_place`.
fn scalar_exp_log_softmax(t: &Tensor<f32>) -> Tensor<f32> {
    let mut out = t.clone();
    let n = t.dims().last().copied().unwrap_or(1);
    if n == 0 {
        return out;
    }
    for row in out.data_mut().chunks_exact_mut(n) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let total: f32 = row.iter().map(|&x| (x - max).exp()).sum();
        let log_total = total.ln();
        for x in row.iter_mut() {
            *x = (*x - max) - log_total;
        }
    }
    out
}

// ---- Harness -------------------------------------------------------------------------

fn mnist_autoencoder(rng: &mut SmallRng) -> Sequential<f32> {
    Sequential::new()
        .with(Linear::<f32>::new(784, 192, true, rng))
        .with(ReLU)
        .with(Linear::<f32>::new(192, 96, true, rng))
        .with(Linear::<f32>::new(96, 192, true, rng))
        .with(ReLU)
        .with(Linear::<f32>::new(192, 784, true, rng))
}

fn copies(params: &[Var<f32>]) -> Vec<Var<f32>> {
    params
        .iter()
        .map(|p| Var::leaf(p.value().clone()))
        .collect()
}

fn same_bits(a: &[Var<f32>], b: &[Var<f32>]) -> bool {
    a.iter().zip(b).all(|(a, b)| {
        a.value()
            .data()
            .iter()
            .zip(b.value().data())
            .all(|(x, y)| x.to_bits() == y.to_bits())
    })
}

/// The libm → vector exp tolerance (see the module doc): "within 8ε" or "OUT OF
/// TOLERANCE", with the measured worst difference in units of ε.
fn within_8_eps(name: &str, a: &[f32], b: &[f32]) -> String {
    let worst = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x - y).abs() / (f32::EPSILON * x.abs().max(1.0)))
        .fold(0.0f32, f32::max);
    let verdict = if worst <= 8.0 {
        "ok"
    } else {
        "OUT OF TOLERANCE"
    };
    format!("{name} {worst:.1}ε {verdict}")
}

/// The largest distance in ulps between libm's results `a` and ours `b` (same signs).
fn ulps_check(a: &[f32], b: &[f32]) -> String {
    let worst = a
        .iter()
        .zip(b)
        .map(|(x, y)| x.to_bits().abs_diff(y.to_bits()))
        .max()
        .unwrap_or(0);
    let verdict = if worst <= 1 { "ok" } else { "OUT OF TOLERANCE" };
    format!("≤ {worst} ulp from libm {verdict}")
}

/// Races libm's `scalar`, applied element by element, against the vector `in_place` on
/// fresh copies of `x0`, returning the times and the ulp check of the two results.
fn race_in_place(
    args: &Args,
    x0: &[f32],
    scalar: fn(f32) -> f32,
    in_place: fn(&mut [f32]),
) -> ((f64, f64), String) {
    let (mut x, mut y) = (x0.to_vec(), x0.to_vec());
    let t = race(
        args,
        || {
            x.copy_from_slice(x0);
            x.iter_mut().for_each(|v| *v = scalar(*v));
        },
        || {
            y.copy_from_slice(x0);
            in_place(&mut y);
        },
    );
    (t, ulps_check(&x, &y))
}

/// Races `old` against `Var::cross_entropy` (forward and backward) on `x`, returning the
/// times, both losses and both gradients.
fn race_cross_entropy(
    args: &Args,
    x: &Var<f32>,
    targets: &[usize],
    old: fn(&Var<f32>, &[usize]) -> Var<f32>,
) -> ((f64, f64), f32, f32, Tensor<f32>, Tensor<f32>) {
    let (mut lo, mut ln, mut go, mut gn) = (0.0, 0.0, None, None);
    let t = race(
        args,
        || {
            let l = old(x, targets);
            lo = l.item();
            go = l.backward().remove(x);
        },
        || {
            let l = x.cross_entropy(targets);
            ln = l.item();
            gn = l.backward().remove(x);
        },
    );
    (
        t,
        lo,
        ln,
        go.expect("old gradient"),
        gn.expect("new gradient"),
    )
}

fn max_rel(a: &Tensor<f32>, b: &Tensor<f32>) -> f64 {
    a.data()
        .iter()
        .zip(b.data())
        .map(|(&x, &y)| ((x - y).abs() / x.abs().max(y.abs()).max(1e-30)) as f64)
        .fold(0.0, f64::max)
}

fn main() {
    let args = Args::parse();
    course::check_gemm_env();
    let mut rng = SmallRng::seed_from_u64(7);
    println!(
        "{:<44} {:>10} {:>10} {:>8}  check",
        "µs per call (best of reps)", "old", "new", "old/new"
    );

    // Optimisers over the MNIST autoencoder's 338 k parameters, with fixed gradients.
    let model = mnist_autoencoder(&mut rng);
    let params = model.parameters();
    let grads: Vec<Tensor<f32>> = params
        .iter()
        .map(|p| randn(p.value().dims(), &mut rng).scale(1e-3))
        .collect();
    let grads_of = |ps: &[Var<f32>]| {
        // A Gradients store holding `grads` for `ps`: the backward of Σ p ⊙ g.
        let mut loss = (&ps[0] * &Var::constant(grads[0].clone())).sum();
        for (p, g) in ps.iter().zip(&grads).skip(1) {
            loss = &loss + &(p * &Var::constant(g.clone())).sum();
        }
        loss.backward()
    };
    for (name, cfg, decoupled) in [
        ("Adam step (338k params)", AdamConfig::new(1e-3), false),
        (
            "AdamW step, wd 0.01",
            AdamConfig::new(1e-3).weight_decay(0.01),
            true,
        ),
    ] {
        let (po, pn) = (copies(&params), copies(&params));
        let gn = grads_of(&pn);
        let mut old_state = OldAdam {
            m: grads.iter().map(Tensor::zeros_like).collect(),
            v: grads.iter().map(Tensor::zeros_like).collect(),
            step: 0,
        };
        let mut opt: Box<dyn Optimizer<f32>> = if decoupled {
            Box::new(AdamW::new(pn.clone(), cfg))
        } else {
            Box::new(Adam::new(pn.clone(), cfg))
        };
        let t = race(
            &args,
            || old_adam_step(&po, &grads, &mut old_state, cfg, decoupled),
            || opt.step(&gn),
        );
        let ok = same_bits(&po, &pn);
        row(name, t, if ok { "same bits" } else { "DIFFERENT" });
    }
    {
        let cfg = SgdConfig::new(1e-2)
            .momentum(0.9)
            .nesterov(true)
            .weight_decay(1e-4);
        let (po, pn) = (copies(&params), copies(&params));
        let gn = grads_of(&pn);
        let mut bufs = vec![None; po.len()];
        let mut opt = Sgd::new(pn.clone(), cfg);
        let t = race(
            &args,
            || old_sgd_step(&po, &grads, &mut bufs, cfg),
            || opt.step(&gn),
        );
        let ok = same_bits(&po, &pn);
        row(
            "SGD step, momentum+Nesterov+wd",
            t,
            if ok { "same bits" } else { "DIFFERENT" },
        );
    }
    {
        let (mut a, b) = (randn(&[192, 784], &mut rng), randn(&[192, 784], &mut rng));
        let mut a2 = a.clone();
        let t = race(
            &args,
            || {
                for (x, &y) in a.data_mut().iter_mut().zip(b.data()) {
                    *x = 1e-3f32.mul_add(y, *x);
                }
            },
            || a2.add_scaled_(1e-3, &b),
        );
        let ok = a == a2;
        row(
            "add_scaled_ [192, 784] (grad accumulation)",
            t,
            if ok { "same bits" } else { "DIFFERENT" },
        );
    }

    // Losses and log-softmax: forward + backward, on a probe batch and an MNIST batch.
    for &(b, c) in &[(200usize, 2usize), (200, 10), (100, 784)] {
        let x = Var::leaf(randn(&[b, c], &mut rng).scale(3.0));
        let targets: Vec<usize> = (0..b).map(|i| (i * 7) % c).collect();
        let (t, lo, ln, go, gn) = race_cross_entropy(&args, &x, &targets, old_cross_entropy);
        let rel = max_rel(&go, &gn);
        let check = format!(
            "loss {}, grad max rel diff {rel:.1e}",
            if lo.to_bits() == ln.to_bits() {
                "same bits"
            } else {
                "DIFFERENT"
            }
        );
        row(&format!("cross_entropy fwd+bwd [{b}, {c}]"), t, &check);

        let w = Var::constant(randn(&[b, c], &mut rng));
        let (mut go, mut gn) = (None, None);
        let t = race(
            &args,
            || {
                go = (&old_log_softmax(&x) * &w).sum().backward().remove(&x);
            },
            || {
                gn = (&x.log_softmax() * &w).sum().backward().remove(&x);
            },
        );
        let rel = max_rel(go.as_ref().unwrap(), gn.as_ref().unwrap());
        row(
            &format!("log_softmax fwd+bwd [{b}, {c}] (+ mul, sum)"),
            t,
            &format!("grad max rel diff {rel:.1e}"),
        );
    }
    // libm's scalar exp → exp_in_place / ln_in_place (tolerance checks, see the top).
    {
        let x0 = randn(&[400], &mut rng).scale(3.0).data().to_vec();
        let (t, check) = race_in_place(&args, &x0, f32::exp, exp_in_place);
        row("exp of 400 f32 (libm → vector exp)", t, &check);
        let x0: Vec<f32> = x0.iter().map(|v| v.exp() * 10.0).collect();
        let (t, check) = race_in_place(&args, &x0, f32::ln, ln_in_place);
        row("ln of 400 f32 (libm → vector ln)", t, &check);
    }
    for &(b, c) in &[(200usize, 2usize), (100, 10)] {
        let x = Var::leaf(randn(&[b, c], &mut rng).scale(3.0));
        let targets: Vec<usize> = (0..b).map(|i| (i * 7) % c).collect();
        let (t, lo, ln, go, gn) = race_cross_entropy(&args, &x, &targets, scalar_exp_cross_entropy);
        // The gradient is (softmax − onehot)/B: times B, its entries are in [−1, 1].
        let scaled = |g: &Tensor<f32>| g.scale(b as f32).data().to_vec();
        let check = format!(
            "{}, {}",
            within_8_eps("loss", &[lo], &[ln]),
            within_8_eps("B·grad", &scaled(&go), &scaled(&gn))
        );
        row(
            &format!("cross_entropy fwd+bwd [{b}, {c}], libm → vec"),
            t,
            &check,
        );
    }
    for &(b, c) in &[(200usize, 2usize), (100, 10), (100, 784)] {
        let x = randn(&[b, c], &mut rng).scale(3.0);
        let (mut so, mut sn) = (x.clone(), x.clone());
        let t = race(&args, || so = scalar_exp_softmax(&x), || sn = x.softmax());
        let check = within_8_eps("softmax", so.data(), sn.data());
        row(
            &format!("Tensor::softmax [{b}, {c}], libm → vec"),
            t,
            &check,
        );
        let t = race(
            &args,
            || so = scalar_exp_log_softmax(&x),
            || sn = x.log_softmax(),
        );
        let check = within_8_eps("log_softmax", so.data(), sn.data());
        row(
            &format!("Tensor::log_softmax [{b}, {c}], libm → vec"),
            t,
            &check,
        );
    }
    {
        let x = Var::leaf(randn(&[100, 784], &mut rng));
        let y = Var::constant(randn(&[100, 784], &mut rng));
        let (mut lo, mut ln) = (0.0f32, 0.0f32);
        let t = race(
            &args,
            || {
                let l = old_mse(&x, &y);
                lo = l.item();
                black_box(l.backward());
            },
            || {
                let l = x.mse_loss(&y, Reduction::Sum);
                ln = l.item();
                black_box(l.backward());
            },
        );
        row(
            "mse_loss (sum) fwd+bwd [100, 784]",
            t,
            &format!("loss rel diff {:.1e}", ((lo - ln) / lo).abs()),
        );
    }

    // A probe's Adam step: the graph (linear, cross-entropy, backward) against the
    // gradient written out by hand (`course::probe`), which promises the same bits.
    for &(b, f, c) in &[(200usize, 5usize, 2usize), (200, 500, 2), (200, 96, 10)] {
        let x = randn(&[b, f], &mut rng);
        let xv = Var::constant(x.clone());
        let targets: Vec<usize> = (0..b).map(|i| (i * 7) % c).collect();
        let by_graph = Linear::<f32>::new(f, c, true, &mut SmallRng::seed_from_u64(5));
        let by_hand = Linear::<f32>::new(f, c, true, &mut SmallRng::seed_from_u64(5));
        let mut opt_graph = Adam::new(by_graph.parameters(), AdamConfig::new(1e-3));
        let mut opt_hand = Adam::new(by_hand.parameters(), AdamConfig::new(1e-3));
        let (mut g_graph, mut g_hand) = (Gradients::new(), Gradients::new());
        let mut buffers = ProbeGradients::new();
        let t = race(
            &args,
            || {
                let loss = by_graph.forward(&xv).cross_entropy(&targets);
                loss.backward_into(&mut g_graph);
                opt_graph.step(&g_graph);
            },
            || {
                buffers.compute(&by_hand, &x, &targets, &mut g_hand);
                opt_hand.step(&g_hand);
            },
        );
        let ok = same_bits(&by_graph.parameters(), &by_hand.parameters());
        row(
            &format!("probe step [{b}, {f}] → {c}, graph → by hand"),
            t,
            if ok { "same bits" } else { "DIFFERENT" },
        );
    }

    // One whole training step, for scale (new code only).
    {
        let mut opt = Adam::new(model.parameters(), AdamConfig::new(1e-3));
        let x = Var::constant(randn(&[100, 784], &mut rng));
        let mut step = || {
            let loss = course::autoencoder::squared_error_per_sample(&model.forward(&x), &x);
            opt.step(&loss.backward());
        };
        let t = race(&args, || {}, &mut step);
        println!(
            "{:<44} {:>10} {:>10.1}            (forward + backward + Adam)",
            "MNIST AE train step, batch 100",
            "",
            t.1 * 1e6
        );
    }
}
