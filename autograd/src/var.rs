//! [`Var`]: a tensor that remembers how it was computed.

use std::cell::{RefCell, RefMut};
use std::fmt;
use std::ops::Deref;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ferrograd_tensor::{Float, Shape, Tensor};

use crate::engine::GradSink;
use crate::grad_mode::is_grad_enabled;

// ANCHOR: backward_ctx
/// What a backward rule sees: the gradient arriving at the op's output, the output itself
/// (so `exp`, `sigmoid`, `softmax` need not save a copy), and the op's inputs.
pub struct BackwardCtx<'a, T: Float> {
    /// ∂loss/∂output, same shape as the output.
    pub grad_out: &'a Tensor<T>,
    /// The value the op computed in forward.
    pub output: &'a Tensor<T>,
    pub(crate) inputs: &'a [Var<T>],
}

impl<'a, T: Float> BackwardCtx<'a, T> {
    /// The forward value of input `i` (`0..num_inputs()`, in the order the inputs were
    /// given to [`Var::from_op`]).
    pub fn input(&self, i: usize) -> Value<T> {
        self.inputs[i].value()
    }

    /// How many inputs the op was recorded with: the length of the `inputs` slice given to
    /// [`Var::from_op`]. A rule for an op with a variable number of inputs (a concat, a
    /// sum of n terms) loops over `0..ctx.num_inputs()`; the [`GradSink`] uses the same
    /// indices.
    pub fn num_inputs(&self) -> usize {
        self.inputs.len()
    }
}
// ANCHOR_END: backward_ctx

/// A read-only handle to a [`Var`]'s value as it was when [`Var::value`] was called;
/// dereferences to the [`Tensor`].
///
/// It shares the tensor (no copy) but holds no borrow of the `Var`, so the `Var` can be
/// updated while a handle is alive: `p.set_value(p.value().map(f))` works, where a
/// `RefCell` borrow would still be held during `set_value` and panic with "already
/// borrowed". An update made through [`Var::value_mut`] while a handle is alive copies
/// the tensor first, so the handle keeps showing the old value.
///
/// It deliberately does not implement `Clone`: `v.value().clone()` copies the tensor, as
/// it did when `value()` returned a `Ref`.
pub struct Value<T>(Rc<Tensor<T>>);

impl<T> Deref for Value<T> {
    type Target = Tensor<T>;
    fn deref(&self) -> &Tensor<T> {
        &self.0
    }
}

impl<T> AsRef<Tensor<T>> for Value<T> {
    fn as_ref(&self) -> &Tensor<T> {
        &self.0
    }
}

impl<T: Float> fmt::Debug for Value<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl<T: Float> fmt::Display for Value<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

/// A backward rule: reads the context, adds each input's gradient into the sink.
pub type BackwardFn<T> = Box<dyn Fn(&BackwardCtx<'_, T>, &mut GradSink<'_, T>)>;

// ANCHOR: node
/// How a non-leaf value was made: the op, its inputs, and its backward rule.
pub(crate) struct GradFn<T: Float> {
    pub(crate) inputs: Vec<Var<T>>,
    pub(crate) backward: BackwardFn<T>,
}

pub(crate) struct Node<T: Float> {
    pub(crate) id: usize,
    /// Shared so that [`Var::value`] can hand out the tensor without holding a borrow.
    pub(crate) value: RefCell<Rc<Tensor<T>>>,
    pub(crate) requires_grad: bool,
    /// `Some` for a recorded op until `backward` frees it; always `None` for leaves.
    pub(crate) grad_fn: RefCell<Option<GradFn<T>>>,
    pub(crate) is_leaf: bool,
    pub(crate) op: &'static str,
}
// ANCHOR_END: node

