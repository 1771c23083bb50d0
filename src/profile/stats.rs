//! Per-table, per-column statistics of a SQLite database, computed with SQL
//! aggregates in one streaming scan per table (plus one bounded scan per
//! category column and one grouped scan per foreign key), so memory stays
//! flat whatever the database's size: SQLite's DISTINCT and GROUP BY keep
//! their working sets in temporary b-trees that spill to disk. Shared by
//! profile extraction and `fidelity`.
//!
//! The database is opened read-only (`SQLITE_OPEN_READ_ONLY`) after a header
//! check that names the file and the problem for empty, foreign and
//! truncated files; nothing here ever writes to it.

use crate::schema::{Schema, Table};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, params_from_iter};
use std::path::{Path, PathBuf};

/// Columns aggregated per query: keeps result rows far below SQLite's
/// 2,000-column limit for very wide tables (wider tables take more scans).
const COLUMNS_PER_SCAN: usize = 48;
/// Aggregates selected per column in [`Db::table_stats`].
const PER_COLUMN: usize = 11;

#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    /// The file does not exist.
    #[error("{path}: no such file")]
    Missing { path: PathBuf },
    /// The file exists but is not (or no longer) a usable SQLite database.
    #[error("{path} is not a usable SQLite database: {problem}")]
    NotDatabase { path: PathBuf, problem: String },
    /// Reading the file failed.
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// SQLite failed while reading the database.
    #[error("cannot read {path}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
}

/// A column as declared: name, type, key and foreign-key target.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnInfo {
    /// Column name.
    pub name: String,
    /// Declared type as written in the DDL ("" when none).
    pub decl_type: String,
    /// Part of the primary key.
    pub primary_key: bool,
    /// Table referenced by a foreign key on this column, if any.
    pub references: Option<String>,
}

impl ColumnInfo {
    /// The columns of a table of the schema model, in declaration order;
    /// `references` is the target of the first foreign key the column is
    /// part of.
    pub fn of(table: &Table) -> Vec<ColumnInfo> {
        table
            .columns
            .iter()
            .map(|c| ColumnInfo {
                name: c.name.clone(),
                decl_type: c.sql_type.clone(),
                primary_key: table.primary_key.contains(&c.name),
                references: table
                    .foreign_keys
                    .iter()
                    .find(|fk| fk.columns.contains(&c.name))
                    .map(|fk| fk.ref_key()),
            })
            .collect()
    }
}

/// Aggregates of one column.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ColumnStats {
    /// Column name.
    pub name: String,
    /// Rows where the value is NULL.
    pub nulls: u64,
    /// Text values.
    pub texts: u64,
    /// Blob values.
    pub blobs: u64,
    /// Integer values.
    pub integers: u64,
    /// Real values.
    pub reals: u64,
    /// Shortest and longest text or blob value, in bytes.
    pub length: Option<[u64; 2]>,
    /// Smallest and largest integer or real value.
    pub range: Option<[f64; 2]>,
    /// Distinct non-NULL values.
    pub distinct: u64,
    /// Mean length in bytes of text and blob values.
    pub mean_length: Option<f64>,
}

impl ColumnStats {
    /// Values that are integers or reals.
    pub fn numeric(&self) -> u64 {
        self.integers + self.reals
    }
}

/// Row count and per-column aggregates of one table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TableStats {
    /// Rows in the table.
    pub rows: u64,
    /// One entry per column, in declaration order.
    pub columns: Vec<ColumnStats>,
}

impl TableStats {
    /// A column's statistics by name.
    pub fn column(&self, name: &str) -> Option<&ColumnStats> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// A database opened read-only for statistics.
pub struct Db {
    conn: Connection,
    path: PathBuf,
}

/// Quote an identifier for SQL ("user", "group" and friends are keywords).
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Check the 100-byte header: magic, page size, and that the file holds
/// every page its header claims (a truncated copy fails here, by name).
fn check_header(path: &Path) -> Result<(), StatsError> {
    use crate::engine::sqlite::header::{self, HeaderError};
    header::check(path).map_err(|e| match e {
        HeaderError::Missing { path } => StatsError::Missing { path },
        HeaderError::Io { path, source } => StatsError::Io { path, source },
        HeaderError::NotDatabase { path, problem } => StatsError::NotDatabase { path, problem },
        HeaderError::Directory { path } => StatsError::NotDatabase {
            path,
            problem: "it is a directory, not a regular file".into(),
        },
        HeaderError::NotFile { path } => StatsError::NotDatabase {
            path,
            problem: "not a regular file".into(),
        },
    })
}

impl Db {
    /// Open `path` read-only after checking its header; never creates it.
    pub fn open(path: &Path) -> Result<Db, StatsError> {
        check_header(path)?;
        let conn = crate::engine::sqlite::logical::open_read_only(path).map_err(|source| {
            StatsError::Sqlite {
                path: path.to_path_buf(),
                source,
            }
        })?;
        let db = Db {
            conn,
            path: path.to_path_buf(),
        };
        // Reading the schema is the first access that can fail for a
        // damaged file; say so here, naming the file.
        db.conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(|e| StatsError::NotDatabase {
                path: path.to_path_buf(),
                problem: e.to_string(),
            })?;
        Ok(db)
    }

