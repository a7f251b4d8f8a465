//! Layers: [`Linear`], [`ReLU`], [`Identity`], and the [`Sequential`] container.

use ferrograd_autograd::Var;
use ferrograd_tensor::{Float, Tensor};
use rand::Rng;

use crate::module::{prefixed, Module};

/// `y = x Wᵀ + b` with `W` of shape `[out, in]`, as `torch.nn.Linear`.
///
/// Initialised like PyTorch: weight and bias uniform in ±1/√in (what
/// `kaiming_uniform_(a=√5)` reduces to).
///
/// ```
/// use ferrograd_nn::{Linear, Module};
/// use ferrograd_autograd::Var;
/// use ferrograd_tensor::Tensor;
/// let layer = Linear::<f32>::new(3, 2, true, &mut ferrograd_nn::seeded_rng(0));
/// let y = layer.forward(&Var::constant(Tensor::ones([4, 3])));
/// assert_eq!(y.dims(), vec![4, 2]);
/// ```
pub struct Linear<T: Float> {
    /// `[out, in]`.
    pub weight: Var<T>,
    /// `[out]`, if the layer has a bias.
    pub bias: Option<Var<T>>,
}

impl<T: Float> Linear<T> {
    /// A layer from `in_features` to `out_features` with PyTorch's default init.
    pub fn new<R: Rng + ?Sized>(
        in_features: usize,
        out_features: usize,
        bias: bool,
        rng: &mut R,
    ) -> Self {
        let bound = 1.0 / (in_features.max(1) as f64).sqrt();
        let weight = Var::leaf(Tensor::uniform(
            [out_features, in_features],
            -bound,
            bound,
            rng,
        ));
        let bias = bias.then(|| Var::leaf(Tensor::uniform([out_features], -bound, bound, rng)));
        Linear { weight, bias }
    }

    /// A layer with given weights (`[out, in]`) and optional bias (`[out]`).
    #[track_caller]
    pub fn from_tensors(weight: Tensor<T>, bias: Option<Tensor<T>>) -> Self {
        assert!(
            weight.rank() == 2,
            "Linear: weight must be [out, in], got {}",
            weight.shape()
        );
        if let Some(b) = &bias {
            assert!(
                b.dims() == [weight.rows()],
                "Linear: bias {} does not fit weight {}",
                b.shape(),
                weight.shape()
            );
        }
        Linear {
            weight: Var::leaf(weight),
            bias: bias.map(Var::leaf),
        }
    }

    /// Input width.
    pub fn in_features(&self) -> usize {
        self.weight.dims()[1]
    }

    /// Output width.
    pub fn out_features(&self) -> usize {
        self.weight.dims()[0]
    }
}

impl<T: Float> Module<T> for Linear<T> {
    fn forward(&self, x: &Var<T>) -> Var<T> {
        x.linear(&self.weight, self.bias.as_ref())
    }

    fn named_parameters(&self) -> Vec<(String, Var<T>)> {
        let mut params = vec![("weight".to_string(), self.weight.clone())];
        if let Some(b) = &self.bias {
            params.push(("bias".to_string(), b.clone()));
        }
        params
    }
}

/// `max(x, 0)`, as `torch.nn.ReLU`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReLU;

impl<T: Float> Module<T> for ReLU {
    fn forward(&self, x: &Var<T>) -> Var<T> {
        x.relu()
    }

    fn named_parameters(&self) -> Vec<(String, Var<T>)> {
        Vec::new()
    }
}

/// Returns its input unchanged, as `torch.nn.Identity`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Identity;

impl<T: Float> Module<T> for Identity {
    fn forward(&self, x: &Var<T>) -> Var<T> {
        x.clone()
    }

    fn named_parameters(&self) -> Vec<(String, Var<T>)> {
        Vec::new()
    }
}

/// Applies its layers in order; layer `i`'s parameters are named `i.<name>`.
#[derive(Default)]
pub struct Sequential<T: Float> {
    layers: Vec<Box<dyn Module<T>>>,
}

impl<T: Float> Sequential<T> {
    /// An empty container.
    pub fn new() -> Self {
        Sequential { layers: Vec::new() }
    }

    /// Appends a layer (builder style).
    pub fn with(mut self, layer: impl Module<T> + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Appends a boxed layer.
    pub fn push(&mut self, layer: Box<dyn Module<T>>) {
        self.layers.push(layer);
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// True when there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl<T: Float> Module<T> for Sequential<T> {
    fn forward(&self, x: &Var<T>) -> Var<T> {
        let mut h = x.clone();
        for layer in &self.layers {
            h = layer.forward(&h);
        }
        h
    }

    fn named_parameters(&self) -> Vec<(String, Var<T>)> {
        self.layers
            .iter()
            .enumerate()
            .flat_map(|(i, l)| prefixed(&i.to_string(), l.named_parameters()))
            .collect()
    }

    fn set_training(&mut self, training: bool) {
        for l in &mut self.layers {
            l.set_training(training);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeded_rng;

    #[test]
    fn linear_init_is_within_pytorch_bounds_and_seeded() {
        let a = Linear::<f64>::new(784, 20, true, &mut seeded_rng(1));
        let b = Linear::<f64>::new(784, 20, true, &mut seeded_rng(1));
        let bound = 1.0 / 784f64.sqrt();
        assert!(a.weight.value().data().iter().all(|w| w.abs() <= bound));
        assert!(a
            .weight
            .value()
            .data()
            .iter()
            .any(|w| w.abs() > 0.9 * bound));
        assert_eq!(*a.weight.value(), *b.weight.value());
        assert_eq!(a.weight.dims(), vec![20, 784]);
    }

    #[test]
    fn sequential_names_like_pytorch() {
        let mut rng = seeded_rng(0);
        let net = Sequential::<f32>::new()
            .with(Linear::new(4, 3, true, &mut rng))
            .with(ReLU)
            .with(Linear::new(3, 2, false, &mut rng));
        let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["0.weight", "0.bias", "2.weight"]);
        assert_eq!(net.num_parameters(), 12 + 3 + 6);
        let y = net.forward(&Var::constant(Tensor::ones([5, 4])));
        assert_eq!(y.dims(), vec![5, 2]);
    }
}
