//! The digest the stock `sqlite3` command-line shell prints for
//! `.sha3sum --schema --sha3-256`, computed by rollproof itself, so a
//! reviewer can re-check a proof report with nothing but the shell.
//!
//! The algorithm is the shell's (`shell.c`, the `.sha3sum` dot-command) on
//! top of `sha3_query()` from `ext/misc/shathree.c`, reproduced byte for byte:
//!
//! * tables: `SELECT lower(name) FROM sqlite_schema WHERE type='table' AND
//!   coalesce(rootpage,0)>1 UNION ALL SELECT 'sqlite_schema' ORDER BY 1
//!   collate nocase` (with `--schema`; virtual tables are skipped);
//! * one query per table: `SELECT * FROM "t" NOT INDEXED;` (scan order), or
//!   fixed ordered queries for `sqlite_schema`, `sqlite_sequence`,
//!   `sqlite_stat1` and `sqlite_stat4`;
//! * one SHA3 stream over all of them: per statement `S<len>:<sql text>`,
//!   per row `R`, per value `N` | `I`+8 bytes big-endian | `F`+8 bytes of the
//!   IEEE double big-endian | `T<len>:<utf-8>` | `B<len>:<bytes>`;
//! * printed as lowercase hex.
//!
//! Note: the shell's default digest in 3.40.1 is SHA3-224 although its help
//! says 256 (BYTE-EXACT-FACTS), so we always pass the size explicitly.

use rusqlite::Connection;
use rusqlite::types::ValueRef;
use sha3::{Digest, Sha3_256};
use std::path::Path;

/// Bytes gathered before each SHA3 update.
const FLUSH_AT: usize = 64 << 10;

/// The dot-command whose output [`sha3sum_file`] reproduces.
pub const DOT_COMMAND: &str = ".sha3sum --schema --sha3-256";

/// The exact shell command line a reviewer runs to get the same digest
/// (`FILE` stands for the database path).
pub const SHELL_COMMAND: &str = "sqlite3 -readonly FILE \".sha3sum --schema --sha3-256\"";

#[derive(Debug, thiserror::Error)]
#[error("cannot compute the .sha3sum digest of {path}: {source}")]
pub struct Sha3sumError {
    pub path: String,
    #[source]
    pub source: rusqlite::Error,
}

/// The statement the shell hashes for one table (lowercased name), or
/// `None` for an internal `sqlite_*` table the shell skips.
fn table_query(table: &str) -> Option<String> {
    if !table.starts_with("sqlite_") {
        return Some(format!(
            "SELECT * FROM \"{}\" NOT INDEXED;",
            table.replace('"', "\"\"")
        ));
    }
    match table {
        "sqlite_schema" => {
            Some("SELECT type,name,tbl_name,sql FROM sqlite_schema ORDER BY name;".into())
        }
        "sqlite_sequence" => Some("SELECT name,seq FROM sqlite_sequence ORDER BY name;".into()),
        "sqlite_stat1" => Some("SELECT tbl,idx,stat FROM sqlite_stat1 ORDER BY tbl,idx;".into()),
        "sqlite_stat4" => Some("SELECT * FROM sqlite_stat4 ORDER BY tbl, idx, rowid;\n".into()),
        _ => None,
    }
}

/// `tag`, the decimal length, `:` (as the shell's `%d` prints it).
fn put_len(buf: &mut Vec<u8>, tag: u8, n: usize) {
    buf.push(tag);
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
    buf.push(b':');
}

/// Hash one statement's text and result rows the way `sha3_query` does.
/// `text` is what `sqlite3_sql()` returns for it: the statement up to and
/// including its `;`, with any whitespace the previous statement left behind.
fn hash_statement(conn: &Connection, text: &str, h: &mut Sha3_256) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(text)?;
    // Gathered and hashed in large pieces: one update per value would cost
    // more than the hash itself.
    let mut buf: Vec<u8> = Vec::with_capacity(FLUSH_AT + 4096);
    put_len(&mut buf, b'S', text.len());
    buf.extend_from_slice(text.as_bytes());
    let ncol = stmt.column_count();
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        buf.push(b'R');
        for i in 0..ncol {
            match row.get_ref(i)? {
                ValueRef::Null => buf.push(b'N'),
                ValueRef::Integer(v) => {
                    buf.push(b'I');
                    buf.extend_from_slice(&v.to_be_bytes());
                }
                ValueRef::Real(f) => {
                    buf.push(b'F');
                    buf.extend_from_slice(&f.to_bits().to_be_bytes());
                }
                ValueRef::Text(t) => {
                    put_len(&mut buf, b'T', t.len());
                    buf.extend_from_slice(t);
                }
                ValueRef::Blob(b) => {
                    put_len(&mut buf, b'B', b.len());
                    buf.extend_from_slice(b);
                }
            }
        }
        if buf.len() >= FLUSH_AT {
            h.update(&buf[..]);
            buf.clear();
        }
    }
    h.update(&buf[..]);
    Ok(())
}

