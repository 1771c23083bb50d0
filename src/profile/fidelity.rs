//! Fidelity: how closely a database matches a profile. Every profiled fact
//! (row count, column type, null fraction, length range, numeric range,
//! category mix, foreign key) becomes one item scored 0..1; items roll up
//! into table scores and one overall score 0..100. The formula is in
//! docs/FIDELITY.md; keep the two in step.
//!
//! A measurement, not a verdict: the caller decides what score is enough.
//! Statistics come from [`crate::profile::stats`] (SQL aggregates, read-only).

use crate::profile::stats::{Db, StatsError, TableStats};
use crate::profile::{ColumnProfile, Profile};
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
    #[error("{path} has none of the profile's tables")]
    NothingInCommon { path: PathBuf },
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
    /// Table score 0..1: rows_score alone without column items, else the
    /// mean of rows_score and the mean of the column scores.
    pub score: f64,
    /// One entry per profiled column, in name order.
    pub columns: Vec<ColumnFidelity>,
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
    /// Which fact: "type", "null_fraction", "length", "range",
    /// "categories" or "references".
    pub check: String,
    /// What the profile says.
    pub expected: Value,
    /// What the database has (null when the column has no such values).
    pub actual: Value,
    /// 0..1, 1 = identical.
    pub score: f64,
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
    let (lo, hi) = (expected.min(actual), expected.max(actual));
    if hi == 0 { 1.0 } else { lo as f64 / hi as f64 }
}

