//! In-toto attestation of a proof report (`rollproof report attest`): an
//! in-toto Statement v1 whose subjects are the surrogate and the phase
//! artifacts with their SHA-256 digests and whose predicate is the sealed
//! report itself, unchanged, so the evidence travels with standard
//! supply-chain tooling (in-toto, Sigstore `cosign attest --type`, SLSA
//! verifiers) and the seal can still be re-checked from the predicate.
//!
//! The Statement is unsigned: sign it with the tooling of your choice
//! (e.g. wrap it in a DSSE envelope). See docs/REPORT.md.

use crate::evidence::report::Report;
use serde_json::{Value, json};

/// `_type` of an in-toto Statement, version 1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// The predicate type of a rollproof proof report (docs/REPORT.md).
pub const PREDICATE_TYPE: &str = "https://rollproof.dev/attestation/rollback-proof/v1";

/// One in-toto subject: a name and its digests.
fn subject(name: String, sha256: &str) -> Value {
    json!({ "name": name, "digest": { "sha256": sha256 } })
}

/// The name the surrogate goes by in the Statement: its file name, or its
/// profile and seed when it was generated.
pub fn surrogate_name(r: &Report) -> String {
    let g = &r.surrogate;
    if let Some(f) = &g.file {
        let base = std::path::Path::new(f)
            .file_name()
            .map(|b| b.to_string_lossy().into_owned())
            .unwrap_or_else(|| f.clone());
        return format!("surrogate/{base}");
    }
    let profile = g
        .profile
        .as_deref()
        .and_then(|p| std::path::Path::new(p).file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "surrogate".into());
    match g.seed {
        Some(seed) => format!("surrogate/{profile}-seed{seed}.db"),
        None => format!("surrogate/{profile}.db"),
    }
}

/// The subjects: the surrogate, then every file-backed phase artifact under
/// the name it is kept as (`rehearse --keep`), each with its SHA-256.
pub fn subjects(r: &Report) -> Vec<Value> {
    let mut out = vec![subject(surrogate_name(r), &r.surrogate.sha256)];
    for (name, ph) in crate::proof::rules::phases(r) {
        if let Some(sha) = &ph.file_sha256 {
            out.push(subject(
                format!(
                    "artifacts/{}",
                    crate::evidence::verify::artifacts::file_name(name)
                ),
                sha,
            ));
        }
    }
    out
}

/// The in-toto Statement for a report. `report_json` is the report exactly
/// as read from disk (parsed), so the predicate carries the sealed content.
pub fn statement(r: &Report, report_json: Value) -> Value {
    json!({
        "_type": STATEMENT_TYPE,
        "subject": subjects(r),
        "predicateType": PREDICATE_TYPE,
        "predicate": report_json,
    })
}
