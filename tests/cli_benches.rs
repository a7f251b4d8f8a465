//! The command line of the two benchmarks (`bench_gemm`, `bench_train_step`), and the
//! GEMM's environment variables as every program sees them: a bad flag value or a bad
//! `FERROGRAD_GEMM_*` / `FERROGRAD_NUM_THREADS` ends the run with exit code 2 and a
//! message naming it and what it accepts, before any output and without a panic; a
//! small valid run prints its table.
//!
//! The examples are found as in `cli_problems.rs` ([`course::example_bin::path`]).

use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;

/// Every run here takes a few seconds at most; the limit only keeps a hang from hanging
/// the suite.
const TIMEOUT: Duration = Duration::from_secs(120);

fn run(name: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(course::example_bin::path(name));
    cmd.args(args).timeout(TIMEOUT);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("running {name} {args:?}: {e}"))
}

/// Why a run that should have been refused was not refused cleanly, if it was not.
fn refusal_problem(out: &Output, names: &str, expects: &str) -> Option<String> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code();
    if code != Some(2) {
        Some(format!("exit code {code:?}, expected 2"))
    } else if !stderr.contains(names) {
        Some(format!("stderr does not name `{names}`"))
    } else if !stderr.contains(expects) {
        Some(format!("stderr does not say `{expects}`"))
    } else if stderr.contains("panicked") {
        Some("it panicked".to_string())
    } else if !out.stdout.is_empty() {
        Some("it printed to stdout: it started before refusing".to_string())
    } else {
        None
    }
}

/// One bad invocation of `example`: its arguments, the flag as clap prints it, and the
/// accepted range or kind of value.
struct Case {
    example: &'static str,
    args: &'static [&'static str],
    flag: &'static str,
    expects: &'static str,
}

const fn gemm(args: &'static [&'static str], flag: &'static str, expects: &'static str) -> Case {
    Case {
        example: "bench_gemm",
        args,
        flag,
        expects,
    }
}

const fn step(args: &'static [&'static str], flag: &'static str, expects: &'static str) -> Case {
    Case {
        example: "bench_train_step",
        args,
        flag,
        expects,
    }
}

const SHAPE: &str = "--shape <SHAPE>";
const SHAPE_FORMAT: &str = "expected MxKxN or MxKxN:layout with layout nn, nt or tn";
const SHAPE_DIMS: &str = "expected M, K and N each in 1..=65536";
const THREADS: &str = "--threads <THREADS>";
const THREADS_RANGE: &str = "expected a whole number in 1..=1024";
const ONLY: &str = "--only <ONLY>";

const CASES: &[Case] = &[
    gemm(&["--shape", "5x5"], SHAPE, SHAPE_FORMAT),
    gemm(&["--shape", "8x8x8:xx"], SHAPE, SHAPE_FORMAT),
    gemm(&["--shape", "8x-1x8"], SHAPE, SHAPE_FORMAT),
    gemm(&["--shape", "0x5x5"], SHAPE, SHAPE_DIMS),
    gemm(&["--shape", "100000x8x8"], SHAPE, SHAPE_DIMS),
    // Within the per-dimension limit, but 12 GiB of operands: refused, not an
    // allocation abort.
    gemm(
        &["--shape", "20000x20000x20000"],
        SHAPE,
        "expected at most 2 GiB",
    ),
    gemm(&["--threads", "0"], THREADS, THREADS_RANGE),
    // Would spawn that many threads for the peak probe and abort.
    gemm(&["--threads", "1,99999"], THREADS, THREADS_RANGE),
    gemm(
        &["--samples", "0"],
        "--samples <SAMPLES>",
        "expected a whole number in 1..=1000",
    ),
    gemm(
        &["--min-fmas-per-thread", "0"],
        "--min-fmas-per-thread <MIN_FMAS_PER_THREAD>",
        "expected a whole number in 1..=",
    ),
    gemm(
        &["--dtype", "f16"],
        "--dtype <DTYPE>",
        "[possible values: f32, f64]",
    ),
    gemm(
        &["--transposed-c", "maybe"],
        "--transposed-c <TRANSPOSED_C>",
        "[possible values: on, off, auto]",
    ),
    // A filter that leaves nothing would print an empty table.
    gemm(
        &["--only", "nothing"],
        ONLY,
        "no shape's label contains it; expected a part of one of: 64x64x64:nn",
    ),
    gemm(
        &["--shape", "8x8x8", "--only", "9x"],
        ONLY,
        "expected a part of one of: 8x8x8:nn",
    ),
    // Zero repetitions would leave a row's check nothing to compare (it panicked).
    step(
        &["--reps", "0"],
        "--reps <REPS>",
        "expected a whole number in 1..=10000",
    ),
    step(
        &["--inner", "99999999999"],
        "--inner <INNER>",
        "expected a whole number in 1..=10000",
    ),
];

