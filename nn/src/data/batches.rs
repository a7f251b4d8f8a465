//! Mini-batches over a [`Split`], in order or reshuffled each epoch.
//!
//! An epoch is one [`Batches`] iterator: create it with [`Split::batches`] (file order) or
//! [`Split::shuffled_batches`] (a fresh permutation drawn from the `rng` you pass). Pass
//! the same generator every epoch and each epoch gets a new order while the whole run
//! stays reproducible from its seed. Each batch is one copy of its rows into a new
//! tensor (the only allocation per batch); the permutation is allocated once per epoch.
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

/// An iterator over the mini-batches `(x_batch [b, d], labels_batch)` of one epoch.
///
/// The last batch may be smaller than the batch size unless
/// [`drop_last`](Self::drop_last) is set.
#[derive(Clone)]
pub struct Batches<'a, T> {
    split: &'a Split<T>,
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
        Batches::new(self, None, batch_size)
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
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(rng);
        Batches::new(self, Some(order), batch_size)
    }
}

impl<T: Float> std::fmt::Debug for Batches<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batches")
            .field("split", self.split)
            .field("batch_size", &self.batch_size)
            .field("shuffled", &self.order.is_some())
            .field("position", &self.pos)
            .field("drop_last", &self.drop_last)
            .finish()
    }
}

impl<'a, T: Float> Batches<'a, T> {
    #[track_caller]
    fn new(split: &'a Split<T>, order: Option<Vec<usize>>, batch_size: usize) -> Self {
        assert!(
            batch_size > 0,
            "batches: batch size must be positive, got 0"
        );
        Batches {
            split,
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
            None => (0..self.split.len()).collect(),
        }
    }

    /// Samples not yet handed out that will still be.
    fn remaining(&self) -> usize {
        let left = self.split.len() - self.pos;
        if self.drop_last {
            left - left % self.batch_size
        } else {
            left
        }
    }
}

impl<T: Float> Iterator for Batches<'_, T> {
    type Item = (Tensor<T>, Vec<usize>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining() == 0 {
            return None;
        }
        let start = self.pos;
        let end = (start + self.batch_size).min(self.split.len());
        self.pos = end;
        let d = self.split.dim();
        let x = self.split.x.data();
        let mut data = Vec::with_capacity((end - start) * d);
        let labels = match &self.order {
            None => {
                data.extend_from_slice(&x[start * d..end * d]);
                self.split.labels[start..end].to_vec()
            }
            Some(order) => {
                let idx = &order[start..end];
                for &i in idx {
                    data.extend_from_slice(&x[i * d..(i + 1) * d]);
                }
                idx.iter().map(|&i| self.split.labels[i]).collect()
            }
        };
        Some((Tensor::from_vec(data, [end - start, d]), labels))
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
