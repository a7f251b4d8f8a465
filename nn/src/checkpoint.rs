//! Named tensors to and from safetensors files, the format PyTorch and Hugging Face use.
//!
//! A file written by [`save`] opens in Python with `safetensors.torch.load_file` (or
//! `safetensors.numpy.load_file`) and gives the same names, shapes and values; a file
//! written there with F32 or F64 tensors loads here. Tensors are stored row-major and
//! little-endian, exactly as the format defines, under PyTorch-style names
//! (`encoder.0.weight`).
//!
//! Design in brief:
//! - The API knows nothing about modules: a checkpoint is a list of `(name, tensor)`.
//!   [`load_checked`] is what a model's loader wants: it compares the file against the
//!   model's expected names and shapes and reports *every* mismatch at once.
//! - Writes are atomic: the bytes go to a temporary file in the destination folder, are
//!   synced, and the file is renamed over the destination (and the folder synced), so a
//!   crash leaves either the old checkpoint or the new one, never half of one. The new
//!   file keeps the permissions of the one it replaces (a new one gets `0666` minus the
//!   umask, like any created file).
//! - A writer killed mid-save leaves its temporary file (`.ferrograd-*.tmp`)
//!   behind; the next save into that folder removes it. A writer holds an exclusive
//!   `flock` on its temporary file until the rename, so a saver that can take the lock
//!   knows the writer is dead, and never touches a live writer's file (even one in
//!   another process or PID namespace, which a PID in the name could not tell).
//! - Only regular files are read, with a bound: a FIFO, a device or a directory at the
//!   path is an error naming the path, not a hang or an endless read.
//! - Reading is a pure function of the bytes ([`from_bytes`]), so it can be fuzzed; any
//!   input yields tensors or a [`CheckpointError`] naming the file and the defect.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::atomic::Durability;
use ferrograd_tensor::{DType, Float, Shape, Tensor};
use safetensors::tensor::{Dtype, Metadata, SafeTensorError, View};

