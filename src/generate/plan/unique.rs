//! Foreign keys and uniqueness: how each key picks its parent, and which
//! column of each PRIMARY KEY / UNIQUE constraint / unique index carries
//! the row index so that the constraint holds by construction.
//!
//! Bounded memory by design: no set of used values is ever kept. A unique
//! constraint is satisfied when one of its columns is injective in the row
//! index (a counted key, a value that embeds the index, a permutation of
//! the parents, an injective walk over parent pairs); partial unique
//! indexes are treated as full ones (stronger, so still satisfied).

use super::{Choice, ColPlan, FkPlan, Source, TablePlan, fanout_table};
use crate::generate::GenerateError;
use crate::generate::keys::{self, Affine};
use crate::generate::stats::FillStats;
use crate::generate::types::Class;
use crate::generate::values::Semantic;
use crate::schema::tokens::{Kind, tokenize};
use crate::schema::{Schema, Table};
use std::collections::BTreeMap;

fn unsatisfiable(table: &str, constraint: String, problem: String) -> GenerateError {
    GenerateError::Unsatisfiable {
        table: table.to_string(),
        constraint,
        problem,
    }
}

/// Plan the foreign keys of table `t` (plan index `ti`).
pub fn foreign_keys(
    t: &Table,
    ti: usize,
    tables: &[TablePlan],
    index: &BTreeMap<&str, usize>,
    stats: &FillStats,
    seed: u64,
) -> Result<Vec<FkPlan>, GenerateError> {
    let me = &tables[ti];
    let mut out = Vec::new();
    for fk in &t.foreign_keys {
        let label = format!(
            "FOREIGN KEY ({}) REFERENCES {} ({})",
            fk.columns.join(", "),
            fk.ref_table,
            fk.ref_columns.join(", ")
        );
        let cols: Option<Vec<usize>> = fk
            .columns
            .iter()
            .map(|c| me.cols.iter().position(|p| p.name.eq_ignore_ascii_case(c)))
            .collect();
        let Some(cols) = cols else { continue }; // a generated column: the database computes it
        let nullable = cols.iter().all(|&c| !me.cols[c].not_null);
        let Some(&parent) = index.get(fk.ref_table.as_str()) else {
            if nullable {
                out.push(null_key(label, cols, ti));
                continue;
            }
            return Err(unsatisfiable(
                &t.name,
                label,
                format!(
                    "{} rows need a parent row each, but table {} gets no rows: give it rows in the profile",
                    me.rows, fk.ref_table
                ),
            ));
        };
        let p = &tables[parent];
        let parent_cols = fk
            .ref_columns
            .iter()
            .map(|c| p.cols.iter().position(|pc| pc.name.eq_ignore_ascii_case(c)))
            .collect();
        let self_ref = fk.is_self_reference(t);
        let col_stats = stats.column(&t.name, &fk.columns[0]);
        let null = if nullable {
            col_stats
                .and_then(|s| s.null_fraction)
                .unwrap_or(if self_ref { 0.1 } else { 0.0 })
        } else {
            0.0
        };
        let fanout = stats
            .table(&t.name)
            .and_then(|s| s.fanout.get(&fk.columns.join(",")));
        out.push(FkPlan {
            label,
            parent,
            parent_cols,
            cols,
            choice: if self_ref {
                Choice::Earlier
            } else {
                Choice::Uniform
            },
            null,
            key: keys::key(
                seed,
                &format!("{}.fk.{}", me.qualified, fk.columns.join(",")),
            ),
            parents: p.rows,
        });
        if fanout.is_some() {
            // Remember the fan-out for the grouping decision.
            out.last_mut().expect("pushed").choice = Choice::Group(fanout_table(fanout));
        }
    }
    Ok(out)
}

/// A key whose parent table gets no rows: always NULL.
fn null_key(label: String, cols: Vec<usize>, ti: usize) -> FkPlan {
    FkPlan {
        label,
        parent: ti,
        parent_cols: Vec::new(),
        cols,
        choice: Choice::Uniform,
        null: 1.0,
        key: 0,
        parents: 0,
    }
}

/// The constraint-column sets that must be unique, with their labels.
fn unique_sets(t: &Table, schema: &Schema) -> Vec<(String, Vec<String>)> {
    let mut sets = Vec::new();
    if !t.primary_key.is_empty() {
        sets.push((
            format!("PRIMARY KEY ({})", t.primary_key.join(", ")),
            t.primary_key.clone(),
        ));
    }
    for u in &t.uniques {
        let label = match &u.name {
            Some(n) => format!("constraint {n} UNIQUE ({})", u.columns.join(", ")),
            None => format!("UNIQUE ({})", u.columns.join(", ")),
        };
        sets.push((label, u.columns.clone()));
    }
    for ix in schema.indexes_on(&t.name).filter(|i| i.unique) {
        let mut cols: Vec<String> = ix
            .columns
            .iter()
            .filter_map(|k| k.column().map(str::to_string))
            .collect();
        if ix.columns.iter().any(|k| k.column().is_none())
            && let Some(sql) = &ix.sql
        {
            cols.extend(expression_columns(sql, t, schema.dialect));
        }
        sets.push((format!("unique index {}", ix.name), cols));
    }
    sets
}

