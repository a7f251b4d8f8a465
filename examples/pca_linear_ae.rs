//! PCA and linear autoencoders (Baldi & Hornik, 1989).
//!
//! The homework: for zero-centred data `X` (`m` features × `n` samples, samples as
//! columns) and a linear autoencoder `x ↦ W2 W1 x` with a `k`-unit bottleneck, minimise
//!
//! ```text
//!     L(W1, W2) = (1/n) ‖X − W2 W1 X‖_F²        W1: k×m (encoder), W2: m×k (decoder)
//! ```
//!
//! and show that its optimum is PCA: `W2 W1` is the orthogonal projector onto the span of
//! the top-`k` eigenvectors `U_k` of `XXᵀ/n`, the loss there is the sum of the discarded
//! eigenvalues — but `W2` itself is only determined up to an invertible `k×k` mixing:
//! `W2 = U_k C`, `W1 = C⁻¹ U_kᵀ` is optimal for every invertible `C`.
//!
//! Why both gradients vanish at `W1 = U_kᵀ`, `W2 = U_k` (1b(ii)). With `E = X − W2W1X`,
//!
//! ```text
//!     ∂L/∂W1 = −(2/n) W2ᵀ E Xᵀ   = −(2/n) W2ᵀ (I − W2W1) XXᵀ
//!     ∂L/∂W2 = −(2/n) E (W1X)ᵀ   = −(2/n) (I − W2W1) XXᵀ W1ᵀ
//! ```
//!
//! (the homework's `‖X − W2W1X‖_F²` without the `1/n` has the same gradients times `n`,
//! so the same zeros). The columns of `U_k` are eigenvectors of `XXᵀ`:
//! `XXᵀ U_k = n U_k Λ_k`, and since `XXᵀ` is symmetric also `U_kᵀ XXᵀ = n Λ_k U_kᵀ`;
//! they are orthonormal, `U_kᵀ U_k = I_k`. Substituting `W1 = U_kᵀ`, `W2 = U_k`
//! (so `W2W1 = U_kU_kᵀ`):
//!
//! ```text
//!     ∂L/∂W1 = −(2/n) (U_kᵀ XXᵀ − U_kᵀU_k · U_kᵀ XXᵀ) = −(2/n) (nΛ_kU_kᵀ − I_k · nΛ_kU_kᵀ) = 0
//!     ∂L/∂W2 = −(2/n) (XXᵀ U_k − U_k · U_kᵀ XXᵀ U_k)  = −(2/n) (nU_kΛ_k − U_k · nΛ_k)    = 0
//! ```
//!
//! using `U_kᵀ XXᵀ U_k = U_kᵀ (n U_k Λ_k) = nΛ_k`. In words: `XXᵀ` maps `span(U_k)` into
//! itself, so projecting onto that span (`U_kU_kᵀ`) leaves the term unchanged and the two
//! terms of each gradient are equal. The example prints both terms of each gradient and
//! their difference, besides the gradients themselves.
//!
//! This example:
//! 1. states the first-order conditions and checks autograd's gradients against them;
//! 2. evaluates them at `W1 = U_kᵀ`, `W2 = U_k` (from `ferrograd::tensor::linalg::eigh`): both
//!    gradients vanish to rounding and the loss is `Σ_{j>k} λ_j`; the same holds at
//!    `U_k C, C⁻¹U_kᵀ` for a badly conditioned `C`; and a wrong choice of eigenvectors is a
//!    critical point too, but a saddle;
//! 3. trains the autoencoder by plain gradient descent from a random init and tracks the
//!    loss, its gap to the PCA optimum, and the largest principal angle between
//!    `span(W2)` and `span(U_k)`.
//!
//! Layout: `X` is stored exactly as in the homework, a row-major `[m, n]` tensor, so the
//! code reads like the math: the reconstruction is `W2 · (W1 · X)` and the loss is
//! `mse_loss(.., Sum) / n`. (`ferrograd::nn::Linear` wants samples as rows, i.e. `Xᵀ`; the
//! `regularized_linear_ae` example uses that layout.)
//!
//! Run: `cargo run --release --example pca_linear_ae [-- --quick] [--seed S] [--out DIR]`.
//! Exits non-zero if a check fails; writes its key numbers to `results/pca_linear_ae/results.json`
//! and its training curves to `results/pca_linear_ae/training.{png,svg}`.

