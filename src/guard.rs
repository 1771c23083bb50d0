//! The fail-closed guard. Every write to a database asks it first; anything it
//! cannot prove safe is refused. The default state is HOLD.
//!
//! A database may be written only when rollproof can prove it is a surrogate
//! it generated or a clone it took in, *here*:
//! - it lies in rollproof's workspace ([`workspace`]: `ROLLPROOF_WORKSPACE`,
//!   default `rollproof-work/` at the project root), named without `..` and
//!   reached without any symlink at or below the workspace root;
//! - it carries a valid provenance record inside (see [`crate::guard::provenance`]);
//! - its sidecar beside it verifies under the workspace key, names this very
//!   path and the record's id, and its digest equals the file's bytes.
//!
//! Read-only *sources* (what [`adopt_copy`] copies from) need less: a valid
//! record inside; a sidecar is optional for a surrogate (committed fixtures
//! have none) but, when present, must verify; a clone always needs its
//! sidecar. Production-scope actions are decided by [`crate::guard::grant`];
//! database URLs by [`authorize_url`]. Policy and limits: docs/GUARD.md.

pub mod grant;
pub mod lock;
mod path;
pub mod provenance;
pub mod url;
pub mod workspace;

pub use path::resolve_in;
pub use workspace::{WORKSPACE_ENV, workspace};

pub use url::authorize_url;

use provenance::{Kind, Record, Sidecar};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A refusal by the guard. Commands map it to exit code 3.
#[derive(Debug, thiserror::Error)]
#[error("refused by guard: {reason}")]
pub struct Refusal {
    /// Why the guard said no, and what would make it say yes.
    pub reason: String,
}

impl Refusal {
    /// A refusal with this reason.
    pub fn new(reason: impl Into<String>) -> Self {
        Refusal {
            reason: reason.into(),
        }
    }
}

/// Files this process has authorized (canonical path → digest at the last
/// check or binding). [`rebind`] accepts only these, so it cannot launder a
/// file rollproof did not itself prove and then write.
static LEDGER: Mutex<BTreeMap<PathBuf, String>> = Mutex::new(BTreeMap::new());

fn ledger_set(path: &Path, sha: &str) {
    if let Ok(mut l) = LEDGER.lock() {
        l.insert(path.to_path_buf(), sha.to_string());
    }
}

fn ledger_has(path: &Path) -> bool {
    LEDGER.lock().map(|l| l.contains_key(path)).unwrap_or(false)
}

fn workspace_key(root: &Path) -> Result<Vec<u8>, Refusal> {
    provenance::workspace_key(root)
        .map_err(|e| Refusal::new(format!("cannot use the workspace key: {e}")))
}

/// The workspace root and its key (created on first use): what MACs on
/// rollproof's own records are made and checked with.
pub fn workspace_and_key() -> Result<(PathBuf, Vec<u8>), Refusal> {
    let root = workspace()?;
    let key = workspace_key(&root)?;
    Ok((root, key))
}

/// What the guard proved about a write target.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Bound {
    /// Canonical path of the database.
    pub path: PathBuf,
    /// Surrogate or clone.
    pub kind: Kind,
    /// Rehearsal leg ("surrogate" or "operator real-dump clone").
    pub leg: String,
    /// The provenance record id.
    pub record_id: String,
    /// SHA-256 of the file's bytes, equal to the sidecar's.
    pub sha256: String,
}

fn provenance_refusal(e: provenance::ProvenanceError) -> Refusal {
    Refusal::new(e.to_string())
}

