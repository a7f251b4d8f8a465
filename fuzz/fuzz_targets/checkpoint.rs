//! Any bytes: the checkpoint readers return an error or tensors whose shapes and bytes are
//! exactly what the header and data section say; what loads also saves and reloads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ferrograd_nn::checkpoint;
use ferrograd_tensor::{Float, Shape, Tensor};

fn consistent<T: Float>(data: &[u8], tensors: &[(String, Tensor<T>)]) {
    let info = checkpoint::inspect_bytes(data, "fuzz").expect("loadable implies inspectable");
    assert_eq!(info.len(), tensors.len());
    for ((name, t), i) in tensors.iter().zip(&info) {
        assert_eq!(name, &i.name);
        assert_eq!(t.shape(), &i.shape);
        assert_eq!(t.numel(), i.shape.numel());
    }
    let refs: Vec<(String, &Tensor<T>)> = tensors.iter().map(|(n, t)| (n.clone(), t)).collect();
    let bytes = checkpoint::to_bytes(&refs).expect("loaded names are unique");
    let mut back = checkpoint::from_bytes::<T>(&bytes, "again").expect("saved bytes load");
    // Saving orders tensors by name; a foreign file may use any order.
    let mut before: Vec<&(String, Tensor<T>)> = tensors.iter().collect();
    before.sort_by(|a, b| a.0.cmp(&b.0));
    back.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(back.len(), before.len());
    for ((n1, a), (n2, b)) in before.into_iter().zip(&back) {
        assert_eq!(a.shape(), b.shape());
        assert_eq!(n1, n2);
        let (a, b): (&[u8], &[u8]) = (
            bytemuck::cast_slice(a.data()),
            bytemuck::cast_slice(b.data()),
        );
        assert_eq!(a, b);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = checkpoint::from_bytes::<f32>(data, "fuzz") {
        consistent(data, &t);
    }
    if let Ok(t) = checkpoint::from_bytes::<f64>(data, "fuzz") {
        consistent(data, &t);
    }
    let expected = [
        ("w".to_string(), Shape::from([2, 3])),
        ("b".to_string(), Shape::from([2])),
    ];
    if let Ok(ts) = checkpoint::check_bytes::<f32>(data, "fuzz", &expected) {
        assert_eq!(ts.len(), 2);
        assert_eq!(ts[0].dims(), &[2, 3]);
        assert_eq!(ts[1].dims(), &[2]);
    }
});
