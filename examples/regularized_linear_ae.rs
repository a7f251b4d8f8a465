//! The l2-regularised linear autoencoder: weight decay picks out the principal directions.
//!
//! The homework's objective, for zero-centred data `X` (`m` features × `n` samples as
//! columns), encoder `W1` (k×m) and decoder `W2` (m×k):
//!
//! ```text
//!     J(W1, W2) = (1/n) ‖X − W2 W1 X‖_F² + λ ‖W1‖_F² + λ ‖W2‖_F²
//! ```
//!
//! (a) The choices, each forced by a term of J:
//!
//!     - **model**: two bias-free linear layers, `Sequential(Linear(m, k, bias=False),
//!       Linear(k, m, bias=False))` — J has no biases and no non-linearity, so neither
//!       does the model (the data are centred, so a bias would have nothing to fit);
//!     - **loss**: `MSELoss()` — the data term of J is a squared reconstruction error;
//!     - **regulariser**: weight decay — the `λ‖W1‖² + λ‖W2‖²` terms are exactly what
//!       L2 weight decay adds to the gradient;
//!     - **optimiser**: plain `SGD` (full batch, no momentum) — with weight decay its step
//!       is exactly a gradient step on J (checked below). Adam would share J's stationary
//!       points but not its steps (its decay is rescaled by the adaptive denominator), and
//!       AdamW's decoupled decay moves the stationary points themselves.
//!
//!     No dropout, LayerNorm or BatchNorm: each would change the objective, not help
//!     minimise it. Dropout on the code makes the expected loss J plus a data-dependent
//!     penalty on the code's units (a different optimum); LayerNorm
//!     or BatchNorm would renormalise the code, making the model non-linear and invariant
//!     to the scale of W1, so the `λ‖W1‖²` term would no longer trade off against the
//!     reconstruction the way J says. J is minimised as written, so the model is J's.
//!
//!     The constants that make SGD take *exactly* a gradient step of size η on J:
//!
//!     - `nn.Linear` wants samples as rows, so the model sees `Xᵀ` (`n × m`) and
//!       reconstructs `Xᵀ W1ᵀ W2ᵀ = (W2 W1 X)ᵀ`.
//!     - `MSELoss()` averages over all `n·m` entries: `MSE = (1/(n m)) ‖X − W2W1X‖_F²`, so
//!       J's data term is `m · MSE`.
//!     - `SGD(lr, weight_decay = wd)` steps `W ← W − lr (∇MSE + wd W)`, i.e. it descends
//!       `MSE + (wd/2)(‖W1‖² + ‖W2‖²)`.
//!     - A gradient step on J is `W ← W − η (m ∇MSE + 2λ W) = W − (m η)(∇MSE + (2λ/m) W)`.
//!
//!     Hence **`lr = m·η`, `weight_decay = 2λ/m`** with the loss `MSELoss()` as is (SGD then
//!     minimises `J/m`, which has the same minimisers). Equivalently: loss `m·MSELoss()`,
//!     `lr = η`, `weight_decay = 2λ`. The example checks both against one explicit gradient
//!     step on J computed by autograd, and shows that the tempting `weight_decay = λ` is
//!     a different objective (an effective `λ' = mλ/2`).
//!
//! (b) The inductive bias. Write `σ_i²` for the eigenvalues of `XXᵀ/n` and `u_i` for its
//!     eigenvectors. The regulariser is minimised, for a fixed product `W2W1`, by balanced
//!     factors (`W1 = W2ᵀ`: `‖W1‖² + ‖W2‖² ≥ 2‖W2W1‖_*`, with equality iff `W1W1ᵀ = W2ᵀW2`).
//!     Along one principal direction with decoder gain `a` and encoder gain `b` the
//!     objective is `σ²(1 − ab)² + λ(a² + b²)`; stationarity in `a` and `b` gives
//!     `λ(a² − b²) = 0`, so `a = b`, and then `d/d(a²)[σ²(1 − a²)² + 2λa²] = 0` gives
//!
//!     ```text
//!         a² = 1 − λ/σ²   (or a = 0 when λ ≥ σ²)
//!     ```
//!
//!     So at the optimum `W2 = U_k diag(√(1 − λ/σ_i²)) R`, `W1 = W2ᵀ`, for any orthogonal
//!     `R` (k×k) — the optimum derived above, with the `1/n` normalisation of the data
//!     term making `σ_i²` the eigenvalues of `XXᵀ/n`. The optimum value is
//!     `J* = Σ_{i≤k} [2λ − λ²/σ_i²] + Σ_{i>k} σ_i²` (for `λ < σ_k²`).
//!     Consequences checked below: the singular values of `W2` are `√(1 − λ/σ_i²)`; its
//!     left singular vectors are the individual `u_i` (not just their span);
//!     `W2ᵀW2 = I − λ Rᵀ Σ_k⁻² R`, so `‖W2ᵀW2 − I‖_F = λ ‖Σ_k⁻²‖_F` — the columns are
//!     orthonormal up to O(λ), and exactly orthogonal only when `R` is a signed
//!     permutation (the loss does not choose `R`). With λ = 0 nothing balances the
//!     factors: gradient descent conserves `W1W1ᵀ − W2ᵀW2`, so a non-orthogonal init stays
//!     non-orthogonal.
//!
//! Run: `cargo run --release --example regularized_linear_ae [-- --quick] [--seed S] [--out DIR]`.
//! Exits non-zero if a check fails; writes its key numbers to
//! `results/regularized_linear_ae/results.json` and the imbalance curves to
//! `results/regularized_linear_ae/imbalance.{png,svg}`.

