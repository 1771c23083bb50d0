//! The generic engine into PostgreSQL: any schema (read from PostgreSQL or
//! from SQLite) rendered as PostgreSQL DDL, its tables filled in
//! foreign-key order with `COPY … FROM STDIN`, then the rest of the schema.
//!
//! Order, and why: namespaces, extensions, types, sequences and the tables
//! with their own PRIMARY KEY, UNIQUE and CHECK constraints first, so every
//! generated row is judged by them as it arrives; then the rows, one COPY
//! per table in fill order, in one transaction; then the sequences are set
//! past the generated keys; then foreign keys (validated over all rows when
//! added, so cycles and self-references need no NULL-then-UPDATE pass),
//! functions, views, indexes (a UNIQUE index is checked when it is built)
//! and triggers (created after the fill, so they never fire on generated
//! rows).
//!
//! What the planner sees ([`planning_schema`]): a PostgreSQL schema in its
//! SQLite form — enums as `IN (…)` CHECKs, domains as their base type plus
//! their checks, a table outside `public` as the one name `ns.table` —
//! with the PostgreSQL types put back (`uuid`, `inet`, `text[]`, …), so the
//! values have the shapes PostgreSQL parses, and the regular-expression
//! parts of CHECKs (`col ~ '^…$'`) restated so values are drawn from them.
//! A CHECK the planner does not model otherwise: PostgreSQL judges it, and
//! a row it rejects fails the generation with the constraint's name.
//!
//! Deterministic: the rows are the planner's, a pure function of (schema,
//! statistics, counts, seed, rollproof version), written in one fixed
//! order; the same inputs give the same logical hash.

use super::GenerateError;
use super::batch::{Batch, Val};
use super::engine::{FillSummary, run_with};
use super::plan::{Plan, TablePlan};
use super::sink_sqlite::Written;
use super::stats::{FillStats, RowCounts};
use super::types::Class;
use crate::engine::postgres::load::escape_into;
use crate::schema::render::postgres::qualified;
use crate::schema::render::{self, Rendered, Skipped};
use crate::schema::{Dialect, Schema, TypeKind};
use postgres::{Client, Transaction};
use std::borrow::Cow;
use std::io::Write;

/// Statement kinds created after the rows.
const AFTER_FILL: &[&str] = &[
    "foreign key",
    "check",
    "function",
    "view",
    "index",
    "trigger",
];

/// What a generation into PostgreSQL wrote.
#[derive(Debug, Clone)]
pub struct PgFill {
    /// Rows per table, the planner's counts.
    pub summary: FillSummary,
    /// Objects that could not be created (a SQLite trigger body, a view
    /// that does not parse in PostgreSQL), with the reason.
    pub skipped: Vec<Skipped>,
}

/// The schema the planner fills (see the module header): the schema
/// itself when it is SQLite's; a PostgreSQL schema's SQLite form with its
/// PostgreSQL types put back.
pub fn planning_schema(schema: &Schema) -> Result<Cow<'_, Schema>, GenerateError> {
    if schema.dialect == Dialect::Sqlite {
        return Ok(Cow::Borrowed(schema));
    }
    let (lite, _) = super::sqlite_form(schema)?;
    let mut lite = lite.into_owned();
    for t in &mut lite.tables {
        let Some(pg) = schema.table(&t.name) else {
            continue;
        };
        for c in &mut t.columns {
            if let Some(p) = pg.column(&c.name) {
                c.sql_type = planning_type(schema, &p.sql_type, 0);
            }
        }
        t.checks.extend(pattern_checks(pg));
    }
    Ok(Cow::Owned(lite))
}

/// The regular-expression parts (`col ~ 'pattern'`) of `pg`'s CHECKs,
/// which have no SQLite form, restated for the planner so that values
/// follow them (generate::check::regex); PostgreSQL still judges the whole
/// CHECK as declared.
fn pattern_checks(pg: &crate::schema::Table) -> Vec<crate::schema::Check> {
    use super::check::parse::{Expr, parse};
    let mut out = Vec::new();
    for c in &pg.checks {
        let e = parse(&c.expr, Dialect::Postgres);
        for part in super::check::conjuncts(&e) {
            if let Expr::Matches(col, pattern, icase) = part
                && let Expr::Col(col) = col.as_ref()
            {
                out.push(crate::schema::Check {
                    name: c.name.clone(),
                    column: Some(col.clone()),
                    expr: format!(
                        "\"{}\" ~{} '{}'",
                        col.replace('"', "\"\""),
                        if *icase { "*" } else { "" },
                        pattern.replace('\'', "''")
                    ),
                });
            }
        }
    }
    out
}

