//! What the CS182 homework needs and the ferrograd library does not. The examples in
//! `examples/` are the homework problems; this package holds their scaffolding, so each
//! example file can show the math and the evidence with the plumbing out of sight.
//!
//! - [`synthetic`]: the homework notebook's synthetic data set; [`mnist`]: MNIST, fetched
//!   on first use;
//! - [`autoencoder`]: the autoencoder model, its training loop and the linear probe;
//!   [`probe`]: the probe's gradient written out by hand, for its many small steps;
//!   [`ae_report`]: their JSON, curves and probe ceilings; [`sweep`]: a grid of runs in
//!   parallel, longest first, results in grid order; [`flags`]: range-checked flag values;
//! - [`plot`]: line charts with bands and grids of grey images (PNG and SVG);
//! - [`cli`]: the flags every example accepts; [`checks`]: named checks gathered over a
//!   run and its `results.json`; [`files`]: atomic output files;
//! - [`measure`]: median times, peak heap bytes, log–log slopes; [`noise`]: Gaussian noise
//!   in vectorised blocks;
//! - [`linalg_util`]: small matrix helpers; and below, the run harness (checks that fail
//!   the process, a wall clock).
//!
//! It is `publish = false`: it is homework scaffolding, not a library to depend on.

pub mod ae_report;
pub mod allocator;
pub use allocator::Allocator;
pub mod autoencoder;
pub mod checks;
pub mod cli;
pub mod example_bin;
pub mod files;
pub mod flags;
pub mod linalg_util;
pub mod measure;
pub mod mnist;
pub mod noise;
pub mod plot;
pub mod probe;
pub mod sweep;
pub mod synthetic;

use std::fmt::Display;
use std::time::Instant;

/// Fails the run with a clear message and exit code 1: the examples double as checks,
/// so CI must see a wrong answer as a failure, not as a line in a log.
#[track_caller]
pub fn fail(msg: impl Display) -> ! {
    let at = std::panic::Location::caller();
    eprintln!("CHECK FAILED: {msg}\n  (at {}:{})", at.file(), at.line());
    std::process::exit(1)
}

/// Stops the run with `error: <msg>` on one line and exit code 1: for a run that cannot
/// start (missing data, a bad path), as opposed to a wrong answer ([`fail`]).
pub fn die(msg: impl Display) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1)
}

/// [`fail`]s unless `cond` holds.
#[track_caller]
pub fn check(cond: bool, msg: impl Display) {
    if !cond {
        fail(msg);
    }
}

/// Starts the wall clock that [`Run::finish`] reports on the last line of the output.
///
/// With `FERROGRAD_GEMM_STATS` set (to anything but `0` or empty), the run also records
/// every GEMM call by shape ([`ferrograd::tensor::gemm::stats`]) and [`Run::finish`] prints
/// the top shapes by time to stderr; `FERROGRAD_GEMM_PEAK=<GFLOP/s>` (the one-core f32 FMA
/// peak `bench_gemm` prints) adds each shape's share of it.
pub struct Run {
    start: Instant,
}

impl Run {
    /// Starts timing, after refusing bad GEMM settings in the environment (see
    /// [`check_gemm_env`]).
    pub fn start() -> Self {
        check_gemm_env();
        allocator::keep_freed_memory();
        if gemm_stats_requested() {
            // Checked before any work, so a typo does not cost a whole run.
            gemm_stats_peak();
            ferrograd::tensor::gemm::stats::reset();
            ferrograd::tensor::gemm::stats::set_enabled(true);
        }
        Run {
            start: Instant::now(),
        }
    }

    /// Seconds since start.
    pub fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Prints the final `wall time: S.SS s` line.
    pub fn finish(self) {
        if gemm_stats_requested() {
            let peak = gemm_stats_peak();
            eprint!(
                "GEMM calls by shape (FERROGRAD_GEMM_STATS; time = wall time per call):\n{}",
                ferrograd::tensor::gemm::stats::table(25, peak)
            );
        }
        println!("wall time: {:.2} s", self.elapsed());
    }
}

/// Exits with code 2 and a message naming the variable if one of the GEMM's environment
/// variables (`FERROGRAD_GEMM_KERNEL`, `FERROGRAD_NUM_THREADS`, `FERROGRAD_GEMM_KC`/`_MC`/
/// `_NC`) has a bad value: the library would otherwise panic at the first product, after
/// the run has printed its header or loaded its data.
pub fn check_gemm_env() {
    if let Err(e) = ferrograd::tensor::gemm::check_env() {
        eprintln!("error: {e}");
        std::process::exit(2)
    }
}

/// `FERROGRAD_GEMM_PEAK` as GFLOP/s, if set; exits naming it if it is not a positive
/// number.
fn gemm_stats_peak() -> Option<f64> {
    let s = std::env::var("FERROGRAD_GEMM_PEAK").ok()?;
    match s.trim().parse::<f64>() {
        Ok(p) if p.is_finite() && p > 0.0 => Some(p),
        _ => {
            eprintln!(
                "error: FERROGRAD_GEMM_PEAK={s:?}: expected a positive number of GFLOP/s \
                 (the one-core f32 peak that bench_gemm prints)"
            );
            std::process::exit(2)
        }
    }
}

fn gemm_stats_requested() -> bool {
    std::env::var("FERROGRAD_GEMM_STATS").is_ok_and(|s| !s.trim().is_empty() && s.trim() != "0")
}

/// Unwraps a plotting or I/O result, or [`fail`]s naming what was being written: a
/// missing figure is a failed run.
#[track_caller]
pub fn or_fail<T, E: Display>(result: Result<T, E>, what: &str) -> T {
    result.unwrap_or_else(|e| fail(format!("{what}: {e}")))
}
