//! Any bytes: `parse_idx_labels` returns an error or labels 0..=9 matching the header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ferrograd_nn::data::mnist::parse_idx_labels;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = parse_idx_labels(data, "fuzz") {
        let field = |i: usize| u32::from_be_bytes(data[4 * i..4 * i + 4].try_into().unwrap());
        assert_eq!(field(0), 2049);
        assert_eq!(v.labels.len(), field(1) as usize);
        assert_eq!(v.labels, &data[8..]);
        assert!(v.labels.iter().all(|&l| l <= 9));
    }
});
