//! Render a schema as PostgreSQL DDL, and load a rendering into a
//! database. A PostgreSQL schema is re-created from its catalog-deparsed
//! parts: tables from their columns and constraints (foreign keys added
//! after every table exists, so cycles load), everything else from the SQL
//! `pg_get_*def` gave. A SQLite schema is rebuilt with the nearest types
//! (rowid keys as identity columns); its CHECKs, views and expression
//! indexes are best effort, its triggers are skipped (their bodies are
//! SQLite's).

use super::types::sqlite_to_pg;
use super::{Need, Rendered, Skipped, Statement, quote, quote_list, views_in_dependency_order};
use crate::schema::order::fill_order;
use crate::schema::tokens::tokenize;
use crate::schema::{AutoFill, Column, Dialect, ForeignKey, Index, IndexKey, Schema, Table};
use postgres::GenericClient;

/// Why a rendering could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("creating {kind} {name} on PostgreSQL failed: {message}")]
pub struct LoadError {
    /// Object kind.
    pub kind: String,
    /// Object name.
    pub name: String,
    /// The server's message.
    pub message: String,
}

/// `ns.name` quoted, or just `name` in `public`.
pub fn qualified(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) if ns != "public" => format!("{}.{}", quote(ns), quote(name)),
        _ => quote(name),
    }
}

fn st(kind: &'static str, name: String, sql: String, need: Need) -> Statement {
    Statement {
        kind,
        name,
        sql,
        need,
        fallback: None,
    }
}

/// Render `schema` for PostgreSQL.
pub fn render(schema: &Schema) -> Rendered {
    let mut out = Rendered {
        dialect: Dialect::Postgres,
        statements: vec![st(
            "setting",
            "check_function_bodies".into(),
            // Functions may name tables created after them (as pg_dump does).
            "SET check_function_bodies = false;".into(),
            Need::Required,
        )],
        skipped: Vec::new(),
    };
    let same = schema.dialect == Dialect::Postgres;
    if same {
        preamble(schema, &mut out.statements);
    }
    let order = fill_order(schema);
    for key in &order.tables {
        if let Some(t) = schema.table(key) {
            out.statements.push(create_table(t, same));
        }
    }
    if same {
        for s in schema.sequences.iter().filter(|s| !s.identity) {
            if let Some((table, col)) = s.owned_by.as_deref().and_then(|o| o.rsplit_once('.'))
                && let Some(t) = schema.table(table)
            {
                out.statements.push(st(
                    "sequence",
                    s.name.clone(),
                    format!(
                        "ALTER SEQUENCE {} OWNED BY {}.{};",
                        qualified(s.namespace.as_deref(), &s.name),
                        qualified(t.namespace.as_deref(), &t.name),
                        quote(col)
                    ),
                    Need::Required,
                ));
            }
        }
    }
    for key in &order.tables {
        let Some(t) = schema.table(key) else { continue };
        for fk in &t.foreign_keys {
            out.statements.push(add_foreign_key(t, fk));
        }
        if !same {
            for (i, ch) in t.checks.iter().enumerate() {
                let name = ch
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("{}_check{}", t.name, i + 1));
                out.statements.push(st(
                    "check",
                    format!("{}.{name}", t.key()),
                    format!(
                        "ALTER TABLE {} ADD CONSTRAINT {} CHECK ({});",
                        qualified(t.namespace.as_deref(), &t.name),
                        quote(&name),
                        ch.expr
                    ),
                    Need::BestEffort,
                ));
            }
        }
    }
    rest(schema, same, &mut out);
    out
}

/// Namespaces, extensions, types and free-standing sequences.
fn preamble(schema: &Schema, out: &mut Vec<Statement>) {
    for ns in &schema.namespaces {
        out.push(st(
            "namespace",
            ns.clone(),
            format!("CREATE SCHEMA {};", quote(ns)),
            Need::Required,
        ));
    }
    for e in &schema.extensions {
        let with = e
            .namespace
            .as_deref()
            .map(|n| format!(" WITH SCHEMA {}", quote(n)))
            .unwrap_or_default();
        out.push(st(
            "extension",
            e.name.clone(),
            format!("CREATE EXTENSION IF NOT EXISTS {}{with};", quote(&e.name)),
            Need::Required,
        ));
    }
    // Enums and composites before domains, which may be over them.
    let mut types: Vec<_> = schema.types.iter().collect();
    types.sort_by_key(|t| matches!(t.kind, crate::schema::TypeKind::Domain));
    for t in types {
        out.push(st("type", t.name.clone(), t.sql.clone(), Need::Required));
    }
    for s in schema.sequences.iter().filter(|s| !s.identity) {
        if let Some(sql) = &s.sql {
            out.push(st("sequence", s.name.clone(), sql.clone(), Need::Required));
        }
    }
}