fn mean(xs: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = xs.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// Score the database at `db` against `profile` (read-only).
pub fn score(db: &Path, profile: &Profile) -> Result<FidelityReport, FidelityError> {
    let db = Db::open(db)?;
    let present = db.tables()?;
    let mut tables = Vec::new();
    for (name, tp) in &profile.tables {
        if !present.contains(name) {
            tables.push(TableFidelity {
                table: name.clone(),
                expected_rows: tp.rows,
                actual_rows: None,
                rows_score: 0.0,
                score: 0.0,
                columns: Vec::new(),
            });
            continue;
        }
        let stats = db.table_stats(name)?;
        let infos = db.columns(name)?;
        let mut columns = Vec::new();
        for (col, cp) in &tp.columns {
            let info = infos.iter().find(|i| i.name.eq_ignore_ascii_case(col));
            let items = match info {
                Some(info) => column_items(&db, name, info, &stats, cp)?,
                None => missing_items(cp),
            };
            if items.is_empty() {
                continue;
            }
            let score = mean(items.iter().map(|i| i.score)).unwrap_or(0.0);
            columns.push(ColumnFidelity {
                column: col.clone(),
                present: info.is_some(),
                score: round(score, 4),
                items,
            });
        }
        let rows_score = ratio(tp.rows, stats.rows);
        let score = match mean(columns.iter().map(|c| c.score)) {
            Some(c) => (rows_score + c) / 2.0,
            None => rows_score,
        };
        tables.push(TableFidelity {
            table: name.clone(),
            expected_rows: tp.rows,
            actual_rows: Some(stats.rows),
            rows_score: round(rows_score, 4),
            score: round(score, 4),
            columns,
        });
    }
    if !tables.is_empty() && tables.iter().all(|t| t.actual_rows.is_none()) {
        return Err(FidelityError::NothingInCommon {
            path: db.path().to_path_buf(),
        });
    }
    let overall = mean(tables.iter().map(|t| t.score)).unwrap_or(0.0) * 100.0;
    let unprofiled_tables = present
        .into_iter()
        .filter(|t| !profile.tables.contains_key(t))
        .collect();
    Ok(FidelityReport {
        score: round(overall, 2),
        profile: profile.profile.name.clone(),
        tables,
        unprofiled_tables,
    })
}

/// Every profiled fact of a column the database lacks scores 0.
fn missing_items(cp: &ColumnProfile) -> Vec<Item> {
    expected_facts(cp)
        .into_iter()
        .map(|(check, expected)| Item {
            check: check.to_string(),
            expected,
            actual: Value::Null,
            score: 0.0,
        })
        .collect()
}

fn expected_facts(cp: &ColumnProfile) -> Vec<(&'static str, Value)> {
    let mut v = Vec::new();
    if let Some(t) = &cp.sql_type {
        v.push(("type", json!(t)));
    }
    if let Some(f) = cp.null_fraction {
        v.push(("null_fraction", json!(f)));
    }
    if let Some(l) = cp.length {
        v.push(("length", json!(l)));
    }
    if let Some(r) = cp.range {
        v.push(("range", json!(r)));
    }
    if let Some(c) = &cp.categories {
        v.push(("categories", json!(c)));
    }
    if let Some(r) = &cp.references {
        v.push(("references", json!(r)));
    }
    v
}

fn column_items(
    db: &Db,
    table: &str,
    info: &crate::profile::stats::ColumnInfo,
    stats: &TableStats,
    cp: &ColumnProfile,
) -> Result<Vec<Item>, FidelityError> {
    let empty = crate::profile::stats::ColumnStats::default();
    let cs = stats.column(&info.name).unwrap_or(&empty);
    let mut items = Vec::new();
    let mut push = |check: &str, expected: Value, actual: Value, score: f64| {
        items.push(Item {
            check: check.to_string(),
            expected,
            actual,
            score: round(score, 4),
        })
    };
    if let Some(t) = &cp.sql_type {
        let same = t.trim().eq_ignore_ascii_case(info.decl_type.trim());
        push(
            "type",
            json!(t),
            json!(info.decl_type),
            f64::from(u8::from(same)),
        );
    }
    if let Some(f) = cp.null_fraction {
        let actual = if stats.rows == 0 {
            0.0
        } else {
            cs.nulls as f64 / stats.rows as f64
        };
        let s = 1.0 - (f - actual).abs();
        push("null_fraction", json!(f), json!(round(actual, 4)), s);
    }
    if let Some([lo, hi]) = cp.length {
        match cs.length {
            Some([a, z]) => {
                let s = overlap([lo as f64, hi as f64], [a as f64, z as f64], 1.0);
                push("length", json!([lo, hi]), json!([a, z]), s);
            }
            None => push("length", json!([lo, hi]), Value::Null, 0.0),
        }
    }
    if let Some([lo, hi]) = cp.range {
        match cs.range {
            Some([a, z]) => {
                let unit = if cs.reals == 0 && lo.fract() == 0.0 && hi.fract() == 0.0 {
                    1.0
                } else {
                    0.0
                };
                let s = if unit == 0.0 && lo == hi && a == z {
                    f64::from(u8::from(lo == a))
                } else {
                    overlap([lo, hi], [a, z], unit)
                };
                push("range", json!([lo, hi]), json!([a, z]), s);
            }
            None => push("range", json!([lo, hi]), Value::Null, 0.0),
        }
    }
    if let Some(cats) = &cp.categories {
        let keys: Vec<String> = cats.keys().cloned().collect();
        let (total, counts) = db.value_counts(table, &info.name, &keys)?;
        let mut actual = serde_json::Map::new();
        for (k, c) in keys.iter().zip(&counts) {
            let share = if total == 0 {
                0.0
            } else {
                *c as f64 / total as f64
            };
            actual.insert(k.clone(), json!(round(share, 4)));
        }
        let other = total.saturating_sub(counts.iter().sum());
        if other > 0 {
            actual.insert(
                "(other)".into(),
                json!(round(other as f64 / total as f64, 4)),
            );
        }
        let s = category_score(cats, &counts, total);
        push("categories", json!(cats), Value::Object(actual), s);
    }
    if let Some(target) = &cp.references {
        let actual = info.references.clone();
        let same = actual
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case(target));
        push(
            "references",
            json!(target),
            json!(actual),
            f64::from(u8::from(same)),
        );
    }
    Ok(items)
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
