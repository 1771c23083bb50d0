//! Measuring one state of a SQLite database: file SHA-256, page count,
//! canonical logical hash, `PRAGMA integrity_check`,
//! `PRAGMA foreign_key_check` and the free-space residue. The file hash runs first (it decides whether
//! results can be carried over from an identical earlier phase); the logical
//! hash and the two checks then run on two threads with their own read-only
//! connections, so measuring costs little more than its slowest part.

use super::db_err;
use crate::engine::BackendError;
use crate::engine::sqlite::freespace::{self, FreeSpace};
use crate::engine::sqlite::logical::{self, LogicalDigest};
use crate::engine::sqlite::snapshot;
use crate::evidence::report::Phase;
use rusqlite::Connection;
use std::path::Path;
use std::time::Instant;

/// Messages of `PRAGMA integrity_check` kept in the report at most.
const INTEGRITY_MESSAGES: usize = 10;

/// The logical hash, integrity result, FK violations and page count.
pub struct Content {
    /// Canonical logical hash.
    pub logical: LogicalDigest,
    /// `ok` or the messages joined by `; `.
    pub integrity: String,
    /// `PRAGMA foreign_key_check` rows.
    pub fk: u64,
    /// `PRAGMA page_count`.
    pub page_count: u64,
    /// The sqlite3 shell's `.sha3sum --schema --sha3-256` digest.
    pub sha3: String,
    /// Free-space residue (files only; not inside an open transaction).
    pub free_space: Option<FreeSpace>,
}

pub use crate::engine::sqlite::logical::open_read_only as open_ro;

/// `PRAGMA integrity_check` as one line.
pub fn integrity(conn: &Connection) -> rusqlite::Result<String> {
    let mut stmt = conn.prepare("PRAGMA integrity_check")?;
    let mut rows = stmt.query([])?;
    let mut msgs = Vec::new();
    let mut more = 0usize;
    while let Some(r) = rows.next()? {
        let m: String = r.get(0)?;
        if msgs.len() < INTEGRITY_MESSAGES {
            msgs.push(m);
        } else {
            more += 1;
        }
    }
    let mut s = msgs.join("; ");
    if more > 0 {
        s.push_str(&format!("; … {more} more"));
    }
    Ok(s)
}

/// Rows of `PRAGMA foreign_key_check`.
pub fn fk_violations(conn: &Connection) -> rusqlite::Result<u64> {
    let mut stmt = conn.prepare("PRAGMA foreign_key_check")?;
    let mut rows = stmt.query([])?;
    let mut n = 0u64;
    while rows.next()?.is_some() {
        n += 1;
    }
    Ok(n)
}

/// `PRAGMA page_count`.
pub fn page_count(conn: &Connection) -> rusqlite::Result<u64> {
    conn.query_row("PRAGMA page_count", [], |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
}

/// Everything but the file hash, over one connection (used inside an open
/// transaction, where only that connection sees the changes).
pub fn content_conn(conn: &Connection) -> rusqlite::Result<Content> {
    Ok(Content {
        logical: logical::digest_conn(conn)?,
        integrity: integrity(conn)?,
        fk: fk_violations(conn)?,
        page_count: page_count(conn)?,
        sha3: crate::engine::sqlite::sha3sum::sha3sum_conn(conn)?,
        free_space: None,
    })
}

/// Everything but the file hash, over a file, on two threads.
pub fn content_file(path: &Path) -> rusqlite::Result<Content> {
    std::thread::scope(|s| {
        let integrity_t = s.spawn(|| integrity(&open_ro(path)?));
        let fk_t = s.spawn(|| fk_violations(&open_ro(path)?));
        let sha3 = s.spawn(|| crate::engine::sqlite::sha3sum::sha3sum_conn(&open_ro(path)?));
        let c = open_ro(path)?;
        let logical = logical::digest_conn(&c)?;
        let page_count = page_count(&c)?;
        // After the logical hash, on its connection: the walk is short.
        let free_space = freespace::scan(path, &c).map_err(|e| {
            rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
                Some(format!("free-space walk: {e}")),
            )
        })?;
        let integrity = integrity_t
            .join()
            .unwrap_or_else(|_| Err(rusqlite::Error::InvalidQuery))?;
        let fk = fk_t
            .join()
            .unwrap_or_else(|_| Err(rusqlite::Error::InvalidQuery))?;
        let sha3 = sha3
            .join()
            .unwrap_or_else(|_| Err(rusqlite::Error::InvalidQuery))?;
        Ok(Content {
            logical,
            integrity,
            fk,
            page_count,
            sha3,
            free_space: Some(free_space),
        })
    })
}

