//! Every homework problem in turn, with one summary of the answers and their evidence.
//!
//! ```sh
//! cargo run --release --example hw7              # every problem at full size (about a minute)
//! cargo run --release --example hw7 -- --quick   # every problem at its smallest
//! cargo run --release --example hw7 -- --only argmax_attention,kernel_attention
//! ```
//!
//! Each problem is its own example. This runner builds them all with one `cargo build`
//! (cargo's progress shows; the first build takes minutes), fetches MNIST if it is
//! missing, then runs each binary in turn, showing its output as it comes and keeping
//! stdout and stderr in `results/hw7/<problem>.log` (`results/quick/hw7/` for `--quick`).
//! It ends with a table: status, run time (not build time), and the lines each example
//! marks as its answer (`answer: ...`). Plots and JSON land in `results/<problem>/`
//! (`results/quick/<problem>/` for `--quick`, so a quick run never overwrites a full one).

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use clap::Parser;

/// A homework problem: the example that answers it.
struct Problem {
    example: &'static str,
    title: &'static str,
}

const PROBLEMS: &[Problem] = &[
    Problem {
        example: "pca_linear_ae",
        title: "PCA and linear autoencoders",
    },
    Problem {
        example: "regularized_linear_ae",
        title: "l2-regularised linear autoencoder",
    },
    Problem {
        example: "autoencoders_synthetic",
        title: "autoencoders on the synthetic data set",
    },
    Problem {
        example: "autoencoders_mnist",
        title: "autoencoders on MNIST with a linear probe",
    },
    Problem {
        example: "scaled_dot_product",
        title: "why attention divides by sqrt(d)",
    },
    Problem {
        example: "argmax_attention",
        title: "argmax attention has no gradient for queries and keys",
    },
    Problem {
        example: "kernel_attention",
        title: "kernelised linear attention",
    },
];

/// Runs every homework problem and summarises the answers.
#[derive(Parser)]
#[command(name = "hw7")]
struct Args {
    /// Every problem at its smallest size (seconds each); the default is the full size.
    #[arg(long)]
    quick: bool,
    /// Only these problems, comma-separated.
    #[arg(long, value_delimiter = ',', value_parser = problem_name)]
    only: Vec<String>,
}

