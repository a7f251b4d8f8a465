//! Dense linear algebra in f64: Householder QR, symmetric eigendecomposition, PCA.
//!
//! PLACEHOLDER: filled in by the linear-algebra work.