#[test]
fn every_bad_bench_flag_exits_2_naming_the_flag_and_its_range() {
    let failures: Vec<String> = CASES
        .iter()
        .filter_map(|c| {
            let out = run(c.example, c.args, &[]);
            refusal_problem(&out, c.flag, c.expects).map(|p| {
                let stderr = String::from_utf8_lossy(&out.stderr);
                format!("{} {:?}: {p}\n  stderr: {stderr}", c.example, c.args)
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} bad invocations misbehaved:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn bench_gemm_prints_a_row_per_shape_thread_count_and_type() {
    let args = [
        "--shape",
        "8x8x8,20x30x40:nt",
        "--threads",
        "1,2",
        "--samples",
        "1",
    ];
    let out = run("bench_gemm", &args, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("caches ("), "no cache line:\n{stdout}");
    // Fields of a table row: dtype, m, k, n, layout, threads, then the figures.
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    for dtype in ["f32", "f64"] {
        for shape in [["8", "8", "8", "nn"], ["20", "30", "40", "nt"]] {
            for threads in ["1", "2"] {
                let found = rows
                    .iter()
                    .any(|f| f.len() > 6 && f[0] == dtype && f[1..5] == shape && f[5] == threads);
                assert!(
                    found,
                    "no {dtype} row for {shape:?} on {threads} threads:\n{stdout}"
                );
            }
        }
    }

    let json = run(
        "bench_gemm",
        &[
            "--shape",
            "16x16x16",
            "--threads",
            "1",
            "--samples",
            "1",
            "--dtype",
            "f64",
            "--json",
        ],
        &[],
    );
    assert!(
        json.status.success(),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    let rows: serde_json::Value =
        serde_json::from_slice(&json.stdout).expect("--json prints one JSON array");
    let rows = rows.as_array().expect("an array of rows");
    assert_eq!(
        rows.len(),
        1,
        "one shape, one thread count, one type: {rows:?}"
    );
    let row = &rows[0];
    assert_eq!(row["dtype"], "f64");
    assert_eq!(
        (row["m"].as_u64(), row["k"].as_u64(), row["n"].as_u64()),
        (Some(16), Some(16), Some(16))
    );
    assert!(row["gflops"].as_f64().is_some_and(|g| g > 0.0), "{row}");
    assert!(
        row["peak_gflops"].as_f64().is_some_and(|g| g > 0.0),
        "{row}"
    );
}

#[test]
fn bench_train_step_runs_with_one_repetition_and_checks_every_row() {
    let out = run("bench_train_step", &["--reps", "1", "--inner", "1"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("MNIST AE train step"), "{stdout}");
    assert!(stdout.contains("same bits"), "{stdout}");
}

/// Every program that multiplies matrices refuses a bad GEMM setting before it starts:
/// the library reads these variables at the first product, too late to fail cleanly.
#[test]
fn a_bad_gemm_environment_variable_is_refused_before_any_output() {
    let settings: [(&str, &str, &str); 6] = [
        (
            "FERROGRAD_GEMM_KERNEL",
            "fast",
            "unknown GEMM kernel \"fast\": expected one of scalar, avx2, avx512, neon",
        ),
        ("FERROGRAD_NUM_THREADS", "0", "expected a positive integer"),
        (
            "FERROGRAD_NUM_THREADS",
            "two",
            "expected a positive integer",
        ),
        ("FERROGRAD_GEMM_KC", "0", "expected a positive integer"),
        ("FERROGRAD_GEMM_MC", "-3", "expected a positive integer"),
        ("FERROGRAD_GEMM_NC", "1e3", "expected a positive integer"),
    ];
    // hw7 refuses before it builds anything; the others before their first line.
    let programs: [(&str, &[&str]); 5] = [
        ("hw7", &["--quick"]),
        ("pca_linear_ae", &["--quick"]),
        ("autoencoders_synthetic", &["--quick"]),
        ("bench_gemm", &["--shape", "8x8x8", "--samples", "1"]),
        ("bench_train_step", &["--reps", "1", "--inner", "1"]),
    ];
    let mut failures = Vec::new();
    for (program, args) in programs {
        for (var, value, expects) in settings {
            let out = run(program, args, &[(var, value)]);
            if let Some(p) = refusal_problem(&out, &format!("{var}=\"{value}\""), expects) {
                let stderr = String::from_utf8_lossy(&out.stderr);
                failures.push(format!(
                    "{program} with {var}={value}: {p}\n  stderr: {stderr}"
                ));
            }
        }
    }
    // A kernel this CPU cannot run is refused as unsupported, not as unknown.
    if let Some(k) = ferrograd::tensor::gemm::Kernel::ALL
        .into_iter()
        .find(|k| !k.is_available())
    {
        let out = run(
            "pca_linear_ae",
            &["--quick"],
            &[("FERROGRAD_GEMM_KERNEL", k.name())],
        );
        if let Some(p) = refusal_problem(
            &out,
            "FERROGRAD_GEMM_KERNEL",
            "is not supported on this CPU",
        ) {
            failures.push(format!("FERROGRAD_GEMM_KERNEL={k}: {p}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
