//! The command line of the five homework-problem examples (pca_linear_ae,
//! regularized_linear_ae, scaled_dot_product, argmax_attention, kernel_attention):
//! every bad flag value ends the run with exit code 2 and a message that names the flag
//! and what it accepts, before any work and without a panic; and each `--quick` run passes.
//!
//! Examples are not `[[bin]]` targets, so Cargo gives no `CARGO_BIN_EXE_*` for them;
//! [`course::example_bin::path`] finds them in `<target>/<profile>/examples/`, where
//! `cargo test` builds them before it runs the integration tests, and fails saying how to
//! build them when they are missing or stale.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;

const EXAMPLES: [&str; 5] = [
    "pca_linear_ae",
    "regularized_linear_ae",
    "scaled_dot_product",
    "argmax_attention",
    "kernel_attention",
];

/// A quick run takes under a second in an optimised build; the limit only keeps a hung
/// example from hanging the suite.
const TIMEOUT: Duration = Duration::from_secs(120);

/// The accepted range of `--seed` as the examples print it.
const SEED_RANGE: &str = "expected an integer in [0, 18446744073709551615]";
/// What the examples say `--out` must be.
const OUT_RANGE: &str = "expected a folder that can be created and written";

/// A scratch folder for this test's outputs, inside Cargo's per-target temp folder.
fn scratch(sub: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli_problems")
        .join(sub);
    std::fs::create_dir_all(&dir).expect("creating the scratch folder");
    dir
}

fn run(name: &str, args: &[String]) -> Output {
    Command::new(course::example_bin::path(name))
        .args(args)
        .timeout(TIMEOUT)
        .output()
        .unwrap_or_else(|e| panic!("running {name}: {e}"))
}

/// One bad invocation: the arguments, and what stderr must contain.
struct Case {
    args: Vec<String>,
    /// The flag, as clap prints it (e.g. `--seed <SEED>`).
    flag: &'static str,
    /// The accepted range or kind of value.
    range: &'static str,
}

fn cases() -> Vec<Case> {
    let dir = scratch("bad_out");
    // A regular file: no folder can be created at it or below it, even as root (which
    // ignores permission bits, so a read-only folder would not do).
    let file = dir.join("a_file");
    std::fs::write(&file, b"not a folder").expect("writing the blocking file");
    let s = |v: &str| v.to_string();
    let seed = |v: &str| Case {
        args: vec![s("--seed"), s(v)],
        flag: "--seed <SEED>",
        range: SEED_RANGE,
    };
    let out = |v: String| Case {
        args: vec![s("--out"), v],
        flag: "--out <OUT>",
        range: OUT_RANGE,
    };
    vec![
        seed("abc"),
        seed("-1"),
        seed("1.5"),
        seed("1e3"),
        seed(""),
        seed("18446744073709551616"), // u64::MAX + 1
        out(String::new()),
        out(file.display().to_string()),
        out(file.join("below").display().to_string()),
        Case {
            args: vec![s("--quick=yes")],
            flag: "--quick",
            range: "no more were expected",
        },
    ]
}

#[test]
fn every_bad_flag_value_exits_2_naming_the_flag_and_its_range() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for name in EXAMPLES {
        for case in cases() {
            let out = run(name, &case.args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let code = out.status.code();
            checked += 1;
            let problem = if code != Some(2) {
                Some(format!("exit code {code:?}, expected 2"))
            } else if !stderr.contains(case.flag) {
                Some(format!("stderr does not name `{}`", case.flag))
            } else if !stderr.contains(case.range) {
                Some(format!("stderr does not give the range `{}`", case.range))
            } else if stderr.contains("panicked") {
                Some("it panicked".to_string())
            } else {
                None
            };
            if let Some(p) = problem {
                failures.push(format!("{name} {:?}: {p}\n  stderr: {stderr}", case.args));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} bad invocations misbehaved:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_quick_run_passes_including_the_largest_seed() {
    let mut failures = Vec::new();
    for name in EXAMPLES {
        for seed in ["182", "18446744073709551615"] {
            let out_dir = scratch(&format!("quick_{seed}")).join(name);
            let args = [
                "--quick".to_string(),
                "--seed".to_string(),
                seed.to_string(),
                "--out".to_string(),
                out_dir.display().to_string(),
            ];
            let out = run(name, &args);
            let stdout = String::from_utf8_lossy(&out.stdout);
            if !out.status.success() {
                failures.push(format!(
                    "{name} {args:?}: exit {:?}\n  stderr: {}",
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr)
                ));
            } else if !stdout.contains("answer") {
                failures.push(format!("{name} {args:?}: no `answer` line in stdout"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn gemm_stats_print_a_table_and_a_bad_peak_is_refused_before_the_run() {
    let out_dir = scratch("gemm_stats").join("pca");
    let args = [
        "--quick".to_string(),
        "--out".to_string(),
        out_dir.display().to_string(),
    ];
    let with_env = |peak: &str| {
        Command::new(course::example_bin::path("pca_linear_ae"))
            .args(&args)
            .env("FERROGRAD_GEMM_STATS", "1")
            .env("FERROGRAD_GEMM_PEAK", peak)
            .timeout(TIMEOUT)
            .output()
            .expect("running pca_linear_ae")
    };
    let good = with_env("250");
    let stderr = String::from_utf8_lossy(&good.stderr);
    assert!(good.status.success(), "{stderr}");
    assert!(stderr.contains("GEMM calls by shape"), "{stderr}");
    assert!(stderr.contains("%peak"), "{stderr}");
    let bad = with_env("fast");
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("FERROGRAD_GEMM_PEAK=\"fast\": expected a positive number"),
        "{stderr}"
    );
    assert!(
        String::from_utf8_lossy(&bad.stdout).is_empty(),
        "the run must not start"
    );
}