    /// The file this database was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StatsError + '_ {
        move |source| StatsError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// The database's schema ([`crate::schema::sqlite::read`]: every
    /// table but SQLite's and rollproof's own bookkeeping, by exact name).
    pub fn schema(&self) -> Result<Schema, StatsError> {
        crate::schema::sqlite::read(&self.conn).map_err(self.err())
    }

    /// Row count and aggregates of every column of `table`: one streaming
    /// scan (per 48 columns), no values kept.
    pub fn table_stats(&self, table: &str, columns: &[String]) -> Result<TableStats, StatsError> {
        let mut out = TableStats::default();
        if columns.is_empty() {
            out.rows = self.row_count(table)?;
            return Ok(out);
        }
        for chunk in columns.chunks(COLUMNS_PER_SCAN) {
            let mut select = vec!["count(*)".to_string()];
            for c in chunk {
                let q = ident(c);
                let text = format!("typeof({q}) IN ('text','blob')");
                let num = format!("typeof({q}) IN ('integer','real')");
                select.push(format!("coalesce(sum({q} IS NULL),0)"));
                select.push(format!("coalesce(sum(typeof({q}) = 'text'),0)"));
                select.push(format!("coalesce(sum(typeof({q}) = 'blob'),0)"));
                select.push(format!("coalesce(sum(typeof({q}) = 'integer'),0)"));
                select.push(format!("coalesce(sum(typeof({q}) = 'real'),0)"));
                // octet_length: bytes, without reading overflow pages.
                select.push(format!("min(CASE WHEN {text} THEN octet_length({q}) END)"));
                select.push(format!("max(CASE WHEN {text} THEN octet_length({q}) END)"));
                select.push(format!("min(CASE WHEN {num} THEN {q} END)"));
                select.push(format!("max(CASE WHEN {num} THEN {q} END)"));
                select.push(format!("count(DISTINCT {q})"));
                select.push(format!("avg(CASE WHEN {text} THEN octet_length({q}) END)"));
            }
            let sql = format!("SELECT {} FROM {}", select.join(", "), ident(table));
            let stats = self
                .conn
                .query_row(&sql, [], |r| {
                    let rows = r.get::<_, i64>(0)?.max(0) as u64;
                    let mut cols = Vec::with_capacity(chunk.len());
                    for (i, c) in chunk.iter().enumerate() {
                        let b = 1 + i * PER_COLUMN;
                        let n = |j: usize| r.get::<_, i64>(b + j).map(|v| v.max(0) as u64);
                        let minlen = r.get::<_, Option<i64>>(b + 5)?;
                        let maxlen = r.get::<_, Option<i64>>(b + 6)?;
                        let lo = number(r.get_ref(b + 7)?);
                        let hi = number(r.get_ref(b + 8)?);
                        cols.push(ColumnStats {
                            name: c.clone(),
                            nulls: n(0)?,
                            texts: n(1)?,
                            blobs: n(2)?,
                            integers: n(3)?,
                            reals: n(4)?,
                            length: minlen
                                .zip(maxlen)
                                .map(|(a, z)| [a.max(0) as u64, z.max(0) as u64]),
                            range: lo.zip(hi).map(|(a, z)| [a, z]),
                            distinct: n(9)?,
                            mean_length: r.get::<_, Option<f64>>(b + 10)?,
                        });
                    }
                    Ok((rows, cols))
                })
                .map_err(self.err())?;
            out.rows = stats.0;
            out.columns.extend(stats.1);
        }
        Ok(out)
    }

