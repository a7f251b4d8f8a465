//! The differentiable ops. Each file holds one op (or a family of one-line elementwise
//! ops): its forward, its backward rule with the derivative written out, and its tests.
//!
//! Every rule follows the same pattern: read `ctx.grad_out` (∂L/∂output), compute
//! ∂L/∂input for each input that [`wants`](crate::GradSink::wants) one, and
//! [`add`](crate::GradSink::add) it. Rules never handle broadcasting or accumulation:
//! the sink sums a gradient back to the input's shape and adds it to what is there.

mod arith;
mod concat;
mod cross_entropy;
mod elementwise;
mod index_select;
mod linear;
mod log_softmax;
mod mask;
mod matmul;
mod max;
mod mse;
mod narrow;
mod reshape;
mod softmax;
mod sum;
mod transpose;

pub use mse::Reduction;

#[cfg(test)]
pub(crate) mod test_util {
    use ferrograd_tensor::Tensor;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// Standard-normal test input with a fixed seed.
    pub fn randn(shape: &[usize], seed: u64) -> Tensor<f64> {
        Tensor::randn(shape, &mut StdRng::seed_from_u64(seed))
    }

    /// Uniform input in [low, high), for ops whose domain excludes zero or a kink.
    pub fn uniform(shape: &[usize], low: f64, high: f64, seed: u64) -> Tensor<f64> {
        Tensor::uniform(shape, low, high, &mut StdRng::seed_from_u64(seed))
    }
}
