//! Row-level differences between two SQLite files, like `sqldiff`: for each
//! named table, walk both sides in primary-key order (a streaming merge
//! join, so memory stays flat) and report the first differing rows, with
//! the SQL that would turn the second file's row back into the first's.
//!
//! Values of credential columns and values the secret scan flags are shown
//! as a digest, never as themselves ([`crate::evidence::redact`]).
//!
//! Row order follows SQLite's own `ORDER BY` for BINARY collation: NULL,
//! then numbers (integers and reals compared by value), then text (bytes),
//! then blobs (bytes). The surface declares no other collation.

use crate::engine::sqlite::logical::quote_ident;
use crate::evidence::redact;
use crate::evidence::report::{Diff, ObjectDiff, RowDiff, TableDiff};
use rusqlite::Connection;
use rusqlite::types::Value;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::Path;

/// Values longer than this many bytes are shortened in the diff.
pub const SHOW_BYTES: usize = 120;

use crate::engine::sqlite::logical::open_read_only as open_ro;

/// A value of column `col` as shown in a diff: its SQL literal, or a digest
/// when it is a credential ([`redact::value`]).
pub fn shown(col: &str, v: &Value) -> String {
    let raw: std::borrow::Cow<'_, [u8]> = match v {
        Value::Null => return literal(v),
        Value::Integer(i) => i.to_string().into_bytes().into(),
        Value::Real(f) => format!("{f:?}").into_bytes().into(),
        Value::Text(t) => t.as_bytes().into(),
        Value::Blob(b) => b.as_slice().into(),
    };
    redact::value(col, &raw, literal(v))
}

/// Compare two values as SQLite's ORDER BY does (BINARY collation).
pub fn cmp_values(a: &Value, b: &Value) -> Ordering {
    fn class(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Integer(_) | Value::Real(_) => 1,
            Value::Text(_) => 2,
            Value::Blob(_) => 3,
        }
    }
    match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => x.cmp(y),
        (Value::Integer(x), Value::Real(y)) => (*x as f64).total_cmp(y),
        (Value::Real(x), Value::Integer(y)) => x.total_cmp(&(*y as f64)),
        (Value::Real(x), Value::Real(y)) => x.total_cmp(y),
        (Value::Text(x), Value::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Blob(x), Value::Blob(y)) => x.cmp(y),
        _ => class(a).cmp(&class(b)),
    }
}

/// A value as a SQL literal, shortened past [`SHOW_BYTES`].
pub fn literal(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Integer(i) => i.to_string(),
        Value::Real(f) => format!("{f:?}"),
        Value::Text(t) => {
            let mut s = t.replace('\'', "''");
            if s.len() > SHOW_BYTES {
                let extra = s.len() - SHOW_BYTES;
                let mut cut = SHOW_BYTES;
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                s.truncate(cut);
                s.push_str(&format!("…(+{extra} bytes)"));
            }
            format!("'{s}'")
        }
        Value::Blob(b) => {
            let shown = &b[..b.len().min(SHOW_BYTES / 2)];
            let more = if b.len() > shown.len() {
                format!("…(+{} bytes)", b.len() - shown.len())
            } else {
                String::new()
            };
            format!("X'{}'{more}", hex::encode(shown))
        }
    }
}

/// Columns of `table` and its key columns (declared primary key; for
/// `sqlite_sequence` the name; else every column). None if absent.
fn table_shape(
    conn: &Connection,
    table: &str,
) -> rusqlite::Result<Option<(Vec<String>, Vec<usize>)>> {
    let mut stmt = conn.prepare("SELECT name, pk FROM pragma_table_info(?1) ORDER BY cid")?;
    let cols: Vec<(String, i64)> = stmt
        .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if cols.is_empty() {
        return Ok(None);
    }
    let mut pk: Vec<(i64, usize)> = cols
        .iter()
        .enumerate()
        .filter(|(_, (_, p))| *p > 0)
        .map(|(i, (_, p))| (*p, i))
        .collect();
    pk.sort();
    let mut key: Vec<usize> = pk.into_iter().map(|(_, i)| i).collect();
    if key.is_empty() {
        key = if table == "sqlite_sequence" {
            cols.iter()
                .position(|(c, _)| c == "name")
                .into_iter()
                .collect()
        } else {
            (0..cols.len()).collect()
        };
    }
    Ok(Some((cols.into_iter().map(|(c, _)| c).collect(), key)))
}

