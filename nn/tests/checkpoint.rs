//! Safetensors checkpoints: round trips, damaged files, and mismatch reports.

use std::fs;
use std::path::Path;

use ferrograd_nn::checkpoint::{self, CheckpointError, Mismatch};
use ferrograd_tensor::{Float, Shape, Tensor};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn model<T: Float>(seed: u64) -> Vec<(String, Tensor<T>)> {
    let mut rng = StdRng::seed_from_u64(seed);
    vec![
        ("encoder.0.weight".into(), Tensor::randn([5, 7], &mut rng)),
        ("encoder.0.bias".into(), Tensor::randn([5], &mut rng)),
        ("encoder.2.weight".into(), Tensor::randn([4, 5], &mut rng)),
        ("decoder.0.weight".into(), Tensor::randn([5, 4], &mut rng)),
        ("scale".into(), Tensor::scalar(T::from_f64(0.25))),
        ("empty".into(), Tensor::zeros([0, 3])),
    ]
}

fn refs<T: Float>(m: &[(String, Tensor<T>)]) -> Vec<(String, &Tensor<T>)> {
    m.iter().map(|(n, t)| (n.clone(), t)).collect()
}

fn expected<T: Float>(m: &[(String, Tensor<T>)]) -> Vec<(String, Shape)> {
    m.iter()
        .map(|(n, t)| (n.clone(), t.shape().clone()))
        .collect()
}

fn round_trip<T: Float>() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let m = model::<T>(1);
    checkpoint::save(&path, &refs(&m)).unwrap();

    let mut loaded = checkpoint::load::<T>(&path).unwrap();
    loaded.sort_by(|a, b| a.0.cmp(&b.0));
    let mut want = m.clone();
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(loaded, want, "bit-exact round trip");

    let checked = checkpoint::load_checked::<T>(&path, &expected(&m)).unwrap();
    let tensors: Vec<Tensor<T>> = m.iter().map(|(_, t)| t.clone()).collect();
    assert_eq!(checked, tensors, "load_checked returns the expected order");

    let info = checkpoint::inspect(&path).unwrap();
    assert_eq!(info.len(), m.len());
    let dtype = if T::DTYPE == ferrograd_tensor::DType::F32 {
        "F32"
    } else {
        "F64"
    };
    assert!(info.iter().all(|i| i.dtype == dtype));

    // Saving again over the file works and leaves no temporary file behind.
    checkpoint::save(&path, &refs(&model::<T>(2))).unwrap();
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["model.safetensors"]);
    assert_ne!(checkpoint::load::<T>(&path).unwrap(), loaded);
}

#[test]
fn round_trip_f32() {
    round_trip::<f32>();
}

#[test]
fn round_trip_f64() {
    round_trip::<f64>();
}

#[test]
fn file_layout_is_the_safetensors_spec() {
    // 8-byte little-endian header length, JSON header, then little-endian row-major data.
    let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3]);
    let bytes = checkpoint::to_bytes(&[("w".to_string(), &t)]).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!(n % 8, 0);
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    assert_eq!(header["w"]["dtype"], "F32");
    assert_eq!(header["w"]["shape"], serde_json::json!([2, 3]));
    assert_eq!(header["w"]["data_offsets"], serde_json::json!([0, 24]));
    let data = &bytes[8 + n..];
    assert_eq!(&data[4..8], &2.0f32.to_le_bytes());
    assert_eq!(&data[20..24], &6.0f32.to_le_bytes());
}

#[test]
fn save_rejects_duplicate_and_reserved_names() {
    let t = Tensor::<f32>::zeros([2]);
    let err = checkpoint::to_bytes(&[("a".to_string(), &t), ("a".to_string(), &t)]).unwrap_err();
    assert!(
        err.to_string().contains("`a`") && err.to_string().contains("twice"),
        "{err}"
    );
    let err = checkpoint::to_bytes(&[("__metadata__".to_string(), &t)]).unwrap_err();
    assert!(matches!(err, CheckpointError::InvalidName { .. }), "{err}");
}

#[test]
fn save_into_missing_folder_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/folder/m.safetensors");
    let t = Tensor::<f32>::zeros([2]);
    let err = checkpoint::save(&path, &[("a".to_string(), &t)]).unwrap_err();
    assert!(matches!(err, CheckpointError::Io { .. }), "{err}");
    assert!(err.to_string().contains("no/such/folder"), "{err}");
}

fn saved(dir: &Path) -> (std::path::PathBuf, Vec<u8>) {
    let path = dir.join("m.safetensors");
    checkpoint::save(&path, &refs(&model::<f32>(3))).unwrap();
    let bytes = fs::read(&path).unwrap();
    (path, bytes)
}

