//! The canonical validator of proof reports (`rollproof verify`).
//!
//! It trusts nothing the report says about itself. In order it checks:
//! the bytes are JSON; the `seal` is present and equals the SHA-256 of the
//! canonical bytes without it; the file is byte-for-byte the canonical
//! rendering (so even a whitespace edit is caught); the `schema_version` is
//! one this build reads; every field is present with its type
//! (`docs/report.schema.json`, compiled in); and then the report's own
//! numbers against its claims ([`rules`]). With kept artifacts it re-hashes
//! their bytes and contents ([`artifacts`]).
//!
//! Every problem has a stable code and a one-line reason; all problems are
//! collected rather than stopping at the first, except where the structure
//! is too broken to read further.
//!
//! Consistency is not evidence: with a trust file, the report's signature
//! is checked too ([`signature`]); an unsigned or untrusted-signed report
//! may be consistent, but it is not evidence.

pub mod artifacts;
pub mod signature;

use crate::proof::rules;

use crate::evidence::attest;
use crate::evidence::report::{self, Report};
use crate::evidence::sign::{self, Trust};
use serde_json::Value;
pub use signature::Signature;
use std::path::Path;
use std::sync::OnceLock;

/// The JSON Schema of the report format, as shipped in the repository.
pub const REPORT_SCHEMA: &str = include_str!("../../docs/report.schema.json");

/// Why a report could not even be read: not a regular file, larger than
/// any report (`fsutil::limit::REPORT`), or unreadable.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Read(#[from] crate::util::fsutil::InputError),
}

/// One reason a report is rejected.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Stable, kebab-case code, e.g. `seal-broken` (docs/REPORT.md lists them).
    pub code: &'static str,
    /// One line: what is wrong, with the values involved.
    pub message: String,
}

