//! Samples kept as bytes — image pixels, as IDX files store them — and converted to floats
//! only when a batch is gathered.
//!
//! A pixel byte `b` stands for `b / 255`. Held as `f32`, MNIST's 54 000 training images
//! take 169 MB, and a shuffled batch is 100 rows scattered over them, each a wait on
//! memory; held as bytes they take 42 MB and a batch reads a quarter of the memory. The
//! conversion is a vectorised division per pixel, cheaper than the traffic it saves:
//! measured on Zen 5 (one thread, a gather of one epoch of shuffled batches of 100), 11 ms
//! from `f32` rows against 4 ms from bytes. torchvision's MNIST keeps its data as `uint8`
//! for the same reason.
//!
//! The floats are the same either way: [`pixel_value`] is `b / 255` rounded once to `T`,
//! what [`ByteSplit::to_split`] and the batches both compute.

use std::sync::Arc;

use ferrograd_tensor::{DType, Float, Tensor};
use rand::Rng;

use super::batches::{prefetch, Batches, Samples};
use super::{fraction_count, DataError, Split};

/// Samples whose features are bytes standing for `b / 255` (image pixels), converted to
/// `T` ([`pixel_value`]) as batches are gathered: a quarter of the memory of a
/// [`Split<f32>`], and a quarter of the memory a shuffled batch reads, which is what the
/// gather waits on (one epoch of MNIST batches of 100 on Zen 5, one thread: 11 ms from
/// `f32` rows, 4 ms from bytes).
///
/// The bytes are shared, never copied: a split's parts ([`into_split_at_fraction`],
/// [`slice`]) and clones are views of one buffer, and a split loaded from a file is a
/// view of the buffer the file was read into, past its header.
///
/// ```
/// use ferrograd_nn::data::ByteSplit;
/// use ferrograd_tensor::Tensor;
///
/// let pixels = ByteSplit::new(vec![0, 255, 51, 102], 2, vec![3, 7]).unwrap();
/// let (x, labels) = pixels.batches::<f32>(2).next().unwrap();
/// assert_eq!(x, Tensor::from_vec(vec![0.0, 1.0, 0.2, 0.4], [2, 2]));
/// assert_eq!(labels, [3, 7]);
/// ```
///
/// [`into_split_at_fraction`]: ByteSplit::into_split_at_fraction
/// [`slice`]: ByteSplit::slice
#[derive(Clone)]
pub struct ByteSplit {
    /// The buffer the samples are a view of, from byte `start` on, `labels.len() * dim`
    /// bytes.
    buffer: Arc<Vec<u8>>,
    start: usize,
    dim: usize,
    labels: Vec<usize>,
}

impl PartialEq for ByteSplit {
    /// The same samples and labels, wherever their bytes are kept.
    fn eq(&self, other: &Self) -> bool {
        self.dim == other.dim && self.labels == other.labels && self.pixels() == other.pixels()
    }
}

impl std::fmt::Debug for ByteSplit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByteSplit")
            .field("samples", &self.labels.len())
            .field("dim", &self.dim)
            .finish()
    }
}

impl ByteSplit {
    /// `labels.len()` samples of `dim` bytes each, row after row in `pixels`.
    pub fn new(pixels: Vec<u8>, dim: usize, labels: Vec<usize>) -> Result<Self, DataError> {
        Self::after_header(pixels, 0, dim, labels)
    }

    /// The samples in `buffer[start..]` (a file's bytes past its header of `start`
    /// bytes), kept in place: no 47 MB copy, nor a move down over the header.
    pub(crate) fn after_header(
        buffer: Vec<u8>,
        start: usize,
        dim: usize,
        labels: Vec<usize>,
    ) -> Result<Self, DataError> {
        // A start past the end is no bytes at all (and must not be sliced from later).
        let have = buffer.len().checked_sub(start);
        if have != Some(labels.len() * dim) {
            let have = have.unwrap_or(0);
            return Err(DataError::InvalidArgument(format!(
                "a byte split of {} samples of {dim} bytes needs {} bytes, got {have}",
                labels.len(),
                labels.len() * dim,
            )));
        }
        Ok(ByteSplit {
            buffer: Arc::new(buffer),
            start,
            dim,
            labels,
        })
    }

