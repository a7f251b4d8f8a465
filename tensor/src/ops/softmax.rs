//! Numerically stable softmax and log-softmax over the last axis.
//!
//! Every one of them is assembled from the same [`SoftmaxParts`]: per row the max,
//! e = exp(x − max) and total = Σe. Then softmax = e / total and
//! log_softmax = (x − max) − ln(total); subtracting the max first means no exponent
//! overflows, even for logits in the thousands.

use crate::{exp_in_place, ln_in_place, Float, Tensor};

/// The pieces a numerically stable softmax is made of, per row of the last axis:
/// `max`, `exp` = exp(x − max) for every element, and `total` = Σ exp.
///
/// softmax = `exp / total` and log_softmax = `(x − max) − ln(total)`; fused ops (such as
/// cross-entropy) use the pieces directly, so that nothing is exponentiated twice.
///
/// ```
/// use ferrograd_tensor::Tensor;
///
/// let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 3.0], [2, 2]);
/// let parts = x.softmax_parts();
/// assert_eq!(parts.max, [2.0, 3.0]);
/// assert_eq!(parts.exp, [(-1.0f64).exp(), 1.0, 1.0, 1.0]);
/// assert_eq!(parts.total, [1.0 + (-1.0f64).exp(), 2.0]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SoftmaxParts<T> {
    /// Each row's largest element.
    pub max: Vec<T>,
    /// exp(x − max) for every element, row-major like the tensor's data.
    pub exp: Vec<T>,
    /// Each row's Σ exp(x − max): at least 1 (the max's own term) for a finite max.
    pub total: Vec<T>,
}

impl<T> Default for SoftmaxParts<T> {
    fn default() -> Self {
        SoftmaxParts {
            max: Vec::new(),
            exp: Vec::new(),
            total: Vec::new(),
        }
    }
}

impl<T: Float> SoftmaxParts<T> {
    /// Recomputes the parts of the `row_len`-wide rows of `x` in place, reusing the
    /// vectors' memory: the form for a training loop that should not allocate per step.
    /// [`Tensor::softmax_parts`] is this on fresh vectors, so both give the same bits.
    ///
    /// ```
    /// use ferrograd_tensor::{SoftmaxParts, Tensor};
    ///
    /// let x = [1.0f32, 2.0, 3.0, 3.0];
    /// let mut parts = SoftmaxParts::default();
    /// parts.compute(&x, 2);
    /// assert_eq!(parts, Tensor::from_vec(x.to_vec(), [2, 2]).softmax_parts());
    /// ```
    #[track_caller]
    pub fn compute(&mut self, x: &[T], row_len: usize) {
        let n = row_len.max(1);
        assert!(
            x.len().is_multiple_of(n),
            "SoftmaxParts::compute: {} elements are not rows of {n}",
            x.len()
        );
        let rows = x.len() / n;
        let SoftmaxParts { max, exp, total } = self;
        max.resize(rows, T::ZERO);
        exp.resize(x.len(), T::ZERO);
        total.resize(rows, T::ZERO);
        // A classifier's rows are a handful of logits (a binary probe: 2): with the width a
        // constant, each row's loops unroll instead of paying loop overhead per row.
        with_row_len!(n, |n| shift_by_row_max(x, n, max, exp));
        // One call for all rows: rows are often a few elements wide, which alone would
        // never fill a vector register.
        exp_in_place(exp);
        with_row_len!(n, |n| sum_rows(exp, n, total));
    }
}

impl<T: Float> Tensor<T> {
    /// The [`SoftmaxParts`] of every row of the last axis (a scalar is one row of one).
    pub fn softmax_parts(&self) -> SoftmaxParts<T> {
        let mut parts = SoftmaxParts::default();
        parts.compute(self.data(), self.row_len());
        parts
    }

    /// softmax over the last axis: `exp(x - max) / sum(exp(x - max))` per row, so no
    /// exponent overflows even for logits in the thousands.
    pub fn softmax(&self) -> Tensor<T> {
        let SoftmaxParts { exp, total, .. } = self.softmax_parts();
        Tensor::from_vec(normalized(exp, &total, self.row_len()), self.shape())
    }

    /// log-softmax over the last axis: `x - max - ln(sum(exp(x - max)))` per row, exact
    /// where `softmax(x).ln()` would underflow to -inf.
    pub fn log_softmax(&self) -> Tensor<T> {
        let SoftmaxParts { max, total, .. } = self.softmax_parts();
        self.minus_max_and_log_total(&max, total)
    }

    /// `(log_softmax(x), softmax(x))` over the last axis from one exp per element, for a
    /// backward pass that needs the softmax (the log-softmax's gradient) without
    /// exponentiating the log-softmax again. Each is what the separate method returns.
    pub fn log_softmax_and_softmax(&self) -> (Tensor<T>, Tensor<T>) {
        let SoftmaxParts { max, exp, total } = self.softmax_parts();
        let p = Tensor::from_vec(normalized(exp, &total, self.row_len()), self.shape());
        (self.minus_max_and_log_total(&max, total), p)
    }

