//! # Linear autoencoders on synthetic data: what does the latent size change?
//!
//! **Data** ([`course::synthetic`]): `x = z U ∈ ℝ¹⁰⁰` with `z ~ N(0, diag(10·1₂₀, 1₈₀))` and
//! `U` a random rotation; the label is `y = [z₁ + … + z₂₀ > 0] = [wᵀx > 0]` with
//! `w = Σᵢ₌₁²⁰ Uᵢ`. So the covariance has 20 eigenvalues 10 and 80 eigenvalues 1, and the
//! label lives in the 20 high-variance directions.
//!
//! **Model**: `x̂ = D(Ex + b) + c` with a k-dim code, trained to minimise `E‖x̂ − x‖²`
//! (vanilla), or to reconstruct the clean `x` from `x + 0.5·N(0, I)` (denoising) or from
//! `x` with entries zeroed with p = 0.25 (masked).
//!
//! **Reconstruction** (Eckart–Young): no rank-k map beats projecting on the top-k
//! principal subspace, so `loss ≥ Σᵢ₍ᵢ₎₋ₖ λᵢ` = 230 at k = 5, 80 at k = 20, 0 at k ≥ 100.
//!
//! **Probe**: a linear classifier on the frozen code `Ex`. For Gaussian data the best any
//! classifier of `sign(wᵀx)` can do from `Ex` is `1/2 + asin(√ρ)/π`, where
//! `ρ = cᵀ(EΣEᵀ)⁻¹c / wᵀΣw`, `c = EΣw`, is the share of `Var(wᵀx)` the code explains
//! ([`course::ae_report::code_label_share`]). From k = 20 the top-20 subspace holds all of
//! `w`: ρ = 1. At k = 5 the loss cannot prefer any 5 of the 20 equal-variance directions,
//! so the code keeps a label-blind 5-d slice of them: ρ ≈ 5/20, about 67 %.
//!
//! **Experiment**: latent sizes 5, 20, 100, 500 × {vanilla, denoising, masked} × 3 repeats,
//! 10 epochs (Adam lr 5e-4, batch 100) on 14 000 samples; after initialisation and every
//! epoch, the clean validation loss and a probe (50 epochs, Adam lr 1e-3) trained on the
//! 4 000 validation codes and scored on the 2 000 test samples. The runs go through
//! [`course::sweep::run`] in parallel; results do not depend on `--jobs`.
//!
//! ```sh
//! cargo run --release --example autoencoders_synthetic            # the full sweep
//! cargo run --release --example autoencoders_synthetic -- --quick # a few seconds (CI)
//! ```
//!
//! Writes curves (PNG, SVG) and `results.json` to `results/autoencoders_synthetic/`.

use clap::Parser;
use course::ae_report::{
    code_label_share, final_stats, history_json, random_slice_probes, sign_accuracy,
};
use course::autoencoder::{
    run_rng, train_and_probe, Activation, Autoencoder, History, Metric, ModelKind, ProbeConfig,
    Splits, TrainConfig,
};
use course::flags::{self, count_in, MAX_BATCH, MAX_EPOCHS, MAX_JOBS, MAX_REPEATS, MAX_WIDTH};
use course::synthetic::{Synthetic, SyntheticConfig};
use course::{cli::RunArgs, sweep, Run};
use ferrograd::nn::Module;
use serde_json::json;

