//! [`Var`]: a tensor that remembers how it was computed.

use std::cell::{RefCell, RefMut};
use std::fmt;
use std::ops::Deref;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ferrograd_tensor::{Float, Shape, Tensor};

use crate::engine::GradSink;
use crate::grad_mode::is_grad_enabled;

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
    /// The forward value of input `i`.
    pub fn input(&self, i: usize) -> Value<T> {
        self.inputs[i].value()
    }
}

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
pub struct Var<T: Float>(pub(crate) Rc<Node<T>>);

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

    /// Records the result of an op. If grad mode is off or no input requires a gradient,
    /// the result is a constant and nothing is kept for backward.
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
