//! MNIST from its four IDX files (uncompressed, big-endian), read into memory.
//!
//! The IDX format is a 4-byte magic number (`0x0000_08_nn`: unsigned bytes, `nn`
//! dimensions), `nn` big-endian `u32` dimensions, then the bytes. The parsers
//! [`parse_idx_images`] and [`parse_idx_labels`] are pure functions over `&[u8]` that
//! return views into the input (no copy): every header field is checked against the
//! byte count, with overflow-checked arithmetic, before a single pixel is read, so any
//! input yields either a consistent view or a [`DataError`] naming the defect.
//!
//! [`Mnist::load`] finds the folder (an explicit path, else `MNIST_DIR`, else
//! `data/mnist`), checks that all four files are there (naming every one that is not),
//! reads each, parses it, and converts pixels to floats in `[0, 1]` (`x / 255`, as
//! torchvision's `ToTensor` does). [`MnistBytes::load`] stops before the conversion and
//! keeps the pixels as bytes ([`ByteSplit`]), for training loops that gather shuffled
//! batches from them.
//!
//! Contract on files that change while loading: the files are *read*, not memory-mapped.
//! A mapped file that another process truncates kills the reader with SIGBUS when a pixel
//! past the new end is touched, and no check made before the access can rule that out.
//! Reading copies the bytes the file has when opened (at most 47 MB for the largest file,
//! which the split keeps anyway), so a file that shrinks, grows or is
//! rewritten meanwhile yields either a consistent data set or a [`DataError`] (typically
//! `Truncated`), never a crash. Only regular files are read: a FIFO, a device or a
//! directory in a file's place is an error naming it, not a hang.

use std::path::{Path, PathBuf};

use bytemuck::{Pod, Zeroable};
use ferrograd_tensor::Float;
use rand::Rng;

use super::{ByteSplit, DataError, Split};

/// Magic number of an IDX file of unsigned-byte images (3 dimensions).
pub const IMAGES_MAGIC: u32 = 2051;
/// Magic number of an IDX file of unsigned-byte labels (1 dimension).
pub const LABELS_MAGIC: u32 = 2049;
/// Training images file name.
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
/// Training labels file name.
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
/// Test images file name.
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
/// Test labels file name.
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";
/// Environment variable naming the folder that holds the four files.
pub const MNIST_DIR_ENV: &str = "MNIST_DIR";
/// Folder used when neither a path nor `MNIST_DIR` is given (relative to the working
/// directory; `scripts/fetch-mnist.sh` fills it).
pub const DEFAULT_DIR: &str = "data/mnist";
/// Side of an MNIST image in pixels.
pub const SIDE: usize = 28;
/// Number of digit classes.
pub const CLASSES: usize = 10;

/// A big-endian `u32` as it sits in the file. A byte array has alignment 1, so a header
/// can be viewed in place with `bytemuck` wherever it lies in the buffer.
#[repr(transparent)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct BeU32([u8; 4]);

impl BeU32 {
    fn get(self) -> u32 {
        u32::from_be_bytes(self.0)
    }
}

/// A zero-copy view of an IDX images file: `count` images of `rows x cols` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdxImages<'a> {
    /// Number of images.
    pub count: usize,
    /// Rows per image.
    pub rows: usize,
    /// Columns per image.
    pub cols: usize,
    /// `count * rows * cols` pixel bytes, image after image, each row-major.
    pub pixels: &'a [u8],
}

impl<'a> IdxImages<'a> {
    /// Pixels per image.
    pub fn image_len(&self) -> usize {
        self.rows * self.cols
    }

    /// The bytes of image `i`, or `None` past the end.
    pub fn image(&self, i: usize) -> Option<&'a [u8]> {
        let n = self.image_len();
        let start = i.checked_mul(n)?;
        self.pixels.get(start..start.checked_add(n)?)
    }
}

/// A zero-copy view of an IDX labels file: one byte per label, each checked to be 0..=9.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdxLabels<'a> {
    /// The labels.
    pub labels: &'a [u8],
}

