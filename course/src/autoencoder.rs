//! The autoencoders of the homework and their training loop, shared by the
//! `autoencoders_synthetic` and `autoencoders_mnist` examples.
//!
//! What is reproduced from the notebook (its own asserts, in PyTorch):
//! - [`Autoencoder::new`]`(input, hidden_sizes, activation)`: the encoder is `Linear` layers
//!   over `hidden_sizes` with the activation *between* layers (none after the last); the
//!   decoder mirrors it back to `input`, again with nothing after its last layer. A single
//!   hidden size therefore gives a *linear* encoder even with ReLU. Parameters are named
//!   like PyTorch's (`encoder.0.weight`, `encoder.2.bias`, `decoder.0.weight`, ...).
//! - The loss is the squared L2 error of each sample summed over features, averaged over
//!   the batch ([`squared_error_per_sample`]).
//! - Denoising: the model sees `x + noise_std · N(0, 1)`, the loss compares with clean `x`.
//!   Masked: each input entry is zeroed independently with probability `mask_prob`; the
//!   loss is over *all* entries against clean `x`.
//! - The validation loss is the clean forward pass for every model type.
//! - After initialisation and after every epoch: the validation loss, then a linear probe
//!   (`Linear(latent, classes)`, Adam lr 1e-3, cross-entropy) trained on the frozen
//!   encoder's features of validation batches of 200, scored on the test split.
//!
//! Speed: the frozen encoder's features are computed once per probe under `no_grad`, and
//! the probe's batches are built once and reused every epoch; a probe step is its gradient
//! written out by hand ([`crate::probe`], the autograd loop's bits without its graph) and
//! an Adam update. Validation and test sets are read in chunks of 1000 samples
//! ([`Samples::copy_rows`]), so MNIST's stay bytes. Every GEMM issued is counted
//! (2·m·n·k flops) so the examples can report GFLOP/s.

use std::time::Instant;

use ferrograd::autograd::{no_grad, Gradients, Reduction, Var};
use ferrograd::nn::data::{Batches, Samples};
use ferrograd::nn::optim::{Adam, AdamConfig, Optimizer};
use ferrograd::nn::{prefixed, Identity, Linear, Module, ReLU, Sequential};
use ferrograd::tensor::{Float, Tensor};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::noise::{standard_normal_block, BLOCK};
use crate::probe::ProbeGradients;

/// The homework's autoencoder loss: the squared L2 error of each sample (summed over
/// features), averaged over the batch: `(1/B) Σᵢ ‖xᵢ − yᵢ‖²` = `features × MSELoss()`.
/// In PyTorch: `((x - y) ** 2).sum(dim=1).mean()`.
#[track_caller]
pub fn squared_error_per_sample<T: Float>(input: &Var<T>, target: &Var<T>) -> Var<T> {
    let batch = input.dims().first().copied().unwrap_or(1).max(1);
    input
        .mse_loss(target, Reduction::Sum)
        .scale(T::ONE / T::from_usize(batch))
}

/// The nonlinearity placed between consecutive layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// No nonlinearity: a linear autoencoder.
    Identity,
    /// `max(x, 0)`.
    Relu,
}

impl Activation {
    /// The name used in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Relu => "relu",
        }
    }

    fn layer(self) -> Box<dyn Module<f32>> {
        match self {
            Activation::Identity => Box::new(Identity),
            Activation::Relu => Box::new(ReLU),
        }
    }
}

/// Which autoencoder of the homework: what the model sees during training.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    /// Reconstructs its clean input.
    Vanilla,
    /// Reconstructs clean `x` from `x + noise_std · N(0, 1)`.
    Denoising,
    /// Reconstructs clean `x` from `x` with entries zeroed with probability `mask_prob`.
    Masked,
}

impl ModelKind {
    /// All three, in the notebook's order.
    pub const ALL: [ModelKind; 3] = [ModelKind::Vanilla, ModelKind::Denoising, ModelKind::Masked];

    /// The name used in tables, file names and JSON.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Vanilla => "vanilla",
            ModelKind::Denoising => "denoising",
            ModelKind::Masked => "masked",
        }
    }
}