use std::f64::consts::FRAC_PI_2;
use std::path::Path;

use clap::Parser;
use course::checks::Checks;
use course::cli::RunArgs;
use course::linalg_util::{
    ae_variances, fmt_list, fro, gram_minus_eye, imbalance, scale_cols, synthetic_data,
};
use course::plot::{Legend, LinePlot};
use course::{or_fail, Run};
use ferrograd::autograd::{Reduction, Var};
use ferrograd::tensor::linalg::{
    covariance, eigh, haar_orthogonal, principal_angles, singular_values,
};
use ferrograd::tensor::Tensor;
use serde_json::{json, Value};

const NAME: &str = "pca_linear_ae";
/// Features, samples, bottleneck width.
const M: usize = 20;
const N: usize = 2000;
const K: usize = 4;
/// Gradient-descent step size. The loss's curvature along the top direction at the optimum
/// is 4σ₁² ≈ 16 (for a = b = 1 in σ²(1 − ab)²), so η must stay below 2/16; 0.05 is safe.
const LR: f64 = 0.05;

struct Config {
    quick: bool,
    steps: usize,
    /// Largest principal angle (radians) accepted at the end of training.
    angle_tol: f64,
    /// Relative gap (L − L*) / L* accepted at the end of training.
    gap_tol: f64,
}

impl Config {
    fn new(quick: bool) -> Self {
        if quick {
            Config {
                quick,
                steps: 1000,
                angle_tol: 1e-4,
                gap_tol: 1e-7,
            }
        } else {
            Config {
                quick,
                steps: 4000,
                angle_tol: 1e-10,
                gap_tol: 1e-14,
            }
        }
    }
}

