//! Replacing a file atomically: a reader, or the next run, sees the old file or the new
//! one, never part of one, and a writer killed midway leaves nothing that lasts.
//!
//! [`write()`] puts the bytes into a temporary file in the destination's folder and renames
//! it over the destination; a rename within one file system is atomic. Checkpoints also
//! sync the file and the folder ([`Durability::Synced`]), so the new file survives a power
//! cut; plots and reports only need to survive the process being killed
//! ([`Durability::ProcessCrash`]), and skip the syncs, which can cost milliseconds each on
//! a virtual disk.
//!
//! The temporaries are named `.ferrograd-*.tmp`. A writer killed before its rename leaves
//! one behind, and the next [`write()`] into that folder removes it. Each writer holds an
//! exclusive `flock` on its temporary until the rename, so a temporary whose lock can be
//! taken belongs to a dead writer; a live writer's file (even one in another process or
//! PID namespace, which a PID in the name could not tell) is never touched.
//!
//! ```
//! use ferrograd_nn::atomic::{self, Durability};
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("report.txt");
//! atomic::write(&path, b"first", Durability::ProcessCrash)?;
//! atomic::write(&path, b"second", Durability::ProcessCrash)?;
//! assert_eq!(std::fs::read(&path)?, b"second");
//! assert_eq!(std::fs::read_dir(dir.path())?.count(), 1); // no temporary left
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Name prefix of the temporary files [`write()`] creates beside the destination.
const TMP_PREFIX: &str = ".ferrograd-";
/// Name suffix of those temporary files.
const TMP_SUFFIX: &str = ".tmp";

/// How much a finished [`write()`] survives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// The process being killed, and a power cut or kernel crash: the file and the folder
    /// are synced before [`write()`] returns (checkpoints).
    Synced,
    /// The process being killed, at any moment; not a power cut (plots, reports: files a
    /// run can write again).
    ProcessCrash,
}

/// Why [`write()`] failed: the step, the file or folder it was done on, and the operating
/// system's error.
#[derive(Debug)]
pub struct WriteError {
    /// The file or folder involved.
    pub path: PathBuf,
    /// What was being done ("create a temporary file in", "rename temporary file onto", ...).
    pub op: &'static str,
    /// The operating system's error.
    pub source: std::io::Error,
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot {} {}: {}",
            self.op,
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Replaces the file at `path` with `bytes`, atomically (see the module docs). An existing
/// file's permissions are kept; a new file gets `0666` minus the umask. Temporaries left in
/// the folder by dead writers are removed first.
pub fn write(path: &Path, bytes: &[u8], durability: Durability) -> Result<(), WriteError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let failed = |op: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |source| WriteError {
            path: p,
            op,
            source,
        }
    };
    remove_stale_temporaries(dir);
    let mut tmp = locked_temporary(dir, path).map_err(failed("create a temporary file in", dir))?;
    tmp.write_all(bytes)
        .map_err(failed("write temporary file for", path))?;
    if durability == Durability::Synced {
        tmp.as_file()
            .sync_all()
            .map_err(failed("sync temporary file for", path))?;
    }
    // The returned handle keeps the lock until the rename is done.
    let _locked = tmp
        .persist(path)
        .map_err(|e| failed("rename temporary file onto", path)(e.error))?;
    #[cfg(unix)]
    if durability == Durability::Synced {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(failed("sync the folder of", path))?;
    }
    Ok(())
}

/// A new temporary file in `dir` for replacing `dest`, holding an exclusive lock that
/// marks its writer as alive, with `dest`'s permissions (or `0666` minus the umask).
fn locked_temporary(dir: &Path, dest: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(TMP_PREFIX).suffix(TMP_SUFFIX);
    #[cfg(unix)]
    let existing = fs::metadata(dest).ok().filter(fs::Metadata::is_file);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // tempfile's default is 0600; giving the mode at creation lets the umask apply.
        builder.permissions(fs::Permissions::from_mode(0o666));
    }
    loop {
        let tmp = builder.tempfile_in(dir)?;
        // Blocking: a cleaner holds the lock only for a moment.
        tmp.as_file().lock()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            // A cleaner may have locked and removed the file between its creation and our
            // lock; then it has no name left and a fresh one is needed.
            if tmp.as_file().metadata()?.nlink() == 0 {
                continue;
            }
            if let Some(meta) = &existing {
                // Set explicitly, not at creation, so the umask cannot narrow them.
                tmp.as_file().set_permissions(meta.permissions())?;
            }
        }
        return Ok(tmp);
    }
}

/// Removes temporary files of writers that died before renaming them: those whose lock
/// can be taken. Best effort: whatever cannot be checked or removed is left alone.
fn remove_stale_temporaries(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                continue;
            };
            if !(name.starts_with(TMP_PREFIX) && name.ends_with(TMP_SUFFIX)) {
                continue;
            }
            let path = entry.path();
            let Ok((file, _)) = crate::files::open_regular(&path) else {
                continue;
            };
            if file.try_lock().is_err() {
                continue; // a live writer
            }
            // Remove the name only if it still denotes the file locked here.
            let (Ok(locked), Ok(named)) = (file.metadata(), fs::symlink_metadata(&path)) else {
                continue;
            };
            if (locked.dev(), locked.ino()) == (named.dev(), named.ino()) {
                let _ = fs::remove_file(&path);
            }
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_step_names_itself_and_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-folder").join("plot.png");
        let e = write(&path, b"x", Durability::ProcessCrash).unwrap_err();
        assert_eq!(e.op, "create a temporary file in");
        assert_eq!(e.path, dir.path().join("missing-folder"));
        let shown = e.to_string();
        assert!(
            shown.starts_with("cannot create a temporary file in "),
            "{shown}"
        );
        assert!(shown.contains("missing-folder"), "{shown}");
    }

    #[test]
    fn both_durabilities_replace_the_file_and_leave_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        for (i, d) in [Durability::Synced, Durability::ProcessCrash]
            .into_iter()
            .enumerate()
        {
            write(&path, &[i as u8; 3], d).unwrap();
            assert_eq!(fs::read(&path).unwrap(), vec![i as u8; 3]);
            assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "{d:?}");
        }
    }
}