/// An encoder and a mirrored decoder.
pub struct Autoencoder {
    /// `Linear(input, h₀), act, Linear(h₀, h₁), act, …, Linear(hₙ₋₂, hₙ₋₁)`.
    pub encoder: Sequential<f32>,
    /// `Linear(hₙ₋₁, hₙ₋₂), act, …, Linear(h₀, input)`.
    pub decoder: Sequential<f32>,
    /// `[input, h₀, …, hₙ₋₁]`.
    widths: Vec<usize>,
}

impl Autoencoder {
    /// The homework's `Autoencoder(input_size, hidden_sizes, activation)`, initialised like
    /// PyTorch from `rng` (encoder layers first, then the decoder's).
    #[track_caller]
    pub fn new<R: Rng + ?Sized>(
        input: usize,
        hidden_sizes: &[usize],
        activation: Activation,
        rng: &mut R,
    ) -> Self {
        assert!(
            !hidden_sizes.is_empty(),
            "Autoencoder: need at least one hidden size"
        );
        let mut widths = vec![input];
        widths.extend_from_slice(hidden_sizes);
        let chain = |dims: Vec<usize>, rng: &mut R| {
            let mut seq = Sequential::new();
            for (i, pair) in dims.windows(2).enumerate() {
                if i > 0 {
                    seq.push(activation.layer());
                }
                seq.push(Box::new(Linear::<f32>::new(pair[0], pair[1], true, rng)));
            }
            seq
        };
        let encoder = chain(widths.clone(), rng);
        let decoder = chain(widths.iter().rev().copied().collect(), rng);
        Autoencoder {
            encoder,
            decoder,
            widths,
        }
    }

    /// Input width.
    pub fn input_size(&self) -> usize {
        self.widths[0]
    }

    /// Width of the code (the last hidden size).
    pub fn latent_size(&self) -> usize {
        *self.widths.last().unwrap()
    }

    /// The code of `x`.
    pub fn encode(&self, x: &Var<f32>) -> Var<f32> {
        self.encoder.forward(x)
    }

    /// Flops of the encoder's GEMMs for `rows` samples.
    pub fn encoder_flops(&self, rows: usize) -> u64 {
        encoder_flops(self.widths[0], &self.widths[1..], rows)
    }

    /// Flops of one forward pass (encoder and decoder) over `rows` samples.
    pub fn forward_flops(&self, rows: usize) -> u64 {
        2 * self.encoder_flops(rows)
    }

    /// Flops of one training step on `rows` samples: forward, every weight gradient, and
    /// every input gradient except the first layer's (the data needs none).
    pub fn train_step_flops(&self, rows: usize) -> u64 {
        train_step_flops(self.widths[0], &self.widths[1..], rows)
    }
}

impl Module<f32> for Autoencoder {
    fn forward(&self, x: &Var<f32>) -> Var<f32> {
        self.decoder.forward(&self.encoder.forward(x))
    }

    fn named_parameters(&self) -> Vec<(String, Var<f32>)> {
        let mut params = prefixed("encoder", self.encoder.named_parameters());
        params.extend(prefixed("decoder", self.decoder.named_parameters()));
        params
    }
}

/// [`Autoencoder::train_step_flops`] of the model [`Autoencoder::new`] builds from
/// `input` and `hidden`, without building it: what a scheduler needs to order runs by
/// cost.
pub fn train_step_flops(input: usize, hidden: &[usize], rows: usize) -> u64 {
    let first = hidden.first().map_or(0, |&h| 2 * (rows * input * h) as u64);
    3 * (2 * encoder_flops(input, hidden, rows)) - first
}

/// Flops of the GEMMs of the encoder from `input` through the `hidden` sizes, for `rows`
/// samples.
fn encoder_flops(input: usize, hidden: &[usize], rows: usize) -> u64 {
    let fan_in = std::iter::once(input).chain(hidden.iter().copied());
    fan_in
        .zip(hidden)
        .map(|(i, &o)| 2 * (rows * i * o) as u64)
        .sum()
}

/// How to train one autoencoder and probe it.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// The model type.
    pub kind: ModelKind,
    /// Standard deviation of the denoising AE's input noise.
    pub noise_std: f32,
    /// Probability that the masked AE zeroes an input entry.
    pub mask_prob: f32,
    /// Adam learning rate for the autoencoder.
    pub lr: f64,
    /// Passes over the training split.
    pub epochs: usize,
    /// Autoencoder mini-batch size.
    pub batch_size: usize,
    /// The linear probe run after initialisation and after every epoch.
    pub probe: ProbeConfig,
}

