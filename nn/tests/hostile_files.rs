//! Hostile files: special files in place of data, files that change while being read,
//! savers killed mid-write, headers that repeat a name. Each case must end in a result or
//! an error naming the file and what was expected — never a hang, a crash, an unbounded
//! read or litter on disk. Every test here failed (or hung, or crashed the process)
//! before the fix it covers.

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use ferrograd_nn::checkpoint::{self, CheckpointError};
use ferrograd_nn::data::mnist::{TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
use ferrograd_nn::data::{DataError, Mnist, MnistBytes};
use ferrograd_tensor::Tensor;

/// Runs `f` on another thread and fails the test if it does not finish in time: a call
/// that blocks (opening a FIFO) must show up as a failure, not a test run that never
/// ends. The blocked thread is abandoned; the process exits when the tests are done.
fn within<R: Send + 'static>(secs: u64, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("the call hung (no result within {secs} s)"))
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo reads it and touches nothing else.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(rc, 0, "mkfifo {}", path.display());
}

fn temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(".ferrograd-") && name.ends_with(".tmp")
        })
        .collect();
    found.sort();
    found
}

fn small_tensors() -> Vec<(String, Tensor<f32>)> {
    vec![("w".to_string(), Tensor::from_vec(vec![1.0, 2.0], [2]))]
}

fn save_small(path: &Path) {
    let t = small_tensors();
    let refs: Vec<(String, &Tensor<f32>)> = t.iter().map(|(n, t)| (n.clone(), t)).collect();
    checkpoint::save(path, &refs).unwrap();
}

// ---------------------------------------------------------------- checkpoint temporaries

/// Not a test of its own: when `FERROGRAD_SAVE_FOREVER` names a file, saves a large
/// checkpoint there in a loop until killed. `killed_saver_leaves_nothing_behind` runs this
/// test binary as that child.
#[test]
fn child_saves_forever() {
    let Some(path) = std::env::var_os("FERROGRAD_SAVE_FOREVER") else {
        return;
    };
    let big = Tensor::<f32>::zeros([4 << 20]);
    loop {
        checkpoint::save(&path, &[("big".to_string(), &big)]).unwrap();
    }
}

#[test]
fn killed_saver_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let mut tries = 0;
    loop {
        tries += 1;
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_saves_forever", "--test-threads=1"])
            .env("FERROGRAD_SAVE_FOREVER", &path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while temporaries(dir.path()).is_empty() && start.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(1));
        }
        child.kill().unwrap(); // SIGKILL: no destructor, no cleanup runs
        child.wait().unwrap();
        if !temporaries(dir.path()).is_empty() {
            break;
        }
        // The save finished between the check and the kill; try again.
        assert!(tries < 20, "never caught the child mid-save");
    }
    save_small(&path);
    assert_eq!(temporaries(dir.path()), Vec::<PathBuf>::new());
    assert_eq!(checkpoint::load::<f32>(&path).unwrap(), small_tensors());
}

#[test]
fn a_live_writers_temporary_is_left_alone_and_a_dead_ones_removed() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join(".ferrograd-checkpoint-live.tmp");
    let dead = dir.path().join(".ferrograd-checkpoint-dead.tmp");
    let unrelated = dir.path().join("notes.tmp");
    for p in [&live, &dead, &unrelated] {
        fs::write(p, b"partial").unwrap();
    }
    // A live writer holds an exclusive lock on its temporary file (another open file
    // description, as another process would have).
    let writer = fs::File::open(&live).unwrap();
    writer.lock().unwrap();
    let path = dir.path().join("model.safetensors");
    save_small(&path);
    assert_eq!(temporaries(dir.path()), vec![live.clone()]);
    assert!(unrelated.exists());
    drop(writer); // the writer dies
    save_small(&path);
    assert_eq!(temporaries(dir.path()), Vec::<PathBuf>::new());
    assert!(unrelated.exists());
}

fn umask() -> u32 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
    u32::from_str_radix(line.split_whitespace().nth(1).unwrap(), 8).unwrap()
}

#[test]
fn saving_keeps_the_mode_of_the_file_it_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    fs::write(&path, b"old").unwrap();
    for mode in [0o644, 0o640, 0o664] {
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        save_small(&path);
        let got = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(got, mode, "{got:o} != {mode:o}");
    }
}