/// The type whose values the planner makes for a PostgreSQL column type:
/// an enum or composite's text, a domain's base type, anything else itself.
fn planning_type(schema: &Schema, pg: &str, depth: u32) -> String {
    let bare = pg.trim_end_matches("[]");
    let user = schema.types.iter().find(|t| {
        let q = crate::schema::key_of(t.namespace.as_deref(), &t.name);
        q == bare || q.replace('"', "") == bare.replace('"', "")
    });
    match user {
        Some(t) if pg.ends_with("[]") && t.kind != TypeKind::Domain => "text[]".into(),
        Some(t) if t.kind == TypeKind::Domain && depth < 8 => {
            planning_type(schema, t.base.as_deref().unwrap_or("text"), depth + 1)
        }
        Some(_) => "text".into(),
        None => pg.to_string(),
    }
}

fn unusable(what: &str) -> impl Fn(String) -> GenerateError + '_ {
    move |e| GenerateError::Unusable(format!("{what}: {e}"))
}

fn pg_message(e: &postgres::Error) -> String {
    crate::engine::postgres::message(e)
}

/// Create `schema` in the empty database behind `client` and fill it with
/// `rows` rows per table following `stats`, deterministically from `seed`.
pub fn generate(
    client: &mut Client,
    schema: &Schema,
    stats: &FillStats,
    rows: &RowCounts,
    seed: u64,
) -> Result<PgFill, GenerateError> {
    let planning = planning_schema(schema)?;
    let plan = Plan::build(&planning, stats, rows, seed)?;
    let rendered = render::render(schema, Dialect::Postgres);
    let (before, after): (Vec<_>, Vec<_>) = rendered
        .statements
        .into_iter()
        .partition(|s| !AFTER_FILL.contains(&s.kind));
    let part = |statements, skipped| Rendered {
        dialect: Dialect::Postgres,
        statements,
        skipped,
    };
    let load = |client: &mut Client, r: &Rendered| {
        render::postgres::load(client, r).map_err(|e| GenerateError::Unusable(e.to_string()))
    };
    let mut skipped = load(client, &part(before, rendered.skipped))?;
    let targets = targets(client, &plan, schema)?;
    let mut tx = client
        .transaction()
        .map_err(|e| unusable("BEGIN")(pg_message(&e)))?;
    let summary = run_with(&plan, |_, rx, bar| write(&mut tx, &plan, &targets, rx, bar))?;
    set_sequences(&mut tx, None)?;
    tx.commit()
        .map_err(|e| unusable("COMMIT")(pg_message(&e)))?;
    skipped.extend(load(client, &part(after, Vec::new()))?);
    Ok(PgFill { summary, skipped })
}

