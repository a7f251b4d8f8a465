//! Writing the examples' output files so that a crash never leaves a half-written one.

use std::path::Path;

use ferrograd::nn::atomic::{self, Durability};
use serde_json::Value;

/// Writes `contents` to `path` atomically: into a temporary file next to it, then renamed
/// over `path`, so a reader sees the old file or the new one, never a partial write, and a
/// run killed midway leaves no temporary that outlives the next write into the folder
/// (see `ferrograd::nn::atomic`). [`fail`](super::fail)s naming the file if a step does
/// not succeed.
pub fn write_atomic(path: &Path, contents: &str) {
    let written = atomic::write(path, contents.as_bytes(), Durability::ProcessCrash);
    super::or_fail(written, &format!("writing {}", path.display()));
}

/// Writes `value` as pretty-printed JSON (no trailing newline) to `path`, atomically
/// ([`write_atomic`]).
pub fn write_json(path: &Path, value: &Value) {
    write_atomic(path, &serde_json::to_string_pretty(value).expect("json"));
}
