//! Data first: before every step, the tables of the working database that
//! are still empty get production-shaped rows, so a down that loses data
//! shows it. Rows come from the user's profile (its statistics and row
//! counts, for the tables it knows) or from generic generation
//! (`generate::fill` on the schema at N−1, `--rows` rows per table). What
//! is filled is chosen the same way on both backends ([`choose`]); this
//! module fills SQLite, `data_pg` PostgreSQL.
//!
//! Which tables: every table of the schema that holds no row, except the
//! tool's bookkeeping table, virtual tables and their shadow tables (as
//! SQLite marks them), and rollproof's own. Tables the
//! migrations filled themselves keep exactly their rows. Because every
//! step starts from the state after the previous one, each table is filled
//! once, at the first step where it exists empty.
//!
//! Keys to tables that already hold rows: the generator computes a parent
//! key from the parent's row index, which only holds for rows it generated
//! in the same call. So a foreign key from a table being filled to a table
//! that is not is taken out of the schema given to the generator, and its
//! columns are then pointed at existing parent rows (the child's n-th row,
//! in rowid order, gets the parent's n-th row modulo its row count, in key
//! order): deterministic and
//! always valid. Where that cannot be done — a `WITHOUT ROWID` child, or a
//! NOT NULL key to a parent with no rows — the table stays empty and the
//! record says why.

use crate::generate::stats::{FillStats, RowCounts};
use crate::schema::{ForeignKey, Schema};
use rusqlite::Connection;
use rusqlite::config::DbConfig;
use std::collections::{BTreeMap, BTreeSet};

/// Where the rows come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// No rows are added: only what the migrations insert.
    None,
    /// Generic generation, `rows` per table.
    Generated {
        /// Rows per empty table.
        rows: u64,
    },
    /// A profile's statistics and row counts (scaled); tables it does not
    /// know get `rows`.
    Profile {
        /// The profile file, as given.
        path: String,
        /// Its statistics.
        stats: FillStats,
        /// Scale of its row counts.
        scale: f64,
        /// Rows for tables the profile does not know.
        rows: u64,
    },
}

/// How a run fills its tables.
#[derive(Debug, Clone, PartialEq)]
pub struct DataPlan {
    /// Where rows come from.
    pub source: Source,
    /// Seed of the generator (each step derives its own from it).
    pub seed: u64,
    /// Tables never filled (the tool's bookkeeping table).
    pub exclude: Vec<String>,
}

/// What one step's fill did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filled {
    /// Rows written, by table.
    pub rows: BTreeMap<String, u64>,
    /// Tables left empty, with the reason.
    pub skipped: BTreeMap<String, String>,
}

impl DataPlan {
    /// No data at all.
    pub fn none() -> DataPlan {
        DataPlan {
            source: Source::None,
            seed: 0,
            exclude: Vec::new(),
        }
    }

    /// The report's one-line description.
    pub fn describe(&self) -> String {
        match &self.source {
            Source::None => "none: only the rows the migrations themselves insert".into(),
            Source::Generated { rows } => format!(
                "generated: every empty table filled with {rows} rows before each step (generic generation, seed {})",
                self.seed
            ),
            Source::Profile {
                path, scale, rows, ..
            } => format!(
                "profile {path} (scale {scale}; {rows} rows for tables it does not know), every empty table filled before each step, seed {}",
                self.seed
            ),
        }
    }

    /// The report's `source` word.
    pub fn source_word(&self) -> &'static str {
        match self.source {
            Source::None => "none",
            Source::Generated { .. } => "generated",
            Source::Profile { .. } => "profile",
        }
    }

    /// The seed of step `step`'s rows.
    pub fn step_seed(&self, step: usize) -> u64 {
        crate::generate::keys::mix(self.seed, step as u64)
    }

    /// The statistics rows follow (empty without a profile).
    pub fn stats(&self) -> FillStats {
        match &self.source {
            Source::Profile { stats, .. } => stats.clone(),
            _ => FillStats::default(),
        }
    }

    /// Rows for an empty `table` (its key).
    pub fn rows_for(&self, table: &str) -> u64 {
        match &self.source {
            Source::None => 0,
            Source::Generated { rows } => *rows,
            Source::Profile {
                stats, scale, rows, ..
            } => match stats.table(table) {
                Some(t) => (t.rows as f64 * scale).round() as u64,
                None => *rows,
            },
        }
    }
}

/// Why a fill could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The database failed.
    #[error("{what}: {source}")]
    Db {
        /// What rollproof was doing.
        what: String,
        #[source]
        source: rusqlite::Error,
    },
    /// The PostgreSQL server failed.
    #[error("{what}: {message}")]
    Server {
        /// What rollproof was doing.
        what: String,
        /// The server's message.
        message: String,
    },
    /// The generator refused the schema.
    #[error("generating rows before step {step}: {source}")]
    Generate {
        /// 1-based step.
        step: usize,
        #[source]
        source: crate::generate::GenerateError,
    },
}

