//! The SQLite writer: binds each planned row to one prepared INSERT per
//! table. The database judges every row last: a row it rejects for a CHECK
//! or a UNIQUE/PRIMARY KEY (a shape the engine does not model) is made
//! again from a retry stream — keys and parents kept, drawn values new — a
//! bounded number of times; then the error names the table and the
//! database's own words for the constraint.

use super::GenerateError;
use super::batch::{Batch, Val};
use super::keys::value_rng;
use super::plan::{Plan, Source, TablePlan};
use super::produce::{ATTEMPTS, Producer};
use super::types::Class;
use rusqlite::{CachedStatement, Connection, ErrorCode};
use std::collections::BTreeMap;
use std::sync::mpsc::Receiver;

/// Retry streams of the writer, apart from the planner's.
const WRITER_SALT: u64 = 0x7772_6974_6572_7772;

/// What the writer did.
#[derive(Debug, Default)]
pub struct Written {
    /// Rows per table (plan order).
    pub rows: Vec<u64>,
    /// Rows the database rejected and that were made again.
    pub redrawn: u64,
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `INSERT INTO "t" ("a", "b") VALUES (?1, ?2)`.
pub fn insert_sql(tp: &TablePlan) -> String {
    let names: Vec<String> = tp.cols.iter().map(|c| quote(&c.name)).collect();
    let marks: Vec<String> = (1..=tp.cols.len()).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO {} ({}) VALUES ({})",
        quote(&tp.name),
        names.join(", "),
        marks.join(", ")
    )
}

fn bind(
    stmt: &mut CachedStatement<'_>,
    tp: &TablePlan,
    b: &Batch,
    row: &[Val],
) -> rusqlite::Result<()> {
    for (k, v) in row.iter().enumerate() {
        let idx = k + 1;
        match *v {
            Val::Null => stmt.raw_bind_parameter(idx, rusqlite::types::Null)?,
            Val::Int(i) => stmt.raw_bind_parameter(idx, i)?,
            Val::Real(f) => stmt.raw_bind_parameter(idx, f)?,
            Val::Bool(x) => stmt.raw_bind_parameter(idx, i64::from(x))?,
            Val::Text(s) => stmt.raw_bind_parameter(idx, b.str(s))?,
            Val::Blob(s) => stmt.raw_bind_parameter(idx, b.blob(s))?,
            Val::Dec(u) => match tp.cols[k].shape.class {
                Class::Decimal { scale: 0, .. } => stmt.raw_bind_parameter(idx, u)?,
                Class::Decimal { scale, .. } => {
                    stmt.raw_bind_parameter(idx, u as f64 / 10f64.powi(scale as i32))?
                }
                _ => stmt.raw_bind_parameter(idx, u)?,
            },
        }
    }
    Ok(())
}

/// A constraint rejection the writer may retry: CHECK, UNIQUE, PRIMARY KEY.
fn retryable(e: &rusqlite::Error) -> bool {
    const CHECK: i32 = 275;
    const PRIMARYKEY: i32 = 1555;
    const UNIQUE: i32 = 2067;
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.code == ErrorCode::ConstraintViolation
            && matches!(f.extended_code, CHECK | PRIMARYKEY | UNIQUE))
}

/// Write every batch; `commit_every` rows a COMMIT/BEGIN pair (fixed
/// points, for determinism) when the caller owns the transaction.
pub fn write(
    conn: &Connection,
    plan: &Plan,
    producer: &Producer<'_>,
    rx: Receiver<Batch>,
    commit_every: Option<u64>,
    bar: &indicatif::ProgressBar,
) -> Result<Written, GenerateError> {
    let mut out = Written {
        rows: vec![0; plan.tables.len()],
        redrawn: 0,
    };
    let mut current: Option<(usize, CachedStatement<'_>)> = None;
    let mut since_commit = 0u64;
    let sql_err = |t: &TablePlan| {
        let table = t.name.clone();
        move |source| GenerateError::Fill {
            table: table.clone(),
            source,
        }
    };
    for b in rx {
        let tp = &plan.tables[b.table];
        if current.as_ref().is_none_or(|(t, _)| *t != b.table) {
            let stmt = conn.prepare_cached(&insert_sql(tp)).map_err(sql_err(tp))?;
            current = Some((b.table, stmt));
        }
        let stmt = &mut current.as_mut().expect("prepared above").1;
        let width = tp.cols.len();
        for (r, row) in b.vals.chunks(width).enumerate() {
            let i = b.first + r as u64;
            bind(stmt, tp, &b, row).map_err(sql_err(tp))?;
            if let Err(e) = stmt.raw_execute() {
                if !retryable(&e) {
                    return Err(sql_err(tp)(e));
                }
                redraw(stmt, tp, producer, i, &b, row, e)?;
                out.redrawn += 1;
            }
            since_commit += 1;
            if let Some(n) = commit_every
                && since_commit >= n
            {
                conn.execute_batch("COMMIT; BEGIN").map_err(sql_err(tp))?;
                since_commit = 0;
            }
        }
        let n = (b.vals.len() / width.max(1)) as u64;
        out.rows[b.table] += n;
        bar.inc(n);
    }
    Ok(out)
}

/// Make row `i` again until the database takes it.
fn redraw(
    stmt: &mut CachedStatement<'_>,
    tp: &TablePlan,
    producer: &Producer<'_>,
    i: u64,
    orig: &Batch,
    row: &[Val],
    mut last: rusqlite::Error,
) -> Result<(), GenerateError> {
    for attempt in 1..=ATTEMPTS {
        let mut b = Batch::new(orig.table, i, row.len(), 256);
        let mut rng = value_rng(tp.key ^ WRITER_SALT, i.wrapping_mul(ATTEMPTS) + attempt);
        // Keys, parents and positions stay; drawn values are new; unique
        // values nothing points at move to an index no other row uses.
        for (k, col) in tp.cols.iter().enumerate() {
            let v = match col.source {
                Source::Drawn | Source::Pool(_) => {
                    super::make::make(&col.shape, &mut rng, None, &mut b)
                }
                Source::Unique if !col.referenced => {
                    let alt = i | (attempt << 48);
                    super::make::make(&col.shape, &mut value_rng(col.key, alt), Some(alt), &mut b)
                }
                _ => b.copy_from(orig, row[k]),
            };
            b.vals.push(v);
        }
        if producer.settle(tp, i, 0, &mut rng, &mut b).is_some() {
            continue;
        }
        bind(stmt, tp, &b, &b.vals).map_err(|source| GenerateError::Fill {
            table: tp.name.clone(),
            source,
        })?;
        match stmt.raw_execute() {
            Ok(_) => return Ok(()),
            Err(e) if retryable(&e) => last = e,
            Err(source) => {
                return Err(GenerateError::Fill {
                    table: tp.name.clone(),
                    source,
                });
            }
        }
    }
    let constraint = match &last {
        rusqlite::Error::SqliteFailure(_, Some(m)) => m.clone(),
        other => other.to_string(),
    };
    Err(GenerateError::Unsatisfiable {
        table: tp.name.clone(),
        constraint,
        problem: format!(
            "the database rejected row {} and {ATTEMPTS} new draws of it",
            i + 1
        ),
    })
}

/// Rows per table name, from the writer's counts.
pub fn by_name(plan: &Plan, w: &Written) -> BTreeMap<String, u64> {
    plan.tables
        .iter()
        .zip(&w.rows)
        .map(|(t, n)| (t.name.clone(), *n))
        .collect()
}
