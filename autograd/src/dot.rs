//! Graphviz export of a recorded graph (micrograd's `draw_dot`, as text).

use std::collections::HashSet;
use std::fmt::Write;

use ferrograd_tensor::Float;

use crate::Var;

impl<T: Float> Var<T> {
    /// The graph that `backward()` would walk from this value, in Graphviz `dot` syntax:
    /// one box per value labelled with its op and shape, edges from inputs to outputs.
    /// Render it with `dot -Tpng graph.dot -o graph.png`.
    ///
    /// ```
    /// use ferrograd_autograd::Var;
    /// use ferrograd_tensor::Tensor;
    /// let w = Var::leaf(Tensor::<f32>::ones([3, 2]));
    /// let x = Var::constant(Tensor::<f32>::ones([4, 3]));
    /// let dot = x.matmul(&w).relu().sum().to_dot();
    /// assert!(dot.contains("matmul") && dot.contains("[4, 2]"));
    /// ```
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph ferrograd {\n  rankdir=LR;\n  node [shape=record];\n");
        let mut seen = HashSet::new();
        let mut stack = vec![self.clone()];
        while let Some(v) = stack.pop() {
            if !seen.insert(v.id()) {
                continue;
            }
            let style = match (v.is_leaf(), v.requires_grad()) {
                (true, true) => ", style=filled, fillcolor=lightblue",
                (true, false) => ", style=dashed",
                _ => "",
            };
            let _ = writeln!(
                out,
                "  n{} [label=\"{{{} | {}}}\"{}];",
                v.id(),
                v.op_name(),
                v.shape(),
                style
            );
            for input in v.inputs() {
                let _ = writeln!(out, "  n{} -> n{};", input.id(), v.id());
                stack.push(input);
            }
        }
        out.push_str("}\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::Var;
    use ferrograd_tensor::Tensor;

    #[test]
    fn lists_every_node_and_edge_once() {
        let x = Var::leaf(Tensor::<f64>::ones([2]));
        let y = &x * &x; // x used twice: two edges, one node
        let dot = (&y + &x).sum().to_dot();
        assert_eq!(dot.matches("[label=").count(), 4, "{dot}");
        assert_eq!(dot.matches(" -> ").count(), 5, "{dot}");
        assert!(dot.starts_with("digraph"));
    }
}
