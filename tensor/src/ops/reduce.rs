//! Reductions over all elements or along one axis.

use crate::error::or_panic;
use crate::{Float, Shape, Tensor, TensorError};

/// How an axis splits a row-major buffer: `outer` blocks of `len` runs of `inner`
/// contiguous elements.
struct AxisSplit {
    outer: usize,
    len: usize,
    inner: usize,
}

impl<T: Float> Tensor<T> {
    fn split_at_axis(&self, axis: usize, op: &'static str) -> Result<AxisSplit, TensorError> {
        if axis >= self.rank() {
            return Err(TensorError::AxisOutOfRange {
                op,
                axis,
                shape: self.shape().clone(),
            });
        }
        let dims = self.dims();
        Ok(AxisSplit {
            outer: dims[..axis].iter().product(),
            len: dims[axis],
            inner: dims[axis + 1..].iter().product(),
        })
    }

    fn reduced_shape(&self, axis: usize, keepdim: bool) -> Shape {
        let mut dims = self.dims().to_vec();
        if keepdim {
            dims[axis] = 1;
        } else {
            dims.remove(axis);
        }
        Shape::new(dims)
    }

    /// Folds along `axis` with `init` and `f`, keeping the axis as size 1 if `keepdim`.
    fn try_fold_axis<F: Fn(T, T) -> T>(
        &self,
        axis: usize,
        keepdim: bool,
        op: &'static str,
        init: T,
        f: F,
    ) -> Result<Tensor<T>, TensorError> {
        let s = self.split_at_axis(axis, op)?;
        let mut out = vec![init; s.outer * s.inner];
        let data = self.data();
        for o in 0..s.outer {
            fold_block(
                &mut out[o * s.inner..(o + 1) * s.inner],
                &data[o * s.len * s.inner..(o + 1) * s.len * s.inner],
                &f,
            );
        }
        Ok(Tensor::from_vec(out, self.reduced_shape(axis, keepdim)))
    }

    /// Sum of all elements.
    pub fn sum(&self) -> T {
        self.data().iter().copied().sum()
    }

    /// Mean of all elements (NaN for an empty tensor).
    pub fn mean(&self) -> T {
        self.sum() / T::from_usize(self.numel())
    }

    /// Largest element (-inf for an empty tensor).
    pub fn max(&self) -> T {
        self.data().iter().copied().fold(T::NEG_INFINITY, T::max)
    }

    /// Flat index of the largest element; the first one on ties. Panics when empty.
    #[track_caller]
    pub fn argmax(&self) -> usize {
        assert!(
            self.numel() > 0,
            "argmax: tensor of shape {} is empty",
            self.shape()
        );
        argmax_slice(self.data())
    }

    /// Sum along `axis`.
    pub fn try_sum_axis(&self, axis: usize, keepdim: bool) -> Result<Tensor<T>, TensorError> {
        self.try_fold_axis(axis, keepdim, "sum_axis", T::ZERO, |a, x| a + x)
    }

    /// Sum along `axis`; panics if the axis is out of range.
    #[track_caller]
    pub fn sum_axis(&self, axis: usize, keepdim: bool) -> Tensor<T> {
        or_panic(self.try_sum_axis(axis, keepdim))
    }

    /// Mean along `axis`; panics if the axis is out of range.
    #[track_caller]
    pub fn mean_axis(&self, axis: usize, keepdim: bool) -> Tensor<T> {
        let n = T::from_usize(self.dims().get(axis).copied().unwrap_or(1));
        self.sum_axis(axis, keepdim).map(|x| x / n)
    }

    /// Maximum along `axis`; panics if the axis is out of range.
    #[track_caller]
    pub fn max_axis(&self, axis: usize, keepdim: bool) -> Tensor<T> {
        or_panic(self.try_fold_axis(axis, keepdim, "max_axis", T::NEG_INFINITY, T::max))
    }

    /// Index of the maximum along `axis` for every other position (first on ties), in
    /// row-major order of the reduced shape.
    #[track_caller]
    pub fn argmax_axis(&self, axis: usize) -> Vec<usize> {
        let s = or_panic(self.split_at_axis(axis, "argmax_axis"));
        let data = self.data();
        let mut out = Vec::with_capacity(s.outer * s.inner);
        for o in 0..s.outer {
            for i in 0..s.inner {
                let mut best = 0;
                let mut best_val = T::NEG_INFINITY;
                for l in 0..s.len {
                    let v = data[(o * s.len + l) * s.inner + i];
                    if v > best_val || l == 0 {
                        best = l;
                        best_val = v;
                    }
                }
                out.push(best);
            }
        }
        out
    }
}

