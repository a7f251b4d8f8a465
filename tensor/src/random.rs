//! Seeded random tensors. Every function takes the generator explicitly, so one seed
//! threaded through a program makes the whole run reproducible.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal, Uniform};

use crate::{Float, Shape, Tensor};

impl<T: Float> Tensor<T> {
    /// Samples from the standard normal N(0, 1) (drawn in f64, then rounded, so an f32 and
    /// an f64 tensor from the same seed agree to f32 precision).
    #[track_caller]
    pub fn randn<R: Rng + ?Sized>(shape: impl Into<Shape>, rng: &mut R) -> Self {
        Self::from_fn(shape, |_| {
            let x: f64 = StandardNormal.sample(rng);
            T::from_f64(x)
        })
    }

    /// Samples uniformly from [0, 1).
    #[track_caller]
    pub fn rand<R: Rng + ?Sized>(shape: impl Into<Shape>, rng: &mut R) -> Self {
        Self::from_fn(shape, |_| T::from_f64(rng.random::<f64>()))
    }

    /// Samples uniformly from [low, high). Panics unless `low < high`.
    #[track_caller]
    pub fn uniform<R: Rng + ?Sized>(
        shape: impl Into<Shape>,
        low: f64,
        high: f64,
        rng: &mut R,
    ) -> Self {
        let dist = Uniform::new(low, high)
            .unwrap_or_else(|e| panic!("uniform: invalid range [{low}, {high}): {e}"));
        Self::from_fn(shape, |_| T::from_f64(dist.sample(rng)))
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use crate::Tensor;

    #[test]
    fn same_seed_same_values() {
        let a = Tensor::<f32>::randn([3, 4], &mut StdRng::seed_from_u64(7));
        let b = Tensor::<f32>::randn([3, 4], &mut StdRng::seed_from_u64(7));
        assert_eq!(a, b);
    }

    #[test]
    fn moments_are_roughly_right() {
        let mut rng = StdRng::seed_from_u64(1);
        let n = Tensor::<f64>::randn([20000], &mut rng);
        assert!(n.mean().abs() < 0.03);
        let u = Tensor::<f64>::uniform([20000], -2.0, 2.0, &mut rng);
        assert!(u.data().iter().all(|&x| (-2.0..2.0).contains(&x)));
        assert!(u.mean().abs() < 0.05);
    }
}
