//! Flag values checked where clap parses them, so a bad value stops the run at once with
//! exit code 2 and a message naming the flag and the accepted range — not a panic, an
//! allocation abort or a `0.00 %` minutes later.
//!
//! Use them as `value_parser`s:
//!
//! ```
//! use clap::Parser;
//! use course::flags;
//! #[derive(Parser)]
//! struct Args {
//!     #[arg(long, default_value_t = 1e-3, value_parser = flags::learning_rate)]
//!     lr: f64,
//!     #[arg(long, default_value_t = 100, value_parser = flags::count_in(1, flags::MAX_BATCH))]
//!     batch_size: usize,
//! }
//! assert_eq!(Args::parse_from(["ae", "--lr", "0.01"]).lr, 0.01);
//! let err = Args::try_parse_from(["ae", "--batch-size", "0"]).err().unwrap();
//! assert_eq!(err.exit_code(), 2);
//! assert!(err.to_string().contains("--batch-size"));
//! ```
//!
//! clap prefixes our message with `invalid value '<v>' for '--flag <FLAG>'`, which is
//! where the flag's name comes from.

use std::path::{Path, PathBuf};

/// Largest accepted hidden or latent width. Larger layers are not a teaching setting,
/// and far larger ones (`--hidden 1000000000`) would abort the process on allocation.
pub const MAX_WIDTH: usize = 65_536;
/// Largest accepted batch size; the data's own size is checked once it is loaded.
pub const MAX_BATCH: usize = 1_000_000;
/// Largest accepted number of epochs (autoencoder or probe).
pub const MAX_EPOCHS: usize = 100_000;
/// Largest accepted number of repeats: the sweep's grid is allocated up front.
pub const MAX_REPEATS: usize = 1_000;
/// Largest accepted `--jobs`.
pub const MAX_JOBS: usize = 1_024;
/// Memory one run may plan to use (parameters with their gradients and Adam moments,
/// and the codes of the evaluation sets): the machine is shared by several runs at once.
pub const MAX_RUN_BYTES: u64 = 2 << 30;

/// A parser for a whole number in `lo..=hi`.
pub fn count_in(
    lo: usize,
    hi: usize,
) -> impl Fn(&str) -> Result<usize, String> + Clone + Send + Sync + 'static {
    move |s: &str| {
        let range = || format!("expected a whole number in {lo}..={hi}");
        let v: usize = s.trim().parse().map_err(|_| range())?;
        if (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(range())
        }
    }
}

fn float<T: std::str::FromStr>(s: &str, range: &str) -> Result<T, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("expected a number {range}"))
}

/// A learning rate: finite and `> 0`.
pub fn learning_rate(s: &str) -> Result<f64, String> {
    const RANGE: &str = "> 0 and finite (e.g. 1e-3)";
    let v: f64 = float(s, RANGE)?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(format!("expected a number {RANGE}"))
    }
}

/// A masking probability: `0 <= p < 1` (at 1 the model sees only zeros).
pub fn mask_prob(s: &str) -> Result<f32, String> {
    const RANGE: &str = "in [0, 1) (0 <= mask < 1)";
    let v: f32 = float(s, RANGE)?;
    if (0.0..1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("expected a number {RANGE}"))
    }
}

/// A noise standard deviation: finite and `>= 0`.
pub fn noise_std(s: &str) -> Result<f32, String> {
    const RANGE: &str = ">= 0 and finite";
    let v: f32 = float(s, RANGE)?;
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("expected a number {RANGE}"))
    }
}

/// The memory one run of an autoencoder `input → hidden… → input` plans for: every
/// parameter four times (value, gradient, two Adam moments) and, for the widest layer,
/// activations of `eval_rows` samples three times (forward, output, a copy), in f32.
pub fn planned_run_bytes(input: usize, hidden: &[usize], eval_rows: usize) -> u64 {
    let widths: Vec<u64> = std::iter::once(input)
        .chain(hidden.iter().copied())
        .map(|w| w as u64)
        .collect();
    let params: u64 = widths
        .windows(2)
        .map(|w| 2 * w[0] * w[1] + w[0] + w[1])
        .sum();
    let widest = widths.iter().copied().max().unwrap_or(0);
    4 * (4 * params + 3 * widest * eval_rows as u64)
}

