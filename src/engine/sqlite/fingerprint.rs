//! Page fingerprints: proof that a table's rows did not change, so its
//! logical digest (`logical::table_digest`) can be reused instead of
//! hashed again row by row (issue #16, "Speed").
//!
//! A table's digest is a function of two things only: the table's
//! definition (its `sqlite_schema` text: column names, declared types,
//! the defaults of columns added later, collations, generated columns) and
//! the bytes of the pages of its b-tree (root, interior, leaf and overflow
//! pages), read with the file's page size, reserved bytes, schema format
//! and text encoding. The fingerprint is SHA-256 over exactly those inputs,
//! so two equal fingerprints mean equal digests; a digest computed for one
//! fingerprint is reused for any later state with the same fingerprint.
//! Whenever a fingerprint cannot be taken the table is hashed in full:
//!
//! - virtual tables (their rows come from a module reading other tables)
//!   and anything without a b-tree of its own;
//! - files whose main file is not the whole database: only the rollback
//!   journal mode (header bytes 18–19 = 1), with no `-wal` or `-journal`
//!   beside it once the read lock is held.
//!
//! The pages of a b-tree are listed by SQLite's own `dbstat` virtual table
//! (one row per page of every b-tree, overflow pages included) and read
//! from the file inside the measuring connection's read transaction, while
//! the only writer the guard lets at the file (the caller's own) is idle.
//! SQLite's change counters (`data_version`, the header's file change
//! counter) are per file, not per table, and are not used.

use super::logical::TableDigest;
use rusqlite::Connection;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Version tag of the fingerprint input; bump it if the input changes.
const TAG: &[u8] = b"rollproof-table-fingerprint-v1";

/// Largest run of adjacent pages read with one call.
const READ_RUN: u64 = 1 << 20;

/// Table digests by fingerprint, kept for one run.
#[derive(Debug, Default)]
pub struct Cache {
    map: HashMap<[u8; 32], TableDigest>,
    /// Digests reused.
    pub hits: u64,
    /// Digests computed row by row.
    pub misses: u64,
}

/// Reads page bytes of one file for fingerprints, during one read
/// transaction of the measuring connection.
pub struct Pages {
    file: File,
    page_size: u64,
    /// Header fields that change how page bytes are read.
    header_key: Vec<u8>,
}

impl Pages {
    /// Open `path` for page reads, or `None` when its main file is not the
    /// whole database (see the module doc). `conn` must be a connection to
    /// `path` inside a read transaction that has read.
    ///
    /// Drop it after `conn` is closed: closing a file handle drops the
    /// process's POSIX locks on the file (SQLite's documented caveat).
    pub fn open(path: &Path, conn: &Connection) -> std::io::Result<Option<Pages>> {
        let sidecars = super::snapshot::sidecars(path);
        if sidecars.iter().any(|p| p.exists()) || conn.is_autocommit() {
            return Ok(None);
        }
        let file = File::open(path)?;
        let mut h = [0u8; 100];
        file.read_exact_at(&mut h, 0)?;
        if !h.starts_with(b"SQLite format 3\0") || h[18] != 1 || h[19] != 1 {
            return Ok(None);
        }
        let page_size = match u16::from_be_bytes([h[16], h[17]]) {
            1 => 65536,
            n => u64::from(n),
        };
        let mut header_key = Vec::new();
        header_key.extend_from_slice(&h[16..18]); // page size
        header_key.push(h[20]); // reserved bytes per page
        header_key.extend_from_slice(&h[44..48]); // schema format
        header_key.extend_from_slice(&h[56..60]); // text encoding
        Ok(Some(Pages {
            file,
            page_size,
            header_key,
        }))
    }

