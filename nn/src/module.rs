//! The [`Module`] trait: a forward function plus named parameters, as in `torch.nn`.

use ferrograd_autograd::Var;
use ferrograd_tensor::Float;

/// A layer or model: maps an input to an output and owns named parameters.
///
/// Names follow PyTorch (`encoder.0.weight`, `encoder.0.bias`, ...), so checkpoints and
/// optimiser groups line up with the course's notebooks.
pub trait Module<T: Float> {
    /// Computes the output for a batch `x` (rows are samples).
    fn forward(&self, x: &Var<T>) -> Var<T>;

    /// Every parameter with its dotted name, in registration order.
    fn named_parameters(&self) -> Vec<(String, Var<T>)>;

    /// Every parameter, in the order of [`named_parameters`](Self::named_parameters).
    fn parameters(&self) -> Vec<Var<T>> {
        self.named_parameters()
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    }

    /// Switches training-only behaviour (dropout, noise) on or off.
    fn set_training(&mut self, _training: bool) {}

    /// `model.train()`.
    fn train(&mut self) {
        self.set_training(true);
    }

    /// `model.eval()`.
    fn eval(&mut self) {
        self.set_training(false);
    }

    /// Total number of scalar parameters.
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(|p| p.value().numel()).sum()
    }
}

/// Prefixes every name with `prefix.` — how a container names its children's parameters.
pub fn prefixed<T: Float>(prefix: &str, params: Vec<(String, Var<T>)>) -> Vec<(String, Var<T>)> {
    params
        .into_iter()
        .map(|(name, p)| (format!("{prefix}.{name}"), p))
        .collect()
}

/// Saves every parameter of `module` under its PyTorch name as a safetensors file
/// (atomically: a temporary file, then a rename). The file opens in PyTorch with
/// `safetensors.torch.load_file` and feeds `model.load_state_dict`.
pub fn save_module<T: Float>(
    module: &dyn Module<T>,
    path: impl AsRef<std::path::Path>,
) -> Result<(), crate::checkpoint::CheckpointError> {
    let params = module.named_parameters();
    let values: Vec<_> = params.iter().map(|(_, p)| p.value()).collect();
    let named: Vec<(String, &ferrograd_tensor::Tensor<T>)> = params
        .iter()
        .zip(&values)
        .map(|((name, _), v)| (name.clone(), &**v))
        .collect();
    crate::checkpoint::save(path, &named)
}

/// Loads a checkpoint written by [`save_module`] (or by PyTorch's `save_file` of a
/// `state_dict`) into `module`'s parameters. Names, shapes and dtypes are checked first
/// and every mismatch is reported; on error no parameter is changed.
pub fn load_module<T: Float>(
    module: &dyn Module<T>,
    path: impl AsRef<std::path::Path>,
) -> Result<(), crate::checkpoint::CheckpointError> {
    let params = module.named_parameters();
    let expected: Vec<(String, ferrograd_tensor::Shape)> =
        params.iter().map(|(n, p)| (n.clone(), p.shape())).collect();
    let tensors = crate::checkpoint::load_checked(path, &expected)?;
    for ((_, p), t) in params.iter().zip(tensors) {
        p.set_value(t);
    }
    Ok(())
}
