//! The backward pass: order the graph, run each rule once, accumulate into a store.

use std::collections::{HashMap, HashSet};

use ferrograd_tensor::gemm::{gemm, MatRef};
use ferrograd_tensor::{Float, Tensor};

use crate::var::{BackwardCtx, Var};

// ANCHOR: gradients
/// The gradients of one backward pass, keyed by [`Var::id`].
///
/// Returned by [`Var::backward`] instead of being stored on the parameters (candle's
/// choice): a fresh store per pass means a stale or doubly-accumulated gradient cannot
/// exist, and there is no `zero_grad` to forget. It holds the leaves that require a
/// gradient; intermediate gradients are dropped as soon as they have been propagated.
pub struct Gradients<T: Float> {
    map: HashMap<usize, Tensor<T>>,
}

impl<T: Float> Gradients<T> {
    /// ∂loss/∂var, or `None` if `var` did not influence the loss (or needs no gradient).
    pub fn get(&self, var: &Var<T>) -> Option<&Tensor<T>> {
        self.map.get(&var.id())
    }

    // ANCHOR_END: gradients

    /// ∂loss/∂var, with zeros of `var`'s shape when it did not influence the loss.
    pub fn get_or_zeros(&self, var: &Var<T>) -> Tensor<T> {
        self.get(var)
            .cloned()
            .unwrap_or_else(|| Tensor::zeros(var.shape()))
    }

    /// The gradient buffer of `var`, zeros of its shape the first time: for gradients
    /// computed by hand (a fused training step) and handed to an optimiser, written into
    /// the same buffer every step instead of a new one.
    ///
    /// ```
    /// use ferrograd_autograd::{Gradients, Var};
    /// use ferrograd_tensor::Tensor;
    ///
    /// let w = Var::leaf(Tensor::from_vec(vec![1.0f64, 2.0], [2]));
    /// let mut grads = Gradients::new();
    /// grads.buffer_mut(&w).data_mut().copy_from_slice(&[0.5, -0.5]); // ∂L/∂w, by hand
    /// assert_eq!(grads.get(&w).unwrap().data(), &[0.5, -0.5]);
    /// ```
    pub fn buffer_mut(&mut self, var: &Var<T>) -> &mut Tensor<T> {
        self.map
            .entry(var.id())
            .or_insert_with(|| Tensor::zeros(var.shape()))
    }

    /// Takes the gradient out of the store.
    pub fn remove(&mut self, var: &Var<T>) -> Option<Tensor<T>> {
        self.map.remove(&var.id())
    }

    /// Number of gradients held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no leaf received a gradient.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// An empty store, for [`Var::backward_into`] to fill.
    pub fn new() -> Self {
        Gradients {
            map: HashMap::new(),
        }
    }
}

impl<T: Float> Default for Gradients<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> std::fmt::Debug for Gradients<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<_> = self
            .map
            .iter()
            .map(|(id, g)| (*id, g.shape().clone()))
            .collect();
        ids.sort_by_key(|(id, _)| *id);
        f.debug_map().entries(ids).finish()
    }
}

// ANCHOR: grad_sink
/// Where backward rules put the gradients of an op's inputs.
///
/// Every contribution is *added* (a value used twice gets both), and is first summed back
/// to the input's shape — the one place in the engine where broadcasting is undone, so no
/// rule has to think about it.
pub struct GradSink<'a, T: Float> {
    inputs: &'a [Var<T>],
    store: &'a mut HashMap<usize, Tensor<T>>,
    /// Buffers of the previous pass's gradients, by leaf id (see [`Var::backward_into`]).
    spare: &'a mut HashMap<usize, Tensor<T>>,
}

