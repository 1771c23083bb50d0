//! Write a [`Schema`] out as DDL for SQLite or PostgreSQL.
//!
//! Into its own dialect a schema is re-created exactly: every object's
//! verbatim or catalog-deparsed SQL. Into the other dialect it is built
//! from the structured fields with the nearest types (`types`), and what
//! cannot cross is reported as [`Skipped`] with its name — PL/pgSQL
//! functions, SQLite trigger bodies, a CHECK or view that does not parse in
//! the target — never dropped silently.
//!
//! Creation order: namespaces, extensions, types and sequences
//! (PostgreSQL), tables in foreign-key fill order, then functions, views
//! (each after the views it reads), indexes and triggers.
//!
//! Rendering is pure. Loading is not: [`sqlite::load`] and
//! [`postgres::load`] run a rendering, keep going past best-effort
//! statements that fail (reporting them skipped) and stop at the first
//! required one that fails.

pub mod postgres;
pub mod sqlite;
pub mod types;

use super::tokens::tokenize;
use super::{Dialect, Schema, View};
use std::collections::BTreeSet;

/// Whether a statement must succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Its failure fails the load (tables, same-dialect objects).
    Required,
    /// Its failure is reported as skipped (cross-dialect checks, views,
    /// expression indexes), the load goes on.
    BestEffort,
}

/// One statement of a rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Object kind: "table", "index", "view", …
    pub kind: &'static str,
    /// Object name (qualified when not in `public`).
    pub name: String,
    /// The SQL, ending in `;`.
    pub sql: String,
    /// Whether it must succeed.
    pub need: Need,
    /// A simpler statement to run instead when `sql` fails (a table
    /// without the checks and defaults that did not cross); its use is
    /// reported.
    pub fallback: Option<String>,
}

/// An object that could not be rendered or loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Skipped {
    /// Object kind.
    pub kind: String,
    /// Object name.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// A schema as DDL in one dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The target dialect.
    pub dialect: Dialect,
    /// Statements in creation order.
    pub statements: Vec<Statement>,
    /// Objects left out while rendering.
    pub skipped: Vec<Skipped>,
}

impl Rendered {
    /// The whole rendering as one script, skipped objects as comments.
    pub fn script(&self) -> String {
        let mut s = String::new();
        for k in &self.skipped {
            s.push_str(&format!(
                "-- skipped {} {}: {}\n",
                k.kind,
                k.name,
                k.reason.replace('\n', " ")
            ));
        }
        for st in &self.statements {
            s.push_str(&st.sql);
            s.push('\n');
        }
        s
    }
}

/// Render `schema` as DDL for `target`.
pub fn render(schema: &Schema, target: Dialect) -> Rendered {
    match target {
        Dialect::Sqlite => sqlite::render(schema),
        Dialect::Postgres => postgres::render(schema),
    }
}

/// Views ordered so each comes after the views its SQL names (then by
/// name); a view in a cycle keeps its place.
pub fn views_in_dependency_order(views: &[View], dialect: Dialect) -> Vec<&View> {
    let names: BTreeSet<String> = views.iter().map(|v| v.name.to_ascii_lowercase()).collect();
    let mentions = |v: &View| -> BTreeSet<String> {
        let Ok(toks) = tokenize(&v.sql, dialect) else {
            return BTreeSet::new();
        };
        toks.iter()
            .filter(|t| t.is_code())
            .map(|t| t.ident().to_ascii_lowercase())
            .filter(|w| names.contains(w) && *w != v.name.to_ascii_lowercase())
            .collect()
    };
    let deps: Vec<BTreeSet<String>> = views.iter().map(mentions).collect();
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut out: Vec<&View> = Vec::new();
    while out.len() < views.len() {
        let next = views
            .iter()
            .enumerate()
            .filter(|(_, v)| !done.contains(&v.name.to_ascii_lowercase()))
            .find(|(i, _)| deps[*i].iter().all(|d| done.contains(d)))
            .or_else(|| {
                views
                    .iter()
                    .enumerate()
                    .find(|(_, v)| !done.contains(&v.name.to_ascii_lowercase()))
            });
        let Some((_, v)) = next else { break };
        done.insert(v.name.to_ascii_lowercase());
        out.push(v);
    }
    out
}

/// Double-quote an identifier (both dialects).
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A comma-separated list of quoted identifiers.
pub fn quote_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| quote(n))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_come_after_the_views_they_read() {
        let v = |name: &str, sql: &str| View {
            namespace: None,
            name: name.into(),
            materialized: false,
            sql: sql.into(),
        };
        let views = vec![
            v(
                "a_total",
                "CREATE VIEW a_total AS SELECT sum(x) FROM z_base",
            ),
            v("m_mid", "CREATE VIEW m_mid AS SELECT * FROM a_total"),
            v("z_base", "CREATE VIEW z_base AS SELECT 1 AS x"),
        ];
        let order: Vec<&str> = views_in_dependency_order(&views, Dialect::Sqlite)
            .iter()
            .map(|v| v.name.as_str())
            .collect();
        assert_eq!(order, vec!["z_base", "a_total", "m_mid"]);
    }
}
