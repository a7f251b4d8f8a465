//! Helpers shared by the examples: plots ([`plot`]), command-line flags ([`cli`]), named
//! checks gathered over a run and its `results.json` ([`checks`]), atomic output files
//! ([`files`]), small matrix helpers ([`linalg_util`]), and the small run harness below
//! (checks that fail the process, a wall clock).
//!
//! Each example includes this folder with `mod common;`, so every example compiles its
//! own copy and uses only part of it.
#![allow(dead_code)] // each example uses a different subset of these helpers

pub mod autoencoder;
pub mod checks;
pub mod cli;
pub mod files;
pub mod linalg_util;
pub mod plot;

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

/// [`fail`]s unless `cond` holds.
#[track_caller]
pub fn check(cond: bool, msg: impl Display) {
    if !cond {
        fail(msg);
    }
}

/// Starts the wall clock that [`Run::finish`] reports on the last line of the output.
pub struct Run {
    start: Instant,
}

impl Run {
    /// Starts timing.
    pub fn start() -> Self {
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
        println!("wall time: {:.2} s", self.elapsed());
    }
}

/// Unwraps a plotting or I/O result, or [`fail`]s naming what was being written: a
/// missing figure is a failed run.
#[track_caller]
pub fn or_fail<T, E: Display>(result: Result<T, E>, what: &str) -> T {
    result.unwrap_or_else(|e| fail(format!("{what}: {e}")))
}