impl<T: Float> Drop for Node<T> {
    /// Unlinks the graph iteratively: the default recursive drop of a long chain of
    /// `Rc`s (an unrolled loop, a 100k-step recurrence) would overflow the stack.
    fn drop(&mut self) {
        let Some(grad_fn) = self.grad_fn.get_mut().take() else {
            return;
        };
        let mut stack = grad_fn.inputs;
        while let Some(var) = stack.pop() {
            if let Ok(node) = Rc::try_unwrap(var.0) {
                if let Some(gf) = node.grad_fn.borrow_mut().take() {
                    stack.extend(gf.inputs);
                }
            }
        }
    }
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

/// A differentiable value: a [`Tensor`] plus, when it was computed from values that
/// require gradients, the op that made it.
///
/// `Var` is a cheap handle (`Rc`): cloning shares the node, which is how a parameter is
/// both held by a module and updated by an optimiser. A graph lives on one thread; move
/// [`Tensor`]s, not `Var`s, between threads.
///
/// ```
/// use ferrograd_autograd::Var;
/// use ferrograd_tensor::Tensor;
/// let x = Var::leaf(Tensor::from_vec(vec![1.0f64, 2.0, 3.0], [3]));
/// let y = (&x * &x).sum();             // y = Σ x²
/// let grads = y.backward();
/// assert_eq!(grads.get(&x).unwrap().data(), &[2.0, 4.0, 6.0]); // ∂y/∂x = 2x
/// ```
// ANCHOR: var
pub struct Var<T: Float>(pub(crate) Rc<Node<T>>);
// ANCHOR_END: var

impl<T: Float> Clone for Var<T> {
    fn clone(&self) -> Self {
        Var(Rc::clone(&self.0))
    }
}

impl<T: Float> Var<T> {
    fn new_node(
        value: Tensor<T>,
        requires_grad: bool,
        grad_fn: Option<GradFn<T>>,
        op: &'static str,
    ) -> Self {
        Var(Rc::new(Node {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            value: RefCell::new(Rc::new(value)),
            requires_grad,
            is_leaf: grad_fn.is_none(),
            grad_fn: RefCell::new(grad_fn),
            op,
        }))
    }

    /// A value that never receives a gradient (data, targets, masks).
    pub fn constant(value: Tensor<T>) -> Self {
        Self::new_node(value, false, None, "constant")
    }

    /// A leaf that requires a gradient (a parameter, or an input you differentiate by).
    pub fn leaf(value: Tensor<T>) -> Self {
        Self::new_node(value, true, None, "leaf")
    }

    /// Records the result of an op: the way to add a differentiable op, inside the crate
    /// or outside it (the equivalent of PyTorch's `torch.autograd.Function`).
    ///
    /// - `op` names the op in error messages and in [`to_dot`](Var::to_dot);
    /// - `value` is the output, computed by the caller on plain [`Tensor`]s;
    /// - `inputs` are the values the output was computed from, in the order the rule
    ///   refers to them (`ctx.input(i)`, `sink.add(i, ..)`);
    /// - `backward` receives ∂loss/∂output in `ctx.grad_out` and adds ∂loss/∂input `i` to
    ///   `sink` for each input `i` that [`wants`](GradSink::wants) one. The sink sums a
    ///   gradient of the output's (broadcast) shape back to the input's shape and adds it
    ///   to what other uses of that input contributed, so a rule does neither.
    ///
    /// If grad mode is off or no input requires a gradient, the result is a constant and
    /// nothing is kept for backward (the closure is dropped unused).
    ///
    /// A cube op, `y = x³` with `dy/dx = 3x²`, written outside the crate:
    ///
    /// ```
    /// use ferrograd_autograd::{assert_gradcheck, Var};
    /// use ferrograd_tensor::Tensor;
    ///
    /// fn cube(x: &Var<f64>) -> Var<f64> {
    ///     let value = x.value().powi(3);
    ///     Var::from_op("cube", value, &[x], |ctx, sink| {
    ///         // ∂L/∂x = ∂L/∂y · 3x²
    ///         let x = ctx.input(0);
    ///         let grad = ctx.grad_out.zip_with(&x, "cube_backward", |g, x| g * 3.0 * x * x);
    ///         sink.add(0, grad);
    ///     })
    /// }
    ///
    /// let x = Var::leaf(Tensor::from_vec(vec![1.0, -2.0], [2]));
    /// let grads = cube(&x).sum().backward();
    /// assert_eq!(grads.get(&x).unwrap().data(), &[3.0, 12.0]);
    ///
    /// // The rule agrees with central differences:
    /// let at = Tensor::from_vec(vec![0.5, -1.5, 2.0], [3]);
    /// assert_gradcheck("cube", |v| cube(&v[0]), &[at]);
    ///
    /// // Nothing is recorded when no input needs a gradient:
    /// let c = Var::constant(Tensor::from_vec(vec![2.0], [1]));
    /// assert!(cube(&c).is_leaf() && !cube(&c).requires_grad());
    /// ```
    // ANCHOR: from_op
    pub fn from_op(
        op: &'static str,
        value: Tensor<T>,
        inputs: &[&Var<T>],
        backward: impl Fn(&BackwardCtx<'_, T>, &mut GradSink<'_, T>) + 'static,
    ) -> Self {
        if !is_grad_enabled() || !inputs.iter().any(|v| v.requires_grad()) {
            return Self::new_node(value, false, None, op);
        }
        let grad_fn = GradFn {
            inputs: inputs.iter().map(|&v| v.clone()).collect(),
            backward: Box::new(backward),
        };
        Self::new_node(value, true, Some(grad_fn), op)
    }
    // ANCHOR_END: from_op

