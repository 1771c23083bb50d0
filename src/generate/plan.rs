//! The plan: for every table to fill, where each column's values come from
//! and how each foreign key picks its parent row — decided once, from the
//! schema, the statistics and the row counts, before any row is made.
//!
//! Sources ([`Source`]): integer keys count rows (`i + 1`); unique and
//! referenced columns are pure functions of the row index (see `keys.rs`),
//! so a child can recompute the key of parent row `j` instead of looking
//! it up; foreign-key columns copy the chosen parent's key; everything else
//! is drawn from the table's own stream.
//!
//! Parent choice ([`Choice`]): one foreign key per table may *group* the
//! rows by parent following the children-per-parent distribution (rows come
//! out clustered, as order lines follow their order); one-to-one keys
//! (a UNIQUE foreign key) permute the parents; a UNIQUE pair of foreign
//! keys (junction tables) walks the pairs injectively; self-references
//! point at an earlier row; all other keys pick a parent uniformly.

mod shape;
mod unique;

use super::GenerateError;
use super::check::{self, RowRule, TableChecks};
use super::keys::{self, Affine};
use super::make::Shape;
use super::stats::{FanOut, FillStats, RowCounts};
use super::values;
use crate::schema::{AutoFill, Dialect, Schema, Table};
use std::collections::{BTreeMap, BTreeSet};

/// Where a column's values come from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Source {
    /// `i + 1`: integer keys (rowid, AUTOINCREMENT, serial, identity).
    RowNumber,
    /// A pure function of (column, row index), distinct per row.
    Unique,
    /// One of `n` values, each a pure function of (column, k).
    Pool(u64),
    /// Drawn from the table's stream.
    Drawn,
    /// Part `part` of foreign key `fk`: the chosen parent's key.
    Fk { fk: usize, part: usize },
    /// 1-based position of the row among its parent's children.
    GroupPos,
}

/// One column to write.
#[derive(Debug, Clone)]
pub struct ColPlan {
    pub name: String,
    pub shape: Shape,
    /// Probability of NULL.
    pub null: f64,
    pub source: Source,
    /// Key of the column's value functions.
    pub key: u64,
    /// Some foreign key points at this column.
    pub referenced: bool,
    /// Declared NOT NULL (or key).
    pub not_null: bool,
}

/// How a foreign key picks its parent row.
#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    /// Rows grouped by parent, following the fan-out.
    Group(Vec<(u64, u64)>),
    /// Any parent, uniformly.
    Uniform,
    /// One child per parent: a permutation.
    Perm(Affine),
    /// First half of a unique pair: parent `perm(i mod n)`.
    PairA { perm: Affine, n: u64 },
    /// Second half: parent `(i div n_a + mix(i mod n_a)) mod n`.
    PairB { n_a: u64, n: u64 },
    /// A self-reference: an earlier row.
    Earlier,
}

/// One foreign key of a table to fill.
#[derive(Debug, Clone)]
pub struct FkPlan {
    /// `(a, b) → parent(x, y)`, for messages.
    pub label: String,
    /// Plan index of the parent table.
    pub parent: usize,
    /// Parent column (plan index) per part; `None` = the implicit rowid.
    pub parent_cols: Vec<Option<usize>>,
    /// Columns (plan index) per part.
    pub cols: Vec<usize>,
    pub choice: Choice,
    /// Probability the key is NULL.
    pub null: f64,
    pub key: u64,
    /// Rows of the parent.
    pub parents: u64,
}

/// A rule across columns, by plan index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    OneNull(usize, usize),
    SomeValue(Vec<usize>),
    Before { lo: usize, hi: usize, strict: bool },
    Differ(usize, usize),
}

