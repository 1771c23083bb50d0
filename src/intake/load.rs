//! Turning an operator's dump into a SQLite file: a SQLite database is
//! copied byte for byte (streamed, hashed on the way); a SQL text dump is
//! executed statement by statement in a fresh database, reading the script
//! line by line so memory is bounded by the largest statement. Scripts that
//! could reach outside the clone (ATTACH, VACUUM INTO, extensions, schema
//! surgery) are refused before they run; `DROP … IF EXISTS`, with which
//! vendor scripts begin, runs: in the fresh clone it can only touch the
//! clone.

use super::IntakeError;
use crate::guard::Refusal;
use rusqlite::Connection;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

/// The 16-byte magic every SQLite 3 database starts with.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// What kind of dump a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A SQLite database file.
    Sqlite,
    /// A SQL text script (e.g. `sqlite3 db .dump`).
    Sql,
}

impl Format {
    /// Name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Sqlite => "sqlite",
            Format::Sql => "sql",
        }
    }
}

fn bad(path: &Path, problem: impl Into<String>) -> IntakeError {
    IntakeError::BadDump {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

/// Sniff the format from the first bytes; refuse anything that is neither.
pub fn detect(path: &Path) -> Result<Format, IntakeError> {
    let mut f = crate::util::fsutil::open_regular_io(path)
        .map_err(|e| bad(path, format!("cannot open: {e}")))?;
    let mut head = vec![0u8; 4096];
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(bad(path, format!("cannot read: {e}"))),
        }
    }
    head.truncate(n);
    if head.starts_with(SQLITE_MAGIC) {
        return Ok(Format::Sqlite);
    }
    if n == 0 {
        return Err(bad(path, "is empty: not a SQLite database or SQL dump"));
    }
    let text = match std::str::from_utf8(&head) {
        Ok(t) => t,
        // The 4 KiB window may cut a multi-byte character: accept that.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or("")
        }
        Err(_) => "",
    };
    if text.is_empty() || text.contains('\0') {
        return Err(bad(path, "is not a SQLite database or a SQL text dump"));
    }
    Ok(Format::Sql)
}

/// Check the SQLite header against the file's length: a database whose
/// header promises more pages than the file holds was truncated.
pub fn check_sqlite_header(path: &Path) -> Result<(), IntakeError> {
    let mut f = crate::util::fsutil::open_regular_io(path)
        .map_err(|e| bad(path, format!("cannot open: {e}")))?;
    let len = f
        .metadata()
        .map_err(|e| bad(path, format!("cannot stat: {e}")))?
        .len();
    let mut h = [0u8; 100];
    f.read_exact(&mut h).map_err(|_| {
        bad(
            path,
            format!("is truncated: {len} bytes, shorter than the 100-byte SQLite header"),
        )
    })?;
    let raw = u16::from_be_bytes([h[16], h[17]]) as u64;
    let page_size = if raw == 1 { 65_536 } else { raw };
    if !(512..=65_536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(bad(
            path,
            format!("has an invalid SQLite header (page size {raw})"),
        ));
    }
    if len % page_size != 0 {
        return Err(bad(
            path,
            format!(
                "is truncated or damaged: {len} bytes is not a whole number of {page_size}-byte pages"
            ),
        ));
    }
    let pages = u32::from_be_bytes([h[28], h[29], h[30], h[31]]) as u64;
    let change = &h[24..28];
    let valid_for = &h[92..96];
    // The in-header size is authoritative only when valid-for matches the
    // change counter (SQLite file format, section 1.3.7).
    if pages > 0 && change == valid_for && pages * page_size > len {
        return Err(bad(
            path,
            format!(
                "is truncated: its header promises {pages} pages ({} bytes) but the file has {len} bytes",
                pages * page_size
            ),
        ));
    }
    Ok(())
}

