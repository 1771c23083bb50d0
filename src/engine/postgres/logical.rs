//! The canonical logical hash of a PostgreSQL database (docs/POSTGRES.md).
//!
//! Every table's rows are streamed in primary-key order with
//! `COPY (SELECT … ORDER BY pk) TO STDOUT` into SHA-256 — one row in memory
//! at a time — and encoded exactly like [`crate::engine::sqlite::logical`]'s per-table
//! segment (length-prefixed, type-tagged N/I/F/T/B). Values are projected to
//! what SQLite stores for the same surface: booleans as integers 0/1,
//! timestamps as `YYYY-MM-DDTHH:MM:SS.sssZ` text, uuid and json as their
//! text (`json` keeps the input text verbatim). So for the same content the
//! per-table digests are equal across the two backends. Sequence state is
//! hashed as a segment in the form of SQLite's `sqlite_sequence` table
//! (owning table name, last value), so it compares across backends too.
//!
//! The schema part is a normalized catalog description (columns, types,
//! defaults, constraints, indexes, sequences, functions, views, triggers),
//! which necessarily differs from SQLite's `CREATE` texts: the overall
//! digest is only comparable between PostgreSQL databases. Only the system's
//! own schemas and the rows of rollproof's provenance record are left out,
//! by exact name ([`super::catalog::system_schema`]). All reads happen in one
//! REPEATABLE READ, read-only transaction: a consistent snapshot.

use super::catalog::{
    PROVENANCE_ROWS, schema_digest, sequence_digest, sequence_rows, system_schema,
};
use super::{PgError, quote_ident, sql_err};
use crate::engine::sqlite::logical::{LogicalDigest, TableDigest};
use postgres::{Client, GenericClient, IsolationLevel};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::BufRead;

/// Version tag of the PostgreSQL digest; bump it if the algorithm changes.
/// v2: the catalog description covers owners, privileges, RLS, policies,
/// rules, trigger states, comments, reloptions, extensions and every other
/// object by identity; only the system schemas are left out.
pub const ALGORITHM: &str = "rollproof-logical-pg-v2";
/// Name of the sequence segment (same encoding as SQLite's table).
pub const SEQUENCE_SEGMENT: &str = "sqlite_sequence";

/// A digest and how many COPY bytes were streamed to compute it.
#[derive(Debug, Clone)]
pub struct Digested {
    /// The logical digest.
    pub digest: LogicalDigest,
    /// Bytes of COPY text streamed from the server.
    pub bytes: u64,
}

/// How a column's text is turned into a tagged value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Integers (and `oid`): `I`.
    Int,
    /// Booleans, projected to 0/1: `I`.
    Bool,
    /// Floating point: `F`.
    Float,
    /// Binary: `B`.
    Bytea,
    /// Timestamps with time zone, as Directus text: `T`.
    Timestamptz,
    /// Everything else, as its text output: `T`.
    Text,
}

fn kind_of(typname: &str) -> Kind {
    match typname {
        "int2" | "int4" | "int8" | "oid" => Kind::Int,
        "bool" => Kind::Bool,
        "float4" | "float8" => Kind::Float,
        "bytea" => Kind::Bytea,
        "timestamptz" => Kind::Timestamptz,
        _ => Kind::Text,
    }
}

/// One hashed column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// How its value is encoded.
    pub kind: Kind,
    /// Whether it has a collation (text-like: ordered `COLLATE "C"`).
    pub collatable: bool,
}

/// A table's hashed columns (in attribute order) and primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Columns, in order.
    pub columns: Vec<Column>,
    /// Primary-key column names, in key order (empty: no key).
    pub pk: Vec<String>,
}

/// Length-prefixed string, as in [`crate::engine::sqlite::logical`].
pub(crate) fn put_str(h: &mut Sha256, s: &[u8]) {
    h.update((s.len() as u64).to_be_bytes());
    h.update(s);
}

