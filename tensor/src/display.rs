//! PyTorch-style printing: values with a shared precision, long axes abbreviated with
//! `...`, and the shape and dtype at the end.

use std::fmt;

use crate::{Float, Tensor};

/// Axes longer than this are shown as their first and last `EDGE_ITEMS` entries.
const SUMMARIZE_ABOVE: usize = 12;
const EDGE_ITEMS: usize = 3;

fn fmt_axis<T: Float>(
    f: &mut fmt::Formatter<'_>,
    t: &Tensor<T>,
    axis: usize,
    offset: usize,
    indent: usize,
) -> fmt::Result {
    let dims = t.dims();
    let strides = t.shape().strides();
    let len = dims[axis];
    let shown: Vec<Option<usize>> = if len > SUMMARIZE_ABOVE {
        (0..EDGE_ITEMS)
            .map(Some)
            .chain(std::iter::once(None))
            .chain((len - EDGE_ITEMS..len).map(Some))
            .collect()
    } else {
        (0..len).map(Some).collect()
    };
    write!(f, "[")?;
    for (n, idx) in shown.iter().enumerate() {
        if n > 0 {
            if axis + 1 == dims.len() {
                write!(f, ", ")?;
            } else {
                write!(f, ",\n{:width$}", "", width = indent + 1)?;
            }
        }
        match idx {
            None => write!(f, "...")?,
            Some(i) if axis + 1 == dims.len() => {
                let v = t.data()[offset + i * strides[axis]].to_f64();
                write!(f, "{v:8.4}")?;
            }
            Some(i) => fmt_axis(f, t, axis + 1, offset + i * strides[axis], indent + 1)?,
        }
    }
    write!(f, "]")
}

impl<T: Float> fmt::Display for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tensor(")?;
        if self.rank() == 0 {
            write!(f, "{:.4}", self.data()[0].to_f64())?;
        } else if self.numel() == 0 {
            write!(f, "[]")?;
        } else {
            fmt_axis(f, self, 0, 0, 7)?;
        }
        write!(f, ", shape={}, dtype={})", self.shape(), self.dtype())
    }
}

impl<T: Float> fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn shows_shape_dtype_and_values() {
        let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2]);
        let s = format!("{t}");
        assert!(s.contains("shape=[2, 2]") && s.contains("dtype=f32"), "{s}");
        assert!(s.contains("4.0000"), "{s}");
    }

    #[test]
    fn abbreviates_long_axes() {
        let t = Tensor::<f64>::arange(100);
        let s = format!("{t:?}");
        assert!(s.contains("..."), "{s}");
        assert!(s.contains("99.0000") && !s.contains("50.0000"), "{s}");
    }
}
