//! A nonlinear autoencoder on MNIST, judged by a linear probe trained on only 200
//! labelled images.
//!
//! ```sh
//! cargo run --release --example autoencoders_mnist                  # fetches MNIST once
//! MNIST_DIR=/path/to/mnist cargo run --release --example autoencoders_mnist
//! cargo run --release --example autoencoders_mnist -- --model vanilla,denoising,masked
//! cargo run --release --example autoencoders_mnist -- --hidden 256,64 --epochs 3 --lr 5e-4
//! cargo run --release --example autoencoders_mnist -- --quick      # a few seconds (CI)
//! ```
//!
//! The homework's setting, and the default: the 60 000 training images split 0.9 / 0.1
//! into train / valid (in file order), the 10 000 test images as test; a denoising
//! autoencoder (noise 0.5) with hidden sizes [192, 96] and ReLU between layers, Adam lr
//! 1e-3, 1 epoch of batches of 100; 2 repeats. After initialisation and after every
//! epoch: the clean validation loss, and a linear probe (`Linear(96, 10)`, Adam lr 1e-3,
//! 1000 epochs) trained on the frozen codes of the first validation batch (200 images),
//! scored on the test set. The notebook's bar is a mean final probe accuracy of 79%; the
//! same probe on raw pixels is printed as the baseline.
//!
//! Writes loss/accuracy curves and a grid of test digits with their reconstructions (one
//! row per model type) to `results/autoencoders_mnist/`, with `results.json`. The last
//! two lines are `mean final probe accuracy: NN.NN%` and `wall time: S.SS s`.
//!
//! Without the MNIST files (in `$MNIST_DIR`, else `data/mnist`), both the full and the
//! quick run fetch them first with `scripts/fetch-mnist.sh`; if that cannot work they exit
//! 1 with one line saying why and how to get the files.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use course::autoencoder::{
    plot_curves, run_rng, train_and_probe, train_linear_probe, Activation, Autoencoder, History,
    Metric, ModelKind, ProbeConfig, Splits, TrainConfig,
};
use course::cli::RunArgs;
use course::plot::save_gray_grid;
use course::{or_fail, Run};
use ferrograd::autograd::{no_grad, Var};
use ferrograd::nn::Module;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

/// The notebook's bar for the mean final probe accuracy.
const TARGET_ACCURACY: f64 = 0.79;
/// Test digits shown in the reconstruction grid.
const GRID_DIGITS: usize = 12;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum KindArg {
    Vanilla,
    Denoising,
    Masked,
}

impl From<KindArg> for ModelKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Vanilla => ModelKind::Vanilla,
            KindArg::Denoising => ModelKind::Denoising,
            KindArg::Masked => ModelKind::Masked,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ActivationArg {
    Relu,
    Identity,
}

#[derive(Parser, Debug)]
#[command(about = "A nonlinear autoencoder on MNIST with a 200-image linear probe")]
struct Args {
    #[command(flatten)]
    run: RunArgs,
    /// Model types to train (comma-separated); each gets `--repeats` runs.
    #[arg(long, value_delimiter = ',', default_value = "denoising")]
    model: Vec<KindArg>,
    /// Hidden sizes of the encoder (the decoder mirrors them); the last is the code size.
    #[arg(long, value_delimiter = ',', default_value = "192,96")]
    hidden: Vec<usize>,
    /// Nonlinearity between layers.
    #[arg(long, value_enum, default_value = "relu")]
    activation: ActivationArg,
    /// Adam learning rate of the autoencoder.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Autoencoder epochs over the 54 000 training images.
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// Autoencoder batch size.
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// Noise standard deviation of the denoising autoencoder.
    #[arg(long, default_value_t = 0.5)]
    noise: f32,
    /// Masking probability of the masked autoencoder.
    #[arg(long, default_value_t = 0.25)]
    mask: f32,
    /// Runs (seeds) per model type.
    #[arg(long, default_value_t = 2)]
    repeats: usize,
    /// Probe epochs over its one batch of labelled images.
    #[arg(long)]
    probe_epochs: Option<usize>,
    /// Worker threads (runs in parallel); default: one per core.
    #[arg(long)]
    jobs: Option<usize>,
}