#[derive(Parser)]
#[command(about = "PCA and linear autoencoders (Baldi & Hornik)")]
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
        "PCA and linear autoencoders — m = {M} features, n = {N} samples, bottleneck k = {K}{}",
        if cfg.quick { " (--quick)" } else { "" }
    );

    // ---- Data and its PCA --------------------------------------------------------------
    // X = Q diag(√v) Z with Q Haar-random and Z standard normal, then each feature centred:
    // the population covariance has eigenvalues v, well separated at the cut k.
    let x = synthetic_data(&ae_variances(M), N, &mut rng);
    // covariance() wants samples as rows: it gets Xᵀ and returns XXᵀ/n (divisor n).
    let cov = covariance(&x.transpose());
    let (lambda, v) = eigh(&cov);
    let u_k = v.narrow(1, 0, K);
    let optimum: f64 = lambda[K..].iter().sum();
    println!(
        "\nEigenvalues of XXᵀ/n (descending): {}",
        fmt_list(&lambda, 3)
    );
    println!(
        "PCA optimum L* = Σ_{{j>{K}}} λ_j = {optimum:.12}   (gap λ_{K} − λ_{} = {:.3})",
        K + 1,
        lambda[K - 1] - lambda[K]
    );

    // ---- First-order conditions ----------------------------------------------------------
    println!("\n== 1. First-order optimality conditions");
    println!("  With E = X − W2 W1 X:");
    println!("    ∂L/∂W1 = −(2/n) W2ᵀ E Xᵀ      = 0   (k×m)");
    println!("    ∂L/∂W2 = −(2/n) E (W1 X)ᵀ     = 0   (m×k)");
    // The formulas against autograd at a random point: they are the gradient.
    let w1_rand = Tensor::<f64>::randn([K, M], &mut rng);
    let w2_rand = Tensor::<f64>::randn([M, K], &mut rng);
    let at_random = evaluate(&x, &w1_rand, &w2_rand);
    let (f1, f2) = closed_form_grads(&x, &w1_rand, &w2_rand);
    let formula_err = (rel_err(&at_random.g1, &f1)).max(rel_err(&at_random.g2, &f2));
    println!(
        "  at a random (W1, W2): ‖∂L/∂W1‖ = {:.3}, ‖∂L/∂W2‖ = {:.3}; autograd vs the formulas: \
         max relative difference {formula_err:.1e}",
        fro(&at_random.g1),
        fro(&at_random.g2)
    );
    checks.check(
        formula_err < 1e-12,
        format!("autograd's gradients equal the closed forms (rel. diff {formula_err:.1e})"),
    );
    let grad_scale = fro(&at_random.g1).max(fro(&at_random.g2));

    // ---- At the PCA solution ---------------------------------------------------------------
    println!("\n== 2. At W1 = U_kᵀ, W2 = U_k (top-{K} eigenvectors from eigh)");
    let pca_point = evaluate(&x, &u_k.transpose(), &u_k);
    let grad_tol = 1e-13 * grad_scale;
    println!(
        "  ‖∂L/∂W1‖_F = {:.2e}   ‖∂L/∂W2‖_F = {:.2e}   (f64; a random point has ~{grad_scale:.0})",
        fro(&pca_point.g1),
        fro(&pca_point.g2)
    );
    println!(
        "  L = {:.15}   Σ discarded eigenvalues = {optimum:.15}   |diff| = {:.1e}",
        pca_point.loss,
        (pca_point.loss - optimum).abs()
    );
    checks.check(
        fro(&pca_point.g1) < grad_tol && fro(&pca_point.g2) < grad_tol,
        "both gradients vanish to rounding at the PCA solution",
    );
    // ANCHOR: proof_terms
    // The proof, term by term: each gradient is a difference of two terms that the
    // eigen-equation XXᵀU_k = nU_kΛ_k makes equal.
    let xxt = x.matmul_t(false, &x, true);
    let n_f = N as f64;
    let u_lambda = scale_cols(&u_k, &lambda[..K]).scale(n_f); // n U_k Λ_k
    let eig_res = fro(&(&xxt.matmul(&u_k) - &u_lambda)) / fro(&u_lambda);
    let ut_s = u_k.matmul_t(true, &xxt, false); // U_kᵀ XXᵀ
    let g1_a = ut_s.clone();
    let g1_b = u_k.matmul_t(true, &u_k, false).matmul(&ut_s); // U_kᵀU_k · U_kᵀXXᵀ
    let s_u = xxt.matmul(&u_k); // XXᵀ U_k
    let g2_b = u_k.matmul(&u_k.matmul_t(true, &s_u, false)); // U_k · U_kᵀXXᵀU_k
    let (d1, d2) = (fro(&(&g1_a - &g1_b)), fro(&(&s_u - &g2_b)));
    // ANCHOR_END: proof_terms
    println!("  Why (1b(ii)): with E = X − W2W1X the gradients are −(2/n)W2ᵀ(I − W2W1)XXᵀ and −(2/n)(I − W2W1)XXᵀW1ᵀ;");
    println!(
        "    the eigen-equation XXᵀU_k = nU_kΛ_k holds to {eig_res:.1e} (relative), and U_kᵀU_k = I_k to {:.1e}",
        fro(&gram_minus_eye(&u_k))
    );
    println!(
        "    ∂L/∂W1 ∝ U_kᵀXXᵀ − (U_kᵀU_k)U_kᵀXXᵀ = nΛ_kU_kᵀ − nΛ_kU_kᵀ:  ‖first‖ = {:.6e}, ‖second‖ = {:.6e}, ‖difference‖ = {d1:.1e}",
        fro(&g1_a),
        fro(&g1_b)
    );
    println!(
        "    ∂L/∂W2 ∝ XXᵀU_k − U_k(U_kᵀXXᵀU_k) = nU_kΛ_k − U_k·nΛ_k:    ‖first‖ = {:.6e}, ‖second‖ = {:.6e}, ‖difference‖ = {d2:.1e}",
        fro(&s_u),
        fro(&g2_b)
    );
    checks.check(
        d1 < 1e-12 * fro(&g1_a) && d2 < 1e-12 * fro(&s_u),
        "the two terms of each gradient cancel at (U_kᵀ, U_k), as the eigen-equation says",
    );
    println!(
        "answer (1b(ii)): ∂L/∂W1 = −(2/n)W2ᵀ(I − W2W1)XXᵀ and ∂L/∂W2 = −(2/n)(I − W2W1)XXᵀW1ᵀ. At W1 = U_kᵀ, W2 = U_k, \
         with XXᵀU_k = nU_kΛ_k (so U_kᵀXXᵀ = nΛ_kU_kᵀ by symmetry) and U_kᵀU_k = I_k: \
         ∂L/∂W1 = −(2/n)(U_kᵀXXᵀ − U_kᵀU_kU_kᵀXXᵀ) = −(2/n)(nΛ_kU_kᵀ − nΛ_kU_kᵀ) = 0 and \
         ∂L/∂W2 = −(2/n)(XXᵀU_k − U_kU_kᵀXXᵀU_k) = −(2/n)(nU_kΛ_k − U_k nΛ_k) = 0: XXᵀ maps span(U_k) into itself, \
         so the projection U_kU_kᵀ leaves each term unchanged and the terms cancel \
         (here: terms of norm {:.3e} and {:.3e} differ by {d1:.0e} and {d2:.0e}).",
        fro(&g1_a),
        fro(&s_u)
    );
    checks.check(
        (pca_point.loss - optimum).abs() < 1e-12 * optimum,
        "the loss there equals the sum of the discarded eigenvalues",
    );

    // ANCHOR: mixing
    // Any invertible mixing C: W2 = U_k C, W1 = C⁻¹ U_kᵀ. C = A diag(s) Bᵀ with A, B
    // Haar-orthogonal has the exact inverse B diag(1/s) Aᵀ and condition number s₁/s_k.
    let s = [3.0, 1.5, 0.7, 0.4];
    let (a, b) = (haar_orthogonal(K, &mut rng), haar_orthogonal(K, &mut rng));
    let c = scale_cols(&a, &s).matmul_t(false, &b, true);
    let s_inv: Vec<f64> = s.iter().map(|v| 1.0 / v).collect();
    let c_inv = scale_cols(&b, &s_inv).matmul_t(false, &a, true);
    let w2_mix = u_k.matmul(&c);
    let w1_mix = c_inv.matmul_t(false, &u_k, true);
    let mixed = evaluate(&x, &w1_mix, &w2_mix);
    // ANCHOR_END: mixing
    let mix_ortho = fro(&gram_minus_eye(&w2_mix));
    println!(
        "  Mixed: W2 = U_k C, W1 = C⁻¹U_kᵀ with C of singular values {s:?} (cond {:.1}):",
        s[0] / s[K - 1]
    );
    println!(
        "    L − L* = {:.1e}, ‖∂L/∂W1‖ = {:.1e}, ‖∂L/∂W2‖ = {:.1e}, but ‖W2ᵀW2 − I‖_F = {mix_ortho:.3}",
        mixed.loss - optimum,
        fro(&mixed.g1),
        fro(&mixed.g2)
    );
    checks.check(
        (mixed.loss - optimum).abs() < 1e-12 * optimum
            && fro(&mixed.g1) < 10.0 * grad_tol
            && fro(&mixed.g2) < 10.0 * grad_tol,
        "U_k C, C⁻¹U_kᵀ is optimal too (same loss, zero gradients) for a non-orthogonal C",
    );

    // A wrong subset of eigenvectors: u_1..u_{k-1}, u_{k+1}. Also a critical point, with loss
    // L* + (λ_k − λ_{k+1}); rotating the last column from u_{k+1} towards u_k by θ lowers the
    // loss as (λ_k − λ_{k+1}) cos²θ, so it is a saddle, not a minimum.
    let mut wrong: Vec<usize> = (0..K - 1).collect();
    wrong.push(K);
    let u_wrong = select_cols(&v, &wrong);
    let saddle = evaluate(&x, &u_wrong.transpose(), &u_wrong);
    let gap_k = lambda[K - 1] - lambda[K];
    println!(
        "  Wrong eigenvectors (u_1..u_{}, u_{}): ‖∇‖ = {:.1e}, L − L* = {:.6} = λ_{K} − λ_{} = {gap_k:.6}",
        K - 1,
        K + 1,
        fro(&saddle.g1).max(fro(&saddle.g2)),
        saddle.loss - optimum,
        K + 1
    );
    let mut path_err: f64 = 0.0;
    let mut path = Vec::new();
    for step in 0..=4 {
        let theta = FRAC_PI_2 * step as f64 / 4.0;
        let mut w2 = u_wrong.clone();
        for i in 0..M {
            w2[[i, K - 1]] = theta.cos() * v[[i, K]] + theta.sin() * v[[i, K - 1]];
        }
        let l = evaluate(&x, &w2.transpose(), &w2).loss;
        path_err = path_err.max((l - optimum - gap_k * theta.cos().powi(2)).abs());
        path.push((theta, l - optimum));
    }
    println!(
        "    rotating u_{} → u_{K} by θ: L − L* = {} (θ = 0, π/8, π/4, 3π/8, π/2)",
        K + 1,
        fmt_list(&path.iter().map(|p| p.1).collect::<Vec<_>>(), 4)
    );
    checks.check(
        fro(&saddle.g1).max(fro(&saddle.g2)) < 10.0 * grad_tol
            && (saddle.loss - optimum - gap_k).abs() < 1e-12 * optimum
            && path_err < 1e-12 * optimum,
        "the wrong eigenvector subset is a saddle: zero gradient, loss descends along a rotation",
    );

    // ---- Training -------------------------------------------------------------------------
    println!(
        "\n== 3. Gradient descent from a random init (η = {LR}, {} steps, PyTorch's Linear init)",
        cfg.steps
    );
    // Encoder [k, m] and decoder [m, k], uniform in ±1/√fan_in as nn.Linear initialises.
    let w1_0 = Tensor::<f64>::uniform(
        [K, M],
        -1.0 / (M as f64).sqrt(),
        1.0 / (M as f64).sqrt(),
        &mut rng,
    );
    let w2_0 = Tensor::<f64>::uniform(
        [M, K],
        -1.0 / (K as f64).sqrt(),
        1.0 / (K as f64).sqrt(),
        &mut rng,
    );
    let imbalance_0 = imbalance(&w1_0, &w2_0);
    let (w1, w2) = (Var::leaf(w1_0), Var::leaf(w2_0));
    let xv = Var::constant(x.clone());
    let report_at = report_steps(cfg.steps);
    let mut table = Vec::new();
    println!(
        "  {:>6}  {:>16}  {:>11}  {:>16}  {:>12}",
        "step", "loss", "L − L*", "max angle (rad)", "‖W2ᵀW2 − I‖"
    );
    let mut curve = Vec::with_capacity(cfg.steps + 1);
    for step in 0..=cfg.steps {
        let loss = ae_loss(&xv, &w1, &w2);
        let l = loss.item();
        if !l.is_finite() {
            checks.check(
                false,
                format!("training diverged at step {step} (loss {l})"),
            );
            break;
        }
        let w2v = w2.value().clone();
        let angle = *principal_angles(&w2v, &u_k).last().unwrap();
        curve.push((step, l - optimum, angle));
        if report_at.contains(&step) {
            let ortho = fro(&gram_minus_eye(&w2v));
            println!(
                "  {step:>6}  {l:>16.12}  {:>11.3e}  {angle:>16.3e}  {ortho:>12.4}",
                l - optimum
            );
            table.push(
                json!({"step": step, "loss": l, "gap": l - optimum, "max_angle": angle,
                              "w2_gram_minus_eye": ortho}),
            );
        }
        if step == cfg.steps {
            break;
        }
        let grads = loss.backward();
        for p in [&w1, &w2] {
            let g = grads.get(p).expect("both weights reach the loss");
            p.value_mut().add_scaled_(-LR, g);
        }
    }

    // ---- What was learned --------------------------------------------------------------------
    let (w1t, w2t) = (w1.value().clone(), w2.value().clone());
    let final_loss = evaluate(&x, &w1t, &w2t).loss;
    let gap = final_loss - optimum;
    let angles = principal_angles(&w2t, &u_k);
    let max_angle = *angles.last().unwrap();
    let projector = u_k.matmul_t(false, &u_k, true);
    let proj_err = fro(&(&w2t.matmul(&w1t) - &projector));
    let c_hat = u_k.matmul_t(true, &w2t, false);
    let outside = fro(&(&w2t - &u_k.matmul(&c_hat)));
    let c_sv = singular_values(&c_hat);
    let ortho = fro(&gram_minus_eye(&w2t));
    let drift = fro(&(&imbalance(&w1t, &w2t) - &imbalance_0)) / fro(&imbalance_0);
    println!("\n  After {} steps:", cfg.steps);
    println!(
        "    L − L* = {gap:.2e} (relative {:.1e}); principal angles span(W2) vs span(U_k): {}",
        gap / optimum,
        fmt_sci(&angles)
    );
    println!(
        "    W2 = U_k Ĉ with Ĉ = U_kᵀW2: ‖W2 − U_kĈ‖_F = {outside:.1e}; ‖W2W1 − U_kU_kᵀ‖_F = {proj_err:.1e} \
         (so W1 = Ĉ⁻¹U_kᵀ)"
    );
    println!(
        "    Ĉ has singular values {} (cond {:.2}): ‖W2ᵀW2 − I‖_F = {ortho:.3} — W2 is NOT orthonormal",
        fmt_list(&c_sv, 4),
        c_sv[0] / c_sv[K - 1]
    );
    println!(
        "    why: gradient flow conserves W1W1ᵀ − W2ᵀW2 (the O(η²) drift of GD: {drift:.1e} relative), \
         so W2ᵀW2 = W1W1ᵀ − (its value at init) is fixed by the init, not by the data"
    );
    // The slowest mode of GD is not set by the eigengap but by the smallest eigenvalue: the
    // encoder's weight along a direction u_j of variance λ_j only feels a gradient ∝ λ_j.
    // Linearising at W1 = U_kᵀ, W2 = U_k in the plane of (u_k, u_m), the Hessian of the
    // pair (leak of W1 along u_m, leak of W2 along u_m) is 2[[λ_m, −λ_m], [−λ_m, λ_k]], whose
    // small eigenvalue μ sets the rate 1 − ημ per step.
    let (lk, lm) = (lambda[K - 1], lambda[M - 1]);
    let mu = (lk + lm) - ((lk - lm).powi(2) + 4.0 * lm * lm).sqrt();
    let tail: Vec<&Value> = table.iter().rev().take(2).collect();
    let measured =
        (tail[1]["max_angle"].as_f64().unwrap() / tail[0]["max_angle"].as_f64().unwrap()).ln()
            / (tail[0]["step"].as_f64().unwrap() - tail[1]["step"].as_f64().unwrap());
    println!(
        "    convergence: the largest angle shrinks by {measured:.4}/step at the end; the slowest mode \
         of the linearisation predicts ημ = {:.4} (μ ≈ 2λ_min = {:.3}: the encoder learns to ignore \
         low-variance directions slowly, whatever the eigengap)",
        LR * mu,
        2.0 * lm
    );
    checks.check(
        max_angle < cfg.angle_tol,
        format!(
            "trained span(W2) = span(U_k): largest principal angle {max_angle:.1e} < {:.0e}",
            cfg.angle_tol
        ),
    );
    checks.check(
        gap >= -1e-12 * optimum && gap < cfg.gap_tol * optimum.max(1.0) + 1e-13,
        format!("trained loss reaches the PCA optimum: L − L* = {gap:.1e}"),
    );
    checks.check(
        ortho > 0.05,
        format!("trained W2 is not orthonormal (‖W2ᵀW2 − I‖_F = {ortho:.3}) yet optimal"),
    );

    let steps: Vec<usize> = curve.iter().map(|c| c.0).collect();
    let gaps: Vec<f64> = curve.iter().map(|c| c.1).collect();
    let angles_t: Vec<f64> = curve.iter().map(|c| c.2).collect();
    let figure = or_fail(
        LinePlot::new(
            format!("Linear AE (k = {K}) trained by gradient descent, η = {LR}"),
            "step",
            "gap / angle (log scale)",
        )
        .log_y()
        .line("loss gap L − L* to the PCA optimum", &steps, &gaps)
        .line(
            "largest principal angle span(W2) vs span(U_k) (rad)",
            &steps,
            &angles_t,
        )
        .legend(Legend::UpperRight)
        .save(out.join("training")),
        "writing the training plot",
    );
    println!("\nwrote {}", figure[0].display());

    println!(
        "answer: the linear autoencoder's optimum is PCA. The first-order conditions hold at W1 = U_kᵀ, \
         W2 = U_k (gradient norms {:.0e}, {:.0e}) with loss = Σ_{{j>k}} λ_j = {optimum:.6}; gradient descent \
         from a random init finds the same subspace (largest principal angle {max_angle:.0e} rad, \
         L − L* = {gap:.0e}) but not an orthonormal W2 (‖W2ᵀW2 − I‖_F = {ortho:.2}): W2 = U_k C for an \
         invertible C (cond {:.2}, set by the init), and every such C (e.g. cond {:.1}) gives the same loss.",
        fro(&pca_point.g1),
        fro(&pca_point.g2),
        c_sv[0] / c_sv[K - 1],
        s[0] / s[K - 1]
    );

    json!({
        "example": NAME,
        "quick": cfg.quick,
        "seed": seed,
        "m": M, "n": N, "k": K, "lr": LR, "steps": cfg.steps,
        "eigenvalues": lambda,
        "pca_optimum": optimum,
        "formula_vs_autograd_rel_err": formula_err,
        "at_pca": {"loss": pca_point.loss, "grad_w1_norm": fro(&pca_point.g1),
                   "grad_w2_norm": fro(&pca_point.g2)},
        "mixed": {"c_singular_values": s, "loss_minus_opt": mixed.loss - optimum,
                  "grad_w1_norm": fro(&mixed.g1), "grad_w2_norm": fro(&mixed.g2),
                  "w2_gram_minus_eye": mix_ortho},
        "saddle": {"loss_minus_opt": saddle.loss - optimum, "eigengap": gap_k,
                   "grad_norm": fro(&saddle.g1).max(fro(&saddle.g2)),
                   "rotation_path": path.iter().map(|p| json!({"theta": p.0, "loss_minus_opt": p.1})).collect::<Vec<_>>()},
        "training": table,
        "final": {"loss": final_loss, "gap": gap, "principal_angles": angles,
                  "w2w1_minus_projector": proj_err, "w2_outside_span": outside,
                  "c_hat_singular_values": c_sv, "w2_gram_minus_eye": ortho,
                  "imbalance_relative_drift": drift,
                  "angle_rate_measured": measured, "angle_rate_predicted": LR * mu},
    })
}