fn problem_name(name: &str) -> Result<String, String> {
    match PROBLEMS.iter().find(|p| p.example == name) {
        Some(p) => Ok(p.example.to_string()),
        None => Err(format!(
            "no problem named `{name}`; the problems are {}",
            PROBLEMS
                .iter()
                .map(|p| p.example)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

struct Outcome {
    example: &'static str,
    title: &'static str,
    status: &'static str,
    seconds: f64,
    answers: Vec<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // Every problem would refuse a bad GEMM setting; refuse it once, before the build.
    course::check_gemm_env();
    let selected: Vec<&Problem> = PROBLEMS
        .iter()
        .filter(|p| args.only.is_empty() || args.only.iter().any(|n| n == p.example))
        .collect();
    let log_dir = if args.quick {
        PathBuf::from("results/quick/hw7")
    } else {
        PathBuf::from("results/hw7")
    };
    if let Err(e) = std::fs::create_dir_all(&log_dir) {
        eprintln!("error: cannot create {}: {e}", log_dir.display());
        return ExitCode::FAILURE;
    }

    let build = match build_examples() {
        Ok(seconds) => seconds,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Fetched up front, so its progress is not mixed into a problem's output. If it cannot
    // be had, the MNIST problem fails with the reason and every other problem still runs.
    let mnist = if selected.iter().any(|p| p.example == "autoencoders_mnist") {
        course::mnist::ensure()
            .map(|_| ())
            .inspect_err(|e| eprintln!("error: {e}"))
    } else {
        Ok(())
    };

    let started = Instant::now();
    let mut outcomes = Vec::new();
    for (i, problem) in selected.iter().enumerate() {
        let quick = args.quick;
        println!(
            "\n==== [{}/{}] {} — {}{}",
            i + 1,
            selected.len(),
            problem.example,
            problem.title,
            if quick { " (--quick)" } else { "" }
        );
        match (&mnist, problem.example) {
            (Err(e), "autoencoders_mnist") => {
                println!("  not run: {e}");
                outcomes.push(Outcome {
                    example: problem.example,
                    title: problem.title,
                    status: "FAILED",
                    seconds: 0.0,
                    answers: vec![format!("not run: {e}")],
                });
            }
            _ => outcomes.push(run(problem, quick, &log_dir)),
        }
    }

    println!(
        "\n==== Summary: {:.1} s running the problems (plus {build:.1} s building them)",
        started.elapsed().as_secs_f64()
    );
    for o in &outcomes {
        println!(
            "\n{:<24} {:<8} {:>7.2} s  {}",
            o.example, o.status, o.seconds, o.title
        );
        for a in &o.answers {
            println!("    {a}");
        }
    }
    let results = if args.quick {
        "results/quick"
    } else {
        "results"
    };
    println!(
        "\nlogs: {}/<problem>.log; plots and JSON: {results}/<problem>/",
        log_dir.display()
    );
    if outcomes.iter().any(|o| o.status == "FAILED") {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Builds every example with one cargo call, so the problems' run times below exclude
/// build time; cargo's own progress goes to the terminal. Returns the build's seconds.
fn build_examples() -> Result<f64, String> {
    println!("==== building every example once (release; the first build takes a few minutes)");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let started = Instant::now();
    let status = Command::new(&cargo)
        .args(["build", "--release", "--examples"])
        .status()
        .map_err(|e| format!("cannot start `{cargo} build`: {e}"))?;
    if !status.success() {
        return Err(format!(
            "`cargo build --release --examples` failed ({status})"
        ));
    }
    Ok(started.elapsed().as_secs_f64())
}

/// The built example binaries sit beside this runner's own binary.
fn example_binary(example: &str) -> PathBuf {
    let me = std::env::current_exe().unwrap_or_default();
    me.with_file_name(format!("{example}{}", std::env::consts::EXE_SUFFIX))
}

/// Runs one example, echoing its stdout and stderr as they come and logging both.
fn run(problem: &Problem, quick: bool, log_dir: &Path) -> Outcome {
    let mut outcome = Outcome {
        example: problem.example,
        title: problem.title,
        status: "FAILED",
        seconds: 0.0,
        answers: Vec::new(),
    };
    let log_path = log_dir.join(format!("{}.log", problem.example));
    let log = match File::create(&log_path) {
        Ok(f) => Arc::new(Mutex::new(f)),
        Err(e) => {
            outcome
                .answers
                .push(format!("cannot create {}: {e}", log_path.display()));
            return outcome;
        }
    };
    let mut cmd = Command::new(example_binary(problem.example));
    if quick {
        cmd.arg("--quick");
    }
    let started = Instant::now();
    let mut child = match cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn() {
        Ok(c) => c,
        Err(e) => {
            outcome.answers.push(format!(
                "cannot start {}: {e}",
                example_binary(problem.example).display()
            ));
            return outcome;
        }
    };
    // stderr on its own thread, so neither pipe can fill up and stall the child.
    let stderr = child.stderr.take().map(|pipe| {
        let log = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                eprintln!("  {line}");
                let _ = writeln!(log.lock().unwrap(), "{line}");
            }
        })
    });
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("  {line}");
            let _ = writeln!(log.lock().unwrap(), "{line}");
            if line.trim_start().to_lowercase().starts_with("answer") {
                outcome.answers.push(line.trim().to_string());
            }
        }
    }
    if let Some(t) = stderr {
        let _ = t.join();
    }
    let status = child.wait();
    outcome.seconds = started.elapsed().as_secs_f64();
    match status {
        Ok(s) if s.success() => outcome.status = "ok",
        Ok(s) => outcome
            .answers
            .push(format!("exited with {s}; see {}", log_path.display())),
        Err(e) => outcome
            .answers
            .push(format!("could not wait for the example: {e}")),
    }
    outcome
}
