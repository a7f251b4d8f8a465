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
    #[cfg(unix)]
    if let Ok(len) = usize::try_from(len) {
        if len >= SPLIT_READ_MIN {
            return read_in_halves(&file, len);
        }
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(len).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Files from this size on are read by two threads, a half each (MNIST's 47 MB training
/// images; its other files are read whole).
#[cfg(unix)]
const SPLIT_READ_MIN: usize = 16 << 20;

/// The first `len` bytes of `file` (fewer if it has shrunk since it was opened), read by
/// this thread and a second one at once, a half each.
///
/// Most of reading a large file into fresh memory is the kernel copying it and faulting in
/// the buffer's pages, which it does for two threads in parallel: MNIST's training images
/// took 11.8–16.3 ms this way against 21.7–22.7 ms in one `read` (Zen 5, five alternating
/// runs each).
#[cfg(unix)]
fn read_in_halves(file: &File, len: usize) -> io::Result<Vec<u8>> {
    // Zeroed memory from the allocator is fresh pages, faulted in by the reads themselves.
    let mut bytes = vec![0u8; len];
    let half = len / 2;
    let (first, second) = bytes.split_at_mut(half);
    let (got_first, got_second) = std::thread::scope(|s| {
        let second = s.spawn(|| read_at_most(file, second, half as u64));
        let first = read_at_most(file, first, 0);
        (first, second.join())
    });
    let got_first = got_first?;
    let got_second = got_second.unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
    // A file that shrank meanwhile gives its bytes up to where it ended, as one `read`
    // would: the second half counts only if the first came back whole.
    bytes.truncate(if got_first < half {
        got_first
    } else {
        half + got_second
    });
    Ok(bytes)
}

/// Fills `buf` from `file` at `offset` until it is full or the file ends; returns the
/// bytes read.
#[cfg(unix)]
fn read_at_most(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn file_of(len: usize) -> (tempfile::NamedTempFile, Vec<u8>) {
        let bytes: Vec<u8> = (0..len).map(|i| (i * 131 + i / 7) as u8).collect();
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, &bytes).unwrap();
        (f, bytes)
    }

    /// A file at the size that is read in halves comes back byte for byte, and so does one
    /// just below it (read whole).
    #[test]
    fn large_files_read_in_halves_come_back_whole() {
        for len in [SPLIT_READ_MIN - 1, SPLIT_READ_MIN + 3] {
            let (f, bytes) = file_of(len);
            assert!(read_regular(f.path()).unwrap() == bytes, "{len} bytes");
        }
    }

    /// A file that shrank after it was opened gives its bytes up to its new end, wherever
    /// that end falls: past the midpoint (the second half comes back short), before it (the
    /// first half does, and the second half's bytes do not count), or at 0.
    #[test]
    fn a_file_shorter_than_its_opened_length_gives_what_it_has() {
        for (now, opened) in [
            (1001, 1001),
            (1000, 1500),
            (300, 1500),
            (750, 1500),
            (0, 64),
        ] {
            let (f, bytes) = file_of(now);
            let file = File::open(f.path()).unwrap();
            let got = read_in_halves(&file, opened).unwrap();
            assert!(
                got == bytes,
                "{now} bytes read as {opened}: got {}",
                got.len()
            );
        }
    }
}
