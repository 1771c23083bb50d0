//! The canonical logical content hash of a SQLite database: the persistent
//! settings that change how it behaves, schema, and every table's rows in
//! primary-key order with type-tagged, length-prefixed values — independent
//! of page layout, so two files with equal content hash equal even when
//! their bytes differ.
//!
//! The algorithm is specified in `docs/LOGICAL-HASH.md` and re-implemented,
//! independently, in `tools/logical_hash.py`; keep the three in step.

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// Version tag hashed into every digest; bump it if the algorithm changes.
/// v2 added `page_size`, `auto_vacuum`, `encoding` and `journal_mode` to
/// the settings and made the exclusions exact.
pub const ALGORITHM: &str = "rollproof-logical-v2";

/// The settings hashed, in hash order (docs/LOGICAL-HASH.md "Settings"):
/// every one is stored in the file, persists across connections and changes
/// how the database behaves, so a rollback that leaves one changed has not
/// restored the database.
pub const SETTINGS: [&str; 6] = [
    "application_id",
    "user_version",
    "page_size",
    "auto_vacuum",
    "encoding",
    "journal_mode",
];

/// One setting's value: integers as SQLite returns them, names as text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Setting {
    /// `application_id`, `user_version`, `page_size`, `auto_vacuum`.
    Int(i64),
    /// `encoding`, `journal_mode`.
    Text(String),
}

impl std::fmt::Display for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Setting::Int(i) => write!(f, "{i}"),
            Setting::Text(t) => f.write_str(t),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot compute the logical hash of {path}: {source}")]
pub struct LogicalError {
    pub path: String,
    #[source]
    pub source: rusqlite::Error,
}

/// One table's digest and row count.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TableDigest {
    /// Rows in the table.
    pub rows: u64,
    /// SHA-256 over the table's canonical segment (see docs/LOGICAL-HASH.md).
    pub sha256: String,
}

/// The logical hash of a whole database.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogicalDigest {
    /// SHA-256 over settings, schema digest and every table digest.
    pub sha256: String,
    /// The hashed settings by name ([`SETTINGS`]), so a difference can be
    /// named with its values. Empty for PostgreSQL (its database-level
    /// properties are part of the catalog description) and in reports
    /// written before `rollproof-logical-v2`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, Setting>,
    /// SHA-256 over the schema rows alone.
    pub schema_sha256: String,
    /// Per-table digests, by table name.
    pub tables: BTreeMap<String, TableDigest>,
}

/// Hashed bytes are gathered here and handed to SHA-256 in large pieces:
/// values are small, and one `update` per value costs more than the hash.
const FLUSH_AT: usize = 64 << 10;

/// Length-prefixed string: u64 big-endian byte length, then the bytes.
fn put_str(buf: &mut Vec<u8>, s: &[u8]) {
    buf.extend_from_slice(&(s.len() as u64).to_be_bytes());
    buf.extend_from_slice(s);
}