/// Errors unless one run of the model fits in [`MAX_RUN_BYTES`]; the message names
/// `flag`.
pub fn check_run_size(
    flag: &str,
    input: usize,
    hidden: &[usize],
    eval_rows: usize,
) -> Result<(), String> {
    let bytes = planned_run_bytes(input, hidden, eval_rows);
    if bytes <= MAX_RUN_BYTES {
        Ok(())
    } else {
        Err(format!(
            "{flag} {hidden:?}: one run would need about {:.1} GiB (parameters, gradients, \
             Adam state and codes of {eval_rows} samples); the limit is {} GiB — use smaller \
             sizes",
            bytes as f64 / (1u64 << 30) as f64,
            MAX_RUN_BYTES >> 30
        ))
    }
}

/// Creates the output folder and proves it writable by creating a file in it that has no
/// name (`O_TMPFILE`, or one removed as soon as it is created), so a bad `--out` fails
/// before any training, naming the path, and a run killed at that moment leaves nothing.
pub fn writable_dir(dir: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("--out {}: cannot create the folder: {e}", dir.display()))?;
    tempfile::tempfile_in(dir)
        .map_err(|e| format!("--out {}: cannot write into the folder: {e}", dir.display()))?;
    Ok(dir.to_path_buf())
}

/// Errors unless every split has samples of `features` values each: an empty test split
/// would otherwise give a probe accuracy of `0.00 %` after all the training.
pub fn check_splits(
    splits: &[(&str, &dyn ferrograd::nn::data::Samples<f32>)],
    features: usize,
) -> Result<(), String> {
    for (name, split) in splits {
        if split.is_empty() {
            return Err(format!(
                "the {name} split has 0 samples; check the data files"
            ));
        }
        if split.dim() != features {
            return Err(format!(
                "the {name} split has {} features per sample, expected {features}",
                split.dim()
            ));
        }
    }
    Ok(())
}

/// Exits like clap does for a bad value (code 2, usage hint) with `msg`: for checks that
/// need more than one flag or the data, made after parsing.
pub fn usage_error<P: clap::CommandFactory>(msg: impl std::fmt::Display) -> ! {
    P::command()
        .error(clap::error::ErrorKind::ValueValidation, msg)
        .exit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_folder_is_created_and_proved_writable_without_a_trace() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("results").join("run");
        assert_eq!(writable_dir(&out).unwrap(), out);
        assert_eq!(
            std::fs::read_dir(&out).unwrap().count(),
            0,
            "the check left a file"
        );
        // A regular file where a folder is needed: the error names the flag and the path.
        let blocked = root.path().join("file");
        std::fs::write(&blocked, b"").unwrap();
        let e = writable_dir(&blocked.join("run")).unwrap_err();
        assert!(e.starts_with("--out ") && e.contains("file/run"), "{e}");
    }

    #[test]
    fn ranges() {
        assert!(learning_rate("1e-3").is_ok());
        for bad in ["0", "-1", "nan", "inf", "x", ""] {
            assert!(learning_rate(bad).is_err(), "{bad}");
        }
        assert!(mask_prob("0").is_ok() && mask_prob("0.999").is_ok());
        for bad in ["1", "-0.1", "nan", "2"] {
            assert!(mask_prob(bad).is_err(), "{bad}");
        }
        assert!(noise_std("0").is_ok());
        for bad in ["-0.5", "inf", "nan"] {
            assert!(noise_std(bad).is_err(), "{bad}");
        }
        let c = count_in(1, 10);
        assert_eq!(c("10"), Ok(10));
        for bad in ["0", "11", "-1", "1.5", "1000000000000000000000"] {
            assert!(c(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn run_size() {
        assert!(check_run_size("--hidden", 784, &[192, 96], 10_000).is_ok());
        assert!(check_run_size("--hidden", 784, &[65_536, 65_536], 10_000).is_err());
    }
}
