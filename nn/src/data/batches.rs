//! Mini-batches over a [`Split`] (or any [`Samples`], such as a
//! [`ByteSplit`](super::ByteSplit)), in order or reshuffled each epoch.
//!
//! An epoch is one [`Batches`] iterator: create it with [`Split::batches`] (file order) or
//! [`Split::shuffled_batches`] (a fresh permutation drawn from the `rng` you pass). Pass
//! the same generator every epoch and each epoch gets a new order while the whole run
//! stays reproducible from its seed. Each batch is one copy of its rows into a new
//! tensor (the only allocation per batch); the permutation is allocated once per epoch.
//! A training loop that wants no allocation at all calls [`Batches::next_into`] instead,
//! which copies the rows into a tensor it is given and reuses that buffer every step.
//!
//! The homework's own loaders, for exact replication: the synthetic set is read in order
//! in full batches (`split.batches(100).drop_last(true)`), and the MNIST train loader is
//! `list(iter(DataLoader(shuffle=True)))`, i.e. shuffled **once** when built and then
//! replayed in that order every epoch (`split.select(&perm)` once, then `batches` per
//! epoch). Reshuffling every epoch is the usual practice and what
//! [`Split::shuffled_batches`] gives.

use ferrograd_tensor::{Float, Tensor};
use rand::seq::SliceRandom;
use rand::Rng;

use super::Split;

/// What mini-batches are gathered from: `len` samples of `dim` features of type `T`,
/// each with a label. [`Split`] holds them as `T`; a [`ByteSplit`](super::ByteSplit) as
/// bytes, converted as they are copied out. A training loop written against
/// `&dyn Samples<T>` takes either.
pub trait Samples<T>: Sync {
    /// Number of samples.
    fn len(&self) -> usize;

    /// True when there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Features per sample.
    fn dim(&self) -> usize;

    /// Class index of each sample.
    fn labels(&self) -> &[usize];

    /// Writes the features of samples `start..end` into `out` (`(end − start)·dim` long).
    fn copy_rows(&self, start: usize, end: usize, out: &mut [T]);

    /// Writes the features of sample `i` into `out` (`dim` long).
    fn copy_row(&self, i: usize, out: &mut [T]) {
        self.copy_rows(i, i + 1, out);
    }

    /// Hints the CPU to start loading sample `i` (see [`Batches::next_into`]); a hint only.
    fn prefetch_row(&self, _i: usize) {}
}

impl<T: Float> Samples<T> for Split<T> {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn dim(&self) -> usize {
        Split::dim(self)
    }

    fn labels(&self) -> &[usize] {
        &self.labels
    }

    fn copy_rows(&self, start: usize, end: usize, out: &mut [T]) {
        let d = Split::dim(self);
        out.copy_from_slice(&self.x.data()[start * d..end * d]);
    }

    fn prefetch_row(&self, i: usize) {
        let d = Split::dim(self);
        prefetch(&self.x.data()[i * d..(i + 1) * d]);
    }
}

/// An iterator over the mini-batches `(x_batch [b, d], labels_batch)` of one epoch.
///
/// The last batch may be smaller than the batch size unless
/// [`drop_last`](Self::drop_last) is set.
#[derive(Clone)]
pub struct Batches<'a, T> {
    samples: &'a dyn Samples<T>,
    /// Sample order for this epoch; `None` means file order (contiguous copies).
    order: Option<Vec<usize>>,
    batch_size: usize,
    pos: usize,
    drop_last: bool,
}

impl<T: Float> Split<T> {
    /// Batches of `batch_size` samples in order. Panics if `batch_size` is 0 (like
    /// `slice::chunks`).
    #[track_caller]
    pub fn batches(&self, batch_size: usize) -> Batches<'_, T> {
        Batches::in_order(self, batch_size)
    }

    /// Batches of `batch_size` samples in a random order drawn from `rng`. Call it once
    /// per epoch with the same generator to reshuffle every epoch. Panics if
    /// `batch_size` is 0.
    #[track_caller]
    pub fn shuffled_batches<R: Rng + ?Sized>(
        &self,
        batch_size: usize,
        rng: &mut R,
    ) -> Batches<'_, T> {
        Batches::shuffled(self, batch_size, rng)
    }
}

