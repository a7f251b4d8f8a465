//! Any bytes: `parse_idx_images` returns an error or a view consistent with the header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ferrograd_nn::data::mnist::parse_idx_images;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = parse_idx_images(data, "fuzz") {
        let field = |i: usize| u32::from_be_bytes(data[4 * i..4 * i + 4].try_into().unwrap());
        assert_eq!(field(0), 2051);
        assert_eq!(v.count, field(1) as usize);
        assert_eq!((v.rows, v.cols), (field(2) as usize, field(3) as usize));
        assert_eq!(v.pixels, &data[16..]);
        assert_eq!(v.pixels.len(), v.count * v.rows * v.cols);
        if v.count > 0 {
            assert_eq!(v.image(v.count - 1).map(<[u8]>::len), Some(v.rows * v.cols));
        }
        assert!(v.image(v.count).is_none());
    }
});
