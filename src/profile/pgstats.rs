//! PostgreSQL statistics as a profile input: one JSON document made by one
//! documented query over the catalog and `pg_stats`, which an operator runs
//! on production (`psql -At -f stats.sql > stats.json`) or rollproof runs
//! itself in a read-only session. `rollproof profile --stats-query` prints
//! the query.
//!
//! The default query is value-free: per table `reltuples` and
//! `n_live_tup`; per column `null_frac`, `n_distinct`, `avg_width` and the
//! largest of `most_common_freqs` (a share, not a value). `pg_stats` also
//! holds real values — `most_common_vals` and `histogram_bounds` — and they
//! enter only through the extended query, printed only when
//! `--allow-categories` or `--allow-ranges` is given: even then, the
//! profile keeps only what the privacy rules of docs/PROFILES.md allow.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The `format` of a statistics document.
pub const FORMAT: &str = "rollproof-pg-stats-1";
/// Largest statistics file read (a statistics document of 100,000
/// columns is a few tens of MiB).
pub const MAX_BYTES: u64 = 256 * 1024 * 1024;

/// Namespaces the query leaves out, as `schema::postgres` does.
const SYSTEM: &str =
    "NOT IN ('pg_catalog', 'information_schema', 'rollproof_meta') AND {n} NOT LIKE 'pg\\_%'";

/// Why a statistics document could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StatsFileError {
    /// It could not be read.
    #[error("cannot read statistics {path}: {message}")]
    Read { path: PathBuf, message: String },
    /// It is not a statistics document.
    #[error("statistics {path} is not the output of `rollproof profile --stats-query`: {message}")]
    Parse { path: PathBuf, message: String },
}

/// One table's counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableStat {
    /// Namespace.
    pub namespace: String,
    /// Table name.
    pub table: String,
    /// `pg_class.reltuples`: the planner's row estimate; -1 when never
    /// vacuumed or analyzed.
    pub reltuples: f64,
    /// `pg_stat_user_tables.n_live_tup`, when the statistics collector has it.
    #[serde(default)]
    pub n_live_tup: Option<i64>,
}

/// One column's statistics (a `pg_stats` row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnStat {
    /// Namespace.
    pub namespace: String,
    /// Table name.
    pub table: String,
    /// Column name.
    pub column: String,
    /// Share of NULLs.
    pub null_frac: f64,
    /// Distinct values: > 0 a count, < 0 minus the share of rows, 0 unknown.
    pub n_distinct: f64,
    /// Average width in bytes of non-NULL values.
    pub avg_width: i64,
    /// Share of rows holding the most common value (no value itself).
    #[serde(default)]
    pub max_freq: Option<f64>,
    /// Most common values (extended query only).
    #[serde(default)]
    pub common_values: Option<Vec<String>>,
    /// Their shares, paired with `common_values` (extended query only).
    #[serde(default)]
    pub common_freqs: Option<Vec<f64>>,
    /// First and last histogram bound (extended query only).
    #[serde(default)]
    pub bounds: Option<Vec<String>>,
}

/// A statistics document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgStats {
    /// Always [`FORMAT`].
    pub format: String,
    /// Per-table counts.
    pub tables: Vec<TableStat>,
    /// Per-column statistics.
    pub columns: Vec<ColumnStat>,
}

impl PgStats {
    /// Parse a statistics document; `path` is for messages.
    pub fn parse(text: &str, path: &Path) -> Result<PgStats, StatsFileError> {
        let bad = |message: String| StatsFileError::Parse {
            path: path.to_path_buf(),
            message,
        };
        let s: PgStats = serde_json::from_str(text.trim()).map_err(|e| bad(e.to_string()))?;
        if s.format != FORMAT {
            return Err(bad(format!(
                "format is '{}', this rollproof reads '{FORMAT}'",
                s.format
            )));
        }
        for c in &s.columns {
            if !(0.0..=1.0).contains(&c.null_frac) || !c.n_distinct.is_finite() {
                return Err(bad(format!(
                    "column {}.{}.{}: null_frac {} / n_distinct {} are not statistics",
                    c.namespace, c.table, c.column, c.null_frac, c.n_distinct
                )));
            }
        }
        Ok(s)
    }