/// Stream-copy `src` into `dest` (an open temp file), returning the SHA-256
/// of the bytes copied.
pub fn copy_hashing(src: &Path, dest: &mut std::fs::File) -> Result<String, IntakeError> {
    let mut input = crate::util::fsutil::open_regular_io(src)
        .map_err(|e| bad(src, format!("cannot open: {e}")))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; crate::hash::CHUNK];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(bad(src, format!("cannot read: {e}"))),
        };
        h.update(&buf[..n]);
        dest.write_all(&buf[..n])
            .map_err(|e| IntakeError::Workspace(format!("cannot write the clone: {e}")))?;
    }
    dest.sync_all()
        .map_err(|e| IntakeError::Workspace(format!("cannot write the clone: {e}")))?;
    Ok(hex::encode(h.finalize()))
}

/// True when `sql` is one or more complete SQL statements (SQLite's own
/// rule, which understands strings, comments and trigger bodies).
fn is_complete(sql: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(sql) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call;
    // sqlite3_complete only reads it.
    unsafe { rusqlite::ffi::sqlite3_complete(c.as_ptr()) != 0 }
}

/// Upper-cased words of `sql` outside string literals, quoted identifiers
/// and comments.
fn bare_words(sql: &str) -> Vec<String> {
    let b = sql.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < b.len() {
                    if b[i] == q {
                        if b.get(i + 1) == Some(&q) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'[' => {
                while i < b.len() && b[i] != b']' {
                    i += 1;
                }
                i += 1;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$')
                {
                    i += 1;
                }
                words.push(sql[start..i].to_ascii_uppercase());
            }
            _ => i += 1,
        }
    }
    words
}

/// Statement kinds a dump may contain.
const ALLOWED_STATEMENTS: &[&str] = &[
    "CREATE",
    "INSERT",
    "REPLACE",
    "UPDATE",
    "DELETE",
    // Vendor scripts start with `DROP … IF EXISTS`: in the fresh clone a
    // DROP can only remove what the script itself created.
    "DROP",
    "BEGIN",
    "COMMIT",
    "END",
    "ROLLBACK",
    "SAVEPOINT",
    "RELEASE",
    "ANALYZE",
    "PRAGMA",
];
/// Pragmas a dump may set; anything else could change more than data.
const ALLOWED_PRAGMAS: &[&str] = &[
    "FOREIGN_KEYS",
    "DEFER_FOREIGN_KEYS",
    "USER_VERSION",
    "APPLICATION_ID",
    "ENCODING",
];

/// Refuse a statement that could reach outside the clone.
fn check_statement(path: &Path, line: u64, sql: &str) -> Result<(), IntakeError> {
    let words = bare_words(sql);
    let Some(first) = words.first() else {
        return Ok(());
    };
    let refuse = |why: String| {
        IntakeError::Refused(Refusal::new(format!(
            "{}: line {line}: {why}; a dump may only create, fill and drop its own objects",
            path.display()
        )))
    };
    if words.iter().any(|w| w == "LOAD_EXTENSION") {
        return Err(refuse("the script loads an extension".to_string()));
    }
    if !ALLOWED_STATEMENTS.contains(&first.as_str()) {
        return Err(refuse(format!("{first} statements are not allowed")));
    }
    if first == "PRAGMA" {
        let name = words.get(1).map(String::as_str).unwrap_or("");
        if !ALLOWED_PRAGMAS.contains(&name) {
            return Err(refuse(format!("PRAGMA {name} is not allowed")));
        }
    }
    Ok(())
}

/// SQLite's message without the statement text (which could hold a secret),
/// on one line.
fn error_text(e: &rusqlite::Error) -> String {
    let text = match e {
        // `near "TOKEN": syntax error` would quote the dump: keep the verdict.
        rusqlite::Error::SqlInputError { msg, offset, .. } => {
            let verdict = msg.rsplit_once(": ").map_or(msg.as_str(), |(_, v)| v);
            format!("{verdict} at offset {offset}")
        }
        rusqlite::Error::SqliteFailure(f, Some(msg)) => format!("{msg} ({:?})", f.code),
        other => other.to_string(),
    };
    text.replace(['\n', '\r'], " ")
}