    /// The samples' bytes, row after row.
    fn pixels(&self) -> &[u8] {
        &self.buffer[self.start..self.start + self.labels.len() * self.dim]
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Bytes per sample.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Class index of each sample.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// Every sample converted to `T` (see [`pixel_value`]), as a [`Split`].
    pub fn to_split<T: Float>(&self) -> Split<T> {
        let mut x = vec![T::ZERO; self.pixels().len()];
        convert_in_parallel(self.pixels(), &mut x);
        Split {
            x: Tensor::from_vec(x, [self.len(), self.dim]),
            labels: self.labels.clone(),
        }
    }

    /// Samples `start..end`, sharing this split's bytes (their labels are copied).
    ///
    /// Panics if the range is out of bounds, like slice indexing.
    #[track_caller]
    pub fn slice(&self, start: usize, end: usize) -> ByteSplit {
        ByteSplit {
            buffer: Arc::clone(&self.buffer),
            start: self.start + start * self.dim,
            dim: self.dim,
            labels: self.labels[start..end].to_vec(),
        }
    }

    /// The first `floor(frac * n)` samples and the rest, in order (see
    /// [`Split::into_split_at_fraction`]); both parts share this split's bytes.
    pub fn into_split_at_fraction(self, frac: f64) -> Result<(ByteSplit, ByteSplit), DataError> {
        let k = fraction_count(frac, self.len())?;
        let tail = self.slice(k, self.len());
        let mut head = self;
        head.labels.truncate(k);
        Ok((head, tail))
    }

    /// Batches of `batch_size` samples in order, as `T`. Panics if `batch_size` is 0.
    #[track_caller]
    pub fn batches<T: Float>(&self, batch_size: usize) -> Batches<'_, T> {
        Batches::in_order(self, batch_size)
    }

    /// Batches of `batch_size` samples in a random order drawn from `rng`, as `T` (see
    /// [`Split::shuffled_batches`]). Panics if `batch_size` is 0.
    #[track_caller]
    pub fn shuffled_batches<T: Float, R: Rng + ?Sized>(
        &self,
        batch_size: usize,
        rng: &mut R,
    ) -> Batches<'_, T> {
        Batches::shuffled(self, batch_size, rng)
    }
}

impl<T: Float> Samples<T> for ByteSplit {
    fn len(&self) -> usize {
        ByteSplit::len(self)
    }

    fn dim(&self) -> usize {
        ByteSplit::dim(self)
    }

    fn labels(&self) -> &[usize] {
        ByteSplit::labels(self)
    }

    fn copy_rows(&self, start: usize, end: usize, out: &mut [T]) {
        convert(&self.pixels()[start * self.dim..end * self.dim], out);
    }

    fn prefetch_row(&self, i: usize) {
        prefetch(&self.pixels()[i * self.dim..(i + 1) * self.dim]);
    }
}

/// The value a pixel byte stands for: `b / 255`, rounded once to `T`.
///
/// For `f32` this is computed as `b as f32 / 255.0`, a correctly rounded `f32` division
/// that vectorises; it equals `(b as f64 / 255.0) as f32` for all 256 bytes (a test
/// checks every one), so `f32` and `f64` data agree to `f32` rounding.
///
/// ```
/// assert_eq!(ferrograd_nn::data::pixel_value::<f32>(51), 0.2);
/// assert_eq!(ferrograd_nn::data::pixel_value::<f64>(255), 1.0);
/// ```
pub fn pixel_value<T: Float>(b: u8) -> T {
    let mut out = [T::ZERO];
    convert(&[b], &mut out);
    out[0]
}

/// `out[i] = pixel_value(pixels[i])`.
fn convert<T: Float>(pixels: &[u8], out: &mut [T]) {
    assert_eq!(pixels.len(), out.len(), "convert: one float per byte");
    match T::DTYPE {
        DType::F32 => convert_f32(pixels, bytemuck::cast_slice_mut(out)),
        DType::F64 => convert_f64(pixels, bytemuck::cast_slice_mut(out)),
    }
}

fn convert_f32(pixels: &[u8], out: &mut [f32]) {
    ferrograd_tensor::dispatch_simd!(convert_f32_loop(pixels, out))
}

fn convert_f64(pixels: &[u8], out: &mut [f64]) {
    ferrograd_tensor::dispatch_simd!(convert_f64_loop(pixels, out))
}

#[inline(always)]
fn convert_f32_loop(pixels: &[u8], out: &mut [f32]) {
    for (o, &b) in out.iter_mut().zip(pixels) {
        *o = b as f32 / 255.0;
    }
}

#[inline(always)]
fn convert_f64_loop(pixels: &[u8], out: &mut [f64]) {
    for (o, &b) in out.iter_mut().zip(pixels) {
        *o = f64::from(b) / 255.0;
    }
}

ferrograd_tensor::simd_copies! {
    fn convert_f32_loop[](pixels: &[u8], out: &mut [f32]);
    fn convert_f64_loop[](pixels: &[u8], out: &mut [f64]);
}