/// The linear probe: `Linear(latent, classes)` trained with Adam and cross-entropy on the
/// frozen encoder's features of validation batches, scored on the test split.
#[derive(Clone, Debug)]
pub struct ProbeConfig {
    /// Number of classes.
    pub classes: usize,
    /// Adam learning rate (the homework's 1e-3).
    pub lr: f64,
    /// Passes over the probe's batches.
    pub epochs: usize,
    /// Validation samples per probe batch (200).
    pub batch_size: usize,
    /// Use only the first this many validation batches (`None`: all of them). The MNIST
    /// problem trains its probe on one batch: 200 labelled images.
    pub max_batches: Option<usize>,
}

/// The train, validation and test splits one run uses.
#[derive(Clone, Copy)]
pub struct Splits<'a> {
    /// Autoencoder training data (labels unused): a [`ferrograd::nn::data::Split`], or
    /// MNIST's pixels as bytes ([`ferrograd::nn::data::ByteSplit`]), converted batch by
    /// batch.
    pub train: &'a dyn Samples<f32>,
    /// Validation loss, and the probe's training data (read in chunks, as `test`).
    pub valid: &'a dyn Samples<f32>,
    /// The probe's accuracy.
    pub test: &'a dyn Samples<f32>,
}

/// Everything measured in one run; index 0 is after initialisation, index `e` after
/// epoch `e`.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// Clean validation loss (mean over samples of the summed squared error).
    pub val_loss: Vec<f64>,
    /// Test accuracy of the linear probe, in [0, 1].
    pub probe_acc: Vec<f64>,
    /// Mean training loss of each epoch (on the corrupted input for denoising/masked);
    /// `NaN` at index 0, where nothing was trained.
    pub train_loss: Vec<f64>,
    /// Flops of every GEMM the run issued.
    pub flops: u64,
    /// Seconds spent training the autoencoder, and in evaluation (validation loss and
    /// probes).
    pub train_seconds: f64,
    /// See `train_seconds`.
    pub eval_seconds: f64,
}

/// Trains `model` as `cfg` says, measuring after initialisation and after every epoch;
/// `on_epoch(e)` is called after each measurement (for progress bars). Returns an error
/// message if the training or validation loss became NaN or infinite.
pub fn train_and_probe(
    model: &Autoencoder,
    data: Splits<'_>,
    cfg: &TrainConfig,
    rng: &mut SmallRng,
    mut on_epoch: impl FnMut(usize),
) -> Result<History, String> {
    let mut hist = History::default();
    // The probe trains on the first `max_batches` validation batches only: copy just
    // those rows (MNIST: 200 of 6000), not the whole split.
    let n_valid = data.valid.len();
    let probe_rows = cfg
        .probe
        .max_batches
        .map_or(n_valid, |b| (b * cfg.probe.batch_size).min(n_valid));
    // Split into the probe's batches once: every measurement encodes them batch by batch,
    // so the codes arrive already split (no copy of a [rows, latent] tensor per probe).
    let valid_batches = constant_batches(data.valid, probe_rows, cfg.probe.batch_size);

    let measure = |hist: &mut History, rng: &mut SmallRng| -> Result<(), String> {
        let t = Instant::now();
        let (loss, f1) = validation_loss(model, data.valid);
        // Weights can blow up without a non-finite training loss (the last step of an
        // epoch); a NaN code would give the probe a meaningless accuracy.
        if !loss.is_finite() {
            return Err(format!(
                "training diverged: the validation loss became {loss} after epoch {} \
                 (try a smaller learning rate)",
                hist.val_loss.len().saturating_sub(1)
            ));
        }
        let (acc, f2) = probe_accuracy(
            model,
            &valid_batches,
            &data.valid.labels()[..probe_rows],
            data.test,
            &cfg.probe,
            rng,
        );
        hist.val_loss.push(loss);
        hist.probe_acc.push(acc);
        hist.flops += f1 + f2;
        hist.eval_seconds += t.elapsed().as_secs_f64();
        Ok(())
    };
    measure(&mut hist, rng)?;
    hist.train_loss.push(f64::NAN);
    on_epoch(0);

    let mut opt = Adam::new(model.parameters(), AdamConfig::new(cfg.lr));
    // The clean batch and the model's input are two constants whose buffers are refilled
    // every step (`value_mut` writes in place: by then the last step's graph, the only
    // other holder, has been dropped), so a step allocates no batch-sized buffer.
    let d = model.input_size();
    let target = Var::constant(Tensor::zeros([cfg.batch_size, d]));
    let input = match cfg.kind {
        ModelKind::Vanilla => target.clone(),
        _ => Var::constant(Tensor::zeros([cfg.batch_size, d])),
    };
    let mut labels = Vec::new();
    // Refilled by every backward pass, in the weight-gradient buffers of the last one.
    let mut grads = Gradients::new();
    let mut step = 0usize;
    for epoch in 1..=cfg.epochs {
        let t = Instant::now();
        let mut loss_sum = 0.0;
        let mut batches = 0usize;
        // Every batch full, as the homework's `n // batch_size` loop.
        let mut epoch_batches = Batches::shuffled(data.train, cfg.batch_size, rng).drop_last(true);
        while epoch_batches.next_into(&mut target.value_mut(), &mut labels) {
            if cfg.kind != ModelKind::Vanilla {
                corrupt_into(&target.value(), &mut input.value_mut(), cfg, rng);
            }
            let rows = target.value().rows();
            let out = model.forward(&input);
            let loss = squared_error_per_sample(&out, &target);
            loss_sum +=
                ferrograd::nn::check_finite(loss.item(), step).map_err(|e| e.to_string())?;
            loss.backward_into(&mut grads);
            opt.step(&grads);
            hist.flops += model.train_step_flops(rows);
            step += 1;
            batches += 1;
        }
        hist.train_loss.push(loss_sum / batches.max(1) as f64);
        hist.train_seconds += t.elapsed().as_secs_f64();
        measure(&mut hist, rng)?;
        on_epoch(epoch);
    }
    Ok(hist)
}

