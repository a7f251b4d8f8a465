//! Binary elementwise ops with NumPy broadcasting, and their operator overloads.

use std::ops::{Add, Div, Mul, Neg, Sub};

use crate::error::or_panic;
use crate::{Float, Shape, Tensor, TensorError};

impl<T: Float> Tensor<T> {
    /// Combines `self` and `rhs` elementwise after broadcasting them to a common shape.
    ///
    /// The common cases (equal shapes, a scalar, a row vector against a matrix) get
    /// dedicated loops; anything else walks both operands with broadcast strides.
    pub fn try_zip_with(
        &self,
        rhs: &Tensor<T>,
        op: &'static str,
        f: impl Fn(T, T) -> T,
    ) -> Result<Tensor<T>, TensorError> {
        let (a, b) = (self.data(), rhs.data());
        if self.shape() == rhs.shape() {
            let data = a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect();
            return Ok(Tensor::from_vec(data, self.shape()));
        }
        let out_shape = Shape::broadcast(self.shape(), rhs.shape(), op)?;
        if b.len() == 1 && out_shape == *self.shape() {
            let y = b[0];
            return Ok(Tensor::from_vec(
                a.iter().map(|&x| f(x, y)).collect(),
                out_shape,
            ));
        }
        if a.len() == 1 && out_shape == *rhs.shape() {
            let x = a[0];
            return Ok(Tensor::from_vec(
                b.iter().map(|&y| f(x, y)).collect(),
                out_shape,
            ));
        }
        let last = out_shape.dims().last().copied().unwrap_or(1);
        // Row vector (a bias) against every row. The last-axis check matters: a column
        // [n, 1] against an [n, n] matrix has n elements too, but broadcasts across rows.
        if out_shape == *self.shape()
            && rhs.numel() == last
            && rhs.dims().last() == Some(&last)
            && last > 0
        {
            let mut data = Vec::with_capacity(a.len());
            for row in a.chunks_exact(last) {
                data.extend(row.iter().zip(b).map(|(&x, &y)| f(x, y)));
            }
            return Ok(Tensor::from_vec(data, out_shape));
        }
        Ok(broadcast_general(self, rhs, out_shape, f))
    }

    /// Like [`try_zip_with`](Self::try_zip_with), panicking with both shapes on mismatch.
    #[track_caller]
    pub fn zip_with(&self, rhs: &Tensor<T>, op: &'static str, f: impl Fn(T, T) -> T) -> Self {
        or_panic(self.try_zip_with(rhs, op, f))
    }

    /// Elementwise sum with broadcasting.
    pub fn try_add(&self, rhs: &Tensor<T>) -> Result<Self, TensorError> {
        self.try_zip_with(rhs, "add", |x, y| x + y)
    }

    /// Elementwise difference with broadcasting.
    pub fn try_sub(&self, rhs: &Tensor<T>) -> Result<Self, TensorError> {
        self.try_zip_with(rhs, "sub", |x, y| x - y)
    }

    /// Elementwise product with broadcasting.
    pub fn try_mul(&self, rhs: &Tensor<T>) -> Result<Self, TensorError> {
        self.try_zip_with(rhs, "mul", |x, y| x * y)
    }

    /// Elementwise quotient with broadcasting.
    pub fn try_div(&self, rhs: &Tensor<T>) -> Result<Self, TensorError> {
        self.try_zip_with(rhs, "div", |x, y| x / y)
    }

    /// `self += alpha * rhs` for tensors of equal shape (an axpy; optimisers and gradient
    /// accumulation use it to avoid a temporary).
    #[track_caller]
    pub fn add_scaled_(&mut self, alpha: T, rhs: &Tensor<T>) {
        assert!(
            self.shape() == rhs.shape(),
            "add_scaled_: shapes {} and {} differ",
            self.shape(),
            rhs.shape()
        );
        axpy(alpha, rhs.data(), self.data_mut());
    }