/// One table to fill.
#[derive(Debug, Clone)]
pub struct TablePlan {
    pub name: String,
    pub qualified: String,
    pub rows: u64,
    pub cols: Vec<ColPlan>,
    pub fks: Vec<FkPlan>,
    /// CHECKs the engine evaluates itself.
    pub checks: Vec<check::Parsed>,
    /// CHECKs only the database can judge.
    pub unmodelled: Vec<String>,
    pub rules: Vec<Rule>,
    /// Stream key of the table.
    pub key: u64,
}

/// Every table to fill, in fill order.
#[derive(Debug, Clone)]
pub struct Plan {
    pub tables: Vec<TablePlan>,
    pub seed: u64,
}

impl Plan {
    /// Plan the fill of `schema` with `rows` rows per table.
    pub fn build(
        schema: &Schema,
        stats: &FillStats,
        rows: &RowCounts,
        seed: u64,
    ) -> Result<Plan, GenerateError> {
        let order = crate::schema::order::fill_order(schema);
        // A virtual table is filled through itself only when its module
        // takes any text (full-text tables); others are created empty.
        let count = |t: &Table| -> u64 {
            if t.virtual_module.is_some() && t.columns.is_empty() {
                0
            } else {
                rows.get(&t.name).copied().unwrap_or(0)
            }
        };
        let filled: Vec<&Table> = order
            .tables
            .iter()
            .filter_map(|n| schema.table(n))
            .filter(|t| count(t) > 0)
            .collect();
        let index: BTreeMap<&str, usize> = filled
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.as_str(), i))
            .collect();
        let referenced = referenced_columns(schema);
        let mut tables = Vec::new();
        for t in &filled {
            tables.push(plan_table(
                t,
                schema.dialect,
                stats,
                count(t),
                seed,
                &referenced,
            )?);
        }
        // Second pass: foreign keys need every plan's columns.
        for (ti, t) in filled.iter().enumerate() {
            let fks = unique::foreign_keys(t, ti, &tables, &index, stats, seed)?;
            for (k, f) in fks.iter().enumerate() {
                for (part, &c) in f.cols.iter().enumerate() {
                    // A column in two keys follows the first.
                    if !matches!(tables[ti].cols[c].source, Source::Fk { .. }) {
                        tables[ti].cols[c].source = Source::Fk { fk: k, part };
                    }
                }
            }
            tables[ti].fks = fks;
            unique::satisfy(t, ti, &mut tables, schema)?;
        }
        Ok(Plan { tables, seed })
    }

    /// The plan index of a table.
    pub fn position(&self, table: &str) -> Option<usize> {
        self.tables.iter().position(|t| t.name == table)
    }
}

/// (table, column) pairs some foreign key points at (lowercased).
fn referenced_columns(schema: &Schema) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for t in &schema.tables {
        for fk in &t.foreign_keys {
            for c in &fk.ref_columns {
                out.insert((fk.ref_table.clone(), c.to_ascii_lowercase()));
            }
        }
    }
    out
}