/// The input the model sees for a clean batch: itself, with Gaussian noise added, or with
/// entries zeroed at random.
pub fn corrupt(clean: &Tensor<f32>, cfg: &TrainConfig, rng: &mut SmallRng) -> Tensor<f32> {
    let mut x = clean.clone();
    corrupt_into(clean, &mut x, cfg, rng);
    x
}

/// [`corrupt`] written into `out` (made `clean`'s shape if it is not), whose buffer is
/// reused: the training loop's form. Same draws from `rng` as `corrupt`.
pub fn corrupt_into(
    clean: &Tensor<f32>,
    out: &mut Tensor<f32>,
    cfg: &TrainConfig,
    rng: &mut SmallRng,
) {
    if out.shape() != clean.shape() {
        *out = Tensor::zeros(clean.shape());
    }
    let (src, dst) = (clean.data(), out.data_mut());
    match cfg.kind {
        ModelKind::Vanilla => dst.copy_from_slice(src),
        ModelKind::Denoising => {
            // Drawn in blocks (Box–Muller, vectorised): per sample, the ziggurat of
            // `rand_distr` cost about a tenth of the step's GEMMs.
            let s = cfg.noise_std;
            for (dst, src) in dst.chunks_mut(BLOCK).zip(src.chunks(BLOCK)) {
                let z = standard_normal_block(rng);
                for ((v, &c), &z) in dst.iter_mut().zip(src).zip(&z) {
                    *v = c + s * z;
                }
            }
        }
        ModelKind::Masked => {
            // Compare 24 random bits against p·2²⁴: one draw of a u64 gives two decisions,
            // its low half then its high half. The draws are made a block at a time, so
            // the compare-and-select loop runs on whole vectors.
            let thresh = (cfg.mask_prob as f64 * (1u64 << 24) as f64) as u32;
            let mut bits = [0u32; BLOCK];
            for (dst, src) in dst.chunks_mut(BLOCK).zip(src.chunks(BLOCK)) {
                for pair in bits[..dst.len().next_multiple_of(2)].chunks_exact_mut(2) {
                    let r = rng.random::<u64>();
                    pair[0] = r as u32;
                    pair[1] = (r >> 32) as u32;
                }
                for ((v, &c), &r) in dst.iter_mut().zip(src).zip(&bits) {
                    *v = if r & 0xFF_FFFF < thresh { 0.0 } else { c };
                }
            }
        }
    }
}