struct Side {
    cols: Vec<String>,
    key: Vec<usize>,
}

type Row = Vec<Value>;

fn cmp_keys(a: &Row, ak: &[usize], b: &Row, bk: &[usize]) -> Ordering {
    for (i, j) in ak.iter().zip(bk) {
        let o = cmp_values(&a[*i], &b[*j]);
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

fn key_text(side: &Side, row: &Row) -> String {
    side.key
        .iter()
        .map(|i| format!("{}={}", side.cols[*i], shown(&side.cols[*i], &row[*i])))
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn row_map(side: &Side, row: &Row) -> BTreeMap<String, String> {
    side.cols
        .iter()
        .zip(row)
        .map(|(c, v)| (c.clone(), shown(c, v)))
        .collect()
}

fn insert_sql(table: &str, side: &Side, row: &Row) -> String {
    let cols: Vec<String> = side.cols.iter().map(|c| quote_ident(c)).collect();
    let vals: Vec<String> = side
        .cols
        .iter()
        .zip(row)
        .map(|(c, v)| shown(c, v))
        .collect();
    format!(
        "INSERT INTO {}({}) VALUES({});",
        quote_ident(table),
        cols.join(","),
        vals.join(",")
    )
}

fn where_sql(side: &Side, row: &Row) -> String {
    side.key
        .iter()
        .map(|i| {
            let c = &side.cols[*i];
            format!("{}={}", quote_ident(c), shown(c, &row[*i]))
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn select<'c>(
    conn: &'c Connection,
    table: &str,
    side: &Side,
) -> rusqlite::Result<Option<rusqlite::Statement<'c>>> {
    if side.cols.is_empty() {
        return Ok(None);
    }
    let cols: Vec<String> = side.cols.iter().map(|c| quote_ident(c)).collect();
    let order: Vec<String> = side
        .key
        .iter()
        .map(|i| quote_ident(&side.cols[*i]))
        .collect();
    conn.prepare(&format!(
        "SELECT {} FROM {} ORDER BY {}",
        cols.join(", "),
        quote_ident(table),
        order.join(", ")
    ))
    .map(Some)
}

/// Diff one table between `before` and `after` (either may lack it).
fn diff_table(
    before: &Connection,
    after: &Connection,
    table: &str,
    limit: usize,
) -> rusqlite::Result<TableDiff> {
    let sb = table_shape(before, table)?;
    let sa = table_shape(after, table)?;
    let mut td = TableDiff::new(table);
    let empty = || Side {
        cols: Vec::new(),
        key: Vec::new(),
    };
    let (b_side, a_side) = match (&sb, &sa) {
        (Some((c, k)), Some((c2, k2))) => (
            Side {
                cols: c.clone(),
                key: k.clone(),
            },
            Side {
                cols: c2.clone(),
                key: k2.clone(),
            },
        ),
        (Some((c, k)), None) => (
            Side {
                cols: c.clone(),
                key: k.clone(),
            },
            empty(),
        ),
        (None, Some((c, k))) => (
            empty(),
            Side {
                cols: c.clone(),
                key: k.clone(),
            },
        ),
        (None, None) => return Ok(td),
    };
    // Rows are compared by key; if the key columns differ the tables are
    // compared as wholly different rows.
    let same_key = b_side.key.len() == a_side.key.len()
        && b_side
            .key
            .iter()
            .zip(&a_side.key)
            .all(|(i, j)| b_side.cols[*i] == a_side.cols[*j]);
    let mut bs = select(before, table, &b_side)?;
    let mut as_ = select(after, table, &a_side)?;
    let mut brows = match bs.as_mut() {
        Some(s) => Some(s.query([])?),
        None => None,
    };
    let mut arows = match as_.as_mut() {
        Some(s) => Some(s.query([])?),
        None => None,
    };
    let next = |rows: &mut Option<rusqlite::Rows<'_>>, n: usize| -> rusqlite::Result<Option<Row>> {
        let Some(rows) = rows.as_mut() else {
            return Ok(None);
        };
        match rows.next()? {
            Some(r) => (0..n)
                .map(|i| r.get::<_, Value>(i))
                .collect::<rusqlite::Result<Row>>()
                .map(Some),
            None => Ok(None),
        }
    };
    let (nb, na) = (b_side.cols.len(), a_side.cols.len());
    let mut b = next(&mut brows, nb)?;
    let mut a = next(&mut arows, na)?;
    let push = |td: &mut TableDiff, d: RowDiff| td.record(d, limit);
    loop {
        let order = match (&b, &a) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(br), Some(ar)) if same_key => cmp_keys(br, &b_side.key, ar, &a_side.key),
            (Some(_), Some(_)) => Ordering::Less,
        };
        match order {
            Ordering::Less => {
                let Some(br) = b.take() else { break };
                td.before_rows += 1;
                push(
                    &mut td,
                    RowDiff {
                        change: "missing".into(),
                        key: key_text(&b_side, &br),
                        before: Some(row_map(&b_side, &br)),
                        after: None,
                        sql: insert_sql(table, &b_side, &br),
                    },
                );
                b = next(&mut brows, nb)?;
            }
            Ordering::Greater => {
                let Some(ar) = a.take() else { break };
                td.after_rows += 1;
                push(
                    &mut td,
                    RowDiff {
                        change: "extra".into(),
                        key: key_text(&a_side, &ar),
                        before: None,
                        after: Some(row_map(&a_side, &ar)),
                        sql: format!(
                            "DELETE FROM {} WHERE {};",
                            quote_ident(table),
                            where_sql(&a_side, &ar)
                        ),
                    },
                );
                a = next(&mut arows, na)?;
            }
            Ordering::Equal => {
                let (Some(br), Some(ar)) = (b.take(), a.take()) else {
                    break;
                };
                td.before_rows += 1;
                td.after_rows += 1;
                let mut bm = BTreeMap::new();
                let mut am = BTreeMap::new();
                let mut sets = Vec::new();
                let all: std::collections::BTreeSet<&String> =
                    b_side.cols.iter().chain(a_side.cols.iter()).collect();
                for col in all {
                    let bv = b_side.cols.iter().position(|c| c == col).map(|i| &br[i]);
                    let av = a_side.cols.iter().position(|c| c == col).map(|i| &ar[i]);
                    let equal = match (bv, av) {
                        (Some(x), Some(y)) => x == y,
                        _ => false,
                    };
                    if !equal {
                        let show = |v: Option<&Value>| {
                            v.map(|v| shown(col, v))
                                .unwrap_or_else(|| "(no such column)".into())
                        };
                        bm.insert(col.clone(), show(bv));
                        am.insert(col.clone(), show(av));
                        if let Some(v) = bv {
                            sets.push(format!("{}={}", quote_ident(col), shown(col, v)));
                        }
                    }
                }
                if !bm.is_empty() {
                    push(
                        &mut td,
                        RowDiff {
                            change: "changed".into(),
                            key: key_text(&b_side, &br),
                            before: Some(bm),
                            after: Some(am),
                            sql: format!(
                                "UPDATE {} SET {} WHERE {};",
                                quote_ident(table),
                                sets.join(", "),
                                where_sql(&b_side, &br)
                            ),
                        },
                    );
                }
                b = next(&mut brows, nb)?;
                a = next(&mut arows, na)?;
            }
        }
    }
    Ok(td)
}

/// Diff the named tables of two database files, at most `limit` rows shown
/// per table. Tables with no row differences are left out.
pub fn diff_files(
    before: &Path,
    after: &Path,
    tables: &[String],
    limit: usize,
) -> rusqlite::Result<Vec<TableDiff>> {
    let b = open_ro(before)?;
    let a = open_ro(after)?;
    let mut out = Vec::new();
    for t in tables {
        let td = diff_table(&b, &a, t, limit)?;
        if td.differing_rows > 0 {
            out.push(td);
        }
    }
    Ok(out)
}

/// Hashed schema rows by (type, name): (tbl_name, sql).
type SchemaRows = BTreeMap<(String, String), (String, Option<String>)>;

/// The hashed schema rows of a file.
fn schema_rows(conn: &Connection) -> rusqlite::Result<SchemaRows> {
    let mut stmt = conn.prepare(&format!(
        "SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE {}",
        crate::engine::sqlite::logical::covered_sql()
    ))?;
    let rows = stmt.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), (r.get(2)?, r.get(3)?))))?;
    rows.collect()
}