#[test]
fn a_new_checkpoint_honours_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    save_small(&path);
    let got = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(got, 0o666 & !umask(), "{got:o}");
}

// ---------------------------------------------------------------- special files

fn assert_names(msg: &str, path: &Path, what: &str) {
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains(what), "{msg}");
    assert!(msg.contains("expected a regular file"), "{msg}");
}

#[test]
fn checkpoint_from_a_fifo_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("model.safetensors");
    mkfifo(&fifo);
    let f = fifo.clone();
    let err = within(10, move || checkpoint::load::<f32>(&f).unwrap_err());
    assert_names(&err.to_string(), &fifo, "named pipe");
    let f = fifo.clone();
    let err = within(10, move || checkpoint::inspect(&f).unwrap_err());
    assert_names(&err.to_string(), &fifo, "named pipe");
}

#[test]
fn checkpoint_from_a_device_is_refused_before_reading() {
    // Used to read /dev/zero until memory ran out.
    let err = within(10, || checkpoint::load::<f32>("/dev/zero").unwrap_err());
    assert!(matches!(err, CheckpointError::Io { .. }), "{err}");
    assert_names(&err.to_string(), Path::new("/dev/zero"), "character device");
}

#[test]
fn checkpoint_from_a_directory_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let err = checkpoint::load::<f32>(dir.path()).unwrap_err();
    assert_names(&err.to_string(), dir.path(), "a directory");
}

// ---------------------------------------------------------------- MNIST files

fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut v = magic.to_be_bytes().to_vec();
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(body);
    v
}

/// A folder with the four files: `n` training and `n` test images of 28 x 28.
fn mnist_dir(n: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let pixels: Vec<u8> = (0..n as usize * 784).map(|i| (i % 251) as u8).collect();
    let labels: Vec<u8> = (0..n as usize).map(|i| (i % 10) as u8).collect();
    for (images, label_file) in [(TRAIN_IMAGES, TRAIN_LABELS), (TEST_IMAGES, TEST_LABELS)] {
        fs::write(dir.path().join(images), idx(2051, &[n, 28, 28], &pixels)).unwrap();
        fs::write(dir.path().join(label_file), idx(2049, &[n], &labels)).unwrap();
    }
    dir
}

#[test]
fn mnist_file_that_is_a_fifo_is_an_error_not_a_hang() {
    let dir = mnist_dir(3);
    let fifo = dir.path().join(TEST_LABELS);
    fs::remove_file(&fifo).unwrap();
    mkfifo(&fifo);
    let d = dir.path().to_path_buf();
    let err = within(10, move || Mnist::<f32>::load(Some(&d)).unwrap_err());
    assert!(matches!(err, DataError::Io { .. }), "{err}");
    assert_names(&err.to_string(), &fifo, "named pipe");
}

#[test]
fn mnist_file_that_is_a_directory_says_so() {
    // Used to fail with "No such device (os error 19)", from mapping a directory.
    let dir = mnist_dir(3);
    let sub = dir.path().join(TRAIN_IMAGES);
    fs::remove_file(&sub).unwrap();
    fs::create_dir(&sub).unwrap();
    let err = Mnist::<f32>::load(Some(dir.path())).unwrap_err();
    assert_names(&err.to_string(), &sub, "a directory");
}