/// Functions, views, indexes and triggers.
fn rest(schema: &Schema, same: bool, out: &mut Rendered) {
    if same {
        for r in &schema.routines {
            out.statements.push(st(
                "function",
                format!("{}({})", r.name, r.arguments),
                r.sql.clone(),
                Need::Required,
            ));
        }
    }
    let need = if same {
        Need::Required
    } else {
        Need::BestEffort
    };
    for v in views_in_dependency_order(&schema.views, schema.dialect) {
        let sql = if same {
            v.sql.clone()
        } else {
            format!("CREATE VIEW {} AS {};", quote(&v.name), view_body(&v.sql))
        };
        out.statements.push(st("view", v.name.clone(), sql, need));
    }
    for i in &schema.indexes {
        let sql = match (&i.sql, same) {
            (Some(sql), true) => format!("{};", sql.trim_end_matches(';')),
            _ => index_sql(schema, i),
        };
        out.statements.push(st("index", i.name.clone(), sql, need));
    }
    for t in &schema.triggers {
        if same {
            out.statements
                .push(st("trigger", t.name.clone(), t.sql.clone(), Need::Required));
        } else {
            out.skipped.push(Skipped {
                kind: "trigger".into(),
                name: t.name.clone(),
                reason: "a SQLite trigger body is SQLite SQL; PostgreSQL needs a trigger function"
                    .into(),
            });
        }
    }
}

/// The SELECT of a SQLite `CREATE VIEW name AS SELECT …`.
fn view_body(sql: &str) -> String {
    let toks = tokenize(sql, Dialect::Sqlite).unwrap_or_default();
    let body = toks
        .iter()
        .find(|t| t.is_word("AS"))
        .map(|t| &sql[t.start + 2..])
        .unwrap_or(sql);
    body.trim().trim_end_matches(';').trim_end().to_string()
}

fn index_sql(schema: &Schema, i: &Index) -> String {
    let ns = schema
        .tables
        .iter()
        .find(|t| t.name == i.table)
        .and_then(|t| t.namespace.clone());
    let parts: Vec<String> = i
        .columns
        .iter()
        .map(|k| match k {
            IndexKey::Column(c) => quote(c),
            IndexKey::Expr(e) => format!("({e})"),
        })
        .collect();
    let mut sql = format!(
        "CREATE {}INDEX {} ON {} ({})",
        if i.unique { "UNIQUE " } else { "" },
        quote(&i.name),
        qualified(ns.as_deref(), &i.table),
        parts.join(", ")
    );
    if let Some(p) = &i.predicate {
        sql.push_str(&format!(" WHERE {p}"));
    }
    sql.push(';');
    sql
}

/// One column's definition; crossing from SQLite turns rowid keys into
/// identity columns.
fn column(c: &Column, t: &Table, same: bool, with_extras: bool) -> String {
    let q = quote(&c.name);
    if same {
        let mut s = format!("{q} {}", c.sql_type);
        if let Some(coll) = &c.collation {
            s.push_str(&format!(" COLLATE {coll}"));
        }
        if let Some(g) = &c.generated {
            s.push_str(&format!(" GENERATED ALWAYS AS ({g}) STORED"));
        }
        match c.auto {
            Some(AutoFill::IdentityAlways) => s.push_str(" GENERATED ALWAYS AS IDENTITY"),
            Some(AutoFill::Identity) => s.push_str(" GENERATED BY DEFAULT AS IDENTITY"),
            _ => {}
        }
        if let Some(d) = &c.default {
            s.push_str(&format!(" DEFAULT {d}"));
        }
        if c.not_null {
            s.push_str(" NOT NULL");
        }
        return s;
    }
    let m = sqlite_to_pg(&c.sql_type);
    let rowid = matches!(c.auto, Some(AutoFill::RowidAlias | AutoFill::Autoincrement));
    let mut s = format!("{q} {}", if rowid { "bigint" } else { &m.sql_type });
    if rowid {
        s.push_str(" GENERATED BY DEFAULT AS IDENTITY");
    }
    if with_extras {
        if let Some(g) = &c.generated {
            s.push_str(&format!(" GENERATED ALWAYS AS ({g}) STORED"));
        } else if let Some(d) = &c.default {
            s.push_str(&format!(" DEFAULT {}", d.trim()));
        }
    }
    if c.not_null || t.primary_key.contains(&c.name) {
        s.push_str(" NOT NULL");
    }
    s
}