/// Fill tables that already exist in the database behind `client` (the
/// data first of `rollproof migrations`): `schema` holds the tables to
/// fill, with only the keys among them, and `rows` their counts. No DDL:
/// one transaction in which triggers and foreign-key enforcement are off
/// (`SET LOCAL session_replication_role = replica`, as data-only restores
/// do; it needs a superuser), so that `then` can point keys at rows
/// outside the fill before the commit; then the sequences the filled
/// tables own continue after the generated keys (no other sequence moves).
pub fn fill_existing(
    client: &mut Client,
    schema: &Schema,
    stats: &FillStats,
    rows: &RowCounts,
    seed: u64,
    then: impl FnOnce(&mut Transaction<'_>) -> Result<(), GenerateError>,
) -> Result<FillSummary, GenerateError> {
    let planning = planning_schema(schema)?;
    let plan = Plan::build(&planning, stats, rows, seed)?;
    let targets = targets(client, &plan, schema)?;
    let mut tx = client
        .transaction()
        .map_err(|e| unusable("BEGIN")(pg_message(&e)))?;
    tx.batch_execute("SET LOCAL session_replication_role = replica")
        .map_err(|e| {
            unusable("switching triggers and foreign-key checks off for the fill (session_replication_role needs a superuser)")(pg_message(&e))
        })?;
    let summary = run_with(&plan, |_, rx, bar| write(&mut tx, &plan, &targets, rx, bar))?;
    then(&mut tx)?;
    let filled: Vec<String> = schema
        .tables
        .iter()
        .map(|t| qualified(t.namespace.as_deref(), &t.name))
        .collect();
    set_sequences(&mut tx, Some(filled))?;
    tx.commit()
        .map_err(|e| unusable("COMMIT")(pg_message(&e)))?;
    Ok(summary)
}

/// Where one plan table goes: its COPY statement and, per planned column, the
/// type category (`pg_type.typcategory`, a domain's base) of the column
/// it is written to.
struct TargetTable {
    copy_sql: String,
    categories: Vec<u8>,
}

fn targets(
    client: &mut Client,
    plan: &Plan,
    schema: &Schema,
) -> Result<Vec<TargetTable>, GenerateError> {
    let mut out = Vec::new();
    for tp in &plan.tables {
        let t = schema.table(&tp.name).ok_or_else(|| {
            GenerateError::Unusable(format!("table {} is not in the schema", tp.name))
        })?;
        let q = qualified(t.namespace.as_deref(), &t.name);
        let rows = client
            .query(
                "SELECT a.attname::text, coalesce(b.typcategory, t.typcategory)::text
                 FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                 LEFT JOIN pg_type b ON t.typtype = 'd' AND b.oid = t.typbasetype
                 WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped",
                &[&q],
            )
            .map_err(|e| unusable(&format!("reading the columns of {q}"))(pg_message(&e)))?;
        let category = |name: &str| -> u8 {
            rows.iter()
                .find(|r| r.get::<_, String>(0) == name)
                .and_then(|r| r.get::<_, String>(1).bytes().next())
                .unwrap_or(b'S')
        };
        let cols: Vec<String> = tp.cols.iter().map(|c| render::quote(&c.name)).collect();
        out.push(TargetTable {
            copy_sql: format!("COPY {q} ({}) FROM STDIN", cols.join(", ")),
            categories: tp.cols.iter().map(|c| category(&c.name)).collect(),
        });
    }
    Ok(out)
}

/// Stream every batch into its table with COPY (one COPY per table: the
/// batches arrive in plan order, table after table).
fn write(
    tx: &mut Transaction<'_>,
    plan: &Plan,
    targets: &[TargetTable],
    rx: std::sync::mpsc::Receiver<Batch>,
    bar: &indicatif::ProgressBar,
) -> Result<Written, GenerateError> {
    let mut out = Written {
        rows: vec![0; plan.tables.len()],
        redrawn: 0,
    };
    let mut line: Vec<u8> = Vec::with_capacity(1 << 12);
    let mut batches = rx.into_iter().peekable();
    while let Some(first) = batches.next() {
        let table = first.table;
        let tp = &plan.tables[table];
        let target = &targets[table];
        let copy = tx
            .copy_in(&target.copy_sql)
            .map_err(|e| rejected(tp, &pg_message(&e)))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, copy);
        let mut next = Some(first);
        while let Some(b) = next {
            let width = tp.cols.len().max(1);
            for row in b.vals.chunks(width) {
                line.clear();
                for (k, v) in row.iter().enumerate() {
                    if k > 0 {
                        line.push(b'\t');
                    }
                    field(
                        &mut line,
                        &b,
                        *v,
                        tp.cols[k].shape.class,
                        target.categories[k],
                    );
                }
                line.push(b'\n');
                if w.write_all(&line).is_err() {
                    // The server refused mid-stream: its own words come
                    // with the end of the COPY.
                    finish(tp, w)?;
                    return Err(rejected(tp, "the server closed the COPY stream"));
                }
            }
            let n = (b.vals.len() / width) as u64;
            out.rows[table] += n;
            bar.inc(n);
            next = batches.next_if(|b| b.table == table);
        }
        finish(tp, w)?;
    }
    Ok(out)
}

fn finish(
    tp: &TablePlan,
    w: std::io::BufWriter<postgres::CopyInWriter<'_>>,
) -> Result<(), GenerateError> {
    let w = w
        .into_inner()
        .map_err(|e| rejected(tp, &e.error().to_string()))?;
    w.finish().map_err(|e| rejected(tp, &pg_message(&e)))?;
    Ok(())
}

/// PostgreSQL refused the generated rows of `tp`: the server's message
/// names the constraint.
fn rejected(tp: &TablePlan, message: &str) -> GenerateError {
    GenerateError::Unsatisfiable {
        table: tp.name.clone(),
        constraint: message.to_string(),
        problem: if tp.unmodelled.is_empty() {
            "PostgreSQL rejected a generated row".to_string()
        } else {
            format!(
                "PostgreSQL rejected a generated row; checks the generator does not model: {}",
                tp.unmodelled.join("; ")
            )
        },
    }
}