/// Reads the magic number and `dims` dimensions, or says why the header is bad. Returns
/// the dimensions and the header length.
fn parse_header(
    bytes: &[u8],
    name: &str,
    magic: u32,
    what: &'static str,
    dims: usize,
) -> Result<(Vec<usize>, usize), DataError> {
    let header_len = 4 * (1 + dims);
    let Some(head) = bytes.get(..header_len) else {
        // Too short for a header; report the magic if there is one, as a wrong file type is
        // the likelier story than a truncated header.
        if let Some(m) = bytes.get(..4) {
            let found = u32::from_be_bytes([m[0], m[1], m[2], m[3]]);
            if found != magic {
                return Err(DataError::BadMagic {
                    file: name.to_string(),
                    found,
                    expected: magic,
                    what,
                });
            }
        }
        return Err(DataError::Truncated {
            file: name.to_string(),
            expected: header_len as u64,
            actual: bytes.len() as u64,
            promised: format!("an IDX header of {header_len} bytes"),
        });
    };
    let fields: &[BeU32] = bytemuck::try_cast_slice(head).map_err(|e| DataError::BadHeader {
        file: name.to_string(),
        problem: format!("cannot view the header: {e}"),
    })?;
    let found = fields[0].get();
    if found != magic {
        return Err(DataError::BadMagic {
            file: name.to_string(),
            found,
            expected: magic,
            what,
        });
    }
    let dims = fields[1..]
        .iter()
        .map(|f| usize::try_from(f.get()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| DataError::BadHeader {
            file: name.to_string(),
            problem: "a dimension does not fit in usize on this platform".into(),
        })?;
    Ok((dims, header_len))
}

/// Checks that `bytes` is exactly `header_len + body` long.
fn check_len(
    bytes: &[u8],
    name: &str,
    header_len: usize,
    body: Option<usize>,
    promised: String,
) -> Result<(), DataError> {
    let expected = body.and_then(|b| b.checked_add(header_len));
    let actual = bytes.len() as u64;
    match expected {
        // A size that overflows usize cannot be present: the file is certainly short.
        None => Err(DataError::Truncated {
            file: name.to_string(),
            expected: u64::MAX,
            actual,
            promised,
        }),
        Some(e) if bytes.len() < e => Err(DataError::Truncated {
            file: name.to_string(),
            expected: e as u64,
            actual,
            promised,
        }),
        Some(e) if bytes.len() > e => Err(DataError::TrailingBytes {
            file: name.to_string(),
            expected: e as u64,
            actual,
            promised,
        }),
        Some(_) => Ok(()),
    }
}

/// Parses an IDX file of unsigned-byte images (magic 2051, 3 dimensions: count, rows,
/// columns). `name` labels the bytes in error messages (the file name). Any image size
/// is accepted here; [`Mnist::load`] additionally requires 28 x 28.
pub fn parse_idx_images<'a>(bytes: &'a [u8], name: &str) -> Result<IdxImages<'a>, DataError> {
    let what = "an IDX file of unsigned-byte images with 3 dimensions";
    let (dims, header_len) = parse_header(bytes, name, IMAGES_MAGIC, what, 3)?;
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    if rows == 0 || cols == 0 {
        return Err(DataError::BadHeader {
            file: name.to_string(),
            problem: format!("image size is {rows}x{cols}, expected both sides positive"),
        });
    }
    let body = count.checked_mul(rows).and_then(|n| n.checked_mul(cols));
    check_len(
        bytes,
        name,
        header_len,
        body,
        format!("{count} images of {rows}x{cols}"),
    )?;
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels: &bytes[header_len..],
    })
}

/// Parses an IDX file of unsigned-byte labels (magic 2049, 1 dimension: count), checking
/// that every label is a digit class 0..=9. `name` labels the bytes in error messages.
pub fn parse_idx_labels<'a>(bytes: &'a [u8], name: &str) -> Result<IdxLabels<'a>, DataError> {
    let what = "an IDX file of unsigned-byte labels with 1 dimension";
    let (dims, header_len) = parse_header(bytes, name, LABELS_MAGIC, what, 1)?;
    let count = dims[0];
    check_len(
        bytes,
        name,
        header_len,
        Some(count),
        format!("{count} labels"),
    )?;
    let labels = &bytes[header_len..];
    if let Some(index) = labels.iter().position(|&l| l as usize >= CLASSES) {
        return Err(DataError::BadLabel {
            file: name.to_string(),
            index,
            value: labels[index],
        });
    }
    Ok(IdxLabels { labels })
}

