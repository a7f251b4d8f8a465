//! MNIST for the examples: load it, and on a fresh clone fetch it first.
//!
//! The library's loader ([`Mnist::load`]) only reads; fetching is the homework's concern,
//! so it lives here. The files go where the loader looks (`$MNIST_DIR`, else
//! `data/mnist` under the working directory) through `scripts/fetch-mnist.sh`, which
//! verifies each file's SHA-256 before renaming it into place.

use std::path::{Path, PathBuf};
use std::process::Command;

use ferrograd::nn::data::mnist::{TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
use ferrograd::nn::data::{DataError, Mnist, MnistBytes};

/// The repository's fetch script, found from this package's source folder so that the
/// examples work from any working directory.
pub fn fetch_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/fetch-mnist.sh")
}

/// Makes sure the four MNIST files are where the loader looks, running the fetch script
/// when any is missing. The error is one line saying what failed and what to do.
pub fn ensure() -> Result<PathBuf, String> {
    let dir = Mnist::<f32>::resolve_dir(None);
    match missing_files(&dir) {
        missing if missing.is_empty() => return Ok(dir),
        missing => eprintln!(
            "MNIST: {} missing in {}; fetching the data set (about 20 MB, once)",
            missing.join(", "),
            dir.display()
        ),
    }
    let script = fetch_script();
    let status = Command::new("bash")
        .arg(&script)
        .arg(&dir)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    match status.code() {
        Some(0) => Ok(dir),
        // The script's own code for "the registry could not be reached".
        Some(3) => Err(format!(
            "MNIST could not be downloaded (no network?). Copy the four IDX files into {} \
             or point MNIST_DIR at a folder holding them",
            dir.display()
        )),
        _ => Err(format!(
            "{} failed ({status}); its message is above. Copy the four IDX files into {} \
             or point MNIST_DIR at a folder holding them",
            script.display(),
            dir.display()
        )),
    }
}

/// Loads MNIST with its pixels as bytes (see [`MnistBytes`]), fetching it first if
/// needed.
pub fn load() -> Result<MnistBytes, String> {
    let dir = ensure()?;
    MnistBytes::load(Some(&dir)).map_err(|e: DataError| format!("loading MNIST: {e}"))
}

/// Which of the four IDX files `dir` lacks.
pub fn missing_files(dir: &Path) -> Vec<&'static str> {
    [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS]
        .into_iter()
        .filter(|f| !dir.join(f).is_file())
        .collect()
}
