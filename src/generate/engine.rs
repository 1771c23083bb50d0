//! The generic engine: any schema, any statistics, into SQLite.
//!
//! - [`fill`]: fill the (empty) tables of an *existing* database — the
//!   library call the migrations runner uses to give the schema at step
//!   N−1 production-shaped rows. Foreign-key enforcement and triggers are
//!   switched off on the connection while it runs (and restored after), so
//!   keys may point forward (cycles, self-references) and triggers do not
//!   fire on generated rows; rows are written in one transaction.
//! - [`generate_file`]: a new surrogate file from a schema: the tables'
//!   own `CREATE TABLE` statements first (no secondary index, view or
//!   trigger yet), the rows in foreign-key order, then the indexes (built
//!   once, faster than maintained row by row), views and triggers (created
//!   after the fill, so they never fire on generated rows), the provenance
//!   record, fsync while hashing, atomic rename.
//!
//! How deferred keys are handled: the rows a key points at are pure
//! functions of the row index (`keys.rs`), so a self-reference or the key
//! that closes a cycle is written with its final value at insert time —
//! no NULL-then-UPDATE pass, and it works for NOT NULL keys that are not
//! deferrable, which an UPDATE pass could not fill. Enforcement is off
//! during the fill (SQLite's default) and every key holds when it ends
//! (`PRAGMA foreign_key_check` is empty; the tests check it).
//!
//! Deterministic: same schema + statistics + counts + seed + rollproof
//! version → same rows in the same order with the same commit points, page
//! size and journal mode: the same bytes.

use super::GenerateError;
use super::batch::Batch;
use super::plan::Plan;
use super::produce::Producer;
use super::sink_sqlite;
use super::stats::{FillStats, RowCounts};
use crate::schema::{Dialect, Schema};
use rusqlite::Connection;
use rusqlite::config::DbConfig;
use std::collections::BTreeMap;
use std::sync::mpsc::sync_channel;

/// Batches in flight between the planner and the writer: bounds memory.
const IN_FLIGHT: usize = 16;
/// Rows per transaction when generating a new file.
const ROWS_PER_COMMIT: u64 = 100_000;

/// What a fill wrote.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FillSummary {
    /// Rows written per table.
    pub rows: BTreeMap<String, u64>,
    /// Rows the database rejected (a CHECK or UNIQUE the engine does not
    /// model) that were made again.
    pub redrawn: u64,
    /// CHECK constraints only the database could judge.
    pub unmodelled_checks: Vec<String>,
}

/// Fill the empty tables of the database behind `conn` with `rows` rows
/// per table (tables absent from `rows` stay empty), following `stats`,
/// deterministically from `seed`. `schema` must describe the database (e.g.
/// `schema::sqlite::read(conn)`). Call it outside a transaction.
pub fn fill(
    conn: &Connection,
    schema: &Schema,
    stats: &FillStats,
    rows: &RowCounts,
    seed: u64,
) -> Result<FillSummary, GenerateError> {
    if !conn.is_autocommit() {
        return Err(GenerateError::Unusable(
            "fill must be called outside a transaction (it switches foreign-key enforcement off for the fill)".into(),
        ));
    }
    let plan = Plan::build(schema, stats, rows, seed)?;
    for t in &plan.tables {
        let any = exists(
            conn,
            &format!("SELECT EXISTS (SELECT 1 FROM {})", quote(&t.name)),
            &[],
            &t.name,
        )?;
        if any {
            return Err(GenerateError::Unusable(format!(
                "table {} already has rows; fill writes only into empty tables",
                t.name
            )));
        }
    }
    let conn_err = |source| GenerateError::Fill {
        table: String::new(),
        source,
    };
    let fk_on: bool = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .map_err(conn_err)?;
    conn.pragma_update(None, "foreign_keys", false)
        .map_err(conn_err)?;
    let triggers_on = conn
        .set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false)
        .map_err(conn_err)?;
    let result = (|| {
        conn.execute_batch("BEGIN").map_err(conn_err)?;
        match run(conn, &plan, None) {
            Ok(s) => {
                conn.execute_batch("COMMIT").map_err(conn_err)?;
                Ok(s)
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    })();
    let _ = conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, triggers_on);
    let _ = conn.pragma_update(None, "foreign_keys", fk_on);
    result
}

/// Plan on a second thread, write into SQLite on this one.
pub(super) fn run(
    conn: &Connection,
    plan: &Plan,
    commit_every: Option<u64>,
) -> Result<FillSummary, GenerateError> {
    run_with(plan, |producer, rx, bar| {
        sink_sqlite::write(conn, plan, producer, rx, commit_every, bar)
    })
}