    /// A unique id; [`Gradients`](crate::Gradients) are keyed by it.
    pub fn id(&self) -> usize {
        self.0.id
    }

    /// Whether gradients flow to (or through) this value.
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad
    }

    /// True for values not produced by a recorded op (parameters, constants, results of
    /// ops run under `no_grad`).
    pub fn is_leaf(&self) -> bool {
        self.0.is_leaf
    }

    /// The name of the op that produced this value (`"leaf"`, `"constant"`, `"matmul"`...).
    pub fn op_name(&self) -> &'static str {
        self.0.op
    }

    /// The value, as a handle that shares the tensor without borrowing the `Var` (see
    /// [`Value`]).
    pub fn value(&self) -> Value<T> {
        Value(Rc::clone(&self.0.value.borrow()))
    }

    /// Mutably borrows a leaf's value (how optimisers update parameters in place).
    ///
    /// Panics for a non-leaf: changing a recorded op's output would silently corrupt the
    /// gradients of everything computed from it. If a [`Value`] handle to the current
    /// value is alive, the tensor is copied first so that the handle stays unchanged.
    /// Panics, saying so, if another `value_mut` borrow is still alive.
    #[track_caller]
    pub fn value_mut(&self) -> RefMut<'_, Tensor<T>> {
        assert!(
            self.is_leaf(),
            "value_mut: only leaves can be modified in place, this value comes from `{}`",
            self.op_name()
        );
        let Ok(cell) = self.0.value.try_borrow_mut() else {
            panic!(
                "value_mut: the value of this `{}` is already mutably borrowed (a `value_mut` \
                 guard is still alive); drop it first",
                self.op_name()
            );
        };
        RefMut::map(cell, Rc::make_mut)
    }

    /// Replaces a leaf's value; the new value must have the same shape.
    #[track_caller]
    pub fn set_value(&self, value: Tensor<T>) {
        assert!(
            self.is_leaf(),
            "set_value: only leaves can be modified in place, this value comes from `{}`",
            self.op_name()
        );
        let Ok(mut v) = self.0.value.try_borrow_mut() else {
            panic!("set_value: the value is mutably borrowed (a `value_mut` guard is still alive); drop it first");
        };
        assert!(
            v.shape() == value.shape(),
            "set_value: shape {} does not match the current shape {}",
            value.shape(),
            v.shape()
        );
        // Replacing the Rc leaves any outstanding Value handle with the old tensor.
        *v = Rc::new(value);
    }

    /// A copy of the shape.
    pub fn shape(&self) -> Shape {
        self.value().shape().clone()
    }

    /// A copy of the dimensions.
    pub fn dims(&self) -> Vec<usize> {
        self.value().dims().to_vec()
    }

    /// The single value of a one-element tensor (a loss).
    #[track_caller]
    pub fn item(&self) -> T {
        self.value().item()
    }

    /// The same value as a new constant, cut off from the graph: gradients stop here.
    pub fn detach(&self) -> Var<T> {
        Var::constant(self.value().clone())
    }

    /// The inputs of the op that produced this value (empty for leaves or once `backward`
    /// has freed the graph).
    pub fn inputs(&self) -> Vec<Var<T>> {
        self.0
            .grad_fn
            .borrow()
            .as_ref()
            .map(|g| g.inputs.clone())
            .unwrap_or_default()
    }
}

impl<T: Float> fmt::Debug for Var<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Var(id={}, op={}, requires_grad={}, {})",
            self.id(),
            self.op_name(),
            self.requires_grad(),
            *self.value()
        )
    }
}