/// The `SELECT` expression projecting a column to its canonical text.
fn projection(c: &Column) -> String {
    let q = quote_ident(&c.name);
    match c.kind {
        Kind::Bool => format!("({q})::int"),
        // Milliseconds as Directus writes them; microseconds when present,
        // so no stored precision is hidden from the hash.
        Kind::Timestamptz => format!(
            "CASE WHEN NOT isfinite({q}) OR {q} < '0001-01-01Z' THEN {q}::text \
             WHEN date_trunc('milliseconds', {q}) = {q} \
             THEN to_char({q} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') \
             ELSE to_char({q} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') END"
        ),
        _ => q,
    }
}

/// One COPY text field, unescaped into `out` (false for NULL).
pub fn unescape(field: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    if field == b"\\N" {
        return false;
    }
    let mut i = 0;
    while i < field.len() {
        let b = field[i];
        if b != b'\\' || i + 1 == field.len() {
            out.push(b);
            i += 1;
            continue;
        }
        let e = field[i + 1];
        i += 2;
        match e {
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                let mut n = 1;
                while n < 3 && i < field.len() && (b'0'..=b'7').contains(&field[i]) {
                    v = v * 8 + u32::from(field[i] - b'0');
                    i += 1;
                    n += 1;
                }
                out.push(v as u8);
            }
            other => out.push(other),
        }
    }
    true
}

fn bad_value(table: &str, col: &str, text: &[u8]) -> PgError {
    PgError::Invalid(format!(
        "table {table} column {col}: unexpected value '{}' in the COPY stream",
        String::from_utf8_lossy(text)
    ))
}

/// Feed one unescaped value, type-tagged like [`crate::engine::sqlite::logical`].
fn put_value(h: &mut Sha256, kind: Kind, v: &[u8], table: &str, col: &str) -> Result<(), PgError> {
    let text = || std::str::from_utf8(v).map_err(|_| bad_value(table, col, v));
    match kind {
        Kind::Int | Kind::Bool => {
            let i: i64 = text()?.parse().map_err(|_| bad_value(table, col, v))?;
            h.update(b"I");
            h.update(i.to_be_bytes());
        }
        Kind::Float => {
            let f: f64 = text()?.parse().map_err(|_| bad_value(table, col, v))?;
            h.update(b"F");
            h.update(f.to_bits().to_be_bytes());
        }
        Kind::Bytea => {
            let hexdigits = v
                .strip_prefix(b"\\x")
                .ok_or_else(|| bad_value(table, col, v))?;
            let bytes = hex::decode(hexdigits).map_err(|_| bad_value(table, col, v))?;
            h.update(b"B");
            put_str(h, &bytes);
        }
        Kind::Timestamptz | Kind::Text => {
            h.update(b"T");
            put_str(h, v);
        }
    }
    Ok(())
}