    /// The fingerprint of `table`, or `None` when it has no b-tree of its
    /// own (a virtual table).
    pub fn fingerprint(
        &self,
        conn: &Connection,
        table: &str,
    ) -> rusqlite::Result<Option<[u8; 32]>> {
        let (root, sql): (i64, Option<String>) = conn.query_row(
            "SELECT rootpage, sql FROM main.sqlite_schema WHERE type = 'table' AND name = ?1",
            [table],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let sql = sql.unwrap_or_default();
        if root <= 1
            || sql
                .trim_start()
                .to_ascii_uppercase()
                .starts_with("CREATE VIRTUAL")
        {
            return Ok(None);
        }
        let mut stmt = conn.prepare_cached("SELECT pageno FROM dbstat WHERE name = ?1")?;
        let mut pages: Vec<u64> = stmt
            .query_map([table], |r| r.get::<_, i64>(0))?
            .map(|p| p.map(|p| p as u64))
            .collect::<rusqlite::Result<_>>()?;
        pages.sort_unstable();
        pages.dedup();
        if !pages.contains(&(root as u64)) {
            return Ok(None);
        }
        let mut h = Sha256::new();
        h.update(TAG);
        h.update(&self.header_key);
        for part in [table.as_bytes(), sql.as_bytes()] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        h.update((root as u64).to_be_bytes());
        h.update((pages.len() as u64).to_be_bytes());
        self.hash_pages(&pages, &mut h)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(Some(h.finalize().into()))
    }

    /// Hash `(page number, page bytes)` of every page, in page order, reading
    /// runs of adjacent pages at once.
    fn hash_pages(&self, pages: &[u64], h: &mut Sha256) -> std::io::Result<()> {
        let ps = self.page_size;
        let per_run = (READ_RUN / ps).max(1) as usize;
        let mut buf = Vec::new();
        let mut i = 0;
        while i < pages.len() {
            let mut j = i + 1;
            while j < pages.len() && j - i < per_run && pages[j] == pages[j - 1] + 1 {
                j += 1;
            }
            buf.resize((j - i) * ps as usize, 0);
            self.file.read_exact_at(&mut buf, (pages[i] - 1) * ps)?;
            for (k, page) in buf.chunks(ps as usize).enumerate() {
                h.update(pages[i + k].to_be_bytes());
                h.update(page);
            }
            i = j;
        }
        Ok(())
    }
}

impl Cache {
    /// The digest of `table`: reused when its fingerprint was seen before,
    /// else computed row by row (and remembered when it has a fingerprint).
    pub fn table_digest(
        &mut self,
        pages: Option<&Pages>,
        conn: &Connection,
        table: &str,
    ) -> rusqlite::Result<TableDigest> {
        let fp = match pages {
            Some(p) => p.fingerprint(conn, table)?,
            None => None,
        };
        if let Some(d) = fp.and_then(|f| self.map.get(&f)) {
            self.hits += 1;
            return Ok(d.clone());
        }
        self.misses += 1;
        let d = super::logical::table_digest(conn, table)?;
        if let Some(f) = fp {
            self.map.insert(f, d.clone());
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::sqlite::logical;

    /// Digest `path` through the cache, as the migrations loop does.
    fn cached(path: &Path, cache: &mut Cache) -> logical::LogicalDigest {
        let c = logical::open_read_only(path).unwrap();
        c.execute_batch("BEGIN; SELECT count(*) FROM sqlite_schema;")
            .unwrap();
        let pages = Pages::open(path, &c).unwrap();
        assert!(pages.is_some(), "a rollback-journal file is fingerprinted");
        let d = logical::digest_conn_with(&c, &mut |c, t| cache.table_digest(pages.as_ref(), c, t))
            .unwrap();
        c.execute_batch("COMMIT").unwrap();
        drop(c);
        drop(pages);
        d
    }

    #[test]
    fn a_cached_digest_equals_a_full_one_through_every_kind_of_change() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.db");
        let w = Connection::open(&p).unwrap();
        w.execute_batch(
            "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
             CREATE TABLE u(k TEXT PRIMARY KEY, big BLOB) WITHOUT ROWID;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
             INSERT INTO t SELECT i, 'v' || i FROM n;
             INSERT INTO u VALUES ('a', zeroblob(20000)), ('b', randomblob(9000));
             CREATE TABLE o(id INTEGER PRIMARY KEY, b BLOB);
             INSERT INTO o VALUES (1, randomblob(30000));",
        )
        .unwrap();
        let mut cache = Cache::default();
        let changes = [
            // No table changes: every digest is reused.
            "CREATE INDEX ix ON t(v)",
            // Same pages, other definition: a default read for old rows.
            "ALTER TABLE t ADD COLUMN c INTEGER NOT NULL DEFAULT 7",
            "ALTER TABLE t DROP COLUMN c",
            // One value in a leaf page, same length: only its cell's bytes
            // change, deep in the page; then a shorter one.
            "UPDATE t SET v = 'w' || substr(v, 2) WHERE id = 1500",
            "UPDATE t SET v = 'x' WHERE id = 1500",
            // Values spilling into overflow pages, other sizes.
            "UPDATE u SET big = zeroblob(20001) WHERE k = 'a'",
            "UPDATE u SET big = zeroblob(20000) WHERE k = 'a'",
            // Same sizes, new bytes: the leaf cells may stay as they were
            // and only overflow pages change.
            "UPDATE u SET big = randomblob(9000) WHERE k = 'b'",
            "UPDATE o SET b = randomblob(30000)",
            // The last bytes of the last overflow page.
            "UPDATE o SET b = CAST(substr(b, 1, 29990) || zeroblob(10) AS BLOB)",
            "DELETE FROM t WHERE id > 2990",
            "VACUUM",
        ];
        for sql in changes {
            w.execute_batch(sql).unwrap();
            let full = logical::digest_file(&p).unwrap();
            assert_eq!(cached(&p, &mut cache), full, "after {sql}");
        }
        assert!(cache.hits > 0, "unchanged tables were reused");
        // A state seen before: both digests come from the cache.
        let hits = cache.hits;
        w.execute_batch("UPDATE t SET v = 'v1500' WHERE id = 1500")
            .unwrap();
        let full = logical::digest_file(&p).unwrap();
        assert_eq!(cached(&p, &mut cache), full);
        assert!(cache.hits > hits);
    }

    #[test]
    fn no_fingerprints_in_wal_mode_or_for_virtual_tables() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.db");
        let w = Connection::open(&p).unwrap();
        w.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);")
            .unwrap();
        let c = logical::open_read_only(&p).unwrap();
        c.execute_batch("BEGIN; SELECT count(*) FROM sqlite_schema;")
            .unwrap();
        assert!(Pages::open(&p, &c).unwrap().is_none());
        drop(c);
        let q = dir.path().join("v.db");
        let w = Connection::open(&q).unwrap();
        w.execute_batch("CREATE VIRTUAL TABLE f USING fts5(body); INSERT INTO f VALUES ('a b');")
            .unwrap();
        drop(w);
        let c = logical::open_read_only(&q).unwrap();
        c.execute_batch("BEGIN; SELECT count(*) FROM sqlite_schema;")
            .unwrap();
        let pages = Pages::open(&q, &c).unwrap().unwrap();
        assert_eq!(pages.fingerprint(&c, "f").unwrap(), None);
        assert!(pages.fingerprint(&c, "f_data").unwrap().is_some());
    }
}