/// Type-tagged value: N | I i64be | F f64-bits-be | T len bytes | B len bytes.
fn put_value(buf: &mut Vec<u8>, v: ValueRef<'_>) {
    match v {
        ValueRef::Null => buf.push(b'N'),
        ValueRef::Integer(i) => {
            buf.push(b'I');
            buf.extend_from_slice(&i.to_be_bytes());
        }
        ValueRef::Real(f) => {
            buf.push(b'F');
            buf.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        ValueRef::Text(t) => {
            buf.push(b'T');
            put_str(buf, t);
        }
        ValueRef::Blob(b) => {
            buf.push(b'B');
            put_str(buf, b);
        }
    }
}

/// Hand the gathered bytes to the hasher once there are enough of them.
fn flush_if_full(h: &mut Sha256, buf: &mut Vec<u8>) {
    if buf.len() >= FLUSH_AT {
        h.update(&buf[..]);
        buf.clear();
    }
}

/// Double-quote an identifier for SQL.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The only objects the hash leaves out, by exact identity: the query
/// planner's statistics tables, which SQLite itself creates and rewrites on
/// `ANALYZE` (and `PRAGMA optimize`), as (name, the exact `sql` SQLite stores
/// for them). `sqlite_stat1` holds per-index row estimates, `sqlite_stat4`
/// (and the retired `sqlite_stat2`/`sqlite_stat3` of older SQLite versions)
/// sampled index keys; they steer query plans, never query results.
/// Anything else, whatever its name or case (`sqlitexstat_evil`,
/// `SQLITE0STAT_x`, `"sqlite-stat evil"`), is state; so is a table that
/// merely borrows one of these names with another definition.
pub const EXCLUDED_STAT_TABLES: [(&str, &str); 4] = [
    ("sqlite_stat1", "CREATE TABLE sqlite_stat1(tbl,idx,stat)"),
    (
        "sqlite_stat2",
        "CREATE TABLE sqlite_stat2(tbl,idx,sampleno,sample)",
    ),
    (
        "sqlite_stat3",
        "CREATE TABLE sqlite_stat3(tbl,idx,neq,nlt,ndlt,sample)",
    ),
    (
        "sqlite_stat4",
        "CREATE TABLE sqlite_stat4(tbl,idx,neq,nlt,ndlt,sample)",
    ),
];

/// The tables SQLite itself creates and maintains, by exact name:
/// `sqlite_sequence` (AUTOINCREMENT counters) and the statistics tables.
/// Readers that want only the user's data tables (profiles, secret scans)
/// leave exactly these out; the logical hash covers `sqlite_sequence`.
pub const SQLITE_INTERNAL_TABLES: [&str; 5] = [
    "sqlite_sequence",
    "sqlite_stat1",
    "sqlite_stat2",
    "sqlite_stat3",
    "sqlite_stat4",
];

/// [`SQLITE_INTERNAL_TABLES`] as an SQL list, for `name NOT IN …`.
pub fn internal_tables_sql() -> String {
    let quoted: Vec<String> = SQLITE_INTERNAL_TABLES
        .iter()
        .map(|t| format!("'{t}'"))
        .collect();
    format!("({})", quoted.join(", "))
}

/// SQL condition on a `sqlite_schema` row: true for the rows the hash
/// covers (every row but the exact [`EXCLUDED_STAT_TABLES`]). Comparisons
/// are `=` on `sqlite_schema`'s BINARY-collated text: exact bytes, case
/// included, no wildcards.
pub fn covered_sql() -> String {
    let stats: Vec<String> = EXCLUDED_STAT_TABLES
        .iter()
        .map(|(name, sql)| format!("(name = '{name}' AND sql = '{sql}')"))
        .collect();
    format!(
        "NOT (type = 'table' AND name = tbl_name AND ({}))",
        stats.join(" OR ")
    )
}

/// Tables covered by the hash, sorted by name: every table in the schema,
/// `sqlite_sequence` and rollproof's own `rollproof_provenance` included
/// (both are state a rollback must restore), except the exact
/// [`EXCLUDED_STAT_TABLES`].
pub fn table_names(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND {} ORDER BY name",
        covered_sql()
    ))?;
    stmt.query_map([], |r| r.get(0))?.collect()
}

/// Column names of a table and the `ORDER BY` that makes its row order
/// canonical: the declared primary key, else every column in order.
pub fn table_order(conn: &Connection, table: &str) -> rusqlite::Result<(Vec<String>, String)> {
    let mut stmt = conn.prepare("SELECT name, pk FROM pragma_table_info(?1) ORDER BY cid")?;
    let cols: Vec<(String, i64)> = stmt
        .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut pk: Vec<&(String, i64)> = cols.iter().filter(|(_, p)| *p > 0).collect();
    pk.sort_by_key(|(_, p)| *p);
    let order: Vec<String> = if pk.is_empty() {
        cols.iter().map(|(c, _)| quote_ident(c)).collect()
    } else {
        pk.iter().map(|(c, _)| quote_ident(c)).collect()
    };
    Ok((cols.into_iter().map(|(c, _)| c).collect(), order.join(", ")))
}

