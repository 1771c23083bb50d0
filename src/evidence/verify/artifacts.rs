//! `verify --artifacts DIR`: every digest the report records for a phase,
//! recomputed from the bytes of the kept file (`rehearse --keep DIR`).
//!
//! Normally both the bytes (file SHA-256, size) and the content (logical
//! hash, `.sha3sum`) are compared. Two phases are kept differently, and for
//! them only what the kept file can reproduce is compared:
//!
//! * after_apply under `rollback = transaction` was measured inside the open
//!   transaction; the main file held only what the page cache had spilled,
//!   so the engine keeps a logical copy of the transaction's view. Its
//!   content is compared, not its bytes.
//! * a phase with a hot `-journal` beside the file is kept as file plus
//!   journal; opening it would roll the journal back (a write), so only its
//!   bytes are compared.

use super::Problem;
use crate::evidence::report::{Phase, Report};
use std::path::{Path, PathBuf};

/// The file name a kept artifact of a phase has inside the artifacts folder.
pub fn file_name(phase: &str) -> String {
    format!("{}.db", phase.replace('_', "-"))
}

/// The kept file of each recorded file-backed phase: (phase, path, phase).
pub fn expected_files<'r>(r: &'r Report, dir: &Path) -> Vec<(&'static str, PathBuf, &'r Phase)> {
    super::rules::phases(r)
        .into_iter()
        .filter(|(_, ph)| ph.file_sha256.is_some())
        .map(|(name, ph)| (name, dir.join(file_name(name)), ph))
        .collect()
}

/// Re-hash every kept artifact against the report.
pub fn check(r: &Report, dir: &Path) -> Vec<Problem> {
    let mut out = Vec::new();
    if !dir.is_dir() {
        out.push(Problem::new(
            "artifact-missing",
            format!("artifacts folder {} does not exist", dir.display()),
        ));
        return out;
    }
    let files = expected_files(r, dir);
    if files.is_empty() {
        out.push(Problem::new(
            "artifact-missing",
            "the report records no file digests to compare with kept artifacts",
        ));
    }
    for (name, path, ph) in files {
        let in_tx = r.methods.rollback == "transaction" && name == "after_apply";
        // Inside the transaction its own (live, not hot) journal is beside the file.
        let hot = !in_tx && ph.stray_files.iter().any(|f| f.ends_with("-journal"));
        out.extend(check_one(name, &path, ph, !in_tx, !hot));
    }
    out
}

/// Compare one kept file: its bytes and/or its content.
fn check_one(name: &str, path: &Path, ph: &Phase, bytes: bool, content: bool) -> Vec<Problem> {
    let shown = path.display();
    let digest = match crate::hash::file_sha256(path) {
        Ok(d) => d,
        Err(e) => {
            return vec![Problem::new(
                "artifact-missing",
                format!("{name}: kept file {shown} cannot be read: {}", e.source),
            )];
        }
    };
    let mut out = Vec::new();
    if bytes && ph.file_sha256.as_deref() != Some(digest.sha256.as_str()) {
        out.push(Problem::new(
            "artifact-sha256",
            format!(
                "{name}: {shown} has SHA-256 {}, the report records {}",
                digest.sha256,
                ph.file_sha256.as_deref().unwrap_or("none")
            ),
        ));
    }
    if let Some(size) = ph.size
        && bytes
        && size != digest.size
    {
        out.push(Problem::new(
            "artifact-size",
            format!(
                "{name}: {shown} is {} bytes, the report records {size}",
                digest.size
            ),
        ));
    }
    if !content {
        return out;
    }
    match crate::engine::sqlite::logical::digest_file(path) {
        Ok(l) if l.sha256 != ph.logical.sha256 => out.push(Problem::new(
            "artifact-logical",
            format!(
                "{name}: {shown} has logical hash {}, the report records {}",
                l.sha256, ph.logical.sha256
            ),
        )),
        Ok(_) => {}
        Err(e) => out.push(Problem::new(
            "artifact-logical",
            format!("{name}: {shown}: {e}"),
        )),
    }
    if let Some(rec) = &ph.sha3 {
        match crate::engine::sqlite::sha3sum::sha3sum_file(path) {
            Ok(s) if s != *rec => out.push(Problem::new(
                "artifact-sha3",
                format!("{name}: {shown} has .sha3sum digest {s}, the report records {rec}"),
            )),
            Ok(_) => {}
            Err(e) => out.push(Problem::new("artifact-sha3", format!("{name}: {e}"))),
        }
    }
    out
}