/// Build a phase from a file digest and content.
pub fn phase(
    file: Option<&crate::hash::FileDigest>,
    c: Content,
    stray: Vec<String>,
    note: Option<String>,
    started: Instant,
) -> Phase {
    Phase {
        file_sha256: file.map(|f| f.sha256.clone()),
        size: file.map(|f| f.size),
        page_count: Some(c.page_count),
        logical: c.logical,
        integrity_check: c.integrity,
        foreign_key_violations: c.fk,
        stray_files: stray,
        sha3: Some(c.sha3),
        free_space: c.free_space,
        cluster: None,
        derived_from: None,
        note,
        ms: started.elapsed().as_millis() as u64,
    }
}

/// A phase whose bytes equal those of `known` (same SHA-256): carry the
/// content results over and say where from.
pub fn derived(
    file: &crate::hash::FileDigest,
    name: &str,
    known: &Phase,
    stray: Vec<String>,
    started: Instant,
) -> Phase {
    Phase {
        file_sha256: Some(file.sha256.clone()),
        size: Some(file.size),
        page_count: known.page_count,
        logical: known.logical.clone(),
        integrity_check: known.integrity_check.clone(),
        foreign_key_violations: known.foreign_key_violations,
        stray_files: stray,
        sha3: known.sha3.clone(),
        free_space: known.free_space,
        cluster: None,
        derived_from: Some(name.to_string()),
        note: None,
        ms: started.elapsed().as_millis() as u64,
    }
}

/// Measure a file that is not open for writing. With no earlier phase to
/// carry over from, the file hash runs alongside the content checks;
/// otherwise it runs first and identical bytes carry the results over.
pub fn measure_path(path: &Path, known: &[(&str, &Phase)]) -> Result<Phase, BackendError> {
    let started = Instant::now();
    let stray = snapshot::stray_files(path);
    let hash = |path: &Path| {
        crate::hash::file_sha256(path).map_err(|e| BackendError::Io {
            what: "cannot hash".into(),
            path: path.to_path_buf(),
            source: e.source,
        })
    };
    if known.is_empty() && !snapshot::has_hot_journal(path) {
        // Nothing to carry over from: hash the file while the content
        // is measured.
        let (file, content) = std::thread::scope(|s| {
            let file = s.spawn(|| hash(path));
            let content = content_file(path).map_err(|e| db_err("measure", path, e));
            (
                file.join()
                    .unwrap_or_else(|_| Err(db_err("hash", path, "thread panicked"))),
                content,
            )
        });
        return Ok(phase(Some(&file?), content?, stray, None, started));
    }
    let file = hash(path)?;
    if stray.is_empty()
        && let Some((name, k)) = known.iter().find(|(_, k)| {
            k.file_sha256.as_deref() == Some(&file.sha256) && k.stray_files.is_empty()
        })
    {
        return Ok(derived(&file, name, k, stray, started));
    }
    if snapshot::has_hot_journal(path) {
        // Reading would make SQLite roll the hot journal back: a write.
        return Err(db_err(
            "measure",
            path,
            "a hot journal sits beside the file; it must be recovered before it can be measured",
        ));
    }
    let content = content_file(path).map_err(|e| db_err("measure", path, e))?;
    Ok(phase(Some(&file), content, stray, None, started))
}