/// Digest of one table: str("table") str(name) u64(ncols) str(col)…, then
/// per row `R` + values, then `E` + u64(row count).
pub fn table_digest(conn: &Connection, table: &str) -> rusqlite::Result<TableDigest> {
    let (cols, order) = table_order(conn, table)?;
    let mut h = Sha256::new();
    let mut buf = Vec::with_capacity(FLUSH_AT + 4096);
    put_str(&mut buf, b"table");
    put_str(&mut buf, table.as_bytes());
    buf.extend_from_slice(&(cols.len() as u64).to_be_bytes());
    for c in &cols {
        put_str(&mut buf, c.as_bytes());
    }
    let select: Vec<String> = cols.iter().map(|c| quote_ident(c)).collect();
    let sql = format!(
        "SELECT {} FROM {} ORDER BY {}",
        select.join(", "),
        quote_ident(table),
        order
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    let mut n = 0u64;
    while let Some(row) = rows.next()? {
        buf.push(b'R');
        for i in 0..cols.len() {
            put_value(&mut buf, row.get_ref(i)?);
        }
        n += 1;
        flush_if_full(&mut h, &mut buf);
    }
    buf.push(b'E');
    buf.extend_from_slice(&n.to_be_bytes());
    h.update(&buf[..]);
    Ok(TableDigest {
        rows: n,
        sha256: hex::encode(h.finalize()),
    })
}

/// Digest of the schema: every `sqlite_schema` row except the exact
/// [`EXCLUDED_STAT_TABLES`], ordered by (type, name), each as `S` + four
/// type-tagged values.
pub fn schema_digest(conn: &Connection) -> rusqlite::Result<String> {
    let mut buf = Vec::new();
    put_str(&mut buf, b"schema");
    let mut stmt = conn.prepare(&format!(
        "SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE {} ORDER BY type, name",
        covered_sql()
    ))?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        buf.push(b'S');
        for i in 0..4 {
            put_value(&mut buf, row.get_ref(i)?);
        }
    }
    Ok(hex::encode(Sha256::digest(&buf)))
}

/// The journal mode stored in the file header, bytes 18–19 (the file
/// format write and read versions): `wal` for (2, 2), `rollback` for
/// (1, 1), anything else as the two numbers. Only WAL is persistent; the
/// rollback-journal variants (delete, truncate, persist, memory, off) are
/// per-connection choices and all store (1, 1).
pub fn journal_mode_of(header: &[u8]) -> String {
    match (header.get(18), header.get(19)) {
        (Some(2), Some(2)) => "wal".into(),
        (Some(1), Some(1)) => "rollback".into(),
        (w, r) => format!(
            "header bytes 18-19 = {},{}",
            w.copied().unwrap_or(0),
            r.copied().unwrap_or(0)
        ),
    }
}

/// The first 100 bytes of a database file, if it has a SQLite header.
pub fn read_header(path: &Path) -> Option<[u8; 100]> {
    use std::io::Read;
    let mut h = [0u8; 100];
    std::fs::File::open(path).ok()?.read_exact(&mut h).ok()?;
    h.starts_with(b"SQLite format 3\0").then_some(h)
}

/// The journal mode of the database behind `conn`: from its file's header
/// when it has one; a database without a file (in memory) or whose file is
/// still empty has only the connection's mode, WAL or not.
fn journal_mode(conn: &Connection) -> rusqlite::Result<String> {
    if let Some(h) = conn
        .path()
        .filter(|p| !p.is_empty())
        .and_then(|p| read_header(Path::new(p)))
    {
        return Ok(journal_mode_of(&h));
    }
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    Ok(if mode.eq_ignore_ascii_case("wal") {
        "wal".into()
    } else {
        "rollback".into()
    })
}

/// The [`SETTINGS`] of the database behind `conn`, in hash order.
pub fn settings(conn: &Connection) -> rusqlite::Result<Vec<(&'static str, Setting)>> {
    let mut out = Vec::with_capacity(SETTINGS.len());
    for name in SETTINGS {
        let v = match name {
            "encoding" => Setting::Text(conn.query_row("PRAGMA encoding", [], |r| r.get(0))?),
            "journal_mode" => Setting::Text(journal_mode(conn)?),
            pragma => Setting::Int(conn.query_row(&format!("PRAGMA {pragma}"), [], |r| r.get(0))?),
        };
        out.push((name, v));
    }
    Ok(out)
}

/// Compute the logical digest over an open connection.
pub fn digest_conn(conn: &Connection) -> rusqlite::Result<LogicalDigest> {
    digest_conn_with(conn, &mut |c, t| table_digest(c, t))
}