/// Index of the first maximum of a non-empty slice.
pub(crate) fn argmax_slice<T: Float>(xs: &[T]) -> usize {
    let mut best = 0;
    for (i, &x) in xs.iter().enumerate().skip(1) {
        if x > xs[best] {
            best = i;
        }
    }
    best
}

/// Σ over the rows of `data` (row-major, `row_len` wide) into `out` (`row_len` long):
/// what [`Tensor::sum_axis`]`(0, false)` computes for a matrix, the same bits, into a
/// buffer the caller keeps (a training step that should not allocate).
///
/// ```
/// let mut out = [9.0f32; 2];
/// ferrograd_tensor::sum_over_rows(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, &mut out);
/// assert_eq!(out, [9.0, 12.0]);
/// ```
#[track_caller]
pub fn sum_over_rows<T: Float>(data: &[T], row_len: usize, out: &mut [T]) {
    assert!(
        out.len() == row_len && (row_len == 0 || data.len().is_multiple_of(row_len)),
        "sum_over_rows: {} elements are not rows of {row_len} summing into {} outputs",
        data.len(),
        out.len()
    );
    out.fill(T::ZERO);
    fold_block(out, data, &|a, x| a + x);
}

/// `acc[i] ← f(acc[i], row[i])` for every row of `block` (rows of `acc.len()`), in order.
fn fold_block<T: Float, F: Fn(T, T) -> T>(acc: &mut [T], block: &[T], f: &F) {
    // Short rows (the bias gradient of a 2-class probe sums a [200, 2] tensor over axis
    // 0): the width a constant, so the accumulators live in registers and their chains
    // (one per output, each folding its inputs in the same order as `fold_rows`) overlap
    // instead of running one column after the other through memory.
    match acc.len() {
        0 => {} // no outputs
        1 => fold_short_rows::<T, F, 1>(acc, block, f),
        2 => fold_short_rows::<T, F, 2>(acc, block, f),
        3 => fold_short_rows::<T, F, 3>(acc, block, f),
        4 => fold_short_rows::<T, F, 4>(acc, block, f),
        5 => fold_short_rows::<T, F, 5>(acc, block, f),
        6 => fold_short_rows::<T, F, 6>(acc, block, f),
        7 => fold_short_rows::<T, F, 7>(acc, block, f),
        _ => fold_rows(acc, block, f),
    }
}

/// [`fold_rows`] for rows of `N < 8` elements (`acc.len() == N`), accumulating in an array.
fn fold_short_rows<T: Float, F: Fn(T, T) -> T, const N: usize>(acc: &mut [T], rows: &[T], f: &F) {
    let mut a: [T; N] = acc.try_into().expect("one accumulator per column");
    for row in rows.chunks_exact(N) {
        for (a, &x) in a.iter_mut().zip(row) {
            *a = f(*a, x);
        }
    }
    acc.copy_from_slice(&a);
}

/// `acc[i] ← f(acc[i], row[i])` for every row of `rows` (rows of `acc.len()`), in order.
/// Each element's fold runs in the same order in every copy, so the SIMD copies give the
/// same bits; they only run more elements at once (a bias gradient sums 100 rows of 500
/// here, which SSE2 did four at a time).
fn fold_rows<T: Float, F: Fn(T, T) -> T>(acc: &mut [T], rows: &[T], f: &F) {
    crate::dispatch_simd!(fold_rows_loop(acc, rows, f))
}

#[inline(always)]
fn fold_rows_loop<T: Float, F: Fn(T, T) -> T>(acc: &mut [T], rows: &[T], f: &F) {
    for row in rows.chunks_exact(acc.len().max(1)) {
        for (a, &x) in acc.iter_mut().zip(row) {
            *a = f(*a, x);
        }
    }
}