/// Why a checkpoint could not be written or read.
#[derive(Debug)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Creating, writing, syncing, renaming or reading a file failed.
    Io {
        /// The file (or folder) involved.
        path: PathBuf,
        /// What was being done ("read", "write temporary file for", ...).
        op: &'static str,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The bytes are not a valid safetensors file (truncated, corrupted, not one at all).
    Format {
        /// The file (or another label for the bytes).
        file: String,
        /// The safetensors crate's diagnosis.
        source: SafeTensorError,
    },
    /// The header describes data the file cannot hold (found before handing the bytes to
    /// the safetensors parser, for defects it would not survive).
    Corrupt {
        /// The file (or another label for the bytes).
        file: String,
        /// The defect, in words.
        problem: String,
    },
    /// The tensors to save cannot be stored under these names.
    InvalidName {
        /// The offending name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// The file's tensors differ from what was asked for; every difference is listed.
    Mismatch {
        /// The file.
        file: String,
        /// Each difference, in file-independent order (expected names first).
        problems: Vec<Mismatch>,
    },
}

/// One difference between a checkpoint and the tensors expected from it.
#[derive(Clone, Debug, PartialEq)]
pub enum Mismatch {
    /// An expected tensor is absent from the file.
    Missing {
        /// Its name.
        name: String,
        /// The shape that was expected.
        expected: Shape,
    },
    /// The file holds a tensor nobody asked for.
    Unexpected {
        /// Its name.
        name: String,
        /// Its shape in the file.
        shape: Shape,
    },
    /// A tensor has another shape than expected.
    WrongShape {
        /// Its name.
        name: String,
        /// The expected shape.
        expected: Shape,
        /// The shape in the file.
        found: Shape,
    },
    /// A tensor has another element type than the one asked for.
    WrongDtype {
        /// Its name.
        name: String,
        /// The element type asked for.
        expected: DType,
        /// The safetensors dtype in the file (`F64`, `BF16`, `I64`, ...).
        found: String,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Missing { name, expected } => {
                write!(f, "missing tensor `{name}` (expected shape {expected})")
            }
            Mismatch::Unexpected { name, shape } => {
                write!(f, "unexpected tensor `{name}` (shape {shape})")
            }
            Mismatch::WrongShape {
                name,
                expected,
                found,
            } => write!(f, "tensor `{name}` has shape {found}, expected {expected}"),
            Mismatch::WrongDtype {
                name,
                expected,
                found,
            } => write!(
                f,
                "tensor `{name}` has dtype {found}, expected {}",
                safetensors_name(*expected)
            ),
        }
    }
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointError::Io { path, op, source } => {
                write!(f, "cannot {op} {}: {source}", path.display())
            }
            CheckpointError::Format { file, source } => {
                write!(f, "{file}: not a valid safetensors file: {source}")
            }
            CheckpointError::Corrupt { file, problem } => {
                write!(f, "{file}: corrupted safetensors file: {problem}")
            }
            CheckpointError::InvalidName { name, reason } => {
                write!(f, "cannot save tensor `{name}`: {reason}")
            }
            CheckpointError::Mismatch { file, problems } => {
                let n = problems.len();
                write!(
                    f,
                    "{file}: checkpoint does not match ({n} problem{}):",
                    if n == 1 { "" } else { "s" }
                )?;
                for p in problems {
                    write!(f, "\n  - {p}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for CheckpointError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CheckpointError::Io { source, .. } => Some(source),
            CheckpointError::Format { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// What the file says about one tensor, without reading its data.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo {
    /// Its name.
    pub name: String,
    /// The safetensors dtype (`F32`, `F64`, `BF16`, ...).
    pub dtype: String,
    /// Its shape.
    pub shape: Shape,
}

/// The safetensors spelling of a dtype.
fn safetensors_name(d: DType) -> &'static str {
    match d {
        DType::F32 => "F32",
        DType::F64 => "F64",
    }
}

fn safetensors_dtype(d: DType) -> Dtype {
    match d {
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
    }
}

/// A tensor as the safetensors serializer sees it.
struct TensorView<'a, T>(&'a Tensor<T>);

impl<T: Float> View for TensorView<'_, T> {
    fn dtype(&self) -> Dtype {
        safetensors_dtype(T::DTYPE)
    }

    fn shape(&self) -> &[usize] {
        self.0.dims()
    }

    fn data(&self) -> Cow<'_, [u8]> {
        if cfg!(target_endian = "little") {
            Cow::Borrowed(bytemuck::cast_slice(self.0.data()))
        } else {
            // The format is little-endian whatever the machine is.
            let mut bytes: Vec<u8> = bytemuck::cast_slice(self.0.data()).to_vec();
            for chunk in bytes.chunks_exact_mut(std::mem::size_of::<T>()) {
                chunk.reverse();
            }
            Cow::Owned(bytes)
        }
    }

    fn data_len(&self) -> usize {
        std::mem::size_of_val(self.0.data())
    }
}

/// Serialises named tensors to the bytes of a safetensors file. Names must be unique and
/// not `__metadata__` (the format reserves it).
pub fn to_bytes<T: Float>(tensors: &[(String, &Tensor<T>)]) -> Result<Vec<u8>, CheckpointError> {
    let mut seen = HashSet::new();
    for (name, _) in tensors {
        if name == "__metadata__" {
            return Err(CheckpointError::InvalidName {
                name: name.clone(),
                reason: "the safetensors format reserves this name for its metadata",
            });
        }
        if !seen.insert(name.as_str()) {
            return Err(CheckpointError::InvalidName {
                name: name.clone(),
                reason: "the name appears twice",
            });
        }
    }
    let views = tensors.iter().map(|(n, t)| (n.as_str(), TensorView(*t)));
    safetensors::serialize(views, None).map_err(|source| CheckpointError::Format {
        file: "<checkpoint being saved>".into(),
        source,
    })
}

