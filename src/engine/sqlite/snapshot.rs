//! Snapshots of a SQLite file and restores from them.
//!
//! - `copy`: a kernel file copy (as `cp`) taken with no open writer, then
//!   hashed; byte-identical to the source.
//! - `backup`: SQLite's online backup API; equal pages but header counters
//!   differ (BYTE-EXACT-FACTS), so restores through it are logical-only.
//!
//! Every snapshot's SHA-256 is recorded when taken and checked again before
//! a restore; a mismatch refuses the restore and leaves the target alone.
//! A copy restore writes a temporary file beside the target, re-checks the
//! digest of the bytes it wrote, removes the target's `-wal`, `-shm` and
//! (hot) `-journal` files, then renames the copy over the target. The
//! journal goes first: a stale hot journal must never be replayed onto the
//! restored file, and until the rename the snapshot is still there to
//! retry from.

use crate::hash::FileDigest;
use rusqlite::Connection;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Why a snapshot or restore failed.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A file operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// SQLite's backup API failed.
    #[error("backup API {what} {path}: {source}")]
    Sqlite {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// The snapshot's bytes no longer match the recorded digest.
    #[error(
        "snapshot {path} is corrupted: SHA-256 recorded when taken {recorded}, now {actual}; restore refused, target left untouched"
    )]
    Corrupted {
        path: PathBuf,
        recorded: String,
        actual: String,
    },
    /// A restore by copy read bytes that differ from the recorded digest
    /// (the snapshot changed while it was copied); the target is untouched.
    #[error(
        "snapshot {path} changed while it was being restored (SHA-256 {actual}, recorded {recorded}); restore abandoned, target left untouched"
    )]
    ChangedDuringRestore {
        path: PathBuf,
        recorded: String,
        actual: String,
    },
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl Fn(io::Error) -> SnapshotError + 'a {
    move |source| SnapshotError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// The sidecar files SQLite may keep beside a database.
pub fn sidecars(db: &Path) -> [PathBuf; 3] {
    let s = db.as_os_str();
    let with = |suffix: &str| {
        let mut o = s.to_os_string();
        o.push(suffix);
        PathBuf::from(o)
    };
    [with("-wal"), with("-shm"), with("-journal")]
}

/// Sidecar files that exist now (file names only, sorted).
pub fn stray_files(db: &Path) -> Vec<String> {
    let mut out: Vec<String> = sidecars(db)
        .iter()
        .filter(|p| p.exists())
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    out.sort();
    out
}

/// True when a `-journal` that SQLite would roll back sits beside the
/// database: SQLite's own test (pager.c `hasHotJournal`) is a journal whose
/// first byte is non-zero. A process killed while the journal was being
/// created can leave a non-empty journal with a zeroed header: SQLite ignores
/// it (it is a stray file, reported as such), so we must not wait for a
/// recovery that will never happen.
pub fn has_hot_journal(db: &Path) -> bool {
    let mut first = [0u8; 1];
    crate::util::fsutil::open_regular_io(sidecars(db)[2].as_path())
        .and_then(|mut f| io::Read::read_exact(&mut f, &mut first))
        .is_ok()
        && first[0] != 0
}

/// Copy `src` to `dest` in the kernel (`copy_file_range` through
/// `std::fs::copy`, as `cp` does), then hash what `dest` now holds: the
/// digest describes the bytes actually stored, and the second read comes
/// from the page cache. No fsync: a snapshot is re-hashed before any
/// restore, so one torn by a crash is refused, never restored; a restored
/// target is re-measured from disk (the shell baseline's `cp` does not sync
/// either).
pub fn copy_then_hash(src: &Path, dest: &Path) -> Result<FileDigest, SnapshotError> {
    std::fs::copy(src, dest).map_err(io_err("cannot copy", src))?;
    crate::hash::file_sha256(dest).map_err(|e| io_err("cannot hash the copy", dest)(e.source))
}

/// Snapshot by plain copy (the caller guarantees no open writer and no
/// WAL/hot journal). Returns the digest of the bytes written.
pub fn copy_snapshot(src: &Path, dest: &Path) -> Result<FileDigest, SnapshotError> {
    File::create_new(dest).map_err(io_err("cannot create snapshot", dest))?;
    copy_then_hash(src, dest)
}

/// Copy `src` into `dest` through the online backup API.
pub fn backup_into(
    src: &Connection,
    dest: &mut Connection,
    path: &Path,
) -> Result<(), SnapshotError> {
    let err = |what, source| SnapshotError::Sqlite {
        what,
        path: path.to_path_buf(),
        source,
    };
    let b = rusqlite::backup::Backup::new(src, dest).map_err(|e| err("start", e))?;
    b.run_to_completion(4096, std::time::Duration::ZERO, None)
        .map_err(|e| err("step", e))
}

