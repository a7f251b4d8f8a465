//! Opening input files without hanging or reading without bound: the one place where
//! checkpoint and MNIST loading decide that a path is fit to read.
//!
//! Only regular files are read. A FIFO would block `open` until a writer appears (for
//! ever, usually), a character device such as `/dev/zero` never ends, and a directory
//! fails with an unhelpful OS error ("Is a directory", or "No such device" from `mmap`).
//! The path's type is checked before it is opened, so a FIFO is never opened at all; the
//! open itself is non-blocking and the opened descriptor is checked again, so a path
//! swapped for a FIFO in between cannot hang either. Reading stops at the size the
//! opened file had, so a file growing meanwhile cannot make the read unbounded.

use std::fs::{File, FileType, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

/// What a file type is, in words, for an error that says what was found instead of a
/// regular file.
fn describe(t: FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// The error for a path that is not a regular file. Kind `InvalidInput`, since retrying
/// cannot help; callers wrap it with the path.
fn not_regular(t: FileType) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("is {}, expected a regular file", describe(t)),
    )
}

/// Opens `path` for reading if it is a regular file (symbolic links are followed), and
/// returns it with its length at the time of opening.
pub(crate) fn open_regular(path: &Path) -> io::Result<(File, u64)> {
    let t = std::fs::metadata(path)?.file_type();
    if !t.is_file() {
        return Err(not_regular(t));
    }
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // The path may have been replaced by a FIFO since the check: O_NONBLOCK makes that
        // open return at once instead of waiting for a writer; fstat below then rejects it.
        // For a regular file the flag changes nothing.
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(not_regular(meta.file_type()));
    }
    Ok((file, meta.len()))
}

/// The bytes of the regular file at `path` (see [`open_regular`]), at most as many as it
/// had when opened.
pub(crate) fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    let (file, len) = open_regular(path)?;
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(len).read_to_end(&mut bytes)?;
    Ok(bytes)
}