/// [`convert`] on several threads for a large buffer.
///
/// Why threads for a division: `out` is fresh memory (190 MB for MNIST's training images
/// as `f32`), and the first write to each of its pages is a page fault that costs far more
/// than the arithmetic (0.09 of the load's 0.10 s was system time on one thread). The
/// kernel handles faults from different threads in parallel.
fn convert_in_parallel<T: Float>(pixels: &[u8], out: &mut [T]) {
    const MIN_PER_THREAD: usize = 1 << 22;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(pixels.len().div_ceil(MIN_PER_THREAD))
        .max(1);
    let chunk = pixels.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        for (src, dst) in pixels.chunks(chunk).zip(out.chunks_mut(chunk)) {
            s.spawn(move || convert(src, dst));
        }
    });
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    /// The vectorised f32 division gives, for every byte, `b / 255` computed in f64 and
    /// rounded once to f32 (what the loader's table held before), in every SIMD copy.
    #[test]
    fn every_byte_converts_to_b_over_255_rounded_once() {
        let bytes: Vec<u8> = (0..=255).collect();
        let (mut f, mut d) = (vec![0.0f32; 256], vec![0.0f64; 256]);
        convert(&bytes, &mut f);
        convert(&bytes, &mut d);
        let mut plain = vec![0.0f32; 256];
        convert_f32_loop(&bytes, &mut plain);
        for b in 0..256 {
            let want = b as f64 / 255.0;
            assert_eq!(f[b].to_bits(), (want as f32).to_bits(), "byte {b}");
            assert_eq!(plain[b].to_bits(), (want as f32).to_bits(), "byte {b}");
            assert_eq!(d[b].to_bits(), want.to_bits(), "byte {b}");
            assert_eq!(pixel_value::<f32>(b as u8), want as f32);
        }
    }

    /// Batches gathered from bytes are the batches of the converted split, shuffled or
    /// not, through `next` and `next_into`; the split-off parts are the slices.
    #[test]
    fn batches_from_bytes_equal_batches_of_the_converted_split() {
        let (n, d) = (23, 5);
        let pixels: Vec<u8> = (0..n * d).map(|i| (i * 37 % 256) as u8).collect();
        let bytes = ByteSplit::new(pixels, d, (0..n).map(|i| i % 10).collect()).unwrap();
        let floats = bytes.to_split::<f32>();
        assert_eq!(floats.x.dims(), &[n, d]);
        for seed in 0..3 {
            let (mut r1, mut r2) = (StdRng::seed_from_u64(seed), StdRng::seed_from_u64(seed));
            let want: Vec<_> = floats.shuffled_batches(4, &mut r1).collect();
            let got: Vec<_> = bytes.shuffled_batches::<f32, _>(4, &mut r2).collect();
            assert_eq!(got, want);
            let mut it = bytes.shuffled_batches::<f32, _>(4, &mut StdRng::seed_from_u64(seed));
            let (mut x, mut y, mut into) = (Tensor::zeros([4, d]), Vec::new(), Vec::new());
            while it.next_into(&mut x, &mut y) {
                into.push((x.clone(), y.clone()));
            }
            assert_eq!(into, want);
        }
        let in_order: Vec<_> = bytes.batches::<f64>(5).collect();
        assert_eq!(
            in_order,
            bytes.to_split::<f64>().batches(5).collect::<Vec<_>>()
        );
        let (head, tail) = bytes.clone().into_split_at_fraction(0.5).unwrap();
        assert_eq!((head.len(), tail.len()), (11, 12));
        assert_eq!(head, bytes.slice(0, 11));
        assert_eq!(tail, bytes.slice(11, n));
    }

    /// A split past a header takes the bytes after it, in place; a header longer than the
    /// buffer is an error even with no samples, not a slice that panics later.
    #[test]
    fn a_split_after_a_header_reads_past_it() {
        let bytes = ByteSplit::after_header(vec![9, 9, 9, 0, 255], 3, 1, vec![4, 5]).unwrap();
        assert_eq!(bytes, ByteSplit::new(vec![0, 255], 1, vec![4, 5]).unwrap());
        assert_eq!(bytes.slice(1, 2).to_split::<f32>().x.data(), &[1.0]);
        assert!(ByteSplit::after_header(vec![1, 2], 3, 1, vec![]).is_err());
    }

    #[test]
    fn a_pixel_count_that_does_not_fit_is_named() {
        let e = ByteSplit::new(vec![0; 7], 2, vec![0, 1, 2]).unwrap_err();
        assert!(
            e.to_string()
                .contains("3 samples of 2 bytes needs 6 bytes, got 7"),
            "{e}"
        );
    }
}