crate::simd_copies! {
    fn fold_rows_loop[T: Float, F: Fn(T, T) -> T](acc: &mut [T], rows: &[T], f: &F);
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    /// The dispatched (SIMD) copy of the row fold gives the baseline loop's bits, for a sum
    /// and a max, with a ragged width and a NaN in the data.
    #[test]
    fn row_fold_copies_match_the_baseline_bit_for_bit() {
        let (rows, width) = (37, 131);
        let mut data: Vec<f32> = (0..rows * width)
            .map(|i| ((i * 7919) % 1000) as f32 * 0.37 - 150.0)
            .collect();
        data[5 * width + 3] = f32::NAN;
        let add = |a: f32, b: f32| a + b;
        let (mut fast, mut plain) = (vec![0.5f32; width], vec![0.5f32; width]);
        super::fold_rows(&mut fast, &data, &add);
        super::fold_rows_loop(&mut plain, &data, &add);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&fast), bits(&plain));
        let (mut fast, mut plain) = (
            vec![f32::NEG_INFINITY; width],
            vec![f32::NEG_INFINITY; width],
        );
        super::fold_rows(&mut fast, &data, &f32::max);
        super::fold_rows_loop(&mut plain, &data, &f32::max);
        assert_eq!(bits(&fast), bits(&plain));
    }

    #[test]
    fn full_reductions() {
        let t = Tensor::from_vec(vec![1.0f64, 5.0, 3.0, 5.0], [2, 2]);
        assert_eq!(t.sum(), 14.0);
        assert_eq!(t.mean(), 3.5);
        assert_eq!(t.max(), 5.0);
        assert_eq!(t.argmax(), 1, "first of the tied maxima");
    }

    #[test]
    fn axis_reductions() {
        let t = Tensor::from_vec((0..6).map(f64::from).collect(), [2, 3]);
        assert_eq!(t.sum_axis(0, false).data(), &[3.0, 5.0, 7.0]);
        assert_eq!(t.sum_axis(1, false).data(), &[3.0, 12.0]);
        assert_eq!(t.sum_axis(1, true).dims(), &[2, 1]);
        assert_eq!(t.mean_axis(0, false).data(), &[1.5, 2.5, 3.5]);
        assert_eq!(t.max_axis(1, false).data(), &[2.0, 5.0]);
        assert_eq!(t.argmax_axis(1), vec![2, 2]);
        assert_eq!(t.argmax_axis(0), vec![1, 1, 1]);
        assert!(t.try_sum_axis(2, false).is_err());
    }

    #[test]
    fn middle_axis_of_rank3() {
        let t = Tensor::from_vec((0..24).map(f64::from).collect(), [2, 3, 4]);
        let s = t.sum_axis(1, false);
        assert_eq!(s.dims(), &[2, 4]);
        assert_eq!(s[[0, 0]], 0.0 + 4.0 + 8.0);
        assert_eq!(s[[1, 3]], 15.0 + 19.0 + 23.0);
    }

    /// The slice form gives `sum_axis(0)`'s bits for short and long rows, over whatever
    /// the output buffer held before.
    #[test]
    fn sum_over_rows_matches_sum_axis_0() {
        for width in [1usize, 2, 3, 7, 8, 10, 17] {
            let data: Vec<f32> = (0..37 * width)
                .map(|i| ((i * 7919 % 211) as f32) * 0.173 - 17.0)
                .collect();
            let want = Tensor::from_vec(data.clone(), [37, width]).sum_axis(0, false);
            let mut got = vec![f32::NAN; width];
            super::sum_over_rows(&data, width, &mut got);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(want.data()), "width {width}");
        }
    }

    #[test]
    fn short_rows_fold_like_long_rows() {
        // inner < 8 takes the short-row pass; compare with a fold written out by hand (same
        // order per output, so bit-for-bit equal), empty axes included.
        for dims in [
            [3usize, 200, 2],
            [2, 5, 1],
            [1, 0, 2],
            [4, 3, 7],
            [2, 3, 8],
            [0, 4, 2],
        ] {
            let n: usize = dims.iter().product();
            let data: Vec<f32> = (0..n)
                .map(|i| ((i * 37 % 101) as f32) * 0.37 - 11.0)
                .collect();
            let t = Tensor::from_vec(data.clone(), dims);
            for axis in 0..3 {
                let got = t.sum_axis(axis, false);
                let outer: usize = dims[..axis].iter().product();
                let inner: usize = dims[axis + 1..].iter().product();
                let mut want = vec![0.0f32; outer * inner];
                for o in 0..outer {
                    for l in 0..dims[axis] {
                        for i in 0..inner {
                            want[o * inner + i] += data[(o * dims[axis] + l) * inner + i];
                        }
                    }
                }
                assert_eq!(got.data(), &want[..], "dims {dims:?} axis {axis}");
            }
        }
    }
}