/// [`digest_conn`] with each table's digest from `table` (which must
/// return exactly what [`table_digest`] would: a caller may answer from a
/// cache it can prove current, see `fingerprint`).
pub fn digest_conn_with(
    conn: &Connection,
    table: &mut dyn FnMut(&Connection, &str) -> rusqlite::Result<TableDigest>,
) -> rusqlite::Result<LogicalDigest> {
    let schema_sha256 = schema_digest(conn)?;
    let mut buf = Vec::new();
    put_str(&mut buf, ALGORITHM.as_bytes());
    let settings = settings(conn)?;
    for (name, v) in &settings {
        put_str(&mut buf, name.as_bytes());
        match v {
            Setting::Int(i) => put_value(&mut buf, ValueRef::Integer(*i)),
            Setting::Text(t) => put_value(&mut buf, ValueRef::Text(t.as_bytes())),
        }
    }
    buf.extend_from_slice(&hex::decode(&schema_sha256).unwrap_or_default());
    let mut tables = BTreeMap::new();
    for t in table_names(conn)? {
        let d = table(conn, &t)?;
        put_str(&mut buf, t.as_bytes());
        buf.extend_from_slice(&hex::decode(&d.sha256).unwrap_or_default());
        tables.insert(t, d);
    }
    Ok(LogicalDigest {
        sha256: hex::encode(Sha256::digest(&buf)),
        settings: settings
            .into_iter()
            .map(|(n, v)| (n.to_string(), v))
            .collect(),
        schema_sha256,
        tables,
    })
}

/// A `file:` URI for `path` with `query`, every byte outside the unreserved
/// set percent-encoded (so `?`, `#` and `%` in a name stay part of it).
fn file_uri(path: &Path, query: &str) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/._~-".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push('?');
    uri.push_str(query);
    uri
}

/// True when a `-wal` file with content sits beside `path`.
pub fn wal_has_content(path: &Path) -> bool {
    let mut wal = path.as_os_str().to_os_string();
    wal.push("-wal");
    std::fs::metadata(wal).is_ok_and(|m| m.len() > 0)
}

/// Open a SQLite file read-only: never created, never written (the one
/// way rollproof opens a database it only reads). A file in WAL mode whose
/// `-wal` is absent or empty is opened `immutable`: its main file is then
/// the whole state, and a plain read-only open would create `-wal` and
/// `-shm` files beside it (SQLite needs them to read WAL mode).
pub fn open_read_only(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let wal_mode = read_header(path).is_some_and(|h| journal_mode_of(&h) == "wal");
    if wal_mode && !wal_has_content(path) {
        return Connection::open_with_flags(
            file_uri(path, "mode=ro&immutable=1"),
            flags | OpenFlags::SQLITE_OPEN_URI,
        );
    }
    Connection::open_with_flags(path, flags)
}

