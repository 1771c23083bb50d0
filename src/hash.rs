//! File-level SHA-256, streamed with a fixed buffer so memory stays flat
//! whatever the file size. `sha2` picks SHA-NI at run time where the CPU has
//! it, which is what keeps us near `openssl dgst -sha256` (BYTE-EXACT-FACTS).
//!
//! Each file state is read once per process: see [`memo`].

pub mod memo;

use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Read size for hashing and copying: large enough to amortise syscalls,
/// small enough to be irrelevant for memory.
pub const CHUNK: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
#[error("cannot read {path} to hash it: {source}")]
pub struct HashError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

/// SHA-256 (lowercase hex) and length of a file's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest {
    pub sha256: String,
    pub size: u64,
}

/// The SHA-256 of a file's current bytes: from [`memo`] when this process
/// already read this very state of the file, otherwise read and hashed
/// (and remembered).
pub fn file_sha256(path: &Path) -> Result<FileDigest, HashError> {
    file_sha256_as(path, path)
}

/// [`file_sha256`] of a temp file that will become `shown`: the progress
/// bar names the file the user asked for, not `.rollproof-tmp-…`.
pub fn file_sha256_as(path: &Path, shown: &Path) -> Result<FileDigest, HashError> {
    let err = |source| HashError {
        path: shown.to_path_buf(),
        source,
    };
    let file = crate::util::fsutil::open_regular_io(path).map_err(err)?;
    let meta = file.metadata().map_err(err)?;
    if let Some(d) = memo::recall(&meta) {
        return Ok(d);
    }
    read_and_hash(shown, file, meta)
}

/// Hash a file by reading it, whatever this process knows about it (for
/// evidence that must be a fresh read, such as intake's before/after check).
pub fn file_sha256_fresh(path: &Path) -> Result<FileDigest, HashError> {
    let err = |source| HashError {
        path: path.to_path_buf(),
        source,
    };
    let file = crate::util::fsutil::open_regular_io(path).map_err(err)?;
    let meta = file.metadata().map_err(err)?;
    read_and_hash(path, file, meta)
}

/// Read `file` to its end, hashing, with a progress bar on a TTY for large
/// files; remember the digest if the file did not change meanwhile.
fn read_and_hash(
    path: &Path,
    mut file: File,
    meta: std::fs::Metadata,
) -> Result<FileDigest, HashError> {
    let err = |source| HashError {
        path: path.to_path_buf(),
        source,
    };
    let total = meta.len();
    let start = memo::settle_before_read(&meta);
    let bar = crate::util::progress::bytes_bar(total, &format!("hashing {}", path.display()));
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(err(e)),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    let digest = FileDigest {
        sha256: hex::encode(hasher.finalize()),
        size,
    };
    if let Ok(after) = file.metadata() {
        memo::record(start, &meta, &after, &digest);
    }
    Ok(digest)
}

/// SHA-256 (lowercase hex) of a byte string.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// True when `s` looks like a lowercase hex SHA-256 digest.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn file_matches_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let data: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i * 31 % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let d = file_sha256(&p).unwrap();
        assert_eq!(d.sha256, sha256_hex(&data));
        assert_eq!(d.size, data.len() as u64);
        assert!(is_sha256_hex(&d.sha256));
    }
}