    /// Sums this tensor down to `shape`, the inverse of broadcasting `shape` up to
    /// `self.shape()`. Autograd uses it to give each operand a gradient of its own shape.
    #[track_caller]
    pub fn sum_to_shape(&self, shape: &Shape) -> Tensor<T> {
        if self.shape() == shape {
            return self.clone();
        }
        let check = Shape::broadcast(shape, self.shape(), "sum_to_shape");
        assert!(
            check.as_ref() == Ok(self.shape()),
            "sum_to_shape: {} does not broadcast to {}",
            shape,
            self.shape()
        );
        let mut out = Tensor::zeros(shape.clone());
        let n = shape.numel();
        if n == 0 {
            // Nothing to accumulate into; the row loop below would chunk by a zero length.
            return out;
        }
        if n == 1 {
            out.data_mut()[0] = self.data().iter().copied().sum();
            return out;
        }
        let last = self.dims().last().copied().unwrap_or(1);
        if n == last && shape.dims().last() == Some(&last) {
            // Bias gradient: sum over every row.
            let acc = out.data_mut();
            for row in self.data().chunks_exact(last) {
                for (a, &g) in acc.iter_mut().zip(row) {
                    *a += g;
                }
            }
            return out;
        }
        let strides = shape.broadcast_strides(self.shape());
        let acc = out.data_mut();
        for_each_index(self.shape(), |flat, idx| {
            let o: usize = idx.iter().zip(&strides).map(|(i, s)| i * s).sum();
            acc[o] += self.data()[flat];
        });
        out
    }
}

/// `x ← alpha·y + x` with one rounding per element (FMA).
///
/// Compiled for baseline x86-64, `mul_add` is a call into libm per element (SSE2 has no
/// FMA instruction). When the CPU has AVX2 + FMA or AVX-512 the same loop runs from a copy
/// compiled with them (see [`crate::simd`]): one `vfmadd` per 8 or 16 lanes, and the same
/// bits (an FMA is exact either way).
fn axpy<T: Float>(alpha: T, y: &[T], x: &mut [T]) {
    crate::dispatch_simd!(axpy_loop(alpha, y, x))
}

#[inline(always)]
fn axpy_loop<T: Float>(alpha: T, y: &[T], x: &mut [T]) {
    for (x, &y) in x.iter_mut().zip(y) {
        *x = alpha.mul_add(y, *x);
    }
}

crate::simd_copies! {
    fn axpy_loop[T: Float](alpha: T, y: &[T], x: &mut [T]);
}

/// Calls `f(flat_index, multi_index)` for every element of `shape` in row-major order.
fn for_each_index(shape: &Shape, mut f: impl FnMut(usize, &[usize])) {
    let dims = shape.dims();
    let mut idx = vec![0usize; dims.len()];
    for flat in 0..shape.numel() {
        f(flat, &idx);
        for axis in (0..dims.len()).rev() {
            idx[axis] += 1;
            if idx[axis] < dims[axis] {
                break;
            }
            idx[axis] = 0;
        }
    }
}

fn broadcast_general<T: Float>(
    lhs: &Tensor<T>,
    rhs: &Tensor<T>,
    out_shape: Shape,
    f: impl Fn(T, T) -> T,
) -> Tensor<T> {
    let ls = lhs.shape().broadcast_strides(&out_shape);
    let rs = rhs.shape().broadcast_strides(&out_shape);
    let mut data = Vec::with_capacity(out_shape.numel());
    for_each_index(&out_shape, |_, idx| {
        let lo: usize = idx.iter().zip(&ls).map(|(i, s)| i * s).sum();
        let ro: usize = idx.iter().zip(&rs).map(|(i, s)| i * s).sum();
        data.push(f(lhs.data()[lo], rhs.data()[ro]));
    });
    Tensor::from_vec(data, out_shape)
}

