//! Numerically stable softmax and log-softmax over the last axis.

use crate::{Float, Tensor};

impl<T: Float> Tensor<T> {
    /// softmax over the last axis: `exp(x - max) / sum(exp(x - max))` per row, so no
    /// exponent overflows even for logits in the thousands.
    pub fn softmax(&self) -> Tensor<T> {
        let mut out = self.clone();
        let n = self.dims().last().copied().unwrap_or(1);
        if n == 0 {
            return out;
        }
        for row in out.data_mut().chunks_exact_mut(n) {
            let max = row.iter().copied().fold(T::NEG_INFINITY, T::max);
            let mut total = T::ZERO;
            for x in row.iter_mut() {
                *x = (*x - max).exp();
                total += *x;
            }
            let inv = T::ONE / total;
            for x in row.iter_mut() {
                *x *= inv;
            }
        }
        out
    }

    /// log-softmax over the last axis: `x - max - ln(sum(exp(x - max)))` per row, exact
    /// where `softmax(x).ln()` would underflow to -inf.
    pub fn log_softmax(&self) -> Tensor<T> {
        let mut out = self.clone();
        let n = self.dims().last().copied().unwrap_or(1);
        if n == 0 {
            return out;
        }
        for row in out.data_mut().chunks_exact_mut(n) {
            let (max, total) = max_and_exp_sum(row);
            // (x - max) - ln(total), not x - (max + ln(total)): subtracting the max first
            // keeps the result exact for large logits, where max + ln(total) would round.
            let log_total = total.ln();
            for x in row.iter_mut() {
                *x = (*x - max) - log_total;
            }
        }
        out
    }

    /// `(log_softmax(x), softmax(x))` over the last axis from one exp per element, for a
    /// backward pass that needs the softmax (the log-softmax's gradient) without
    /// exponentiating the log-softmax again. Each is what the separate method returns.
    pub fn log_softmax_and_softmax(&self) -> (Tensor<T>, Tensor<T>) {
        let mut log_p = self.clone();
        let mut p = self.clone();
        let n = self.dims().last().copied().unwrap_or(1);
        if n == 0 {
            return (log_p, p);
        }
        for (lrow, prow) in log_p
            .data_mut()
            .chunks_exact_mut(n)
            .zip(p.data_mut().chunks_exact_mut(n))
        {
            let max = lrow.iter().copied().fold(T::NEG_INFINITY, T::max);
            let mut total = T::ZERO;
            for (l, e) in lrow.iter_mut().zip(prow.iter_mut()) {
                *l -= max;
                *e = l.exp();
                total += *e;
            }
            let (log_total, inv) = (total.ln(), T::ONE / total);
            for (l, e) in lrow.iter_mut().zip(prow.iter_mut()) {
                *l -= log_total;
                *e *= inv;
            }
        }
        (log_p, p)
    }
}

/// The row's maximum and `Σ exp(x − max)`.
fn max_and_exp_sum<T: Float>(row: &[T]) -> (T, T) {
    let max = row.iter().copied().fold(T::NEG_INFINITY, T::max);
    (max, row.iter().map(|&x| (x - max).exp()).sum())
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
    }
}