    /// Elements per row of the last axis (rows of 0 are treated as rows of 1: no rows).
    fn row_len(&self) -> usize {
        self.dims().last().copied().unwrap_or(1).max(1)
    }

    /// `(x − max) − ln(total)` per row. Subtracting the max first, not x − (max +
    /// ln(total)), keeps the result exact for large logits, where max + ln(total) would
    /// round.
    fn minus_max_and_log_total(&self, max: &[T], mut total: Vec<T>) -> Tensor<T> {
        ln_in_place(&mut total);
        let mut out = self.clone();
        let rows = out.data_mut().chunks_exact_mut(self.row_len());
        for ((row, &max), &log_total) in rows.zip(max).zip(&total) {
            row.iter_mut().for_each(|x| *x = (*x - max) - log_total);
        }
        out
    }
}

/// Runs `$body` with `$n` bound to a literal for the common narrow rows (2 classes, 10
/// classes), so that the `#[inline(always)]` row helpers below are compiled for that
/// constant width, and with the run-time width otherwise.
macro_rules! with_row_len {
    ($len:expr, |$n:ident| $body:expr) => {
        match $len {
            2 => {
                let $n = 2;
                $body
            }
            10 => {
                let $n = 10;
                $body
            }
            $n => $body,
        }
    };
}
pub(crate) use with_row_len;

/// Per `n`-wide row of `x`: its max (folded from −∞ with `max`, which skips NaN) into
/// `max`, and `x − max` into `shifted`.
#[inline(always)]
fn shift_by_row_max<T: Float>(x: &[T], n: usize, max: &mut [T], shifted: &mut [T]) {
    let rows = x.chunks_exact(n).zip(shifted.chunks_exact_mut(n));
    for ((row, out), m) in rows.zip(max) {
        *m = row.iter().copied().fold(T::NEG_INFINITY, T::max);
        for (o, &v) in out.iter_mut().zip(row) {
            *o = v - *m;
        }
    }
}

/// Σ of each `n`-wide row of `x`, left to right, into `total`.
#[inline(always)]
fn sum_rows<T: Float>(x: &[T], n: usize, total: &mut [T]) {
    for (row, t) in x.chunks_exact(n).zip(total) {
        *t = row.iter().copied().sum();
    }
}

/// Each row (`n` wide) of `exp` times 1/its total.
fn normalized<T: Float>(mut exp: Vec<T>, total: &[T], n: usize) -> Vec<T> {
    normalize_rows(&mut exp, n, total, T::ONE);
    exp
}

/// Multiplies each `row_len`-wide row `r` of `data` by `(1 / totals[r]) · k`, that factor
/// rounded once per row and then applied to every element: softmax is `exp` normalised
/// with `k = 1`, the cross-entropy gradient with `k = 1/batch`.
///
/// ```
/// let mut g = vec![1.0f32, 2.0, 3.0, 4.0];
/// ferrograd_tensor::normalize_rows(&mut g, 2, &[2.0, 0.5], 10.0);
/// assert_eq!(g, [5.0, 10.0, 60.0, 80.0]);
/// ```
pub fn normalize_rows<T: Float>(data: &mut [T], row_len: usize, totals: &[T], k: T) {
    #[inline(always)]
    fn run<T: Float>(data: &mut [T], n: usize, totals: &[T], k: T) {
        for (row, &total) in data.chunks_exact_mut(n).zip(totals) {
            let s = (T::ONE / total) * k;
            row.iter_mut().for_each(|x| *x *= s);
        }
    }
    with_row_len!(row_len.max(1), |n| run(data, n, totals, k));
}