/// Snapshot through the backup API into a new file at `dest`.
pub fn backup_snapshot(src: &Path, dest: &Path) -> Result<FileDigest, SnapshotError> {
    if dest.exists() {
        return Err(io_err("snapshot already exists:", dest)(
            io::ErrorKind::AlreadyExists.into(),
        ));
    }
    let s = crate::engine::sqlite::logical::open_read_only(src).map_err(|source| {
        SnapshotError::Sqlite {
            what: "open source",
            path: src.to_path_buf(),
            source,
        }
    })?;
    let mut d = Connection::open(dest).map_err(|source| SnapshotError::Sqlite {
        what: "create",
        path: dest.to_path_buf(),
        source,
    })?;
    backup_into(&s, &mut d, dest)?;
    drop(d);
    crate::hash::file_sha256(dest).map_err(|e| io_err("cannot hash snapshot", dest)(e.source))
}

/// Re-hash a snapshot and compare with the digest recorded when taken.
pub fn verify(path: &Path, recorded: &str) -> Result<(), SnapshotError> {
    let d = crate::hash::file_sha256(path)
        .map_err(|e| io_err("cannot re-hash snapshot", path)(e.source))?;
    if d.sha256 != recorded {
        return Err(SnapshotError::Corrupted {
            path: path.to_path_buf(),
            recorded: recorded.to_string(),
            actual: d.sha256,
        });
    }
    Ok(())
}

/// Restore `snap` over `target` by copy (see the module doc for the order
/// of steps): [`stage_restore`], then [`commit_restore`]. On a mismatch the
/// target is untouched. The caller has asked the guard.
pub fn restore_copy(snap: &Path, recorded: &str, target: &Path) -> Result<(), SnapshotError> {
    commit_restore(stage_restore(snap, recorded, target)?, target)
}

/// The first half of a copy restore, which does not touch the target (so it
/// may run while the target is still being measured): copy the snapshot to
/// a temporary file beside the target and check that the digest of the
/// bytes written equals `recorded`.
pub fn stage_restore(
    snap: &Path,
    recorded: &str,
    target: &Path,
) -> Result<tempfile::NamedTempFile, SnapshotError> {
    let tmp = crate::util::fsutil::temp_beside(target).map_err(|e| match e {
        crate::util::fsutil::WriteError::Io { source, .. } => {
            io_err("cannot create a temp file beside", target)(source)
        }
        other => {
            io_err("cannot create a temp file beside", target)(io::Error::other(other.to_string()))
        }
    })?;
    let d = copy_then_hash(snap, tmp.path())?;
    if d.sha256 != recorded {
        return Err(SnapshotError::ChangedDuringRestore {
            path: snap.to_path_buf(),
            recorded: recorded.to_string(),
            actual: d.sha256,
        });
    }
    Ok(tmp)
}

/// The second half of a copy restore: remove the target's `-wal`, `-shm`
/// and `-journal`, then rename the staged copy over the target. The caller
/// has asked the guard.
pub fn commit_restore(staged: tempfile::NamedTempFile, target: &Path) -> Result<(), SnapshotError> {
    for side in sidecars(target).iter().rev() {
        match std::fs::remove_file(side) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("cannot remove", side)(e)),
        }
    }
    staged
        .persist(target)
        .map_err(|e| io_err("cannot rename the restored copy over", target)(e.error))?;
    // The bytes just hashed are the target's now: it need not be read again.
    crate::hash::memo::renamed(target);
    Ok(())
}

