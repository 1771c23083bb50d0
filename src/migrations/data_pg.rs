//! Data first on PostgreSQL: the same choice of tables and row counts as
//! on SQLite (`data::choose`), the rows made by the generic engine and
//! written with COPY (`generate::postgres::fill_existing`), and keys to
//! tables that already hold rows pointed at those rows as on SQLite (the
//! n-th filled row, in key order, at the parent's n-th row in key order,
//! cycling). Everything in one transaction on rollproof's own (admin)
//! connection, with triggers and foreign-key enforcement off, before the
//! step's before state is measured.

use super::data::{DataError, DataPlan, Filled, Source, choose, ref_key};
use crate::engine::postgres::message;
use crate::generate::GenerateError;
use crate::schema::render::postgres::qualified;
use crate::schema::render::quote;
use crate::schema::{ForeignKey, Schema};
use postgres::{Client, Transaction};
use std::collections::BTreeMap;

fn server(what: &str) -> impl Fn(postgres::Error) -> DataError + '_ {
    move |e| DataError::Server {
        what: what.to_string(),
        message: message(&e),
    }
}

/// The schema of the working database, read in a read-only transaction.
fn read_schema(c: &mut Client) -> Result<Schema, DataError> {
    let mut tx = c
        .build_transaction()
        .read_only(true)
        .start()
        .map_err(server("read the schema"))?;
    let read = crate::schema::postgres::read(&mut tx).map_err(|e| DataError::Server {
        what: "read the schema".into(),
        message: e.to_string(),
    })?;
    tx.commit().map_err(server("read the schema"))?;
    Ok(read.schema)
}

/// Fill the empty tables of the database behind `c` before step `step`.
pub fn fill(c: &mut Client, plan: &DataPlan, step: usize) -> Result<Filled, DataError> {
    let mut out = Filled::default();
    if plan.source == Source::None {
        return Ok(out);
    }
    let schema = read_schema(c)?;
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for t in &schema.tables {
        if plan.exclude.iter().any(|e| *e == t.key() || *e == t.name) {
            continue;
        }
        let q = qualified(t.namespace.as_deref(), &t.name);
        let n: i64 = c
            .query_one(&format!("SELECT count(*) FROM {q}"), &[])
            .map_err(server("count rows"))?
            .get(0);
        counts.insert(t.key(), n as u64);
    }
    let (choice, skipped) = choose(&schema, &counts, plan);
    out.skipped = skipped;
    let Some(choice) = choice else {
        return Ok(out);
    };
    let summary = crate::generate::postgres::fill_existing(
        c,
        &choice.sub,
        &plan.stats(),
        &choice.rows,
        plan.step_seed(step),
        |tx| point_keys(tx, &schema, &choice.outside, &counts),
    )
    .map_err(|source| DataError::Generate { step, source })?;
    out.rows = summary.rows.into_iter().filter(|(_, n)| *n > 0).collect();
    Ok(out)
}

/// Point every key to a table outside the fill at existing rows of it
/// (NULL when it has none): the child's rows in key order (physical order
/// without a key), the parent's in key order.
fn point_keys(
    tx: &mut Transaction<'_>,
    schema: &Schema,
    keys: &[(String, ForeignKey)],
    counts: &BTreeMap<String, u64>,
) -> Result<(), GenerateError> {
    for (child, fk) in keys {
        let Some(t) = schema.table(child) else {
            continue;
        };
        let child_q = qualified(t.namespace.as_deref(), &t.name);
        let parent_q = qualified(
            fk.ref_namespace.as_deref().or(t.namespace.as_deref()),
            &fk.ref_table,
        );
        let n = counts.get(&ref_key(fk)).copied().unwrap_or(0);
        let sets: Vec<String> = fk
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if n == 0 {
                    format!("{} = NULL", quote(c))
                } else {
                    format!("{} = p.k{i}", quote(c))
                }
            })
            .collect();
        let sql = if n == 0 {
            format!("UPDATE {child_q} SET {}", sets.join(", "))
        } else {
            let order = if t.primary_key.is_empty() {
                "ctid".to_string()
            } else {
                let pk: Vec<String> = t.primary_key.iter().map(|c| quote(c)).collect();
                pk.join(", ")
            };
            let refs: Vec<String> = fk.ref_columns.iter().map(|c| quote(c)).collect();
            let aliased: Vec<String> = refs
                .iter()
                .enumerate()
                .map(|(i, r)| format!("{r} AS k{i}"))
                .collect();
            format!(
                "WITH m AS (SELECT ctid AS rid, row_number() OVER (ORDER BY {order}) - 1 AS i FROM {child_q}),
                      p AS (SELECT row_number() OVER (ORDER BY {refs}) - 1 AS i, {aliased} FROM {parent_q})
                 UPDATE {child_q} AS c SET {sets} FROM m JOIN p ON p.i = m.i % {n}
                 WHERE c.ctid = m.rid",
                refs = refs.join(", "),
                aliased = aliased.join(", "),
                sets = sets.join(", "),
            )
        };
        tx.batch_execute(&sql).map_err(|e| {
            GenerateError::Unusable(format!(
                "pointing the key of {child_q} at {parent_q}: {}",
                message(&e)
            ))
        })?;
    }
    Ok(())
}
