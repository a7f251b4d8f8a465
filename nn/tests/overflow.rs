//! A layer whose weight shape cannot be counted panics naming the shape, instead of
//! building a 0-element weight labelled `[2^32, 2^32]` (what a wrapping count gave).

use ferrograd_nn::Linear;
use rand::{rngs::StdRng, SeedableRng};

#[test]
#[should_panic(expected = "shape [4294967296, 4294967296] is too large")]
fn linear_with_an_uncountable_weight_panics_naming_its_shape() {
    let mut rng = StdRng::seed_from_u64(0);
    let _ = Linear::<f32>::new(1 << 32, 1 << 32, true, &mut rng);
}