#[derive(Parser, Debug)]
#[command(about = "Linear autoencoders on the synthetic data set, with linear probes")]
struct Args {
    #[command(flatten)]
    run: RunArgs,
    /// Latent sizes to sweep [default: 5,20,100,500; --quick: 5,20,100].
    #[arg(long, allow_negative_numbers = true, value_delimiter = ',', value_parser = count_in(1, MAX_WIDTH))]
    latents: Option<Vec<usize>>,
    /// Repeats (seeds) per model and latent size [default: 3; --quick: 2].
    #[arg(long, allow_negative_numbers = true, value_parser = count_in(1, MAX_REPEATS))]
    repeats: Option<usize>,
    /// Autoencoder epochs [default: 10; --quick: 2].
    #[arg(long, allow_negative_numbers = true, value_parser = count_in(1, MAX_EPOCHS))]
    epochs: Option<usize>,
    /// Probe epochs over the validation batches [default: 50; --quick: 5].
    #[arg(long, allow_negative_numbers = true, value_parser = count_in(1, MAX_EPOCHS))]
    probe_epochs: Option<usize>,
    /// Adam learning rate of the autoencoders.
    #[arg(long, allow_negative_numbers = true, default_value_t = 5e-4, value_parser = flags::learning_rate)]
    lr: f64,
    /// Autoencoder batch size (at most the training set's size).
    #[arg(long, allow_negative_numbers = true, default_value_t = 100, value_parser = count_in(1, MAX_BATCH))]
    batch_size: usize,
    /// Noise standard deviation of the denoising autoencoder.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.5, value_parser = flags::noise_std)]
    noise: f32,
    /// Masking probability of the masked autoencoder.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.25, value_parser = flags::mask_prob)]
    mask: f32,
    /// Worker threads (runs in parallel) [default: one per core].
    #[arg(long, allow_negative_numbers = true, value_parser = count_in(1, MAX_JOBS))]
    jobs: Option<usize>,
}

/// One cell of the grid, and what it hands back.
struct Spec {
    kind: ModelKind,
    latent: usize,
    repeat: usize,
}
struct Outcome {
    hist: History,
    /// Share ρ of the label's variance the code explains, at init and after training.
    rho: [Option<f64>; 2],
}

const PROBE: ProbeConfig = ProbeConfig {
    classes: 2,
    lr: 1e-3,
    epochs: 50,
    batch_size: 200,
    max_batches: None,
};

/// Training frees and reallocates the same buffers every step: see `course::allocator`.
#[global_allocator]
static ALLOCATOR: course::Allocator = course::Allocator;

