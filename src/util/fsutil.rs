//! File writes that never leave a half-written file behind: write to a
//! temporary file in the destination's folder, fsync, then rename over (or,
//! without `overwrite`, refuse to replace an existing file). And reads of
//! untrusted input files that are bounded and never block (`bounded`).

mod bounded;
pub use bounded::{
    InputError, limit, open_regular, open_regular_io, read_bounded, read_bounded_string,
    read_open_bounded,
};

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{path} already exists; pass --force to replace it")]
    Exists { path: PathBuf },
    #[error("{path} is a directory; give the path of a file to write")]
    Directory { path: PathBuf },
    #[error("cannot write {path}: the folder {folder} does not exist")]
    NoFolder { path: PathBuf, folder: PathBuf },
    #[error("{path} is a file, not a folder; give a folder")]
    NotAFolder { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> WriteError + '_ {
    move |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The folder a file lives in ("." for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Can `dest` be written? Not when it is a directory, when it exists and
/// `overwrite` is off, or when its folder does not exist — each named as
/// such (not as a temp file's "no such file").
pub fn check_output(dest: &Path, overwrite: bool) -> Result<(), WriteError> {
    let path = || dest.to_path_buf();
    match std::fs::metadata(dest) {
        Ok(m) if m.is_dir() => return Err(WriteError::Directory { path: path() }),
        Ok(_) if !overwrite => return Err(WriteError::Exists { path: path() }),
        _ => {}
    }
    let folder = parent_dir(dest);
    if !folder.is_dir() {
        return Err(WriteError::NoFolder {
            path: path(),
            folder: folder.to_path_buf(),
        });
    }
    Ok(())
}

/// For an output a user names on the command line (`generate --out
/// work/s.db`): [`check_output`] before any work is done, and the missing
/// folders made (`mkdir -p`).
pub fn prepare_output(dest: &Path, overwrite: bool) -> Result<(), WriteError> {
    match check_output(dest, overwrite) {
        Err(WriteError::NoFolder { folder, .. }) => {
            std::fs::create_dir_all(&folder).map_err(|source| WriteError::Io {
                path: folder,
                source,
            })
        }
        other => other,
    }
}

/// Make sure `dir` is a folder rollproof can write in, before slow work
/// that ends by writing there (`rehearse --keep DIR`, `--reports DIR`):
/// created if missing; a file in its place, or a folder that refuses a
/// new file (read-only), is named now instead of after the run.
pub fn writable_dir(dir: &Path) -> Result<(), WriteError> {
    let path = || dir.to_path_buf();
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => return Err(WriteError::NotAFolder { path: path() }),
        Ok(_) => {}
        Err(_) => std::fs::create_dir_all(dir).map_err(io_err(dir))?,
    }
    tempfile::Builder::new()
        .prefix(".rollproof-probe-")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| WriteError::Io {
            path: path(),
            // tempfile names its random file in the message; keep the kind.
            source: io::Error::new(
                e.kind(),
                format!("cannot create files there ({})", e.kind()),
            ),
        })
}

/// Free bytes for an unprivileged writer on the file system holding `dir`
/// (`statvfs`); None when unknown.
pub fn free_bytes(dir: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: a valid NUL-terminated path and a zeroed out-struct.
        if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
            return None;
        }
        #[allow(clippy::unnecessary_cast)]
        Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

/// A temporary file beside `dest`, to be filled and then [`commit`]ted.
///
/// Its mode is what the file will keep: the mode of the file it replaces,
/// or for a new file what the umask allows of 0666 (as `>` in a shell
/// gives), not tempfile's owner-only 0600. Secrets (the workspace key) are
/// written elsewhere, with 0600 explicitly.
pub fn temp_beside(dest: &Path) -> Result<NamedTempFile, WriteError> {
    let dir = parent_dir(dest);
    if !dir.is_dir() {
        return Err(WriteError::NoFolder {
            path: dest.to_path_buf(),
            folder: dir.to_path_buf(),
        });
    }
    let mut b = tempfile::Builder::new();
    // Named with its owner, so a dead run's leftover is told from a live
    // one's (util::cleanup), and removed if this process is interrupted.
    let prefix = crate::util::cleanup::temp_prefix();
    b.prefix(&prefix);
    #[cfg(unix)]
    b.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    // Created and registered as one step (util::cleanup::creating).
    let tmp = crate::util::cleanup::creating(|| {
        let tmp = b.tempfile_in(dir).map_err(io_err(dest))?;
        crate::util::cleanup::register(tmp.path());
        Ok::<_, WriteError>(tmp)
    })?;
    if let Ok(meta) = std::fs::metadata(dest)
        && meta.is_file()
    {
        tmp.as_file()
            .set_permissions(meta.permissions())
            .map_err(io_err(dest))?;
    }
    Ok(tmp)
}

/// Move a finished temp file into place, atomically.
pub fn commit(tmp: NamedTempFile, dest: &Path, overwrite: bool) -> Result<(), WriteError> {
    tmp.as_file().sync_all().map_err(io_err(dest))?;
    if dest.is_dir() {
        return Err(WriteError::Directory {
            path: dest.to_path_buf(),
        });
    }
    // Renamed and unregistered as one step: an interruption either removes
    // the temp file or finds the finished file in place, never both undone.
    crate::util::cleanup::creating(|| {
        let path = tmp.path().to_path_buf();
        let done = if overwrite {
            tmp.persist(dest)
                .map(|_| ())
                .map_err(|e| io_err(dest)(e.error))
        } else {
            tmp.persist_noclobber(dest).map(|_| ()).map_err(|e| {
                if e.error.kind() == io::ErrorKind::AlreadyExists {
                    WriteError::Exists {
                        path: dest.to_path_buf(),
                    }
                } else {
                    io_err(dest)(e.error)
                }
            })
        };
        crate::util::cleanup::unregister(&path);
        done
    })
}

/// Replace (or create) `dest` with `bytes` atomically.
pub fn write_atomic(dest: &Path, bytes: &[u8], overwrite: bool) -> Result<(), WriteError> {
    check_output(dest, overwrite)?;
    let mut tmp = temp_beside(dest)?;
    tmp.write_all(bytes).map_err(io_err(dest))?;
    commit(tmp, dest, overwrite)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_to_clobber_without_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        write_atomic(&p, b"one", false).unwrap();
        assert!(matches!(
            write_atomic(&p, b"two", false),
            Err(WriteError::Exists { .. })
        ));
        write_atomic(&p, b"two", true).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        // no temp files left behind
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_replaced_file_keeps_its_mode_and_a_new_one_is_not_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("map.json");
        std::fs::write(&p, b"one").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&p, b"two", true).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&p), 0o640);
        // A new file gets what the umask gives a plain `std::fs::write`
        // (0666 less the umask), not tempfile's owner-only 0600.
        let plain = dir.path().join("plain.json");
        std::fs::write(&plain, b"x").unwrap();
        let q = dir.path().join("new.json");
        write_atomic(&q, b"x", false).unwrap();
        assert_eq!(mode(&q), mode(&plain));
    }
}
