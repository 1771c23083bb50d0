//! The verdict of a report, derived from nothing but what the report
//! records. `rehearse` builds the report, then calls [`judge`] to fill in
//! its proof kind, checks and verdict; `verify` calls the very same
//! [`judge`] on a report it was handed and compares. So the verifier can
//! never drift from the rehearsal, and a report whose checks or verdict do
//! not follow from its own measurements is caught, however carefully it was
//! re-sealed.
//!
//! What is derived rather than read:
//! - the proof kind, from the backend and the snapshot/rollback methods
//!   (BYTE-EXACT-FACTS, [`proof_kind`]);
//! - the expected row deltas of a births apply (+N on each birth table);
//! - the observed row deltas, from the before and after-apply row counts;
//! - every check and the verdict ([`verdict::evaluate`]).
//!
//! What cannot be derived (the scenario's `expect_rows` of an SQL apply,
//! the fault record, the rollback's outcome) is taken as recorded; the
//! report's signature is what vouches for it.

use super::verdict::{self, BIRTH_TABLES, Inputs};
use crate::evidence::report::{Check, Proof, Report, Verdict};
use crate::rehearse::scenario::FaultKind;
use std::collections::BTreeMap;

/// What the rules make of a report.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// The proof kind the backend and methods can give.
    pub proof: Proof,
    /// Row deltas the apply was meant to cause; None when an sql scenario
    /// declares none (then they are reported, not checked).
    pub expected: Option<BTreeMap<String, i64>>,
    /// Row deltas the before and after-apply phases show.
    pub observed: BTreeMap<String, i64>,
    /// Every check, in the order the rules make them.
    pub checks: Vec<Check>,
    /// PASS iff every check passed.
    pub verdict: Verdict,
}

/// Snapshot methods each backend has.
const SQLITE_SNAPSHOTS: &[&str] = &["copy", "backup"];
const POSTGRES_SNAPSHOTS: &[&str] = &["template", "pg-dump"];
const ROLLBACKS: &[&str] = &["restore", "compensate", "transaction"];
const APPLIES: &[&str] = &["births", "sql"];

/// Whether a backend and snapshot/rollback pair can restore bytes exactly
/// (BYTE-EXACT-FACTS): only SQLite, and only a rolled-back transaction or a
/// plain-copy snapshot restored by copy.
pub fn proof_kind(backend: &str, snapshot: &str, rollback: &str) -> Proof {
    let exact = backend == "sqlite"
        && match rollback {
            "transaction" => true,
            "restore" => snapshot == "copy",
            _ => false,
        };
    if exact {
        Proof::ByteExact
    } else {
        Proof::LogicalOnly
    }
}

/// The fault kind of a recorded fault.
fn fault_kind(name: &str) -> Option<FaultKind> {
    [
        FaultKind::Kill,
        FaultKind::DiskFull,
        FaultKind::IoError,
        FaultKind::CorruptSnapshot,
    ]
    .into_iter()
    .find(|k| k.as_str() == name)
}

/// The recorded backend and methods, if they are a combination rollproof
/// can run; else why not.
fn check_methods(r: &Report) -> Result<(), String> {
    let m = &r.methods;
    let snapshots = match r.backend.as_str() {
        "sqlite" => SQLITE_SNAPSHOTS,
        "postgres" => POSTGRES_SNAPSHOTS,
        other => return Err(format!("unknown backend `{other}`")),
    };
    if !snapshots.contains(&m.snapshot.as_str()) {
        return Err(format!(
            "snapshot method `{}` does not exist on {} (it has {})",
            m.snapshot,
            r.backend,
            snapshots.join(", ")
        ));
    }
    if !ROLLBACKS.contains(&m.rollback.as_str()) {
        return Err(format!("unknown rollback method `{}`", m.rollback));
    }
    if !APPLIES.contains(&m.apply.as_str()) {
        return Err(format!("unknown apply method `{}`", m.apply));
    }
    Ok(())
}

/// The row deltas the apply was meant to cause: +births on each birth
/// table for a births apply (derived), the scenario's `expect_rows` for an
/// SQL apply (as recorded, zeros included: a declared 0 is checked as 0),
/// None when an SQL scenario declares none.
pub fn expected_deltas(r: &Report) -> Option<BTreeMap<String, i64>> {
    match (r.methods.apply.as_str(), r.apply.births) {
        ("births", Some(n)) => Some(
            BIRTH_TABLES
                .iter()
                .map(|t| (t.to_string(), n as i64))
                .collect(),
        ),
        // A births apply always records its count; without one nothing
        // can be declared, and nothing may change.
        ("births", None) => Some(BTreeMap::new()),
        _ => r.apply.expected_row_deltas.clone(),
    }
}

/// Judge a report from its own records. `Err` when the report names a
/// backend, method or fault rollproof does not have (nothing to judge).
pub fn judge(r: &Report) -> Result<Judgement, String> {
    check_methods(r)?;
    let fault = match r.faults.first() {
        None => None,
        Some(rec) => Some((
            fault_kind(&rec.kind).ok_or_else(|| format!("unknown fault kind `{}`", rec.kind))?,
            rec,
        )),
    };
    let m = &r.methods;
    let proof = proof_kind(&r.backend, &m.snapshot, &m.rollback);
    let expected = expected_deltas(r);
    let keep_seq = verdict::keeps_sequence(expected.as_ref());
    let observed = match &r.phases.after_apply {
        Some(a) => verdict::row_deltas(&r.phases.before, a, keep_seq),
        None => BTreeMap::new(),
    };
    let (checks, verdict) = verdict::evaluate(&Inputs {
        proof,
        copy_snapshot: m.snapshot == "copy",
        in_transaction: m.rollback == "transaction",
        phases: &r.phases,
        expected: expected.as_ref(),
        observed: &observed,
        births_requested: r.apply.births,
        births_reported: r.apply.births_reported,
        apply_error: r.apply.error.as_deref(),
        fault,
        apply_script: r.apply.script.as_ref(),
        rollback: &r.rollback,
        refused_corrupt: r.rollback.refused,
    });
    Ok(Judgement {
        proof,
        expected,
        observed,
        checks,
        verdict,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_copy_restore_and_transactions_on_sqlite_can_be_byte_exact() {
        use Proof::*;
        for (b, s, r, want) in [
            ("sqlite", "copy", "restore", ByteExact),
            ("sqlite", "copy", "transaction", ByteExact),
            ("sqlite", "backup", "transaction", ByteExact),
            ("sqlite", "backup", "restore", LogicalOnly),
            ("sqlite", "copy", "compensate", LogicalOnly),
            ("postgres", "template", "restore", LogicalOnly),
            ("postgres", "template", "transaction", LogicalOnly),
        ] {
            assert_eq!(proof_kind(b, s, r), want, "{b} {s} {r}");
        }
    }

    #[test]
    fn every_fault_kind_has_its_report_name() {
        for k in [
            FaultKind::Kill,
            FaultKind::DiskFull,
            FaultKind::IoError,
            FaultKind::CorruptSnapshot,
        ] {
            assert_eq!(fault_kind(k.as_str()), Some(k));
        }
        assert_eq!(fault_kind("meteor"), None);
    }
}
