//! Fidelity: how closely a database matches a profile. Every profiled fact
//! becomes one item scored 0..1 — per table its row count, per column its
//! type, null fraction, distinct ratio, lengths, ranges and category mix,
//! per foreign key its fan-out, per unique key its uniqueness — and items
//! roll up into table scores and one overall score 0..100. The formula is
//! in docs/FIDELITY.md; keep the two in step.
//!
//! A measurement, not a verdict: the caller decides what score is enough.
//! Statistics come from [`crate::profile::stats`] (SQL aggregates, read-only).

mod columns;
mod keys;

use crate::profile::stats::{ColumnInfo, Db, StatsError};
use crate::profile::{ColumnProfile, Profile};
use crate::schema::{Dialect, Schema};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum FidelityError {
    /// The database could not be opened or read.
    #[error(transparent)]
    Stats(#[from] StatsError),
    /// The database has no tables the profile describes.
    #[error(
        "{path} has none of the profile's tables, so there is nothing to compare (is it the surrogate of this profile?)"
    )]
    NothingInCommon { path: PathBuf },
    /// The profile describes no table.
    #[error("profile '{name}' describes no table, so there is nothing to compare")]
    EmptyProfile { name: String },
}

/// The comparison of one database with one profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FidelityReport {
    /// Overall score, 0..100: 100 × the mean of the table scores.
    pub score: f64,
    /// Name of the profile compared against (`[profile] name`).
    pub profile: String,
    /// One entry per profiled table, in name order.
    pub tables: Vec<TableFidelity>,
    /// Tables in the database the profile does not mention (not scored).
    pub unprofiled_tables: Vec<String>,
}

/// One table's comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableFidelity {
    /// Table name.
    pub table: String,
    /// Rows the profile expects.
    pub expected_rows: u64,
    /// Rows found (`None`: the table is missing).
    pub actual_rows: Option<u64>,
    /// min(expected, actual) / max(expected, actual); 1 when both are 0.
    pub rows_score: f64,
    /// Table score 0..1: the mean of rows_score and, where there are any,
    /// the mean of the column scores and the mean of the key scores.
    pub score: f64,
    /// One entry per profiled column, in name order.
    pub columns: Vec<ColumnFidelity>,
    /// One entry per profiled foreign key (fan-out) and unique key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<KeyFidelity>,
}

/// One key's comparison: a foreign key's fan-out or a unique key's
/// uniqueness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyFidelity {
    /// "fanout" or "unique".
    pub kind: String,
    /// The key's columns.
    pub columns: Vec<String>,
    /// The parent table of a foreign key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<String>,
    /// Mean of the item scores, 0..1.
    pub score: f64,
    /// The facts compared.
    pub items: Vec<Item>,
}

/// One column's comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnFidelity {
    /// Column name.
    pub column: String,
    /// Whether the column exists in the database.
    pub present: bool,
    /// Mean of the item scores, 0..1.
    pub score: f64,
    /// One entry per profiled fact.
    pub items: Vec<Item>,
}

/// One profiled fact compared with the database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Which fact: "type", "null_fraction", "distinct_ratio", "length",
    /// "mean_length", "range", "date_range", "categories", "references";
    /// for keys "childless", "mean", "p50", "p90", "p99", "max", "unique".
    pub check: String,
    /// What the profile says.
    pub expected: Value,
    /// What the database has (null when the column has no such values).
    pub actual: Value,
    /// 0..1, 1 = identical.
    pub score: f64,
}

impl Item {
    fn new(check: &str, expected: Value, actual: Value, score: f64) -> Item {
        Item {
            check: check.to_string(),
            expected,
            actual,
            score: round(score, 4),
        }
    }
}

fn round(x: f64, places: i32) -> f64 {
    let m = 10f64.powi(places);
    (x * m).round() / m
}