/// Hashed tables as (display name, `schema.table` SQL name), sorted by
/// display name (bare name in `public`, `schema.table` elsewhere).
fn tables(tx: &mut impl GenericClient, db: &str) -> Result<Vec<(String, String)>, PgError> {
    let rows = tx
        .query(
            &format!(
                "SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND NOT {}
                   AND NOT (c.relkind = 'r' AND n.nspname = $1 AND c.relname = $2)",
                system_schema("n")
            ),
            &[&PROVENANCE_ROWS.0, &PROVENANCE_ROWS.1],
        )
        .map_err(sql_err("listing tables", db))?;
    let mut out: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            let (schema, name): (String, String) = (r.get(0), r.get(1));
            let display = if schema == "public" {
                name.clone()
            } else {
                format!("{schema}.{name}")
            };
            (
                display,
                format!("{}.{}", quote_ident(&schema), quote_ident(&name)),
            )
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Columns and primary key of table `sql_name` (`"schema"."table"`).
pub fn layout(tx: &mut impl GenericClient, db: &str, sql_name: &str) -> Result<Layout, PgError> {
    let columns: Vec<Column> = tx
        .query(
            "SELECT a.attname::text, t.typname::text, a.attcollation <> 0
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
             WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum",
            &[&sql_name],
        )
        .map_err(sql_err("reading columns", db))?
        .iter()
        .map(|r| Column {
            name: r.get(0),
            kind: kind_of(r.get::<_, String>(1).as_str()),
            collatable: r.get(2),
        })
        .collect();
    let pk: Vec<String> = tx
        .query(
            "SELECT a.attname::text FROM pg_index i
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
             WHERE i.indrelid = $1::text::regclass AND i.indisprimary
             ORDER BY array_position(i.indkey::int2[], a.attnum)",
            &[&sql_name],
        )
        .map_err(sql_err("reading the primary key", db))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(Layout { columns, pk })
}

/// The canonical `COPY (SELECT … ORDER BY …) TO STDOUT` of a table.
pub fn copy_query(layout: &Layout, sql_name: &str) -> String {
    let cols = &layout.columns;
    let order: Vec<String> = if layout.pk.is_empty() {
        // No key: order by every column's text, bytewise.
        cols.iter()
            .map(|c| format!("({})::text COLLATE \"C\" NULLS FIRST", quote_ident(&c.name)))
            .collect()
    } else {
        layout
            .pk
            .iter()
            .map(|name| {
                let collatable = cols.iter().any(|c| &c.name == name && c.collatable);
                let q = quote_ident(name);
                if collatable {
                    format!("{q} COLLATE \"C\"")
                } else {
                    q
                }
            })
            .collect()
    };
    let select: Vec<String> = cols.iter().map(projection).collect();
    let select = if select.is_empty() {
        "1".to_string()
    } else {
        select.join(", ")
    };
    format!(
        "COPY (SELECT {select} FROM {sql_name} ORDER BY {}) TO STDOUT",
        if order.is_empty() {
            "1".to_string()
        } else {
            order.join(", ")
        }
    )
}

/// Digest of one table (same segment layout as [`crate::engine::sqlite::logical::table_digest`]).
fn table_digest(
    tx: &mut impl GenericClient,
    db: &str,
    display: &str,
    sql_name: &str,
    bytes: &mut u64,
) -> Result<TableDigest, PgError> {
    let layout = layout(tx, db, sql_name)?;
    let cols = &layout.columns;
    let mut h = Sha256::new();
    put_str(&mut h, b"table");
    put_str(&mut h, display.as_bytes());
    h.update((cols.len() as u64).to_be_bytes());
    for c in cols {
        put_str(&mut h, c.name.as_bytes());
    }
    let copy = copy_query(&layout, sql_name);
    let reader = tx.copy_out(&copy).map_err(sql_err("COPY out", db))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, reader);
    let io = |source| PgError::Io {
        what: format!("reading table {display}"),
        db: db.to_string(),
        source,
    };
    let (mut line, mut value) = (Vec::with_capacity(4096), Vec::with_capacity(4096));
    let mut n = 0u64;
    loop {
        line.clear();
        let got = reader.read_until(b'\n', &mut line).map_err(io)?;
        if got == 0 {
            break;
        }
        *bytes += got as u64;
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        h.update(b"R");
        if !cols.is_empty() {
            let mut fields = line.split(|&b| b == b'\t');
            for c in cols {
                let field = fields
                    .next()
                    .ok_or_else(|| bad_value(display, &c.name, &line))?;
                if unescape(field, &mut value) {
                    put_value(&mut h, c.kind, &value, display, &c.name)?;
                } else {
                    h.update(b"N");
                }
            }
        }
        n += 1;
    }
    h.update(b"E");
    h.update(n.to_be_bytes());
    Ok(TableDigest {
        rows: n,
        sha256: hex::encode(h.finalize()),
    })
}

/// Compute the logical digest of the connected database `db` in one
/// REPEATABLE READ, read-only transaction (a consistent snapshot).
pub fn digest(client: &mut Client, db: &str) -> Result<Digested, PgError> {
    let mut tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(sql_err("starting the read transaction", db))?;
    let d = digest_on(&mut tx, db)?;
    tx.commit()
        .map_err(sql_err("ending the read transaction", db))?;
    Ok(d)
}

