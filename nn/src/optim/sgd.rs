//! Stochastic gradient descent, `torch.optim.SGD`.

use ferrograd_autograd::{Gradients, Var};
use ferrograd_tensor::{Float, Tensor};

use super::kernels::{sgd_update, SgdStep};
use super::Optimizer;

/// Hyper-parameters of [`Sgd`], with PyTorch's defaults (all zero / false but `lr`).
#[derive(Clone, Copy, Debug)]
pub struct SgdConfig {
    /// Learning rate.
    pub lr: f64,
    /// Momentum factor μ.
    pub momentum: f64,
    /// Dampening τ of the momentum update.
    pub dampening: f64,
    /// L2 weight decay: adds `wd·p` to the gradient, i.e. minimises `loss + (wd/2)‖p‖²`.
    pub weight_decay: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
}

impl SgdConfig {
    /// Plain SGD with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        SgdConfig {
            lr,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
        }
    }

    /// Sets the momentum.
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }

    /// Sets the dampening.
    pub fn dampening(mut self, dampening: f64) -> Self {
        self.dampening = dampening;
        self
    }

    /// Sets the weight decay.
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// Turns Nesterov momentum on.
    pub fn nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
        self
    }
}

/// SGD with momentum, dampening, Nesterov and L2 weight decay:
///
/// ```text
/// g ← ∇ + wd·p
/// b ← g (first step) | μ·b + (1−τ)·g
/// g ← g + μ·b (Nesterov) | b
/// p ← p − lr·g
/// ```
pub struct Sgd<T: Float> {
    params: Vec<Var<T>>,
    config: SgdConfig,
    momentum_buffers: Vec<Option<Tensor<T>>>,
}

impl<T: Float> Sgd<T> {
    /// An optimiser over `params`. Panics on Nesterov without momentum or with dampening,
    /// which PyTorch rejects too.
    #[track_caller]
    pub fn new(params: Vec<Var<T>>, config: SgdConfig) -> Self {
        assert!(
            !config.nesterov || (config.momentum > 0.0 && config.dampening == 0.0),
            "SGD: Nesterov momentum requires momentum > 0 and dampening = 0 (got momentum {}, dampening {})",
            config.momentum,
            config.dampening
        );
        let n = params.len();
        Sgd {
            params,
            config,
            momentum_buffers: vec![None; n],
        }
    }
}

impl<T: Float> Optimizer<T> for Sgd<T> {
    fn step(&mut self, grads: &Gradients<T>) {
        let c = self.config;
        let (lr, wd, mu) = (
            T::from_f64(c.lr),
            T::from_f64(c.weight_decay),
            T::from_f64(c.momentum),
        );
        let damp = T::from_f64(1.0 - c.dampening);
        for (p, buf) in self.params.iter().zip(&mut self.momentum_buffers) {
            let Some(grad) = grads.get(p) else { continue };
            let mut p = p.value_mut();
            let momentum = c.momentum != 0.0;
            // The buffer starts as the first step's gradient; the fused loop writes it,
            // so it only needs the right size here.
            let first = momentum && buf.is_none();
            let b: &mut [T] = match buf {
                Some(b) if momentum => b.data_mut(),
                None if momentum => buf.insert(grad.zeros_like()).data_mut(),
                _ => &mut [],
            };
            let k = SgdStep {
                lr,
                wd,
                weight_decay: c.weight_decay != 0.0,
                mu,
                damp,
                momentum,
                nesterov: c.nesterov,
                first,
            };
            sgd_update(p.data_mut(), grad.data(), b, k);
        }
    }

    fn learning_rate(&self) -> f64 {
        self.config.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.config.lr = lr;
    }
}
