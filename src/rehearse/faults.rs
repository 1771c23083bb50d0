//! Fault injection that happens outside the backend: corrupting a snapshot
//! on disk before it is restored. (The apply faults — kill, disk-full,
//! io-error — run inside the backend, see `backend::sqlite::worker`.)

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Flip every bit of one byte in the middle of `path` (past the 100-byte
/// SQLite header, so the damage sits in page content the way disk rot
/// would). Returns a one-line description of what was changed.
pub fn corrupt_snapshot(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let size = f.metadata()?.len();
    if size < 2 {
        return Err(std::io::Error::other("file too small to corrupt"));
    }
    let offset = (size / 2).max(100).min(size - 1);
    let mut b = [0u8; 1];
    f.seek(SeekFrom::Start(offset))?;
    f.read_exact(&mut b)?;
    let flipped = !b[0];
    f.seek(SeekFrom::Start(offset))?;
    f.write_all(&[flipped])?;
    f.sync_all()?;
    Ok(format!(
        "flipped byte {offset} of {} ({:#04x} -> {:#04x}) before restore",
        path.display(),
        b[0],
        flipped
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_changes_exactly_one_byte() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s");
        let data = vec![7u8; 4096];
        std::fs::write(&p, &data).unwrap();
        corrupt_snapshot(&p).unwrap();
        let after = std::fs::read(&p).unwrap();
        let diffs: Vec<usize> = (0..data.len()).filter(|i| data[*i] != after[*i]).collect();
        assert_eq!(diffs, vec![2048]);
    }
}
