//! Flyway: versioned migrations `V<version>__<description>.sql` and their
//! undo migrations `U<version>__<description>.sql` (matched by version, as
//! Flyway matches them). Versions are dotted parts (`_` also separates
//! parts) compared as numbers (`crate::migrations::version::flyway`).
//! A script runs in a transaction unless its script configuration file
//! `<script>.sql.conf` says `executeInTransaction=false`. Repeatable
//! (`R__`) and baseline (`B`) migrations have no undo and no place in a
//! step-by-step rehearsal: they are refused with a message rather than
//! silently skipped. Other files are ignored, as Flyway ignores them.

use super::{
    Down, LayoutError, Migration, classify_down, entries, invalid, order, read_text, script,
};
use crate::migrations::version::{self, VersionKey};
use crate::schema::Dialect;
use std::path::Path;

/// `V1.2__add_x.sql` → ("1.2", "add_x").
fn split(name: &str, prefix: char) -> Option<(&str, &str)> {
    let rest = name.strip_prefix(prefix)?.strip_suffix(".sql")?;
    let (v, desc) = rest.split_once("__")?;
    (!v.is_empty() && v.starts_with(|c: char| c.is_ascii_digit())).then_some((v, desc))
}

/// True for a versioned migration file name (for detection).
pub(super) fn is_versioned_name(name: &str) -> bool {
    split(name, 'V').is_some()
}

/// `executeInTransaction` from `<script>.conf`, when the file exists.
fn execute_in_transaction(script_path: &Path) -> Result<(bool, Option<String>), LayoutError> {
    let mut conf = script_path.as_os_str().to_owned();
    conf.push(".conf");
    let conf = std::path::PathBuf::from(conf);
    if !conf.exists() {
        return Ok((true, None));
    }
    for line in read_text(&conf)?.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
            Some(("executeInTransaction", "false")) => {
                return Ok((false, Some("executeInTransaction=false".into())));
            }
            Some(("executeInTransaction", "true")) => return Ok((true, None)),
            Some(("executeInTransaction", other)) => {
                return Err(invalid(
                    &conf,
                    format!("executeInTransaction must be true or false, not `{other}`"),
                ));
            }
            _ => {} // other script settings (encoding, …) do not change how it runs here
        }
    }
    Ok((true, None))
}

fn flyway_script(dir: &Path, name: &str) -> Result<super::Script, LayoutError> {
    let path = dir.join(name);
    let (tx, marker) = execute_in_transaction(&path)?;
    let mut s = script(name, read_text(&path)?, 1, tx);
    s.no_transaction_marker = marker;
    Ok(s)
}

pub(super) fn load(
    dir: &Path,
    dialect: Dialect,
) -> Result<(Vec<Migration>, Vec<String>), LayoutError> {
    let mut vs: Vec<(VersionKey, String, String, String)> = Vec::new(); // key, version, desc, file
    let mut us: Vec<(VersionKey, String)> = Vec::new();
    let mut ignored = Vec::new();
    for (name, path) in entries(dir)? {
        if !path.is_file() || !name.ends_with(".sql") {
            ignored.push(name);
            continue;
        }
        if name.starts_with("R__") || split(&name, 'B').is_some() {
            return Err(invalid(
                &path,
                "repeatable (R__) and baseline (B) migrations have no undo and are not rehearsed step by step; move them out of the folder for the rehearsal (docs/MIGRATIONS.md, Flyway)",
            ));
        }
        for (prefix, is_undo) in [('V', false), ('U', true)] {
            if let Some((v, desc)) = split(&name, prefix) {
                let key = version::flyway(v).ok_or_else(|| {
                    invalid(
                        &path,
                        format!("version `{v}` is not dotted numbers (1, 1.2, 1_2)"),
                    )
                })?;
                if is_undo {
                    us.push((key, name.clone()));
                } else {
                    vs.push((key, v.to_string(), desc.to_string(), name.clone()));
                }
            }
        }
        if split(&name, 'V').is_none() && split(&name, 'U').is_none() {
            ignored.push(name);
        }
    }
    let mut out = Vec::new();
    for (key, v, desc, file) in vs {
        let undos: Vec<&(VersionKey, String)> = us.iter().filter(|(k, _)| *k == key).collect();
        if undos.len() > 1 {
            return Err(invalid(
                &dir.join(&undos[1].1),
                format!("a second undo for version {v} (also {})", undos[0].1),
            ));
        }
        let mut files = vec![file.clone()];
        let down = match undos.first() {
            Some((_, u)) => {
                files.push(u.clone());
                classify_down(flyway_script(dir, u)?, dialect)
            }
            None => Down::Missing,
        };
        out.push(Migration {
            version: v,
            name: desc,
            key,
            up: flyway_script(dir, &file)?,
            down,
            files,
        });
    }
    if let Some((_, orphan)) = us.iter().find(|(k, _)| !out.iter().any(|m| m.key == *k)) {
        return Err(invalid(
            &dir.join(orphan),
            "an undo migration without its versioned migration",
        ));
    }
    Ok((order(dir, out)?, ignored))
}

#[cfg(test)]
mod tests {
    use crate::migrations::layout::{Down, Layout, load, tests::folder};
    use crate::schema::Dialect;

    #[test]
    fn versions_undo_pairs_and_script_config() {
        let d = folder(&[
            ("V1.10__c.sql", "CREATE INDEX i ON t(x);"),
            (
                "V1.10__c.sql.conf",
                "# script config\nexecuteInTransaction=false\n",
            ),
            ("V1.9__b.sql", "ALTER TABLE t ADD y;"),
            ("U1.9__b.sql", "ALTER TABLE t DROP y;"),
            ("V1__a.sql", "CREATE TABLE t(x);"),
            ("U1.0__a.sql", "DROP TABLE t;"),
        ]);
        let f = load(d.path(), None, Dialect::Sqlite).unwrap();
        assert_eq!(f.layout, Layout::Flyway);
        let v: Vec<&str> = f.migrations.iter().map(|m| m.version.as_str()).collect();
        assert_eq!(v, ["1", "1.9", "1.10"]);
        assert!(
            matches!(f.migrations[0].down, Down::Sql(_)),
            "U1.0 undoes V1"
        );
        assert!(!f.migrations[2].up.transaction);
        assert_eq!(f.migrations[2].down, Down::Missing);
        assert_eq!(f.ignored, vec!["V1.10__c.sql.conf"]);
    }

    #[test]
    fn repeatables_and_orphan_undos_are_refused() {
        let d = folder(&[("V1__a.sql", "x"), ("R__views.sql", "y")]);
        assert!(
            load(d.path(), Some(Layout::Flyway), Dialect::Sqlite)
                .unwrap_err()
                .to_string()
                .contains("repeatable")
        );
        let d = folder(&[("V1__a.sql", "x"), ("U2__b.sql", "y")]);
        assert!(
            load(d.path(), Some(Layout::Flyway), Dialect::Sqlite)
                .unwrap_err()
                .to_string()
                .contains("without its versioned")
        );
    }
}
