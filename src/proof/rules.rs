//! The report's claims against its own numbers: a PASS must be borne out by
//! the hashes it records, a byte-exact claim by the methods that were used.

use crate::evidence::report::{Outcome, Phase, Proof, Report, Verdict};
use crate::evidence::verify::Problem;
use std::collections::{BTreeMap, BTreeSet};

/// Whether a backend and snapshot/rollback pair can restore bytes exactly
/// (BYTE-EXACT-FACTS): only SQLite, and only a rolled-back transaction or a
/// plain-copy snapshot restored by copy. Kept here, apart from the engine,
/// so the validator does not trust the code it checks.
pub fn byte_exact_possible(backend: &str, snapshot: &str, rollback: &str) -> bool {
    backend == "sqlite"
        && match rollback {
            "transaction" => true,
            "restore" => snapshot == "copy",
            _ => false,
        }
}

/// The measured phases by report name, in order.
pub fn phases(r: &Report) -> Vec<(&'static str, &Phase)> {
    let p = &r.phases;
    let mut out = vec![("before", &p.before)];
    for (name, ph) in [
        ("snapshot", &p.snapshot),
        ("after_apply", &p.after_apply),
        ("after_rollback", &p.after_rollback),
    ] {
        if let Some(ph) = ph {
            out.push((name, ph));
        }
    }
    out
}

/// Row-count change per table from one phase to another (non-zero only).
pub fn row_deltas(from: &Phase, to: &Phase) -> BTreeMap<String, i64> {
    let tables: BTreeSet<&String> = from
        .logical
        .tables
        .keys()
        .chain(to.logical.tables.keys())
        .collect();
    let rows = |p: &Phase, t: &str| p.logical.tables.get(t).map_or(0, |d| d.rows as i64);
    tables
        .into_iter()
        .map(|t| (t.clone(), rows(to, t) - rows(from, t)))
        .filter(|(_, d)| *d != 0)
        .collect()
}

/// Compare two delta maps, a missing table counting as 0; describe the
/// first few differences.
fn delta_mismatch(left: &BTreeMap<String, i64>, right: &BTreeMap<String, i64>) -> Option<String> {
    let tables: BTreeSet<&String> = left.keys().chain(right.keys()).collect();
    let diffs: Vec<String> = tables
        .into_iter()
        .filter_map(|t| {
            let (a, b) = (
                left.get(t).copied().unwrap_or(0),
                right.get(t).copied().unwrap_or(0),
            );
            (a != b).then(|| format!("{t} {a:+} vs {b:+}"))
        })
        .collect();
    if diffs.is_empty() {
        None
    } else {
        Some(diffs.into_iter().take(5).collect::<Vec<_>>().join(", "))
    }
}

fn short(h: Option<&str>) -> &str {
    match h {
        Some(h) => h.get(..16).unwrap_or(h),
        None => "none",
    }
}

/// Every contradiction between the report's claims and its numbers.
pub fn check(r: &Report) -> Vec<Problem> {
    let mut out = Vec::new();
    let failed: Vec<&str> = r
        .checks
        .iter()
        .filter(|c| c.outcome == Outcome::Fail)
        .map(|c| c.name.as_str())
        .collect();
    match (r.verdict, failed.is_empty()) {
        (Verdict::Pass, false) => out.push(Problem::new(
            "verdict-checks",
            format!("verdict PASS but checks failed: {}", failed.join(", ")),
        )),
        (Verdict::Fail, true) => out.push(Problem::new(
            "verdict-checks",
            "verdict FAIL but every check passed",
        )),
        _ => {}
    }
    if r.as_expected != (r.verdict == r.expected_verdict) {
        out.push(Problem::new(
            "as-expected",
            format!(
                "as_expected is {} but the verdict is {} and the expected verdict {}",
                r.as_expected, r.verdict, r.expected_verdict
            ),
        ));
    }
    let m = &r.methods;
    if r.proof == Proof::ByteExact && !byte_exact_possible(&r.backend, &m.snapshot, &m.rollback) {
        out.push(Problem::new(
            "byte-exact-impossible",
            format!(
                "claims a byte-exact proof, but {} with snapshot `{}` and rollback `{}` can only prove logical equality",
                r.backend, m.snapshot, m.rollback
            ),
        ));
    }
    let before = &r.phases.before;
    if let Some(b) = &before.file_sha256
        && *b != r.surrogate.sha256
    {
        out.push(Problem::new(
            "surrogate-mismatch",
            format!(
                "surrogate.sha256 {} is not the before phase's file SHA-256 {}",
                short(Some(&r.surrogate.sha256)),
                short(Some(b))
            ),
        ));
    }
    let all = phases(r);
    for (name, ph) in &all {
        let Some(from) = &ph.derived_from else {
            continue;
        };
        let same = all.iter().find(|(n, _)| n == from).is_some_and(|(_, src)| {
            src.file_sha256.is_some()
                && src.file_sha256 == ph.file_sha256
                && src.logical == ph.logical
        });
        if !same {
            out.push(Problem::new(
                "derived-from",
                format!("phase {name} says it was derived from {from}, but their file SHA-256 or logical hash differ"),
            ));
        }
    }
    if let Some(after) = &r.phases.after_apply
        && let Some(d) = delta_mismatch(&r.apply.observed_row_deltas, &row_deltas(before, after))
    {
        out.push(Problem::new(
            "row-deltas",
            format!("observed_row_deltas contradict the row counts of before and after_apply: {d}"),
        ));
    }
    if r.verdict == Verdict::Pass {
        check_pass(r, &mut out);
    }
    out
}