/// Pairs parsed images with parsed labels into a split, pixels scaled to `[0, 1]`.
/// `images_name` and `labels_name` name the two sources in errors.
pub fn split_from_idx<T: Float>(
    images: &IdxImages<'_>,
    images_name: &str,
    labels: &IdxLabels<'_>,
    labels_name: &str,
) -> Result<Split<T>, DataError> {
    Ok(byte_split_from_idx(images, images_name, labels, labels_name)?.to_split())
}

/// Pairs parsed images with parsed labels, the pixels kept as bytes (see [`ByteSplit`]).
/// `images_name` and `labels_name` name the two sources in errors.
pub fn byte_split_from_idx(
    images: &IdxImages<'_>,
    images_name: &str,
    labels: &IdxLabels<'_>,
    labels_name: &str,
) -> Result<ByteSplit, DataError> {
    let labels = labels_of(images, images_name, labels, labels_name)?;
    ByteSplit::new(images.pixels.to_vec(), images.image_len(), labels)
}

/// The labels as class indices, after checking there is one per image (an error naming
/// both sources otherwise).
fn labels_of(
    images: &IdxImages<'_>,
    images_name: &str,
    labels: &IdxLabels<'_>,
    labels_name: &str,
) -> Result<Vec<usize>, DataError> {
    if images.count != labels.labels.len() {
        return Err(DataError::CountMismatch {
            images: images_name.to_string(),
            n_images: images.count,
            labels: labels_name.to_string(),
            n_labels: labels.labels.len(),
        });
    }
    Ok(labels.labels.iter().map(|&l| l as usize).collect())
}

/// The bytes of one data file, or an error naming it (see [`crate::files`] for what is
/// refused).
fn read_file(dir: &Path, file: &str) -> Result<Vec<u8>, DataError> {
    let path = dir.join(file);
    crate::files::read_regular(&path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            DataError::NotFound {
                path: path.clone(),
                dir: dir.to_path_buf(),
                missing: vec![file.to_string()],
            }
        } else {
            DataError::Io {
                path: path.clone(),
                source,
            }
        }
    })
}

/// Loads one images/labels pair from `dir`, checking 28 x 28 images.
fn load_pair(dir: &Path, images: &str, labels: &str) -> Result<ByteSplit, DataError> {
    let image_bytes = read_file(dir, images)?;
    let label_bytes = read_file(dir, labels)?;
    let images_name = dir.join(images).display().to_string();
    let labels_name = dir.join(labels).display().to_string();
    let image_view = parse_idx_images(&image_bytes, &images_name)?;
    if (image_view.rows, image_view.cols) != (SIDE, SIDE) {
        return Err(DataError::BadHeader {
            file: images_name,
            problem: format!(
                "images are {}x{}, expected MNIST's {SIDE}x{SIDE}",
                image_view.rows, image_view.cols
            ),
        });
    }
    let label_view = parse_idx_labels(&label_bytes, &labels_name)?;
    let labels = labels_of(&image_view, &images_name, &label_view, &labels_name)?;
    let (dim, header_len) = (
        image_view.image_len(),
        image_bytes.len() - image_view.pixels.len(),
    );
    // The pixels are the rest of the file, left where the read put them: a fresh 47 MB
    // copy would be 11 500 page faults at the start of a run, and even moving them down
    // over the 16-byte header is a 47 MB memmove.
    ByteSplit::after_header(image_bytes, header_len, dim, labels)
}

/// The MNIST digits: 60 000 training and 10 000 test images as `[n, 784]` rows of pixels
/// in `[0, 1]`, with labels 0..=9.
#[derive(Clone)]
pub struct Mnist<T = f32> {
    /// The 60 000 training images (`train-*` files).
    pub train: Split<T>,
    /// The 10 000 test images (`t10k-*` files).
    pub test: Split<T>,
}

impl<T: Float> std::fmt::Debug for Mnist<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mnist")
            .field("train", &self.train)
            .field("test", &self.test)
            .finish()
    }
}

impl<T: Float> Mnist<T> {
    /// The folder to read: `dir` if given, else `$MNIST_DIR` if set and non-empty, else
    /// `data/mnist` (relative to the working directory).
    pub fn resolve_dir(dir: Option<&Path>) -> PathBuf {
        if let Some(d) = dir {
            return d.to_path_buf();
        }
        match std::env::var_os(MNIST_DIR_ENV) {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => PathBuf::from(DEFAULT_DIR),
        }
    }

