//! Finding the homework's example binaries from an integration test, so the tests can run
//! them as a student would (flags, exit codes, messages).
//!
//! Examples are not `bin` targets, so `assert_cmd::cargo_bin` does not see them. `cargo
//! test` builds every example into `target/<profile>/examples/` before it runs the
//! integration tests, which live in `target/<profile>/deps/`; a test finds them from its
//! own path. A test never builds them itself: a nested `cargo build` would resolve
//! features for another set of packages and rebuild the dependencies (minutes, in the
//! middle of a test run).

use std::path::{Path, PathBuf};

/// The path of the example `name` built for the running test's profile. Panics, saying
/// how to build it, when it is missing or older than its source file.
pub fn path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("a test binary lives in target/<profile>/deps");
    let bin = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let release = if profile_dir.ends_with("release") {
        " --release"
    } else {
        ""
    };
    let how = format!(
        "run the whole suite (`cargo test{release}`, which builds the examples first) or \
         `cargo build{release} --examples`"
    );
    let built = std::fs::metadata(&bin)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| {
            panic!(
                "example `{name}` not found at {} ({e}): {how}",
                bin.display()
            )
        });
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(format!("{name}.rs"));
    if let Ok(edited) = std::fs::metadata(&source).and_then(|m| m.modified()) {
        assert!(
            edited <= built,
            "example `{name}` at {} is older than {}: {how}",
            bin.display(),
            source.display()
        );
    }
    bin
}