impl<T: Float> GradSink<'_, T> {
    /// Whether input `i` needs a gradient; rules skip the work when it does not.
    pub fn wants(&self, i: usize) -> bool {
        self.inputs[i].requires_grad()
    }

    /// Adds `grad` (of the op's output shape or the input's) to input `i`'s gradient.
    pub fn add(&mut self, i: usize, grad: Tensor<T>) {
        let input = &self.inputs[i];
        if !input.requires_grad() {
            return;
        }
        let shape = input.shape();
        let grad = if grad.shape() == &shape {
            grad
        } else {
            grad.sum_to_shape(&shape)
        };
        match self.store.get_mut(&input.id()) {
            Some(acc) => acc.add_scaled_(T::ONE, &grad),
            None => {
                self.store.insert(input.id(), grad);
            }
        }
    }

    // ANCHOR_END: grad_sink

    /// Adds `alpha * a @ b` to input `i`'s gradient through the GEMM: `beta = 1` when a
    /// gradient is already there, so accumulation needs no temporary.
    pub fn add_matmul(&mut self, i: usize, alpha: T, a: MatRef<'_, T>, b: MatRef<'_, T>) {
        let input = &self.inputs[i];
        if !input.requires_grad() {
            return;
        }
        let shape = input.shape();
        match self.store.get_mut(&input.id()) {
            Some(acc) => gemm(alpha, a, b, T::ONE, acc.as_mat_mut()),
            None => {
                // beta = 0: the GEMM writes every element without reading it, so a
                // recycled buffer needs no clearing.
                let mut g = match self.spare.remove(&input.id()) {
                    Some(old) if old.shape() == &shape => old,
                    _ => Tensor::zeros(shape),
                };
                gemm(alpha, a, b, T::ZERO, g.as_mat_mut());
                self.store.insert(input.id(), g);
            }
        }
    }
}

impl<T: Float> Var<T> {
    /// Back-propagates from this scalar (a loss) and returns ∂self/∂leaf for every leaf
    /// that requires a gradient. The graph is freed as it is walked, like PyTorch's
    /// default; use [`backward_retain_graph`](Self::backward_retain_graph) to walk it again.
    #[track_caller]
    pub fn backward(&self) -> Gradients<T> {
        self.backward_impl(None, false)
    }

    /// Like [`backward`](Self::backward) but keeps the graph for another pass.
    #[track_caller]
    pub fn backward_retain_graph(&self) -> Gradients<T> {
        self.backward_impl(None, true)
    }

    /// Back-propagates `grad_out` (∂loss/∂self, same shape as `self`) from a non-scalar
    /// value: the result is the gradient of `sum(self * grad_out)`.
    #[track_caller]
    pub fn backward_with(&self, grad_out: Tensor<T>) -> Gradients<T> {
        self.backward_impl(Some(grad_out), false)
    }

    /// Like [`backward`](Self::backward), but fills `grads`, replacing what it held, and
    /// writes the new gradients into the buffers of the old ones where it can: the form
    /// for a training loop, which then allocates no weight-gradient buffer per step.
    ///
    /// ```
    /// use ferrograd_autograd::{Gradients, Var};
    /// use ferrograd_tensor::Tensor;
    /// let w = Var::leaf(Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], [2, 2]));
    /// let x = Var::constant(Tensor::from_vec(vec![1.0, 1.0], [1, 2]));
    /// let mut grads = Gradients::new();
    /// for _ in 0..3 {
    ///     x.linear(&w, None).sum().backward_into(&mut grads);
    ///     assert_eq!(grads.get(&w).unwrap().data(), &[1.0, 1.0, 1.0, 1.0]);
    /// }
    /// ```
    #[track_caller]
    pub fn backward_into(&self, grads: &mut Gradients<T>) {
        let spare = std::mem::take(&mut grads.map);
        *grads = self.backward_impl_reusing(None, false, spare);
    }

    #[track_caller]
    fn backward_impl(&self, grad_out: Option<Tensor<T>>, retain_graph: bool) -> Gradients<T> {
        self.backward_impl_reusing(grad_out, retain_graph, HashMap::new())
    }

