//! `rollproof clean`: find and remove what dead runs left behind, and
//! nothing else.
//!
//! What counts as a leftover (docs/GUARD.md "Crash hygiene"):
//! - a run folder `<workspace>/runs/*` still marked in progress
//!   ([`cleanup::IN_PROGRESS`]) by an owner that is dead;
//! - a `--keep` folder listed in the workspace's journal of partial folders
//!   whose own marker names the same dead owner;
//! - a `.rollproof-tmp-<pid>.<start>-*` file or folder whose owner (pid and
//!   start time, in its name) is dead: in the workspace, at the project
//!   root and under its `reports/` and `surrogates/`, and in the system
//!   temp folder;
//! - a PostgreSQL database in the workspace's ledger, still scratch, whose
//!   owner is dead, and whose bound record proves it ours
//!   ([`crate::engine::postgres::leftovers`]).
//!
//! The whole clean runs under the exclusive workspace lock
//! ([`crate::guard::lock`]), so no rollproof process is using the workspace
//! meanwhile. Folders are walked without following symlinks. A run folder
//! kept on purpose (an unexpected outcome) and a finished `--keep` folder
//! carry no marker and are never touched; a temp name without an owner
//! (another tool's, an older rollproof's) is left alone.

use crate::util::cleanup::{self, IN_PROGRESS, Partial};
use crate::util::owner::Owner;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What to clean.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only list what would be removed.
    pub dry_run: bool,
    /// PostgreSQL URLs to reach servers with (a password, another host
    /// name) besides the servers the ledger records.
    pub target_urls: Vec<String>,
    /// Throwaway hosts allowed besides loopback.
    pub allow_hosts: Vec<String>,
}

/// One leftover found.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// "run folder", "keep folder", "temp file", "temp folder", "database",
    /// "role".
    pub kind: &'static str,
    /// Its path or URL (never with a password).
    pub what: String,
    /// Why it is a leftover, or why it was left.
    pub why: String,
}

/// The outcome (also `clean --json`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Cleaned {
    /// The workspace cleaned.
    pub workspace: PathBuf,
    /// Removed (or, with `dry_run`, what would be).
    pub removed: Vec<Item>,
    /// Leftovers that could not be removed, and why.
    pub left: Vec<Item>,
    /// True for a dry run.
    pub dry_run: bool,
}

impl Cleaned {
    fn remove(&mut self, kind: &'static str, path: &Path, why: String, dry: bool) {
        let what = path.display().to_string();
        let res = if dry {
            Ok(())
        } else if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
            std::fs::remove_dir_all(path)
        } else {
            std::fs::remove_file(path)
        };
        match res {
            Ok(()) => self.removed.push(Item { kind, what, why }),
            Err(e) => self.left.push(Item {
                kind,
                what,
                why: format!("{why}; cannot remove it: {e}"),
            }),
        }
    }
}

/// Why `clean` could not run.
#[derive(Debug, thiserror::Error)]
pub enum CleanError {
    #[error(transparent)]
    Refused(#[from] crate::guard::Refusal),
}

/// Clean the current workspace (module docs).
pub fn clean(opts: &Options) -> Result<Cleaned, CleanError> {
    let ws = crate::guard::workspace()?;
    crate::guard::lock::hold_exclusive(&ws)?;
    let mut out = Cleaned {
        workspace: ws.clone(),
        dry_run: opts.dry_run,
        ..Cleaned::default()
    };
    run_folders(&ws, opts.dry_run, &mut out);
    keep_folders(&ws, opts.dry_run, &mut out);
    let mut places = vec![(ws.clone(), true), (std::env::temp_dir(), false)];
    if let Ok(root) = crate::guard::workspace::project_root_here() {
        places.push((root.clone(), false));
        for d in crate::evidence::seal::manifest::DEFAULT_SEALED_DIRS {
            places.push((root.join(d), true));
        }
    }
    for (dir, deep) in places {
        temp_files(&dir, deep, opts.dry_run, &mut out);
    }
    crate::engine::postgres::leftovers::clean(&ws, opts, &mut out);
    Ok(out)
}

/// The owner a marker file names, if it is one.
fn marker_owner(dir: &Path) -> Option<Owner> {
    let bytes = crate::util::fsutil::read_bounded(
        &dir.join(IN_PROGRESS),
        crate::util::fsutil::limit::SIDECAR,
        "in-progress marker",
    )
    .ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn dead_owner_why(o: &Owner) -> String {
    format!(
        "its run (pid {} on {}) died before finishing",
        o.pid, o.host
    )
}

fn run_folders(ws: &Path, dry: bool, out: &mut Cleaned) {
    let Ok(rd) = std::fs::read_dir(ws.join("runs")) else {
        return;
    };
    let mut dirs: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    for d in dirs {
        if let Some(o) = marker_owner(&d)
            && !o.alive()
        {
            out.remove("run folder", &d, dead_owner_why(&o), dry);
        }
    }
}

fn keep_folders(ws: &Path, dry: bool, out: &mut Cleaned) {
    let Ok(rd) = std::fs::read_dir(cleanup::partial_dir(ws)) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for entry in entries {
        let parsed: Option<Partial> = crate::util::fsutil::read_bounded(
            &entry,
            crate::util::fsutil::limit::SIDECAR,
            "partial-folder entry",
        )
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
        let Some(p) = parsed else { continue };
        if p.owner.alive() {
            continue;
        }
        // The folder itself must still carry the same owner's marker: the
        // journal alone never names a folder to delete.
        match std::fs::symlink_metadata(&p.path) {
            Err(_) => {
                if !dry {
                    let _ = std::fs::remove_file(&entry);
                }
            }
            Ok(m) if m.is_dir() && marker_owner(&p.path).as_ref() == Some(&p.owner) => {
                out.remove("keep folder", &p.path, dead_owner_why(&p.owner), dry);
                if !dry && !p.path.exists() {
                    let _ = std::fs::remove_file(&entry);
                }
            }
            Ok(_) => out.left.push(Item {
                kind: "keep folder",
                what: p.path.display().to_string(),
                why: "listed as partial, but it no longer carries its run's marker; left alone"
                    .into(),
            }),
        }
    }
}

/// Temp files and folders of dead owners in `dir` (recursively when
/// `deep`, never following a symlink, never into a temp folder itself).
fn temp_files(dir: &Path, deep: bool, dry: bool, out: &mut Cleaned) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let Ok(ft) = e.file_type() else { continue };
        let name = e.file_name();
        let name = name.to_string_lossy();
        if let Some((pid, ticks)) = cleanup::owner_of_temp(&name) {
            if !crate::util::owner::pid_alive(pid, ticks) {
                let kind = if ft.is_dir() {
                    "temp folder"
                } else {
                    "temp file"
                };
                let why = format!("its owner (pid {pid}) is gone");
                out.remove(kind, &e.path(), why, dry);
            }
        } else if deep && ft.is_dir() {
            temp_files(&e.path(), true, dry, out);
        }
    }
}
