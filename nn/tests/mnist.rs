//! MNIST loading: a real slice the repository carries, and damaged copies written to a temp dir.

use std::fs;
use std::path::{Path, PathBuf};

use ferrograd_nn::data::mnist::{self, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
use ferrograd_nn::data::{DataError, Mnist};

/// The slice of real MNIST the repository carries (the first 1,000 test images and
/// labels, see `tests/data/mnist-t10k-first1000/README.md`), so these tests run on a
/// fresh clone with no network. A missing file fails the test by name: never a skip.
fn real_slice(file: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/mnist-t10k-first1000")
        .join(file);
    fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; this file is part of the repository (restore it with `git checkout`)",
            path.display()
        )
    })
}

/// A folder holding the real slice under all four canonical names, so the whole loader
/// (`Mnist::load`: resolve, open, parse, convert, split) runs on real bytes.
fn real_slice_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let (images, labels) = (real_slice(TEST_IMAGES), real_slice(TEST_LABELS));
    for (name, bytes) in [
        (TRAIN_IMAGES, &images),
        (TRAIN_LABELS, &labels),
        (TEST_IMAGES, &images),
        (TEST_LABELS, &labels),
    ] {
        fs::write(dir.path().join(name), bytes).unwrap();
    }
    dir
}

#[test]
fn real_mnist_slice_loads_with_known_statistics() {
    let dir = real_slice_folder();
    let m = Mnist::<f32>::load(Some(dir.path())).unwrap();
    assert_eq!(m.test.x.dims(), &[1000, 784]);
    assert_eq!(m.train.x.dims(), &[1000, 784]);
    assert_eq!(&m.test.labels[..10], &[7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    let mut counts = [0usize; 10];
    for &l in &m.test.labels {
        counts[l] += 1;
    }
    assert_eq!(counts, [85, 126, 116, 107, 110, 87, 87, 99, 89, 94]);
    // The byte sum of all 784,000 pixels, as IDX stores them.
    let byte_sum: f64 = m
        .test
        .x
        .data()
        .iter()
        .map(|&x| (x * 255.0).round() as f64)
        .sum();
    assert_eq!(byte_sum, 24_443_134.0);
    let (lo, hi) = m
        .test
        .x
        .data()
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    assert_eq!((lo, hi), (0.0, 1.0));
    // Image 0 (a 7): its first ink is at pixel 202 (row 7, column 6): 84, 185, 159.
    assert_eq!(m.test.x[[0, 201]], 0.0);
    assert_eq!(m.test.x[[0, 202]], 84.0 / 255.0);
    assert_eq!(m.test.x[[0, 203]], 185.0 / 255.0);
    // The last image: the header's count and the data agree to the final record.
    assert_eq!(m.test.x[[999, 178]], 130.0 / 255.0);

    let (train, valid) = m.train_valid_split(0.9).unwrap();
    assert_eq!((train.len(), valid.len()), (900, 100));
    assert_eq!(valid.labels[..], m.train.labels[900..]);

    let f64s = Mnist::<f64>::load(Some(dir.path())).unwrap();
    assert_eq!(f64s.test.x[[0, 203]] as f32, m.test.x[[0, 203]]);
}

#[test]
fn env_var_and_default_folder() {
    // Only resolve_dir is exercised: tests share the environment, so it is not modified.
    let explicit = Mnist::<f32>::resolve_dir(Some(Path::new("/x/y")));
    assert_eq!(explicit, PathBuf::from("/x/y"));
    let implicit = Mnist::<f32>::resolve_dir(None);
    match std::env::var_os("MNIST_DIR") {
        Some(d) if !d.is_empty() => assert_eq!(implicit, PathBuf::from(d)),
        _ => assert_eq!(implicit, PathBuf::from("data/mnist")),
    }
}

fn images_file(count: u32, rows: u32, cols: u32) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [2051u32, count, rows, cols] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v.extend((0..count as usize * rows as usize * cols as usize).map(|i| (i % 256) as u8));
    v
}

fn labels_file(labels: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [2049u32, labels.len() as u32] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v.extend_from_slice(labels);
    v
}

/// A tiny but valid MNIST folder: 3 training and 2 test images.
fn tiny_mnist() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(TRAIN_IMAGES), images_file(3, 28, 28)).unwrap();
    fs::write(dir.path().join(TRAIN_LABELS), labels_file(&[3, 1, 4])).unwrap();
    fs::write(dir.path().join(TEST_IMAGES), images_file(2, 28, 28)).unwrap();
    fs::write(dir.path().join(TEST_LABELS), labels_file(&[9, 0])).unwrap();
    dir
}

/// Loads after `damage` rewrote one file; returns the error message.
fn load_err(file: &str, damage: impl FnOnce(Vec<u8>) -> Vec<u8>) -> (DataError, String) {
    let dir = tiny_mnist();
    let path = dir.path().join(file);
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, damage(bytes)).unwrap();
    let err = Mnist::<f32>::load(Some(dir.path())).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(file), "message does not name {file}: {msg}");
    (err, msg)
}

