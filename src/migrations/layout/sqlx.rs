//! sqlx: files `<version>_<description>.up.sql` / `.down.sql` (reversible)
//! or `<version>_<description>.sql` (simple, so irreversible). The version
//! is the text before the first `_`, parsed as `i64`; migrations run in
//! version order, each in a transaction unless the file's very first bytes
//! are `-- no-transaction` (sqlx's `sql.starts_with("-- no-transaction")`,
//! checked for the up and the down file separately). Files whose names do
//! not have the `<version>_<description>.sql` shape are ignored, as sqlx
//! ignores them; a name of that shape whose version is not a number is an
//! error, as in sqlx.

use super::{
    Down, LayoutError, Migration, classify_down, entries, invalid, order, read_text, script,
};
use crate::migrations::version;
use crate::schema::Dialect;
use std::collections::BTreeMap;
use std::path::Path;

/// sqlx's no-transaction marker (must start the file).
pub const NO_TX: &str = "-- no-transaction";

/// `1_add_users` → ("1", "add_users") when the part before `_` is digits.
pub fn split_version(stem: &str) -> Option<(&str, &str)> {
    let (v, rest) = stem.split_once('_')?;
    (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())).then_some((v, rest))
}

#[derive(Default)]
struct Pair {
    up: Option<(String, String)>,
    down: Option<(String, String)>,
    simple: bool,
}

pub(super) fn load(
    dir: &Path,
    dialect: Dialect,
) -> Result<(Vec<Migration>, Vec<String>), LayoutError> {
    let mut pairs: BTreeMap<(String, String), Pair> = BTreeMap::new();
    let mut ignored = Vec::new();
    for (name, path) in entries(dir)? {
        let Some((v, rest)) = name.split_once('_').filter(|(_, r)| r.ends_with(".sql")) else {
            ignored.push(name);
            continue;
        };
        if !path.is_file() {
            ignored.push(name);
            continue;
        }
        let (desc, kind) = if let Some(d) = rest.strip_suffix(".up.sql") {
            (d, "up")
        } else if let Some(d) = rest.strip_suffix(".down.sql") {
            (d, "down")
        } else {
            (rest.trim_end_matches(".sql"), "simple")
        };
        let p = pairs.entry((v.to_string(), desc.to_string())).or_default();
        match kind {
            "up" => p.up = Some((name.clone(), read_text(&path)?)),
            "down" => p.down = Some((name.clone(), read_text(&path)?)),
            _ => {
                p.up = Some((name.clone(), read_text(&path)?));
                p.simple = true;
            }
        }
    }
    let mut out = Vec::new();
    for ((v, desc), p) in pairs {
        let key = version::sqlx(&v).ok_or_else(|| {
            invalid(
                &dir.join(format!("{v}_{desc}")),
                format!("version `{v}` is not a 64-bit integer (sqlx parses it as i64)"),
            )
        })?;
        let Some((up_name, up_sql)) = p.up else {
            let (down_name, _) = p.down.unwrap_or_default();
            return Err(invalid(
                &dir.join(down_name),
                "a down migration without its .up.sql",
            ));
        };
        if p.simple && p.down.is_some() {
            return Err(invalid(
                &dir.join(&up_name),
                "both a simple .sql and a reversible .down.sql for one version",
            ));
        }
        let mut files = vec![up_name.clone()];
        let up = tx_script(&up_name, up_sql);
        let down = match p.down {
            Some((n, sql)) => {
                files.push(n.clone());
                classify_down(tx_script(&n, sql), dialect)
            }
            None => Down::Missing,
        };
        out.push(Migration {
            version: v,
            name: desc,
            key,
            up,
            down,
            files,
        });
    }
    Ok((order(dir, out)?, ignored))
}

fn tx_script(rel: &str, sql: String) -> super::Script {
    let no_tx = sql.starts_with(NO_TX);
    let mut s = script(rel, sql, 1, !no_tx);
    if no_tx {
        s.no_transaction_marker = Some(NO_TX.into());
    }
    s
}

#[cfg(test)]
mod tests {
    use crate::migrations::layout::{Down, Layout, load, tests::folder};
    use crate::schema::Dialect;

    #[test]
    fn sqlx_orders_by_i64_and_reads_no_transaction_per_file() {
        let d = folder(&[
            ("10_c.up.sql", "CREATE INDEX i ON t(x);"),
            ("10_c.down.sql", "-- no-transaction\nDROP INDEX i;"),
            ("9_b.sql", "INSERT INTO t VALUES (1);"),
            ("1_a.up.sql", "-- no-transaction\nCREATE TABLE t(x);"),
            ("1_a.down.sql", ""),
            ("README.md", "x"),
        ]);
        let f = load(d.path(), Some(Layout::Sqlx), Dialect::Sqlite).unwrap();
        let v: Vec<&str> = f.migrations.iter().map(|m| m.version.as_str()).collect();
        assert_eq!(v, ["1", "9", "10"]);
        assert!(!f.migrations[0].up.transaction);
        assert!(matches!(f.migrations[0].down, Down::Empty(_)));
        assert_eq!(
            f.migrations[1].down,
            Down::Missing,
            "a simple migration has no down"
        );
        assert!(f.migrations[2].up.transaction);
        assert!(!f.migrations[2].down.script().unwrap().transaction);
        assert_eq!(f.ignored, vec!["README.md"]);
        // The marker counts only at the very start of the file.
        let d = folder(&[("1_a.up.sql", "\n-- no-transaction\nSELECT 1;")]);
        let f = load(d.path(), Some(Layout::Sqlx), Dialect::Sqlite).unwrap();
        assert!(f.migrations[0].up.transaction);
    }

    #[test]
    fn sqlx_refuses_what_sqlx_refuses() {
        let d = folder(&[("x_a.up.sql", "SELECT 1;")]);
        let e = load(d.path(), Some(Layout::Sqlx), Dialect::Sqlite).unwrap_err();
        assert!(e.to_string().contains("not a 64-bit integer"), "{e}");
        let d = folder(&[("1_a.down.sql", "SELECT 1;")]);
        let e = load(d.path(), Some(Layout::Sqlx), Dialect::Sqlite).unwrap_err();
        assert!(e.to_string().contains("without its .up.sql"), "{e}");
        let d = folder(&[("1_a.up.sql", "SELECT 1;"), ("01_b.up.sql", "SELECT 2;")]);
        let e = load(d.path(), Some(Layout::Sqlx), Dialect::Sqlite).unwrap_err();
        assert!(e.to_string().contains("used twice"), "{e}");
    }
}