fn create_table(t: &Table, same: bool) -> Statement {
    let build = |extras: bool| {
        let mut lines: Vec<String> = t
            .columns
            .iter()
            .map(|c| column(c, t, same, extras))
            .collect();
        if !t.primary_key.is_empty() {
            let name = match &t.primary_key_name {
                Some(n) => format!("CONSTRAINT {} ", quote(n)),
                None => String::new(),
            };
            lines.push(format!(
                "{name}PRIMARY KEY ({})",
                quote_list(&t.primary_key)
            ));
        }
        for u in &t.uniques {
            let name = match (&u.name, same) {
                (Some(n), true) => format!("CONSTRAINT {} ", quote(n)),
                _ => String::new(),
            };
            lines.push(format!("{name}UNIQUE ({})", quote_list(&u.columns)));
        }
        if same {
            for ch in &t.checks {
                let name = ch
                    .name
                    .as_deref()
                    .map(|n| format!("CONSTRAINT {} ", quote(n)))
                    .unwrap_or_default();
                lines.push(format!("{name}CHECK ({})", ch.expr));
            }
        }
        format!(
            "CREATE TABLE {} (\n  {}\n);",
            qualified(t.namespace.as_deref(), &t.name),
            lines.join(",\n  ")
        )
    };
    let mut s = st("table", t.key(), build(true), Need::Required);
    if !same {
        let plain = build(false);
        if plain != s.sql {
            s.fallback = Some(plain);
        }
    }
    s
}

fn add_foreign_key(t: &Table, fk: &ForeignKey) -> Statement {
    let name = fk
        .name
        .as_deref()
        .map(|n| format!("CONSTRAINT {} ", quote(n)))
        .unwrap_or_default();
    let mut sql = format!(
        "ALTER TABLE {} ADD {name}FOREIGN KEY ({}) REFERENCES {} ({})",
        qualified(t.namespace.as_deref(), &t.name),
        quote_list(&fk.columns),
        qualified(fk.ref_namespace.as_deref(), &fk.ref_table),
        quote_list(&fk.ref_columns)
    );
    if fk.on_delete != "NO ACTION" {
        sql.push_str(&format!(" ON DELETE {}", fk.on_delete));
    }
    if fk.on_update != "NO ACTION" {
        sql.push_str(&format!(" ON UPDATE {}", fk.on_update));
    }
    if fk.deferrable {
        sql.push_str(" DEFERRABLE");
        if fk.initially_deferred {
            sql.push_str(" INITIALLY DEFERRED");
        }
    }
    sql.push(';');
    let label = fk.name.clone().unwrap_or_else(|| fk.columns.join(","));
    st(
        "foreign key",
        format!("{}.{label}", t.key()),
        sql,
        Need::Required,
    )
}

/// Load a rendering into the connected database in one transaction: a
/// required statement that fails is an error (nothing is kept); a
/// best-effort one is rolled back to its savepoint and reported.
pub fn load(client: &mut impl GenericClient, r: &Rendered) -> Result<Vec<Skipped>, LoadError> {
    let mut skipped = r.skipped.clone();
    let mut tx = client.transaction().map_err(|e| LoadError {
        kind: "transaction".into(),
        name: String::new(),
        message: crate::engine::postgres::message(&e),
    })?;
    for s in &r.statements {
        let tried = run_in_savepoint(&mut tx, &s.sql);
        let Err(e) = tried else { continue };
        match (s.need, &s.fallback) {
            (_, Some(fb)) if run_in_savepoint(&mut tx, fb).is_ok() => skipped.push(Skipped {
                kind: s.kind.into(),
                name: s.name.clone(),
                reason: format!("created without its defaults and generated columns: {e}"),
            }),
            (Need::BestEffort, _) => skipped.push(Skipped {
                kind: s.kind.into(),
                name: s.name.clone(),
                reason: e,
            }),
            _ => {
                return Err(LoadError {
                    kind: s.kind.into(),
                    name: s.name.clone(),
                    message: e,
                });
            }
        }
    }
    tx.commit().map_err(|e| LoadError {
        kind: "transaction".into(),
        name: String::new(),
        message: crate::engine::postgres::message(&e),
    })?;
    Ok(skipped)
}

fn run_in_savepoint(tx: &mut postgres::Transaction<'_>, sql: &str) -> Result<(), String> {
    let mut sp = tx
        .savepoint("rollproof_render")
        .map_err(|e| crate::engine::postgres::message(&e))?;
    match sp.batch_execute(sql) {
        Ok(()) => sp
            .commit()
            .map_err(|e| crate::engine::postgres::message(&e)),
        Err(e) => {
            let msg = crate::engine::postgres::message(&e);
            let _ = sp.rollback();
            Err(msg)
        }
    }
}