/// One value in COPY text form, for a column of type category `cat`.
fn field(out: &mut Vec<u8>, b: &Batch, v: Val, class: Class, cat: u8) {
    match v {
        Val::Null => out.extend_from_slice(b"\\N"),
        Val::Bool(x) => out.extend_from_slice(match (cat, x) {
            (b'B', true) => b"t",
            (b'B', false) => b"f",
            (b'N', true) => b"1",
            (b'N', false) => b"0",
            (_, true) => b"true",
            (_, false) => b"false",
        }),
        Val::Int(i) if cat == b'B' => out.extend_from_slice(if i != 0 { b"t" } else { b"f" }),
        Val::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Val::Real(f) => out.extend_from_slice(format!("{f:?}").as_bytes()),
        Val::Dec(u) => match class {
            Class::Decimal { scale, .. } if scale > 0 => {
                out.extend_from_slice(decimal(u, scale).as_bytes())
            }
            _ => out.extend_from_slice(u.to_string().as_bytes()),
        },
        Val::Text(s) => escape_into(out, b.str(s).as_bytes()),
        Val::Blob(s) => {
            out.extend_from_slice(b"\\\\x");
            out.extend_from_slice(hex::encode(b.blob(s)).as_bytes());
        }
    }
}

/// `u / 10^scale` written exactly (`1999`, 2 → `19.99`).
fn decimal(u: i64, scale: u32) -> String {
    let digits = u.unsigned_abs().to_string();
    let scale = scale as usize;
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{}{int}.{frac}", if u < 0 { "-" } else { "" })
}

/// Every sequence a column owns (serial, identity) continues after the
/// largest generated value, so the next INSERT without a key works; with
/// `only`, just the sequences owned by those tables (qualified names).
fn set_sequences(tx: &mut Transaction<'_>, only: Option<Vec<String>>) -> Result<(), GenerateError> {
    let owned = tx
        .query(
            "SELECT s.oid::regclass::text, c.oid::regclass::text, a.attname::text
             FROM pg_depend d
             JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
             JOIN pg_class c ON c.oid = d.refobjid
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.refobjsubid
             WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
               AND d.deptype IN ('a', 'i')
               AND ($1::text[] IS NULL OR c.oid IN (SELECT x::regclass::oid FROM unnest($1::text[]) x))
             ORDER BY 1, 2, 3",
            &[&only],
        )
        .map_err(|e| unusable("reading the sequences")(pg_message(&e)))?;
    for r in owned {
        let (seq, table, col): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        let col = render::quote(&col);
        tx.batch_execute(&format!(
            "SELECT setval('{}'::regclass, max({col})::bigint) FROM {table} HAVING max({col}) IS NOT NULL",
            seq.replace('\'', "''")
        ))
        .map_err(|e| unusable(&format!("setting sequence {seq}"))(pg_message(&e)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_written_exactly() {
        assert_eq!(decimal(1999, 2), "19.99");
        assert_eq!(decimal(5, 2), "0.05");
        assert_eq!(decimal(-5, 3), "-0.005");
        assert_eq!(decimal(0, 1), "0.0");
    }

    #[test]
    fn values_follow_the_target_column_type() {
        let mut b = Batch::new(0, 0, 4, 16);
        let t = b.push_text("a\tb\\c\n");
        let text = Class::Text { max: None };
        let mut out = Vec::new();
        field(&mut out, &b, Val::Bool(true), Class::Bool, b'B');
        field(&mut out, &b, Val::Bool(true), Class::Bool, b'N');
        field(&mut out, &b, Val::Int(0), Class::Bool, b'B');
        field(&mut out, &b, t, text, b'S');
        field(&mut out, &b, Val::Null, text, b'S');
        assert_eq!(out, b"t1fa\\tb\\\\c\\n\\N");
    }

    #[test]
    fn planning_types_resolve_enums_and_domains() {
        let mut s = Schema::new(Dialect::Postgres);
        let ty = |name: &str, kind, base: Option<&str>| crate::schema::TypeDef {
            namespace: None,
            name: name.into(),
            kind,
            labels: vec!["a".into()],
            base: base.map(str::to_string),
            not_null: false,
            default: None,
            checks: Vec::new(),
            sql: String::new(),
        };
        s.types.push(ty("mood", TypeKind::Enum, None));
        s.types
            .push(ty("email", TypeKind::Domain, Some("character varying(80)")));
        s.types.push(ty("contact", TypeKind::Domain, Some("email")));
        assert_eq!(planning_type(&s, "mood", 0), "text");
        assert_eq!(planning_type(&s, "mood[]", 0), "text[]");
        assert_eq!(planning_type(&s, "contact", 0), "character varying(80)");
        assert_eq!(planning_type(&s, "uuid", 0), "uuid");
    }
}
