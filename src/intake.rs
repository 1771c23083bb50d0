//! Operator real-dump intake: take a sanitized dump (a SQLite database or a
//! SQL text dump) in as an isolated clone in the workspace
//! (`<workspace>/clones/<name>.db`), safely:
//!
//! 1. the source is only ever opened for reading; its SHA-256 is taken
//!    before and after and must be unchanged (else refused, no clone);
//! 2. the clone is built in a temp file beside its final place and checked
//!    (`PRAGMA quick_check`); truncated or non-database input is bad input;
//! 3. before anything else runs on it, every text/blob value is scanned for
//!    secrets ([`crate::intake::secrets`]); any finding not covered by an explicit
//!    allow-list decision refuses the intake and the temp clone is deleted;
//! 4. the birth-register surface is checked ([`surface_check`]): it
//!    decides only whether `births` scenarios can run on the clone; SQL
//!    change scripts rehearse on any clean clone, whatever its schema;
//! 5. only then is the clone stamped (provenance record, kind `clone`),
//!    renamed into place and bound by its sidecar, which records the source
//!    digests and every allow-list decision used.
//!
//! Format and walkthrough: docs/INTAKE.md.

pub mod load;
pub mod pg;
pub mod scan;
pub mod secrets;
pub mod surface_check;

use crate::guard::provenance::{IntakeNote, Record};
use crate::guard::{self, Refusal};
use crate::intake::secrets::AllowList;
use rusqlite::Connection;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Why intake could not run (exit 2), or was refused (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("{path}: {problem}")]
    BadDump { path: PathBuf, problem: String },
    #[error("allow-list {path}: {problem}")]
    AllowList { path: PathBuf, problem: String },
    #[error("{0}")]
    Workspace(String),
    #[error("{0}")]
    Refused(Refusal),
    #[error(transparent)]
    Write(#[from] crate::util::fsutil::WriteError),
    #[error(transparent)]
    Hash(#[from] crate::hash::HashError),
}

impl From<Refusal> for IntakeError {
    fn from(r: Refusal) -> Self {
        IntakeError::Refused(r)
    }
}

fn bad(path: &Path, problem: impl Into<String>) -> IntakeError {
    IntakeError::BadDump {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

/// What `rollproof intake` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// The operator's dump.
    pub dump: PathBuf,
    /// Clone name (`clones/<name>.db`); default: the dump's file stem.
    pub name: Option<String>,
    /// Allow-list of false positives.
    pub allow: Option<PathBuf>,
    /// Replace an existing clone of the same name.
    pub force: bool,
}

/// How an intake ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Clean: bound and ready to rehearse SQL changes (and `births` too
    /// when [`IntakeReport::births`] says the surface is complete).
    Accepted,
    /// Secrets found: refused, no clone kept.
    RefusedSecrets,
}

/// The intake report (`--json`).
#[derive(Debug, Clone, Serialize)]
pub struct IntakeReport {
    /// Outcome.
    pub verdict: Verdict,
    /// The dump as given.
    pub source: String,
    /// "sqlite" or "sql".
    pub source_format: String,
    /// SHA-256 of the dump before intake read it.
    pub source_sha256_before: String,
    /// SHA-256 of the dump after intake; must equal `before`.
    pub source_sha256_after: String,
    /// True when the dump's bytes did not change.
    pub source_unchanged: bool,
    /// The clone's path, when one was kept.
    pub clone: Option<PathBuf>,
    /// SHA-256 of the clone, when one was kept.
    pub clone_sha256: Option<String>,
    /// The clone's provenance record id.
    pub record_id: Option<String>,
    /// The leg a rehearsal on the clone reports.
    pub leg: Option<String>,
    /// The secret scan.
    pub secrets: scan::ScanResult,
    /// The surface check.
    pub surface: surface_check::SurfaceCheck,
    /// What a rehearsal on the clone can run: `sql` (up/down change
    /// scripts) on every clean clone, and `births` when the clone carries
    /// the complete birth-register surface.
    pub rehearsable: Vec<&'static str>,
}

/// A safe clone name: letters, digits, `.`, `_`, `-`; no leading dot.
fn clone_name(opts: &Options) -> Result<String, IntakeError> {
    let given = opts.name.clone().unwrap_or_else(|| {
        let stem = opts
            .dump
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        stem.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    });
    let name = given.strip_suffix(".db").unwrap_or(&given).to_string();
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !ok {
        return Err(bad(
            &opts.dump,
            format!(
                "clone name '{given}' is not allowed (use 1-64 letters, digits, '.', '_', '-')"
            ),
        ));
    }
    Ok(name)
}

fn load_allow(path: Option<&Path>) -> Result<(AllowList, Option<String>), IntakeError> {
    let Some(p) = path else {
        return Ok((AllowList::default(), None));
    };
    let err = |problem: String| IntakeError::AllowList {
        path: p.to_path_buf(),
        problem,
    };
    use crate::util::fsutil::{limit, read_bounded};
    let bytes = read_bounded(p, limit::ALLOW_LIST, "allow-list").map_err(|e| err(e.to_string()))?;
    let text = String::from_utf8(bytes.clone()).map_err(|_| err("is not UTF-8 text".into()))?;
    let list = AllowList::parse(&text).map_err(err)?;
    Ok((list, Some(crate::hash::sha256_hex(&bytes))))
}

/// Refuse a source whose latest state is not in the main file.
fn check_side_files(src: &Path) -> Result<(), IntakeError> {
    for (suffix, why) in [
        (
            "-wal",
            "has a write-ahead log beside it; checkpoint it first (PRAGMA wal_checkpoint(TRUNCATE)) so the dump is one file",
        ),
        (
            "-journal",
            "has a hot journal beside it: it was copied mid-transaction",
        ),
    ] {
        let mut side = src.as_os_str().to_os_string();
        side.push(suffix);
        if std::fs::metadata(&side).is_ok_and(|m| m.len() > 0) {
            return Err(bad(src, why));
        }
    }
    Ok(())
}

/// Take `opts.dump` in (module docs). `Ok` carries the report for every
/// completed check, including a refusal for secrets; `Err` is bad input or
/// a refusal that left nothing to report.
pub fn intake(opts: &Options) -> Result<IntakeReport, IntakeError> {
    let src = opts.dump.as_path();
    let meta = std::fs::metadata(src).map_err(|e| bad(src, format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(bad(src, "is not a regular file"));
    }
    let (allow, allow_sha) = load_allow(opts.allow.as_deref())?;
    let name = clone_name(opts)?;
    let root = guard::workspace()?;
    let dir = root.join("clones");
    std::fs::create_dir_all(&dir)
        .map_err(|e| IntakeError::Workspace(format!("cannot create {}: {e}", dir.display())))?;
    // Never through a symlink: the clone must really live in the workspace.
    let dest = guard::resolve_in(&root, &dir.join(format!("{name}.db")), true)?;
    if !opts.force && dest.exists() {
        return Err(crate::util::fsutil::WriteError::Exists { path: dest }.into());
    }
    if src.canonicalize().is_ok_and(|s| s == dest) {
        return Err(bad(
            src,
            "is the clone itself; take the dump in from outside the workspace",
        ));
    }

    let before = crate::hash::file_sha256_fresh(src)?.sha256;
    let format = load::detect(src)?;
    let mut tmp = crate::util::fsutil::temp_beside(&dest)?;
    match format {
        load::Format::Sqlite => {
            load::check_sqlite_header(src)?;
            check_side_files(src)?;
            let copied = load::copy_hashing(src, tmp.as_file_mut())?;
            if copied != before {
                return Err(Refusal::new(format!(
                    "{} changed while it was being read; intake needs a dump nobody is writing",
                    src.display()
                ))
                .into());
            }
        }
        load::Format::Sql => {
            let conn = Connection::open(tmp.path())
                .map_err(|e| IntakeError::Workspace(format!("cannot create the clone: {e}")))?;
            load::load_sql(src, &conn)?;
            conn.close()
                .map_err(|(_, e)| IntakeError::Workspace(format!("cannot close the clone: {e}")))?;
        }
    }

    let not_db = |e: rusqlite::Error| bad(src, format!("is not a usable SQLite database ({e})"));
    let conn = Connection::open(tmp.path()).map_err(not_db)?;
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(not_db)?;
    if check != "ok" {
        return Err(bad(
            src,
            format!("is damaged or truncated (quick_check: {check})"),
        ));
    }
    // One self-contained file: no WAL beside the clone.
    conn.pragma_update(None, "journal_mode", "DELETE")
        .map_err(not_db)?;
    // A provenance record that came with the dump proves nothing here: drop
    // it before the scan (so nothing hides in it); ours replaces it.
    conn.execute_batch(&format!(
        "DROP TABLE IF EXISTS {}",
        crate::guard::provenance::TABLE
    ))
    .map_err(not_db)?;
    let secrets = scan::scan(&conn, &allow).map_err(not_db)?;
    let surface = surface_check::check(&conn).map_err(not_db)?;
    let after = crate::hash::file_sha256_fresh(src)?.sha256;
    let mut report = IntakeReport {
        verdict: Verdict::RefusedSecrets,
        source: src.display().to_string(),
        source_format: format.as_str().to_string(),
        source_unchanged: before == after,
        source_sha256_before: before.clone(),
        source_sha256_after: after.clone(),
        clone: None,
        clone_sha256: None,
        record_id: None,
        leg: None,
        rehearsable: Vec::new(),
        secrets,
        surface,
    };
    if !report.source_unchanged {
        return Err(Refusal::new(format!(
            "{} changed during intake (sha256 {before} before, {after} after); no clone was kept",
            src.display()
        ))
        .into());
    }
    if report.secrets.findings_total > 0 {
        // `tmp` is deleted when dropped: a refused clone never becomes usable.
        drop(conn);
        drop(tmp);
        return Ok(report);
    }
    let key = crate::guard::provenance::workspace_key(&root)
        .map_err(|e| IntakeError::Workspace(format!("cannot use the workspace key: {e}")))?;
    Record::clone_of(&before, allow_sha.as_deref(), &key)
        .stamp(&conn)
        .map_err(|e| IntakeError::Workspace(format!("cannot stamp the clone: {e}")))?;
    conn.close()
        .map_err(|(_, e)| IntakeError::Workspace(format!("cannot close the clone: {e}")))?;
    crate::util::fsutil::commit(tmp, &dest, opts.force)?;
    let note = IntakeNote {
        source: src.display().to_string(),
        source_format: format.as_str().to_string(),
        source_sha256_before: before,
        source_sha256_after: after,
        taken_at: crate::util::timefmt::iso_millis(crate::util::timefmt::now_millis()),
        allowed_findings: report.secrets.allowed.clone(),
    };
    let bound = match guard::bind_new(&dest, Some(note)) {
        Ok(b) => b,
        Err(e) => {
            let _ = std::fs::remove_file(&dest);
            return Err(e.into());
        }
    };
    report.verdict = Verdict::Accepted;
    report.rehearsable = if report.surface.ok {
        vec!["sql", "births"]
    } else {
        vec!["sql"]
    };
    report.clone = Some(bound.path);
    report.clone_sha256 = Some(bound.sha256);
    report.record_id = Some(bound.record_id);
    report.leg = Some(bound.leg);
    Ok(report)
}