fn format_error(path: &Path) -> String {
    let err = checkpoint::load::<f32>(path).unwrap_err();
    assert!(
        matches!(
            err,
            CheckpointError::Format { .. } | CheckpointError::Corrupt { .. }
        ),
        "{err}"
    );
    let msg = err.to_string();
    assert!(msg.contains("m.safetensors"), "names the file: {msg}");
    msg
}

#[test]
fn truncated_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = saved(dir.path());
    for cut in [0, 3, 8, 20, bytes.len() / 2, bytes.len() - 1] {
        fs::write(&path, &bytes[..cut]).unwrap();
        format_error(&path);
    }
}

#[test]
fn corrupted_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = saved(dir.path());
    // A header length pointing past the end.
    let mut b = bytes.clone();
    b[..8].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
    fs::write(&path, &b).unwrap();
    format_error(&path);
    // Broken JSON.
    let mut b = bytes.clone();
    b[8] = b'[';
    fs::write(&path, &b).unwrap();
    assert!(format_error(&path).contains("JSON"));
    // Extra bytes after the data.
    let mut b = bytes.clone();
    b.extend_from_slice(&[0; 4]);
    fs::write(&path, &b).unwrap();
    format_error(&path);
    // Garbage.
    fs::write(&path, b"this is not a checkpoint at all, just some text").unwrap();
    format_error(&path);
}

#[test]
fn offsets_summing_past_usize_are_errors_not_panics() {
    // Eight F64 tensors of 2^58 - 1 elements: each offset fits in usize, their total
    // nearly fills it, and the file is tiny. safetensors' own length check adds the
    // header length to that total, so this must be rejected before it gets there.
    let n = (1u64 << 58) - 1;
    let size = n * 8;
    let mut header = String::from("{");
    for i in 0..8u64 {
        if i > 0 {
            header.push(',');
        }
        header.push_str(&format!(
            "\"t{i}\":{{\"dtype\":\"F64\",\"shape\":[{n}],\"data_offsets\":[{},{}]}}",
            i * size,
            (i + 1) * size
        ));
    }
    header.push('}');
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    let err = checkpoint::from_bytes::<f64>(&bytes, "huge").unwrap_err();
    assert!(matches!(err, CheckpointError::Corrupt { .. }), "{err}");
    assert!(
        err.to_string().contains("huge") && err.to_string().contains("`t0`"),
        "{err}"
    );
}

#[test]
fn load_checked_names_every_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt.safetensors");
    let m = model::<f32>(4);
    checkpoint::save(&path, &refs(&m)).unwrap();

    let want: Vec<(String, Shape)> = vec![
        ("encoder.0.weight".into(), Shape::from([5, 7])),
        ("encoder.0.bias".into(), Shape::from([6])),
        ("encoder.2.weight".into(), Shape::from([4, 5])),
        ("decoder.0.weight".into(), Shape::from([5, 4])),
        ("decoder.0.bias".into(), Shape::from([7])),
        ("scale".into(), Shape::scalar()),
    ];
    let err = checkpoint::load_checked::<f32>(&path, &want).unwrap_err();
    let msg = err.to_string();
    let CheckpointError::Mismatch { problems, .. } = &err else {
        panic!("expected a mismatch: {msg}");
    };
    assert_eq!(
        problems,
        &vec![
            Mismatch::WrongShape {
                name: "encoder.0.bias".into(),
                expected: Shape::from([6]),
                found: Shape::from([5]),
            },
            Mismatch::Missing {
                name: "decoder.0.bias".into(),
                expected: Shape::from([7]),
            },
            Mismatch::Unexpected {
                name: "empty".into(),
                shape: Shape::from([0, 3]),
            },
        ]
    );
    assert!(
        msg.contains("ckpt.safetensors") && msg.contains("3 problems"),
        "{msg}"
    );
    assert!(
        msg.contains("`encoder.0.bias` has shape [5], expected [6]"),
        "{msg}"
    );
    assert!(msg.contains("missing tensor `decoder.0.bias`"), "{msg}");
    assert!(msg.contains("unexpected tensor `empty`"), "{msg}");

    // Asking for f64 from an F32 file: every tensor has the wrong dtype.
    let err = checkpoint::load_checked::<f64>(&path, &expected(&m)).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("6 problems"), "{msg}");
    assert!(msg.contains("`scale` has dtype F32, expected F64"), "{msg}");
    let err = checkpoint::load::<f64>(&path).unwrap_err();
    assert!(err.to_string().contains("dtype F32, expected F64"), "{err}");
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let err = checkpoint::load::<f32>("/nonexistent/dir/x.safetensors").unwrap_err();
    assert!(matches!(err, CheckpointError::Io { .. }), "{err}");
    assert!(
        err.to_string().contains("/nonexistent/dir/x.safetensors"),
        "{err}"
    );
}