#[test]
fn tiny_folder_loads() {
    let dir = tiny_mnist();
    let m = Mnist::<f64>::load(Some(dir.path())).unwrap();
    assert_eq!(m.train.x.dims(), &[3, 784]);
    assert_eq!(m.train.labels, vec![3, 1, 4]);
    assert_eq!(m.test.labels, vec![9, 0]);
    assert_eq!(m.train.x[[0, 255]], 1.0);
    assert_eq!(m.train.x[[0, 1]], 1.0 / 255.0);
}

#[test]
fn truncated_images_file() {
    let (err, msg) = load_err(TRAIN_IMAGES, |mut b| {
        b.truncate(b.len() - 100);
        b
    });
    assert!(matches!(err, DataError::Truncated { .. }), "{msg}");
    assert!(
        msg.contains("truncated") && msg.contains("3 images of 28x28"),
        "{msg}"
    );
    assert!(msg.contains("2368") && msg.contains("2268"), "{msg}");
}

#[test]
fn truncated_header() {
    let (err, msg) = load_err(TEST_LABELS, |mut b| {
        b.truncate(6);
        b
    });
    assert!(matches!(err, DataError::Truncated { .. }), "{msg}");
}

#[test]
fn empty_file() {
    let (err, msg) = load_err(TEST_IMAGES, |_| Vec::new());
    assert!(matches!(err, DataError::Truncated { .. }), "{msg}");
}

#[test]
fn trailing_bytes() {
    let (err, msg) = load_err(TRAIN_LABELS, |mut b| {
        b.extend_from_slice(&[0, 0]);
        b
    });
    assert!(matches!(err, DataError::TrailingBytes { .. }), "{msg}");
    assert!(msg.contains("2 trailing bytes"), "{msg}");
}

#[test]
fn wrong_magic() {
    // Labels where images belong: magic 2049 instead of 2051.
    let (err, msg) = load_err(TRAIN_IMAGES, |_| labels_file(&[1, 2, 3]));
    assert!(
        matches!(err, DataError::BadMagic { found: 2049, .. }),
        "{msg}"
    );
    assert!(msg.contains("2051") && msg.contains("2049"), "{msg}");
}

#[test]
fn gzip_file_is_named_as_such() {
    let (_, msg) = load_err(TEST_IMAGES, |_| vec![0x1f, 0x8b, 0x08, 0x08, 1, 2, 3, 4]);
    assert!(msg.contains("gzip"), "{msg}");
}

#[test]
fn corrupted_dimensions() {
    // Rows = 0.
    let (err, msg) = load_err(TRAIN_IMAGES, |mut b| {
        b[8..12].copy_from_slice(&0u32.to_be_bytes());
        b
    });
    assert!(matches!(err, DataError::BadHeader { .. }), "{msg}");
    // 14x56: same byte count, not MNIST's shape.
    let (err, msg) = load_err(TRAIN_IMAGES, |mut b| {
        b[8..12].copy_from_slice(&14u32.to_be_bytes());
        b[12..16].copy_from_slice(&56u32.to_be_bytes());
        b
    });
    assert!(matches!(err, DataError::BadHeader { .. }), "{msg}");
    assert!(msg.contains("14x56") && msg.contains("28x28"), "{msg}");
    // A count that would overflow the size computation.
    let (err, msg) = load_err(TRAIN_IMAGES, |mut b| {
        b[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        b
    });
    assert!(matches!(err, DataError::Truncated { .. }), "{msg}");
}

#[test]
fn label_out_of_range() {
    let (err, msg) = load_err(TEST_LABELS, |mut b| {
        b[9] = 10;
        b
    });
    assert!(
        matches!(
            err,
            DataError::BadLabel {
                index: 1,
                value: 10,
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains("label 1 is 10"), "{msg}");
}

#[test]
fn count_mismatch_names_both_files() {
    let (err, msg) = load_err(TRAIN_LABELS, |_| labels_file(&[1, 2]));
    assert!(
        matches!(
            err,
            DataError::CountMismatch {
                n_images: 3,
                n_labels: 2,
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains(TRAIN_IMAGES), "{msg}");
}

#[test]
fn missing_file_says_how_to_get_it() {
    let dir = tiny_mnist();
    fs::remove_file(dir.path().join(TEST_LABELS)).unwrap();
    let err = Mnist::<f32>::load(Some(dir.path())).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DataError::NotFound { .. }), "{msg}");
    assert!(msg.contains(TEST_LABELS), "{msg}");
    assert!(msg.contains("scripts/fetch-mnist.sh"), "{msg}");
    assert!(msg.contains("MNIST_DIR"), "{msg}");
}

#[test]
fn parsers_work_on_plain_bytes() {
    let bytes = images_file(2, 3, 4);
    let v = mnist::parse_idx_images(&bytes, "mem").unwrap();
    assert_eq!((v.count, v.rows, v.cols, v.pixels.len()), (2, 3, 4, 24));
    let l = labels_file(&[0, 9]);
    assert_eq!(mnist::parse_idx_labels(&l, "mem").unwrap().labels, &[0, 9]);
}
