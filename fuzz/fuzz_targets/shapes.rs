//! Any dimensions: a shape's element count is exact or reported as too large, never
//! wrapped; tensors built from it hold exactly that many elements; reshaping to it
//! succeeds exactly when the counts agree.
#![no_main]

use ferrograd_tensor::{Shape, Tensor, TensorError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Up to 6 dims of 1..=8 bytes each, so both tiny and huge extents are common.
    let mut dims = Vec::new();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        if dims.len() == 6 {
            break;
        }
        let n = (len as usize % 8 + 1).min(tail.len());
        let mut buf = [0u8; 8];
        buf[..n].copy_from_slice(&tail[..n]);
        dims.push(u64::from_le_bytes(buf) as usize);
        rest = &tail[n..];
    }
    let exact: Option<u128> = dims
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(1u128, |acc, &d| acc.checked_mul(d as u128));
    let fits = exact.is_some_and(|e| e <= usize::MAX as u128);
    let shape = Shape::new(dims.clone());
    match shape.checked_numel() {
        Some(n) => {
            assert!(fits);
            let want = if dims.contains(&0) { 0 } else { exact.unwrap() as usize };
            assert_eq!(n, want);
            let strides = shape.strides();
            assert_eq!(strides.len(), dims.len());
        }
        None => assert!(!fits),
    }
    match Tensor::<f32>::try_from_vec(vec![0.0; 4], dims.clone()) {
        Ok(t) => assert_eq!(t.shape().checked_numel(), Some(4)),
        Err(TensorError::TooLarge { .. }) => assert!(!fits),
        Err(TensorError::LengthMismatch { .. }) => assert!(!fits || shape.numel() != 4),
        Err(e) => panic!("unexpected error {e}"),
    }
    let t = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], [2, 2]);
    match t.try_reshape(dims.clone()) {
        Ok(r) => {
            assert_eq!(r.numel(), 4);
            assert_eq!(r.shape().numel(), 4);
        }
        Err(_) => assert!(!fits || shape.numel() != 4),
    }
});