use std::path::Path;

use clap::Parser;
use course::checks::Checks;
use course::cli::RunArgs;
use course::linalg_util::{
    ae_variances, fmt_list, fro, gram_minus_eye, imbalance, scale_cols, sq_norm, synthetic_data,
};
use course::plot::{Legend, LinePlot};
use course::{or_fail, Run};
use ferrograd::autograd::{Reduction, Var};
use ferrograd::nn::optim::{Optimizer, Sgd, SgdConfig};
use ferrograd::nn::{Linear, MSELoss, Module, Sequential};
use ferrograd::tensor::linalg::{covariance, eigh, principal_angles, singular_values};
use ferrograd::tensor::Tensor;
use serde_json::{json, Value};

const NAME: &str = "regularized_linear_ae";
/// Features, samples, bottleneck width.
const M: usize = 20;
const N: usize = 2000;
const K: usize = 4;
/// The step size η of gradient descent on J itself. The curvature of J along a top
/// direction at the optimum is at most 4σ₁² ≈ 16, so η must stay below 2/16.
const ETA: f64 = 0.05;

struct Config {
    quick: bool,
    /// The λ values trained.
    lambdas: Vec<f64>,
    /// Steps for λ = 0, whose slowest mode is set by the smallest eigenvalue (see
    /// `pca_linear_ae`).
    steps_unregularized: usize,
    /// For λ > 0: enough steps for the imbalance to shrink by e^-efolds, as it decays with
    /// time constant 1/(4ηλ) steps; at least `min_steps`.
    efolds: f64,
    min_steps: usize,
    /// Accepted error of J, the singular values, ‖W1 − W2ᵀ‖ and W2W2ᵀ.
    tol: f64,
    /// Accepted largest principal angle between span(W2) and span(U_k) for λ = 0.
    span_tol: f64,
}

impl Config {
    fn new(quick: bool) -> Self {
        if quick {
            // λ = 0.01 needs ~8000 steps (time constant 500 steps): only in the full run.
            Config {
                quick,
                lambdas: vec![0.0, 0.1, 1.0, 2.5],
                steps_unregularized: 800,
                efolds: 14.0,
                min_steps: 400,
                tol: 1e-3,
                span_tol: 1e-3,
            }
        } else {
            Config {
                quick,
                lambdas: vec![0.0, 0.01, 0.1, 1.0, 2.5],
                steps_unregularized: 3000,
                efolds: 16.0,
                min_steps: 1500,
                tol: 1e-6,
                span_tol: 1e-8,
            }
        }
    }