    /// Row count alone.
    pub fn row_count(&self, table: &str) -> Result<u64, StatsError> {
        self.conn
            .query_row(&format!("SELECT count(*) FROM {}", ident(table)), [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n.max(0) as u64)
            .map_err(self.err())
    }

    /// The distinct non-NULL values of a column (as text), or `None` when
    /// there are more than `limit`: the scan stops at `limit + 1` distinct
    /// values, so memory is bounded by `limit`.
    pub fn distinct_values(
        &self,
        table: &str,
        column: &str,
        limit: usize,
    ) -> Result<Option<Vec<String>>, StatsError> {
        let q = ident(column);
        let sql = format!(
            "SELECT DISTINCT CAST({q} AS TEXT) FROM {} WHERE {q} IS NOT NULL LIMIT {}",
            ident(table),
            limit + 1
        );
        let mut stmt = self.conn.prepare(&sql).map_err(self.err())?;
        let mut values: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(self.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err())?;
        if values.len() > limit {
            return Ok(None);
        }
        values.sort();
        Ok(Some(values))
    }

    /// Non-NULL values of a column, and how many equal each of `values`
    /// (compared as text): one scan, one counter per value.
    pub fn value_counts(
        &self,
        table: &str,
        column: &str,
        values: &[String],
    ) -> Result<(u64, Vec<u64>), StatsError> {
        let q = ident(column);
        let mut select = vec![format!("count({q})")];
        for i in 1..=values.len() {
            select.push(format!("coalesce(sum(CAST({q} AS TEXT) = ?{i}),0)"));
        }
        let sql = format!("SELECT {} FROM {}", select.join(", "), ident(table));
        self.conn
            .query_row(&sql, params_from_iter(values.iter()), |r| {
                let total = r.get::<_, i64>(0)?.max(0) as u64;
                let counts = (1..=values.len())
                    .map(|i| r.get::<_, i64>(i).map(|v| v.max(0) as u64))
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok((total, counts))
            })
            .map_err(self.err())
    }
}

impl Db {
    /// Children per parent through the foreign key `columns` of `child`:
    /// `(children, parents with that many)`, ascending, the childless
    /// parents of `parent_rows` included as 0. One grouped scan of the
    /// child; only the histogram is kept (at most √(2·children) buckets).
    pub fn fanout(
        &self,
        child: &str,
        columns: &[String],
        parent_rows: u64,
    ) -> Result<Vec<(u64, u64)>, StatsError> {
        let cols: Vec<String> = columns.iter().map(|c| ident(c)).collect();
        let not_null: Vec<String> = cols.iter().map(|c| format!("{c} IS NOT NULL")).collect();
        let sql = format!(
            "SELECT n, count(*) FROM (SELECT count(*) AS n FROM {} WHERE {} GROUP BY {}) \
             GROUP BY n ORDER BY n",
            ident(child),
            not_null.join(" AND "),
            cols.join(", ")
        );
        let mut stmt = self.conn.prepare(&sql).map_err(self.err())?;
        let hist: Vec<(u64, u64)> = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?.max(0) as u64,
                    r.get::<_, i64>(1)?.max(0) as u64,
                ))
            })
            .map_err(self.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err())?;
        // Children whose parent is missing (foreign keys off) would count
        // as parents here; never let them make "childless" negative.
        let with_children: u64 = hist.iter().map(|(_, p)| p).sum();
        let childless = parent_rows.saturating_sub(with_children);
        let mut out = Vec::with_capacity(hist.len() + 1);
        if childless > 0 {
            out.push((0, childless));
        }
        out.extend(hist);
        Ok(out)
    }

    /// Rows whose key columns are all non-NULL, and how many distinct keys
    /// they hold (one scan; DISTINCT spills to disk, not to memory).
    pub fn distinct_tuples(
        &self,
        table: &str,
        columns: &[String],
    ) -> Result<(u64, u64), StatsError> {
        let cols: Vec<String> = columns.iter().map(|c| ident(c)).collect();
        let not_null: Vec<String> = cols.iter().map(|c| format!("{c} IS NOT NULL")).collect();
        let t = ident(table);
        let w = not_null.join(" AND ");
        let sql = format!(
            "SELECT (SELECT count(*) FROM {t} WHERE {w}), \
                    (SELECT count(*) FROM (SELECT DISTINCT {} FROM {t} WHERE {w}))",
            cols.join(", ")
        );
        self.conn
            .query_row(&sql, [], |r| {
                Ok((
                    r.get::<_, i64>(0)?.max(0) as u64,
                    r.get::<_, i64>(1)?.max(0) as u64,
                ))
            })
            .map_err(self.err())
    }

    /// Smallest and largest text value of a column (for date ranges,
    /// asked only when ranges are allowed).
    pub fn text_bounds(
        &self,
        table: &str,
        column: &str,
    ) -> Result<Option<(String, String)>, StatsError> {
        let q = ident(column);
        self.conn
            .query_row(
                &format!(
                    "SELECT min({q}), max({q}) FROM {} WHERE typeof({q}) = 'text'",
                    ident(table)
                ),
                [],
                |r| {
                    Ok(r.get::<_, Option<String>>(0)?
                        .zip(r.get::<_, Option<String>>(1)?))
                },
            )
            .map_err(self.err())
    }
}

