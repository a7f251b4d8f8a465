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
    /// --quick, so a quick run never overwrites a full one).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seed of every random draw, so a run can be repeated exactly.
    #[arg(long, default_value_t = 182)]
    pub seed: u64,
}

impl RunArgs {
    /// The output folder (`--out`, else [`default_out_dir`]), created if missing; exits
    /// with a message if it cannot be.
    pub fn out_dir(&self, example: &str) -> PathBuf {
        let dir = self
            .out
            .clone()
            .unwrap_or_else(|| default_out_dir(example, self.quick));
        super::or_fail(
            std::fs::create_dir_all(&dir),
            &format!("creating {}", dir.display()),
        );
        dir
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

/// Where an example writes by default: `results/<example>` for a full run and
/// `results/quick/<example>` for a quick one, so a quick run never overwrites a full one.
pub fn default_out_dir(example: &str, quick: bool) -> PathBuf {
    if quick {
        PathBuf::from("results/quick").join(example)
    } else {
        PathBuf::from("results").join(example)
    }
}
