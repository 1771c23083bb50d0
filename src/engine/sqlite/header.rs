//! Is this file a whole SQLite database? Read only the 100-byte header and
//! the file's length, so a text file, an empty file or a truncated copy is
//! named as bad input (exit 2) before SQLite opens it — SQLite itself
//! treats an empty file as an empty database, and a guard asked about a
//! text file would otherwise answer "refused" (exit 3) for what is simply
//! the wrong file.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Why a file is not a whole SQLite database.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    /// Nothing at that path.
    #[error("{path}: no such file")]
    Missing { path: PathBuf },
    /// A folder where a database file belongs.
    #[error("{path} is a directory, not a regular file; give the path of a SQLite database file")]
    Directory { path: PathBuf },
    /// A FIFO, socket or device.
    #[error("{path} is not a regular file")]
    NotFile { path: PathBuf },
    /// The bytes are not (or not all of) a SQLite database.
    #[error("{path} is not a SQLite database: {problem}")]
    NotDatabase { path: PathBuf, problem: String },
    /// Reading failed.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The SQLite file magic.
pub const MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Check that `path` is a regular file holding a SQLite header and every
/// page that header claims (a truncated copy fails here, by name).
pub fn check(path: &Path) -> Result<(), HeaderError> {
    let p = || path.to_path_buf();
    let not_db = |problem: String| HeaderError::NotDatabase { path: p(), problem };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(HeaderError::Missing { path: p() });
        }
        Err(source) => return Err(HeaderError::Io { path: p(), source }),
    };
    if meta.is_dir() {
        return Err(HeaderError::Directory { path: p() });
    }
    if !meta.is_file() {
        return Err(HeaderError::NotFile { path: p() });
    }
    let len = meta.len();
    if len == 0 {
        return Err(not_db("the file is empty".into()));
    }
    if len < 100 {
        return Err(not_db(format!(
            "only {len} bytes, shorter than a SQLite header"
        )));
    }
    let mut header = [0u8; 100];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut header))
        .map_err(|source| HeaderError::Io { path: p(), source })?;
    if &header[..16] != MAGIC {
        return Err(not_db("no SQLite header (wrong file?)".into()));
    }
    let raw = u32::from(u16::from_be_bytes([header[16], header[17]]));
    let page_size = if raw == 1 { 65_536 } else { raw };
    if !(512..=65_536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(not_db(format!("invalid page size {raw} in the header")));
    }
    let be =
        |i: usize| u32::from_be_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    let pages = be(28);
    // The in-header page count is trusted only when it is valid for the
    // last writer (change counter == version-valid-for), as SQLite does
    // (file format, section 1.3.7).
    if pages > 0 && be(24) == be(92) {
        let want = u64::from(pages) * u64::from(page_size);
        if len < want {
            return Err(not_db(format!(
                "truncated: the header declares {pages} pages ({want} bytes) but the file has {len} bytes"
            )));
        }
    }
    if !len.is_multiple_of(u64::from(page_size)) {
        return Err(not_db(format!(
            "truncated or damaged: {len} bytes is not a whole number of {page_size}-byte pages"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_missing_folders_empty_text_and_truncated_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        let msg = |n: &str| check(&p(n)).unwrap_err().to_string();
        assert!(msg("none.db").ends_with("none.db: no such file"));
        std::fs::create_dir(p("d.db")).unwrap();
        assert!(msg("d.db").contains("is a directory, not a regular file"));
        std::fs::write(p("e.db"), b"").unwrap();
        assert!(msg("e.db").contains("empty"));
        std::fs::write(p("t.db"), "hello\n".repeat(100)).unwrap();
        assert!(msg("t.db").contains("no SQLite header"));
        let conn = rusqlite::Connection::open(p("ok.db")).unwrap();
        conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (randomblob(9000));")
            .unwrap();
        drop(conn);
        check(&p("ok.db")).unwrap();
        let bytes = std::fs::read(p("ok.db")).unwrap();
        std::fs::write(p("cut.db"), &bytes[..bytes.len() - 4096]).unwrap();
        assert!(msg("cut.db").contains("truncated"), "{}", msg("cut.db"));
    }
}
