//! The flags every example accepts. Flatten [`RunArgs`] into an example's own parser:
//!
//! ```
//! use clap::Parser;
//! #[derive(clap::Parser)]
//! struct Args {
//!     #[command(flatten)]
//!     run: course::cli::RunArgs,
//! }
//! let args = Args::parse_from(["my_example", "--quick", "--seed", "7"]);
//! assert!(args.run.quick && args.run.seed == 7);
//! // results/quick/my_example unless --out is given; out_dir() also creates it.
//! assert_eq!(course::cli::default_out_dir("my_example", args.run.quick),
//!            std::path::Path::new("results/quick/my_example"));
//! ```

use std::path::PathBuf;

/// `--quick`, `--out`, `--seed`.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// A few-second run with smaller sizes (what CI runs); the default is the full run.
    #[arg(long)]
    pub quick: bool,
    /// Where outputs go; defaults to `results/<example>` (`results/quick/<example>` with
    /// --quick, so a quick run never overwrites a full one). Created and test-written
    /// while the flags are parsed, so an unusable folder stops the run before any work.
    #[arg(long, value_parser = out_folder)]
    pub out: Option<PathBuf>,
    /// Seed of every random draw, so a run can be repeated exactly.
    // Negative numbers reach the parser (and its range message) instead of being taken
    // for flags.
    #[arg(long, default_value_t = 182, value_parser = seed, allow_negative_numbers = true)]
    pub seed: u64,
}

impl RunArgs {
    /// The output folder (`--out`, else [`default_out_dir`]), created if missing; exits
    /// with a message if it cannot be.
    pub fn out_dir(&self, example: &str) -> PathBuf {
        match &self.out {
            Some(dir) => dir.clone(),
            None => crate::flags::writable_dir(&default_out_dir(example, self.quick))
                .unwrap_or_else(|e| crate::die(e)),
        }
    }

    /// The first line an example prints: `<example> (<quick|full> run, seed <seed>)`.
    pub fn banner(&self, example: &str) -> String {
        format!("{example} ({} run, seed {})", self.mode(), self.seed)
    }

    /// "quick" or "full", for headers.
    pub fn mode(&self) -> &'static str {
        if self.quick {
            "quick"
        } else {
            "full"
        }
    }
}

/// `--seed`: any u64; this parser adds the accepted range to clap's error message.
pub fn seed(s: &str) -> Result<u64, String> {
    s.parse()
        .map_err(|_| format!("expected an integer in [0, {}]", u64::MAX))
}

/// `--out`: a folder that can be created and written, checked while the flags are parsed,
/// so an unusable folder is a flag error (exit 2, naming `--out`) before any work rather
/// than a failed write at the end of a run.
pub fn out_folder(s: &str) -> Result<PathBuf, String> {
    const EXPECTED: &str = "expected a folder that can be created and written";
    // An empty path would silently mean the current folder.
    if s.is_empty() {
        return Err(format!("{EXPECTED}, got an empty path"));
    }
    crate::flags::writable_dir(std::path::Path::new(s)).map_err(|e| format!("{EXPECTED} ({e})"))
}

/// Where an example writes by default: `results/<example>` for a full run and
/// `results/quick/<example>` for a quick one, so a quick run never overwrites a full one.
pub fn default_out_dir(example: &str, quick: bool) -> PathBuf {
    if quick {
        PathBuf::from("results/quick").join(example)
    } else {
        PathBuf::from("results").join(example)
    }
}