/// Rows per chunk when a whole split is evaluated: the f32 sums of a chunk's loss stay
/// short, and a chunk's floats (3 MB of MNIST images) stay in cache between the copy and
/// the first product.
const EVAL_CHUNK: usize = 1000;

/// Calls `f(start, chunk)` for consecutive chunks of at most [`EVAL_CHUNK`] samples, each
/// a constant whose one buffer `Batches::next_into` refills, in order. MNIST's validation
/// and test images stay bytes and are converted a chunk at a time: no 50 MB float copy
/// of them is made (or page-faulted in) at the start of a run, and an encoder reads each
/// chunk from cache instead of 31 MB of test floats from memory.
fn for_each_chunk(samples: &dyn Samples<f32>, mut f: impl FnMut(usize, &Var<f32>)) {
    let chunk = Var::constant(Tensor::zeros([0, samples.dim()]));
    let mut labels = Vec::new();
    let mut chunks = Batches::in_order(samples, EVAL_CHUNK);
    let mut start = 0;
    while chunks.next_into(&mut chunk.value_mut(), &mut labels) {
        f(start, &chunk);
        start += labels.len();
    }
}

/// The clean validation loss (mean over samples of the summed squared error) and the
/// flops spent, in chunks so the f32 sums stay short.
pub fn validation_loss(model: &Autoencoder, x: &dyn Samples<f32>) -> (f64, u64) {
    let n = x.len();
    let mut total = 0.0;
    let mut flops = 0;
    no_grad(|| {
        for_each_chunk(x, |_, xb| {
            let rows = xb.value().rows();
            let loss = squared_error_per_sample(&model.forward(xb), xb);
            total += loss.item() as f64 * rows as f64;
            flops += model.forward_flops(rows);
        })
    });
    (total / n.max(1) as f64, flops)
}

/// Trains a fresh linear probe on the frozen encoder's codes of `train_batches` (every
/// epoch, in order) and returns its accuracy on the codes of `test`, with the flops
/// spent.
pub fn probe_accuracy(
    model: &Autoencoder,
    train_batches: &[Var<f32>],
    train_labels: &[usize],
    test: &dyn Samples<f32>,
    cfg: &ProbeConfig,
    rng: &mut SmallRng,
) -> (f64, u64) {
    let used: usize = train_batches.iter().map(|b| b.value().rows()).sum();
    let train_codes: Vec<Var<f32>> =
        no_grad(|| train_batches.iter().map(|b| model.encode(b)).collect());
    let (probe, train_flops) =
        train_probe_on_batches(&train_codes, &train_labels[..used], cfg, rng);
    let (acc, test_flops) = probe_test_accuracy(&probe, test, |x| model.encode(x));
    let encoder_flops = model.encoder_flops(used) + model.encoder_flops(test.len());
    (acc, encoder_flops + train_flops + test_flops)
}

/// Trains `Linear(features, classes)` with Adam on `train_x` (batches in order, every
/// epoch) and returns its accuracy on `test` and the flops spent. Also the raw-pixel
/// baseline.
pub fn train_linear_probe(
    train_x: &dyn Samples<f32>,
    test: &dyn Samples<f32>,
    cfg: &ProbeConfig,
    rng: &mut SmallRng,
) -> (f64, u64) {
    // Built once: each epoch reuses the same constant batches.
    let batches = constant_batches(train_x, train_x.len(), cfg.batch_size);
    let (probe, train_flops) = train_probe_on_batches(&batches, train_x.labels(), cfg, rng);
    let (acc, test_flops) = probe_test_accuracy(&probe, test, Var::clone);
    (acc, train_flops + test_flops)
}

/// The first `rows` samples of `x` as constants of `batch_size` rows each (the last one
/// shorter), in order; `rows` is whole batches or all of `x`, as the probe takes them.
fn constant_batches(x: &dyn Samples<f32>, rows: usize, batch_size: usize) -> Vec<Var<f32>> {
    let batch_size = batch_size.max(1);
    debug_assert!(rows.is_multiple_of(batch_size) || rows == x.len());
    Batches::in_order(x, batch_size)
        .take(rows.div_ceil(batch_size))
        .map(|(b, _)| Var::constant(b))
        .collect()
}