/// Overlap of two inclusive ranges: |intersection| / |union| (Jaccard);
/// `unit` widens each end so single points and integer ranges count.
pub fn overlap(a: [f64; 2], b: [f64; 2], unit: f64) -> f64 {
    let inter = (a[1].min(b[1]) - a[0].max(b[0]) + unit).max(0.0);
    let union = a[1].max(b[1]) - a[0].min(b[0]) + unit;
    if union <= 0.0 {
        1.0
    } else {
        (inter / union).clamp(0.0, 1.0)
    }
}

/// 1 − total-variation distance between the profile's category mix and the
/// observed one; values outside the profile's categories form one more
/// bucket, "(other)", whose expected share is 0.
pub fn category_score(expected: &BTreeMap<String, f64>, counts: &[u64], total: u64) -> f64 {
    let wsum: f64 = expected.values().sum();
    if wsum <= 0.0 {
        return 0.0;
    }
    if total == 0 {
        return 0.0;
    }
    let matched: u64 = counts.iter().sum();
    let mut tv = (total.saturating_sub(matched)) as f64 / total as f64;
    for (w, c) in expected.values().zip(counts) {
        tv += (w / wsum - *c as f64 / total as f64).abs();
    }
    (1.0 - tv / 2.0).clamp(0.0, 1.0)
}

fn ratio(expected: u64, actual: u64) -> f64 {
    ratio_f(expected as f64, actual as f64)
}

/// min / max of two non-negative numbers; 1 when both are 0.
fn ratio_f(a: f64, b: f64) -> f64 {
    let (lo, hi) = (a.min(b), a.max(b));
    if hi <= 0.0 {
        1.0
    } else {
        (lo / hi).clamp(0.0, 1.0)
    }
}