/// Every schema object added, removed or changed from `before` to `after`,
/// with its SQL on both sides, as `sqldiff --schema` shows them (an
/// automatic index, which has no SQL, is shown as such). Changed means a
/// different `sql` or table: a table rebuilt with other columns, a trigger
/// redefined under the same name.
pub fn schema_objects(
    before: &Connection,
    after: &Connection,
) -> rusqlite::Result<Vec<ObjectDiff>> {
    let (b, a) = (schema_rows(before)?, schema_rows(after)?);
    let keys: std::collections::BTreeSet<&(String, String)> = b.keys().chain(a.keys()).collect();
    let sql = |row: Option<&(String, Option<String>)>| {
        row.map(|(tbl, sql)| match sql {
            Some(s) => redact::text(s),
            None => format!("(automatic index on {tbl})"),
        })
    };
    Ok(keys
        .into_iter()
        .filter_map(|k| {
            let (x, y) = (b.get(k), a.get(k));
            let change = match (x, y) {
                (Some(p), Some(q)) if p == q => return None,
                (Some(_), Some(_)) => "changed",
                (None, _) => "added",
                (_, None) => "removed",
            };
            Some(ObjectDiff {
                change: change.into(),
                kind: k.0.clone(),
                name: k.1.clone(),
                before: sql(x),
                after: sql(y),
            })
        })
        .collect())
}

