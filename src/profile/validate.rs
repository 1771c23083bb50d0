//! The checks a format-2 profile must pass beyond its TOML shape: every
//! profiled table and column exists in its `[schema]`, every fan-out entry
//! is one of the table's foreign keys, and every number is a number that
//! can be true (fractions in 0..=1, quantiles ordered, ranges with min ≤
//! max). Errors are (location, problem) pairs for [`super::ProfileError`].

use super::{ColumnProfile, FanOut, Profile};
use crate::schema::Schema;

type Problem = (String, String);

fn fraction(x: f64) -> bool {
    x.is_finite() && (0.0..=1.0).contains(&x)
}

/// The format-2 column fields of `c`: (field, problem) on error.
pub fn column_v2(c: &ColumnProfile) -> Result<(), Problem> {
    if let Some(d) = c.distinct_ratio
        && !fraction(d)
    {
        return Err((
            "distinct_ratio".into(),
            format!("{d} is not a ratio between 0 and 1"),
        ));
    }
    if let Some(m) = c.mean_length
        && !(m.is_finite() && m >= 0.0)
    {
        return Err((
            "mean_length".into(),
            format!("{m} is not a length in bytes"),
        ));
    }
    if let Some([lo, hi]) = &c.date_range {
        let day = |s: &str| {
            s.len() == 10
                && s.bytes().enumerate().all(|(i, b)| {
                    if i == 4 || i == 7 {
                        b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                })
        };
        if !day(lo) || !day(hi) || lo > hi {
            return Err((
                "date_range".into(),
                format!("[{lo}, {hi}] is not a YYYY-MM-DD range with first <= last"),
            ));
        }
    }
    Ok(())
}

fn fanout(table: &str, i: usize, f: &FanOut) -> Result<(), Problem> {
    let loc = format!("tables.{table}.fanout[{i}]");
    if !fraction(f.childless) {
        return Err((
            format!("{loc}.childless"),
            format!("{} is not a fraction between 0 and 1", f.childless),
        ));
    }
    if !(f.mean.is_finite() && f.mean >= 0.0) {
        return Err((
            format!("{loc}.mean"),
            format!("{} is not a number of children", f.mean),
        ));
    }
    let q = [f.p50, f.p90, f.p99, f.max];
    let known: Vec<u64> = q.iter().flatten().copied().collect();
    if known.windows(2).any(|w| w[0] > w[1]) {
        return Err((
            loc,
            "quantiles must not decrease (p50 <= p90 <= p99 <= max)".into(),
        ));
    }
    Ok(())
}

/// Every table, column and fan-out of `p` against its schema.
pub fn against_schema(p: &Profile, schema: &Schema) -> Result<(), Problem> {
    for (key, t) in &p.tables {
        let Some(table) = schema.tables.iter().find(|s| s.key() == *key) else {
            return Err((
                format!("tables.{key}"),
                "no such table in the profile's [schema]".into(),
            ));
        };
        for col in t.columns.keys() {
            if table.column(col).is_none() {
                return Err((
                    format!("tables.{key}.columns.{col}"),
                    format!("table {key} in [schema] has no column {col}"),
                ));
            }
        }
        for (i, f) in t.fanout.iter().enumerate() {
            let declared = table
                .foreign_keys
                .iter()
                .any(|fk| fk.columns == f.columns && fk.ref_key() == f.references);
            if !declared {
                return Err((
                    format!("tables.{key}.fanout[{i}]"),
                    format!(
                        "({}) → {} is not a foreign key of {key} in [schema]",
                        f.columns.join(", "),
                        f.references
                    ),
                ));
            }
            fanout(key, i, f)?;
        }
    }
    Ok(())
}
