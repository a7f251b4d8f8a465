//! Saving and loading whole modules through safetensors.

use ferrograd_nn::{load_module, save_module, Linear, Module, ReLU, Sequential};

fn model(seed: u64) -> Sequential<f32> {
    let mut rng = ferrograd_nn::seeded_rng(seed);
    Sequential::new()
        .with(Linear::new(6, 4, true, &mut rng))
        .with(ReLU)
        .with(Linear::new(4, 2, true, &mut rng))
}

#[test]
fn round_trip_restores_every_parameter() {
    let dir = std::env::temp_dir().join(format!("ferrograd-module-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    let saved = model(1);
    save_module(&saved, &path).unwrap();
    let restored = model(2);
    assert_ne!(
        *saved.parameters()[0].value(),
        *restored.parameters()[0].value()
    );
    load_module(&restored, &path).unwrap();
    for ((name, a), (_, b)) in saved
        .named_parameters()
        .iter()
        .zip(restored.named_parameters())
    {
        assert_eq!(*a.value(), *b.value(), "{name}");
    }
    let info = ferrograd_nn::checkpoint::inspect(&path).unwrap();
    let names: Vec<_> = info.iter().map(|t| t.name.clone()).collect();
    assert!(names.contains(&"0.weight".to_string()) && names.contains(&"2.bias".to_string()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn loading_into_a_different_architecture_names_the_mismatches_and_changes_nothing() {
    let dir =
        std::env::temp_dir().join(format!("ferrograd-module-mismatch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    save_module(&model(1), &path).unwrap();
    let mut rng = ferrograd_nn::seeded_rng(3);
    let other = Sequential::<f32>::new().with(Linear::new(6, 5, true, &mut rng));
    let before = other.parameters()[0].value().clone();
    let err = load_module(&other, &path).unwrap_err().to_string();
    assert!(
        err.contains("0.weight") && err.contains("[5, 6]") && err.contains("[4, 6]"),
        "{err}"
    );
    assert!(
        err.contains("2.weight"),
        "unexpected tensors are named too: {err}"
    );
    assert_eq!(*other.parameters()[0].value(), before);
    std::fs::remove_dir_all(&dir).unwrap();
}