/// Writes named tensors to `path` as a safetensors file, atomically and durably: the
/// bytes go to a temporary file in the same folder, which is synced and then renamed over
/// `path`, and the folder is synced so the rename itself survives a crash (see
/// [`atomic`](crate::atomic)). An existing file's permissions are kept; a new file gets
/// the usual `0666` minus the umask. Temporary files left in the folder by savers that
/// died are removed first.
pub fn save<T: Float>(
    path: impl AsRef<Path>,
    tensors: &[(String, &Tensor<T>)],
) -> Result<(), CheckpointError> {
    let bytes = to_bytes(tensors)?;
    crate::atomic::write(path.as_ref(), &bytes, Durability::Synced).map_err(|e| {
        CheckpointError::Io {
            path: e.path,
            op: e.op,
            source: e.source,
        }
    })
}

/// The first key that a JSON object repeats, if any (deserialised from the header).
struct FirstDuplicate(Option<String>);

impl<'de> serde::Deserialize<'de> for FirstDuplicate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> serde::de::Visitor<'de> for Keys {
            type Value = FirstDuplicate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<FirstDuplicate, A::Error> {
                let mut seen = HashSet::new();
                let mut first = None;
                // The whole object is consumed: serde_json rejects a map left half-read.
                while let Some(key) = map.next_key::<String>()? {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    if first.is_none() && !seen.insert(key.clone()) {
                        first = Some(key);
                    }
                }
                Ok(FirstDuplicate(first))
            }
        }
        d.deserialize_map(Keys)
    }
}

/// Rejects headers that repeat a tensor name or whose data offsets run past the end of
/// the buffer.
///
/// safetensors 0.8 sums the last offset with the header length before comparing with the
/// buffer length; offsets near `usize::MAX` overflow that sum, which panics in builds with
/// overflow checks (debug, fuzzing). Every other defect is left to its parser, so
/// anything unparsable here is passed on for it to diagnose.
fn check_offsets(bytes: &[u8], file: &str) -> Result<(), CheckpointError> {
    let Some(n) = header_len(bytes) else {
        return Ok(());
    };
    if n > MAX_HEADER {
        return Ok(());
    }
    let Some(header) = bytes.get(8..8 + n as usize) else {
        return Ok(());
    };
    // serde_json keeps only the last of duplicated keys, and the safetensors parser then
    // blames whichever tensor the lost entry's bytes were meant for.
    if let Ok(FirstDuplicate(Some(name))) = serde_json::from_slice(header) {
        return Err(CheckpointError::Corrupt {
            file: file.to_string(),
            problem: format!("tensor `{name}` appears more than once in the header"),
        });
    }
    let Ok(serde_json::Value::Object(entries)) = serde_json::from_slice(header) else {
        return Ok(());
    };
    let data_len = (bytes.len() - 8 - n as usize) as u64;
    for (name, entry) in &entries {
        let end = entry
            .get("data_offsets")
            .and_then(|o| o.get(1))
            .and_then(serde_json::Value::as_u64);
        if let Some(end) = end.filter(|&e| e > data_len) {
            return Err(CheckpointError::Corrupt {
                file: file.to_string(),
                problem: format!(
                    "tensor `{name}` ends at data byte {end}, but the data section has only \
                     {data_len} bytes"
                ),
            });
        }
    }
    Ok(())
}

/// The parsed header and the data section of a safetensors buffer.
fn parse<'a>(bytes: &'a [u8], file: &str) -> Result<(Metadata, &'a [u8]), CheckpointError> {
    let format = |source| CheckpointError::Format {
        file: file.to_string(),
        source,
    };
    check_offsets(bytes, file)?;
    let (n, metadata) = safetensors::SafeTensors::read_metadata(bytes).map_err(format)?;
    // read_metadata has checked that header and offsets cover the buffer exactly.
    let data = bytes
        .get(8 + n..)
        .ok_or(SafeTensorError::InvalidHeaderLength)
        .map_err(format)?;
    Ok((metadata, data))
}

/// Names, dtypes and shapes of the tensors in a safetensors buffer, in file order.
pub fn inspect_bytes(bytes: &[u8], file: &str) -> Result<Vec<TensorInfo>, CheckpointError> {
    let (metadata, _) = parse(bytes, file)?;
    Ok(metadata
        .offset_keys()
        .into_iter()
        .filter_map(|name| {
            let info = metadata.info(&name)?;
            Some(TensorInfo {
                dtype: info.dtype.to_string(),
                shape: Shape::new(info.shape.clone()),
                name,
            })
        })
        .collect())
}

