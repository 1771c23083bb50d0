//! The secret scan over a clone: every text and blob value of every table,
//! row by row (one row in memory at a time), judged by [`crate::intake::secrets`].
//! Findings name table, column, row key and kind — never the value. An
//! allow-list entry that covers a finding moves it to `allowed`, recorded.

use crate::engine::sqlite::logical::quote_ident;
use crate::intake::secrets::{AllowEntry, AllowList, Finding, scan_value};
use rusqlite::Connection;
use rusqlite::types::ValueRef;
use serde::Serialize;

/// Findings kept in full; beyond this only the count grows.
pub const MAX_LISTED: usize = 1000;

/// What the scan found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanResult {
    /// Values scanned (text and blob cells).
    pub values_scanned: u64,
    /// Secrets not covered by the allow-list (at most [`MAX_LISTED`]).
    pub findings: Vec<Finding>,
    /// How many uncovered findings there were in all.
    pub findings_total: u64,
    /// Allow-list decisions that covered a finding.
    pub allowed: Vec<AllowEntry>,
    /// Allow-list entries that matched nothing (stale decisions).
    pub unused_allow: Vec<AllowEntry>,
}

/// User tables to scan: not SQLite's own, not rollproof's provenance, not
/// virtual tables (their shadow tables hold the data and are scanned).
fn tables(conn: &Connection) -> rusqlite::Result<Vec<(String, bool)>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT name, coalesce(sql, '') FROM sqlite_schema WHERE type = 'table' \
         AND name NOT IN {} AND name <> ?1 ORDER BY name",
        crate::engine::sqlite::logical::internal_tables_sql()
    ))?;
    let rows = stmt.query_map([crate::guard::provenance::TABLE], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (name, sql) = row?;
        let upper = sql.to_ascii_uppercase();
        if upper.starts_with("CREATE VIRTUAL") {
            continue;
        }
        let without_rowid = upper
            .replace(char::is_whitespace, "")
            .ends_with("WITHOUTROWID");
        out.push((name, without_rowid));
    }
    Ok(out)
}

fn cell_text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Some(String::from_utf8_lossy(b).into_owned()),
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Null => None,
    }
}

/// The row key as reported: a secret-looking key is replaced by a digest.
pub fn row_key(parts: &[(String, String)]) -> String {
    let key = parts
        .iter()
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let secret = parts.iter().any(|(c, v)| !scan_value(c, v).is_empty());
    if secret {
        format!("sha256:{}", &crate::hash::sha256_hex(key.as_bytes())[..16])
    } else {
        key
    }
}

/// Findings and allow-list decisions, kept as a scan goes (on either
/// backend).
pub struct Tally<'a> {
    allow: &'a AllowList,
    used: Vec<bool>,
    res: ScanResult,
}

impl<'a> Tally<'a> {
    /// An empty tally judged against `allow`.
    pub fn new(allow: &'a AllowList) -> Tally<'a> {
        Tally {
            allow,
            used: vec![false; allow.allow.len()],
            res: ScanResult::default(),
        }
    }

    /// One more value scanned.
    pub fn scanned(&mut self) {
        self.res.values_scanned += 1;
    }

    /// A secret found: allowed by a decision, or counted (and listed up to
    /// [`MAX_LISTED`]).
    pub fn finding(&mut self, f: Finding) {
        match self.allow.allow.iter().position(|a| a.covers(&f)) {
            Some(i) => self.used[i] = true,
            None => {
                self.res.findings_total += 1;
                if self.res.findings.len() < MAX_LISTED {
                    self.res.findings.push(f);
                }
            }
        }
    }

    /// The result, with the decisions that were used and those that were not.
    pub fn finish(mut self) -> ScanResult {
        for (entry, used) in self.allow.allow.iter().zip(self.used) {
            if used {
                self.res.allowed.push(entry.clone());
            } else {
                self.res.unused_allow.push(entry.clone());
            }
        }
        self.res
    }
}

/// Scan every table of `conn`, applying `allow`.
pub fn scan(conn: &Connection, allow: &AllowList) -> rusqlite::Result<ScanResult> {
    let mut tally = Tally::new(allow);
    for (table, without_rowid) in tables(conn)? {
        let mut info = conn.prepare("SELECT name, pk FROM pragma_table_info(?1)")?;
        let cols: Vec<(String, i64)> = info
            .query_map([&table], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut keys: Vec<(String, i64)> = cols.iter().filter(|(_, pk)| *pk > 0).cloned().collect();
        keys.sort_by_key(|(_, pk)| *pk);
        let use_rowid = keys.is_empty() && !without_rowid;
        let mut select: Vec<String> = Vec::new();
        if use_rowid {
            select.push("rowid".to_string());
        } else {
            select.extend(keys.iter().map(|(k, _)| quote_ident(k)));
        }
        let nkeys = select.len();
        let key_names: Vec<String> = if use_rowid {
            vec!["rowid".to_string()]
        } else {
            keys.iter().map(|(k, _)| k.clone()).collect()
        };
        select.extend(cols.iter().map(|(c, _)| quote_ident(c)));
        let mut stmt = conn.prepare(&format!(
            "SELECT {} FROM {}",
            select.join(", "),
            quote_ident(&table)
        ))?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let mut key: Option<String> = None;
            for (i, (col, _)) in cols.iter().enumerate() {
                let text = match r.get_ref(nkeys + i)? {
                    v @ (ValueRef::Text(_) | ValueRef::Blob(_)) => cell_text(v),
                    _ => None,
                };
                let Some(text) = text else { continue };
                tally.scanned();
                let kinds = scan_value(col, &text);
                if kinds.is_empty() {
                    continue;
                }
                let key = match &key {
                    Some(k) => k.clone(),
                    None => {
                        let mut parts = Vec::with_capacity(nkeys);
                        for (k, name) in key_names.iter().enumerate() {
                            let v = cell_text(r.get_ref(k)?).unwrap_or_else(|| "NULL".into());
                            parts.push((name.clone(), v));
                        }
                        let k = if use_rowid {
                            format!("rowid={}", row_key(&parts))
                        } else {
                            row_key(&parts)
                        };
                        key = Some(k.clone());
                        k
                    }
                };
                for kind in kinds {
                    tally.finding(Finding {
                        table: table.clone(),
                        column: col.clone(),
                        row: key.clone(),
                        kind,
                    });
                }
            }
        }
    }
    Ok(tally.finish())
}
