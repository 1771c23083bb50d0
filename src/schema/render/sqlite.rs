//! Render a schema as SQLite DDL, and load a rendering into a SQLite
//! connection. A SQLite schema is written back verbatim. A PostgreSQL one
//! is rebuilt: one table per PostgreSQL table (a table outside `public` is
//! named `namespace.table`, one quoted identifier), nearest types, enums as
//! CHECK lists, domains as their base type plus their checks, serial and
//! identity keys as `INTEGER PRIMARY KEY AUTOINCREMENT`. Every expression
//! that crosses (default, check, generated column, index predicate, view)
//! is checked against an in-memory SQLite before it is kept; one that does
//! not parse there is reported as skipped with SQLite's own message.

use super::types::{pg_expr_to_sqlite, pg_to_sqlite, replace_value};
use super::{Need, Rendered, Skipped, Statement, quote, quote_list, views_in_dependency_order};
use crate::schema::order::fill_order;
use crate::schema::{AutoFill, Dialect, ForeignKey, Index, IndexKey, Schema, Table};
use rusqlite::Connection;

/// Why a rendering could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("creating {kind} {name} on SQLite failed: {message}")]
pub struct LoadError {
    /// Object kind.
    pub kind: String,
    /// Object name.
    pub name: String,
    /// SQLite's message.
    pub message: String,
}

/// Render `schema` for SQLite.
pub fn render(schema: &Schema) -> Rendered {
    match schema.dialect {
        Dialect::Sqlite => verbatim(schema),
        Dialect::Postgres => from_postgres(schema),
    }
}

fn statement(kind: &'static str, name: &str, sql: &str, need: Need) -> Statement {
    let sql = sql.trim_end();
    let sql = if sql.ends_with(';') {
        sql.to_string()
    } else {
        format!("{sql};")
    };
    Statement {
        kind,
        name: name.to_string(),
        sql,
        need,
        fallback: None,
    }
}

/// A SQLite schema re-created from its own statements.
fn verbatim(schema: &Schema) -> Rendered {
    let mut statements = Vec::new();
    let mut skipped = Vec::new();
    for name in fill_order(schema).tables {
        let Some(t) = schema.table(&name) else {
            continue;
        };
        match &t.sql {
            Some(sql) => statements.push(statement("table", &t.name, sql, Need::Required)),
            None => skipped.push(Skipped {
                kind: "table".into(),
                name: t.name.clone(),
                reason: "no CREATE TABLE statement recorded".into(),
            }),
        }
    }
    for i in &schema.indexes {
        if let Some(sql) = &i.sql {
            statements.push(statement("index", &i.name, sql, Need::Required));
        }
    }
    for v in views_in_dependency_order(&schema.views, Dialect::Sqlite) {
        statements.push(statement("view", &v.name, &v.sql, Need::Required));
    }
    for t in &schema.triggers {
        statements.push(statement("trigger", &t.name, &t.sql, Need::Required));
    }
    Rendered {
        dialect: Dialect::Sqlite,
        statements,
        skipped,
    }
}

/// Checks expressions against an in-memory SQLite.
struct Probe {
    conn: Option<Connection>,
}

impl Probe {
    fn new() -> Probe {
        Probe {
            conn: Connection::open_in_memory().ok(),
        }
    }

    /// `Ok` when `expr` prepares as a SQLite expression over `columns`.
    fn expr(&self, columns: &[String], expr: &str) -> Result<(), String> {
        let Some(conn) = &self.conn else {
            return Ok(());
        };
        let cols: Vec<String> = columns
            .iter()
            .map(|c| format!("NULL AS {}", quote(c)))
            .collect();
        let from = if cols.is_empty() {
            String::new()
        } else {
            format!(" FROM (SELECT {})", cols.join(", "))
        };
        conn.prepare(&format!("SELECT ({expr}){from}"))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// The SQLite name of a PostgreSQL table: bare in `public`, else
/// `namespace.table` as one identifier.
fn flat(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) if ns != "public" => format!("{ns}.{name}"),
        _ => name.to_string(),
    }
}

