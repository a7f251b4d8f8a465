//! The autoencoder examples' command lines: every bad flag value exits 2 with a message
//! naming the flag and the accepted range, a bad `--out` fails before any work, the data
//! is checked before training, and divergence ends the run with a message, not a panic.
//!
//! These run the example binaries themselves (through `assert_cmd`), since the
//! validation lives in their clap parsers. Only tiny runs train anything.

use std::path::{Path, PathBuf};
use std::process::Output;

use std::time::{Duration, Instant};

use assert_cmd::Command;

const SYNTHETIC: &str = "autoencoders_synthetic";
const MNIST: &str = "autoencoders_mnist";

/// The example binary `name`, built by `cargo test` before this test runs.
fn example(name: &str) -> PathBuf {
    course::example_bin::path(name)
}

/// Runs an example with `args`, MNIST read from `mnist_dir` (never the network), output in
/// a fresh temporary folder unless `args` names one.
fn run(name: &str, args: &[&str], mnist_dir: &Path) -> (Output, Duration) {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(example(name));
    cmd.env("MNIST_DIR", mnist_dir)
        .current_dir(tmp.path())
        .args(args);
    if !args.contains(&"--out") {
        cmd.arg("--out").arg(tmp.path().join("out"));
    }
    let start = Instant::now();
    let out = cmd.timeout(Duration::from_secs(120)).output().unwrap();
    (out, start.elapsed())
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A folder of MNIST-format files: `train` random 28 × 28 images and `test` of them
/// (possibly 0), with labels 0–9 in turn.
fn fake_mnist(train: u32, test: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |stem: &str, n: u32| {
        let mut images = [2051u32, n, 28, 28]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect::<Vec<u8>>();
        images.extend((0..n as usize * 784).map(|i| (i * 7919 % 256) as u8));
        let mut labels = [2049u32, n]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect::<Vec<u8>>();
        labels.extend((0..n).map(|i| (i % 10) as u8));
        std::fs::write(dir.path().join(format!("{stem}-images-idx3-ubyte")), images).unwrap();
        std::fs::write(dir.path().join(format!("{stem}-labels-idx1-ubyte")), labels).unwrap();
    };
    write("train", train);
    write("t10k", test);
    dir
}

/// Flags common to both examples, each with a bad value and what the message must say.
const SHARED_BAD: &[(&str, &str, &str)] = &[
    ("--lr", "0", "> 0 and finite"),
    ("--lr", "-0.001", "> 0 and finite"),
    ("--lr", "nan", "> 0 and finite"),
    ("--lr", "inf", "> 0 and finite"),
    ("--lr", "fast", "> 0 and finite"),
    ("--mask", "1", "[0, 1)"),
    ("--mask", "-0.1", "[0, 1)"),
    ("--mask", "nan", "[0, 1)"),
    ("--noise", "-0.5", ">= 0 and finite"),
    ("--noise", "inf", ">= 0 and finite"),
    ("--batch-size", "0", "1..=1000000"),
    ("--batch-size", "-5", "1..=1000000"),
    ("--repeats", "0", "1..=1000"),
    ("--repeats", "1000000000000", "1..=1000"),
    ("--epochs", "0", "1..=100000"),
    ("--probe-epochs", "0", "1..=100000"),
    ("--jobs", "0", "1..=1024"),
];

#[test]
fn bad_values_exit_2_naming_the_flag_and_range() {
    let no_mnist = tempfile::tempdir().unwrap();
    let mut cases: Vec<(&str, &str, &str, &str)> = Vec::new();
    for name in [SYNTHETIC, MNIST] {
        cases.extend(SHARED_BAD.iter().map(|&(f, v, m)| (name, f, v, m)));
    }
    cases.extend([
        (SYNTHETIC, "--latents", "0", "1..=65536"),
        (SYNTHETIC, "--latents", "5,1000000000", "1..=65536"),
        (SYNTHETIC, "--latents", "", "1..=65536"),
        (MNIST, "--hidden", "0", "1..=65536"),
        (MNIST, "--hidden", "1000000000", "1..=65536"),
        (MNIST, "--hidden", "192,", "1..=65536"),
        (MNIST, "--model", "vae", "vanilla"),
        (MNIST, "--activation", "tanh", "relu"),
    ]);
    let mut failures = Vec::new();
    for (name, flag, value, range) in cases {
        // `--flag=value`; negative numbers also as `--flag value`, the way people type them.
        let arg = format!("{flag}={value}");
        let spaced = [flag, value];
        let args: &[&str] = if value.starts_with('-') {
            &spaced
        } else {
            &[&arg]
        };
        let (out, _) = run(name, args, no_mnist.path());
        let err = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(2) || !err.contains(flag) || !err.contains(range) {
            failures.push(format!(
                "{name} {arg}: want exit 2 naming {flag} and `{range}`\n{}",
                text(&out)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn checks_needing_more_than_one_flag_exit_2() {
    let no_mnist = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[&str], &[&str])] = &[
        // Fits the range, not the memory: refused before any allocation or data loading.
        (MNIST, &["--hidden", "65536,65536"], &["--hidden", "GiB"]),
        (SYNTHETIC, &["--latents", "65536"], &["--latents", "GiB"]),
        (
            MNIST,
            &["--notebook-default", "--lr", "1e-3"],
            &["--notebook-default", "--lr"],
        ),
        // The quick synthetic set has 3 500 training samples.
        (
            SYNTHETIC,
            &["--quick", "--batch-size", "5000"],
            &["--batch-size", "3500"],
        ),
    ];
    for (name, args, needles) in cases {
        let (out, _) = run(name, args, no_mnist.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.code() == Some(2) && needles.iter().all(|n| err.contains(n)),
            "{name} {args:?}: want exit 2 mentioning {needles:?}\n{}",
            text(&out)
        );
    }
}

#[test]
fn out_under_a_regular_file_fails_fast_naming_the_path() {
    let no_mnist = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let bad = file.join("results");
    for name in [SYNTHETIC, MNIST] {
        // Full-size settings: only failing before the work keeps this fast.
        let (out, took) = run(name, &["--out", bad.to_str().unwrap()], no_mnist.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.code() == Some(2) && err.contains(bad.to_str().unwrap()),
            "{name} --out {}: want exit 2 naming the path\n{}",
            bad.display(),
            text(&out)
        );
        assert!(
            took < Duration::from_secs(5),
            "{name}: took {took:?} to reject --out"
        );
    }
}

#[test]
fn mnist_data_is_checked_before_training() {
    let empty_test = fake_mnist(120, 0);
    let (out, _) = run(MNIST, &["--quick"], empty_test.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() == Some(1) && err.contains("test split has 0 samples"),
        "{}",
        text(&out)
    );
    // 120 images split 0.9 / 0.1: 108 to train on.
    let small = fake_mnist(120, 20);
    let (out, _) = run(MNIST, &["--quick", "--batch-size", "200"], small.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() == Some(2) && err.contains("--batch-size 200 exceeds the 108"),
        "{}",
        text(&out)
    );
}

/// The smallest runs of both examples (one repeat, one epoch, tiny layers), the synthetic
/// one at the latent sizes `latents`.
fn tiny_runs(latents: &str) -> [(&'static str, Vec<&str>); 2] {
    [
        (
            SYNTHETIC,
            vec![
                "--quick",
                "--latents",
                latents,
                "--repeats",
                "1",
                "--epochs",
                "1",
            ],
        ),
        (
            MNIST,
            vec![
                "--quick",
                "--hidden",
                "8",
                "--repeats",
                "1",
                "--batch-size",
                "10",
            ],
        ),
    ]
}

#[test]
fn divergence_stops_with_a_message_not_a_panic() {
    let small = fake_mnist(120, 20);
    let cases = tiny_runs("5");
    for (name, args) in cases {
        let mut args = args.to_vec();
        args.extend(["--probe-epochs", "1", "--lr", "1e30"]);
        let (out, _) = run(name, &args, small.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.code() == Some(1) && err.contains("diverged") && !err.contains("panicked"),
            "{name} {args:?}: want exit 1 saying it diverged\n{}",
            text(&out)
        );
    }
}

#[test]
fn tiny_runs_print_their_answers() {
    let small = fake_mnist(120, 20);
    let cases: &[(&str, &[&str])] = &[
        (
            SYNTHETIC,
            &[
                "--quick",
                "--latents",
                "5,20",
                "--repeats",
                "1",
                "--epochs",
                "1",
            ],
        ),
        (
            MNIST,
            &[
                "--quick",
                "--hidden",
                "8",
                "--repeats",
                "1",
                "--batch-size",
                "10",
            ],
        ),
        (
            MNIST,
            &[
                "--quick",
                "--notebook-default",
                "--repeats",
                "1",
                "--batch-size",
                "10",
            ],
        ),
    ];
    for (name, args) in cases {
        let mut args = args.to_vec();
        args.extend(["--probe-epochs", "1"]);
        let (out, _) = run(name, &args, small.path());
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("answer: ") && stdout.contains("--quick run"),
            "{name} {args:?}\n{}",
            text(&out)
        );
    }
}