macro_rules! impl_binary_operator {
    ($trait:ident, $method:ident, $name:literal, $op:tt) => {
        impl<T: Float> $trait<&Tensor<T>> for &Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: &Tensor<T>) -> Tensor<T> {
                self.zip_with(rhs, $name, |x, y| x $op y)
            }
        }
        impl<T: Float> $trait<T> for &Tensor<T> {
            type Output = Tensor<T>;
            fn $method(self, rhs: T) -> Tensor<T> {
                self.map(|x| x $op rhs)
            }
        }
    };
}

impl_binary_operator!(Add, add, "add", +);
impl_binary_operator!(Sub, sub, "sub", -);
impl_binary_operator!(Mul, mul, "mul", *);
impl_binary_operator!(Div, div, "div", /);

impl<T: Float> Neg for &Tensor<T> {
    type Output = Tensor<T>;
    fn neg(self) -> Tensor<T> {
        self.map(|x| -x)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Shape, Tensor};

    fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
        Tensor::from_slice(data, shape)
    }

    #[test]
    fn equal_shapes_scalar_row_and_column() {
        let a = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
        assert_eq!((&a + &a).data(), &[2.0, 4.0, 6.0, 8.0, 10.0, 12.0]);
        assert_eq!((&a * 2.0).data(), &[2.0, 4.0, 6.0, 8.0, 10.0, 12.0]);
        let row = t(&[10.0, 20.0, 30.0], &[3]);
        assert_eq!((&a + &row).data(), &[11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
        let col = t(&[1.0, 2.0], &[2, 1]);
        assert_eq!((&a - &col).data(), &[0.0, 1.0, 2.0, 2.0, 3.0, 4.0]);
        assert_eq!((&col - &a).data(), &[0.0, -1.0, -2.0, -2.0, -3.0, -4.0]);
        let s = Tensor::scalar(2.0);
        assert_eq!((&s / &a).dims(), &[2, 3]);
        assert_eq!((&s / &a)[[0, 1]], 1.0);
    }

    #[test]
    fn column_against_square_matrix_broadcasts_across_rows() {
        // [n, 1] against [n, n]: as many elements as a row, but it is a column (a
        // regression: this was once taken for a row vector, e.g. in x / x.sum_axis(1)).
        let a = t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
        let col = t(&[3.0, 7.0], &[2, 1]);
        assert_eq!((&a * &col).data(), &[3.0, 6.0, 21.0, 28.0]);
        assert_eq!((&a - &col).data(), &[-2.0, -1.0, -4.0, -3.0]);
        let row = t(&[3.0, 7.0], &[1, 2]);
        assert_eq!((&a * &row).data(), &[3.0, 14.0, 9.0, 28.0]);
    }

    #[test]
    fn outer_broadcast_both_operands() {
        let col = t(&[1.0, 2.0], &[2, 1]);
        let row = t(&[10.0, 20.0, 30.0], &[1, 3]);
        let out = &col * &row;
        assert_eq!(out.dims(), &[2, 3]);
        assert_eq!(out.data(), &[10.0, 20.0, 30.0, 20.0, 40.0, 60.0]);
    }

    #[test]
    #[should_panic(expected = "add: shapes [2, 3] and [2] are incompatible")]
    fn mismatch_panics_with_both_shapes() {
        let _ = &Tensor::<f32>::zeros([2, 3]) + &Tensor::<f32>::zeros([2]);
    }

    #[test]
    fn sum_to_shape_undoes_broadcasting() {
        let g = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
        assert_eq!(g.sum_to_shape(&Shape::from([3])).data(), &[5.0, 7.0, 9.0]);
        assert_eq!(g.sum_to_shape(&Shape::from([2, 1])).data(), &[6.0, 15.0]);
        assert_eq!(
            g.sum_to_shape(&Shape::from([1, 3])).data(),
            &[5.0, 7.0, 9.0]
        );
        assert_eq!(g.sum_to_shape(&Shape::scalar()).data(), &[21.0]);
    }

    #[test]
    fn axpy() {
        let mut a = t(&[1.0, 2.0], &[2]);
        a.add_scaled_(0.5, &t(&[2.0, 4.0], &[2]));
        assert_eq!(a.data(), &[2.0, 4.0]);
    }
}