/// Load and check the sidecar of `real` (a canonical path): MAC, path and
/// record id. The digest is checked by the caller when it matters.
fn checked_sidecar(key: &[u8], real: &Path, record: &Record) -> Result<Sidecar, Refusal> {
    let side_path = provenance::sidecar_path(real);
    if !side_path.exists() {
        return Err(Refusal::new(format!(
            "{} has no provenance sidecar ({}); only surrogates and clones adopted into the workspace may be written (rehearse makes such a working copy)",
            real.display(),
            side_path.display()
        )));
    }
    let side = Sidecar::load(real).map_err(provenance_refusal)?;
    if !side.mac_ok(key) {
        return Err(Refusal::new(format!(
            "{}: the sidecar was edited or made in another workspace (its MAC does not verify)",
            side_path.display()
        )));
    }
    if Path::new(&side.path) != real {
        return Err(Refusal::new(format!(
            "{}: the sidecar belongs to {}, not to this file (copied provenance)",
            side_path.display(),
            side.path
        )));
    }
    if side.record_id != record.record_id || side.kind != record.kind {
        return Err(Refusal::new(format!(
            "{}: the record inside the database does not match its sidecar (copied or replaced database)",
            real.display()
        )));
    }
    if record.kind == Kind::Clone && !record.mac_ok(key) {
        return Err(Refusal::new(format!(
            "{}: its clone record was not written by this workspace's intake (its MAC does not verify)",
            real.display()
        )));
    }
    Ok(side)
}

fn check_application_id(real: &Path, record: &Record) -> Result<(), Refusal> {
    if record.kind != Kind::Surrogate {
        return Ok(());
    }
    let conn = provenance::open_read_only(real).map_err(provenance_refusal)?;
    let id: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(|e| Refusal::new(format!("{}: {e}", real.display())))?;
    if id != crate::surface::APPLICATION_ID {
        return Err(Refusal::new(format!(
            "{} claims to be a surrogate but lacks rollproof's application_id",
            real.display()
        )));
    }
    Ok(())
}

fn digest_of(real: &Path) -> Result<crate::hash::FileDigest, Refusal> {
    crate::hash::file_sha256(real).map_err(|e| Refusal::new(e.to_string()))
}

/// Prove that `db` is a writable surrogate or clone (see module docs),
/// without recording anything. `rollproof guard target` shows this.
pub fn inspect_target(db: &Path) -> Result<Bound, Refusal> {
    // A read-only question: neither the workspace nor its key is created.
    let Some(root) = workspace::existing()? else {
        return Err(Refusal::new(format!(
            "{} is not in a workspace: there is no workspace at {} yet (rehearse and intake make one)",
            db.display(),
            workspace::location()?.display()
        )));
    };
    let key = provenance::existing_workspace_key(&root)
        .map_err(|e| Refusal::new(format!("cannot use the workspace key: {e}")))?
        .ok_or_else(|| {
            Refusal::new(format!(
                "nothing in the workspace {} was bound by rollproof yet (it has no key)",
                root.display()
            ))
        })?;
    let real = resolve_in(&root, db, false)?;
    let meta = std::fs::symlink_metadata(&real)
        .map_err(|e| Refusal::new(format!("cannot inspect {}: {e}", real.display())))?;
    if !meta.file_type().is_file() {
        return Err(Refusal::new(format!(
            "{} is not a regular file",
            db.display()
        )));
    }
    // A hard link would carry our writes to another name, perhaps outside
    // the workspace.
    #[cfg(unix)]
    if std::os::unix::fs::MetadataExt::nlink(&meta) > 1 {
        return Err(Refusal::new(format!(
            "{} has other hard links; a write would change them too",
            db.display()
        )));
    }
    let record = provenance::read_record(&real).map_err(provenance_refusal)?;
    let side = checked_sidecar(&key, &real, &record)?;
    let digest = digest_of(&real)?;
    if digest.sha256 != side.sha256 || digest.size != side.size {
        return Err(Refusal::new(format!(
            "{}: its bytes changed since rollproof last bound them (sha256 {} now, {} bound); something else wrote to it",
            real.display(),
            digest.sha256,
            side.sha256
        )));
    }
    check_application_id(&real, &record)?;
    Ok(Bound {
        leg: record.kind.leg().to_string(),
        path: real,
        kind: record.kind,
        record_id: record.record_id,
        sha256: digest.sha256,
    })
}