/// The `.sha3sum --schema --sha3-256` digest over an open connection.
pub fn sha3sum_conn(conn: &Connection) -> rusqlite::Result<String> {
    let mut stmt = conn.prepare(
        "SELECT lower(name) FROM sqlite_schema WHERE type='table' AND coalesce(rootpage,0)>1 \
         UNION ALL SELECT 'sqlite_schema' ORDER BY 1 collate nocase",
    )?;
    let tables: Vec<Option<String>> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut h = Sha3_256::new();
    // The shell concatenates every query into one string that `sha3_query`
    // splits again statement by statement; the newline after the
    // `sqlite_stat4` query therefore opens the next statement's text.
    let mut carry = String::new();
    for table in tables.iter().flatten() {
        if let Some(sql) = table_query(table) {
            let body = sql.trim_end_matches('\n');
            let text = format!("{carry}{body}");
            carry = sql[body.len()..].to_string();
            hash_statement(conn, &text, &mut h)?;
        }
    }
    Ok(hex::encode(h.finalize()))
}

/// Open `path` read-only (never creating it) and compute the digest the
/// shell prints for [`DOT_COMMAND`].
pub fn sha3sum_file(path: &Path) -> Result<String, Sha3sumError> {
    let err = |source| Sha3sumError {
        path: path.display().to_string(),
        source,
    };
    let conn = crate::engine::sqlite::logical::open_read_only(path).map_err(err)?;
    sha3sum_conn(&conn).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run the real shell on a file (`.ci/run` installs it when missing).
    fn shell(path: &Path) -> String {
        let out = std::process::Command::new("sqlite3")
            .arg("-readonly")
            .arg(path)
            .arg(DOT_COMMAND)
            .output()
            .expect("the sqlite3 shell must be installed (apt-get install sqlite3)");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    #[test]
    fn empty_database_matches_the_definition() {
        // Only sqlite_schema, with no rows: one statement, no rows.
        let conn = Connection::open_in_memory().unwrap();
        let sql = "SELECT type,name,tbl_name,sql FROM sqlite_schema ORDER BY name;";
        let mut h = Sha3_256::new();
        h.update(format!("S{}:{}", sql.len(), sql).as_bytes());
        assert_eq!(sha3sum_conn(&conn).unwrap(), hex::encode(h.finalize()));
    }

    #[test]
    fn every_type_agrees_with_the_real_shell() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.db");
        let conn = Connection::open(&p).unwrap();
        conn.execute_batch(
            "CREATE TABLE \"Mixed\"(a, b, c);
             INSERT INTO Mixed VALUES (NULL, -7, 2.5), ('héllo', x'00ff', ''), (x'', 9223372036854775807, -0.0);
             CREATE TABLE s(id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT);
             INSERT INTO s(v) VALUES ('a'), ('b');
             CREATE INDEX s_v ON s(v);
             CREATE TABLE w(k TEXT PRIMARY KEY, v) WITHOUT ROWID;
             INSERT INTO w VALUES ('z', 1), ('a', 2);
             ANALYZE;",
        )
        .unwrap();
        drop(conn);
        let ours = sha3sum_file(&p).unwrap();
        assert_eq!(ours.len(), 64);
        assert_eq!(ours, shell(&p));
    }

    #[test]
    fn stat4_last_and_in_the_middle_agree_with_the_real_shell() {
        // The bundled SQLite has STAT4: ANALYZE writes sqlite_stat4, whose
        // query ends in a newline that the next statement inherits.
        let dir = tempfile::tempdir().unwrap();
        for (name, next) in [("last.db", "a"), ("middle.db", "zz")] {
            let p = dir.path().join(name);
            let conn = Connection::open(&p).unwrap();
            conn.execute_batch(&format!(
                "CREATE TABLE {next}(k INTEGER PRIMARY KEY, v TEXT);
                 INSERT INTO {next}(v) VALUES ('x'), ('y'), ('y');
                 CREATE INDEX {next}_v ON {next}(v);
                 ANALYZE;"
            ))
            .unwrap();
            let stat4: i64 = conn
                .query_row("SELECT count(*) FROM sqlite_stat4", [], |r| r.get(0))
                .unwrap();
            assert!(stat4 > 0);
            drop(conn);
            assert_eq!(sha3sum_file(&p).unwrap(), shell(&p), "{name}");
        }
    }

    #[test]
    fn missing_file_is_an_error_and_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("none.db");
        let e = sha3sum_file(&p).unwrap_err();
        assert!(e.to_string().contains("none.db"));
        assert!(!p.exists());
    }
}