/// What one worker hands back.
enum Outcome {
    Run {
        hist: History,
        /// Reconstructions of the first test digits (row-major, 784 each).
        recon: Vec<f32>,
    },
    Baseline {
        acc: f64,
        flops: u64,
    },
}

fn main() {
    let wall = Run::start();
    let args = Args::parse();
    let quick = args.run.quick;
    let seed = args.run.seed;
    let mnist = course::mnist::load().unwrap_or_else(|e| course::die(e));
    let (train_full, valid_full) = or_fail(mnist.train_valid_split(0.9), "splitting MNIST");
    // --quick: a slice of each split, and a shorter probe.
    let (train, valid, test) = if quick {
        (
            train_full.slice(0, 5_000),
            valid_full.slice(0, 1_000),
            mnist.test.slice(0, 2_000),
        )
    } else {
        (train_full, valid_full, mnist.test.clone())
    };
    let probe_epochs = args.probe_epochs.unwrap_or(if quick { 200 } else { 1000 });
    let activation = match args.activation {
        ActivationArg::Relu => Activation::Relu,
        ActivationArg::Identity => Activation::Identity,
    };
    let kinds: Vec<ModelKind> = args.model.iter().map(|&k| k.into()).collect();
    let probe = ProbeConfig {
        classes: 10,
        lr: 1e-3,
        epochs: probe_epochs,
        batch_size: 200,
        max_batches: Some(1),
    };
    println!(
        "MNIST: train/valid/test = {}/{}/{}{}",
        train.len(),
        valid.len(),
        test.len(),
        if quick { " (--quick subsets)" } else { "" }
    );
    println!(
        "autoencoder: hidden {:?}, {} between layers, models {:?}, {} repeats, {} epoch(s), \
         batch {}, Adam lr {}, noise {}, mask {}; probe: Linear({}, 10) on {} labelled \
         validation images, {probe_epochs} epochs, Adam lr 1e-3",
        args.hidden,
        activation.name(),
        kinds.iter().map(|k| k.name()).collect::<Vec<_>>(),
        args.repeats,
        args.epochs,
        args.batch_size,
        args.lr,
        args.noise,
        args.mask,
        args.hidden.last().copied().unwrap_or(0),
        probe.batch_size,
    );
    {
        let ae = Autoencoder::new(784, &args.hidden, activation, &mut run_rng(0, 0));
        let names: Vec<String> = ae
            .named_parameters()
            .into_iter()
            .map(|(n, p)| format!("{n} {:?}", p.dims()))
            .collect();
        println!("parameters: {}", names.join(", "));
    }

    // Jobs: every (model, repeat) run, then the raw-pixel baseline probe.
    let runs: Vec<(ModelKind, usize)> = kinds
        .iter()
        .flat_map(|&k| (0..args.repeats).map(move |r| (k, r)))
        .collect();
    let n_jobs = runs.len() + 1;
    let workers = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, n_jobs);
    if workers > 1 {
        ferrograd::tensor::gemm::set_num_threads(1);
    }
    let bar = ProgressBar::new((runs.len() * (args.epochs + 1)) as u64);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} run-epochs {msg}")
            .unwrap()
            .progress_chars("=> "),
    );
    let splits = Splits {
        train: &train,
        valid: &valid,
        test: &test,
    };
    let grid_x = test.x.narrow(0, 0, GRID_DIGITS.min(test.len()));
    let next = AtomicUsize::new(0);
    let outcomes: Mutex<Vec<Option<Outcome>>> = Mutex::new((0..n_jobs).map(|_| None).collect());
    let sweep_start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n_jobs {
                    break;
                }
                let mut rng = run_rng(seed, i as u64 + 1);
                let outcome = if let Some(&(kind, _)) = runs.get(i) {
                    let cfg = TrainConfig {
                        kind,
                        noise_std: args.noise,
                        mask_prob: args.mask,
                        lr: args.lr,
                        epochs: args.epochs,
                        batch_size: args.batch_size,
                        probe: probe.clone(),
                    };
                    let model = Autoencoder::new(784, &args.hidden, activation, &mut rng);
                    bar.set_message(kind.name());
                    let hist = train_and_probe(&model, splits, &cfg, &mut rng, |_| bar.inc(1))
                        .unwrap_or_else(|e| course::fail(format!("{} AE: {e}", kind.name())));
                    let recon = no_grad(|| model.forward(&Var::constant(grid_x.clone())))
                        .value()
                        .data()
                        .to_vec();
                    Outcome::Run { hist, recon }
                } else {
                    let n = probe.batch_size.min(valid.len());
                    let (acc, flops) = train_linear_probe(
                        &valid.x.narrow(0, 0, n),
                        &valid.labels[..n],
                        &test.x,
                        &test.labels,
                        &probe,
                        &mut rng,
                    );
                    Outcome::Baseline { acc, flops }
                };
                outcomes.lock().unwrap()[i] = Some(outcome);
            });
        }
    });
    bar.finish_and_clear();
    let sweep_seconds = sweep_start.elapsed().as_secs_f64();
    let mut hists = Vec::new();
    let mut recons = Vec::new();
    let (mut baseline_acc, mut flops) = (f64::NAN, 0u64);
    for o in outcomes.into_inner().unwrap() {
        match o.expect("every job finished") {
            Outcome::Run { hist, recon } => {
                flops += hist.flops;
                hists.push(hist);
                recons.push(recon);
            }
            Outcome::Baseline { acc, flops: f } => {
                baseline_acc = acc;
                flops += f;
            }
        }
    }

    println!();
    println!(
        "after {} epoch(s), mean [min, max] over {} runs:",
        args.epochs, args.repeats
    );
    println!(
        "{:<10} {:>26}  {:>26}",
        "model", "probe test accuracy %", "validation loss"
    );
    let mut table = Vec::new();
    for &kind in &kinds {
        let group: Vec<&History> = runs
            .iter()
            .zip(&hists)
            .filter(|((k, _), _)| *k == kind)
            .map(|(_, h)| h)
            .collect();
        let acc: Vec<f64> = group
            .iter()
            .map(|h| 100.0 * h.probe_acc.last().unwrap())
            .collect();
        let loss: Vec<f64> = group.iter().map(|h| *h.val_loss.last().unwrap()).collect();
        let (am, alo, ahi) = stats(&acc);
        let (lm, llo, lhi) = stats(&loss);
        let (a0, _, _) = stats(
            &group
                .iter()
                .map(|h| 100.0 * h.probe_acc[0])
                .collect::<Vec<_>>(),
        );
        println!(
            "{:<10} {am:>8.2} [{alo:>6.2}, {ahi:>6.2}]  {lm:>8.3} [{llo:>7.3}, {lhi:>7.3}]   (at init: {a0:.2}%)",
            kind.name()
        );
        table.push(json!({"model": kind.name(), "probe_acc_mean": am / 100.0, "probe_acc_min": alo / 100.0,
            "probe_acc_max": ahi / 100.0, "val_loss_mean": lm, "val_loss_min": llo, "val_loss_max": lhi}));
    }
    println!(
        "{:<10} {:>8.2}   (the same probe on the 784 raw pixels)",
        "raw pixels",
        100.0 * baseline_acc
    );

    let out = args.run.out_dir("autoencoders_mnist");
    let runs_json: Vec<_> = runs
        .iter()
        .zip(&hists)
        .map(|((k, r), h)| {
            json!({"model": k.name(), "repeat": r, "val_loss": h.val_loss, "probe_acc": h.probe_acc,
                "train_loss": h.train_loss.iter().map(|v| v.is_finite().then_some(*v)).collect::<Vec<_>>(),
                "flops": h.flops, "train_seconds": h.train_seconds, "eval_seconds": h.eval_seconds})
        })
        .collect();
    let json_path = out.join("results.json");
    let doc = json!({
        "example": "autoencoders_mnist", "quick": quick,
        "config": {"hidden": args.hidden, "activation": activation.name(), "models": kinds.iter().map(|k| k.name()).collect::<Vec<_>>(),
            "lr": args.lr, "epochs": args.epochs, "batch_size": args.batch_size, "noise_std": args.noise,
            "mask_prob": args.mask, "repeats": args.repeats, "seed": seed,
            "probe": {"lr": probe.lr, "epochs": probe.epochs, "labelled_images": probe.batch_size},
            "splits": [train.len(), valid.len(), test.len()]},
        "table": table, "raw_pixel_probe_acc": baseline_acc, "runs": runs_json,
        "sweep_seconds": sweep_seconds, "gflops": flops as f64 * 1e-9,
    });
    course::files::write_json(&json_path, &doc);
    println!("\nwrote {}", json_path.display());

    // Test digits, then one row of reconstructions per model type (its first run).
    let mut rows: Vec<Vec<&[f32]>> = vec![grid_x.data().chunks(784).collect()];
    for &kind in &kinds {
        let first = runs.iter().position(|(k, _)| *k == kind).unwrap();
        rows.push(recons[first].chunks(784).collect());
    }
    let grid = or_fail(
        save_gray_grid(out.join("reconstructions"), &rows, 28, 28),
        "writing the reconstruction grid",
    );
    println!(
        "wrote {} (top: test digits; then {} reconstructions)",
        grid.display(),
        kinds
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let hidden = format!("{:?}", args.hidden);
    for (metric, stem, what, log_y) in [
        (Metric::ValLoss, "val_loss", "validation loss", false),
        (
            Metric::ProbeAcc,
            "probe_acc",
            "200-image probe accuracy",
            false,
        ),
    ] {
        let groups: Vec<(String, Vec<&History>)> = kinds
            .iter()
            .map(|&kind| {
                let g = runs
                    .iter()
                    .zip(&hists)
                    .filter(|((k, _), _)| *k == kind)
                    .map(|(_, h)| h)
                    .collect();
                (format!("{} {hidden}", kind.name()), g)
            })
            .collect();
        let title = format!(
            "MNIST autoencoders: {what} (mean, min-max over {} runs)",
            args.repeats
        );
        let [png, _] = or_fail(
            plot_curves(&out.join(stem), &title, metric, &groups, log_y),
            "plotting",
        );
        println!("wrote {} (and .svg)", png.display());
    }

    let final_accs: Vec<f64> = hists.iter().map(|h| *h.probe_acc.last().unwrap()).collect();
    let mean_acc = final_accs.iter().sum::<f64>() / final_accs.len().max(1) as f64;
    println!(
        "compute: {:.1} GFLOP of GEMMs in {sweep_seconds:.2} s on {workers} worker(s): {:.1} GFLOP/s",
        flops as f64 * 1e-9,
        flops as f64 * 1e-9 / sweep_seconds
    );
    if !quick {
        let per_model: Vec<String> = kinds
            .iter()
            .map(|&kind| {
                let v: Vec<f64> = runs
                    .iter()
                    .zip(&hists)
                    .filter(|((k, _), _)| *k == kind)
                    .map(|(_, h)| 100.0 * h.probe_acc.last().unwrap())
                    .collect();
                format!("{} {:.2}%", kind.name(), stats(&v).0)
            })
            .collect();
        println!(
            "answer: mean final probe accuracy {:.2}% ({}) {} the notebook's {:.0}% bar (raw pixels: {:.2}%)",
            100.0 * mean_acc,
            per_model.join(", "),
            if mean_acc >= TARGET_ACCURACY {
                "meets"
            } else {
                "misses"
            },
            100.0 * TARGET_ACCURACY,
            100.0 * baseline_acc
        );
    }
    println!("mean final probe accuracy: {:.2}%", 100.0 * mean_acc);
    wall.finish();
}

/// Mean, min and max.
fn stats(v: &[f64]) -> (f64, f64, f64) {
    let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (mean, lo, hi)
}