impl<T: Float> std::fmt::Debug for Batches<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batches")
            .field("samples", &self.samples.len())
            .field("dim", &self.samples.dim())
            .field("batch_size", &self.batch_size)
            .field("shuffled", &self.order.is_some())
            .field("position", &self.pos)
            .field("drop_last", &self.drop_last)
            .finish()
    }
}

impl<'a, T: Float> Batches<'a, T> {
    /// Batches of `batch_size` samples of `samples` in order ([`Split::batches`] for any
    /// [`Samples`]). Panics if `batch_size` is 0.
    #[track_caller]
    pub fn in_order(samples: &'a dyn Samples<T>, batch_size: usize) -> Self {
        Batches::new(samples, None, batch_size)
    }

    /// Batches of `batch_size` samples of `samples` in a random order drawn from `rng`
    /// ([`Split::shuffled_batches`] for any [`Samples`]). Panics if `batch_size` is 0.
    #[track_caller]
    pub fn shuffled<R: Rng + ?Sized>(
        samples: &'a dyn Samples<T>,
        batch_size: usize,
        rng: &mut R,
    ) -> Self {
        let mut order: Vec<usize> = (0..samples.len()).collect();
        order.shuffle(rng);
        Batches::new(samples, Some(order), batch_size)
    }

    #[track_caller]
    fn new(samples: &'a dyn Samples<T>, order: Option<Vec<usize>>, batch_size: usize) -> Self {
        assert!(
            batch_size > 0,
            "batches: batch size must be positive, got 0"
        );
        Batches {
            samples,
            order,
            batch_size,
            pos: 0,
            drop_last: false,
        }
    }

    /// Skips the final batch when it would be smaller than the batch size (so every batch
    /// has exactly `batch_size` rows, as the homework's `n // batch_size` loop does).
    pub fn drop_last(mut self, drop: bool) -> Self {
        self.drop_last = drop;
        self
    }

    /// The sample order of this epoch (indices into the split).
    pub fn order(&self) -> Vec<usize> {
        match &self.order {
            Some(o) => o.clone(),
            None => (0..self.samples.len()).collect(),
        }
    }

    /// Samples not yet handed out that will still be.
    fn remaining(&self) -> usize {
        let left = self.samples.len() - self.pos;
        if self.drop_last {
            left - left % self.batch_size
        } else {
            left
        }
    }
}

impl<T: Float> Batches<'_, T> {
    /// The next batch written into `x` (resized to `[rows, d]` only if its shape differs,
    /// so a buffer kept across steps is refilled, never reallocated) and its labels into
    /// `labels`; `false` at the end of the epoch, leaving both untouched.
    ///
    /// The same batches, in the same order, as [`next`](Iterator::next): the form for a
    /// training loop, where a fresh batch per step (~300 KB for MNIST) adds an allocation
    /// to the copy and, once the allocator has handed the memory back to the OS, a page
    /// fault per 4 KB on first touch.
    pub fn next_into(&mut self, x: &mut Tensor<T>, labels: &mut Vec<usize>) -> bool {
        let Some((start, end)) = self.advance() else {
            return false;
        };
        let d = self.samples.dim();
        if x.dims() != [end - start, d] {
            *x = Tensor::zeros([end - start, d]);
        }
        labels.clear();
        self.gather(start, end, x.data_mut(), labels);
        true
    }

    /// Copies the samples at positions `start..end` of this epoch's order into `x` and
    /// appends their labels to `labels`.
    fn gather(&self, start: usize, end: usize, x: &mut [T], labels: &mut Vec<usize>) {
        let (src, d) = (self.samples, self.samples.dim());
        match &self.order {
            None => {
                src.copy_rows(start, end, x);
                labels.extend_from_slice(&src.labels()[start..end]);
            }
            Some(order) => {
                let idx = &order[start..end];
                for (j, (row, &i)) in x.chunks_exact_mut(d.max(1)).zip(idx).enumerate() {
                    if let Some(&ahead) = order.get(start + j + PREFETCH_ROWS_AHEAD) {
                        src.prefetch_row(ahead);
                    }
                    src.copy_row(i, row);
                }
                let all = src.labels();
                labels.extend(idx.iter().map(|&i| all[i]));
            }
        }
    }

    /// The positions `start..end` of the next batch in this epoch's order, moving past
    /// them; `None` when no batch is left.
    fn advance(&mut self) -> Option<(usize, usize)> {
        if self.remaining() == 0 {
            return None;
        }
        let start = self.pos;
        let end = (start + self.batch_size).min(self.samples.len());
        self.pos = end;
        Some((start, end))
    }
}