    /// Read and parse a statistics file (a regular file of at most
    /// [`MAX_BYTES`]).
    pub fn load(path: &Path) -> Result<PgStats, StatsFileError> {
        let read = |message: String| StatsFileError::Read {
            path: path.to_path_buf(),
            message,
        };
        let meta = std::fs::metadata(path).map_err(|e| read(e.to_string()))?;
        if !meta.is_file() {
            return Err(read("not a regular file".into()));
        }
        if meta.len() > MAX_BYTES {
            return Err(read(format!(
                "{} bytes is more than the {MAX_BYTES}-byte limit for statistics",
                meta.len()
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| read(e.to_string()))?;
        PgStats::parse(&text, path)
    }

    /// The counts of table `namespace.table`.
    pub fn table(&self, namespace: &str, table: &str) -> Option<&TableStat> {
        self.tables
            .iter()
            .find(|t| t.namespace == namespace && t.table == table)
    }

    /// The statistics of one column.
    pub fn column(&self, namespace: &str, table: &str, column: &str) -> Option<&ColumnStat> {
        self.columns
            .iter()
            .find(|c| c.namespace == namespace && c.table == table && c.column == column)
    }
}

/// The statistics query. `with_values` adds `most_common_vals` and the
/// outer histogram bounds: real values, for `--allow-categories` /
/// `--allow-ranges` only.
pub fn query(with_values: bool) -> String {
    let sys = |n: &str| format!("{n} {}", SYSTEM.replace("{n}", n));
    let values = if with_values {
        ",
      'common_values', s.most_common_vals::text::text[],
      'common_freqs', s.most_common_freqs,
      'bounds', CASE WHEN s.histogram_bounds IS NOT NULL THEN ARRAY[
          (s.histogram_bounds::text::text[])[1],
          (s.histogram_bounds::text::text[])[array_length(s.histogram_bounds::text::text[], 1)]] END"
    } else {
        ""
    };
    format!(
        "-- rollproof PostgreSQL statistics ({FORMAT}): run with psql -At, read-only.
SELECT json_build_object(
  'format', '{FORMAT}',
  'tables', coalesce((
    SELECT json_agg(json_build_object(
      'namespace', n.nspname, 'table', c.relname,
      'reltuples', c.reltuples, 'n_live_tup', st.n_live_tup)
      ORDER BY n.nspname, c.relname)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_stat_user_tables st ON st.relid = c.oid
    WHERE c.relkind = 'r' AND {tables}), '[]'::json),
  'columns', coalesce((
    SELECT json_agg(json_build_object(
      'namespace', s.schemaname, 'table', s.tablename, 'column', s.attname,
      'null_frac', s.null_frac, 'n_distinct', s.n_distinct, 'avg_width', s.avg_width,
      'max_freq', s.most_common_freqs[1]{values})
      ORDER BY s.schemaname, s.tablename, s.attname)
    FROM pg_stats s
    WHERE NOT s.inherited AND {columns}), '[]'::json)
)::text;
",
        tables = sys("n.nspname"),
        columns = sys("s.schemaname"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_query_never_reads_values() {
        let q = query(false);
        assert!(!q.contains("most_common_vals") && !q.contains("histogram_bounds"));
        assert!(query(true).contains("most_common_vals"));
    }

    #[test]
    fn documents_are_checked() {
        let p = Path::new("s.json");
        let ok = r#"{"format":"rollproof-pg-stats-1","tables":[{"namespace":"public","table":"t","reltuples":10,"n_live_tup":10}],
                    "columns":[{"namespace":"public","table":"t","column":"c","null_frac":0.5,"n_distinct":-1,"avg_width":4,"max_freq":null}]}"#;
        let s = PgStats::parse(ok, p).unwrap();
        assert_eq!(s.table("public", "t").unwrap().reltuples, 10.0);
        assert!(PgStats::parse(&ok.replace("pg-stats-1", "pg-stats-9"), p).is_err());
        assert!(PgStats::parse(&ok.replace("0.5", "1.5"), p).is_err());
        assert!(
            PgStats::parse(&ok.replace("\"avg_width\"", "\"bogus\":1,\"avg_width\""), p).is_err()
        );
        assert!(PgStats::parse("not json", p).is_err());
    }
}
