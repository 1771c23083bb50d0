//! Which migrations are rehearsed: `--from`/`--to` (a range of versions,
//! inclusive), `--only` (exact versions), `--changed-since REV` (the
//! migrations whose files git says were added or changed since REV,
//! committed or not — what a pull request adds). Every other migration is
//! applied as setup, in order, so each rehearsed step still starts from the
//! database at N−1. A version that is not in the folder is an error, never
//! an empty selection.

use super::layout::Folder;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// The selection options.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// First version rehearsed.
    pub from: Option<String>,
    /// Last version rehearsed.
    pub to: Option<String>,
    /// Only these versions.
    pub only: Vec<String>,
    /// Only migrations changed since this git revision.
    pub changed_since: Option<String>,
}

/// Why a selection cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    /// A version named on the command line is not in the folder.
    #[error("{flag} {version}: no such migration in the folder (versions: {known})")]
    Unknown {
        flag: &'static str,
        version: String,
        known: String,
    },
    /// `--from` comes after `--to`.
    #[error("--from {from} comes after --to {to} in the folder's order")]
    Reversed { from: String, to: String },
    /// git could not answer.
    #[error("--changed-since {rev}: {message}")]
    Git { rev: String, message: String },
}

fn position(f: &Folder, flag: &'static str, v: &str) -> Result<usize, SelectError> {
    f.migrations
        .iter()
        .position(|m| m.version == v || m.label() == v)
        .ok_or_else(|| SelectError::Unknown {
            flag,
            version: v.to_string(),
            known: known(f),
        })
}

fn known(f: &Folder) -> String {
    let v: Vec<&str> = f.migrations.iter().map(|m| m.version.as_str()).collect();
    if v.len() > 12 {
        format!("{} … {}", v[..6].join(", "), v[v.len() - 3..].join(", "))
    } else {
        v.join(", ")
    }
}

/// Which migrations to rehearse (true) or apply as setup (false), and the
/// commit `--changed-since` resolved to.
pub fn plan(f: &Folder, s: &Selection) -> Result<(Vec<bool>, Option<String>), SelectError> {
    let n = f.migrations.len();
    let lo = s
        .from
        .as_deref()
        .map(|v| position(f, "--from", v))
        .transpose()?
        .unwrap_or(0);
    let hi =
        s.to.as_deref()
            .map(|v| position(f, "--to", v))
            .transpose()?
            .unwrap_or(n.saturating_sub(1));
    if lo > hi {
        return Err(SelectError::Reversed {
            from: s.from.clone().unwrap_or_default(),
            to: s.to.clone().unwrap_or_default(),
        });
    }
    let mut keep: Vec<bool> = (0..n).map(|i| i >= lo && i <= hi).collect();
    if !s.only.is_empty() {
        let mut only = vec![false; n];
        for v in &s.only {
            only[position(f, "--only", v)?] = true;
        }
        for (k, o) in keep.iter_mut().zip(only) {
            *k &= o;
        }
    }
    let mut resolved = None;
    if let Some(rev) = &s.changed_since {
        let (commit, changed) = changed_files(&f.dir, rev)?;
        resolved = Some(commit);
        for (k, m) in keep.iter_mut().zip(&f.migrations) {
            *k &= m.files.iter().any(|p| changed.contains(p));
        }
    }
    Ok((keep, resolved))
}

fn git(dir: &Path, args: &[&str], rev: &str) -> Result<String, SelectError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| SelectError::Git {
            rev: rev.to_string(),
            message: format!("cannot run git: {e}"),
        })?;
    if !out.status.success() {
        return Err(SelectError::Git {
            rev: rev.to_string(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The commit `rev` names, and the folder's files (relative to the folder,
/// `/`-separated) that differ from it in the working tree, untracked new
/// files included.
pub fn changed_files(dir: &Path, rev: &str) -> Result<(String, BTreeSet<String>), SelectError> {
    if rev.starts_with('-') {
        return Err(SelectError::Git {
            rev: rev.to_string(),
            message: "not a revision".into(),
        });
    }
    let commit = git(dir, &["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")], rev)
        .map_err(|_| SelectError::Git {
            rev: rev.to_string(),
            message: "git knows no such commit here (fetch it first, e.g. `git fetch origin main` and pass origin/main)".into(),
        })?
        .trim()
        .to_string();
    // Paths relative to the folder itself (`--relative`, and ls-files
    // prints paths relative to the current directory: the folder).
    let mut out = BTreeSet::new();
    let diff = git(
        dir,
        &[
            "diff",
            "--name-only",
            "--relative",
            "--no-renames",
            &commit,
            "--",
            ".",
        ],
        rev,
    )?;
    let untracked = git(
        dir,
        &["ls-files", "--others", "--exclude-standard", "--", "."],
        rev,
    )?;
    for line in diff.lines().chain(untracked.lines()) {
        if !line.is_empty() {
            out.insert(line.to_string());
        }
    }
    Ok((commit, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrations::layout::{load, tests::folder};
    use crate::schema::Dialect;

    #[test]
    fn ranges_and_only_select_by_version() {
        let d = folder(&[
            ("1-a.up.sql", "x"),
            ("2-b.up.sql", "x"),
            ("3-c.up.sql", "x"),
            ("4-d.up.sql", "x"),
        ]);
        let f = load(d.path(), None, Dialect::Sqlite).unwrap();
        let s = Selection {
            from: Some("2-b".into()),
            to: Some("3-c".into()),
            ..Default::default()
        };
        assert_eq!(plan(&f, &s).unwrap().0, vec![false, true, true, false]);
        let s = Selection {
            only: vec!["4-d".into(), "1-a".into()],
            ..Default::default()
        };
        assert_eq!(plan(&f, &s).unwrap().0, vec![true, false, false, true]);
        let s = Selection {
            from: Some("9".into()),
            ..Default::default()
        };
        assert!(
            plan(&f, &s)
                .unwrap_err()
                .to_string()
                .contains("versions: 1-a, 2-b")
        );
        let s = Selection {
            from: Some("3-c".into()),
            to: Some("1-a".into()),
            ..Default::default()
        };
        assert!(matches!(
            plan(&f, &s).unwrap_err(),
            SelectError::Reversed { .. }
        ));
    }
}