fn mean(xs: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = xs.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// Score the database at `db` against `profile` (read-only).
pub fn score(db: &Path, profile: &Profile) -> Result<FidelityReport, FidelityError> {
    if profile.tables.is_empty() {
        return Err(FidelityError::EmptyProfile {
            name: profile.profile.name.clone(),
        });
    }
    let db = Db::open(db)?;
    let have = db.schema()?;
    let want = profile.schema.as_ref();
    let mut rows: BTreeMap<String, u64> = BTreeMap::new();
    for key in profile.tables.keys() {
        if let Some(t) = have.table(key) {
            rows.insert(key.clone(), db.table_stats(&t.name, &[])?.rows);
        }
    }
    let mut tables = Vec::new();
    for (key, tp) in &profile.tables {
        let Some(t) = have.table(key) else {
            tables.push(TableFidelity {
                table: key.clone(),
                expected_rows: tp.rows,
                actual_rows: None,
                rows_score: 0.0,
                score: 0.0,
                columns: Vec::new(),
                keys: Vec::new(),
            });
            continue;
        };
        let columns = table_columns(&db, profile, key, t)?;
        let count = |k: &str| rows.get(k).copied();
        let mut keys = keys::fanouts(&db, profile, key, t, &have, &count)?;
        if let Some(want_t) = want.and_then(|s| s.tables.iter().find(|x| x.key() == *key)) {
            keys.extend(keys::uniques(&db, want.unwrap_or(&have), want_t, t)?);
        }
        let actual = rows.get(key).copied().unwrap_or(0);
        let rows_score = ratio(tp.rows, actual);
        let parts: Vec<f64> = [
            Some(rows_score),
            mean(columns.iter().map(|c| c.score)),
            mean(keys.iter().map(|k| k.score)),
        ]
        .into_iter()
        .flatten()
        .collect();
        tables.push(TableFidelity {
            table: key.clone(),
            expected_rows: tp.rows,
            actual_rows: Some(actual),
            rows_score: round(rows_score, 4),
            score: round(mean(parts.into_iter()).unwrap_or(0.0), 4),
            columns,
            keys,
        });
    }
    if tables.iter().all(|t| t.actual_rows.is_none()) {
        return Err(FidelityError::NothingInCommon {
            path: db.path().to_path_buf(),
        });
    }
    let overall = mean(tables.iter().map(|t| t.score)).unwrap_or(0.0) * 100.0;
    let unprofiled_tables = have
        .tables
        .iter()
        .map(|t| t.key())
        .filter(|k| !profile.tables.contains_key(k))
        .collect();
    Ok(FidelityReport {
        score: round(overall, 2),
        profile: profile.profile.name.clone(),
        tables,
        unprofiled_tables,
    })
}

/// The profiled columns of one table, with the schema's type as an item
/// for format-2 profiles (whose columns do not repeat it).
fn table_columns(
    db: &Db,
    profile: &Profile,
    key: &str,
    t: &crate::schema::Table,
) -> Result<Vec<ColumnFidelity>, FidelityError> {
    let tp = &profile.tables[key];
    let want_table = profile
        .schema
        .as_ref()
        .and_then(|s| s.tables.iter().find(|x| x.key() == key));
    let infos = ColumnInfo::of(t);
    let names: Vec<String> = tp
        .columns
        .keys()
        .filter(|c| t.column(c).is_some())
        .cloned()
        .collect();
    let stats = db.table_stats(&t.name, &names)?;
    let mut out = Vec::new();
    let mut names: Vec<&String> = tp.columns.keys().collect();
    if let Some(w) = want_table {
        names = w.columns.iter().map(|c| &c.name).collect();
        names.sort();
    }
    let empty = ColumnProfile::default();
    for col in names {
        let cp = tp.columns.get(col).unwrap_or(&empty);
        let info = infos.iter().find(|i| i.name == *col);
        let mut items = match (info, stats.column(col)) {
            (Some(info), Some(cs)) => columns::present(db, &t.name, info, stats.rows, cs, cp)?,
            (Some(info), None) => {
                columns::present(db, &t.name, info, stats.rows, &Default::default(), cp)?
            }
            (None, _) => columns::missing(cp),
        };
        if let (Some(w), Some(schema)) = (want_table.and_then(|w| w.column(col)), &profile.schema) {
            let have = info.map(|i| i.decl_type.clone());
            let same = have
                .as_deref()
                .is_some_and(|h| columns::same_type(&w.sql_type, h, schema.dialect, schema));
            items.insert(
                0,
                Item::new(
                    "type",
                    json!(w.sql_type),
                    json!(have),
                    f64::from(u8::from(same)),
                ),
            );
        }
        if items.is_empty() {
            continue;
        }
        let score = mean(items.iter().map(|i| i.score)).unwrap_or(0.0);
        out.push(ColumnFidelity {
            column: col.clone(),
            present: info.is_some(),
            score: round(score, 4),
            items,
        });
    }
    Ok(out)
}

/// The dialect a profile's statistics were taken in.
pub fn profile_dialect(p: &Profile) -> Dialect {
    p.schema
        .as_ref()
        .map_or(Dialect::Sqlite, |s: &Schema| s.dialect)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_is_jaccard_on_inclusive_ranges() {
        assert_eq!(overlap([5.0, 30.0], [5.0, 30.0], 1.0), 1.0);
        assert_eq!(overlap([0.0, 9.0], [10.0, 19.0], 1.0), 0.0);
        assert!((overlap([0.0, 9.0], [5.0, 14.0], 1.0) - 5.0 / 15.0).abs() < 1e-12);
        assert_eq!(overlap([3.0, 3.0], [3.0, 3.0], 1.0), 1.0);
    }

    #[test]
    fn category_score_is_one_minus_total_variation() {
        let e: BTreeMap<String, f64> = [("a".into(), 3.0), ("b".into(), 1.0)].into();
        assert!((category_score(&e, &[75, 25], 100) - 1.0).abs() < 1e-12);
        // Half the mass moved from a to b: TV = 0.5.
        assert!((category_score(&e, &[25, 75], 100) - 0.5).abs() < 1e-12);
        // All values outside the profile: TV = 1.
        assert_eq!(category_score(&e, &[0, 0], 100), 0.0);
        assert_eq!(ratio(0, 0), 1.0);
        assert_eq!(ratio(10, 5), 0.5);
    }
}