    fn steps(&self, lambda: f64) -> usize {
        if lambda == 0.0 {
            self.steps_unregularized
        } else {
            ((self.efolds / (4.0 * ETA * lambda)).ceil() as usize).max(self.min_steps)
        }
    }
}

#[derive(Parser)]
#[command(about = "The l2-regularised linear autoencoder and weight decay")]
struct Args {
    #[command(flatten)]
    run: RunArgs,
}

fn main() {
    let run = Run::start();
    let args = Args::parse();
    let cfg = Config::new(args.run.quick);
    let out = args.run.out_dir(NAME);
    let mut checks = Checks::default();
    let results = self::run(&cfg, args.run.seed, &out, &mut checks);
    course::checks::finish(run, NAME, &out, results, checks);
}

fn run(cfg: &Config, seed: u64, out: &Path, checks: &mut Checks) -> Value {
    let mut rng = ferrograd::nn::seeded_rng(seed);
    println!(
        "The l2-regularised linear autoencoder — m = {M}, n = {N}, k = {K}{}",
        if cfg.quick { " (--quick)" } else { "" }
    );
    let x = synthetic_data(&ae_variances(M), N, &mut rng);
    let xr = x.transpose(); // samples as rows, for ferrograd::nn::Linear
    let (sigma2, v) = eigh(&covariance(&xr));
    let u_k = v.narrow(1, 0, K);
    println!(
        "σ_i² = eigenvalues of XXᵀ/n: top {K} {}, then {:.3} … {:.3}",
        fmt_list(&sigma2[..K], 4),
        sigma2[K],
        sigma2[M - 1]
    );

    // ---- (a) The constants ------------------------------------------------------------------
    println!(
        "\n== (a) Two ferrograd::nn::Linear (no bias) + ferrograd::nn::MSELoss (mean) + ferrograd::nn::optim::Sgd (weight decay)"
    );
    println!("  J = (1/n)‖X − W2W1X‖² + λ‖W1‖² + λ‖W2‖²;  MSELoss() = (1/(n·m))‖X − W2W1X‖²  ⇒  J = m·MSE + λ(‖W1‖² + ‖W2‖²)");
    println!("  SGD(lr, wd): W ← W − lr(∇MSE + wd·W)   vs   gradient step on J: W ← W − η(m∇MSE + 2λW) = W − mη(∇MSE + (2λ/m)W)");
    println!("  ⇒ lr = m·η, weight_decay = 2λ/m with loss = MSELoss()   (or loss = m·MSELoss(), lr = η, weight_decay = 2λ)");
    println!(
        "  here η = {ETA}, m = {M}: lr = {}, weight_decay = 2λ/{M} = λ/{}",
        M as f64 * ETA,
        M / 2
    );

    let init = Sequential::<f64>::new()
        .with(Linear::new(M, K, false, &mut rng))
        .with(Linear::new(K, M, false, &mut rng));
    let (w1_0, w2_0) = weights(&init);
    let lam = 0.1;
    let (j_val, g1, g2) = explicit_objective(&x, &w1_0, &w2_0, lam);
    let w1_ref = &w1_0 - &g1.scale(ETA);
    let w2_ref = &w2_0 - &g2.scale(ETA);
    let mse_val = {
        let model = ae_from(&w1_0, &w2_0);
        let xv = Var::constant(xr.clone());
        MSELoss::new().forward(&model.forward(&xv), &xv).item()
    };
    let j_from_mse = M as f64 * mse_val + lam * (sq_norm(&w1_0) + sq_norm(&w2_0));
    println!(
        "  check at the init, λ = {lam}: J (autograd, homework layout) = {j_val:.15}, m·MSE + λ(‖W1‖² + ‖W2‖²) = {j_from_mse:.15}"
    );
    // ANCHOR: sgd_step_check
    let variants = [
        (
            "lr = mη, wd = 2λ/m, loss = MSELoss()",
            M as f64 * ETA,
            2.0 * lam / M as f64,
            1.0,
        ),
        (
            "lr = η,  wd = 2λ,   loss = m·MSELoss()",
            ETA,
            2.0 * lam,
            M as f64,
        ),
        ("naive: lr = η, wd = λ, loss = MSELoss()", ETA, lam, 1.0),
    ];
    let mut step_diffs = Vec::new();
    for (label, lr, wd, loss_scale) in variants {
        let model = ae_from(&w1_0, &w2_0);
        let mut opt = Sgd::new(model.parameters(), SgdConfig::new(lr).weight_decay(wd));
        let xv = Var::constant(xr.clone());
        let loss = MSELoss::new()
            .forward(&model.forward(&xv), &xv)
            .scale(loss_scale);
        opt.step(&loss.backward());
        let (w1, w2) = weights(&model);
        let diff = w1.max_abs_diff(&w1_ref).max(w2.max_abs_diff(&w2_ref));
        println!("  one SGD step, {label}: max |W − (W − η∇J)| = {diff:.1e}");
        step_diffs.push(
            json!({"variant": label, "lr": lr, "weight_decay": wd, "loss_scale": loss_scale,
                               "max_abs_diff": diff}),
        );
    }
    // ANCHOR_END: sgd_step_check
    let d = |i: usize| step_diffs[i]["max_abs_diff"].as_f64().unwrap();
    checks.check(
        (j_val - j_from_mse).abs() < 1e-12 * j_val,
        "J computed explicitly equals m·MSELoss + λ(‖W1‖² + ‖W2‖²)",
    );
    checks.check(
        d(0) < 1e-13 && d(1) < 1e-13,
        format!(
            "one SGD step with either constant set is one gradient step on J ({:.0e}, {:.0e})",
            d(0),
            d(1)
        ),
    );
    checks.check(
        d(2) > 1e-3,
        format!(
            "the naive weight_decay = λ takes a different step ({:.1e})",
            d(2)
        ),
    );
    println!(
        "  (the naive choice minimises MSE + (λ/2)‖W‖² = J/m with λ replaced by λ' = mλ/2 = {}λ — and steps m× slower)",
        M / 2
    );
    println!(
        "answer (a): model = two bias-free Linear layers, Sequential(Linear(m, k, bias=False), Linear(k, m, bias=False)) \
         (J has no bias and no non-linearity); loss = MSELoss() (J's squared reconstruction error); the λ‖W‖² terms = \
         weight decay; optimiser = SGD (plain full-batch gradient descent, whose weight decay is an exact L2 penalty), \
         with lr = m·η = {} and weight_decay = 2λ/m (one step equals a gradient step on J to {:.0e}). \
         No dropout, LayerNorm or BatchNorm: dropout adds a data-dependent penalty and the norms make the model \
         non-linear and scale-invariant in W1 — each changes the objective J instead of minimising it.",
        M as f64 * ETA,
        d(0).max(d(1))
    );

    // ---- (b) Training for several λ ------------------------------------------------------------
    println!(
        "\n== (b) Full-batch SGD for λ in {:?} (top σ_i² ≈ 4, 3, 2, 1.5), all from the same non-orthogonal PyTorch init",
        cfg.lambdas
    );
    println!(
        "  init: ‖W2ᵀW2 − I‖_F = {:.3}, ‖W1 − W2ᵀ‖_F = {:.3}, singular values of W2 {}",
        fro(&gram_minus_eye(&w2_0)),
        fro(&(&w1_0 - &w2_0.transpose())),
        fmt_list(&singular_values(&w2_0), 3)
    );
    let pca_optimum: f64 = sigma2[K..].iter().sum();
    let mut rows = Vec::new();
    let mut plot = LinePlot::new(
        "Imbalance of the factors during SGD (same init for every λ)",
        "step",
        "‖W1W1ᵀ − W2ᵀW2‖_F (log scale)",
    )
    .log_y()
    .legend(Legend::UpperRight);
    for &lambda in &cfg.lambdas {
        let (row, curve) = train_one(
            cfg,
            checks,
            lambda,
            &x,
            &xr,
            &w1_0,
            &w2_0,
            &sigma2,
            &u_k,
            pca_optimum,
        );
        rows.push(row);
        let steps: Vec<usize> = (0..curve.len()).collect();
        plot = plot.line(format!("λ = {lambda}"), &steps, &curve);
    }
    let figure = or_fail(
        plot.save(out.join("imbalance")),
        "writing the imbalance plot",
    );
    println!("\n  wrote {}", figure[0].display());

    // ---- Summary -------------------------------------------------------------------------
    println!("\n== Summary");
    println!(
        "  {:>5}  {:>8}  {:>10}  {:>12}  {:>12}  {:>10}  {:>13}  {:>14}",
        "λ",
        "λ/σ_k²",
        "J − J*",
        "max|s − ŝ|",
        "‖W2ᵀW2−I‖",
        "predicted",
        "‖W1 − W2ᵀ‖",
        "max∠(v_i,u_i)"
    );
    for r in &rows {
        let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
        println!(
            "  {:>5}  {:>8.4}  {:>10.1e}  {:>12.1e}  {:>12.4}  {:>10}  {:>13.1e}  {:>14.1e}",
            f("lambda"),
            f("lambda") / sigma2[K - 1],
            f("objective_gap"),
            f("max_sv_error"),
            f("w2_gram_minus_eye"),
            if f("lambda") == 0.0 {
                "—".to_string()
            } else {
                format!("{:.4}", f("w2_gram_minus_eye_predicted"))
            },
            f("w1_minus_w2t"),
            f("max_direction_angle"),
        );
    }
    let r = |i: usize, k: &str| rows[i][k].as_f64().unwrap();
    let lam_small = cfg.lambdas[1];
    println!(
        "\nanswer: (a) with ferrograd::nn::MSELoss (mean over all n·m entries) the objective is m·MSE + λ(‖W1‖² + ‖W2‖²), so \
         SGD(lr = m·η = {}, weight_decay = 2λ/m) takes exactly the gradient step η on it (checked to {:.0e}). \
         (b) With λ > 0 the trained decoder is W2 = U_k diag(√(1 − λ/σ_i²)) R with W1 = W2ᵀ: its singular values \
         match √(1 − λ/σ_i²) to {:.0e}, ‖W1 − W2ᵀ‖_F ≤ {:.0e}, and its left singular vectors are the individual \
         principal directions (angle {:.0e} rad at λ = {lam_small}); for small λ its columns are orthonormal up to \
         O(λ) (‖W2ᵀW2 − I‖_F = {:.4} = λ‖Σ_k⁻²‖_F at λ = {lam_small}). With λ = 0 the same non-orthogonal init \
         reaches the PCA loss (J − J* = {:.0e}) but stays unbalanced: ‖W2ᵀW2 − I‖_F = {:.3}, ‖W1 − W2ᵀ‖_F = {:.3}, \
         directions off by {:.2} rad — only the subspace is learned.",
        M as f64 * ETA,
        d(0).max(d(1)),
        rows[1..].iter().map(|r| r["max_sv_error"].as_f64().unwrap()).fold(0.0, f64::max),
        rows[1..].iter().map(|r| r["w1_minus_w2t"].as_f64().unwrap()).fold(0.0, f64::max),
        r(1, "max_direction_angle"),
        r(1, "w2_gram_minus_eye"),
        r(0, "objective_gap"),
        r(0, "w2_gram_minus_eye"),
        r(0, "w1_minus_w2t"),
        r(0, "max_direction_angle"),
    );

    json!({
        "example": NAME,
        "quick": cfg.quick,
        "seed": seed,
        "m": M, "n": N, "k": K, "eta": ETA,
        "sgd_lr": M as f64 * ETA,
        "sgd_weight_decay_per_lambda": 2.0 / M as f64,
        "eigenvalues": sigma2,
        "one_step_check": {"lambda": lam, "objective": j_val, "m_mse_plus_reg": j_from_mse,
                           "variants": step_diffs},
        "runs": rows,
    })
}

