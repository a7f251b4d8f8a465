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
            let max = row.iter().copied().fold(T::NEG_INFINITY, T::max);
            let total: T = row.iter().map(|&x| (x - max).exp()).sum();
            // (x - max) - ln(total), not x - (max + ln(total)): subtracting the max first
            // keeps the result exact for large logits, where max + ln(total) would round.
            let log_total = total.ln();
            for x in row.iter_mut() {
                *x = (*x - max) - log_total;
            }
        }
        out
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

    #[test]
    fn log_softmax_is_finite_where_softmax_underflows() {
        let t = Tensor::from_vec(vec![0.0f64, 2000.0], [1, 2]);
        assert_eq!(t.softmax().data()[0], 0.0);
        assert_eq!(t.log_softmax().data()[0], -2000.0);
    }
}