impl Problem {
    /// A problem with a code and a message.
    pub fn new(code: &'static str, message: impl Into<String>) -> Problem {
        Problem {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// The result of checking one report.
#[derive(Debug)]
pub struct Checked {
    /// The typed report, when the structure was sound enough to read.
    pub report: Option<Report>,
    /// A migrations folder report (`kind = "migrations"`), when it is one.
    pub migrations: Option<crate::migrations::report::MigrationsReport>,
    /// Every problem found; empty means the report is accepted.
    pub problems: Vec<Problem>,
    /// Its signature (not checked without a trust file).
    pub signature: Signature,
}

impl Checked {
    /// True when nothing was found wrong: the report is consistent.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// Consistent and signed by a trusted key: evidence.
    pub fn evidence(&self) -> bool {
        self.ok() && self.signature.trusted()
    }
}

/// What a report says about itself that evidence records, whatever its
/// kind (a rehearsal, or a migrations folder run): what `promote` files it
/// under and `attach` writes on a blocker. Read from a checked report only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// Its seal.
    pub seal: String,
    /// The blocker it is evidence for.
    pub blocker: String,
    /// PASS or FAIL.
    pub verdict: report::Verdict,
    /// `byte-exact` or `logical-only` (a migrations folder: every step's
    /// down is proven by the logical digest, so `logical-only`).
    pub proof: String,
    /// The evidence leg.
    pub leg: String,
    /// What it ran on: the surrogate's SHA-256; for a migrations folder
    /// the folder's manifest digest (its database is built from the
    /// folder's own files).
    pub subject_sha256: String,
    /// The folder it is filed in under `reports/`: the scenario's name, or
    /// `migrations-<folder>`.
    pub name: String,
    /// When the run started.
    pub started_at: String,
    /// Why it is a dry run, if it is one (never evidence).
    pub dry_run: Option<String>,
}

impl Facts {
    /// A rehearsal's facts.
    pub fn of_report(r: &Report) -> Facts {
        Facts {
            seal: r.seal.clone(),
            blocker: r.blocker.clone(),
            verdict: r.verdict,
            proof: r.proof.to_string(),
            leg: r.leg.clone(),
            subject_sha256: r.surrogate.sha256.clone(),
            name: r.scenario.name.clone(),
            started_at: r.started_at.clone(),
            dry_run: r.dry_run.clone(),
        }
    }

    /// A migrations folder report's facts.
    pub fn of_migrations(m: &crate::migrations::report::MigrationsReport) -> Facts {
        use crate::evidence::report::Sealed;
        Facts {
            seal: m.seal.clone(),
            blocker: m.blocker.clone(),
            verdict: m.verdict,
            proof: report::Proof::LogicalOnly.to_string(),
            leg: m.leg.clone(),
            subject_sha256: m.folder.manifest_sha256.clone(),
            name: m.report_folder(),
            started_at: m.started_at.clone(),
            dry_run: None,
        }
    }
}

impl Checked {
    /// The report's facts, when it could be read (of either kind).
    pub fn facts(&self) -> Option<Facts> {
        self.report
            .as_ref()
            .map(Facts::of_report)
            .or_else(|| self.migrations.as_ref().map(Facts::of_migrations))
    }
}

fn unread(problems: Vec<Problem>) -> Checked {
    Checked {
        report: None,
        migrations: None,
        problems,
        signature: Signature::NotChecked,
    }
}

/// The compiled report schema (compiled once per process).
fn validator() -> Result<&'static jsonschema::Validator, String> {
    static V: OnceLock<Result<jsonschema::Validator, String>> = OnceLock::new();
    V.get_or_init(|| {
        let schema: Value = serde_json::from_str(REPORT_SCHEMA)
            .map_err(|e| format!("docs/report.schema.json is not JSON: {e}"))?;
        jsonschema::validator_for(&schema)
            .map_err(|e| format!("docs/report.schema.json is not a valid schema: {e}"))
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// Problems of a JSON value against the report schema, one per violation,
/// each naming the field by its JSON pointer.
pub fn schema_problems(v: &Value) -> Vec<Problem> {
    match validator() {
        Err(e) => vec![Problem::new("schema", e)],
        Ok(val) => val
            .iter_errors(v)
            .map(|e| {
                let at = e.instance_path().to_string();
                let at = if at.is_empty() { "/".to_string() } else { at };
                Problem::new("schema", format!("field {at}: {e}"))
            })
            .collect(),
    }
}

/// The exact bytes `Report::write` produces for this content.
fn canonical_file_bytes(v: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(&report::canonicalize(v)).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// Check a report's bytes (without artifacts).
/// An in-toto Statement (`rollproof report attest`) is checked too: its
/// predicate as a report, and its subjects against the predicate's digests.
pub fn check_bytes(bytes: &[u8]) -> Checked {
    let v: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => return unread(vec![Problem::new("not-json", format!("not JSON: {e}"))]),
    };
    if v.get("payloadType").is_some() {
        check_envelope(&v)
    } else if v.get("_type").is_some() {
        check_statement(v)
    } else {
        check_value(v, Some(bytes))
    }
}

/// Check a DSSE envelope: its form, then the Statement it carries.
fn check_envelope(v: &Value) -> Checked {
    let env = match attest::open_envelope(v) {
        Ok(e) => e,
        Err(e) => return unread(vec![Problem::new("envelope", e)]),
    };
    let mut problems = Vec::new();
    if env.payload_type != attest::PAYLOAD_TYPE {
        problems.push(Problem::new(
            "envelope",
            format!(
                "payloadType is {}, expected {}",
                env.payload_type,
                attest::PAYLOAD_TYPE
            ),
        ));
    }
    if env.sigs.is_empty() {
        problems.push(Problem::new(
            "envelope",
            "the envelope carries no signature",
        ));
    }
    let mut checked = match serde_json::from_slice::<Value>(&env.payload) {
        Ok(statement) => check_statement(statement),
        Err(e) => unread(vec![Problem::new(
            "envelope",
            format!("the payload is not JSON: {e}"),
        )]),
    };
    problems.append(&mut checked.problems);
    checked.problems = problems;
    checked
}

/// The signature state of `bytes` read from `path`: inside a DSSE envelope,
/// else the detached `<path>.sig`.
fn signature_of(path: &Path, bytes: &[u8], trust: &Trust, now_ms: i64) -> Signature {
    let envelope = serde_json::from_slice::<Value>(bytes)
        .ok()
        .filter(|v| v.get("payloadType").is_some());
    let Some(v) = envelope else {
        return signature::detached(path, bytes, sign::NS_REPORT, trust, now_ms);
    };
    let env = match attest::open_envelope(&v) {
        Ok(e) => e,
        Err(reason) => {
            return Signature::Invalid {
                file: "envelope".into(),
                reason,
            };
        }
    };
    let msg = attest::pae(&env.payload_type, &env.payload);
    let mut out = Signature::Unsigned {
        file: "envelope".into(),
    };
    for sig in &env.sigs {
        out = Signature::from_result(
            "envelope".into(),
            sign::verify_base64(trust, sign::NS_REPORT, &msg, sig, now_ms),
        );
        if out.trusted() {
            break;
        }
    }
    out
}

/// Check an in-toto Statement wrapping a report.
fn check_statement(mut v: Value) -> Checked {
    let mut problems = Vec::new();
    for (key, want) in [
        ("_type", crate::evidence::attest::STATEMENT_TYPE),
        ("predicateType", crate::evidence::attest::PREDICATE_TYPE),
    ] {
        if v.get(key).and_then(Value::as_str) != Some(want) {
            problems.push(Problem::new(
                "statement",
                format!(
                    "`{key}` is {}, expected {want}",
                    v.get(key).unwrap_or(&Value::Null)
                ),
            ));
        }
    }
    let predicate = v
        .get_mut("predicate")
        .map(Value::take)
        .unwrap_or(Value::Null);
    let mut checked = check_value(predicate, None);
    if let Some(r) = &checked.report {
        let expected = Value::Array(crate::evidence::attest::subjects(r));
        if v.get("subject") != Some(&expected) {
            problems.push(Problem::new(
                "statement-subjects",
                format!("the subjects are not the predicate's surrogate and artifact digests: expected {expected}"),
            ));
        }
    }
    if let Some(m) = &checked.migrations {
        let expected = Value::Array(crate::evidence::attest::migrations_subjects(m));
        if v.get("subject") != Some(&expected) {
            problems.push(Problem::new(
                "statement-subjects",
                format!("the subjects are not the predicate's migration files and digests: expected {expected}"),
            ));
        }
    }
    problems.append(&mut checked.problems);
    checked.problems = problems;
    checked
}

/// Check a report value; with `file_bytes`, also that the file is its
/// canonical rendering.
fn check_value(v: Value, file_bytes: Option<&[u8]>) -> Checked {
    let mut problems = Vec::new();
    let done = unread;
    if !v.is_object() {
        return done(vec![Problem::new(
            "schema",
            "the report is not a JSON object",
        )]);
    }
    match v.get("seal") {
        None => problems.push(Problem::new("seal-missing", "the report has no `seal`")),
        Some(Value::String(s)) => {
            let computed = report::seal_of(&v);
            if *s != computed {
                problems.push(Problem::new(
                    "seal-broken",
                    format!(
                        "seal {s} does not match the content (SHA-256 of the canonical bytes without the seal is {computed}): the report was changed after sealing"
                    ),
                ));
            }
        }
        Some(other) => problems.push(Problem::new(
            "seal-missing",
            format!("`seal` is not a string: {other}"),
        )),
    }
    let canonical = canonical_file_bytes(&v);
    if let Some(bytes) = file_bytes
        && canonical != bytes
    {
        let at = canonical
            .iter()
            .zip(bytes)
            .position(|(a, b)| a != b)
            .unwrap_or(canonical.len().min(bytes.len()));
        problems.push(Problem::new(
            "not-canonical",
            format!(
                "the file differs from the canonical rendering of its content at byte {at} (whitespace, key order or number spelling was edited)"
            ),
        ));
    }
    if v.get("kind").and_then(Value::as_str) == Some(crate::migrations::report::KIND) {
        return match crate::migrations::verify::read(&v) {
            Ok(m) => {
                problems.extend(crate::migrations::verify::problems(&m));
                Checked {
                    report: None,
                    migrations: Some(m),
                    problems,
                    signature: Signature::NotChecked,
                }
            }
            Err(p) => {
                problems.push(p);
                done(problems)
            }
        };
    }
    match v.get("schema_version") {
        Some(sv) if sv.as_u64() != Some(u64::from(report::SCHEMA_VERSION)) => {
            problems.push(Problem::new(
                "schema-version",
                format!(
                    "unknown schema_version {sv}: this rollproof reads schema_version {}",
                    report::SCHEMA_VERSION
                ),
            ));
            return done(problems);
        }
        _ => {}
    }
    let schema = schema_problems(&v);
    if !schema.is_empty() {
        problems.extend(schema);
        return done(problems);
    }
    let report: Report = match serde_json::from_value(v) {
        Ok(r) => r,
        Err(e) => {
            problems.push(Problem::new("schema", format!("not a report: {e}")));
            return done(problems);
        }
    };
    problems.extend(rules::check(&report));
    problems.extend(rules::recompute(&report));
    Checked {
        report: Some(report),
        migrations: None,
        problems,
        signature: Signature::NotChecked,
    }
}

/// Read and check a report file (or a DSSE envelope); with `artifacts`
/// (the folder given to `rehearse --keep`), also re-hash the kept files
/// against every digest the report records; with `trust`, also check whose
/// signature it carries.
pub fn check_file(
    path: &Path,
    artifacts: Option<&Path>,
    trust: Option<&Trust>,
) -> Result<Checked, VerifyError> {
    use crate::util::fsutil::{limit, read_bounded};
    let bytes = read_bounded(path, limit::REPORT, "report")?;
    let mut checked = check_bytes(&bytes);
    if let Some(dir) = artifacts {
        match &checked.report {
            Some(r) => checked.problems.extend(artifacts::check(r, dir, &bytes)),
            None => checked.problems.push(Problem::new(
                "artifact-unchecked",
                "the kept artifacts were not checked: the report itself could not be read",
            )),
        }
    }
    if let Some(t) = trust {
        checked.signature = signature_of(path, &bytes, t, crate::util::timefmt::now_millis());
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_schema_compiles() {
        assert!(validator().is_ok(), "{:?}", validator().err());
    }

    #[test]
    fn garbage_and_foreign_versions_are_named() {
        let c = check_bytes(b"{not json");
        assert_eq!(c.problems[0].code, "not-json");
        let c = check_bytes(br#"{"schema_version": 99}"#);
        let codes: Vec<_> = c.problems.iter().map(|p| p.code).collect();
        assert!(codes.contains(&"seal-missing"), "{codes:?}");
        assert!(codes.contains(&"schema-version"), "{codes:?}");
    }

    #[test]
    fn a_whitespace_edit_is_not_canonical() {
        let mut v = serde_json::json!({"schema_version": 1, "seal": ""});
        let seal = report::seal_of(&v);
        v["seal"] = Value::String(seal);
        let mut bytes = canonical_file_bytes(&v);
        let c = check_bytes(&bytes);
        assert!(!c.problems.iter().any(|p| p.code.starts_with("seal")));
        assert!(!c.problems.iter().any(|p| p.code == "not-canonical"));
        bytes.insert(1, b' ');
        let c = check_bytes(&bytes);
        assert!(c.problems.iter().any(|p| p.code == "not-canonical"));
        assert!(!c.problems.iter().any(|p| p.code.starts_with("seal")));
    }
}