/// Plan on a second thread; `write` takes the batches on this one (the
/// SQLite writer, or PostgreSQL's COPY writer).
pub(super) fn run_with(
    plan: &Plan,
    write: impl FnOnce(
        &Producer<'_>,
        std::sync::mpsc::Receiver<Batch>,
        &indicatif::ProgressBar,
    ) -> Result<sink_sqlite::Written, GenerateError>,
) -> Result<FillSummary, GenerateError> {
    let total: u64 = plan.tables.iter().map(|t| t.rows).sum();
    let bar = crate::util::progress::rows_bar(total, "generating rows");
    let producer = Producer { plan };
    let (tx, rx) = sync_channel::<Batch>(IN_FLIGHT);
    let (made, written) = std::thread::scope(|s| {
        let p = &producer;
        let planner = s.spawn(move || {
            for t in 0..p.plan.tables.len() {
                if !p.table(t, &tx)? {
                    break;
                }
            }
            Ok::<(), GenerateError>(())
        });
        // Returning (even early, on an error) drops `rx`, which stops the
        // planner; the scope then joins it.
        let written = write(&producer, rx, &bar);
        (planner.join(), written)
    });
    bar.finish_and_clear();
    // The planner's error is the cause when both failed (it hung up first).
    made.unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
    let written = written?;
    Ok(FillSummary {
        rows: sink_sqlite::by_name(plan, &written),
        redrawn: written.redrawn,
        unmodelled_checks: plan
            .tables
            .iter()
            .flat_map(|t| t.unmodelled.iter().map(move |c| format!("{}: {c}", t.name)))
            .collect(),
    })
}

/// The boolean a query returns, errors naming `table`.
fn exists(
    conn: &Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
    table: &str,
) -> Result<bool, GenerateError> {
    conn.query_row(sql, params, |r| r.get(0))
        .map_err(|source| GenerateError::Fill {
            table: table.to_string(),
            source,
        })
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Create the tables of `schema` in the empty database behind `conn`.
pub fn create_tables(conn: &Connection, schema: &Schema) -> Result<(), GenerateError> {
    if schema.dialect != Dialect::Sqlite {
        return Err(GenerateError::Unusable(
            "this schema was read from PostgreSQL; creating it in SQLite needs its SQLite rendering".into(),
        ));
    }
    // Virtual tables first: they create their shadow tables themselves.
    let mut tables: Vec<_> = schema.tables.iter().collect();
    tables.sort_by_key(|t| t.virtual_module.is_none());
    for t in tables {
        let exists = exists(
            conn,
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1)",
            &[&t.name],
            &t.name,
        )?;
        if exists {
            continue; // a shadow table of a virtual table created above
        }
        let sql = t.sql.as_deref().ok_or_else(|| {
            GenerateError::Unusable(format!(
                "table {} has no CREATE TABLE statement in the schema",
                t.name
            ))
        })?;
        conn.execute_batch(sql)
            .map_err(|source| GenerateError::Fill {
                table: t.name.clone(),
                source,
            })?;
    }
    Ok(())
}

/// Create the indexes, views and triggers of `schema` (after the fill).
/// Views and triggers that name objects created later are retried until
/// nothing more can be created.
pub fn create_rest(conn: &Connection, schema: &Schema) -> Result<(), GenerateError> {
    let mut pending: Vec<(&str, &str)> = Vec::new();
    for ix in &schema.indexes {
        if let Some(sql) = &ix.sql {
            pending.push((&ix.name, sql));
        }
    }
    for v in &schema.views {
        pending.push((&v.name, &v.sql));
    }
    for t in &schema.triggers {
        pending.push((&t.name, &t.sql));
    }
    loop {
        let mut failed = Vec::new();
        let mut last_err = None;
        for (name, sql) in &pending {
            if let Err(e) = conn.execute_batch(sql) {
                failed.push((*name, *sql));
                last_err = Some((name.to_string(), e));
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        if failed.len() == pending.len() {
            let (name, source) = last_err.expect("a failure was recorded");
            return Err(GenerateError::Fill {
                table: name,
                source,
            });
        }
        pending = failed;
    }
}

/// Generate a new SQLite database at `path` (which must not exist yet):
/// pragmas, tables, rows, indexes, views, triggers.
pub fn build_file(
    conn: &Connection,
    schema: &Schema,
    stats: &FillStats,
    rows: &RowCounts,
    seed: u64,
) -> Result<FillSummary, GenerateError> {
    let plan = Plan::build(schema, stats, rows, seed)?;
    let err = |source| GenerateError::Fill {
        table: String::new(),
        source,
    };
    conn.pragma_update(None, "page_size", super::PAGE_SIZE)
        .map_err(err)?;
    conn.pragma_update(None, "journal_mode", "OFF")
        .map_err(err)?;
    conn.pragma_update(None, "synchronous", "OFF")
        .map_err(err)?;
    conn.pragma_update(None, "cache_size", -32_768)
        .map_err(err)?;
    // The bundled SQLite enforces foreign keys by default; keys may point
    // forward during the fill (see the module header).
    conn.pragma_update(None, "foreign_keys", false)
        .map_err(err)?;
    create_tables(conn, schema)?;
    conn.execute_batch("BEGIN").map_err(err)?;
    let summary = run(conn, &plan, Some(ROWS_PER_COMMIT))?;
    create_rest(conn, schema)?;
    conn.execute_batch("COMMIT").map_err(err)?;
    Ok(summary)
}

#[cfg(test)]
mod tests;