/// Compute the logical digest on a client as it stands, e.g. inside an
/// open transaction (it then sees that transaction's uncommitted changes).
pub fn digest_on(tx: &mut impl GenericClient, db: &str) -> Result<Digested, PgError> {
    let schema_sha256 = schema_digest(tx, db)?;
    let mut segments: BTreeMap<String, TableDigest> = BTreeMap::new();
    let mut bytes = 0u64;
    for (display, sql_name) in tables(tx, db)? {
        let d = table_digest(tx, db, &display, &sql_name, &mut bytes)?;
        segments.insert(display, d);
    }
    if let Some(rows) = sequence_rows(tx, db)? {
        let rows: Vec<(String, i64)> = rows.into_iter().map(|s| (s.name, s.last_value)).collect();
        segments.insert(SEQUENCE_SEGMENT.to_string(), sequence_digest(&rows));
    }
    let mut h = Sha256::new();
    put_str(&mut h, ALGORITHM.as_bytes());
    h.update(hex::decode(&schema_sha256).unwrap_or_default());
    // Names sorted bytewise, as SQLite's `ORDER BY name` does.
    let mut names: Vec<&String> = segments.keys().collect();
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for name in names {
        put_str(&mut h, name.as_bytes());
        h.update(hex::decode(&segments[name].sha256).unwrap_or_default());
    }
    Ok(Digested {
        digest: LogicalDigest {
            sha256: hex::encode(h.finalize()),
            settings: BTreeMap::new(),
            schema_sha256,
            tables: segments,
        },
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_unescaping() {
        let mut out = Vec::new();
        assert!(!unescape(b"\\N", &mut out));
        assert!(unescape(b"a\\tb\\\\c\\nd\\101", &mut out));
        assert_eq!(out, b"a\tb\\c\ndA");
        assert!(unescape(b"", &mut out));
        assert!(out.is_empty());
    }

    #[test]
    fn sequence_segment_encodes_like_sqlite_sequence() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE b(id INTEGER PRIMARY KEY AUTOINCREMENT);
             CREATE TABLE a(id INTEGER PRIMARY KEY AUTOINCREMENT);
             INSERT INTO b VALUES (NULL),(NULL); INSERT INTO a VALUES (7);",
        )
        .unwrap();
        let sqlite = crate::engine::sqlite::logical::table_digest(&c, "sqlite_sequence").unwrap();
        let pg = sequence_digest(&[("a".into(), 7), ("b".into(), 2)]);
        assert_eq!(sqlite, pg);
    }

    #[test]
    fn values_encode_like_sqlite() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE t(id INTEGER PRIMARY KEY, b, f, x, s);
             INSERT INTO t VALUES (1, 1, 2.5, x'00ff', 'a\tb'), (2, 0, NULL, NULL, '');",
        )
        .unwrap();
        let sqlite = crate::engine::sqlite::logical::table_digest(&c, "t").unwrap();
        let mut h = Sha256::new();
        put_str(&mut h, b"table");
        put_str(&mut h, b"t");
        h.update(5u64.to_be_bytes());
        for col in ["id", "b", "f", "x", "s"] {
            put_str(&mut h, col.as_bytes());
        }
        let kinds = [Kind::Int, Kind::Bool, Kind::Float, Kind::Bytea, Kind::Text];
        let mut v = Vec::new();
        for line in ["1\t1\t2.5\t\\\\x00ff\ta\\tb", "2\t0\t\\N\t\\N\t"] {
            h.update(b"R");
            for (field, kind) in line.as_bytes().split(|&b| b == b'\t').zip(kinds) {
                if unescape(field, &mut v) {
                    put_value(&mut h, kind, &v, "t", "c").unwrap();
                } else {
                    h.update(b"N");
                }
            }
        }
        h.update(b"E");
        h.update(2u64.to_be_bytes());
        assert_eq!(sqlite.sha256, hex::encode(h.finalize()));
    }
}
