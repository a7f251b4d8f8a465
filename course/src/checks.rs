//! Named pass/fail checks collected over a run, and the end of such a run: the checks
//! and the wall time go into `results.json`, a summary line is printed, and the process
//! fails if any check did.
//!
//! ```
//! use course::checks::{finish, Checks};
//! use course::Run;
//! # let out = std::env::temp_dir().join(format!("course-checks-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&out)?;
//! let run = Run::start();
//! let mut checks = Checks::default();
//! let err = 3e-16;
//! checks.check(err < 1e-12, format!("gradients match ({err:.1e})"));
//! let results = serde_json::json!({"example": "doc", "err": err});
//! finish(run, "doc", &out, results, checks); // exits 1 on a failed check
//! assert!(out.join("results.json").is_file());
//! # std::fs::remove_dir_all(&out)?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Unlike [`check`](super::check), a failed [`Checks::check`] does not stop the run: every
//! check is printed and recorded, and [`finish`] fails at the end, naming all failures.

use std::path::Path;

use serde_json::{json, Value};

use super::{fail, Run};

/// Named pass/fail checks, printed as they happen: the example doubles as a test.
#[derive(Default)]
pub struct Checks {
    results: Vec<(String, bool)>,
}

impl Checks {
    /// Records the check `what`, printing `  [ok] what` or `  [FAIL] what`.
    pub fn check(&mut self, ok: bool, what: impl Into<String>) {
        let what = what.into();
        println!("  [{}] {what}", if ok { "ok" } else { "FAIL" });
        self.results.push((what, ok));
    }

    /// How many checks were recorded.
    pub fn len(&self) -> usize {
        self.results.len()
    }

    /// Whether no check was recorded.
    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }

    /// The descriptions of the failed checks, in order.
    pub fn failures(&self) -> Vec<String> {
        self.results
            .iter()
            .filter(|r| !r.1)
            .map(|r| r.0.clone())
            .collect()
    }

    /// The checks as a JSON array of `{"check": what, "ok": ok}`.
    pub fn to_json(&self) -> Value {
        json!(self
            .results
            .iter()
            .map(|(what, ok)| json!({"check": what, "ok": ok}))
            .collect::<Vec<_>>())
    }
}

/// Ends a checked run of the example `name`:
///
/// 1. adds `"checks"` ([`Checks::to_json`]) and `"wall_time_s"` to `results` and writes it,
///    pretty-printed with a trailing newline, to `out_dir/results.json` atomically
///    ([`write_atomic`](super::files::write_atomic)), printing `wrote <path>`;
/// 2. prints `all N checks passed` if none failed;
/// 3. prints the wall time ([`Run::finish`]);
/// 4. [`fail`]s (exit code 1) listing every failed check, if any.
pub fn finish(run: Run, name: &str, out_dir: &Path, mut results: Value, checks: Checks) {
    results["checks"] = checks.to_json();
    results["wall_time_s"] = json!(run.elapsed());
    let path = out_dir.join("results.json");
    super::files::write_atomic(
        &path,
        &(serde_json::to_string_pretty(&results).expect("json") + "\n"),
    );
    println!("wrote {}", path.display());
    let failed = checks.failures();
    if failed.is_empty() {
        println!("all {} checks passed", checks.len());
    }
    run.finish();
    if !failed.is_empty() {
        fail(format!(
            "{} check(s) of {name} failed:\n  - {}",
            failed.len(),
            failed.join("\n  - ")
        ));
    }
}