/// Trains from `(w1_0, w2_0)` with weight decay for `lambda` and reports against theory.
#[allow(clippy::too_many_arguments)]
fn train_one(
    cfg: &Config,
    checks: &mut Checks,
    lambda: f64,
    x: &Tensor<f64>,
    xr: &Tensor<f64>,
    w1_0: &Tensor<f64>,
    w2_0: &Tensor<f64>,
    sigma2: &[f64],
    u_k: &Tensor<f64>,
    pca_optimum: f64,
) -> (Value, Vec<f64>) {
    let (lr, wd) = (M as f64 * ETA, 2.0 * lambda / M as f64);
    let model = ae_from(w1_0, w2_0);
    let mut opt = Sgd::new(model.parameters(), SgdConfig::new(lr).weight_decay(wd));
    let xv = Var::constant(xr.clone());
    let mse = MSELoss::new();
    let steps = cfg.steps(lambda);
    let params = model.parameters();
    let mut curve = Vec::with_capacity(steps + 1);
    for step in 0..steps {
        curve.push(fro(&imbalance(&params[0].value(), &params[1].value())));
        let loss = mse.forward(&model.forward(&xv), &xv);
        if let Err(e) = ferrograd::nn::check_finite(loss.item(), step) {
            checks.check(false, format!("λ = {lambda}: {e}"));
            break;
        }
        opt.step(&loss.backward());
    }
    let (w1, w2) = weights(&model);
    curve.push(fro(&imbalance(&w1, &w2)));

    // ANCHOR: theory
    // Theory: gains ŝ_i = √(1 − λ/σ_i²)⁺, J* = Σ_{i≤k} min(2λ − λ²/σ_i², σ_i²) + Σ_{i>k} σ_i².
    let predicted: Vec<f64> = sigma2[..K]
        .iter()
        .map(|s| (1.0 - lambda / s).max(0.0).sqrt())
        .collect();
    let j_star: f64 = sigma2[..K]
        .iter()
        .map(|&s| {
            if lambda < s {
                2.0 * lambda - lambda * lambda / s
            } else {
                s
            }
        })
        .sum::<f64>()
        + pca_optimum;
    // ANCHOR_END: theory
    let j = explicit_objective(x, &w1, &w2, lambda).0;
    let sv = singular_values(&w2);
    let sv_err = sv
        .iter()
        .zip(&predicted)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let w1_w2t = fro(&(&w1 - &w2.transpose()));
    let gram = gram_minus_eye(&w2);
    let ortho = fro(&gram);
    let ortho_pred = predicted
        .iter()
        .map(|s| (s * s - 1.0).powi(2))
        .sum::<f64>()
        .sqrt();
    let offdiag = (0..K)
        .flat_map(|i| (0..K).filter(move |&j| j != i).map(move |j| (i, j)))
        .map(|(i, j)| gram[[i, j]].abs())
        .fold(0.0, f64::max);
    // W2W2ᵀ against U_k diag(ŝ²) U_kᵀ: pins the individual directions, whatever R is.
    let target = scale_cols(u_k, &predicted.iter().map(|s| s * s).collect::<Vec<_>>())
        .matmul_t(false, u_k, true);
    let outer_err = fro(&(&w2.matmul_t(false, &w2, true) - &target));
    // Left singular vectors of W2 (eigenvectors of W2W2ᵀ) against u_i, for the live units.
    let alive = predicted.iter().filter(|&&s| s > 0.0).count();
    let (_, left) = eigh(&w2.matmul_t(false, &w2, true));
    let dir_angle = (0..alive)
        .map(|i| {
            // atan2(‖v − (vᵀu)u‖, |vᵀu|): accurate for small angles, unlike acos.
            let c: f64 = (0..M).map(|r| left[[r, i]] * u_k[[r, i]]).sum();
            let s = (0..M)
                .map(|r| (left[[r, i]] - c * u_k[[r, i]]).powi(2))
                .sum::<f64>()
                .sqrt();
            s.atan2(c.abs())
        })
        .fold(0.0, f64::max);
    // Davis–Kahan: sin∠(v_i, u_i) ≤ ‖W2W2ᵀ − target‖ / gap_i, the gap of ŝ_i² to the other
    // eigenvalues of the target (the other live ŝ_j², and 0).
    let mut levels: Vec<f64> = predicted[..alive].iter().map(|s| s * s).collect();
    levels.push(0.0);
    let min_gap = (0..alive)
        .flat_map(|i| {
            (0..levels.len())
                .filter(move |&j| j != i)
                .map(move |j| (i, j))
        })
        .map(|(i, j)| (levels[i] - levels[j]).abs())
        .fold(f64::INFINITY, f64::min);
    let dk_bound = (outer_err / min_gap).min(1.0).asin();
    let offdiag_bound =
        0.5 * (levels[0] - levels[alive - 1].min(if alive < K { 0.0 } else { 1.0 }));
    let span_angle = if alive == K {
        *principal_angles(&w2, u_k).last().unwrap()
    } else {
        f64::NAN
    };
    let imb_0 = fro(&imbalance(w1_0, w2_0));
    let imb = fro(&imbalance(&w1, &w2));

    println!(
        "\n  λ = {lambda} (λ/σ_k² = {:.4}): SGD lr = {lr}, weight_decay = {wd}, {steps} steps",
        lambda / sigma2[K - 1]
    );
    println!(
        "    J = {j:.12}   J* = {j_star:.12}   J − J* = {:.1e}",
        j - j_star
    );
    println!(
        "    singular values of W2 {}   {} {}   max |diff| = {sv_err:.1e}",
        fmt_list(&sv, 6),
        if lambda == 0.0 {
            "balanced optimum would be"
        } else {
            "predicted √(1 − λ/σ_i²)"
        },
        fmt_list(&predicted, 6)
    );
    println!(
        "    ‖W1 − W2ᵀ‖_F = {w1_w2t:.1e};  imbalance ‖W1W1ᵀ − W2ᵀW2‖_F: {imb_0:.3} → {}{}",
        if lambda == 0.0 {
            format!("{imb:.3}")
        } else {
            format!("{imb:.1e}")
        },
        if lambda == 0.0 {
            " (conserved: nothing balances the factors)".to_string()
        } else {
            format!(
                " (shrinks ≈ (1 − 2ηλ)² per step: time constant 1/(4ηλ) = {:.0} steps)",
                1.0 / (4.0 * ETA * lambda)
            )
        }
    );
    println!(
        "    ‖W2ᵀW2 − I‖_F = {ortho:.4}{}",
        if lambda == 0.0 {
            format!(";  max |off-diagonal of W2ᵀW2| = {offdiag:.1e}")
        } else {
            format!(
                " (predicted ‖diag(ŝ²) − I‖_F = {ortho_pred:.4});  max |off-diagonal of W2ᵀW2| = {offdiag:.1e} \
                 ≤ (max ŝ² − min ŝ²)/2 = {offdiag_bound:.1e} (columns orthogonal only up to that)"
            )
        }
    );
    println!(
        "    ‖W2W2ᵀ − U_k diag(ŝ²) U_kᵀ‖_F = {outer_err:.1e};  max_i ∠(i-th left singular vector of W2, u_i) = {dir_angle:.1e} rad{}{}",
        if lambda == 0.0 { String::new() } else { format!(" (Davis–Kahan bound {dk_bound:.1e})") },
        if span_angle.is_nan() {
            format!(" ({} unit(s) switched off: λ ≥ σ_i²)", K - alive)
        } else {
            format!(";  span angle {span_angle:.1e}")
        }
    );

    let tol = cfg.tol;
    if lambda == 0.0 {
        checks.check(
            (j - pca_optimum).abs() < cfg.span_tol && span_angle < cfg.span_tol,
            format!(
                "λ = 0 reaches the PCA optimum (J − J* = {:.0e}) and subspace (angle {span_angle:.0e})",
                j - pca_optimum
            ),
        );
        checks.check(
            ortho > 0.1 && w1_w2t > 0.1,
            format!("λ = 0: W2ᵀW2 stays far from I ({ortho:.3}) and W1 ≠ W2ᵀ ({w1_w2t:.3})"),
        );
        checks.check(
            (imb - imb_0).abs() < 0.1 * imb_0,
            format!("λ = 0: the imbalance W1W1ᵀ − W2ᵀW2 is conserved up to GD's O(η²) drift ({imb_0:.3} → {imb:.3})"),
        );
    } else {
        checks.check(
            (j - j_star).abs() < tol * j_star.max(1.0) && sv_err < tol && w1_w2t < tol,
            format!(
                "λ = {lambda}: J → J*, singular values → √(1 − λ/σ_i²), W1 → W2ᵀ (errors {:.0e}, {sv_err:.0e}, {w1_w2t:.0e} < {tol:.0e})",
                (j - j_star).abs()
            ),
        );
        checks.check(
            outer_err < tol && dk_bound < 1e-2 && dir_angle <= dk_bound + 1e-12,
            format!(
                "λ = {lambda}: W2W2ᵀ → U_k diag(ŝ²)U_kᵀ ({outer_err:.0e}), so W2's left singular vectors are the \
                 principal directions u_i (angle {dir_angle:.0e} ≤ Davis–Kahan {dk_bound:.0e})"
            ),
        );
        checks.check(
            offdiag <= offdiag_bound + tol,
            format!("λ = {lambda}: |off-diagonal of W2ᵀW2| ≤ (max ŝ² − min ŝ²)/2"),
        );
    }

    let row = json!({
        "lambda": lambda, "lr": lr, "weight_decay": wd, "steps": steps,
        "objective": j, "objective_predicted": j_star, "objective_gap": j - j_star,
        "w2_singular_values": sv, "w2_singular_values_predicted": predicted, "max_sv_error": sv_err,
        "w1_minus_w2t": w1_w2t, "w2_gram_minus_eye": ortho, "w2_gram_minus_eye_predicted": ortho_pred,
        "w2_gram_max_offdiag": offdiag, "w2_gram_offdiag_bound": offdiag_bound,
        "w2w2t_minus_predicted": outer_err, "davis_kahan_bound": dk_bound,
        "max_direction_angle": dir_angle, "max_span_angle": if span_angle.is_nan() { Value::Null } else { json!(span_angle) },
        "imbalance_init": imb_0, "imbalance_final": imb,
    });
    (row, curve)
}

