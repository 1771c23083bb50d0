//! `verify --artifacts DIR`: every digest the report records for a phase,
//! recomputed from the bytes of the kept file (`rehearse --keep DIR`).
//!
//! DIR is the folder `rehearse --keep` was given; the run's own folder
//! under it, `DIR/<scenario>/<stamp>-<run id>`, follows from the report
//! ([`run_dir`]). Every artifact of every recorded phase must be there —
//! nothing the report says (a null digest, a claimed `-journal`) makes one
//! optional — and so must the copy of the report itself.
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
//!   bytes are compared — and the journal must have been kept too, so a
//!   made-up `-journal` in `stray_files` skips nothing.

use super::Problem;
use crate::evidence::report::{Phase, Report};
use std::path::{Path, PathBuf};

/// The file name a kept artifact of a phase has inside the artifacts folder.
pub fn file_name(phase: &str) -> String {
    format!("{}.db", phase.replace('_', "-"))
}

/// The run's folder under the `--keep` folder: `<scenario>/<stamp>-<id>`,
/// the report's file name without `.json`.
pub fn run_dir(r: &Report, keep: &Path) -> PathBuf {
    let name = r.file_name();
    let stem = name.strip_suffix(".json").unwrap_or(&name);
    keep.join(&r.scenario.name).join(stem)
}

/// The kept file of each recorded phase: (phase, path, phase).
pub fn expected_files<'r>(r: &'r Report, dir: &Path) -> Vec<(&'static str, PathBuf, &'r Phase)> {
    crate::proof::rules::phases(r)
        .into_iter()
        .map(|(name, ph)| (name, dir.join(file_name(name)), ph))
        .collect()
}

/// Re-hash every kept artifact of the run under `keep` against the report
/// (`report_bytes`: the report file as read).
pub fn check(r: &Report, keep: &Path, report_bytes: &[u8]) -> Vec<Problem> {
    let mut out = Vec::new();
    if r.backend != "sqlite" {
        out.push(Problem::new(
            "artifact-missing",
            format!(
                "a {} report keeps no database files whose digests could be compared",
                r.backend
            ),
        ));
        return out;
    }
    let dir = run_dir(r, keep);
    if !dir.is_dir() {
        out.push(Problem::new(
            "artifact-missing",
            format!(
                "{} does not exist: give the folder `rehearse --keep` was given (the run's folder <scenario>/<stamp>-<id> is found under it)",
                dir.display()
            ),
        ));
        return out;
    }
    let copy = dir.join("report.json");
    match std::fs::read(&copy) {
        Ok(b) if b == report_bytes => {}
        Ok(_) => out.push(Problem::new(
            "artifact-report",
            format!("{} is not the same report", copy.display()),
        )),
        Err(e) => out.push(Problem::new(
            "artifact-missing",
            format!("{}: {e}", copy.display()),
        )),
    }
    for (name, path, ph) in expected_files(r, &dir) {
        let in_tx = r.methods.rollback == "transaction" && name == "after_apply";
        // Inside the transaction its own (live, not hot) journal is beside the file.
        let hot = !in_tx && ph.stray_files.iter().any(|f| f.ends_with("-journal"));
        if hot {
            let journal = crate::engine::sqlite::snapshot::sidecars(&path)[2].clone();
            if !journal.is_file() {
                out.push(Problem::new(
                    "artifact-missing",
                    format!(
                        "{name}: the report says a -journal was beside the file, but {} was not kept",
                        journal.display()
                    ),
                ));
                continue;
            }
        }
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
        // A null digest compares unequal too: it never skips the artifact.
        out.push(Problem::new(
            "artifact-sha256",
            format!(
                "{name}: {shown} has SHA-256 {}, the report records {}",
                digest.sha256,
                ph.file_sha256.as_deref().unwrap_or("none")
            ),
        ));
    }
    if bytes && ph.size != Some(digest.size) {
        out.push(Problem::new(
            "artifact-size",
            format!(
                "{name}: {shown} is {} bytes, the report records {}",
                digest.size,
                ph.size.map_or("none".to_string(), |s| s.to_string())
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
    {
        match crate::engine::sqlite::sha3sum::sha3sum_file(path) {
            Ok(s) if Some(&s) != ph.sha3.as_ref() => out.push(Problem::new(
                "artifact-sha3",
                format!(
                    "{name}: {shown} has .sha3sum digest {s}, the report records {}",
                    ph.sha3.as_deref().unwrap_or("none")
                ),
            )),
            Ok(_) => {}
            Err(e) => out.push(Problem::new("artifact-sha3", format!("{name}: {e}"))),
        }
    }
    out
}