    #[track_caller]
    fn backward_impl_reusing(
        &self,
        grad_out: Option<Tensor<T>>,
        retain_graph: bool,
        mut spare: HashMap<usize, Tensor<T>>,
    ) -> Gradients<T> {
        let seed = match grad_out {
            Some(g) => {
                assert!(
                    g.shape() == self.value().shape(),
                    "backward_with: gradient of shape {} for an output of shape {}",
                    g.shape(),
                    self.value().shape()
                );
                g
            }
            None => {
                assert!(
                    self.value().numel() == 1,
                    "backward: the output must be a scalar (e.g. a loss), got shape {}; \
                     reduce it first or use backward_with",
                    self.value().shape()
                );
                Tensor::ones(self.shape())
            }
        };
        let mut store = HashMap::new();
        if !self.requires_grad() {
            return Gradients { map: store };
        }
        store.insert(self.id(), seed);
        // ANCHOR: backward_loop
        for node in topological_order(self) {
            let Some(grad_out) = store.remove(&node.id()) else {
                continue; // no path from the output reached this node's gradient
            };
            let grad_fn = if retain_graph {
                None
            } else {
                node.0.grad_fn.borrow_mut().take()
            };
            let borrowed = node.0.grad_fn.borrow();
            let Some(gf) = grad_fn.as_ref().or(borrowed.as_ref()) else {
                panic!(
                    "backward: the graph through `{}` was already freed by an earlier \
                     backward(); use backward_retain_graph() to walk it twice",
                    node.op_name()
                );
            };
            let output = node.value();
            let ctx = BackwardCtx {
                grad_out: &grad_out,
                output: &output,
                inputs: &gf.inputs,
            };
            let mut sink = GradSink {
                inputs: &gf.inputs,
                store: &mut store,
                spare: &mut spare,
            };
            (gf.backward)(&ctx, &mut sink);
        }
        Gradients { map: store }
        // ANCHOR_END: backward_loop
    }
}

// ANCHOR: topological_order
/// Non-leaf nodes reachable from `root`, each before any node it was computed from.
fn topological_order<T: Float>(root: &Var<T>) -> Vec<Var<T>> {
    let mut post_order = Vec::new();
    let mut visited = HashSet::new();
    // Iterative DFS: deep graphs (long training unrolls) must not overflow the stack.
    let mut stack = vec![(root.clone(), false)];
    while let Some((var, children_done)) = stack.pop() {
        if children_done {
            post_order.push(var);
            continue;
        }
        if var.is_leaf() || !visited.insert(var.id()) {
            continue;
        }
        stack.push((var.clone(), true));
        if let Some(gf) = var.0.grad_fn.borrow().as_ref() {
            for input in &gf.inputs {
                if input.requires_grad() && !input.is_leaf() && !visited.contains(&input.id()) {
                    stack.push((input.clone(), false));
                }
            }
        }
    }
    post_order.reverse();
    post_order
}
// ANCHOR_END: topological_order

#[cfg(test)]
mod tests {
    use crate::{no_grad, Var};
    use ferrograd_tensor::Tensor;

    fn leaf(data: &[f64]) -> Var<f64> {
        Var::leaf(Tensor::from_slice(data, [data.len()]))
    }

    #[test]
    fn node_used_several_times_gets_every_contribution() {
        // y = x·x·x = x³ through two products reusing x: dy/dx = 3x².
        let x = leaf(&[2.0]);
        let y = &(&x * &x) * &x;
        let g = y.sum().backward();
        assert_eq!(g.get(&x).unwrap().data(), &[12.0]);
    }

    #[test]
    fn diamond_graph_adds_both_paths() {
        // a = 3x, b = x², y = a·b = 3x³: dy/dx = 9x².
        let x = leaf(&[1.5]);
        let a = &x * 3.0;
        let b = x.square();
        let y = (&a * &b).sum();
        let g = y.backward();
        assert!((g.get(&x).unwrap().data()[0] - 9.0 * 1.5 * 1.5).abs() < 1e-12);
    }

    #[test]
    fn broadcasting_in_both_operands_gets_operand_shapes() {
        let col = Var::leaf(Tensor::from_vec(vec![1.0, 2.0], [2, 1]));
        let row = Var::leaf(Tensor::from_vec(vec![1.0, 10.0, 100.0], [1, 3]));
        let g = (&col * &row).sum().backward();
        assert_eq!(g.get(&col).unwrap().data(), &[111.0, 111.0]);
        assert_eq!(g.get(&row).unwrap().data(), &[3.0, 3.0, 3.0]);
    }