// ANCHOR: model
/// `Sequential(Linear(m, k, bias=False), Linear(k, m, bias=False))` with given weights.
fn ae_from(w1: &Tensor<f64>, w2: &Tensor<f64>) -> Sequential<f64> {
    Sequential::new()
        .with(Linear::from_tensors(w1.clone(), None))
        .with(Linear::from_tensors(w2.clone(), None))
}
// ANCHOR_END: model

/// The encoder and decoder weights (`0.weight` [k, m] = W1, `1.weight` [m, k] = W2).
fn weights(model: &Sequential<f64>) -> (Tensor<f64>, Tensor<f64>) {
    let p = model.parameters();
    let w1 = p[0].value().clone();
    let w2 = p[1].value().clone();
    (w1, w2)
}

/// J and its gradients by autograd, written in the homework's layout (samples as columns).
fn explicit_objective(
    x: &Tensor<f64>,
    w1: &Tensor<f64>,
    w2: &Tensor<f64>,
    lambda: f64,
) -> (f64, Tensor<f64>, Tensor<f64>) {
    let n = x.cols() as f64;
    let (w1, w2) = (Var::leaf(w1.clone()), Var::leaf(w2.clone()));
    let xv = Var::constant(x.clone());
    let data = w2
        .matmul(&w1.matmul(&xv))
        .mse_loss(&xv, Reduction::Sum)
        .scale(1.0 / n);
    let j = data + w1.square().sum().scale(lambda) + w2.square().sum().scale(lambda);
    let grads = j.backward();
    (j.item(), grads.get_or_zeros(&w1), grads.get_or_zeros(&w2))
}