/// A complete [`Diff`] record, or one carrying the error that prevented it.
pub fn diff_record(
    before: &Path,
    after: &Path,
    schema_differs: bool,
    tables: &[String],
    limit: usize,
) -> Diff {
    let objects = open_ro(before)
        .and_then(|b| Ok((b, open_ro(after)?)))
        .and_then(|(b, a)| schema_objects(&b, &a));
    let (tables, mut error) = match diff_files(before, after, tables, limit) {
        Ok(t) => (t, None),
        Err(e) => (Vec::new(), Some(format!("row diff failed: {e}"))),
    };
    let mut d = Diff {
        from: "before".into(),
        to: "after_rollback".into(),
        schema_differs,
        tables,
        ..Diff::default()
    };
    match objects {
        Ok(o) => d.set_objects(o),
        Err(e) => {
            error.get_or_insert(format!("schema diff failed: {e}"));
        }
    }
    d.error = error;
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &Path, name: &str, sql: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        let c = Connection::open(&p).unwrap();
        c.execute_batch(sql).unwrap();
        p
    }

    #[test]
    fn finds_missing_extra_and_changed_rows_in_key_order() {
        let d = tempfile::tempdir().unwrap();
        let schema = "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);";
        let b = file(
            d.path(),
            "b.db",
            &format!("{schema} INSERT INTO t VALUES (1,'a'),(2,'b'),(3,'c');"),
        );
        let a = file(
            d.path(),
            "a.db",
            &format!("{schema} INSERT INTO t VALUES (2,'B'),(3,'c'),(4,'d');"),
        );
        let diffs = diff_files(&b, &a, &["t".into()], 10).unwrap();
        assert_eq!(diffs.len(), 1);
        let t = &diffs[0];
        assert_eq!((t.before_rows, t.after_rows, t.differing_rows), (3, 3, 3));
        let changes: Vec<&str> = t.rows.iter().map(|r| r.change.as_str()).collect();
        assert_eq!(changes, ["missing", "changed", "extra"]);
        assert_eq!(t.rows[1].sql, "UPDATE \"t\" SET \"v\"='b' WHERE \"id\"=2;");
        assert_eq!(t.rows[2].sql, "DELETE FROM \"t\" WHERE \"id\"=4;");
    }

    #[test]
    fn bounded_rows_but_full_count_and_sequence_keyed_by_name() {
        let d = tempfile::tempdir().unwrap();
        let schema = "CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT, v);";
        let b = file(
            d.path(),
            "b.db",
            &format!("{schema} INSERT INTO t(v) VALUES (1);"),
        );
        let a = file(
            d.path(),
            "a.db",
            &format!(
                "{schema} INSERT INTO t(v) VALUES (1); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<20) INSERT INTO t(v) SELECT i FROM n; DELETE FROM t WHERE id > 1;"
            ),
        );
        let diffs = diff_files(&b, &a, &["t".into(), "sqlite_sequence".into()], 2).unwrap();
        assert_eq!(diffs.len(), 1, "t is equal, only the sequence differs");
        assert_eq!(diffs[0].table, "sqlite_sequence");
        assert_eq!(diffs[0].rows[0].key, "name='t'");
        assert_eq!(
            diffs[0].rows[0].sql,
            "UPDATE \"sqlite_sequence\" SET \"seq\"=1 WHERE \"name\"='t';"
        );
    }

    #[test]
    fn schema_objects_name_a_leftover_sqlite_sequence_and_a_rebuilt_table() {
        let d = tempfile::tempdir().unwrap();
        let b = file(
            d.path(),
            "b.db",
            "CREATE TABLE t(id INTEGER PRIMARY KEY, v); CREATE INDEX tv ON t(v);",
        );
        // Rebuilt with other columns, a dropped index, and an AUTOINCREMENT
        // table created and dropped again: its sqlite_sequence stays.
        let a = file(
            d.path(),
            "a.db",
            "CREATE TABLE t(id INTEGER PRIMARY KEY, v, w); \
             CREATE TABLE tmp(id INTEGER PRIMARY KEY AUTOINCREMENT); INSERT INTO tmp VALUES (NULL); DROP TABLE tmp;",
        );
        let objects = schema_objects(&open_ro(&b).unwrap(), &open_ro(&a).unwrap()).unwrap();
        let named: Vec<(&str, &str, &str)> = objects
            .iter()
            .map(|o| (o.change.as_str(), o.kind.as_str(), o.name.as_str()))
            .collect();
        assert_eq!(
            named,
            [
                ("removed", "index", "tv"),
                ("added", "table", "sqlite_sequence"),
                ("changed", "table", "t")
            ]
        );
        assert_eq!(
            objects[2].after.as_deref(),
            Some("CREATE TABLE t(id INTEGER PRIMARY KEY, v, w)")
        );
        assert_eq!(
            objects[1].after.as_deref(),
            Some("CREATE TABLE sqlite_sequence(name,seq)")
        );
    }

    #[test]
    fn credential_values_are_shown_as_digests() {
        let v = Value::Text("hunter2".into());
        assert!(shown("password", &v).starts_with("[redacted sha256:"));
        assert_eq!(shown("name", &v), "'hunter2'");
    }

    #[test]
    fn ordering_matches_sqlite() {
        use Value::*;
        let mut v = vec![
            Text("b".into()),
            Integer(3),
            Null,
            Real(2.5),
            Blob(vec![0]),
            Text("a".into()),
        ];
        v.sort_by(cmp_values);
        assert_eq!(
            v,
            vec![
                Null,
                Real(2.5),
                Integer(3),
                Text("a".into()),
                Text("b".into()),
                Blob(vec![0])
            ]
        );
    }
}
