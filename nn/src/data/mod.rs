//! Data sets: MNIST from its IDX files, splits, and a mini-batch iterator. (The
//! homework's synthetic data set lives in the `course` package, beside the homework.)
//!
//! Design in brief:
//! - Every data set ends up as [`Split`]s: a `[n, d]` feature tensor and `n` class labels,
//!   so training loops, probes and the batch iterator never care where data came from.
//!   Images can also stay bytes until a batch is gathered ([`ByteSplit`]); the batch
//!   iterator reads either through the [`Samples`] trait.
//! - File formats are parsed by pure functions over `&[u8]`
//!   ([`mnist::parse_idx_images`], [`mnist::parse_idx_labels`]) that check every header
//!   field against the byte count before touching pixels; loading is a bounded read of
//!   each regular file plus those parsers. Bad files give a [`DataError`] naming the file and the defect, never a
//!   panic, so the parsers can be fuzzed.
//! - Randomness (shuffling, sampling) always comes from an explicit `rng`
//!   argument: one seed reproduces a whole run.

pub mod batches;
mod bytes;
mod error;
pub mod mnist;

pub use batches::{Batches, Samples};
pub use bytes::{pixel_value, ByteSplit};
pub use error::DataError;
pub use mnist::{Mnist, MnistBytes};

use ferrograd_tensor::{Float, Tensor};
use rand::seq::SliceRandom;
use rand::Rng;

/// One part of a data set (train, valid or test): `x` is `[n, d]`, one sample per row,
/// and `labels[i]` is the class of row `i`.
#[derive(Clone, PartialEq)]
pub struct Split<T> {
    /// Features, `[n, d]`, row-major.
    pub x: Tensor<T>,
    /// Class index of each row.
    pub labels: Vec<usize>,
}

impl<T: Float> std::fmt::Debug for Split<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Summarise: a full dump of 60 000 rows helps nobody.
        f.debug_struct("Split")
            .field("x", &self.x.shape())
            .field("labels", &self.labels.len())
            .finish()
    }
}

impl<T: Float> Split<T> {
    /// Pairs features with labels, checking that `x` is a matrix with one row per label.
    pub fn new(x: Tensor<T>, labels: Vec<usize>) -> Result<Self, DataError> {
        if x.rank() != 2 || x.dims()[0] != labels.len() {
            return Err(DataError::InvalidArgument(format!(
                "a split needs features of shape [n, d] with n = {} (one row per label), \
                 got shape {}",
                labels.len(),
                x.shape()
            )));
        }
        Ok(Split { x, labels })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Features per sample (`d`).
    pub fn dim(&self) -> usize {
        self.x.dims()[1]
    }

    /// The samples `indices`, in that order (a copy).
    ///
    /// Panics if an index is out of range, like slice indexing.
    #[track_caller]
    pub fn select(&self, indices: &[usize]) -> Split<T> {
        Split {
            x: self.x.index_select_rows(indices),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        }
    }

    /// Samples `start..end` (a copy).
    ///
    /// Panics if the range is out of bounds, like slice indexing.
    #[track_caller]
    pub fn slice(&self, start: usize, end: usize) -> Split<T> {
        Split {
            x: self.x.narrow(0, start, end),
            labels: self.labels[start..end].to_vec(),
        }
    }

    /// Splits off the first `floor(frac * n)` samples as one part and the rest as the
    /// other, in order. This is what the homework does to carve a validation set out of
    /// the MNIST training set (`Subset(range(0, int(0.9 * 60000)))`, then the rest).
    pub fn split_at_fraction(&self, frac: f64) -> Result<(Split<T>, Split<T>), DataError> {
        let k = fraction_count(frac, self.len())?;
        Ok((self.slice(0, k), self.slice(k, self.len())))
    }

    /// [`split_at_fraction`](Self::split_at_fraction) that consumes the split: the first
    /// part keeps its buffer, so only the second part is copied (for MNIST, 19 MB instead
    /// of all 188 MB, each first-touch page a fault).
    pub fn into_split_at_fraction(self, frac: f64) -> Result<(Split<T>, Split<T>), DataError> {
        let (n, k, d) = (self.len(), fraction_count(frac, self.len())?, self.dim());
        let Split { x, mut labels } = self;
        let mut head = x.into_vec();
        let tail = head.split_off(k * d);
        let tail_labels = labels.split_off(k);
        Ok((
            Split::new(Tensor::from_vec(head, [k, d]), labels)?,
            Split::new(Tensor::from_vec(tail, [n - k, d]), tail_labels)?,
        ))
    }

    /// Like [`split_at_fraction`](Self::split_at_fraction), but on a random permutation of
    /// the samples drawn from `rng` (for a validation set that is not the file's tail).
    pub fn shuffled_split_at_fraction<R: Rng + ?Sized>(
        &self,
        frac: f64,
        rng: &mut R,
    ) -> Result<(Split<T>, Split<T>), DataError> {
        let k = fraction_count(frac, self.len())?;
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(rng);
        Ok((self.select(&order[..k]), self.select(&order[k..])))
    }
}

/// `floor(frac * n)` as Python's `int(frac * n)`, after checking `frac` is in `[0, 1]`.
pub fn fraction_count(frac: f64, n: usize) -> Result<usize, DataError> {
    if !(0.0..=1.0).contains(&frac) {
        return Err(DataError::InvalidArgument(format!(
            "split fraction {frac} is outside [0, 1]"
        )));
    }
    // Truncation, not rounding, is what the homework's int(frac * n) does.
    Ok(((frac * n as f64) as usize).min(n))
}