/// How far ahead of the row being copied [`Batches::next_into`] asks for the next rows
/// (in the epoch's order, so the last rows of a batch ask for the next batch's first).
/// One epoch of MNIST's shuffled batches of 100 from bytes, one core of Zen 5: 4.1 ms two
/// rows ahead, 3.2 ms eight ahead within the batch, 2.85 ms eight ahead across batches,
/// 3.0 ms sixteen ahead.
const PREFETCH_ROWS_AHEAD: usize = 8;

/// Asks the CPU to start loading `row` into its caches; a hint, which cannot fault.
///
/// Why: the rows of a shuffled batch are scattered over the data set (169 MB for MNIST,
/// so mostly not in any cache, each on its own pages), and copying them one after the
/// other waits for each one's memory latency in turn. Requesting rows before they are
/// copied overlaps those waits (see [`PREFETCH_ROWS_AHEAD`]).
#[inline]
pub(super) fn prefetch<T>(row: &[T]) {
    #[cfg(target_arch = "x86_64")]
    for line in row.chunks((64 / std::mem::size_of::<T>()).max(1)) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch only hints the cache; the address is inside `row`.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

impl<T: Float> Iterator for Batches<'_, T> {
    type Item = (Tensor<T>, Vec<usize>);

    fn next(&mut self) -> Option<Self::Item> {
        let (start, end) = self.advance()?;
        let d = self.samples.dim();
        let mut x = vec![T::ZERO; (end - start) * d];
        let mut labels = Vec::with_capacity(end - start);
        self.gather(start, end, &mut x, &mut labels);
        Some((Tensor::from_vec(x, [end - start, d]), labels))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.remaining().div_ceil(self.batch_size);
        (n, Some(n))
    }
}

impl<T: Float> ExactSizeIterator for Batches<'_, T> {}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    fn split(n: usize, d: usize) -> Split<f32> {
        let x = Tensor::from_fn([n, d], |i| (i / d) as f32);
        Split::new(x, (0..n).collect()).unwrap()
    }

    #[test]
    fn last_partial_batch_is_kept_or_dropped() {
        let s = split(10, 3);
        let sizes: Vec<usize> = s.batches(4).map(|(x, _)| x.dims()[0]).collect();
        assert_eq!(sizes, vec![4, 4, 2]);
        assert_eq!(s.batches(4).len(), 3);
        let sizes: Vec<usize> = s.batches(4).drop_last(true).map(|(_, y)| y.len()).collect();
        assert_eq!(sizes, vec![4, 4]);
        assert_eq!(s.batches(4).drop_last(true).len(), 2);
    }

    #[test]
    fn next_into_gives_the_same_batches_as_next_in_one_reused_buffer() {
        let s = split(10, 3);
        for shuffled in [false, true] {
            let epoch = |rng: &mut StdRng| {
                if shuffled {
                    s.shuffled_batches(4, rng)
                } else {
                    s.batches(4)
                }
            };
            let (mut r1, mut r2) = (StdRng::seed_from_u64(5), StdRng::seed_from_u64(5));
            let expected: Vec<_> = epoch(&mut r1).collect();
            let mut it = epoch(&mut r2);
            let (mut x, mut y) = (Tensor::zeros([4, 3]), Vec::new());
            let buffer = x.data().as_ptr();
            let mut got = Vec::new();
            while it.next_into(&mut x, &mut y) {
                got.push((x.clone(), y.clone()));
                if x.dims()[0] == 4 {
                    assert_eq!(x.data().as_ptr(), buffer, "a full batch reuses the buffer");
                }
            }
            assert_eq!(got, expected, "shuffled: {shuffled}");
            assert!(!it.next_into(&mut x, &mut y) && x.dims() == [2, 3]);
        }
    }

    #[test]
    fn rows_travel_with_their_labels() {
        let s = split(7, 2);
        let mut rng = StdRng::seed_from_u64(3);
        for (x, y) in s.shuffled_batches(3, &mut rng) {
            for (r, &label) in y.iter().enumerate() {
                assert_eq!(x.row(r), &[label as f32; 2]);
            }
        }
    }
}
