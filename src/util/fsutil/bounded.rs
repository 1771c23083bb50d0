//! Reading untrusted input files safely: only regular files, never more
//! than a documented number of bytes per kind of input (docs/GUARD.md
//! "Input limits").
//!
//! `/dev/zero` given as a grant would otherwise grow without end, and a
//! FIFO would block the run forever. So the path is `stat`ed first (a
//! directory, FIFO, socket or device is refused before it is opened), then
//! opened with `O_NONBLOCK` (a FIFO swapped in after the `stat` cannot block
//! the `open`), and the opened descriptor is `fstat`ed again: what is read is
//! what was checked. Reads stop one byte past the limit, so a file that
//! grows while it is read is refused too, never read whole.
//!
//! Database files and dumps are streamed, not read whole: they pass
//! [`open_regular`] (same checks, no size limit).

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// The size limits, one per kind of input (docs/GUARD.md "Input limits").
/// Each is far above any real file of its kind and far below what would
/// hurt a CI machine.
pub mod limit {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    /// A grant file (TOML or JSON).
    pub const GRANT: u64 = 64 * KIB;
    /// A trust file (allowed signers, owner keys).
    pub const TRUST: u64 = MIB;
    /// A detached signature.
    pub const SIGNATURE: u64 = 64 * KIB;
    /// A provenance sidecar or ledger entry.
    pub const SIDECAR: u64 = 64 * KIB;
    /// The workspace key.
    pub const KEY: u64 = KIB;
    /// A scenario file.
    pub const SCENARIO: u64 = MIB;
    /// A profile (grows with the number of tables and columns).
    pub const PROFILE: u64 = 16 * MIB;
    /// An intake allow-list.
    pub const ALLOW_LIST: u64 = MIB;
    /// A change script (up/down SQL, a migration step).
    pub const SCRIPT: u64 = 64 * MIB;
    /// A proof report (diffs are capped inside the report itself).
    pub const REPORT: u64 = 64 * MIB;
    /// A blocker map.
    pub const MAP: u64 = 16 * MIB;
    /// A seal manifest (`SEALS.json`).
    pub const MANIFEST: u64 = 64 * MIB;
    /// One statement of a SQL text dump (the dump itself is streamed and
    /// has no limit); SQLite's own default ceiling is 1,000,000,000 bytes.
    pub const DUMP_STATEMENT: u64 = 256 * MIB;
}

/// An input file that cannot be used. Never a guard refusal: exit 2.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {what} {path}: {source}")]
    Io {
        what: String,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{what} {path} is {kind}, not a regular file; give the path of a regular file")]
    NotRegular {
        what: String,
        path: PathBuf,
        kind: &'static str,
    },
    #[error(
        "{what} {path} is larger than the {limit}-byte limit for a {what} \
         ({size}); a real one is far smaller (docs/GUARD.md \"Input limits\")"
    )]
    TooLarge {
        what: String,
        path: PathBuf,
        /// What was seen: "N bytes" or "more than N bytes" (it grew).
        size: String,
        limit: u64,
    },
    #[error("{what} {path} is not UTF-8 text")]
    NotUtf8 { what: String, path: PathBuf },
}

impl InputError {
    /// The path the error is about.
    pub fn path(&self) -> &Path {
        match self {
            InputError::Io { path, .. }
            | InputError::NotRegular { path, .. }
            | InputError::TooLarge { path, .. }
            | InputError::NotUtf8 { path, .. } => path,
        }
    }

