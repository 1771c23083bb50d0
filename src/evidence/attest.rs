//! In-toto attestation of a proof report (`rollproof report attest`): an
//! in-toto Statement v1 whose subjects are the surrogate and the phase
//! artifacts with their SHA-256 digests (for a migrations folder report:
//! the folder's migration files) and whose predicate is the sealed
//! report itself, unchanged, so the evidence travels with standard
//! supply-chain tooling (in-toto, Sigstore `cosign attest --type`, SLSA
//! verifiers) and the seal can still be re-checked from the predicate.
//!
//! The Statement travels in a signed DSSE envelope (as in-toto uses it):
//! `payloadType` [`PAYLOAD_TYPE`], `payload` the Statement's bytes in
//! base64, and one signature over the DSSE pre-authentication encoding
//! ([`pae`]) made with the report signing key: an SSHSIG blob in namespace
//! `rollproof-report`, base64, so that `ssh-keygen -Y verify` checks it
//! once it is put back in its armor (docs/REPORT.md shows the commands).

use crate::evidence::report::Report;
use crate::evidence::sign::{self, SigningKey};
use base64::Engine;
use serde_json::{Value, json};

/// The DSSE payload type of an in-toto Statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// DSSE's pre-authentication encoding, the bytes that are signed:
/// `DSSEv1 SP len(type) SP type SP len(payload) SP payload`, lengths in
/// ASCII decimal bytes.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// A DSSE envelope around `statement` (its exact bytes), signed with `key`.
pub fn envelope(statement: &[u8], key: &SigningKey) -> Result<Value, sign::KeyError> {
    let sig = key.sign_base64(sign::NS_REPORT, &pae(PAYLOAD_TYPE, statement))?;
    Ok(json!({
        "payloadType": PAYLOAD_TYPE,
        "payload": base64::engine::general_purpose::STANDARD.encode(statement),
        "signatures": [ { "keyid": key.fingerprint(), "sig": sig } ],
    }))
}

/// The parts of a DSSE envelope, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `payloadType`.
    pub payload_type: String,
    /// The decoded payload bytes.
    pub payload: Vec<u8>,
    /// `signatures[].sig`, base64 as written.
    pub sigs: Vec<String>,
}

/// Read a DSSE envelope; `Err` says what is wrong with its form.
pub fn open_envelope(v: &Value) -> Result<Envelope, String> {
    let obj = v.as_object().ok_or("the envelope is not a JSON object")?;
    if let Some(k) = obj
        .keys()
        .find(|k| !["payloadType", "payload", "signatures"].contains(&k.as_str()))
    {
        return Err(format!("unknown envelope field `{k}`"));
    }
    let payload_type = obj
        .get("payloadType")
        .and_then(Value::as_str)
        .ok_or("`payloadType` is missing or not a string")?
        .to_string();
    let payload = obj
        .get("payload")
        .and_then(Value::as_str)
        .ok_or("`payload` is missing or not a string")?;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .map_err(|e| format!("`payload` is not base64: {e}"))?;
    let sigs = obj
        .get("signatures")
        .and_then(Value::as_array)
        .ok_or("`signatures` is missing or not an array")?
        .iter()
        .map(|s| {
            s.get("sig")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or("a signature has no `sig` string")
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Envelope {
        payload_type,
        payload,
        sigs,
    })
}

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

/// The subjects of a migrations folder report: every migration file, under
/// `migrations/<path in the folder>`, with its SHA-256 (the folder's
/// manifest digest is computed over exactly these).
pub fn migrations_subjects(m: &crate::migrations::report::MigrationsReport) -> Vec<Value> {
    m.folder
        .files
        .iter()
        .map(|(path, sha)| subject(format!("migrations/{path}"), sha))
        .collect()
}

/// The in-toto Statement for a migrations folder report, as [`statement`]
/// for a rehearsal's: same types, its files as subjects, the report
/// exactly as read as the predicate.
pub fn migrations_statement(
    m: &crate::migrations::report::MigrationsReport,
    report_json: Value,
) -> Value {
    json!({
        "_type": STATEMENT_TYPE,
        "subject": migrations_subjects(m),
        "predicateType": PREDICATE_TYPE,
        "predicate": report_json,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_is_the_dsse_encoding() {
        // The example of the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn an_envelope_opens_and_its_signature_verifies() {
        let key = crate::evidence::sign::tests::key(9);
        let trust = crate::evidence::sign::tests::trust_of(&format!("ci@x {}", key.public_line()));
        let env = envelope(br#"{"_type":"x"}"#, &key).unwrap();
        let e = open_envelope(&env).unwrap();
        assert_eq!(e.payload, br#"{"_type":"x"}"#);
        let msg = pae(&e.payload_type, &e.payload);
        assert!(sign::verify_base64(&trust, sign::NS_REPORT, &msg, &e.sigs[0], 0).is_ok());
        let mut extra = env.clone();
        extra["x"] = 1.into();
        assert!(open_envelope(&extra).is_err());
    }
}
