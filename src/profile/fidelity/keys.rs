//! Fidelity of a table's keys: per foreign key its fan-out (children per
//! parent) against the profile's, and per unique key (primary key, UNIQUE
//! constraint, unique index on columns) the share of distinct key values
//! among the rows that have one.

use super::{Item, KeyFidelity, mean, ratio_f, round};
use crate::profile::extract::fanout_of;
use crate::profile::stats::{Db, StatsError};
use crate::profile::{FanOut, Profile};
use crate::schema::{Schema, Table};
use serde_json::json;

/// Fan-out items of one foreign key: childless share, mean, and each
/// quantile the profile states.
fn fanout_items(want: &FanOut, have: &FanOut) -> Vec<Item> {
    let mut items = vec![
        Item::new(
            "childless",
            json!(want.childless),
            json!(have.childless),
            1.0 - (want.childless - have.childless).abs(),
        ),
        Item::new(
            "mean",
            json!(want.mean),
            json!(have.mean),
            ratio_f(want.mean, have.mean),
        ),
    ];
    for (name, w, h) in [
        ("p50", want.p50, have.p50),
        ("p90", want.p90, have.p90),
        ("p99", want.p99, have.p99),
        ("max", want.max, have.max),
    ] {
        if let Some(w) = w {
            // +1 so that 0 against 1 child is close, not a total miss.
            let s = h.map_or(0.0, |h| ratio_f(w as f64 + 1.0, h as f64 + 1.0));
            items.push(Item::new(name, json!(w), json!(h), s));
        }
    }
    items
}

/// Fan-out of every foreign key the profile states for `table`.
pub fn fanouts(
    db: &Db,
    profile: &Profile,
    key: &str,
    table: &Table,
    db_schema: &Schema,
    rows: &dyn Fn(&str) -> Option<u64>,
) -> Result<Vec<KeyFidelity>, StatsError> {
    let mut out = Vec::new();
    let Some(tp) = profile.tables.get(key) else {
        return Ok(out);
    };
    for want in &tp.fanout {
        let present = table
            .columns
            .iter()
            .filter(|c| want.columns.contains(&c.name))
            .count()
            == want.columns.len()
            && db_schema.table(&want.references).is_some();
        let items = match (present, rows(&want.references)) {
            (true, Some(parents)) => {
                let hist = db.fanout(&table.name, &want.columns, parents)?;
                fanout_items(want, &fanout_of(&want.columns, &want.references, &hist))
            }
            _ => fanout_items(want, &FanOut::default())
                .into_iter()
                .map(|mut i| {
                    i.score = 0.0;
                    i.actual = serde_json::Value::Null;
                    i
                })
                .collect(),
        };
        out.push(KeyFidelity {
            kind: "fanout".into(),
            columns: want.columns.clone(),
            references: Some(want.references.clone()),
            score: round(mean(items.iter().map(|i| i.score)).unwrap_or(0.0), 4),
            items,
        });
    }
    Ok(out)
}

/// The unique keys a profiled table declares: primary key, UNIQUE
/// constraints, and unique indexes on plain columns (expression and
/// partial indexes are left to the database, which enforces them).
fn unique_keys(schema: &Schema, table: &Table) -> Vec<Vec<String>> {
    let mut keys: Vec<Vec<String>> = Vec::new();
    if !table.primary_key.is_empty() {
        keys.push(table.primary_key.clone());
    }
    keys.extend(table.uniques.iter().map(|u| u.columns.clone()));
    for i in schema.indexes_on(&table.key()) {
        if i.unique && i.predicate.is_none() {
            let cols: Option<Vec<String>> = i
                .columns
                .iter()
                .map(|k| k.column().map(str::to_string))
                .collect();
            if let Some(cols) = cols {
                keys.push(cols);
            }
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

/// Uniqueness of every unique key of the profile's table, measured on
/// the database's table.
pub fn uniques(
    db: &Db,
    profile_schema: &Schema,
    want: &Table,
    have: &Table,
) -> Result<Vec<KeyFidelity>, StatsError> {
    let mut out = Vec::new();
    for cols in unique_keys(profile_schema, want) {
        let present = cols.iter().all(|c| have.column(c).is_some());
        let (score, actual) = if present {
            let (rows, distinct) = db.distinct_tuples(&have.name, &cols)?;
            let s = if rows == 0 {
                1.0
            } else {
                distinct as f64 / rows as f64
            };
            (s, json!({ "rows": rows, "distinct": distinct }))
        } else {
            (0.0, serde_json::Value::Null)
        };
        let items = vec![Item::new("unique", json!(cols), actual, score)];
        out.push(KeyFidelity {
            kind: "unique".into(),
            columns: cols,
            references: None,
            score: round(score, 4),
            items,
        });
    }
    Ok(out)
}