/// Write the content `src` sees (including its own uncommitted changes)
/// into a new database at `dest`, row by row. Used to keep the after-apply
/// state of an open transaction, which neither the backup API (it returns
/// SQLITE_LOCKED while the source connection writes) nor `VACUUM INTO` can
/// copy. The copy is logically equal (same logical hash), not
/// byte-identical; memory stays flat (rows are streamed).
pub fn copy_logical(src: &Connection, dest: &Path) -> rusqlite::Result<()> {
    use crate::engine::sqlite::logical::{self, Setting, quote_ident};
    let d = Connection::open(dest)?;
    // The settings the logical hash covers: the layout ones must be set on
    // the empty file, before its first table; WAL once the content is in.
    let settings = logical::settings(src)?;
    for (name, v) in &settings {
        match (*name, v) {
            ("page_size" | "auto_vacuum", Setting::Int(i)) => d.pragma_update(None, name, i)?,
            ("encoding", Setting::Text(t)) => d.pragma_update(None, name, t)?,
            _ => {}
        }
    }
    d.execute_batch("BEGIN")?;
    let schema: Vec<(String, String, Option<String>)> = {
        // SQLite's own tables by exact name: `sqlite_sequence` is copied
        // below, the statistics tables are not part of the logical hash.
        let mut stmt = src.prepare(&format!(
            "SELECT type, name, sql FROM sqlite_schema WHERE name NOT IN {} ORDER BY rowid",
            crate::engine::sqlite::logical::internal_tables_sql()
        ))?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    for (ty, _, sql) in &schema {
        if let (true, Some(sql)) = (ty == "table", sql) {
            d.execute_batch(sql)?;
        }
    }
    let mut tables: Vec<String> = schema
        .iter()
        .filter(|(t, _, _)| t == "table")
        .map(|(_, n, _)| n.clone())
        .collect();
    let has_seq: bool = src.query_row(
        "SELECT count(*) > 0 FROM sqlite_schema WHERE name = 'sqlite_sequence'",
        [],
        |r| r.get(0),
    )?;
    if has_seq {
        tables.push("sqlite_sequence".into());
    }
    for t in &tables {
        if t == "sqlite_sequence" {
            // The inserts above already filled it for AUTOINCREMENT tables;
            // copy the source's rows instead of appending duplicates.
            d.execute_batch("DELETE FROM sqlite_sequence")?;
        }
        let n = src.query_row("SELECT count(*) FROM pragma_table_info(?1)", [t], |r| {
            r.get::<_, i64>(0)
        })? as usize;
        let marks = vec!["?"; n].join(", ");
        let mut ins = d.prepare(&format!("INSERT INTO {} VALUES ({marks})", quote_ident(t)))?;
        let mut sel = src.prepare(&format!("SELECT * FROM {}", quote_ident(t)))?;
        let mut rows = sel.query([])?;
        while let Some(r) = rows.next()? {
            let vals: Vec<rusqlite::types::Value> =
                (0..n).map(|i| r.get(i)).collect::<rusqlite::Result<_>>()?;
            ins.execute(rusqlite::params_from_iter(vals))?;
        }
    }
    for (ty, _, sql) in &schema {
        if let (false, Some(sql)) = (ty == "table", sql) {
            d.execute_batch(sql)?;
        }
    }
    for (name, v) in &settings {
        if let ("application_id" | "user_version", Setting::Int(i)) = (*name, v) {
            d.pragma_update(None, name, i)?;
        }
    }
    d.execute_batch("COMMIT")?;
    if settings
        .iter()
        .any(|(n, v)| *n == "journal_mode" && *v == Setting::Text("wal".into()))
    {
        d.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    }
    Ok(())
}

/// Restore `snap` over `target` through the backup API (one transaction on
/// the target: it is either fully restored or not at all).
pub fn restore_backup(snap: &Path, target: &Path) -> Result<(), SnapshotError> {
    let s = crate::engine::sqlite::logical::open_read_only(snap).map_err(|source| {
        SnapshotError::Sqlite {
            what: "open snapshot",
            path: snap.to_path_buf(),
            source,
        }
    })?;
    let mut d = Connection::open(target).map_err(|source| SnapshotError::Sqlite {
        what: "open target",
        path: target.to_path_buf(),
        source,
    })?;
    backup_into(&s, &mut d, target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_restore_is_byte_exact_and_clears_sidecars() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("t.db");
        Connection::open(&db)
            .unwrap()
            .execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
            .unwrap();
        let before = crate::hash::file_sha256(&db).unwrap();
        let snap = d.path().join("s.db");
        let s = copy_snapshot(&db, &snap).unwrap();
        assert_eq!(s, before);
        Connection::open(&db)
            .unwrap()
            .execute_batch("INSERT INTO t VALUES (2);")
            .unwrap();
        std::fs::write(&sidecars(&db)[2], b"hot").unwrap();
        assert_eq!(stray_files(&db), vec!["t.db-journal".to_string()]);
        verify(&snap, &s.sha256).unwrap();
        restore_copy(&snap, &s.sha256, &db).unwrap();
        assert_eq!(crate::hash::file_sha256(&db).unwrap(), before);
        assert!(stray_files(&db).is_empty());
    }

    #[test]
    fn a_journal_with_a_zeroed_header_is_not_hot() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        std::fs::write(&db, b"x").unwrap();
        let journal = &sidecars(&db)[2];
        assert!(!has_hot_journal(&db), "no journal");
        std::fs::write(journal, [0u8; 512]).unwrap();
        assert!(!has_hot_journal(&db), "zeroed header: SQLite ignores it");
        let mut hot = vec![0xd9u8, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7];
        hot.resize(512, 0);
        std::fs::write(journal, hot).unwrap();
        assert!(has_hot_journal(&db));
    }

    #[test]
    fn corrupted_snapshot_is_detected() {
        let d = tempfile::tempdir().unwrap();
        let snap = d.path().join("s");
        std::fs::write(&snap, b"abc").unwrap();
        let rec = crate::hash::sha256_hex(b"abc");
        verify(&snap, &rec).unwrap();
        std::fs::write(&snap, b"abd").unwrap();
        assert!(matches!(
            verify(&snap, &rec),
            Err(SnapshotError::Corrupted { .. })
        ));
    }
}