    /// True when the file does not exist (callers that treat a missing
    /// optional file as "absent").
    pub fn is_not_found(&self) -> bool {
        matches!(self, InputError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// What a non-regular file is, for messages.
fn kind_of(ft: std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_file() {
        None
    } else if ft.is_dir() {
        Some("a directory")
    } else if ft.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if ft.is_socket() {
        Some("a socket")
    } else if ft.is_char_device() {
        Some("a character device")
    } else if ft.is_block_device() {
        Some("a block device")
    } else {
        Some("not a regular file")
    }
}

enum OpenFail {
    Io(io::Error),
    NotRegular(&'static str),
}

/// The checks behind [`open_regular`]: stat the path, open it without
/// blocking, fstat what was opened.
fn open_checked(path: &Path) -> Result<File, OpenFail> {
    use std::os::unix::fs::OpenOptionsExt;
    let meta = std::fs::metadata(path).map_err(OpenFail::Io)?;
    if let Some(kind) = kind_of(meta.file_type()) {
        return Err(OpenFail::NotRegular(kind));
    }
    // O_NONBLOCK: a FIFO swapped in after the stat must not block open(2);
    // on a regular file it changes nothing. O_NOCTTY: a terminal swapped in
    // must not become our controlling terminal.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(OpenFail::Io)?;
    let opened = file.metadata().map_err(OpenFail::Io)?;
    if let Some(kind) = kind_of(opened.file_type()) {
        return Err(OpenFail::NotRegular(kind));
    }
    Ok(file)
}

/// Open `path` for reading only if it is a regular file (symlinks are
/// followed: inputs may be linked; write targets are the guard's business).
/// The check is made on the path, then again on the opened descriptor.
pub fn open_regular(path: &Path, what: &str) -> Result<File, InputError> {
    open_checked(path).map_err(|fail| match fail {
        OpenFail::Io(source) => InputError::Io {
            what: what.to_string(),
            path: path.to_path_buf(),
            source,
        },
        OpenFail::NotRegular(kind) => InputError::NotRegular {
            what: what.to_string(),
            path: path.to_path_buf(),
            kind,
        },
    })
}

/// [`open_regular`] for callers whose errors carry an `io::Error` (hashing,
/// streaming a dump): a non-regular file is an `InvalidInput` error that
/// says what the file is.
pub fn open_regular_io(path: &Path) -> io::Result<File> {
    open_checked(path).map_err(|fail| match fail {
        OpenFail::Io(e) => e,
        OpenFail::NotRegular(kind) => io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("it is {kind}, not a regular file"),
        ),
    })
}

/// Read a whole input file of at most `limit` bytes; `what` names the kind
/// of input in messages ("grant", "report", …).
pub fn read_bounded(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>, InputError> {
    let file = open_regular(path, what)?;
    read_open_bounded(file, path, limit, what)
}

/// [`read_bounded`], as UTF-8 text.
pub fn read_bounded_string(path: &Path, limit: u64, what: &str) -> Result<String, InputError> {
    String::from_utf8(read_bounded(path, limit, what)?).map_err(|_| InputError::NotUtf8 {
        what: what.to_string(),
        path: path.to_path_buf(),
    })
}

/// Read an already opened (and checked) file up to `limit` bytes.
pub fn read_open_bounded(
    file: File,
    path: &Path,
    limit: u64,
    what: &str,
) -> Result<Vec<u8>, InputError> {
    let io = |source| InputError::Io {
        what: what.to_string(),
        path: path.to_path_buf(),
        source,
    };
    let too_large = |size: String| InputError::TooLarge {
        what: what.to_string(),
        path: path.to_path_buf(),
        size,
        limit,
    };
    let len = file.metadata().map_err(io)?.len();
    if len > limit {
        return Err(too_large(format!("{len} bytes")));
    }
    // Read one byte more than allowed: a file that grew since the fstat is
    // refused instead of being read without end.
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(format!("more than {limit} bytes")));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_small_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g.toml");
        std::fs::write(&p, "a = 1\n").unwrap();
        assert_eq!(read_bounded_string(&p, 100, "grant").unwrap(), "a = 1\n");
        assert_eq!(read_bounded(&p, 6, "grant").unwrap().len(), 6);
    }

    #[test]
    fn refuses_a_file_over_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g.toml");
        std::fs::write(&p, "1234567").unwrap();
        let e = read_bounded(&p, 6, "grant").unwrap_err();
        assert!(matches!(e, InputError::TooLarge { limit: 6, .. }), "{e}");
        assert!(e.to_string().contains("6-byte limit"), "{e}");
    }

    #[test]
    fn refuses_a_directory_a_device_and_a_fifo_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_bounded(dir.path(), 10, "report").unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        let e = read_bounded(Path::new("/dev/zero"), 10, "report").unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo on a NUL-terminated path we own.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_bounded(&fifo, 10, "grant").unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
    }

    #[test]
    fn missing_files_say_so() {
        let e = read_bounded(Path::new("/nonexistent/x"), 10, "map").unwrap_err();
        assert!(e.is_not_found());
        assert!(e.to_string().starts_with("cannot read map /nonexistent/x"));
    }

    #[test]
    fn refuses_non_utf8_text() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.toml");
        std::fs::write(&p, [0xff, 0xfe]).unwrap();
        let e = read_bounded_string(&p, 10, "scenario").unwrap_err();
        assert!(matches!(e, InputError::NotUtf8 { .. }));
    }
}