#[test]
fn mnist_names_exactly_the_missing_files() {
    // The old message listed all four names whichever was missing, so it could not tell
    // the reader which one to fetch.
    let dir = mnist_dir(3);
    fs::remove_file(dir.path().join(TEST_LABELS)).unwrap();
    let msg = Mnist::<f32>::load(Some(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(msg.contains(TEST_LABELS), "{msg}");
    for present in [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES] {
        assert!(
            !msg.contains(present),
            "names {present}, which is there: {msg}"
        );
    }
    fs::remove_file(dir.path().join(TRAIN_IMAGES)).unwrap();
    let err = Mnist::<f32>::load(Some(dir.path())).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(&err, DataError::NotFound { missing, .. } if missing.len() == 2));
    assert!(
        msg.contains(TRAIN_IMAGES) && msg.contains(TEST_LABELS),
        "{msg}"
    );
    assert!(
        !msg.contains(TRAIN_LABELS) && !msg.contains(TEST_IMAGES),
        "{msg}"
    );
    assert!(
        msg.contains("fetch-mnist.sh") && msg.contains("MNIST_DIR"),
        "{msg}"
    );
}

#[test]
fn mnist_file_changing_size_while_loading_cannot_crash() {
    // With the files memory-mapped, a truncation between mapping and reading the pixels
    // killed the process with SIGBUS (exit 135), taking this whole test binary with it.
    // Read into memory, each load sees one size of the file: it loads or reports it.
    // 2000 images (1.5 MB) are read in one `read`; 22 000 (17 MB) by two threads, a half
    // each, which must agree on where a shrinking file ended.
    for (n, secs) in [(2000, 2), (22_000, 2)] {
        let dir = mnist_dir(n);
        let file = dir.path().join(TRAIN_IMAGES);
        let full = fs::read(&file).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let churn = {
            let (stop, file) = (stop.clone(), file.clone());
            std::thread::spawn(move || {
                let f = fs::OpenOptions::new().write(true).open(&file).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    f.set_len(16).unwrap();
                    std::thread::yield_now();
                    std::os::unix::fs::FileExt::write_all_at(&f, &full, 0).unwrap();
                    std::thread::yield_now();
                }
            })
        };
        let (mut ok, mut errors) = (0, 0);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(secs) {
            match MnistBytes::load(Some(dir.path())) {
                Ok(m) => {
                    assert_eq!((m.train.len(), m.train.dim()), (n as usize, 784));
                    ok += 1;
                }
                Err(e) => {
                    assert!(e.to_string().contains(TRAIN_IMAGES), "{e}");
                    errors += 1;
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        churn.join().unwrap();
        assert!(ok + errors > 0, "{n} images");
    }
}

// ---------------------------------------------------------------- misleading headers

fn safetensors_bytes(header: &str, data_len: usize) -> Vec<u8> {
    let mut v = (header.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(header.as_bytes());
    v.extend(std::iter::repeat_n(0u8, data_len));
    v
}

#[test]
fn a_duplicated_tensor_name_is_named() {
    // The JSON parser keeps the last `0.bias`, the bytes of the first are then unclaimed,
    // and the old error blamed the innocent neighbour: "invalid offset for tensor
    // `0.weight`".
    let header = r#"{"0.bias":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"0.weight":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"0.bias":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#;
    let bytes = safetensors_bytes(header, 12);
    let err = checkpoint::from_bytes::<f32>(&bytes, "dup.safetensors").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("`0.bias` appears more than once"), "{msg}");
    assert!(!msg.contains("0.weight"), "{msg}");
    let err = checkpoint::inspect_bytes(&bytes, "dup.safetensors").unwrap_err();
    assert!(err.to_string().contains("`0.bias`"), "{err}");
}

/// The header of a checkpoint holding one f32 named `w` (4 bytes of data).
const ONE_F32: &str = r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;

#[test]
fn a_huge_file_with_a_small_header_is_refused_before_reading_its_data() {
    // A 64 GiB sparse file that starts like a checkpoint of one f32: the header says 4
    // bytes of data. Reading it whole (the old behaviour) aborts the process on the
    // allocation or takes minutes; checking the length against the header first answers
    // after reading a few bytes.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disk-image.safetensors");
    fs::write(&path, safetensors_bytes(ONE_F32, 4)).unwrap();
    let huge = 64 << 30;
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(huge)
        .unwrap();
    let shown = path.clone();
    let err = within(5, move || checkpoint::load::<f32>(&shown)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, CheckpointError::Corrupt { .. }), "{msg}");
    assert!(msg.contains("disk-image.safetensors"), "{msg}");
    assert!(msg.contains(&format!("the file is {huge} bytes")), "{msg}");
    assert!(msg.contains("header describes"), "{msg}");
}

#[test]
fn a_checkpoint_with_trailing_bytes_is_refused_and_a_well_formed_one_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.safetensors");
    fs::write(&path, safetensors_bytes(ONE_F32, 4)).unwrap();
    let loaded = checkpoint::load::<f32>(&path).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].0, "w");
    fs::write(&path, safetensors_bytes(ONE_F32, 5)).unwrap();
    let msg = checkpoint::load::<f32>(&path).unwrap_err().to_string();
    let expected = 8 + ONE_F32.len() + 4;
    let want = format!(
        "the file is {} bytes, but its header describes {expected} ",
        expected + 1
    );
    assert!(msg.contains(&want), "{msg}");
}