fn from_postgres(schema: &Schema) -> Rendered {
    let probe = Probe::new();
    let mut statements = Vec::new();
    let mut skipped = Vec::new();
    for name in fill_order(schema).tables {
        if let Some(t) = schema.table(&name) {
            statements.push(table_from_pg(schema, t, &probe, &mut skipped));
        }
    }
    for i in &schema.indexes {
        match index_from_pg(schema, i, &probe) {
            Ok(sql) => statements.push(statement(
                "index",
                &flat(i.namespace.as_deref(), &i.name),
                &sql,
                Need::BestEffort,
            )),
            Err(reason) => skipped.push(Skipped {
                kind: "index".into(),
                name: flat(i.namespace.as_deref(), &i.name),
                reason,
            }),
        }
    }
    for v in views_in_dependency_order(&schema.views, Dialect::Postgres) {
        let name = flat(v.namespace.as_deref(), &v.name);
        let body = v
            .sql
            .split_once(" AS\n")
            .map(|(_, b)| b)
            .unwrap_or(&v.sql)
            .trim_end()
            .trim_end_matches(';')
            .trim_end_matches("WITH NO DATA")
            .trim_end();
        let sql = format!(
            "CREATE VIEW {} AS\n{};",
            quote(&name),
            pg_expr_to_sqlite(body)
        );
        statements.push(statement("view", &name, &sql, Need::BestEffort));
    }
    let why_trigger = "a PostgreSQL trigger runs a PostgreSQL function, which SQLite cannot run";
    for t in &schema.triggers {
        skipped.push(skip(
            "trigger",
            flat(t.namespace.as_deref(), &t.name),
            why_trigger,
        ));
    }
    for r in &schema.routines {
        let name = format!("{}({})", flat(r.namespace.as_deref(), &r.name), r.arguments);
        skipped.push(skip(
            if r.kind == "procedure" {
                "procedure"
            } else {
                "function"
            },
            name,
            "SQLite has no stored functions or procedures",
        ));
    }
    for s in schema.sequences.iter().filter(|s| s.owned_by.is_none()) {
        skipped.push(skip(
            "sequence",
            flat(s.namespace.as_deref(), &s.name),
            "SQLite has no sequences; the column it fills is filled by the generator",
        ));
    }
    for e in &schema.extensions {
        skipped.push(skip(
            "extension",
            e.name.clone(),
            "PostgreSQL extensions do not exist on SQLite",
        ));
    }
    Rendered {
        dialect: Dialect::Sqlite,
        statements,
        skipped,
    }
}

fn skip(kind: &str, name: String, reason: &str) -> Skipped {
    Skipped {
        kind: kind.into(),
        name,
        reason: reason.into(),
    }
}

/// The SQLite `REFERENCES` clause of a foreign key.
fn references(fk: &ForeignKey) -> String {
    let mut s = format!(
        "REFERENCES {} ({})",
        quote(&flat(fk.ref_namespace.as_deref(), &fk.ref_table)),
        quote_list(&fk.ref_columns)
    );
    if fk.on_delete != "NO ACTION" {
        s.push_str(&format!(" ON DELETE {}", fk.on_delete));
    }
    if fk.on_update != "NO ACTION" {
        s.push_str(&format!(" ON UPDATE {}", fk.on_update));
    }
    if fk.initially_deferred {
        s.push_str(" DEFERRABLE INITIALLY DEFERRED");
    }
    s
}

fn table_from_pg(
    schema: &Schema,
    t: &Table,
    probe: &Probe,
    skipped: &mut Vec<Skipped>,
) -> Statement {
    let name = t.key();
    let col_names: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
    let mut lines = Vec::new();
    // (what, expression) of every check to carry; probed after the columns.
    let mut candidates: Vec<(String, String)> = Vec::new();
    let auto_pk = matches!(t.primary_key.as_slice(), [only] if t.column(only).is_some_and(|c| {
        matches!(c.auto, Some(AutoFill::Serial | AutoFill::Identity | AutoFill::IdentityAlways))
            && pg_to_sqlite(schema, &c.sql_type).sql_type == "INTEGER"
    }));
    for c in &t.columns {
        let m = pg_to_sqlite(schema, &c.sql_type);
        let q = quote(&c.name);
        if auto_pk && t.primary_key[0] == c.name {
            lines.push(format!("{q} INTEGER PRIMARY KEY AUTOINCREMENT"));
            continue;
        }
        let mut line = format!("{q} {}", m.sql_type);
        if c.not_null || m.domain_not_null {
            line.push_str(" NOT NULL");
        }
        if let Some(g) = &c.generated {
            let expr = pg_expr_to_sqlite(g);
            match probe.expr(&col_names, &expr) {
                Ok(()) => line.push_str(&format!(" GENERATED ALWAYS AS ({expr}) STORED")),
                Err(e) => skipped.push(skip(
                    "generated column",
                    format!("{name}.{}", c.name),
                    &format!("expression does not parse on SQLite ({e}); a plain column"),
                )),
            }
        } else if let Some(d) = c.default.as_deref().filter(|d| !d.starts_with("nextval(")) {
            let expr = pg_expr_to_sqlite(d);
            match probe.expr(&[], &expr) {
                Ok(()) => line.push_str(&format!(" DEFAULT ({expr})")),
                Err(e) => skipped.push(skip(
                    "default",
                    format!("{name}.{}", c.name),
                    &format!("does not parse on SQLite: {e}"),
                )),
            }
        }
        lines.push(line);
        if !m.labels.is_empty() {
            let list: Vec<String> = m
                .labels
                .iter()
                .map(|l| format!("'{}'", l.replace('\'', "''")))
                .collect();
            candidates.push((
                format!("{name}.{} (enum)", c.name),
                format!("{q} IN ({})", list.join(", ")),
            ));
        }
        for d in &m.domain_checks {
            candidates.push((
                format!("{name}.{} (domain)", c.name),
                pg_expr_to_sqlite(&replace_value(d, &q)),
            ));
        }
    }
    if !auto_pk && !t.primary_key.is_empty() {
        lines.push(format!("PRIMARY KEY ({})", quote_list(&t.primary_key)));
    }
    for u in &t.uniques {
        lines.push(format!("UNIQUE ({})", quote_list(&u.columns)));
    }
    for ch in &t.checks {
        let what = format!("{name}.{}", ch.name.as_deref().unwrap_or("check"));
        candidates.push((what, pg_expr_to_sqlite(&ch.expr)));
    }
    let mut checks = Vec::new();
    for (what, expr) in candidates {
        match probe.expr(&col_names, &expr) {
            Ok(()) => checks.push((what, expr)),
            Err(e) => skipped.push(skip(
                "check",
                what,
                &format!("does not parse on SQLite: {e}"),
            )),
        }
    }
    for (what, expr) in checks {
        let label = what.rsplit_once('.').map_or(what.as_str(), |(_, n)| n);
        let label = label.split(' ').next().unwrap_or(label);
        lines.push(format!("CONSTRAINT {} CHECK ({expr})", quote(label)));
    }
    for fk in &t.foreign_keys {
        lines.push(format!(
            "FOREIGN KEY ({}) {}",
            quote_list(&fk.columns),
            references(fk)
        ));
    }
    let sql = format!(
        "CREATE TABLE {} (\n  {}\n);",
        quote(&name),
        lines.join(",\n  ")
    );
    statement("table", &name, &sql, Need::Required)
}

