//! Adam (`torch.optim.Adam`) and AdamW (`torch.optim.AdamW`).

use ferrograd_autograd::{Gradients, Var};
use ferrograd_tensor::{Float, Tensor};

use super::kernels::{adam_update, AdamStep};
use super::Optimizer;

/// Hyper-parameters of [`Adam`] and [`AdamW`], with PyTorch's defaults.
#[derive(Clone, Copy, Debug)]
pub struct AdamConfig {
    /// Learning rate (default 1e-3).
    pub lr: f64,
    /// Decay rates of the first and second moment estimates (default 0.9, 0.999).
    pub betas: (f64, f64),
    /// Added to the denominator for stability (default 1e-8).
    pub eps: f64,
    /// Adam: L2 term `wd·p` added to the gradient. AdamW: decoupled decay rate.
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

impl AdamConfig {
    /// Defaults with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        AdamConfig {
            lr,
            ..Default::default()
        }
    }

    /// Sets the weight decay.
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// Sets β₁, β₂.
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.betas = (beta1, beta2);
        self
    }

    /// Sets ε.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
}

/// First and second moments of one parameter.
struct Moments<T: Float> {
    m: Tensor<T>,
    v: Tensor<T>,
    step: i32,
}

/// The shared Adam update; `decoupled` selects AdamW's weight decay.
struct AdamCore<T: Float> {
    params: Vec<Var<T>>,
    config: AdamConfig,
    state: Vec<Option<Moments<T>>>,
    decoupled: bool,
}

impl<T: Float> AdamCore<T> {
    fn new(params: Vec<Var<T>>, config: AdamConfig, decoupled: bool) -> Self {
        let n = params.len();
        AdamCore {
            params,
            config,
            state: (0..n).map(|_| None).collect(),
            decoupled,
        }
    }

    /// PyTorch's single-tensor Adam, term for term:
    /// `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
    /// `p ← p − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε)`.
    ///
    /// One fused pass per parameter (AdamW's decay included), see `kernels::adam_update`.
    fn step(&mut self, grads: &Gradients<T>) {
        let c = self.config;
        let (b1, b2) = (T::from_f64(c.betas.0), T::from_f64(c.betas.1));
        let (lr, eps, wd) = (
            T::from_f64(c.lr),
            T::from_f64(c.eps),
            T::from_f64(c.weight_decay),
        );
        // Parameters stepped together share a step count: `powi` (a loop of multiplies,
        // a tenth of a small probe's step) runs once per distinct count, not per tensor.
        let mut corrections: Option<(i32, T, T)> = None;
        for (p, state) in self.params.iter().zip(&mut self.state) {
            let Some(grad) = grads.get(p) else { continue };
            let mut p = p.value_mut();
            let s = state.get_or_insert_with(|| Moments {
                m: grad.zeros_like(),
                v: grad.zeros_like(),
                step: 0,
            });
            s.step += 1;
            let (bias_correction1, bias_correction2_sqrt) = match corrections {
                Some((step, c1, c2)) if step == s.step => (c1, c2),
                _ => {
                    let c1 = T::ONE - b1.powi(s.step);
                    let c2 = (T::ONE - b2.powi(s.step)).sqrt();
                    corrections = Some((s.step, c1, c2));
                    (c1, c2)
                }
            };
            let k = AdamStep {
                beta1: b1,
                beta2: b2,
                eps,
                step_size: lr / bias_correction1,
                bias_correction2_sqrt,
                decay: if self.decoupled && c.weight_decay != 0.0 {
                    T::ONE - lr * wd
                } else {
                    T::ONE
                },
                l2: if self.decoupled { T::ZERO } else { wd },
            };
            adam_update(p.data_mut(), grad.data(), s.m.data_mut(), s.v.data_mut(), k);
        }
    }
}

/// Adam with L2 weight decay added to the gradient (`torch.optim.Adam`).
pub struct Adam<T: Float>(AdamCore<T>);

impl<T: Float> Adam<T> {
    /// An optimiser over `params`.
    pub fn new(params: Vec<Var<T>>, config: AdamConfig) -> Self {
        Adam(AdamCore::new(params, config, false))
    }
}

/// Adam with decoupled weight decay (`torch.optim.AdamW`; note PyTorch's AdamW default
/// `weight_decay` is 0.01 — here it is whatever the config says).
pub struct AdamW<T: Float>(AdamCore<T>);

impl<T: Float> AdamW<T> {
    /// An optimiser over `params`.
    pub fn new(params: Vec<Var<T>>, config: AdamConfig) -> Self {
        AdamW(AdamCore::new(params, config, true))
    }
}

macro_rules! impl_optimizer {
    ($t:ident) => {
        impl<T: Float> Optimizer<T> for $t<T> {
            fn step(&mut self, grads: &Gradients<T>) {
                self.0.step(grads)
            }
            fn learning_rate(&self) -> f64 {
                self.0.config.lr
            }
            fn set_learning_rate(&mut self, lr: f64) {
                self.0.config.lr = lr;
            }
        }
    };
}

impl_optimizer!(Adam);
impl_optimizer!(AdamW);
