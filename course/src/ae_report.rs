//! Reporting for the autoencoder examples: per-run JSON, the curves, summary statistics,
//! and the closed-form ceiling of a probe on a linear code of Gaussian data.

use std::path::Path;

use ferrograd::nn::data::Split;
use ferrograd::tensor::linalg::{eigh, haar_orthogonal};
use ferrograd::tensor::Tensor;
use serde_json::{json, Value};

use super::autoencoder::{plot_curves, run_rng, train_linear_probe, History, Metric, ProbeConfig};
use super::sweep::stats;
use super::synthetic::Synthetic;

/// One run's per-epoch numbers as JSON (`train_loss[0]`, before any training, is null).
pub fn history_json(h: &History) -> Value {
    json!({
        "val_loss": h.val_loss, "probe_acc": h.probe_acc,
        "train_loss": h.train_loss.iter().map(|v| v.is_finite().then_some(*v)).collect::<Vec<_>>(),
        "flops": h.flops, "train_seconds": h.train_seconds, "eval_seconds": h.eval_seconds,
    })
}

/// Mean, min and max over `runs` of the last value of `metric` (accuracy in percent).
pub fn final_stats(runs: &[&History], metric: Metric) -> (f64, f64, f64) {
    let v: Vec<f64> = runs
        .iter()
        .map(|h| match metric {
            Metric::ValLoss => *h.val_loss.last().unwrap_or(&f64::NAN),
            Metric::ProbeAcc => 100.0 * h.probe_acc.last().unwrap_or(&f64::NAN),
        })
        .collect();
    stats(&v)
}

/// Writes `<stem_prefix>val_loss` and `<stem_prefix>probe_acc` (PNG and SVG) in `out`,
/// one curve per group, and prints where; `title` gets `: <what> (…)` appended.
pub fn write_curves(
    out: &Path,
    stem_prefix: &str,
    title: &str,
    groups: &[(String, Vec<&History>)],
    log_loss: bool,
) {
    let repeats = groups.first().map_or(0, |g| g.1.len());
    let figures = [
        (Metric::ValLoss, "val_loss", "validation loss", log_loss),
        (Metric::ProbeAcc, "probe_acc", "probe accuracy", false),
    ];
    // The two figures are independent, and drawing one (mostly compressing its PNG) is
    // tens of milliseconds of a run's serial end: one thread each.
    let written: Vec<_> = std::thread::scope(|scope| {
        let drawing: Vec<_> = (figures.into_iter())
            .map(|(metric, stem, what, log_y)| {
                scope.spawn(move || {
                    let title = format!("{title}: {what} (mean, min-max over {repeats} runs)");
                    let path = out.join(format!("{stem_prefix}{stem}"));
                    plot_curves(&path, &title, metric, groups, log_y)
                })
            })
            .collect();
        drawing.into_iter().map(|d| d.join()).collect()
    });
    for figure in written {
        let figure = figure.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let [png, _] = super::or_fail(figure, "plotting");
        println!("wrote {} (and .svg)", png.display());
    }
}

/// Accuracy of the best classifier of `sign(s)` that sees a Gaussian `t` with
/// `corr(s, t)² = rho` (zero-mean jointly Gaussian): `1/2 + asin(√rho)/π`.
///
/// Why: write `s = a·t + e` with `e` independent of `t`; the best guess is `sign(t)` (times
/// `sign(a)`), wrong exactly when `e` flips the sign, which happens with probability
/// `angle/π` for the angle `acos(√rho)` between `s` and `t`.
pub fn sign_accuracy(rho: f64) -> f64 {
    0.5 + rho.clamp(0.0, 1.0).sqrt().asin() / std::f64::consts::PI
}

/// The share `rho` of the variance of `wᵀx` that a linear code `z = E x` (`E`: k × d)
/// can explain when `x ~ N(0, Σ)`: `cᵀ (EΣEᵀ)⁻¹ c / wᵀΣw` with `c = EΣw`. With the
/// label `sign(wᵀx)`, [`sign_accuracy`]`(rho)` is the best any probe on `z` can do.
/// `None` if `E` is not finite.
pub fn code_label_share(e: &Tensor<f64>, sigma: &Tensor<f64>, w: &[f64]) -> Option<f64> {
    if !e.data().iter().all(|v| v.is_finite()) {
        return None;
    }
    // A code wider than the data (k > d) has a k×k matrix EΣEᵀ of rank ≤ d; the d×d side
    // gives the same share at (d/k)³ of the cost (latent 500 on 100-d data: 125×).
    Some(if e.rows() > w.len() {
        share_data_side(e, sigma, w)
    } else {
        share_code_side(e, sigma, w)
    })
}

/// `cᵀM⁺c / wᵀΣw` with `M = EΣEᵀ`, `c = EΣw`, over the eigenpairs of the k×k matrix M.
fn share_code_side(e: &Tensor<f64>, sigma: &Tensor<f64>, w: &[f64]) -> f64 {
    let d = w.len();
    let w = Tensor::from_vec(w.to_vec(), [d, 1]);
    let sigma_w = sigma.matmul(&w);
    let var = w.matmul_t(true, &sigma_w, false).data()[0];
    let c = e.matmul(&sigma_w);
    let m = e.matmul(sigma).matmul_t(false, e, true);
    spectral_sum(&m, c.data(), |value| value) / var
}