/// Trains `Linear(features, classes)` with Adam on a training set already split into
/// batches (constants, in order; `train_labels` holds their rows' labels, in the same
/// order), every epoch. Returns the probe and the flops spent.
pub fn train_probe_on_batches(
    batches: &[Var<f32>],
    train_labels: &[usize],
    cfg: &ProbeConfig,
    rng: &mut SmallRng,
) -> (Linear<f32>, u64) {
    let n: usize = batches.iter().map(|b| b.value().rows()).sum();
    assert_eq!(n, train_labels.len(), "probe: one label per training row");
    let f = batches.first().map_or(0, |b| b.value().cols());
    let probe = Linear::<f32>::new(f, cfg.classes, true, rng);
    let mut opt = Adam::new(probe.parameters(), AdamConfig::new(cfg.lr));
    let mut grads = Gradients::new();
    // `probe.forward(xb).cross_entropy(labels).backward_into(&mut grads)`, bit for bit,
    // without building a graph per step: see `crate::probe`.
    let mut by_hand = ProbeGradients::new();
    for _ in 0..cfg.epochs {
        let mut start = 0;
        for xb in batches {
            let xb = xb.value();
            let labels = &train_labels[start..start + xb.rows()];
            by_hand.compute(&probe, &xb, labels, &mut grads);
            opt.step(&grads);
            start += labels.len();
        }
    }
    // Forward and weight gradient per step.
    let flops = (cfg.epochs * 2 * 2 * n * f * cfg.classes) as u64;
    (probe, flops)
}

/// The share of `test` that `probe` classifies right, reading `features(x)` of each
/// chunk of its samples (the frozen encoder's codes, or the samples themselves), with the
/// flops of the probe's products.
pub fn probe_test_accuracy(
    probe: &Linear<f32>,
    test: &dyn Samples<f32>,
    features: impl Fn(&Var<f32>) -> Var<f32>,
) -> (f64, u64) {
    let labels = test.labels();
    let mut correct = 0;
    let mut flops = 0;
    no_grad(|| {
        for_each_chunk(test, |start, x| {
            let logits = probe.forward(&features(x));
            let (rows, f) = (x.value().rows(), probe.in_features());
            let pred = logits.value().argmax_axis(1);
            correct += (pred.iter().zip(&labels[start..start + rows]))
                .filter(|(p, t)| p == t)
                .count();
            flops += (2 * rows * f * probe.out_features()) as u64;
        })
    });
    (correct as f64 / labels.len().max(1) as f64, flops)
}