/// Columns of `t` named inside an index statement's expressions.
fn expression_columns(sql: &str, t: &Table, dialect: crate::schema::Dialect) -> Vec<String> {
    let Ok(toks) = tokenize(sql, dialect) else {
        return Vec::new();
    };
    let open = toks
        .iter()
        .position(|k| k.is_punct("("))
        .unwrap_or(toks.len());
    toks[open..]
        .iter()
        .filter(|k| matches!(k.kind, Kind::Word | Kind::QuotedIdent))
        .filter_map(|k| t.column(&k.ident()).map(|c| c.name.clone()))
        .collect()
}

/// Make every unique constraint of table `ti` hold, pick its grouping key
/// and force referenced columns to be recomputable.
pub fn satisfy(
    t: &Table,
    ti: usize,
    tables: &mut [TablePlan],
    schema: &Schema,
) -> Result<(), GenerateError> {
    let mut made_unique: Vec<(usize, Vec<usize>)> = Vec::new();
    for (label, names) in unique_sets(t, schema) {
        let tp = &tables[ti];
        let cols: Vec<usize> = names
            .iter()
            .filter_map(|n| tp.cols.iter().position(|c| c.name.eq_ignore_ascii_case(n)))
            .collect();
        if cols.is_empty() {
            continue;
        }
        if let Some(made) = one_unique(tables, ti, &label, &cols)? {
            made_unique.push(made);
        }
    }
    let tp = &mut tables[ti];
    for c in 0..tp.cols.len() {
        if !tp.cols[c].referenced {
            continue;
        }
        tp.cols[c].null = 0.0;
        match tp.cols[c].source {
            Source::Drawn | Source::Pool(_) | Source::GroupPos => {
                tp.cols[c].source = Source::Unique
            }
            Source::Fk { fk, .. } if matches!(tp.fks[fk].choice, Choice::Group(_)) => {
                tp.fks[fk].choice = Choice::Uniform;
            }
            _ => {}
        }
    }
    choose_group(tp, &made_unique);
    finish_unique_columns(tp)
}

/// Satisfy one unique set; returns (column made unique, fks in the set)
/// when that is how it was satisfied.
fn one_unique(
    tables: &mut [TablePlan],
    ti: usize,
    label: &str,
    cols: &[usize],
) -> Result<Option<(usize, Vec<usize>)>, GenerateError> {
    let tp = &tables[ti];
    let injective = cols.iter().any(|&c| match tp.cols[c].source {
        Source::RowNumber | Source::Unique => true,
        Source::Fk { fk, .. } => {
            matches!(tp.fks[fk].choice, Choice::Perm(_))
                && tp.fks[fk].cols.iter().all(|x| cols.contains(x))
        }
        _ => false,
    });
    if injective {
        return Ok(None);
    }
    let inside: Vec<usize> = (0..tp.fks.len())
        .filter(|&k| tp.fks[k].parents > 0 && tp.fks[k].cols.iter().all(|x| cols.contains(x)))
        .collect();
    let others: Vec<usize> = cols
        .iter()
        .copied()
        .filter(|c| !inside.iter().any(|&k| tp.fks[k].cols.contains(c)))
        .collect();
    let rows = tp.rows;
    if others.is_empty() && inside.len() == 1 {
        let k = inside[0];
        let n = tp.fks[k].parents;
        if rows > n {
            return Err(unsatisfiable(
                &tp.name,
                label.to_string(),
                format!(
                    "each row needs its own parent through {}, but the table gets {rows} rows and the parent {n}",
                    tp.fks[k].label
                ),
            ));
        }
        let key = tp.fks[k].key;
        let tp = &mut tables[ti];
        tp.fks[k].choice = Choice::Perm(Affine::new(key, n));
        tp.fks[k].null = 0.0;
        return Ok(None);
    }
    if others.is_empty() && inside.len() >= 2 {
        let (a, b) = (inside[0], inside[1]);
        let (na, nb) = (tp.fks[a].parents, tp.fks[b].parents);
        if (rows as u128) > na as u128 * nb as u128 {
            return Err(unsatisfiable(
                &tp.name,
                label.to_string(),
                format!("{rows} rows need distinct parent pairs, but only {na} × {nb} pairs exist"),
            ));
        }
        let key = tp.fks[a].key;
        let tp = &mut tables[ti];
        tp.fks[a].choice = Choice::PairA {
            perm: Affine::new(key, na),
            n: na,
        };
        tp.fks[b].choice = Choice::PairB { n_a: na, n: nb };
        tp.fks[a].null = 0.0;
        tp.fks[b].null = 0.0;
        return Ok(None);
    }
    let pick = others
        .iter()
        .copied()
        .find(|&c| tp.cols[c].shape.cats.is_empty() && tp.cols[c].shape.class != Class::Bool)
        .or_else(|| {
            others
                .iter()
                .copied()
                .find(|&c| (tp.cols[c].shape.cats.len() as u64) >= rows)
        });
    let Some(c) = pick else {
        return Err(unsatisfiable(
            &tp.name,
            label.to_string(),
            format!(
                "no column of it can hold {rows} distinct values (only booleans and fixed lists)"
            ),
        ));
    };
    tables[ti].cols[c].source = Source::Unique;
    Ok(Some((c, inside)))
}

