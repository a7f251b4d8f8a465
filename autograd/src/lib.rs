//! Reverse-mode automatic differentiation (in progress).