/// A generator for run `index` of a sweep seeded with `seed`: independent streams, so a
/// run's numbers do not depend on which worker ran it or in what order.
pub fn run_rng(seed: u64, index: u64) -> SmallRng {
    SmallRng::seed_from_u64(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Which per-epoch measurement to plot.
#[derive(Clone, Copy, Debug)]
pub enum Metric {
    /// Clean validation loss.
    ValLoss,
    /// Probe test accuracy, in percent.
    ProbeAcc,
}

impl Metric {
    fn values(self, h: &History) -> &[f64] {
        match self {
            Metric::ValLoss => &h.val_loss,
            Metric::ProbeAcc => &h.probe_acc,
        }
    }

    fn scale(self) -> f64 {
        match self {
            Metric::ValLoss => 1.0,
            Metric::ProbeAcc => 100.0,
        }
    }
}

/// Mean, min and max over runs of `metric` at every epoch (0 = after initialisation).
pub fn epoch_stats(runs: &[&History], metric: Metric) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let epochs = runs
        .iter()
        .map(|h| metric.values(h).len())
        .min()
        .unwrap_or(0);
    let (mut mean, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new());
    for e in 0..epochs {
        let v: Vec<f64> = runs
            .iter()
            .map(|h| metric.values(h)[e] * metric.scale())
            .collect();
        mean.push(v.iter().sum::<f64>() / v.len() as f64);
        lo.push(v.iter().copied().fold(f64::INFINITY, f64::min));
        hi.push(v.iter().copied().fold(f64::NEG_INFINITY, f64::max));
    }
    (mean, lo, hi)
}

/// Writes `<path>.png` and `<path>.svg`: one curve per group (mean over its runs, a dot
/// per epoch) with a translucent band between the min and max over runs.
pub fn plot_curves(
    path: &std::path::Path,
    title: &str,
    metric: Metric,
    groups: &[(String, Vec<&History>)],
    log_y: bool,
) -> Result<[std::path::PathBuf; 2], super::plot::PlotError> {
    use super::plot::{Legend, LinePlot};
    let ylabel = match metric {
        Metric::ValLoss => "validation loss (squared error per sample)",
        Metric::ProbeAcc => "linear-probe test accuracy (%)",
    };
    // Losses fall from the upper left, so the lower left is free; accuracies get head
    // room below the lowest band for the legend.
    let legend = match metric {
        Metric::ValLoss => Legend::LowerLeft,
        Metric::ProbeAcc => Legend::LowerRight,
    };
    let mut plot = LinePlot::new(title, "epoch (0 = at initialisation)", ylabel).legend(legend);
    if log_y {
        plot = plot.log_y();
    }
    if let Metric::ProbeAcc = metric {
        let all: Vec<f64> = groups
            .iter()
            .flat_map(|(_, runs)| runs.iter().flat_map(|h| h.probe_acc.iter()))
            .map(|a| 100.0 * a)
            .filter(|a| a.is_finite())
            .collect();
        let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if lo.is_finite() && hi.is_finite() {
            let span = (hi - lo).max(1.0);
            plot = plot.y_range(
                (lo - 0.1 * span - 4.0 * groups.len() as f64).max(0.0),
                (hi + 0.05 * span).min(100.0),
            );
        }
    }
    for (name, runs) in groups {
        let (mean, lo, hi) = epoch_stats(runs, metric);
        let x: Vec<usize> = (0..mean.len()).collect();
        plot = plot
            .series(name.as_str(), &x, &mean)
            .band(name.as_str(), &x, &lo, &hi);
    }
    plot.save(path)
}

#[cfg(test)]
mod flops_tests {
    use super::*;

    #[test]
    fn a_training_step_counts_every_product_but_the_first_input_gradient() {
        // 784 → 192 → 96 → 192 → 784, one sample: four forward products, four weight
        // gradients, three input gradients (the data's is skipped).
        let layers = [784 * 192, 192 * 96, 96 * 192, 192 * 784];
        let expected = 2 * (3 * layers.iter().sum::<usize>() - layers[0]) as u64;
        assert_eq!(train_step_flops(784, &[192, 96], 1), expected);
        let model = Autoencoder::new(784, &[192, 96], Activation::Relu, &mut run_rng(0, 0));
        assert_eq!(model.train_step_flops(100), 100 * expected);
    }
}

#[cfg(test)]
mod loss_tests {
    use super::*;
    use ferrograd::nn::MSELoss;

    #[test]
    fn per_sample_loss_is_features_times_mse() {
        let x = Var::constant(Tensor::<f64>::from_fn([4, 6], |i| i as f64 * 0.1));
        let y = Var::constant(Tensor::<f64>::zeros([4, 6]));
        let per_sample = squared_error_per_sample(&x, &y).item();
        let mse = MSELoss::new().forward(&x, &y).item();
        assert!((per_sample - 6.0 * mse).abs() < 1e-12);
    }
}

#[cfg(test)]
mod corrupt_tests {
    use super::*;
    use rand::SeedableRng;

    fn config(kind: ModelKind) -> TrainConfig {
        TrainConfig {
            kind,
            noise_std: 0.5,
            mask_prob: 0.25,
            lr: 1e-3,
            epochs: 1,
            batch_size: 1,
            probe: ProbeConfig {
                classes: 2,
                lr: 1e-3,
                epochs: 1,
                batch_size: 1,
                max_batches: None,
            },
        }
    }

    #[test]
    fn masking_follows_the_documented_rule_with_a_ragged_tail() {
        // 1001 entries: several blocks, then a tail of odd length.
        let clean = Tensor::<f32>::from_fn([7, 143], |i| 1.0 + i as f32);
        let cfg = config(ModelKind::Masked);
        let mut out = Tensor::zeros([1]);
        corrupt_into(&clean, &mut out, &cfg, &mut SmallRng::seed_from_u64(9));
        // The rule, one u64 per pair of entries (low half, then high half): entry i is
        // dropped when its 24 low bits fall below p·2²⁴.
        let mut rng = SmallRng::seed_from_u64(9);
        let thresh = (0.25f64 * (1u64 << 24) as f64) as u32;
        let mut dropped = 0;
        for (pair, (o, c)) in out.data().chunks(2).zip(clean.data().chunks(2)).enumerate() {
            let r = rng.random::<u64>();
            for j in 0..o.len() {
                let drop = ((r >> (32 * j)) as u32 & 0xFF_FFFF) < thresh;
                let want = if drop { 0.0 } else { c[j] };
                assert_eq!(o[j], want, "entry {}", 2 * pair + j);
                dropped += usize::from(drop);
            }
        }
        let share = dropped as f64 / 1001.0;
        assert!((share - 0.25).abs() < 0.05, "dropped {share}");
    }

    #[test]
    fn vanilla_copies_and_denoising_adds_noise_of_the_given_scale() {
        let clean = Tensor::<f32>::from_fn([100, 100], |i| (i % 7) as f32);
        let mut out = Tensor::zeros([1]);
        let mut rng = SmallRng::seed_from_u64(3);
        corrupt_into(&clean, &mut out, &config(ModelKind::Vanilla), &mut rng);
        assert_eq!(out.data(), clean.data());
        corrupt_into(&clean, &mut out, &config(ModelKind::Denoising), &mut rng);
        let n = clean.numel() as f64;
        let diffs: Vec<f64> = (out.data().iter().zip(clean.data()))
            .map(|(&o, &c)| f64::from(o - c))
            .collect();
        let mean = diffs.iter().sum::<f64>() / n;
        let sd = (diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / n).sqrt();
        assert!(
            mean.abs() < 0.02 && (sd - 0.5).abs() < 0.02,
            "mean {mean}, sd {sd}"
        );
    }
}

#[cfg(test)]
mod evaluation_tests {
    use super::*;
    use ferrograd::nn::data::{ByteSplit, Split};

    /// 2 345 samples of 7 byte features: two full evaluation chunks and a ragged one.
    fn bytes() -> ByteSplit {
        let (n, d) = (2_345, 7);
        let pixels = (0..n * d).map(|i| (i * 37 % 251) as u8).collect();
        ByteSplit::new(pixels, d, (0..n).map(|i| i % 3).collect()).unwrap()
    }

    #[test]
    fn chunked_validation_loss_is_the_loss_of_each_chunk_averaged_over_samples() {
        let data = bytes();
        let model = Autoencoder::new(7, &[3], Activation::Relu, &mut run_rng(1, 0));
        let (from_bytes, flops) = validation_loss(&model, &data);
        let floats: Split<f32> = data.to_split();
        assert_eq!(validation_loss(&model, &floats).0, from_bytes);
        // The same sum written out: one forward pass per block of EVAL_CHUNK rows.
        let expected: f64 = (0..floats.len())
            .step_by(EVAL_CHUNK)
            .map(|s| {
                let e = (s + EVAL_CHUNK).min(floats.len());
                let x = Var::constant(floats.x.narrow(0, s, e));
                let loss = no_grad(|| squared_error_per_sample(&model.forward(&x), &x));
                loss.item() as f64 * (e - s) as f64
            })
            .sum::<f64>()
            / floats.len() as f64;
        assert_eq!(from_bytes, expected);
        assert_eq!(flops, model.forward_flops(floats.len()));
    }

    #[test]
    fn chunked_test_accuracy_scores_every_sample_once() {
        let data = bytes();
        let probe = Linear::<f32>::new(7, 3, true, &mut run_rng(2, 0));
        let (acc, flops) = probe_test_accuracy(&probe, &data, Var::clone);
        // The whole split in one product, argmax per row.
        let floats: Split<f32> = data.to_split();
        let pred = no_grad(|| probe.forward(&Var::constant(floats.x.clone())))
            .value()
            .argmax_axis(1);
        let correct = pred
            .iter()
            .zip(&floats.labels)
            .filter(|(p, t)| p == t)
            .count();
        assert_eq!(acc, correct as f64 / floats.len() as f64);
        assert!(acc > 0.0 && acc < 1.0, "a degenerate check: accuracy {acc}");
        assert_eq!(flops, (2 * floats.len() * 7 * 3) as u64);
    }
}
