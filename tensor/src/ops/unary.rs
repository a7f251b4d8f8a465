//! Elementwise maps of one tensor.

use crate::{Float, Tensor};

impl<T: Float> Tensor<T> {
    /// Applies `f` to every element, returning a new tensor of the same shape.
    pub fn map(&self, f: impl Fn(T) -> T) -> Self {
        Tensor::from_vec(self.data().iter().map(|&x| f(x)).collect(), self.shape())
    }

    /// Applies `f` to every element in place.
    pub fn map_inplace(&mut self, f: impl Fn(T) -> T) {
        for x in self.data_mut() {
            *x = f(*x);
        }
    }

    /// e^x.
    pub fn exp(&self) -> Self {
        self.map(T::exp)
    }

    /// Natural logarithm.
    pub fn ln(&self) -> Self {
        self.map(T::ln)
    }

    /// Square root.
    pub fn sqrt(&self) -> Self {
        self.map(T::sqrt)
    }

    /// x^n.
    pub fn powi(&self, n: i32) -> Self {
        self.map(|x| x.powi(n))
    }

    /// x².
    pub fn square(&self) -> Self {
        self.map(|x| x * x)
    }

    /// |x|.
    pub fn abs(&self) -> Self {
        self.map(T::abs)
    }

    /// max(x, 0).
    pub fn relu(&self) -> Self {
        // NOTE: written as a comparison (not `max`) so NaN propagates like PyTorch's relu.
        self.map(|x| if x < T::ZERO { T::ZERO } else { x })
    }

    /// 1 / (1 + e^-x), evaluated without overflow for large |x|.
    pub fn sigmoid(&self) -> Self {
        self.map(sigmoid)
    }

    /// Hyperbolic tangent.
    pub fn tanh(&self) -> Self {
        self.map(T::tanh)
    }

    /// -x.
    pub fn neg(&self) -> Self {
        self.map(|x| -x)
    }

    /// s·x.
    pub fn scale(&self, s: T) -> Self {
        self.map(|x| x * s)
    }

    /// x + s.
    pub fn add_scalar(&self, s: T) -> Self {
        self.map(|x| x + s)
    }
}

/// The logistic function, split by sign so e^x never overflows.
#[inline]
pub(crate) fn sigmoid<T: Float>(x: T) -> T {
    if x >= T::ZERO {
        T::ONE / (T::ONE + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::ONE + e)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn unary_values() {
        let t = Tensor::from_vec(vec![-2.0f64, 0.0, 3.0], [3]);
        assert_eq!(t.relu().data(), &[0.0, 0.0, 3.0]);
        assert_eq!(t.square().data(), &[4.0, 0.0, 9.0]);
        assert_eq!(t.neg().data(), &[2.0, 0.0, -3.0]);
        assert_eq!(t.scale(2.0).data(), &[-4.0, 0.0, 6.0]);
        assert_eq!(t.powi(3).data(), &[-8.0, 0.0, 27.0]);
        assert!((t.exp().data()[2] - 3f64.exp()).abs() < 1e-15);
        assert!((t.sigmoid().data()[1] - 0.5).abs() < 1e-15);
    }

    #[test]
    fn sigmoid_is_stable_at_extremes() {
        let t = Tensor::from_vec(vec![-1000.0f32, 1000.0], [2]);
        assert_eq!(t.sigmoid().data(), &[0.0, 1.0]);
    }

    #[test]
    fn relu_propagates_nan() {
        let t = Tensor::from_vec(vec![f32::NAN], [1]);
        assert!(t.relu().data()[0].is_nan());
    }
}