/// What a PASS must be borne out by.
fn check_pass(r: &Report, out: &mut Vec<Problem>) {
    let before = &r.phases.before;
    let (Some(applied), Some(after)) = (&r.phases.after_apply, &r.phases.after_rollback) else {
        out.push(Problem::new(
            "pass-incomplete",
            "verdict PASS without both an after_apply and an after_rollback measurement",
        ));
        return;
    };
    if before.logical.sha256 != after.logical.sha256 {
        out.push(Problem::new(
            "pass-before-after",
            format!(
                "verdict PASS but the logical hash before ({}) differs from after rollback ({})",
                short(Some(&before.logical.sha256)),
                short(Some(&after.logical.sha256))
            ),
        ));
    }
    if r.proof == Proof::ByteExact {
        if before.file_sha256.is_none() || before.file_sha256 != after.file_sha256 {
            out.push(Problem::new(
                "pass-before-after",
                format!(
                    "byte-exact PASS but the file SHA-256 before ({}) differs from after rollback ({})",
                    short(before.file_sha256.as_deref()),
                    short(after.file_sha256.as_deref())
                ),
            ));
        }
        if before.sha3.is_some() && after.sha3.is_some() && before.sha3 != after.sha3 {
            out.push(Problem::new(
                "pass-before-after",
                format!(
                    "byte-exact PASS but the .sha3sum digest before ({}) differs from after rollback ({})",
                    short(before.sha3.as_deref()),
                    short(after.sha3.as_deref())
                ),
            ));
        }
    }
    if applied.logical.sha256 == before.logical.sha256 {
        out.push(Problem::new(
            "pass-apply-unchanged",
            format!(
                "verdict PASS but the apply changed nothing: after_apply's logical hash equals before's ({})",
                short(Some(&before.logical.sha256))
            ),
        ));
    }
    // A fault may cut the apply short on purpose; then the scenario's deltas
    // cannot hold and only the phase-consistency rule above applies.
    if r.faults.is_empty()
        && let Some(d) = delta_mismatch(&r.apply.observed_row_deltas, &r.apply.expected_row_deltas)
    {
        out.push(Problem::new(
            "pass-row-deltas",
            format!("verdict PASS but the observed row deltas do not match the scenario's (observed vs expected): {d}"),
        ));
    }
    if after.integrity_check != "ok" {
        out.push(Problem::new(
            "pass-integrity",
            format!(
                "verdict PASS but integrity_check after rollback is `{}`",
                after.integrity_check
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_copy_restore_and_transactions_on_sqlite_can_be_byte_exact() {
        assert!(byte_exact_possible("sqlite", "copy", "restore"));
        assert!(byte_exact_possible("sqlite", "copy", "transaction"));
        assert!(byte_exact_possible("sqlite", "backup", "transaction"));
        assert!(!byte_exact_possible("sqlite", "backup", "restore"));
        assert!(!byte_exact_possible("sqlite", "copy", "compensate"));
        assert!(!byte_exact_possible("postgres", "template", "restore"));
        assert!(!byte_exact_possible("postgres", "template", "transaction"));
    }

    #[test]
    fn delta_mismatch_treats_missing_tables_as_zero() {
        let a: BTreeMap<String, i64> = [("objects".to_string(), 2)].into();
        let mut b = a.clone();
        b.insert("roles".into(), 0);
        assert_eq!(delta_mismatch(&a, &b), None);
        b.insert("objects".into(), 3);
        assert_eq!(delta_mismatch(&a, &b).unwrap(), "objects +2 vs +3");
    }
}