/// Turns the `exp` of [`SoftmaxParts`] (rows of `classes`) into the cross-entropy's
/// gradient with respect to the logits, times `k`: row `r` becomes
/// `(softmax(x_r) − onehot(targets[r])) · k`, softmax being `exp / total`
/// ([`normalize_rows`]). The mean cross-entropy's backward pass is this with
/// `k = upstream gradient / batch`.
///
/// Panics if a target is not below `classes`.
///
/// ```
/// let mut g = vec![1.0f32, 3.0, 2.0, 2.0]; // exp of two rows, totals 4 and 4
/// ferrograd_tensor::softmax_minus_onehot(&mut g, 2, &[4.0, 4.0], &[1, 0], 0.5);
/// assert_eq!(g, [0.125, -0.125, -0.25, 0.25]);
/// ```
pub fn softmax_minus_onehot<T: Float>(
    exp: &mut [T],
    classes: usize,
    totals: &[T],
    targets: &[usize],
    k: T,
) {
    normalize_rows(exp, classes, totals, k);
    for (r, &t) in targets.iter().enumerate() {
        exp[r * classes + t] -= k;
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn rows_sum_to_one_and_survive_huge_logits() {
        let t = Tensor::from_vec(vec![1000.0f32, 1001.0, 1002.0, -5.0, 0.0, 5.0], [2, 3]);
        let s = t.softmax();
        for r in 0..2 {
            let total: f32 = s.row(r).iter().sum();
            assert!((total - 1.0).abs() < 1e-6);
        }
        assert!(s.data().iter().all(|x| x.is_finite()));
        let ls = t.log_softmax();
        for (l, p) in ls.data().iter().zip(s.data()) {
            assert!((l.exp() - p).abs() < 1e-6);
        }
    }

    /// The widths compiled as constants (2 and 10 classes) give the bits of a plain row by
    /// row computation, as every other width does, NaN and −∞ rows included.
    #[test]
    fn constant_width_rows_match_a_row_by_row_computation() {
        for n in [1usize, 2, 3, 9, 10, 11] {
            let rows = 7;
            let mut data: Vec<f32> = (0..rows * n)
                .map(|i| ((i * 7919) % 103) as f32 * 0.61 - 30.0)
                .collect();
            data[n] = f32::NAN;
            data[2 * n..3 * n].fill(f32::NEG_INFINITY);
            let parts = Tensor::from_vec(data.clone(), [rows, n]).softmax_parts();
            let mut scaled = parts.exp.clone();
            super::normalize_rows(&mut scaled, n, &parts.total, 3.0);
            for (r, row) in data.chunks_exact(n).enumerate() {
                let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut e: Vec<f32> = row.iter().map(|&x| x - max).collect();
                crate::exp_in_place(&mut e);
                let total: f32 = e.iter().copied().sum();
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(parts.max[r].to_bits(), max.to_bits(), "n {n} row {r}");
                assert_eq!(
                    bits(&parts.exp[r * n..(r + 1) * n]),
                    bits(&e),
                    "n {n} row {r}"
                );
                assert_eq!(parts.total[r].to_bits(), total.to_bits(), "n {n} row {r}");
                let s = (1.0 / total) * 3.0;
                let want: Vec<f32> = e.iter().map(|&x| x * s).collect();
                assert_eq!(
                    bits(&scaled[r * n..(r + 1) * n]),
                    bits(&want),
                    "n {n} row {r}"
                );
            }
        }
    }

    #[test]
    fn log_softmax_is_finite_where_softmax_underflows() {
        let t = Tensor::from_vec(vec![0.0f64, 2000.0], [1, 2]);
        assert_eq!(t.softmax().data()[0], 0.0);
        assert_eq!(t.log_softmax().data()[0], -2000.0);
    }

    #[test]
    fn fused_log_softmax_and_softmax_match_the_separate_ones() {
        let t = Tensor::from_vec(vec![1000.0f64, 1001.0, 1002.0, -5.0, 0.0, 5.0], [2, 3]);
        let (l, p) = t.log_softmax_and_softmax();
        assert_eq!(l, t.log_softmax(), "bit for bit");
        assert_eq!(p, t.softmax(), "bit for bit");
        // f32 takes the vectorised exp and ln; all three still share one computation.
        let t = Tensor::from_vec(
            (0..300).map(|i| (i as f32 * 0.7).sin() * 9.0).collect(),
            [20, 15],
        );
        let (l, p) = t.log_softmax_and_softmax();
        assert_eq!(l, t.log_softmax(), "bit for bit");
        assert_eq!(p, t.softmax(), "bit for bit");
    }

    /// The f32 results stay within a few ulps of the same formulas with libm's scalar
    /// `expf`/`logf` (what they were before the vectorised exp).
    #[test]
    fn f32_matches_libm_within_a_few_ulps() {
        let x: Vec<f32> = (0..300).map(|i| (i as f32 * 0.3).cos() * 20.0).collect();
        let (l, p) = Tensor::from_vec(x.clone(), [30, 10]).log_softmax_and_softmax();
        for (r, row) in x.chunks_exact(10).enumerate() {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let total: f32 = row.iter().map(|&v| (v - max).exp()).sum();
            for (c, &v) in row.iter().enumerate() {
                let (l_ref, p_ref) = ((v - max) - total.ln(), (v - max).exp() / total);
                let (l, p) = (l.data()[r * 10 + c], p.data()[r * 10 + c]);
                assert!((l - l_ref).abs() <= 4.0 * f32::EPSILON * l_ref.abs().max(1.0));
                assert!(
                    (p - p_ref).abs() <= 4.0 * f32::EPSILON * p_ref,
                    "{p} vs {p_ref}"
                );
            }
        }
    }

    #[test]
    fn empty_rows_and_scalars() {
        let t = Tensor::<f32>::zeros([3, 0]);
        assert_eq!(t.softmax(), t);
        assert_eq!(t.log_softmax(), t);
        assert_eq!(Tensor::scalar(5.0f32).softmax().item(), 1.0);
        assert_eq!(Tensor::scalar(5.0f32).log_softmax().item(), 0.0);
    }
}