fn number(v: ValueRef<'_>) -> Option<f64> {
    match v {
        ValueRef::Integer(i) => Some(i as f64),
        ValueRef::Real(f) => Some(f),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(dir: &Path) -> PathBuf {
        let p = dir.join("t.db");
        let c = Connection::open(&p).unwrap();
        c.execute_batch(
            "CREATE TABLE p(id INTEGER PRIMARY KEY);
             CREATE TABLE t(id INTEGER PRIMARY KEY, \"group\" TEXT, n REAL, p INTEGER REFERENCES p(id));
             INSERT INTO t(\"group\", n) VALUES ('ab', 1.5), ('é', -2), (NULL, NULL), ('ab', 7);",
        )
        .unwrap();
        p
    }

    #[test]
    fn aggregates_lengths_ranges_nulls_and_keys() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&fixture(dir.path())).unwrap();
        let schema = db.schema().unwrap();
        let names: Vec<&str> = schema.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, vec!["p", "t"]);
        let cols = ColumnInfo::of(schema.table("t").unwrap());
        assert!(cols[0].primary_key);
        assert_eq!(cols[3].references.as_deref(), Some("p"));
        let names: Vec<String> = cols.iter().map(|c| c.name.clone()).collect();
        let s = db.table_stats("t", &names).unwrap();
        assert_eq!(s.rows, 4);
        let g = s.column("group").unwrap();
        assert_eq!((g.nulls, g.texts, g.length), (1, 3, Some([2, 2])));
        assert_eq!((g.distinct, g.mean_length), (2, Some(2.0)));
        let n = s.column("n").unwrap();
        assert_eq!(n.range, Some([-2.0, 7.0]));
        assert_eq!(n.numeric(), 3);
        assert_eq!(
            db.distinct_values("t", "group", 5).unwrap(),
            Some(vec!["ab".to_string(), "é".to_string()])
        );
        assert_eq!(db.distinct_values("t", "group", 1).unwrap(), None);
        let (total, counts) = db
            .value_counts("t", "group", &["ab".into(), "zz".into()])
            .unwrap();
        assert_eq!((total, counts), (3, vec![2, 0]));
    }

    #[test]
    fn fanout_counts_childless_parents_and_ignores_null_keys() {
        let c = Connection::open_in_memory().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.db");
        drop(c);
        let c = Connection::open(&p).unwrap();
        c.execute_batch(
            "CREATE TABLE p(id INTEGER PRIMARY KEY);
             INSERT INTO p VALUES (1),(2),(3),(4);
             CREATE TABLE k(id INTEGER PRIMARY KEY, p INT REFERENCES p(id));
             INSERT INTO k(p) VALUES (1),(1),(1),(2),(NULL),(NULL);",
        )
        .unwrap();
        drop(c);
        let db = Db::open(&p).unwrap();
        assert_eq!(
            db.fanout("k", &["p".to_string()], 4).unwrap(),
            vec![(0, 2), (1, 1), (3, 1)]
        );
    }

    #[test]
    fn refuses_foreign_empty_and_truncated_files_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let good = fixture(dir.path());
        let bytes = std::fs::read(&good).unwrap();
        let cases: [(&str, &[u8]); 3] = [
            ("empty.db", b""),
            ("text.db", b"hello, I am not a database at all, not even close; just some text bytes padded out to over a hundred bytes long."),
            ("half.db", &bytes[..bytes.len() / 2]),
        ];
        for (name, content) in cases {
            let p = dir.path().join(name);
            std::fs::write(&p, content).unwrap();
            let e = Db::open(&p).err().expect(name).to_string();
            assert!(e.contains(name), "{e}");
        }
        let e = Db::open(&dir.path().join("none.db")).err().unwrap();
        assert!(matches!(e, StatsError::Missing { .. }));
    }
}