/// Ask before writing to the SQLite database at `db`. Allowed only for a
/// surrogate or clone in the workspace whose provenance proves it (module
/// docs); remembered so that [`rebind`] may follow rollproof's own writes.
pub fn authorize_write(db: &Path) -> Result<(), Refusal> {
    let bound = inspect_target(db)?;
    ledger_set(&bound.path, &bound.sha256);
    Ok(())
}

/// Check a read-only source: a valid record inside; its sidecar, when
/// present, must verify and match the bytes; a clone must have one.
fn verify_source(
    root: &Path,
    key: &[u8],
    src: &Path,
) -> Result<(PathBuf, Record, Option<Sidecar>), Refusal> {
    let real = src
        .canonicalize()
        .map_err(|e| Refusal::new(format!("cannot resolve source {}: {e}", src.display())))?;
    if !real.is_file() {
        return Err(Refusal::new(format!(
            "{} is not a regular file",
            src.display()
        )));
    }
    let record = provenance::read_record(&real).map_err(provenance_refusal)?;
    let side = if provenance::sidecar_path(&real).exists() {
        let side = checked_sidecar(key, &real, &record)?;
        Some(side)
    } else if record.kind == Kind::Clone {
        return Err(Refusal::new(format!(
            "{} is a clone without its sidecar; clones are usable only in the workspace {} that took them in",
            src.display(),
            root.display()
        )));
    } else {
        None
    };
    check_application_id(&real, &record)?;
    Ok((real, record, side))
}

/// Make `dest` (a new path inside the workspace) a working copy of the
/// surrogate or clone `src`, so a rehearsal can write to it. The copy is
/// streamed, `src` is only read, and `dest` gets its own sidecar.
pub fn adopt_copy(src: &Path, dest: &Path) -> Result<(), Refusal> {
    let root = workspace()?;
    let key = workspace_key(&root)?;
    let real_dest = resolve_in(&root, dest, true)?;
    if real_dest.exists() && !std::fs::symlink_metadata(&real_dest).is_ok_and(|m| m.is_file()) {
        return Err(Refusal::new(format!(
            "{} is not a regular file",
            dest.display()
        )));
    }
    let (real_src, record, src_side) = verify_source(&root, &key, src)?;
    if real_src == real_dest {
        return Err(Refusal::new(format!(
            "{} cannot be a working copy of itself",
            dest.display()
        )));
    }
    let parent = crate::util::fsutil::parent_dir(&real_dest);
    std::fs::create_dir_all(parent)
        .map_err(|e| Refusal::new(format!("cannot create {}: {e}", parent.display())))?;
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        Refusal::new(format!(
            "cannot copy {} to {} ({what}): {e}",
            src.display(),
            dest.display()
        ))
    };
    let mut tmp =
        crate::util::fsutil::temp_beside(&real_dest).map_err(|e| fail("temp file", &e))?;
    let (sha256, size) = {
        let mut input =
            crate::util::fsutil::open_regular_io(&real_src).map_err(|e| fail("open", &e))?;
        let meta = input.metadata().map_err(|e| fail("stat", &e))?;
        let start = crate::hash::memo::settle_before_read(&meta);
        // A kernel copy (copy_file_range), then one read of the copy: its
        // digest is the working copy's and, the source being unchanged
        // meanwhile, the source's too (remembered for the end-of-run check).
        std::io::copy(&mut input, tmp.as_file_mut()).map_err(|e| fail("copy", &e))?;
        let digest =
            crate::hash::file_sha256_as(tmp.path(), &real_dest).map_err(|e| fail("hash", &e))?;
        if let Ok(after) = input.metadata() {
            crate::hash::memo::record(start, &meta, &after, &digest);
        }
        (digest.sha256, digest.size)
    };
    // Without a sidecar, a surrogate proves itself by regenerating from its
    // record (a copied record does not regenerate to a foreign database).
    if src_side.is_none() {
        provenance::prove_generated(&real_src, &record, &sha256)?;
    }
    if let Some(side) = &src_side
        && side.sha256 != sha256
    {
        return Err(Refusal::new(format!(
            "{}: its bytes changed since rollproof bound them (sha256 {sha256}, bound {})",
            src.display(),
            side.sha256
        )));
    }
    // The copy itself must carry the record we verified (closes the window
    // between checking the source and reading it).
    let copied = provenance::read_record(tmp.path()).map_err(provenance_refusal)?;
    if copied != record {
        return Err(Refusal::new(format!(
            "{} changed while it was being copied",
            src.display()
        )));
    }
    // No fsync: a working copy is scratch (a crash loses the run, which is
    // started again), and syncing a gigabyte costs seconds.
    tmp.persist(&real_dest)
        .map_err(|e| fail("rename", &e.error))?;
    crate::hash::memo::renamed(&real_dest);
    let mut side = Sidecar {
        format: provenance::FORMAT,
        record_id: record.record_id.clone(),
        kind: record.kind,
        path: real_dest.display().to_string(),
        sha256: sha256.clone(),
        size,
        bound_at: crate::util::timefmt::iso_millis(crate::util::timefmt::now_millis()),
        copied_from: Some(real_src.display().to_string()),
        intake: src_side.and_then(|s| s.intake),
        mac: String::new(),
    };
    side.seal(&key);
    side.store(&real_dest).map_err(provenance_refusal)?;
    ledger_set(&real_dest, &sha256);
    Ok(())
}

