//! diesel: one folder per migration, `<version>_<name>/` holding `up.sql`
//! and (optionally, since `diesel migration generate --no-down`) `down.sql`.
//! The version is the folder name up to the first `_` with `-` removed
//! (`migrations_internals::version_from_string`); folders without `up.sql`
//! are refused by diesel and here. Each migration runs in a transaction
//! unless its `metadata.toml` says `run_in_transaction = false` — and, as
//! diesel reads it (`#[serde(default)]` on a bool), a `metadata.toml` that
//! does not set the key at all also means false.

use super::{
    Down, LayoutError, Migration, classify_down, entries, invalid, order, read_text, script,
};
use crate::migrations::version;
use crate::schema::Dialect;
use std::path::Path;

pub(super) fn load(
    dir: &Path,
    dialect: Dialect,
) -> Result<(Vec<Migration>, Vec<String>), LayoutError> {
    let mut out = Vec::new();
    let mut ignored = Vec::new();
    for (name, path) in entries(dir)? {
        if !path.is_dir() {
            ignored.push(name); // diesel ignores plain files in the folder
            continue;
        }
        let up_path = path.join("up.sql");
        if !up_path.is_file() {
            return Err(invalid(
                &path,
                "a diesel migration folder needs an up.sql (diesel refuses this folder too)",
            ));
        }
        let key = version::diesel(&name)
            .ok_or_else(|| invalid(&path, "the folder name has no version before its first `_`"))?;
        let (transaction, marker) = run_in_transaction(&path.join("metadata.toml"))?;
        let mut up = script(
            &format!("{name}/up.sql"),
            read_text(&up_path)?,
            1,
            transaction,
        );
        up.no_transaction_marker = marker.clone();
        let mut files = vec![up.path.clone()];
        let down_path = path.join("down.sql");
        let down = if down_path.exists() {
            let mut s = script(
                &format!("{name}/down.sql"),
                read_text(&down_path)?,
                1,
                transaction,
            );
            s.no_transaction_marker = marker.clone();
            files.push(s.path.clone());
            classify_down(s, dialect)
        } else {
            Down::Missing
        };
        if marker.is_some() || path.join("metadata.toml").exists() {
            files.push(format!("{name}/metadata.toml"));
        }
        let (version, rest) = name.split_once('_').unwrap_or((name.as_str(), ""));
        out.push(Migration {
            version: version.to_string(),
            name: rest.to_string(),
            key,
            up,
            down,
            files,
        });
    }
    Ok((order(dir, out)?, ignored))
}

/// diesel's `TomlMetadata`: absent file → true; present → its
/// `run_in_transaction`, false when unset.
fn run_in_transaction(path: &Path) -> Result<(bool, Option<String>), LayoutError> {
    if !path.exists() {
        return Ok((true, None));
    }
    let text = read_text(path)?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| invalid(path, format!("not valid TOML: {e}")))?;
    match table.get("run_in_transaction") {
        None => Ok((
            false,
            Some("metadata.toml without run_in_transaction (diesel reads false)".into()),
        )),
        Some(toml::Value::Boolean(true)) => Ok((true, None)),
        Some(toml::Value::Boolean(false)) => Ok((
            false,
            Some("metadata.toml run_in_transaction = false".into()),
        )),
        Some(other) => Err(invalid(
            path,
            format!("run_in_transaction must be true or false, not {other}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::migrations::layout::{Down, Layout, load, tests::folder};
    use crate::schema::Dialect;

    #[test]
    fn diesel_folders_metadata_and_missing_downs() {
        let d = folder(&[
            ("2024-01-02-000000_b/up.sql", "CREATE INDEX i ON t(x);"),
            (
                "2024-01-02-000000_b/metadata.toml",
                "run_in_transaction = false\n",
            ),
            ("2024-01-01-000000_a/up.sql", "CREATE TABLE t(x);"),
            ("2024-01-01-000000_a/down.sql", "DROP TABLE t;"),
            ("2024-01-03-000000_c/up.sql", "SELECT 1;"),
            ("2024-01-03-000000_c/metadata.toml", "# nothing\n"),
            ("README.md", "notes"),
        ]);
        let f = load(d.path(), None, Dialect::Sqlite).unwrap();
        assert_eq!(f.layout, Layout::Diesel);
        let v: Vec<&str> = f.migrations.iter().map(|m| m.version.as_str()).collect();
        assert_eq!(
            v,
            [
                "2024-01-01-000000",
                "2024-01-02-000000",
                "2024-01-03-000000"
            ]
        );
        assert!(f.migrations[0].up.transaction);
        assert!(matches!(f.migrations[0].down, Down::Sql(_)));
        assert!(!f.migrations[1].up.transaction);
        assert_eq!(f.migrations[1].down, Down::Missing);
        // A metadata.toml that does not set the key means false to diesel.
        assert!(!f.migrations[2].up.transaction);
        assert_eq!(f.ignored, vec!["README.md"]);
    }

    #[test]
    fn a_folder_without_up_sql_is_refused() {
        let d = folder(&[("1_a/down.sql", "x")]);
        let e = load(d.path(), Some(Layout::Diesel), Dialect::Sqlite).unwrap_err();
        assert!(e.to_string().contains("needs an up.sql"), "{e}");
    }
}