/// Names, dtypes and shapes of the tensors in the safetensors file at `path`.
pub fn inspect(path: impl AsRef<Path>) -> Result<Vec<TensorInfo>, CheckpointError> {
    let path = path.as_ref();
    let bytes = read(path)?;
    inspect_bytes(&bytes, &path.display().to_string())
}

/// Decodes little-endian elements of `T`.
fn decode<T: Float>(bytes: &[u8]) -> Vec<T> {
    if cfg!(target_endian = "little") {
        if let Ok(aligned) = bytemuck::try_cast_slice::<u8, T>(bytes) {
            return aligned.to_vec();
        }
    }
    let size = std::mem::size_of::<T>();
    bytes
        .chunks_exact(size)
        .map(|c| {
            let mut buf = [0u8; 8];
            buf[..size].copy_from_slice(c);
            if cfg!(target_endian = "big") {
                buf[..size].reverse();
            }
            bytemuck::pod_read_unaligned(&buf[..size])
        })
        .collect()
}

/// Reads one tensor's data as `T`, or the reason it cannot be.
fn tensor_of<T: Float>(
    metadata: &Metadata,
    data: &[u8],
    name: &str,
    file: &str,
) -> Result<Tensor<T>, CheckpointError> {
    let bad = || CheckpointError::Format {
        file: file.to_string(),
        source: SafeTensorError::InvalidOffset(name.to_string()),
    };
    let info = metadata.info(name).ok_or_else(bad)?;
    let (start, end) = info.data_offsets;
    let raw = data.get(start..end).ok_or_else(bad)?;
    Tensor::try_from_vec(decode(raw), info.shape.clone()).map_err(|_| bad())
}

/// Every tensor of a safetensors buffer, in file order, as `T`. All tensors must have
/// dtype `T` (F32 for `f32`, F64 for `f64`); otherwise the error lists each one that does
/// not. `file` names the bytes in errors.
pub fn from_bytes<T: Float>(
    bytes: &[u8],
    file: &str,
) -> Result<Vec<(String, Tensor<T>)>, CheckpointError> {
    let (metadata, data) = parse(bytes, file)?;
    let want = safetensors_dtype(T::DTYPE);
    let names = metadata.offset_keys();
    let problems: Vec<Mismatch> = names
        .iter()
        .filter_map(|name| {
            let info = metadata.info(name)?;
            (info.dtype != want).then(|| Mismatch::WrongDtype {
                name: name.clone(),
                expected: T::DTYPE,
                found: info.dtype.to_string(),
            })
        })
        .collect();
    if !problems.is_empty() {
        return Err(CheckpointError::Mismatch {
            file: file.to_string(),
            problems,
        });
    }
    names
        .into_iter()
        .map(|name| {
            let t = tensor_of(&metadata, data, &name, file)?;
            Ok((name, t))
        })
        .collect()
}

/// The tensors named in `expected`, in that order, from a safetensors buffer, after
/// checking that the file holds exactly those names with those shapes and dtype `T`.
/// On any difference the error lists all of them: missing, unexpected, wrong shape, wrong
/// dtype.
pub fn check_bytes<T: Float>(
    bytes: &[u8],
    file: &str,
    expected: &[(String, Shape)],
) -> Result<Vec<Tensor<T>>, CheckpointError> {
    let (metadata, data) = parse(bytes, file)?;
    let want = safetensors_dtype(T::DTYPE);
    let mut problems = Vec::new();
    for (name, shape) in expected {
        match metadata.info(name) {
            None => problems.push(Mismatch::Missing {
                name: name.clone(),
                expected: shape.clone(),
            }),
            Some(info) => {
                if info.shape != shape.dims() {
                    problems.push(Mismatch::WrongShape {
                        name: name.clone(),
                        expected: shape.clone(),
                        found: Shape::new(info.shape.clone()),
                    });
                }
                if info.dtype != want {
                    problems.push(Mismatch::WrongDtype {
                        name: name.clone(),
                        expected: T::DTYPE,
                        found: info.dtype.to_string(),
                    });
                }
            }
        }
    }
    let wanted: HashMap<&str, ()> = expected.iter().map(|(n, _)| (n.as_str(), ())).collect();
    for name in metadata.offset_keys() {
        if !wanted.contains_key(name.as_str()) {
            if let Some(info) = metadata.info(&name) {
                problems.push(Mismatch::Unexpected {
                    shape: Shape::new(info.shape.clone()),
                    name,
                });
            }
        }
    }
    if !problems.is_empty() {
        return Err(CheckpointError::Mismatch {
            file: file.to_string(),
            problems,
        });
    }
    expected
        .iter()
        .map(|(name, _)| tensor_of(&metadata, data, name, file))
        .collect()
}

