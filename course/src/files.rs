//! Writing the examples' output files so that a crash never leaves a half-written one.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Writes `contents` to `path` atomically: into a temporary file next to it, then renamed
/// over `path`, so a reader sees the old file or the new one, never a partial write.
/// [`fail`](super::fail)s naming the file if either step does not succeed.
pub fn write_atomic(path: &Path, contents: &str) {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp: PathBuf = path.with_file_name(tmp_name);
    let written = fs::write(&tmp, contents).and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    super::or_fail(written, &format!("writing {}", path.display()));
}

/// Writes `value` as pretty-printed JSON (no trailing newline) to `path`, atomically
/// ([`write_atomic`]).
pub fn write_json(path: &Path, value: &Value) {
    write_atomic(path, &serde_json::to_string_pretty(value).expect("json"));
}