fn index_from_pg(schema: &Schema, i: &Index, probe: &Probe) -> Result<String, String> {
    let table = schema
        .tables
        .iter()
        .find(|t| t.name == i.table && t.namespace == i.namespace)
        .ok_or_else(|| format!("its table {} is not in the schema", i.table))?;
    let cols: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    let mut parts = Vec::new();
    for k in &i.columns {
        match k {
            IndexKey::Column(c) => parts.push(quote(c)),
            IndexKey::Expr(e) => {
                let e = pg_expr_to_sqlite(e);
                probe
                    .expr(&cols, &e)
                    .map_err(|m| format!("key {e} does not parse on SQLite: {m}"))?;
                parts.push(format!("({e})"));
            }
        }
    }
    let mut sql = format!(
        "CREATE {}INDEX {} ON {} ({})",
        if i.unique { "UNIQUE " } else { "" },
        quote(&flat(i.namespace.as_deref(), &i.name)),
        quote(&table.key()),
        parts.join(", ")
    );
    if let Some(p) = &i.predicate {
        let p = pg_expr_to_sqlite(p);
        probe
            .expr(&cols, &p)
            .map_err(|m| format!("predicate does not parse on SQLite: {m}"))?;
        sql.push_str(&format!(" WHERE {p}"));
    }
    sql.push(';');
    Ok(sql)
}

/// Load a rendering into `conn` in one transaction: a required statement
/// that fails is an error (nothing is kept); a best-effort one is
/// reported. Returns everything skipped, rendering's and loading's.
pub fn load(conn: &Connection, r: &Rendered) -> Result<Vec<Skipped>, LoadError> {
    let err = |kind: &str, name: &str, e: rusqlite::Error| LoadError {
        kind: kind.into(),
        name: name.into(),
        message: e.to_string(),
    };
    let mut skipped = r.skipped.clone();
    conn.execute_batch("BEGIN")
        .map_err(|e| err("transaction", "", e))?;
    for st in &r.statements {
        if let Err(e) = conn.execute_batch(&st.sql) {
            match (st.need, &st.fallback) {
                (_, Some(fb)) if conn.execute_batch(fb).is_ok() => skipped.push(Skipped {
                    kind: st.kind.into(),
                    name: st.name.clone(),
                    reason: format!("created in a simpler form: {e}"),
                }),
                (Need::BestEffort, _) => skipped.push(Skipped {
                    kind: st.kind.into(),
                    name: st.name.clone(),
                    reason: e.to_string(),
                }),
                _ => {
                    let _ = conn.execute_batch("ROLLBACK");
                    return Err(err(st.kind, &st.name, e));
                }
            }
        }
    }
    conn.execute_batch("COMMIT")
        .map_err(|e| err("transaction", "", e))?;
    Ok(skipped)
}
