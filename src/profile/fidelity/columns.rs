//! Fidelity of one column: every fact the profile states about it (type,
//! null fraction, distinct ratio, length range, mean length, numeric and
//! date range, category mix, format-1 foreign-key target) against what the
//! database holds.

use super::{Item, category_score, overlap, ratio_f, round};
use crate::profile::ColumnProfile;
use crate::profile::stats::{ColumnInfo, ColumnStats, Db, StatsError};
use crate::schema::Dialect;
use serde_json::{Value, json};

/// Whether the database's declared type matches the profile's: equal
/// (ignoring case and spaces), or, across dialects, the nearest type the
/// renderer would choose.
pub fn same_type(
    want: &str,
    have: &str,
    want_dialect: Dialect,
    schema: &crate::schema::Schema,
) -> bool {
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_ascii_lowercase()
    };
    if norm(want) == norm(have) {
        return true;
    }
    match want_dialect {
        Dialect::Postgres => {
            let m = crate::schema::render::types::pg_to_sqlite(schema, want);
            norm(&m.sql_type) == norm(have)
                || (norm(have) == "integer" && norm(&m.sql_type) == "integer")
        }
        Dialect::Sqlite => false,
    }
}

/// Every fact of a profiled column the database lacks scores 0.
pub fn missing(cp: &ColumnProfile) -> Vec<Item> {
    let mut v = Vec::new();
    let mut add =
        |check: &str, expected: Value| v.push(Item::new(check, expected, Value::Null, 0.0));
    if let Some(t) = &cp.sql_type {
        add("type", json!(t));
    }
    if let Some(f) = cp.null_fraction {
        add("null_fraction", json!(f));
    }
    if let Some(d) = cp.distinct_ratio {
        add("distinct_ratio", json!(d));
    }
    if let Some(l) = cp.length {
        add("length", json!(l));
    }
    if let Some(m) = cp.mean_length {
        add("mean_length", json!(m));
    }
    if let Some(r) = cp.range {
        add("range", json!(r));
    }
    if let Some(r) = &cp.date_range {
        add("date_range", json!(r));
    }
    if let Some(c) = &cp.categories {
        add("categories", json!(c));
    }
    if let Some(r) = &cp.references {
        add("references", json!(r));
    }
    v
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` prefix (for range overlap).
fn day_number(s: &str) -> Option<f64> {
    crate::util::timefmt::parse_day(s).map(|d| d as f64)
}

/// The items of a column the database has.
pub fn present(
    db: &Db,
    table: &str,
    info: &ColumnInfo,
    rows: u64,
    cs: &ColumnStats,
    cp: &ColumnProfile,
) -> Result<Vec<Item>, StatsError> {
    let mut items = Vec::new();
    let mut push = |check: &str, expected: Value, actual: Value, score: f64| {
        items.push(Item::new(check, expected, actual, score))
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
    let non_null = rows.saturating_sub(cs.nulls);
    if let Some(f) = cp.null_fraction {
        let actual = if rows == 0 {
            0.0
        } else {
            cs.nulls as f64 / rows as f64
        };
        push(
            "null_fraction",
            json!(f),
            json!(round(actual, 4)),
            1.0 - (f - actual).abs(),
        );
    }
    if let Some(d) = cp.distinct_ratio {
        let actual = if non_null == 0 {
            0.0
        } else {
            cs.distinct as f64 / non_null as f64
        };
        push(
            "distinct_ratio",
            json!(d),
            json!(round(actual, 4)),
            1.0 - (d - actual).abs(),
        );
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
    if let Some(m) = cp.mean_length {
        match cs.mean_length {
            Some(a) => push("mean_length", json!(m), json!(round(a, 1)), ratio_f(m, a)),
            None => push("mean_length", json!(m), Value::Null, 0.0),
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
    if let Some([lo, hi]) = &cp.date_range {
        let have = db.text_bounds(table, &info.name)?;
        let days = |a: &str, b: &str| day_number(a).zip(day_number(b)).map(|(x, y)| [x, y]);
        let s = match (days(lo, hi), have.as_ref().and_then(|(a, z)| days(a, z))) {
            (Some(w), Some(h)) => overlap(w, h, 1.0),
            _ => 0.0,
        };
        let actual = have.map_or(Value::Null, |(a, z)| json!([a, z]));
        push("date_range", json!([lo, hi]), actual, s);
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