/// Execute the SQL script at `src` into the empty database `conn`, one
/// complete statement at a time. Returns the SHA-256 of the script bytes.
pub fn load_sql(src: &Path, conn: &Connection) -> Result<String, IntakeError> {
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)
        .map_err(|e| IntakeError::Workspace(format!("cannot harden the clone: {e}")))?;
    let file = crate::util::fsutil::open_regular_io(src)
        .map_err(|e| bad(src, format!("cannot open: {e}")))?;
    let mut reader = BufReader::new(file);
    let mut h = Sha256::new();
    let mut stmt = String::new();
    let mut raw = Vec::new();
    let (mut lineno, mut start_line) = (0u64, 1u64);
    let cap = crate::util::fsutil::limit::DUMP_STATEMENT;
    loop {
        raw.clear();
        // Memory stays bounded whatever the dump: a line is read only up to
        // what the statement may still grow by, plus one byte to notice.
        let room = cap.saturating_sub(stmt.len() as u64) + 1;
        let n = (&mut reader)
            .take(room)
            .read_until(b'\n', &mut raw)
            .map_err(|e| bad(src, format!("line {}: cannot read ({e})", lineno + 1)))?;
        if n == 0 {
            break;
        }
        if stmt.len() + n > cap as usize {
            return Err(bad(
                src,
                format!(
                    "line {}: the statement starting at line {} is longer than \
                     {cap} bytes (docs/GUARD.md \"Input limits\")",
                    lineno + 1,
                    if stmt.trim().is_empty() {
                        lineno + 1
                    } else {
                        start_line
                    }
                ),
            ));
        }
        let line = std::str::from_utf8(&raw)
            .map_err(|e| bad(src, format!("line {}: not UTF-8 text ({e})", lineno + 1)))?;
        lineno += 1;
        h.update(line.as_bytes());
        if line.contains('\0') {
            return Err(bad(
                src,
                format!("line {lineno}: contains a NUL byte; not a SQL text dump"),
            ));
        }
        if stmt.trim().is_empty() {
            start_line = lineno;
        }
        stmt.push_str(line);
        if stmt.trim_end().ends_with(';') && is_complete(&stmt) {
            check_statement(src, start_line, &stmt)?;
            conn.execute_batch(&stmt).map_err(|e| {
                bad(
                    src,
                    format!(
                        "line {start_line}: the statement failed: {}",
                        error_text(&e)
                    ),
                )
            })?;
            stmt.clear();
        }
    }
    if !bare_words(&stmt).is_empty() {
        return Err(bad(
            src,
            format!("is truncated: the statement starting at line {start_line} never ends"),
        ));
    }
    if !conn.is_autocommit() {
        return Err(bad(
            src,
            "is truncated: the script ends inside an open transaction (no COMMIT)",
        ));
    }
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_skip_literals_and_comments() {
        let w = bare_words(
            "INSERT INTO t VALUES('attach; load_extension', \"x\") -- attach\n/* vacuum */ ;",
        );
        assert_eq!(w, ["INSERT", "INTO", "T", "VALUES"]);
    }

    #[test]
    fn dangerous_statements_are_refused() {
        let p = Path::new("d.sql");
        for sql in [
            "ATTACH 'other.db' AS o;",
            "VACUUM INTO '/tmp/x.db';",
            "SELECT load_extension('x');",
            "PRAGMA writable_schema = ON;",
            "INSERT INTO t SELECT load_extension('evil');",
        ] {
            assert!(check_statement(p, 1, sql).is_err(), "{sql}");
        }
        for sql in [
            "PRAGMA foreign_keys=OFF;",
            "BEGIN TRANSACTION;",
            "INSERT INTO t VALUES('ATTACH');",
            "CREATE TABLE t(a);",
            "DROP TABLE IF EXISTS t;",
            "DROP VIEW IF EXISTS v;",
        ] {
            assert!(check_statement(p, 1, sql).is_ok(), "{sql}");
        }
    }

    #[test]
    fn completeness_follows_sqlite() {
        assert!(is_complete("CREATE TABLE t(a);"));
        assert!(!is_complete("INSERT INTO t VALUES('a;"));
        assert!(!is_complete(
            "CREATE TRIGGER x AFTER INSERT ON t BEGIN DELETE FROM t;"
        ));
        assert!(is_complete(
            "CREATE TRIGGER x AFTER INSERT ON t BEGIN DELETE FROM t; END;"
        ));
    }
}