/// Bind a database rollproof has just created in the workspace (an intake
/// clone) by writing its first sidecar. Crate-internal: only code that made
/// the file itself may vouch for it.
pub(crate) fn bind_new(
    db: &Path,
    intake: Option<provenance::IntakeNote>,
) -> Result<Bound, Refusal> {
    let root = workspace()?;
    let key = workspace_key(&root)?;
    let real = resolve_in(&root, db, false)?;
    let record = provenance::read_record(&real).map_err(provenance_refusal)?;
    let digest = digest_of(&real)?;
    let mut side = Sidecar {
        format: provenance::FORMAT,
        record_id: record.record_id.clone(),
        kind: record.kind,
        path: real.display().to_string(),
        sha256: digest.sha256.clone(),
        size: digest.size,
        bound_at: crate::util::timefmt::iso_millis(crate::util::timefmt::now_millis()),
        copied_from: None,
        intake,
        mac: String::new(),
    };
    side.seal(&key);
    side.store(&real).map_err(provenance_refusal)?;
    ledger_set(&real, &digest.sha256);
    Ok(Bound {
        leg: record.kind.leg().to_string(),
        path: real,
        kind: record.kind,
        record_id: record.record_id,
        sha256: digest.sha256,
    })
}

/// After rollproof's own writes to `db`, re-bind its provenance to the new
/// bytes, so later writes are still recognised as ours. Only for a file this
/// process authorized ([`authorize_write`] or [`adopt_copy`]) whose record
/// and sidecar still match: it never vouches for a foreign file.
pub fn rebind(db: &Path) -> Result<(), Refusal> {
    let root = workspace()?;
    let key = workspace_key(&root)?;
    let real = resolve_in(&root, db, false)?;
    if !ledger_has(&real) {
        return Err(Refusal::new(format!(
            "{} was not authorized for writing by this process; rebind only follows authorize_write",
            db.display()
        )));
    }
    let record = provenance::read_record(&real).map_err(provenance_refusal)?;
    let mut side = checked_sidecar(&key, &real, &record)?;
    let digest = digest_of(&real)?;
    side.sha256 = digest.sha256.clone();
    side.size = digest.size;
    side.bound_at = crate::util::timefmt::iso_millis(crate::util::timefmt::now_millis());
    side.seal(&key);
    side.store(&real).map_err(provenance_refusal)?;
    ledger_set(&real, &digest.sha256);
    Ok(())
}