/// The same share from the d×d side. With `S = Σ^{1/2}`, `F = ES` and `u = Sw`:
/// `c = Fu`, `M = FFᵀ`, so `cᵀM⁺c = uᵀFᵀ(FFᵀ)⁺Fu = uᵀPu` with P the projection onto the
/// row space of F, which is the span of the eigenvectors of `G = FᵀF = SEᵀES` with
/// non-zero eigenvalue; `wᵀΣw = uᵀu`.
fn share_data_side(e: &Tensor<f64>, sigma: &Tensor<f64>, w: &[f64]) -> f64 {
    let d = w.len();
    let (lambda, q) = eigh(sigma);
    let root: Vec<f64> = lambda.iter().map(|l| l.max(0.0).sqrt()).collect();
    let s = (&q * &Tensor::from_vec(root, [1, d])).matmul_t(false, &q, true);
    let u = s.matmul(&Tensor::from_vec(w.to_vec(), [d, 1]));
    let f = e.matmul(&s);
    let g = f.matmul_t(true, &f, false);
    let projected = spectral_sum(&g, u.data(), |_| 1.0);
    projected / u.data().iter().map(|x| x * x).sum::<f64>()
}

/// `Σ_j (v_jᵀx)² / scale(λ_j)` over the eigenpairs `(λ_j, v_j)` of the symmetric matrix M,
/// skipping directions with a (relatively) zero eigenvalue: `scale = λ` gives `xᵀM⁺x`,
/// `scale = 1` the squared length of x's projection onto M's range.
fn spectral_sum(m: &Tensor<f64>, x: &[f64], scale: impl Fn(f64) -> f64) -> f64 {
    let (values, vectors) = eigh(m);
    let k = values.len();
    let top = values.iter().copied().fold(0.0, f64::max);
    (0..k)
        .filter(|&j| values[j] > 1e-12 * top)
        .map(|j| {
            let proj: f64 = (0..k).map(|i| vectors.data()[i * k + j] * x[i]).sum();
            proj * proj / scale(values[j])
        })
        .sum()
}

/// Probes on label-blind slices: what a code that keeps `k` of the label directions, chosen
/// without looking at the label, can give.
pub struct Blind {
    /// Monte-Carlo mean of `sign_accuracy(ρ)` over uniformly random k-d slices.
    pub expected_ceiling: f64,
    /// Test accuracy (%) of our probe on the codes of a few random k-d slices.
    pub measured: Vec<f64>,
    /// Mean, min and max of `measured`.
    pub stats: (f64, f64, f64),
}

pub fn random_slice_probes(
    data: &Synthetic<f32>,
    k: usize,
    probe: &ProbeConfig,
    seed: u64,
) -> Blind {
    let mut rng = run_rng(seed, u64::MAX);
    let (basis, n) = (data.high_variance_basis(), data.config.high_var_dims);
    // For a uniformly random k-d slice of n equal-variance directions, ρ is the squared
    // length of k coordinates of a random unit n-vector.
    let draws = 20_000;
    let expected_ceiling = (0..draws)
        .map(|_| {
            let g = Tensor::<f64>::randn([n], &mut rng);
            let total: f64 = g.data().iter().map(|v| v * v).sum();
            sign_accuracy(g.data()[..k].iter().map(|v| v * v).sum::<f64>() / total)
        })
        .sum::<f64>()
        / draws as f64;
    let measured: Vec<f64> = (0..8)
        .map(|_| {
            let slice = haar_orthogonal(n, &mut rng)
                .narrow(0, 0, k)
                .matmul(&basis)
                .cast::<f32>();
            let code = |x: &Tensor<f32>| x.matmul_t(false, &slice, true);
            let coded = |s: &Split<f32>| Split {
                x: code(&s.x),
                labels: s.labels.clone(),
            };
            let (acc, _) =
                train_linear_probe(&coded(&data.valid), &coded(&data.test), probe, &mut rng);
            100.0 * acc
        })
        .collect();
    let stats = stats(&measured);
    Blind {
        expected_ceiling,
        measured,
        stats,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// A random symmetric positive definite Σ (d × d) and a random w.
    fn problem(d: usize, seed: u64) -> (Tensor<f64>, Vec<f64>) {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
        let a = Tensor::<f64>::randn([d, d], &mut rng);
        let sigma = a.matmul_t(false, &a, true);
        let w = Tensor::<f64>::randn([d], &mut rng).data().to_vec();
        (sigma, w)
    }

    #[test]
    fn both_sides_give_the_same_share_for_narrow_and_wide_codes() {
        let d = 12;
        let (sigma, w) = problem(d, 1);
        let mut rng = rand::rngs::SmallRng::seed_from_u64(2);
        for k in [1, 3, 12, 30] {
            let e = Tensor::<f64>::randn([k, d], &mut rng);
            let (code, data) = (
                share_code_side(&e, &sigma, &w),
                share_data_side(&e, &sigma, &w),
            );
            assert!((code - data).abs() < 1e-9, "k = {k}: {code} vs {data}");
            assert!((0.0..=1.0 + 1e-9).contains(&code), "k = {k}: {code}");
        }
        // A code that spans the data explains everything.
        let e = Tensor::<f64>::randn([30, d], &mut rng);
        assert!((code_label_share(&e, &sigma, &w).unwrap() - 1.0).abs() < 1e-9);
    }
}