fn db(what: &str) -> impl Fn(rusqlite::Error) -> DataError + '_ {
    move |source| DataError::Db {
        what: what.to_string(),
        source,
    }
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn row_count(c: &Connection, table: &str) -> Result<u64, DataError> {
    c.query_row(&format!("SELECT count(*) FROM {}", quote(table)), [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n as u64)
    .map_err(db("count rows"))
}

/// The shadow tables of virtual tables (an FTS5 table's `_content`,
/// `_idx`, …), as SQLite itself marks them: the virtual table keeps them,
/// and a generated row in one would corrupt it.
fn shadow_tables(c: &Connection) -> Result<BTreeSet<String>, DataError> {
    let mut st = c
        .prepare("SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'shadow'")
        .map_err(db("list shadow tables"))?;
    st.query_map([], |r| r.get::<_, String>(0))
        .map_err(db("list shadow tables"))?
        .collect::<Result<_, _>>()
        .map_err(db("list shadow tables"))
}

/// What one step fills, chosen from the schema and the row counts alone
/// (both backends): the schema the generator sees (the tables to fill,
/// only the keys among them), the keys to tables outside the fill
/// (pointed at existing rows afterwards) and the row counts.
#[derive(Debug, Clone)]
pub struct Choice {
    /// The tables to fill, with only the keys among them.
    pub sub: Schema,
    /// Keys from a filled table (its key) to a table outside the fill.
    pub outside: Vec<(String, ForeignKey)>,
    /// Rows per filled table.
    pub rows: RowCounts,
}

/// The key of the table a foreign key references.
pub fn ref_key(fk: &ForeignKey) -> String {
    crate::schema::key_of(fk.ref_namespace.as_deref(), &fk.ref_table)
}

/// Choose what to fill: every table of `schema` that `counts` (by table
/// key; tables never filled are absent) says is empty and the plan gives
/// rows, except those whose keys to existing rows cannot be pointed
/// anywhere. `None` when nothing is filled.
pub fn choose(
    schema: &Schema,
    counts: &BTreeMap<String, u64>,
    plan: &DataPlan,
) -> (Option<Choice>, BTreeMap<String, String>) {
    let mut skipped = BTreeMap::new();
    let mut fill: BTreeSet<String> = counts
        .iter()
        .filter(|(t, n)| **n == 0 && plan.rows_for(t) > 0)
        .map(|(t, _)| t.clone())
        .collect();
    // Drop tables whose keys to existing rows cannot be pointed anywhere,
    // until no more drop (a dropped table is a parent with no rows).
    loop {
        let drop: Vec<(String, String)> = schema
            .tables
            .iter()
            .filter(|t| fill.contains(&t.key()))
            .filter_map(|t| unfillable(t, &fill, counts).map(|why| (t.key(), why)))
            .collect();
        if drop.is_empty() {
            break;
        }
        for (t, why) in drop {
            fill.remove(&t);
            skipped.insert(t, why);
        }
    }
    if fill.is_empty() {
        return (None, skipped);
    }
    // The generator sees only the tables it fills and the keys among them.
    let mut sub = Schema::new(schema.dialect);
    sub.namespaces = schema.namespaces.clone();
    sub.extensions = schema.extensions.clone();
    sub.types = schema.types.clone();
    let mut outside: Vec<(String, ForeignKey)> = Vec::new();
    for t in schema.tables.iter().filter(|t| fill.contains(&t.key())) {
        let mut t = t.clone();
        let (inside, out_keys): (Vec<ForeignKey>, Vec<ForeignKey>) = t
            .foreign_keys
            .drain(..)
            .partition(|fk| fill.contains(&ref_key(fk)));
        t.foreign_keys = inside;
        outside.extend(out_keys.into_iter().map(|fk| (t.key(), fk)));
        sub.tables.push(t);
    }
    let rows: RowCounts = sub
        .tables
        .iter()
        .map(|t| {
            (
                t.key(),
                capped(t, plan.rows_for(&t.key()), &outside, counts),
            )
        })
        .collect();
    let choice = Choice { sub, outside, rows };
    (Some(choice), skipped)
}

/// Fill the empty tables of the database behind `c` (outside a
/// transaction) before step `step` (1-based).
pub fn fill(c: &Connection, plan: &DataPlan, step: usize) -> Result<Filled, DataError> {
    let mut out = Filled::default();
    if plan.source == Source::None {
        return Ok(out);
    }
    let schema = crate::schema::sqlite::read(c).map_err(db("read the schema"))?;
    let shadow = shadow_tables(c)?;
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for t in &schema.tables {
        if t.virtual_module.is_some()
            || shadow.contains(&t.name)
            || plan.exclude.iter().any(|e| e == &t.name)
        {
            continue;
        }
        counts.insert(t.name.clone(), row_count(c, &t.name)?);
    }
    let (choice, skipped) = choose(&schema, &counts, plan);
    out.skipped = skipped;
    let Some(choice) = choice else {
        return Ok(out);
    };
    let seed = plan.step_seed(step);
    let summary = crate::generate::engine::fill(c, &choice.sub, &plan.stats(), &choice.rows, seed)
        .map_err(|source| DataError::Generate { step, source })?;
    point_keys(c, &choice.outside, &counts)?;
    out.rows = summary.rows.into_iter().filter(|(_, n)| *n > 0).collect();
    Ok(out)
}

/// `n` rows for `t`, at most as many as a parent outside the fill has
/// rows when the key to it is unique in `t` (one child per parent).
fn capped(
    t: &crate::schema::Table,
    n: u64,
    outside: &[(String, ForeignKey)],
    counts: &BTreeMap<String, u64>,
) -> u64 {
    let unique = |cols: &[String]| {
        let mut a: Vec<&String> = cols.iter().collect();
        a.sort();
        let same = |k: &[String]| {
            let mut b: Vec<&String> = k.iter().collect();
            b.sort();
            a == b
        };
        same(&t.primary_key) || t.uniques.iter().any(|u| same(&u.columns))
    };
    outside
        .iter()
        .filter(|(child, fk)| child == &t.name && unique(&fk.columns))
        .map(|(_, fk)| counts.get(&ref_key(fk)).copied().unwrap_or(0))
        .fold(n, u64::min)
}

/// Why `t` cannot be filled, if it cannot.
fn unfillable(
    t: &crate::schema::Table,
    fill: &BTreeSet<String>,
    counts: &BTreeMap<String, u64>,
) -> Option<String> {
    for fk in &t.foreign_keys {
        if fill.contains(&ref_key(fk)) {
            continue;
        }
        let parent_rows = counts.get(&ref_key(fk)).copied().unwrap_or(0);
        let not_null = fk
            .columns
            .iter()
            .any(|c| t.column(c).is_some_and(|c| c.not_null));
        if t.without_rowid {
            return Some(format!(
                "a WITHOUT ROWID table with a key to `{}`, which already holds rows rollproof did not generate",
                fk.ref_table
            ));
        }
        if parent_rows == 0 && not_null {
            return Some(format!(
                "its NOT NULL key ({}) needs rows in `{}`, which has none",
                fk.columns.join(", "),
                fk.ref_table
            ));
        }
    }
    None
}

/// Point every key to a table that was not filled at existing rows of
/// it (NULL when it has none), with triggers off as during the fill.
fn point_keys(
    c: &Connection,
    keys: &[(String, ForeignKey)],
    counts: &BTreeMap<String, u64>,
) -> Result<(), DataError> {
    if keys.is_empty() {
        return Ok(());
    }
    let triggers_on = c
        .set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false)
        .map_err(db("switch triggers off"))?;
    let result = (|| {
        c.execute_batch("BEGIN").map_err(db("point keys"))?;
        for (child, fk) in keys {
            let n = counts.get(&ref_key(fk)).copied().unwrap_or(0);
            let cols: Vec<String> = fk.columns.iter().map(|c| quote(c)).collect();
            let refs: Vec<String> = fk.ref_columns.iter().map(|c| quote(c)).collect();
            let sql = if n == 0 {
                let sets: Vec<String> = cols.iter().map(|c| format!("{c} = NULL")).collect();
                format!("UPDATE {} SET {}", quote(child), sets.join(", "))
            } else {
                let keys: Vec<String> = (0..refs.len()).map(|i| format!("p.k{i}")).collect();
                let aliased: Vec<String> = refs
                    .iter()
                    .enumerate()
                    .map(|(i, r)| format!("{r} AS k{i}"))
                    .collect();
                format!(
                    "WITH m AS (SELECT rowid AS rid, row_number() OVER (ORDER BY rowid) - 1 AS i FROM {child}),
                          p AS (SELECT row_number() OVER (ORDER BY {refs}) - 1 AS i, {aliased} FROM {parent})
                     UPDATE {child} SET ({cols}) = ({keys}) FROM m JOIN p ON p.i = m.i % {n}
                     WHERE {child}.rowid = m.rid",
                    child = quote(child),
                    cols = cols.join(", "),
                    refs = refs.join(", "),
                    aliased = aliased.join(", "),
                    keys = keys.join(", "),
                    parent = quote(&fk.ref_table),
                )
            };
            c.execute_batch(&sql).map_err(db(&format!(
                "point the key of `{child}` at `{}`",
                fk.ref_table
            )))?;
        }
        c.execute_batch("COMMIT").map_err(db("point keys"))
    })();
    if result.is_err() {
        let _ = c.execute_batch("ROLLBACK");
    }
    let _ = c.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, triggers_on);
    result
}