/// Loss and both gradients at a point.
struct Eval {
    loss: f64,
    g1: Tensor<f64>,
    g2: Tensor<f64>,
}

// ANCHOR: loss
/// `L = (1/n) ‖X − W2 W1 X‖_F²` as a graph: the reconstruction error summed over all
/// `m·n` entries, divided by the number of samples `n` (the columns of `X`).
fn ae_loss(x: &Var<f64>, w1: &Var<f64>, w2: &Var<f64>) -> Var<f64> {
    let n = x.dims()[1];
    let recon = w2.matmul(&w1.matmul(x));
    recon.mse_loss(x, Reduction::Sum).scale(1.0 / n as f64)
}
// ANCHOR_END: loss

/// The loss and autograd's gradients w.r.t. both weights.
fn evaluate(x: &Tensor<f64>, w1: &Tensor<f64>, w2: &Tensor<f64>) -> Eval {
    let (w1, w2) = (Var::leaf(w1.clone()), Var::leaf(w2.clone()));
    let loss = ae_loss(&Var::constant(x.clone()), &w1, &w2);
    let grads = loss.backward();
    Eval {
        loss: loss.item(),
        g1: grads.get_or_zeros(&w1),
        g2: grads.get_or_zeros(&w2),
    }
}

/// The homework's gradients by hand: `−(2/n) W2ᵀ E Xᵀ` and `−(2/n) E (W1X)ᵀ`.
fn closed_form_grads(
    x: &Tensor<f64>,
    w1: &Tensor<f64>,
    w2: &Tensor<f64>,
) -> (Tensor<f64>, Tensor<f64>) {
    let c = -2.0 / x.cols() as f64;
    let w1x = w1.matmul(x);
    let e = x - &w2.matmul(&w1x);
    let g1 = w2
        .matmul_t(true, &e.matmul_t(false, x, true), false)
        .scale(c);
    let g2 = e.matmul_t(false, &w1x, true).scale(c);
    (g1, g2)
}

/// The columns `idx` of `a`.
fn select_cols(a: &Tensor<f64>, idx: &[usize]) -> Tensor<f64> {
    let w = idx.len();
    Tensor::from_fn([a.rows(), w], |f| a[[f / w, idx[f % w]]])
}

/// `‖a − b‖_F / ‖b‖_F`.
fn rel_err(a: &Tensor<f64>, b: &Tensor<f64>) -> f64 {
    fro(&(a - b)) / fro(b)
}

/// Steps at which the training table gets a row: 0, 1, 2, 5, 10, 20, 50, ... and the last.
fn report_steps(steps: usize) -> Vec<usize> {
    let mut out = vec![0];
    let mut decade = 1;
    while decade <= steps {
        for f in [1, 2, 5] {
            if f * decade <= steps && f * decade > 1 {
                out.push(f * decade);
            }
        }
        decade *= 10;
    }
    if *out.last().unwrap() != steps {
        out.push(steps);
    }
    out
}

fn fmt_sci(v: &[f64]) -> String {
    let items: Vec<String> = v.iter().map(|x| format!("{x:.1e}")).collect();
    format!("[{}]", items.join(", "))
}