    /// Loads the four files from the folder [`resolve_dir`](Self::resolve_dir) picks.
    /// Missing files give one error that names each of them and says how to fetch them;
    /// a damaged one an error that names the file and the defect.
    pub fn load(dir: Option<&Path>) -> Result<Self, DataError> {
        let bytes = MnistBytes::load(dir)?;
        Ok(Mnist {
            train: bytes.train.to_split(),
            test: bytes.test.to_split(),
        })
    }

    /// Splits the training set into (train, valid) the way the homework does: the first
    /// `int(train_frac * 60000)` images train, the rest validate, in file order
    /// (`train_frac = 0.9` gives 54 000 / 6 000). The test set stays [`Mnist::test`].
    pub fn train_valid_split(&self, train_frac: f64) -> Result<(Split<T>, Split<T>), DataError> {
        self.train.split_at_fraction(train_frac)
    }

    /// Like [`train_valid_split`](Self::train_valid_split) but on a random permutation of
    /// the training set drawn from `rng`.
    pub fn shuffled_train_valid_split<R: Rng + ?Sized>(
        &self,
        train_frac: f64,
        rng: &mut R,
    ) -> Result<(Split<T>, Split<T>), DataError> {
        self.train.shuffled_split_at_fraction(train_frac, rng)
    }
}

/// MNIST with its pixels kept as bytes until a batch is gathered (see [`ByteSplit`]): a
/// quarter of the memory of [`Mnist`]`<f32>`, and what a training loop over shuffled
/// batches reads fastest. [`ByteSplit::to_split`] gives the floats of a part that is read
/// whole (a validation or test set).
#[derive(Clone, Debug)]
pub struct MnistBytes {
    /// The 60 000 training images (`train-*` files).
    pub train: ByteSplit,
    /// The 10 000 test images (`t10k-*` files).
    pub test: ByteSplit,
}

impl MnistBytes {
    /// Loads the four files as [`Mnist::load`] does (the same folder, the same errors).
    pub fn load(dir: Option<&Path>) -> Result<Self, DataError> {
        let dir = Mnist::<f32>::resolve_dir(dir);
        // All four up front, so the error names every missing file rather than the first.
        let missing: Vec<String> = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS]
            .into_iter()
            .filter(|f| {
                matches!(std::fs::metadata(dir.join(f)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound)
            })
            .map(String::from)
            .collect();
        if let Some(first) = missing.first() {
            return Err(DataError::NotFound {
                path: dir.join(first),
                dir,
                missing,
            });
        }
        // The two pairs on two threads: most of a load is the kernel copying the file and
        // faulting in the buffer, which it does for two threads at once.
        let (train, test) = std::thread::scope(|s| {
            let test = s.spawn(|| load_pair(&dir, TEST_IMAGES, TEST_LABELS));
            let train = load_pair(&dir, TRAIN_IMAGES, TRAIN_LABELS);
            (train, test.join())
        });
        // The training pair's error first, as when the pairs were read one after the other.
        let train = train?;
        let test = test.unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        Ok(MnistBytes { train, test })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx_images(count: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        for x in [IMAGES_MAGIC, count, rows, cols] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v.extend_from_slice(pixels);
        v
    }

    #[test]
    fn parses_a_small_images_file() {
        let bytes = idx_images(2, 2, 3, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        let v = parse_idx_images(&bytes, "x").unwrap();
        assert_eq!((v.count, v.rows, v.cols), (2, 2, 3));
        assert_eq!(v.image(1).unwrap(), &[6, 7, 8, 9, 10, 11]);
        assert_eq!(v.image(2), None);
    }

    #[test]
    fn overflowing_counts_are_truncation_not_panics() {
        let bytes = idx_images(u32::MAX, u32::MAX, u32::MAX, &[]);
        let err = parse_idx_images(&bytes, "big").unwrap_err();
        assert!(matches!(err, DataError::Truncated { .. }), "{err}");
    }

    #[test]
    fn gzip_input_gets_a_hint() {
        let err = parse_idx_images(&[0x1f, 0x8b, 8, 0, 0, 0], "a.gz").unwrap_err();
        assert!(err.to_string().contains("gunzip"), "{err}");
    }
}
