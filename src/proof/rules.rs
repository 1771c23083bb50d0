//! The report's claims against its own numbers. Two layers:
//! - [`recompute`]: the proof kind, the row deltas, every check and the
//!   verdict are recomputed with the rehearsal's own rules
//!   ([`super::judge`]) and must equal what the report records, and every
//!   digest the backend always records must be there;
//! - [`check`]'s named rules, which say in words why a PASS is not borne out
//!   by the hashes it records (they overlap the recomputation on purpose:
//!   their messages name the contradiction, not only the differing check).

use super::judge::{self, Judgement};
use crate::evidence::report::{Check, Outcome, Phase, Proof, Report, Verdict};
use crate::evidence::verify::Problem;
use std::collections::{BTreeMap, BTreeSet};

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

/// Compare two delta maps, a missing table counting as 0; describe the
/// first few differences (None when they agree). The verdict's
/// `row_deltas_as_requested` uses the same comparison.
pub fn delta_mismatch(
    left: &BTreeMap<String, i64>,
    right: &BTreeMap<String, i64>,
) -> Option<String> {
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
    if r.proof == Proof::ByteExact
        && judge::proof_kind(&r.backend, &m.snapshot, &m.rollback) != Proof::ByteExact
    {
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
    // The same function the rehearsal used, with the same sqlite_sequence
    // rule (decided by the declared deltas), so a report rollproof wrote is
    // never contradicted by its own rule.
    let keep_seq = crate::proof::verdict::keeps_sequence(r.apply.expected_row_deltas.as_ref());
    if let Some(after) = &r.phases.after_apply
        && let Some(d) = delta_mismatch(
            &r.apply.observed_row_deltas,
            &crate::proof::verdict::row_deltas(before, after, keep_seq),
        )
    {
        out.push(Problem::new(
            "row-deltas",
            format!("observed_row_deltas contradict the row counts of before and after_apply: {d}"),
        ));
    }
    for (phase, run) in [("apply", &r.apply.script), ("rollback", &r.rollback.script)] {
        if let Some(run) = run
            && let Some(why) = script_inconsistency(run)
        {
            out.push(Problem::new(
                "script-record",
                format!("{phase}.script: {why}"),
            ));
        }
    }
    if r.verdict == Verdict::Pass {
        check_pass(r, &mut out);
    }
    out
}

/// The digests a backend always records: SQLite measures a file at every
/// phase (file SHA-256, size, page count, `.sha3sum`); PostgreSQL has no
/// file, so a file digest on it is not something rollproof wrote.
fn required_digests(r: &Report, out: &mut Vec<Problem>) {
    for (name, ph) in phases(r) {
        if r.backend == "sqlite" {
            for (field, missing) in [
                ("file_sha256", ph.file_sha256.is_none()),
                ("size", ph.size.is_none()),
                ("page_count", ph.page_count.is_none()),
                ("sha3", ph.sha3.is_none()),
            ] {
                if missing {
                    out.push(Problem::new(
                        "digest-missing",
                        format!("phases.{name}.{field} is null, but the sqlite backend records it at every phase"),
                    ));
                }
            }
        } else if ph.file_sha256.is_some() || ph.size.is_some() {
            out.push(Problem::new(
                "digest-impossible",
                format!(
                    "phases.{name} records a file digest, but the {} backend has no file",
                    r.backend
                ),
            ));
        }
    }
}

/// Describe how two check lists differ (None: identical).
fn check_differences(recorded: &[Check], derived: &[Check]) -> Vec<Problem> {
    let mut out = Vec::new();
    let find = |list: &[Check], name: &str| list.iter().position(|c| c.name == name);
    for c in derived {
        match find(recorded, &c.name) {
            None => out.push(Problem::new(
                "check-missing",
                format!(
                    "the rules make check `{}` ({}), the report does not record it",
                    c.name,
                    outcome(c)
                ),
            )),
            Some(i) if recorded[i].outcome != c.outcome => out.push(Problem::new(
                "check-outcome",
                format!(
                    "check `{}` is recorded as {}, but its measurements make it {}: {}",
                    c.name,
                    outcome(&recorded[i]),
                    outcome(c),
                    c.detail
                ),
            )),
            Some(i) if recorded[i].detail != c.detail => out.push(Problem::new(
                "check-detail",
                format!(
                    "check `{}` says \"{}\", but its measurements say \"{}\"",
                    c.name, recorded[i].detail, c.detail
                ),
            )),
            Some(_) => {}
        }
    }
    for c in recorded {
        if find(derived, &c.name).is_none() {
            out.push(Problem::new(
                "check-extra",
                format!(
                    "check `{}` is not one the rules make for these methods and phases",
                    c.name
                ),
            ));
        }
    }
    let names = |l: &[Check]| l.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    if out.is_empty() && names(recorded) != names(derived) {
        out.push(Problem::new(
            "check-order",
            "the checks are not in the order the rules make them",
        ));
    }
    out
}

fn outcome(c: &Check) -> &'static str {
    match c.outcome {
        Outcome::Pass => "pass",
        Outcome::Fail => "fail",
    }
}