/// The bytes of the checkpoint at `path`, which must be a regular file (see
/// [`crate::files`]: a FIFO or device would hang or never end).
///
/// The header is read first, and the rest only when the file is exactly as long as the
/// header says: a wrong path (a 50 GB disk image, say) is refused after reading a few
/// bytes, never loaded into memory to be rejected afterwards.
fn read(path: &Path) -> Result<Vec<u8>, CheckpointError> {
    let io = |source| CheckpointError::Io {
        path: path.to_path_buf(),
        op: "read",
        source,
    };
    let (file, len) = crate::files::open_regular(path).map_err(io)?;
    let mut file = file.take(len);
    let mut bytes = Vec::new();
    (&mut file).take(8).read_to_end(&mut bytes).map_err(io)?;
    if let Some(n) = header_len(&bytes).filter(|&n| n <= MAX_HEADER && 8 + n <= len) {
        (&mut file).take(n).read_to_end(&mut bytes).map_err(io)?;
        if let Some(data_len) = described_data_len(&bytes[8..]) {
            let expected = 8 + n + data_len;
            if expected != len {
                return Err(CheckpointError::Corrupt {
                    file: path.display().to_string(),
                    problem: format!(
                        "the file is {len} bytes, but its header describes {expected} \
                         ({n}-byte header and {data_len} bytes of tensor data)"
                    ),
                });
            }
        }
    }
    // Anything the checks above could not judge (too short, an unparsable header) is read
    // in full — still at most `len` bytes — and diagnosed by the parser.
    file.read_to_end(&mut bytes).map_err(io)?;
    Ok(bytes)
}

/// The largest header the safetensors crate accepts (it reports larger ones itself).
const MAX_HEADER: u64 = 100_000_000;

/// The header length stored in the first 8 bytes, if there are 8.
fn header_len(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?))
}

/// The data-section length a header describes (the largest end offset), if the header is
/// a JSON object whose entries' offsets can be read.
fn described_data_len(header: &[u8]) -> Option<u64> {
    let serde_json::Value::Object(entries) = serde_json::from_slice(header).ok()? else {
        return None;
    };
    entries
        .iter()
        .filter(|(name, _)| *name != "__metadata__")
        .map(|(_, entry)| entry.get("data_offsets")?.get(1)?.as_u64())
        .try_fold(0, |max, end| Some(max.max(end?)))
}

/// Every tensor of the safetensors file at `path`, in file order, as `T` (see
/// [`from_bytes`]).
pub fn load<T: Float>(path: impl AsRef<Path>) -> Result<Vec<(String, Tensor<T>)>, CheckpointError> {
    let path = path.as_ref();
    let bytes = read(path)?;
    from_bytes(&bytes, &path.display().to_string())
}

/// The tensors named in `expected`, in that order, from the safetensors file at `path`,
/// after checking names, shapes and dtypes; the error lists every mismatch (see
/// [`check_bytes`]).
pub fn load_checked<T: Float>(
    path: impl AsRef<Path>,
    expected: &[(String, Shape)],
) -> Result<Vec<Tensor<T>>, CheckpointError> {
    let path = path.as_ref();
    let bytes = read(path)?;
    check_bytes(&bytes, &path.display().to_string(), expected)
}