    #[test]
    fn second_backward_through_freed_graph_panics_clearly() {
        let x = leaf(&[1.0]);
        let y = (&x * 2.0).sum();
        let _ = y.backward();
        let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| y.backward()));
        let msg = *again.unwrap_err().downcast::<String>().unwrap();
        assert!(
            msg.contains("already freed") && msg.contains("retain"),
            "{msg}"
        );
    }

    #[test]
    fn retained_graph_can_be_walked_twice_with_fresh_results() {
        let x = leaf(&[3.0]);
        let y = x.square().sum();
        let g1 = y.backward_retain_graph();
        let g2 = y.backward();
        assert_eq!(g1.get(&x).unwrap().data(), &[6.0]);
        assert_eq!(g2.get(&x).unwrap().data(), &[6.0], "no stale accumulation");
    }

    #[test]
    fn no_grad_and_detach_stop_recording() {
        let x = leaf(&[1.0, 2.0]);
        let y = no_grad(|| x.square());
        assert!(!y.requires_grad() && y.is_leaf());
        let z = (&x.detach() * &x).sum();
        let g = z.backward();
        assert_eq!(
            g.get(&x).unwrap().data(),
            &[1.0, 2.0],
            "detached factor is a constant"
        );
        assert!(crate::is_grad_enabled(), "the guard restores grad mode");
    }

    #[test]
    fn gradients_hold_only_leaves_and_only_reached_ones() {
        let x = leaf(&[1.0]);
        let unused = leaf(&[5.0]);
        let h = &x * 2.0;
        let g = h.square().sum().backward();
        assert_eq!(g.len(), 1);
        assert!(g.get(&h).is_none() && g.get(&unused).is_none());
        assert_eq!(g.get_or_zeros(&unused).data(), &[0.0]);
    }

    #[test]
    fn backward_of_non_scalar_explains_itself() {
        let x = leaf(&[1.0, 2.0]);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| x.square().backward()));
        let msg = *r.unwrap_err().downcast::<String>().unwrap();
        assert!(msg.contains("scalar") && msg.contains("[2]"), "{msg}");
    }

    #[test]
    fn a_rule_sees_how_many_inputs_it_was_recorded_with() {
        // An n-ary op as a user would write it: the rule loops over ctx.num_inputs().
        let terms: Vec<Var<f64>> = (0..3).map(|i| leaf(&[i as f64])).collect();
        let refs: Vec<&Var<f64>> = terms.iter().collect();
        let value = Tensor::from_slice(&[3.0], [1]);
        let y = Var::from_op("sum3", value, &refs, |ctx, sink| {
            assert_eq!(ctx.num_inputs(), 3);
            for i in 0..ctx.num_inputs() {
                sink.add(i, ctx.grad_out.scale((i + 1) as f64));
            }
        });
        let g = y.sum().backward();
        for (i, t) in terms.iter().enumerate() {
            assert_eq!(g.get(t).unwrap().data(), &[(i + 1) as f64]);
        }
    }

    #[test]
    fn backward_into_reuses_the_buffers_and_gives_the_same_gradients() {
        use crate::ops::test_util::randn;
        use crate::Gradients;
        let x = Var::constant(randn(&[4, 5], 1));
        let w1 = Var::leaf(randn(&[3, 5], 2));
        let b1 = Var::leaf(randn(&[3], 3));
        let w2 = Var::leaf(randn(&[2, 3], 4));
        let loss = || {
            let h = x.linear(&w1, Some(&b1)).relu();
            // w2 used twice: the second use accumulates onto the recycled buffer.
            (h.linear(&w2, None).square().sum() + h.linear(&w2, None).sum()).scale(0.5)
        };
        let mut grads = Gradients::new();
        loss().backward_into(&mut grads);
        let w1_buffer = grads.get(&w1).unwrap().data().as_ptr();
        for step in 0..3 {
            // Poison the buffers: a recycled one must be overwritten, not added to.
            let poisoned: Vec<_> = [&w1, &b1, &w2].iter().map(|p| p.id()).collect();
            for id in poisoned {
                if let Some(g) = grads.map.get_mut(&id) {
                    g.data_mut().fill(f64::NAN);
                }
            }
            loss().backward_into(&mut grads);
            let fresh = loss().backward();
            for p in [&w1, &b1, &w2] {
                assert_eq!(grads.get(p), fresh.get(p), "step {step}");
            }
            assert_eq!(grads.len(), fresh.len());
            assert_eq!(grads.get(&w1).unwrap().data().as_ptr(), w1_buffer);
        }
    }

    #[test]
    fn deep_chain_does_not_overflow_the_stack() {
        let x = leaf(&[1.0]);
        let mut y = x.clone();
        for _ in 0..100_000 {
            y = &y * 1.0;
        }
        let g = y.sum().backward();
        assert_eq!(g.get(&x).unwrap().data(), &[1.0]);
        // Dropping a deep graph that was never walked must not recurse either.
        let mut y = x.clone();
        for _ in 0..100_000 {
            y = &y * 1.0;
        }
        drop(y);
    }
}