/// Open a database file read-only (never creating it) and digest it.
pub fn digest_file(path: &Path) -> Result<LogicalDigest, LogicalError> {
    let err = |source| LogicalError {
        path: path.display().to_string(),
        source,
    };
    let conn = open_read_only(path).map_err(err)?;
    digest_conn(&conn).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(sql: &str) -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(sql).unwrap();
        c
    }

    #[test]
    fn insertion_order_does_not_matter() {
        let a = db("CREATE TABLE t(id TEXT PRIMARY KEY, v); INSERT INTO t VALUES ('b',1),('a',2);");
        let b = db("CREATE TABLE t(id TEXT PRIMARY KEY, v); INSERT INTO t VALUES ('a',2),('b',1);");
        assert_eq!(digest_conn(&a).unwrap(), digest_conn(&b).unwrap());
    }

    #[test]
    fn length_prefix_prevents_dbhash_collision() {
        // dbhash hashes ('a3','b') and ('a','3b') the same; we must not.
        let a = db("CREATE TABLE t(x, y); INSERT INTO t VALUES ('a3','b');");
        let b = db("CREATE TABLE t(x, y); INSERT INTO t VALUES ('a','3b');");
        assert_ne!(
            digest_conn(&a).unwrap().sha256,
            digest_conn(&b).unwrap().sha256
        );
    }

    #[test]
    fn type_tags_matter_and_pragmas_count() {
        let a = db("CREATE TABLE t(x); INSERT INTO t VALUES (1);");
        let b = db("CREATE TABLE t(x); INSERT INTO t VALUES ('1');");
        assert_ne!(
            digest_conn(&a).unwrap().sha256,
            digest_conn(&b).unwrap().sha256
        );
        let c = db("CREATE TABLE t(x); INSERT INTO t VALUES (1); PRAGMA user_version = 7;");
        let da = digest_conn(&a).unwrap();
        let dc = digest_conn(&c).unwrap();
        assert_ne!(da.sha256, dc.sha256);
        assert_eq!(da.tables, dc.tables);
    }

    #[test]
    fn only_the_exact_statistics_tables_are_left_out() {
        let base = "CREATE TABLE t(id INTEGER PRIMARY KEY, v); CREATE INDEX tv ON t(v); INSERT INTO t VALUES (1, 'a');";
        let plain = digest_conn(&db(base)).unwrap();
        // ANALYZE writes sqlite_stat1: planner statistics, not content.
        let analyzed = db(&format!("{base} ANALYZE;"));
        let n: i64 = analyzed
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_stat1'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "ANALYZE created sqlite_stat1");
        assert_eq!(digest_conn(&analyzed).unwrap(), plain);
        // Names a LIKE 'sqlite_stat%' would have matched are content.
        for evil in [
            "CREATE TRIGGER sqlitexstat_evil AFTER INSERT ON t BEGIN DELETE FROM t WHERE id = new.id; END;",
            "CREATE UNIQUE INDEX SQLITE0STAT_x ON t(v);",
            "CREATE VIEW \"sqlite-stat evil\" AS SELECT * FROM t;",
            "CREATE TABLE \"sqlite-stat evil\"(x);",
        ] {
            let d = digest_conn(&db(&format!("{base} {evil}"))).unwrap();
            assert_ne!(d.sha256, plain.sha256, "{evil}");
            assert_ne!(d.schema_sha256, plain.schema_sha256, "{evil}");
        }
        // The exclusion condition is exact: a look-alike row (as
        // writable_schema could plant) is covered.
        let c = db(base);
        c.execute_batch(
            "PRAGMA writable_schema = ON;
             INSERT INTO sqlite_schema VALUES ('view', 'sqlite_stat1', 'sqlite_stat1', 0, 'CREATE VIEW sqlite_stat1 AS SELECT 1');
             PRAGMA writable_schema = OFF;",
        )
        .unwrap();
        assert_ne!(schema_digest(&c).unwrap(), plain.schema_sha256);
    }

    #[test]
    fn every_persistent_setting_is_hashed_and_named() {
        let d = tempfile::tempdir().unwrap();
        let file = |name: &str, pre: &str| {
            let p = d.path().join(name);
            let c = Connection::open(&p).unwrap();
            c.execute_batch(&format!(
                "{pre} CREATE TABLE t(id INTEGER PRIMARY KEY, v); INSERT INTO t VALUES (1, 'a');"
            ))
            .unwrap();
            drop(c);
            digest_file(&p).unwrap()
        };
        let base = file("base.db", "");
        assert_eq!(
            base.settings["journal_mode"],
            Setting::Text("rollback".into())
        );
        assert_eq!(base.settings["page_size"], Setting::Int(4096));
        assert_eq!(base.settings["encoding"], Setting::Text("UTF-8".into()));
        for (name, pre, setting) in [
            ("wal.db", "PRAGMA journal_mode = WAL;", "journal_mode"),
            ("page.db", "PRAGMA page_size = 8192;", "page_size"),
            (
                "vacuum.db",
                "PRAGMA auto_vacuum = INCREMENTAL;",
                "auto_vacuum",
            ),
            ("utf16.db", "PRAGMA encoding = 'UTF-16le';", "encoding"),
        ] {
            let other = file(name, pre);
            assert_ne!(other.sha256, base.sha256, "{setting}");
            assert_eq!(other.tables, base.tables, "{setting}: rows are equal");
            assert_ne!(other.settings[setting], base.settings[setting], "{setting}");
            let differing: Vec<&String> = base
                .settings
                .keys()
                .filter(|k| base.settings[*k] != other.settings[*k])
                .collect();
            assert_eq!(differing, [setting], "only {setting} differs");
        }
        // A WAL-mode file is read without creating -wal or -shm beside it.
        let wal = d.path().join("wal.db");
        assert!(!d.path().join("wal.db-wal").exists());
        assert!(!d.path().join("wal.db-shm").exists());
        drop(open_read_only(&wal).unwrap());
        assert!(!d.path().join("wal.db-shm").exists());
    }

    #[test]
    fn file_uris_keep_every_byte_of_the_name() {
        assert_eq!(
            file_uri(Path::new("/a b/c?d#e%f.db"), "mode=ro"),
            "file:/a%20b/c%3Fd%23e%25f.db?mode=ro"
        );
    }

    #[test]
    fn sequence_table_is_covered() {
        let a = db(
            "CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT); INSERT INTO t VALUES (NULL); DELETE FROM t;",
        );
        let b = db("CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT);");
        let (da, db_) = (digest_conn(&a).unwrap(), digest_conn(&b).unwrap());
        assert_ne!(da.sha256, db_.sha256);
        assert_eq!(da.tables["t"], db_.tables["t"]);
    }
}
