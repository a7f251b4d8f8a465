//! The error type of data loading and splitting.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why a data set could not be loaded or split. File errors name the file, the defect and
/// what was expected, so the message alone says what to fix.
#[derive(Debug)]
#[non_exhaustive]
pub enum DataError {
    /// Data files are missing; the message names each and says how to fetch them.
    NotFound {
        /// The first missing file.
        path: PathBuf,
        /// The folder it was looked for in.
        dir: PathBuf,
        /// The name of every missing file, in load order.
        missing: Vec<String>,
    },
    /// Opening or reading a file failed, or the path is not a regular file.
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The file does not start with the expected IDX magic number.
    BadMagic {
        /// File name (or another label for the bytes).
        file: String,
        /// The first four bytes, big-endian.
        found: u32,
        /// The magic number this kind of file must have.
        expected: u32,
        /// What kind of file was expected, in words.
        what: &'static str,
    },
    /// A header field is impossible (zero dimensions, wrong image size, overflow).
    BadHeader {
        /// File name.
        file: String,
        /// The defect, in words.
        problem: String,
    },
    /// The file is shorter than its header says.
    Truncated {
        /// File name.
        file: String,
        /// Bytes the header implies.
        expected: u64,
        /// Bytes present.
        actual: u64,
        /// What the header promised, in words ("60000 images of 28x28").
        promised: String,
    },
    /// The file is longer than its header says.
    TrailingBytes {
        /// File name.
        file: String,
        /// Bytes the header implies.
        expected: u64,
        /// Bytes present.
        actual: u64,
        /// What the header promised, in words.
        promised: String,
    },
    /// A label outside the classes 0..=9.
    BadLabel {
        /// File name.
        file: String,
        /// Position of the first bad label.
        index: usize,
        /// Its value.
        value: u8,
    },
    /// An images file and its labels file disagree on the number of samples.
    CountMismatch {
        /// The images file.
        images: String,
        /// Images it holds.
        n_images: usize,
        /// The labels file.
        labels: String,
        /// Labels it holds.
        n_labels: usize,
    },
    /// A caller-supplied argument is out of range (a split fraction, a dimension).
    InvalidArgument(String),
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::NotFound { dir, missing, .. } => {
                let n = missing.len();
                write!(
                    f,
                    "{n} MNIST file{} missing from {}: {}. ",
                    if n == 1 { " is" } else { "s are" },
                    dir.display(),
                    missing.join(", "),
                )?;
                write!(
                    f,
                    "Download the MNIST files with `scripts/fetch-mnist.sh {}` (run from the \
                     workspace root), or set MNIST_DIR to a folder that holds all four, \
                     uncompressed",
                    dir.display()
                )
            }
            DataError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            DataError::BadMagic {
                file,
                found,
                expected,
                what,
            } => {
                write!(
                    f,
                    "{file}: magic number is 0x{found:08x} ({found}), expected \
                     0x{expected:08x} ({expected}) for {what}"
                )?;
                if found >> 16 == 0x1f8b {
                    write!(f, "; the file looks gzip-compressed, gunzip it first")?;
                }
                Ok(())
            }
            DataError::BadHeader { file, problem } => write!(f, "{file}: {problem}"),
            DataError::Truncated {
                file,
                expected,
                actual,
                promised,
            } => write!(
                f,
                "{file}: truncated: the header promises {promised}, which needs {expected} \
                 bytes, but the file has only {actual}"
            ),
            DataError::TrailingBytes {
                file,
                expected,
                actual,
                promised,
            } => write!(
                f,
                "{file}: {} trailing bytes: the header promises {promised}, which needs \
                 {expected} bytes, but the file has {actual}",
                actual.saturating_sub(*expected)
            ),
            DataError::BadLabel { file, index, value } => write!(
                f,
                "{file}: label {index} is {value}, expected a digit class 0..=9"
            ),
            DataError::CountMismatch {
                images,
                n_images,
                labels,
                n_labels,
            } => write!(
                f,
                "{images} holds {n_images} images but {labels} holds {n_labels} labels; \
                 expected one label per image"
            ),
            DataError::InvalidArgument(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DataError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