/// Group the rows by one foreign key: the one with a profiled fan-out,
/// else the first NOT NULL key to another table.
fn choose_group(tp: &mut TablePlan, made_unique: &[(usize, Vec<usize>)]) {
    let eligible = |f: &FkPlan, cols: &[ColPlan]| {
        f.parents > 0 && f.null < 1.0 && !f.cols.iter().any(|&c| cols[c].referenced)
    };
    let profiled = (0..tp.fks.len())
        .find(|&k| matches!(tp.fks[k].choice, Choice::Group(_)) && eligible(&tp.fks[k], &tp.cols));
    // A profiled fan-out that lost to a stronger rule falls back to uniform.
    for k in 0..tp.fks.len() {
        if Some(k) != profiled && matches!(tp.fks[k].choice, Choice::Group(_)) {
            tp.fks[k].choice = Choice::Uniform;
        }
    }
    let g = profiled.or_else(|| {
        (0..tp.fks.len()).find(|&k| {
            tp.fks[k].choice == Choice::Uniform
                && tp.fks[k].null == 0.0
                && eligible(&tp.fks[k], &tp.cols)
        })
    });
    let Some(g) = g else { return };
    if tp.fks[g].choice == Choice::Uniform {
        tp.fks[g].choice = Choice::Group(fanout_table(None));
    }
    // (parent, position) is unique by construction: an integer made unique
    // only to pair with the grouping key becomes the position (line numbers).
    for (c, fks) in made_unique {
        let col = &tp.cols[*c];
        if fks.contains(&g)
            && !col.referenced
            && matches!(col.shape.class, Class::Int { .. })
            && col.shape.cats.is_empty()
        {
            tp.cols[*c].source = Source::GroupPos;
        }
    }
}

/// Adjust unique columns so their makers can embed the row index.
fn finish_unique_columns(tp: &mut TablePlan) -> Result<(), GenerateError> {
    let rows = tp.rows;
    for c in &mut tp.cols {
        if c.source != Source::Unique {
            continue;
        }
        let s = &mut c.shape;
        match s.sem {
            Semantic::Password => s.password = crate::generate::make::PasswordForm::Placeholder,
            Semantic::Currency | Semantic::Locale | Semantic::MimeType | Semantic::UserAgent => {
                s.sem = Semantic::Plain;
            }
            _ => {}
        }
        if !s.cats.is_empty() && (s.cats.len() as u64) < rows {
            return Err(unsatisfiable(
                &tp.name,
                format!("UNIQUE ({})", c.name),
                format!(
                    "{rows} rows need distinct values, but the column allows only {} values",
                    s.cats.len()
                ),
            ));
        }
        if let Some(max) = s.max_len
            && s.class.is_textual()
            && rows > 1
            && (rows - 1).to_string().len() as u64 > max
            && 36f64.powi(max as i32) < rows as f64
        {
            return Err(unsatisfiable(
                &tp.name,
                format!("UNIQUE ({})", c.name),
                format!("{rows} distinct values do not fit in {max} characters"),
            ));
        }
        let numeric = matches!(s.class, Class::Int { .. } | Class::Decimal { .. });
        if numeric && let Some((lo, hi)) = s.range {
            let unit = match s.class {
                Class::Decimal { scale, .. } => 10f64.powi(scale as i32),
                _ => 1.0,
            };
            let size = ((hi - lo) * unit).floor() as u64 + 1;
            if size >= rows {
                s.perm = Some(Affine::new(c.key, size));
            } else if s.bounded {
                return Err(unsatisfiable(
                    &tp.name,
                    format!("UNIQUE ({})", c.name),
                    format!("{rows} distinct values do not fit in its CHECK range [{lo}, {hi}]"),
                ));
            } else {
                s.range = None;
            }
        }
    }
    Ok(())
}
