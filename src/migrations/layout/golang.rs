//! golang-migrate: files `<version>_<title>.up.<ext>` and
//! `.down.<ext>` (`source.DefaultParse`: `^([0-9]+)_(.*)\.(down|up)\.(.*)$`),
//! versions unsigned integers in numeric order; names that do not parse
//! are skipped, as its file source skips them; two ups (or two downs) for
//! one version are refused, as it refuses them.
//!
//! How a script runs depends on the driver, and is what golang-migrate
//! does by default:
//! - **sqlite3**: the whole file inside one transaction (`executeQuery`:
//!   `BeginTx` … `Commit`), unless the URL sets `x-no-tx-wrap=true`
//!   (rollproof: `--transactions off`);
//! - **postgres**: the whole file as one `Exec`, one simple-query message,
//!   which PostgreSQL runs as one implicit transaction when it holds more
//!   than one statement and as a plain statement when it holds one.
//!
//! Its bookkeeping (`schema_migrations (version, dirty)`) is maintained as
//! the tool does: see `crate::migrations::tool`.

use super::{
    Down, LayoutError, Migration, classify_down, entries, invalid, order, read_text, script,
};
use crate::migrations::version;
use crate::schema::Dialect;
use std::collections::BTreeMap;
use std::path::Path;

/// `12_add_x.up.sql` → ("12", "add_x", "up").
fn parse(name: &str) -> Option<(&str, &str, &str)> {
    let (v, rest) = name.split_once('_')?;
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    for dir in ["up", "down"] {
        // The title is greedy: the last `.up.`/`.down.` followed by an extension.
        if let Some(i) = rest.rfind(&format!(".{dir}.")) {
            let ext = &rest[i + dir.len() + 2..];
            if !ext.is_empty() {
                return Some((v, &rest[..i], dir));
            }
        }
    }
    None
}

/// Whether PostgreSQL runs this script as one implicit transaction: a
/// simple-query message with more than one statement.
fn pg_atomic(sql: &str) -> bool {
    crate::schema::tokens::statements(sql, Dialect::Postgres).map_or(true, |s| s.len() > 1)
}

pub(super) fn load(
    dir: &Path,
    dialect: Dialect,
) -> Result<(Vec<Migration>, Vec<String>), LayoutError> {
    type Side = Option<(String, String)>;
    let mut by_version: BTreeMap<String, (String, Side, Side)> = BTreeMap::new();
    let mut ignored = Vec::new();
    for (name, path) in entries(dir)? {
        let Some((v, title, kind)) = parse(&name).filter(|_| path.is_file()) else {
            ignored.push(name);
            continue;
        };
        let e = by_version
            .entry(v.to_string())
            .or_insert_with(|| (title.to_string(), None, None));
        let slot = if kind == "up" { &mut e.1 } else { &mut e.2 };
        if let Some((other, _)) = slot {
            return Err(invalid(
                &path,
                format!(
                    "a second {kind} migration for version {v} (also {other}); golang-migrate refuses duplicates"
                ),
            ));
        }
        *slot = Some((name.clone(), read_text(&path)?));
    }
    let mut out = Vec::new();
    for (v, (title, up, down)) in by_version {
        let key = version::golang_migrate(&v).ok_or_else(|| {
            invalid(
                &dir.join(&v),
                format!("version {v} does not fit an unsigned 64-bit integer"),
            )
        })?;
        let Some((up_name, up_sql)) = up else {
            let (n, _) = down.unwrap_or_default();
            return Err(invalid(
                &dir.join(n),
                "a down migration without its up migration",
            ));
        };
        let mk = |rel: &str, sql: String| {
            let atomic = match dialect {
                Dialect::Sqlite => true,
                Dialect::Postgres => pg_atomic(&sql),
            };
            let mut s = script(rel, sql, 1, atomic);
            if dialect == Dialect::Postgres {
                s.no_transaction_marker = (!atomic).then(|| {
                    "one statement, sent as one simple-query message (no transaction block)"
                        .to_string()
                });
            }
            s
        };
        let mut files = vec![up_name.clone()];
        let up = mk(&up_name, up_sql);
        let down = match down {
            Some((n, sql)) => {
                files.push(n.clone());
                classify_down(mk(&n, sql), dialect)
            }
            None => Down::Missing,
        };
        out.push(Migration {
            version: v,
            name: title,
            key,
            up,
            down,
            files,
        });
    }
    Ok((order(dir, out)?, ignored))
}

#[cfg(test)]
mod tests {
    use super::parse;
    use crate::migrations::layout::{Layout, load, tests::folder};
    use crate::schema::Dialect;

    #[test]
    fn names_parse_as_golang_migrate_parses_them() {
        assert_eq!(parse("1_a.up.sql"), Some(("1", "a", "up")));
        assert_eq!(
            parse("0002_add.users.down.sql"),
            Some(("0002", "add.users", "down"))
        );
        assert_eq!(parse("1_a.sql"), None);
        assert_eq!(parse("a_b.up.sql"), None);
    }

    #[test]
    fn numeric_order_and_postgres_implicit_transactions() {
        let d = folder(&[
            ("10_c.up.sql", "CREATE INDEX CONCURRENTLY i ON t(x);"),
            ("10_c.down.sql", "DROP INDEX i; SELECT 1;"),
            ("0002_b.up.sql", "SELECT 1;"),
            ("1_a.up.sql", "CREATE TABLE t(x int);"),
            ("notes.txt", ""),
        ]);
        let f = load(d.path(), Some(Layout::GolangMigrate), Dialect::Postgres).unwrap();
        let v: Vec<&str> = f.migrations.iter().map(|m| m.version.as_str()).collect();
        assert_eq!(v, ["1", "0002", "10"]);
        assert!(
            !f.migrations[2].up.transaction,
            "one statement: no transaction block"
        );
        assert!(f.migrations[2].down.script().unwrap().transaction);
        let f = load(d.path(), Some(Layout::GolangMigrate), Dialect::Sqlite).unwrap();
        assert!(
            f.migrations[2].up.transaction,
            "the sqlite3 driver wraps every file"
        );
        let d = folder(&[("1_a.up.sql", "x"), ("1_b.up.sql", "y")]);
        let e = load(d.path(), Some(Layout::GolangMigrate), Dialect::Sqlite).unwrap_err();
        assert!(e.to_string().contains("second up"), "{e}");
    }
}