/// Recompute what the report's measurements imply with the rehearsal's own
/// rules and name every difference from what it records.
pub fn recompute(r: &Report) -> Vec<Problem> {
    let mut out = Vec::new();
    required_digests(r, &mut out);
    let j: Judgement = match judge::judge(r) {
        Ok(j) => j,
        Err(e) => {
            out.push(Problem::new("methods", e));
            return out;
        }
    };
    if r.proof != j.proof && r.proof != Proof::ByteExact {
        out.push(Problem::new(
            "proof-kind",
            format!(
                "claims a {} proof, but {} with snapshot `{}` and rollback `{}` gives {}",
                r.proof, r.backend, r.methods.snapshot, r.methods.rollback, j.proof
            ),
        ));
    }
    let none = BTreeMap::new();
    if let Some(d) = delta_mismatch(
        r.apply.expected_row_deltas.as_ref().unwrap_or(&none),
        j.expected.as_ref().unwrap_or(&none),
    ) && r.methods.apply == "births"
    {
        out.push(Problem::new(
            "expected-deltas",
            format!(
                "expected_row_deltas are not what {} births cause (recorded vs derived): {d}",
                r.apply.births.unwrap_or(0)
            ),
        ));
    }
    if r.apply.observed_row_deltas != j.observed {
        out.push(Problem::new(
            "observed-deltas",
            "observed_row_deltas are not the row-count changes from before to after_apply",
        ));
    }
    out.extend(check_differences(&r.checks, &j.checks));
    if r.verdict != j.verdict {
        out.push(Problem::new(
            "verdict-recomputed",
            format!(
                "the verdict is {}, but the checks recomputed from the measurements give {}",
                r.verdict, j.verdict
            ),
        ));
    }
    out
}

/// A script record whose numbers cannot all be true.
fn script_inconsistency(s: &crate::evidence::report::ScriptRun) -> Option<String> {
    if s.completed > s.statements {
        return Some(format!(
            "{} statements completed of {}",
            s.completed, s.statements
        ));
    }
    match &s.failure {
        Some(f) if f.statement > s.statements => Some(format!(
            "failed at statement {} of {}",
            f.statement, s.statements
        )),
        Some(f) if f.statement > 0 && s.completed + 1 != f.statement => Some(format!(
            "failed at statement {} but says {} completed before it",
            f.statement, s.completed
        )),
        _ => None,
    }
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
    if r.rollback.compensation.as_deref() == Some(super::verdict::API_DELETE) {
        // Births undone as Directus API deletes keep their history: the
        // PASS stands on everything else being as before.
        let c = super::verdict::api_delete_check(before, Some(applied), after);
        if c.outcome != Outcome::Pass {
            out.push(Problem::new(
                "pass-before-after",
                format!("api-delete PASS not borne out: {}", c.detail),
            ));
        }
    } else if before.logical.sha256 != after.logical.sha256 {
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
    // Undeclared deltas (an sql scenario without expect_rows) are not checked.
    if r.faults.is_empty()
        && let Some(expected) = &r.apply.expected_row_deltas
        && let Some(d) = delta_mismatch(&r.apply.observed_row_deltas, expected)
    {
        out.push(Problem::new(
            "pass-row-deltas",
            format!("verdict PASS but the observed row deltas do not match the scenario's (observed vs expected): {d}"),
        ));
    }
    let failed = |s: &Option<crate::evidence::report::ScriptRun>| {
        s.as_ref().is_some_and(|s| s.failure.is_some())
    };
    // Under an apply fault the up script is meant to stop part-way.
    if (r.faults.is_empty() && failed(&r.apply.script)) || failed(&r.rollback.script) {
        out.push(Problem::new(
            "pass-script-failed",
            "verdict PASS but a change script stopped at a failed statement",
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
    fn delta_mismatch_treats_missing_tables_as_zero() {
        let a: BTreeMap<String, i64> = [("objects".to_string(), 2)].into();
        let mut b = a.clone();
        b.insert("roles".into(), 0);
        assert_eq!(delta_mismatch(&a, &b), None);
        b.insert("objects".into(), 3);
        assert_eq!(delta_mismatch(&a, &b).unwrap(), "objects +2 vs +3");
    }
}

#[cfg(test)]
#[path = "rules_pins.rs"]
mod pins;
