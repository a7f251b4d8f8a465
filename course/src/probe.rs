//! The linear probe's gradient, written out by hand instead of recorded on a graph.
//!
//! The probe is softmax regression on frozen codes `x` (a batch of B rows), with the mean
//! cross-entropy against labels `t`:
//!
//! ```text
//! logits = x Wᵀ + b
//! g      = ∂L/∂logits = (softmax(logits) − onehot(t)) / B
//! ∂L/∂W  = gᵀ x          ∂L/∂b = Σ_rows g
//! ```
//!
//! Autograd gets the same numbers from `probe.forward(x).cross_entropy(t)` and a backward
//! pass, but a probe step is small — a 200×5 batch at latent 5 — and the synthetic sweep
//! runs about 400 000 of them: recording and walking the graph (its nodes, the topological
//! order, the map of gradients, some thirty small allocations) cost more than the
//! arithmetic. [`ProbeGradients`] makes the calls the graph would make — the fused
//! `linear`'s product onto the bias, the cross-entropy's [`SoftmaxParts`] and
//! [`softmax_minus_onehot`], the weight gradient's `beta = 0` product, the bias gradient's sum
//! over rows ([`sum_over_rows`]) — into buffers it keeps, so a step allocates nothing, and the gradients go to
//! the same Adam through a [`Gradients`] store. The test below checks the result against
//! the autograd loop bit for bit.

use ferrograd::autograd::Gradients;
use ferrograd::nn::Linear;
use ferrograd::tensor::gemm::{gemm, MatMut, MatRef};
use ferrograd::tensor::{softmax_minus_onehot, sum_over_rows, SoftmaxParts, Tensor};

/// The buffers of one probe's hand-written gradient, reused from step to step.
#[derive(Default)]
pub struct ProbeGradients {
    logits: Vec<f32>,
    parts: SoftmaxParts<f32>,
}

impl ProbeGradients {
    /// Empty buffers; the first step sizes them.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes ∂L/∂W and ∂L/∂b of the mean cross-entropy of `probe` on the batch `x`
    /// (`[rows, features]`) with labels `targets` into `grads`, for an optimiser step.
    ///
    /// Panics when the shapes disagree or a label is not a class, as the autograd ops do.
    #[track_caller]
    pub fn compute(
        &mut self,
        probe: &Linear<f32>,
        x: &Tensor<f32>,
        targets: &[usize],
        grads: &mut Gradients<f32>,
    ) {
        let bias = probe.bias.as_ref().expect("probe: Linear with a bias");
        let (w, b) = (probe.weight.value(), bias.value());
        let (rows, classes) = (x.rows(), w.rows());
        assert!(
            x.rank() == 2 && x.cols() == w.cols() && rows == targets.len(),
            "probe: batch {} with {} labels does not fit weights {} (expected [rows, {}] \
             and one label per row)",
            x.shape(),
            targets.len(),
            w.shape(),
            w.cols()
        );
        if let Some(&bad) = targets.iter().find(|&&t| t >= classes) {
            panic!("probe: label {bad} is out of range for {classes} classes");
        }

        // logits = x Wᵀ + b: the bias in every row (doubling the filled prefix, a few
        // copies instead of one per row), the product accumulated onto it.
        self.logits.clear();
        self.logits.extend_from_slice(b.data());
        while self.logits.len() < rows * classes {
            let more = self.logits.len().min(rows * classes - self.logits.len());
            self.logits.extend_from_within(..more);
        }
        self.logits.truncate(rows * classes);
        let logits = MatMut::new(&mut self.logits, rows, classes);
        gemm(1.0, x.as_mat(false), w.as_mat(true), 1.0, logits);
        drop((w, b));

        // g = (softmax(logits) − onehot(t)) / B, with softmax = exp(logits − max) / total.
        self.parts.compute(&self.logits, classes);
        let k = 1.0 / rows as f32;
        let g = &mut self.parts.exp;
        softmax_minus_onehot(g, classes, &self.parts.total, targets, k);

        // ∂L/∂W = gᵀ x, written over the previous step's values (beta = 0).
        let g = MatRef::new(g, rows, classes);
        let dw = grads.buffer_mut(&probe.weight);
        gemm(1.0, g.t(), x.as_mat(false), 0.0, dw.as_mat_mut());

        // ∂L/∂b = Σ_rows g.
        sum_over_rows(g.data, classes, grads.buffer_mut(bias).data_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrograd::autograd::Var;
    use ferrograd::nn::optim::{Adam, AdamConfig, Optimizer};
    use ferrograd::nn::{seeded_rng, Module};

    fn bits(t: &Tensor<f32>) -> Vec<u32> {
        t.data().iter().map(|v| v.to_bits()).collect()
    }

    /// Sixty Adam steps over three batches give the autograd loop's gradients and weights
    /// bit for bit: 2–4 classes (the skinny products on AVX-512), 10 classes (the blocked
    /// driver), features with and without a masked tail (37 and 500 are no multiples of
    /// 16), batches of 200, 17 and 3 rows.
    #[test]
    fn matches_the_autograd_step_bit_for_bit() {
        for (classes, features) in [(2, 5), (2, 37), (2, 500), (10, 96), (3, 20), (4, 64)] {
            let mut rng = seeded_rng(7);
            let x = Tensor::<f32>::randn([220, features], &mut rng);
            let labels: Vec<usize> = (0..220).map(|i| (i * 7 + i / 3) % classes).collect();
            let batches = [(0, 200), (200, 217), (217, 220)];
            let by_graph = Linear::<f32>::new(features, classes, true, &mut seeded_rng(1));
            let by_hand = Linear::<f32>::new(features, classes, true, &mut seeded_rng(1));
            let mut opt_graph = Adam::new(by_graph.parameters(), AdamConfig::new(1e-2));
            let mut opt_hand = Adam::new(by_hand.parameters(), AdamConfig::new(1e-2));
            let (mut g_graph, mut g_hand) = (Gradients::new(), Gradients::new());
            let mut buffers = ProbeGradients::new();
            for step in 0..60 {
                let (s, e) = batches[step % 3];
                let xb = x.narrow(0, s, e);
                let loss = by_graph
                    .forward(&Var::constant(xb.clone()))
                    .cross_entropy(&labels[s..e]);
                loss.backward_into(&mut g_graph);
                opt_graph.step(&g_graph);
                buffers.compute(&by_hand, &xb, &labels[s..e], &mut g_hand);
                opt_hand.step(&g_hand);
                for (p, q) in by_graph.parameters().iter().zip(by_hand.parameters()) {
                    let at = format!("{classes} classes, {features} features, step {step}");
                    assert_eq!(
                        bits(g_graph.get(p).unwrap()),
                        bits(g_hand.get(&q).unwrap()),
                        "{at}"
                    );
                    assert_eq!(bits(&p.value()), bits(&q.value()), "{at}");
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "probe: label 2 is out of range for 2 classes")]
    fn a_label_outside_the_classes_is_named() {
        let probe = Linear::<f32>::new(3, 2, true, &mut seeded_rng(0));
        let x = Tensor::<f32>::zeros([2, 3]);
        ProbeGradients::new().compute(&probe, &x, &[0, 2], &mut Gradients::new());
    }

    #[test]
    #[should_panic(expected = "probe: batch [2, 4] with 2 labels does not fit weights [2, 3]")]
    fn a_batch_of_the_wrong_width_is_named() {
        let probe = Linear::<f32>::new(3, 2, true, &mut seeded_rng(0));
        let x = Tensor::<f32>::zeros([2, 4]);
        ProbeGradients::new().compute(&probe, &x, &[0, 1], &mut Gradients::new());
    }
}
