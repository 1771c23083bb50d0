//! Row-level differences between two PostgreSQL databases on one server
//! (the before state, e.g. a snapshot clone, and the target after
//! rollback): both sides of a table are streamed with the same ordered
//! `COPY` the logical hash uses and merged on the primary key, so memory
//! stays bounded whatever the table size; at most `limit` rows are kept per
//! table, every differing row is counted. Credentials are shown as digests
//! ([`crate::evidence::redact`]). Catalog differences are named per object
//! ([`catalog_objects`]).

use super::catalog::{self, CatalogRow};
use super::logical::{self, Kind};
use super::{PgError, quote_ident, sql_err};
use crate::evidence::redact;
use crate::evidence::report::{ObjectDiff, RowDiff, TableDiff};
use postgres::Client;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};

/// Values longer than this are shortened for display.
const SHOW: usize = 120;

type Row = Vec<Option<Vec<u8>>>;

struct Side<R: Read> {
    reader: BufReader<R>,
    line: Vec<u8>,
    rows: u64,
}

impl<R: Read> Side<R> {
    fn next(&mut self, ncols: usize, what: &str, db: &str) -> Result<Option<Row>, PgError> {
        self.line.clear();
        let n = self
            .reader
            .read_until(b'\n', &mut self.line)
            .map_err(|source| PgError::Io {
                what: what.to_string(),
                db: db.to_string(),
                source,
            })?;
        if n == 0 {
            return Ok(None);
        }
        if self.line.last() == Some(&b'\n') {
            self.line.pop();
        }
        self.rows += 1;
        let mut row = Vec::with_capacity(ncols);
        let mut buf = Vec::new();
        for field in self.line.split(|&b| b == b'\t') {
            row.push(logical::unescape(field, &mut buf).then(|| buf.clone()));
        }
        Ok(Some(row))
    }
}

fn cmp_value(kind: Kind, a: &Option<Vec<u8>>, b: &Option<Vec<u8>>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => {
            let num = |v: &[u8]| {
                std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.parse::<f64>().ok())
            };
            match kind {
                Kind::Int | Kind::Bool | Kind::Float => match (num(x), num(y)) {
                    (Some(p), Some(q)) => p.partial_cmp(&q).unwrap_or(Ordering::Equal),
                    _ => x.cmp(y),
                },
                _ => x.cmp(y),
            }
        }
    }
}

fn show(v: &Option<Vec<u8>>) -> String {
    match v {
        None => "NULL".into(),
        Some(b) => {
            let s = String::from_utf8_lossy(b);
            if s.len() > SHOW {
                let mut cut = SHOW;
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                format!("{}…", &s[..cut])
            } else {
                s.into_owned()
            }
        }
    }
}

fn literal(kind: Kind, v: &Option<Vec<u8>>) -> String {
    match (kind, v) {
        (_, None) => "NULL".into(),
        (Kind::Int | Kind::Bool | Kind::Float, Some(_)) => show(v),
        _ => format!("'{}'", show(v).replace('\'', "''")),
    }
}

/// A value of column `col` for display, or a digest when it is a
/// credential ([`redact::value`]).
fn shown(col: &str, v: &Option<Vec<u8>>) -> String {
    match v {
        Some(raw) => redact::value(col, raw, show(v)),
        None => show(v),
    }
}

/// [`literal`], or a digest when the value is a credential.
fn shown_literal(col: &str, kind: Kind, v: &Option<Vec<u8>>) -> String {
    match v {
        Some(raw) => redact::value(col, raw, literal(kind, v)),
        None => literal(kind, v),
    }
}

