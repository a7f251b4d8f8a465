//! Every homework problem in turn, with one summary of the answers and their evidence.
//!
//! ```sh
//! cargo run --release --example hw7              # fast settings where a full run is long
//! cargo run --release --example hw7 -- --full    # every problem at full size
//! cargo run --release --example hw7 -- --quick   # every problem at its smallest (CI)
//! cargo run --release --example hw7 -- --only argmax_attention,kernel_attention
//! ```
//!
//! Each problem is its own example; this runner starts them through cargo (so each is
//! built on first use), shows their output as it comes, keeps a log under
//! `results/hw7/`, and ends with a table: status, wall time, and the lines each example
//! marks as its answer (`answer: ...`). Plots and JSON land in `results/<example>/`.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

/// A homework problem: the example that answers it and how big to run it by default.
struct Problem {
    example: &'static str,
    title: &'static str,
    /// Whether the default run uses `--quick` (the full run takes long).
    quick_by_default: bool,
}

const PROBLEMS: &[Problem] = &[
    Problem {
        example: "pca_linear_ae",
        title: "PCA and linear autoencoders",
        quick_by_default: false,
    },
    Problem {
        example: "regularized_linear_ae",
        title: "l2-regularised linear autoencoder",
        quick_by_default: false,
    },
    Problem {
        example: "autoencoders_synthetic",
        title: "autoencoders on the synthetic data set",
        quick_by_default: false,
    },
    Problem {
        example: "autoencoders_mnist",
        title: "autoencoders on MNIST with a linear probe",
        quick_by_default: false,
    },
    Problem {
        example: "scaled_dot_product",
        title: "why attention divides by sqrt(d)",
        quick_by_default: false,
    },
    Problem {
        example: "argmax_attention",
        title: "argmax attention has no gradient for queries and keys",
        quick_by_default: false,
    },
    Problem {
        example: "kernel_attention",
        title: "kernelised linear attention",
        quick_by_default: true,
    },
];

#[derive(Clone, Copy, PartialEq)]
enum Size {
    Default,
    Quick,
    Full,
}

struct Outcome {
    example: &'static str,
    title: &'static str,
    status: String,
    seconds: f64,
    answers: Vec<String>,
}

fn usage() -> &'static str {
    "usage: hw7 [--quick | --full] [--only NAME[,NAME...]]\n\
     problems: pca_linear_ae, regularized_linear_ae, autoencoders_synthetic, \
     autoencoders_mnist, scaled_dot_product, argmax_attention, kernel_attention"
}

fn main() -> ExitCode {
    let mut size = Size::Default;
    let mut only: Option<Vec<String>> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => size = Size::Quick,
            "--full" => size = Size::Full,
            "--only" => match args.next() {
                Some(list) => only = Some(list.split(',').map(str::to_string).collect()),
                None => {
                    eprintln!(
                        "--only needs a comma-separated list of problems\n{}",
                        usage()
                    );
                    return ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                println!("{}", usage());
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("unknown argument `{other}`\n{}", usage());
                return ExitCode::from(2);
            }
        }
    }
    if let Some(names) = &only {
        if let Some(bad) = names
            .iter()
            .find(|n| !PROBLEMS.iter().any(|p| p.example == *n))
        {
            eprintln!("unknown problem `{bad}`\n{}", usage());
            return ExitCode::from(2);
        }
    }

    let log_dir = Path::new("results/hw7");
    if let Err(e) = std::fs::create_dir_all(log_dir) {
        eprintln!("cannot create {}: {e}", log_dir.display());
        return ExitCode::FAILURE;
    }
    let started = Instant::now();
    let mut outcomes = Vec::new();
    let selected: Vec<&Problem> = PROBLEMS
        .iter()
        .filter(|p| {
            only.as_ref()
                .is_none_or(|o| o.iter().any(|n| n == p.example))
        })
        .collect();
    for (i, problem) in selected.iter().enumerate() {
        let quick = match size {
            Size::Quick => true,
            Size::Full => false,
            Size::Default => problem.quick_by_default,
        };
        println!(
            "\n==== [{}/{}] {} — {}{}",
            i + 1,
            selected.len(),
            problem.example,
            problem.title,
            if quick { " (--quick)" } else { "" }
        );
        outcomes.push(run(problem, quick, log_dir));
    }

    println!(
        "\n==== Summary ({:.1} s in all)",
        started.elapsed().as_secs_f64()
    );
    for o in &outcomes {
        println!(
            "\n{:<24} {:<8} {:>7.1} s  {}",
            o.example, o.status, o.seconds, o.title
        );
        for a in &o.answers {
            println!("    {a}");
        }
    }
    println!("\nlogs: results/hw7/<problem>.log; plots and JSON: results/<problem>/");
    if outcomes.iter().any(|o| o.status == "FAILED") {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs one example through cargo, echoing and logging its output.
fn run(problem: &Problem, quick: bool, log_dir: &Path) -> Outcome {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = Command::new(cargo);
    cmd.args(["run", "--release", "--quiet", "--example", problem.example]);
    if quick {
        cmd.args(["--", "--quick"]);
    }
    let started = Instant::now();
    let mut outcome = Outcome {
        example: problem.example,
        title: problem.title,
        status: String::new(),
        seconds: 0.0,
        answers: Vec::new(),
    };
    let mut child = match cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn() {
        Ok(c) => c,
        Err(e) => {
            outcome.status = "FAILED".into();
            outcome.answers.push(format!("could not start cargo: {e}"));
            return outcome;
        }
    };
    let log_path = log_dir.join(format!("{}.log", problem.example));
    let mut log = std::fs::File::create(&log_path).ok();
    let mut skipped = None;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("  {line}");
            if let Some(f) = log.as_mut() {
                let _ = writeln!(f, "{line}");
            }
            let lower = line.trim_start().to_lowercase();
            if lower.starts_with("answer") {
                outcome.answers.push(line.trim().to_string());
            } else if lower.starts_with("skipped") {
                skipped = Some(line.trim().to_string());
            }
        }
    }
    let status = child.wait();
    outcome.seconds = started.elapsed().as_secs_f64();
    outcome.status = match (status, skipped) {
        (Ok(s), Some(reason)) if s.success() => {
            outcome.answers.push(reason);
            "skipped".into()
        }
        (Ok(s), None) if s.success() => "ok".into(),
        (Ok(s), _) => {
            outcome
                .answers
                .push(format!("exited with {s}; see {}", log_path.display()));
            "FAILED".into()
        }
        (Err(e), _) => {
            outcome
                .answers
                .push(format!("could not wait for the example: {e}"));
            "FAILED".into()
        }
    };
    outcome
}