fn main() {
    let wall = Run::start();
    let args = Args::parse();
    let (quick, seed) = (args.run.quick, args.run.seed);
    // Created and test-written before any work (an explicit --out already was, by clap).
    let out = args.run.out_dir("autoencoders_synthetic");
    let pick = |full: usize, q: usize| if quick { q } else { full };
    let latents =
        (args.latents.clone()).unwrap_or_else(|| [5, 20, 100, 500][..pick(4, 3)].to_vec());
    let (repeats, epochs) = (
        args.repeats.unwrap_or(pick(3, 2)),
        args.epochs.unwrap_or(pick(10, 2)),
    );
    let probe = ProbeConfig {
        epochs: args.probe_epochs.unwrap_or(pick(50, 5)),
        ..PROBE
    };
    let mut data_cfg = SyntheticConfig::homework();
    data_cfg.samples = pick(20_000, 5_000);
    let data = Synthetic::<f32>::generate(&data_cfg, &mut ferrograd::nn::seeded_rng(seed))
        .unwrap_or_else(|e| course::die(format!("synthetic data: {e}")));
    let (d, k_label) = (data_cfg.dim, data_cfg.high_var_dims);
    if args.batch_size > data.train.len() {
        flags::usage_error::<Args>(format!(
            "--batch-size {} exceeds the {} training samples; use 1..={}",
            args.batch_size,
            data.train.len(),
            data.train.len()
        ));
    }
    for &latent in &latents {
        let rows = data.valid.len().max(data.test.len());
        flags::check_run_size("--latents", d, &[latent], rows)
            .unwrap_or_else(|e| flags::usage_error::<Args>(e));
    }
    println!(
        "synthetic data: d = {d}, {k_label} high-variance dims (variance {}), train/valid/test \
         = {}/{}/{}\nlinear AEs, latent sizes {latents:?}, {repeats} repeats, {epochs} epochs, \
         batch {}, Adam lr {}; probe: {} epochs on all validation batches of 200{}",
        data_cfg.var_scale,
        data.train.len(),
        data.valid.len(),
        data.test.len(),
        args.batch_size,
        args.lr,
        probe.epochs,
        if quick { " (--quick)" } else { "" }
    );

    // The population covariance Σ and the label direction w (x-space), for ρ.
    let sigma = data.covariance();
    let basis = data.high_variance_basis();
    let w: Vec<f64> = (0..d)
        .map(|j| (0..k_label).map(|i| basis.data()[i * d + j]).sum())
        .collect();
    let label_share = |m: &Autoencoder| {
        let e = m.named_parameters()[0].1.value().cast::<f64>();
        code_label_share(&e, &sigma, &w)
    };

    let specs: Vec<Spec> = ModelKind::ALL
        .iter()
        .flat_map(|&kind| {
            (latents.iter()).flat_map(move |&latent| {
                (0..repeats).map(move |repeat| Spec {
                    kind,
                    latent,
                    repeat,
                })
            })
        })
        .collect();
    let splits = Splits {
        train: &data.train,
        valid: &data.valid,
        test: &data.test,
    };
    let jobs = sweep::worker_count(args.jobs, specs.len());
    let ticks = (specs.len() * (epochs + 1)) as u64;
    let swept = sweep::run(
        &specs,
        jobs,
        |s| s.latent as f64,
        ticks,
        |i, s, bar| {
            // ANCHOR: train_one
            let cfg = TrainConfig {
                kind: s.kind,
                noise_std: args.noise,
                mask_prob: args.mask,
                lr: args.lr,
                epochs,
                batch_size: args.batch_size,
                probe: probe.clone(),
            };
            let mut rng = run_rng(seed, i as u64 + 1);
            let model = Autoencoder::new(d, &[s.latent], Activation::Identity, &mut rng);
            let rho0 = label_share(&model);
            let hist =
                train_and_probe(&model, splits, &cfg, &mut rng, |_| bar.inc(1)).map_err(|e| {
                    format!(
                        "{} AE, latent {}, repeat {}: {e}",
                        s.kind.name(),
                        s.latent,
                        s.repeat
                    )
                })?;
            Ok(Outcome {
                hist,
                rho: [rho0, label_share(&model)],
            })
            // ANCHOR_END: train_one
        },
    );
    let (results, stats) = swept.unwrap_or_else(|e: String| course::die(e));
    let runs_of = |kind: ModelKind, latent: usize| -> Vec<&Outcome> {
        (specs.iter().zip(&results))
            .filter(|(s, _)| s.kind == kind && s.latent == latent)
            .map(|(_, o)| o)
            .collect()
    };

    // ANCHOR: pca_optimum
    // The PCA optimum on the validation split: Σ of its discarded eigenvalues.
    let pca = ferrograd::tensor::linalg::pca(&data.valid.x.cast::<f64>(), 1);
    let pca_opt = |k: usize| pca.explained_variance.iter().skip(k).sum::<f64>().max(0.0);
    let pop_opt = |k: usize| data_cfg.eigenvalues().iter().skip(k).sum::<f64>().max(0.0);
    // ANCHOR_END: pca_optimum
    println!(
        "\nfinal epoch ({epochs}), mean [min, max] over {repeats} repeats; probe accuracy on the \
         test split, loss = clean validation loss (Σ over features of the squared error, mean \
         over samples)\n{:<10} {:>6}  {:>24}  {:>28}  {:>10} {:>10}",
        "model", "latent", "probe accuracy %", "validation loss", "PCA opt.", "Σ λ (pop.)"
    );
    let mut table = Vec::new();
    for &kind in &ModelKind::ALL {
        for &latent in &latents {
            let runs = hists(&runs_of(kind, latent));
            let (am, alo, ahi) = final_stats(&runs, Metric::ProbeAcc);
            let (lm, llo, lhi) = final_stats(&runs, Metric::ValLoss);
            let (pca_k, pop_k) = (pca_opt(latent), pop_opt(latent));
            println!(
                "{:<10} {latent:>6}  {am:>6.2} [{alo:>6.2}, {ahi:>6.2}]  {lm:>8.3} [{llo:>7.3}, \
                 {lhi:>7.3}]  {pca_k:>10.3} {pop_k:>10.1}",
                kind.name()
            );
            table.push(json!({"model": kind.name(), "latent": latent,
                "probe_acc_mean": am / 100.0, "probe_acc_min": alo / 100.0, "probe_acc_max": ahi / 100.0,
                "val_loss_mean": lm, "val_loss_min": llo, "val_loss_max": lhi,
                "pca_optimum": pca_k, "population_optimum": pop_k}));
        }
    }

    // ANCHOR: random_slice
    // Latent 5 against a label-blind 5-d slice of the 20 label directions.
    let small = *latents.iter().min().expect("at least one latent size");
    let blind = (small < k_label).then(|| random_slice_probes(&data, small, &probe, seed));
    let ceiling = |runs: &[&Outcome], at: usize| {
        let rho: Vec<f64> = runs.iter().filter_map(|o| o.rho[at]).collect();
        let mean = rho.iter().sum::<f64>() / rho.len() as f64;
        (mean, 100.0 * sign_accuracy(mean))
    };
    let vanilla_small = runs_of(ModelKind::Vanilla, small);
    let (rho0, best0) = ceiling(&vanilla_small, 0);
    let (rho1, best1) = ceiling(&vanilla_small, 1);
    // ANCHOR_END: random_slice
    let at_init = 100.0
        * vanilla_small
            .iter()
            .map(|o| o.hist.probe_acc[0])
            .sum::<f64>()
        / vanilla_small.len() as f64;
    let (trained, ..) = final_stats(&hists(&vanilla_small), Metric::ProbeAcc);
    let per_run: Vec<String> = (vanilla_small.iter())
        .map(|o| {
            let (a, b) = (o.hist.probe_acc[0], o.hist.probe_acc[epochs]);
            let rho = o.rho.map(|r| r.map_or("?".into(), |r| format!("{r:.3}")));
            format!(
                "ρ {} → {}, probe {:.1}% → {:.1}%",
                rho[0],
                rho[1],
                100.0 * a,
                100.0 * b
            )
        })
        .collect();
    let fell = (vanilla_small.iter())
        .filter(|o| o.hist.probe_acc[epochs] < o.hist.probe_acc[0])
        .count();
    if let Some(b) = &blind {
        println!(
            "\nlatent {small}: a random {small}-of-{k_label} slice of the label directions keeps \
             ρ = {small}/{k_label} of Var(wᵀx): best accuracy 1/2 + asin(√ρ)/π = {:.1}%; over \
             uniformly random {small}-d slices the expected ceiling is {:.1}%, and our probe on \
             {} such slices scores {:.1}% [{:.1}, {:.1}]",
            100.0 * sign_accuracy(small as f64 / k_label as f64),
            100.0 * b.expected_ceiling,
            b.measured.len(),
            b.stats.0,
            b.stats.1,
            b.stats.2
        );
    }
    println!(
        "latent {small}, vanilla, mean over runs: ρ = {rho0:.3} at init (ceiling {best0:.1}%, \
         probe {at_init:.1}%) → ρ = {rho1:.3} after training (ceiling {best1:.1}%, probe \
         {trained:.1}%); per run: {}",
        per_run.join("; ")
    );

    let runs_json: Vec<_> = (specs.iter().zip(&results))
        .map(|(s, o)| {
            let mut v = history_json(&o.hist);
            v["model"] = json!(s.kind.name());
            v["latent"] = json!(s.latent);
            v["repeat"] = json!(s.repeat);
            v["label_share_init_final"] = json!(o.rho);
            v
        })
        .collect();
    let flops: u64 = results.iter().map(|o| o.hist.flops).sum();
    course::files::write_json(
        &out.join("results.json"),
        &json!({
            "example": "autoencoders_synthetic", "quick": quick,
            "config": {"dim": d, "samples": data_cfg.samples, "high_var_dims": k_label,
                "var_scale": data_cfg.var_scale, "splits": data_cfg.splits, "latents": latents,
                "repeats": repeats, "epochs": epochs, "lr": args.lr, "batch_size": args.batch_size,
                "noise_std": args.noise, "mask_prob": args.mask, "seed": seed,
                "probe": {"lr": probe.lr, "epochs": probe.epochs, "batch_size": probe.batch_size},
                "activation": Activation::Identity.name()},
            "pca_eigenvalues_valid": pca.explained_variance, "table": table,
            "random_slice_probe_acc": blind.as_ref().map(|b| &b.measured),
            "runs": runs_json, "sweep_seconds": stats.seconds, "gflops": flops as f64 * 1e-9,
        }),
    );
    println!("\nwrote {}", out.join("results.json").display());
    for &kind in &ModelKind::ALL {
        let groups: Vec<(String, Vec<&History>)> = (latents.iter())
            .map(|&l| (format!("latent {l}"), hists(&runs_of(kind, l))))
            .collect();
        let title = format!("{} linear AE on synthetic data", kind.name());
        course::ae_report::write_curves(&out, &format!("{}_", kind.name()), &title, &groups, true);
    }

    // The homework's questions, answered from this run's numbers (vanilla AE).
    let by_latent = |f: &dyn Fn(&[&History]) -> String| {
        (latents.iter())
            .map(|&l| format!("{l}: {}", f(&hists(&runs_of(ModelKind::Vanilla, l)))))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let noisy = if quick {
        " [--quick run: too short to converge, numbers are noisy]"
    } else {
        ""
    };
    println!(
        "answer: vanilla AE probe accuracy by latent size: {}; validation loss: {}{noisy} (the \
         loss falls to near the PCA optimum at every size, reaching ~0 once the latent size \
         covers all {d} dimensions; the probe saturates once it covers the {k_label} \
         label-carrying high-variance directions)",
        by_latent(&|r| format!("{:.1}%", final_stats(r, Metric::ProbeAcc).0)),
        by_latent(&|r| format!("{:.2}", final_stats(r, Metric::ValLoss).0)),
    );
    if let Some(b) = &blind {
        println!(
            "answer: at latent {small} a probe can do no better than 1/2 + asin(√ρ)/π, ρ the \
             share of the label's variance the code keeps (here: probe {trained:.1}% against a \
             ceiling of {best1:.1}%); a random {small}-of-{k_label} slice of the label directions keeps \
             ρ = {:.2}: {:.1}% ({:.1}% measured on {} random slices){noisy}. Training moves \
             the vanilla probe {at_init:.1}% → {trained:.1}% ({fell} of {} runs fall) and \
             cannot be relied on to raise it, because the loss is blind to the label: all {k_label} label directions have variance \
             {}, so reconstruction gains nothing from keeping w rather than any other {small} \
             of them; training drops the low-variance directions and keeps a slice set by the \
             initialisation and sampling noise, not by w (ρ {rho0:.3} → {rho1:.3}; a random \
             slice keeps {:.2} on average)",
            small as f64 / k_label as f64,
            100.0 * sign_accuracy(small as f64 / k_label as f64),
            b.stats.0,
            b.measured.len(),
            vanilla_small.len(),
            data_cfg.var_scale,
            small as f64 / k_label as f64,
        );
    }
    println!(
        "compute: {:.1} GFLOP of GEMMs in {:.2} s of sweep on {} worker(s): {:.1} GFLOP/s",
        flops as f64 * 1e-9,
        stats.seconds,
        stats.jobs,
        flops as f64 * 1e-9 / stats.seconds
    );
    wall.finish();
}

fn hists<'a>(runs: &[&'a Outcome]) -> Vec<&'a History> {
    runs.iter().map(|o| &o.hist).collect()
}