/// Compare table `display` (SQL name `sql_name`) between `before` and
/// `after`; `None` when it cannot be merged (no primary key, or columns
/// differ), so the caller reports it without rows.
fn table(
    before: &mut Client,
    after: &mut Client,
    db: &str,
    display: &str,
    sql_name: &str,
    limit: usize,
) -> Result<Option<TableDiff>, PgError> {
    let layout = logical::layout(after, db, sql_name)?;
    if layout.pk.is_empty() || logical::layout(before, db, sql_name)?.columns != layout.columns {
        return Ok(None);
    }
    let kinds: Vec<Kind> = layout.columns.iter().map(|c| c.kind).collect();
    let names: Vec<String> = layout.columns.iter().map(|c| c.name.clone()).collect();
    let copy = logical::copy_query(&layout, sql_name);
    let what = format!("diffing table {display}");
    let mut b = Side {
        reader: BufReader::with_capacity(
            1 << 20,
            before.copy_out(&copy).map_err(sql_err("COPY out", db))?,
        ),
        line: Vec::new(),
        rows: 0,
    };
    let mut a = Side {
        reader: BufReader::with_capacity(
            1 << 20,
            after.copy_out(&copy).map_err(sql_err("COPY out", db))?,
        ),
        line: Vec::new(),
        rows: 0,
    };
    let pk: Vec<usize> = layout
        .pk
        .iter()
        .filter_map(|k| names.iter().position(|n| n == k))
        .collect();
    let key_cmp = |x: &Row, y: &Row| {
        pk.iter()
            .map(|&i| cmp_value(kinds[i], &x[i], &y[i]))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    };
    let key_text = |r: &Row| {
        pk.iter()
            .map(|&i| format!("{}={}", names[i], shown_literal(&names[i], kinds[i], &r[i])))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    let all = |r: &Row| -> BTreeMap<String, String> {
        names
            .iter()
            .zip(r)
            .map(|(n, v)| (n.clone(), shown(n, v)))
            .collect()
    };
    let q = quote_ident;
    let mut td = TableDiff::new(display);
    let (mut rb, mut ra) = (
        b.next(names.len(), &what, db)?,
        a.next(names.len(), &what, db)?,
    );
    loop {
        let order = match (&rb, &ra) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(x), Some(y)) => key_cmp(x, y),
        };
        let diff = match order {
            Ordering::Less => rb.as_ref().map(|x| RowDiff {
                change: "missing".into(),
                key: key_text(x),
                before: Some(all(x)),
                after: None,
                sql: format!(
                    "INSERT INTO {} ({}) VALUES ({});",
                    sql_name,
                    names.iter().map(|n| q(n)).collect::<Vec<_>>().join(", "),
                    x.iter()
                        .zip(&kinds)
                        .zip(&names)
                        .map(|((v, k), n)| shown_literal(n, *k, v))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
            Ordering::Greater => ra.as_ref().map(|y| RowDiff {
                change: "extra".into(),
                key: key_text(y),
                before: None,
                after: Some(all(y)),
                sql: format!("DELETE FROM {} WHERE {};", sql_name, key_text(y)),
            }),
            Ordering::Equal => match (&rb, &ra) {
                (Some(x), Some(y)) if x != y => {
                    let changed: Vec<usize> = (0..names.len()).filter(|&i| x[i] != y[i]).collect();
                    let pick = |r: &Row| -> BTreeMap<String, String> {
                        changed
                            .iter()
                            .map(|&i| (names[i].clone(), shown(&names[i], &r[i])))
                            .collect()
                    };
                    Some(RowDiff {
                        change: "changed".into(),
                        key: key_text(x),
                        before: Some(pick(x)),
                        after: Some(pick(y)),
                        sql: format!(
                            "UPDATE {} SET {} WHERE {};",
                            sql_name,
                            changed
                                .iter()
                                .map(|&i| format!(
                                    "{} = {}",
                                    q(&names[i]),
                                    shown_literal(&names[i], kinds[i], &x[i])
                                ))
                                .collect::<Vec<_>>()
                                .join(", "),
                            key_text(x)
                        ),
                    })
                }
                _ => None,
            },
        };
        if let Some(d) = diff {
            td.record(d, limit);
        }
        if order != Ordering::Greater {
            rb = b.next(names.len(), &what, db)?;
        }
        if order != Ordering::Less {
            ra = a.next(names.len(), &what, db)?;
        }
    }
    td.before_rows = b.rows;
    td.after_rows = a.rows;
    Ok(Some(td))
}

/// The sequence segment, row by row.
fn sequences(
    before: &mut Client,
    after: &mut Client,
    db: &str,
    limit: usize,
) -> Result<TableDiff, PgError> {
    let get = |c: &mut Client| -> Result<BTreeMap<String, i64>, PgError> {
        Ok(crate::engine::postgres::catalog::sequence_rows(c, db)?
            .unwrap_or_default()
            .into_iter()
            .map(|r| (r.name, r.last_value))
            .collect())
    };
    let (b, a) = (get(before)?, get(after)?);
    let mut td = TableDiff::new(logical::SEQUENCE_SEGMENT);
    let names: std::collections::BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    for name in names {
        let (x, y) = (b.get(name), a.get(name));
        if x == y {
            continue;
        }
        let one = |v: Option<&i64>| v.map(|v| BTreeMap::from([("seq".to_string(), v.to_string())]));
        let d = RowDiff {
            change: match (x, y) {
                (Some(_), None) => "missing",
                (None, Some(_)) => "extra",
                _ => "changed",
            }
            .into(),
            key: format!("name='{name}'"),
            before: one(x),
            after: one(y),
            sql: match x {
                Some(v) => {
                    format!("SELECT setval(pg_get_serial_sequence('{name}', 'id'), {v}, true);")
                }
                None => format!(
                    "ALTER SEQUENCE … RESTART; -- the sequence of {name} was never used before"
                ),
            },
        };
        td.record(d, limit);
    }
    td.before_rows = b.len() as u64;
    td.after_rows = a.len() as u64;
    Ok(td)
}

/// Differences in `tables` (logical-hash segment names) between the
/// databases behind `before` and `after`. Tables that cannot be merged
/// row by row are listed with their row counts only.
pub fn diff(
    before: &mut Client,
    after: &mut Client,
    db: &str,
    tables: &[String],
    limit: usize,
) -> Result<Vec<TableDiff>, PgError> {
    let mut out = Vec::new();
    for t in tables {
        if t == logical::SEQUENCE_SEGMENT {
            out.push(sequences(before, after, db, limit)?);
            continue;
        }
        let sql_name = match t.split_once('.') {
            Some((schema, name)) => format!("{}.{}", quote_ident(schema), quote_ident(name)),
            None => format!("public.{}", quote_ident(t)),
        };
        let exists = |c: &mut Client| -> Result<bool, PgError> {
            Ok(
                c.query_one("SELECT to_regclass($1) IS NOT NULL", &[&sql_name])
                    .map_err(sql_err("looking up a table", db))?
                    .get(0),
            )
        };
        if !exists(before)? || !exists(after)? {
            continue;
        }
        if let Some(d) = table(before, after, db, t, &sql_name, limit)? {
            out.push(d);
        }
    }
    Ok(out)
}

/// How a catalog row is named in a diff: its object, and the part of it.
fn object_name(r: &CatalogRow) -> String {
    let sub = r
        .sub
        .split_once(' ')
        .filter(|_| r.kind == "column")
        .map_or(r.sub.as_str(), |(_, name)| name);
    match (r.kind.as_str(), sub.is_empty()) {
        (_, true) => r.obj.clone(),
        ("comment" | "security label", _) => format!("{} {sub}", r.obj),
        ("function", _) => format!("{}({sub})", r.obj),
        _ => format!("{sub} on {}", r.obj),
    }
}

/// Every catalog row added, removed or changed between the two databases,
/// named per object (e.g. trigger `t on public.x`: `ENABLED O` →
/// `ENABLED D`), definitions redacted where the secret scan flags them.
pub fn catalog_objects(
    before: &mut Client,
    after: &mut Client,
    db: &str,
) -> Result<Vec<ObjectDiff>, PgError> {
    type Key = (String, String, String);
    let index = |rows: Vec<CatalogRow>| -> BTreeMap<Key, CatalogRow> {
        rows.into_iter()
            .map(|r| ((r.kind.clone(), r.obj.clone(), r.sub.clone()), r))
            .collect()
    };
    let b = index(catalog::describe(before, db)?);
    let a = index(catalog::describe(after, db)?);
    let keys: std::collections::BTreeSet<&Key> = b.keys().chain(a.keys()).collect();
    let def = |r: Option<&CatalogRow>| r.map(|r| redact::text(r.def.as_deref().unwrap_or("")));
    Ok(keys
        .into_iter()
        .filter_map(|k| {
            let (x, y) = (b.get(k), a.get(k));
            let change = match (x, y) {
                (Some(p), Some(q)) if p.def == q.def => return None,
                (Some(_), Some(_)) => "changed",
                (None, _) => "added",
                (_, None) => "removed",
            };
            let row = x.or(y)?;
            Some(ObjectDiff {
                change: change.into(),
                kind: row.kind.clone(),
                name: object_name(row),
                before: def(x),
                after: def(y),
            })
        })
        .collect())
}