fn plan_table(
    t: &Table,
    dialect: Dialect,
    stats: &FillStats,
    rows: u64,
    seed: u64,
    referenced: &BTreeSet<(String, String)>,
) -> Result<TablePlan, GenerateError> {
    let checks = TableChecks::read(t, dialect);
    let pk: Vec<String> = t
        .primary_key
        .iter()
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let mut cols = Vec::new();
    for c in t.columns.iter().filter(|c| c.generated.is_none()) {
        let lc = c.name.to_ascii_lowercase();
        let hints = checks.hints(&c.name);
        let st = stats.column(&t.name, &c.name);
        let mut shape = shape::shape(&t.name, c, st, &hints);
        shape.rows = rows;
        let in_pk = pk.contains(&lc);
        let not_null = c.not_null || in_pk || hints.not_null;
        let is_ref = referenced.contains(&(t.name.clone(), lc.clone()));
        let source = match c.auto {
            Some(
                AutoFill::RowidAlias
                | AutoFill::Autoincrement
                | AutoFill::Serial
                | AutoFill::Identity
                | AutoFill::IdentityAlways,
            ) => Source::RowNumber,
            None if in_pk
                && pk.len() == 1
                && matches!(shape.class, super::types::Class::Int { .. }) =>
            {
                Source::RowNumber
            }
            None if in_pk && pk.len() == 1 => Source::Unique,
            None => match st.and_then(|s| s.distinct_ratio) {
                Some(r) if r < 0.5 && shape.cats.is_empty() => {
                    let non_null =
                        rows as f64 * (1.0 - st.and_then(|s| s.null_fraction).unwrap_or(0.0));
                    Source::Pool(((non_null * r).round() as u64).max(1))
                }
                _ => Source::Drawn,
            },
        };
        let null = if not_null {
            0.0
        } else {
            st.and_then(|s| s.null_fraction)
                .unwrap_or_else(|| default_null(&c.name, &shape))
        };
        cols.push(ColPlan {
            key: keys::key(seed, &format!("{}.{}", t.qualified_name(), c.name)),
            name: c.name.clone(),
            shape,
            null,
            source,
            referenced: is_ref,
            not_null,
        });
    }
    let find = |name: &str| {
        cols.iter()
            .position(|c: &ColPlan| c.name.eq_ignore_ascii_case(name))
    };
    let rules = checks
        .rules
        .iter()
        .filter_map(|r| {
            Some(match r {
                RowRule::OneNull(a, b) => Rule::OneNull(find(a)?, find(b)?),
                RowRule::SomeValue(v) => {
                    Rule::SomeValue(v.iter().map(|c| find(c)).collect::<Option<_>>()?)
                }
                RowRule::Before { lo, hi, strict } => Rule::Before {
                    lo: find(lo)?,
                    hi: find(hi)?,
                    strict: *strict,
                },
                RowRule::Differ(a, b) => Rule::Differ(find(a)?, find(b)?),
            })
        })
        .collect();
    let (modelled, unmodelled): (Vec<_>, Vec<_>) = checks
        .checks
        .into_iter()
        .partition(|c| check::is_modelled(&c.expr));
    Ok(TablePlan {
        name: t.name.clone(),
        qualified: t.qualified_name(),
        rows,
        cols,
        fks: Vec::new(),
        checks: modelled,
        unmodelled: unmodelled.into_iter().map(|c| c.label).collect(),
        rules,
        key: keys::key(seed, &t.qualified_name()),
    })
}

/// NULLs in a nullable column the statistics say nothing about: few, and
/// most for columns that mark a rare event (`deleted_at`).
fn default_null(name: &str, shape: &Shape) -> f64 {
    let words = values::words(name);
    let rare = [
        "deleted",
        "archived",
        "cancelled",
        "canceled",
        "ended",
        "closed",
        "revoked",
        "expired",
    ];
    if words.iter().any(|w| rare.contains(&w.as_str())) {
        0.9
    } else if values::is_secret(shape.sem) {
        0.5
    } else {
        0.05
    }
}

/// The children-per-parent histogram as cumulative integer thresholds.
pub fn fanout_table(f: Option<&FanOut>) -> Vec<(u64, u64)> {
    let default = [
        (0u64, 5.0),
        (1, 20.0),
        (2, 25.0),
        (3, 20.0),
        (4, 15.0),
        (6, 10.0),
        (10, 5.0),
    ];
    let buckets: Vec<(u64, f64)> = match f {
        Some(f) if f.buckets.iter().any(|(_, w)| *w > 0.0) => f
            .buckets
            .iter()
            .copied()
            .filter(|(_, w)| w.is_finite() && *w > 0.0)
            .collect(),
        _ => default.to_vec(),
    };
    let total: f64 = buckets.iter().map(|(_, w)| w).sum();
    let mut acc = 0u64;
    buckets
        .iter()
        .map(|(c, w)| {
            acc = acc.saturating_add(((w / total) * (1u64 << 32) as f64) as u64);
            (*c, acc)
        })
        .collect()
}
