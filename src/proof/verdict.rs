//! The verdict rules, as a pure function of what was measured. PASS only if
//! every check holds:
//! - integrity and foreign-key checks pass at every measured phase;
//! - the snapshot holds the before state (byte-identical for `copy`);
//! - the apply was real: the after-apply logical state (schema, rows,
//!   settings) differs from before, so a no-op apply can never pass, and the
//!   row deltas equal what the scenario declared, where it declared them (a
//!   schema-only change such as ADD COLUMN, CREATE INDEX or an UPDATE
//!   declares none or zeros); under an apply fault, the fault really landed
//!   part-way and left whole births;
//! - a change script ran all its statements (`script_completed:apply`,
//!   `script_completed:rollback`); when one fails, the check names the
//!   statement and line and the state the database was measured in after
//!   it; under an apply fault, the script stopped part-way;
//! - the rollback ran, and restored the before state: the file bytes for a
//!   byte-exact proof, the logical hash for a logical-only one (which is
//!   never called byte-exact, even when the bytes happen to match);
//! - no `-wal`/`-journal`/`-shm` is left beside the restored file;
//! - PostgreSQL: the cluster's roles, memberships and settings, which no
//!   database snapshot holds, are after rollback as before.

use crate::evidence::report::{
    Check, FaultRecord, Outcome, Phase, Phases, Proof, RollbackRecord, ScriptRun, Verdict,
};
use crate::proof::scripts;
use crate::rehearse::scenario::FaultKind;
use std::collections::BTreeMap;

/// The births tables and the delta each birth causes.
pub const BIRTH_TABLES: &[&str] = &[
    "birth_registry",
    "directus_activity",
    "directus_revisions",
    "objects",
];

/// Everything the rules look at.
pub struct Inputs<'a> {
    /// What the method pair can prove.
    pub proof: Proof,
    /// Snapshot taken by file copy (must then be byte-identical to before).
    pub copy_snapshot: bool,
    /// The after-apply phase was measured inside an open transaction.
    pub in_transaction: bool,
    /// All phases.
    pub phases: &'a Phases,
    /// Row deltas the scenario asked for (births: +N on the four tables);
    /// None when an sql scenario declares none (then row counts are only
    /// reported, not checked).
    pub expected: Option<&'a BTreeMap<String, i64>>,
    /// Row deltas observed.
    pub observed: &'a BTreeMap<String, i64>,
    /// Births requested (births apply).
    pub births_requested: Option<u64>,
    /// Births the worker reported before the fault (kill).
    pub births_reported: Option<u64>,
    /// Error that stopped the apply.
    pub apply_error: Option<&'a str>,
    /// The injected fault.
    pub fault: Option<(FaultKind, &'a FaultRecord)>,
    /// How the up script ran (sql apply).
    pub apply_script: Option<&'a ScriptRun>,
    /// The rollback.
    pub rollback: &'a RollbackRecord,
    /// The restore was refused because the snapshot was corrupted.
    pub refused_corrupt: bool,
}

pub(crate) fn check(name: impl Into<String>, ok: bool, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        outcome: if ok { Outcome::Pass } else { Outcome::Fail },
        detail: detail.into(),
    }
}

fn short(s: Option<&str>) -> &str {
    s.map(|s| &s[..s.len().min(16)]).unwrap_or("(none)")
}

fn phase_list(p: &Phases) -> Vec<(&'static str, &Phase)> {
    let mut v = vec![("before", &p.before)];
    if let Some(x) = &p.snapshot {
        v.push(("snapshot", x));
    }
    if let Some(x) = &p.after_apply {
        v.push(("after_apply", x));
    }
    if let Some(x) = &p.after_rollback {
        v.push(("after_rollback", x));
    }
    v
}

/// Whether the observed row deltas include `sqlite_sequence`: only when the
/// scenario declares a delta for it. The rehearsal and the verifier both
/// decide it from the declared deltas, so they compute the same deltas.
pub fn keeps_sequence(expected: Option<&BTreeMap<String, i64>>) -> bool {
    expected.is_some_and(|e| e.contains_key("sqlite_sequence"))
}

/// Row deltas after − before for every table whose row count changed.
/// `sqlite_sequence` is left out unless `keep_sequence` (its row count moves
/// only when a table gets its first AUTOINCREMENT row, or the first
/// AUTOINCREMENT table is created, which is bookkeeping of that table, not
/// a change a scenario should have to declare); see [`keeps_sequence`].
pub fn row_deltas(before: &Phase, after: &Phase, keep_sequence: bool) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    let names: std::collections::BTreeSet<&String> = before
        .logical
        .tables
        .keys()
        .chain(after.logical.tables.keys())
        .collect();
    for t in names {
        if t == "sqlite_sequence" && !keep_sequence {
            continue;
        }
        let b = before.logical.tables.get(t).map(|d| d.rows).unwrap_or(0) as i64;
        let a = after.logical.tables.get(t).map(|d| d.rows).unwrap_or(0) as i64;
        if a != b {
            out.insert(t.clone(), a - b);
        }
    }
    out
}

/// Declared row deltas must equal the observed ones exactly (a table not
/// declared, or declared 0, must not change count); a scenario that
/// declares none has its deltas only reported.
fn row_deltas_check(
    expected: Option<&BTreeMap<String, i64>>,
    observed: &BTreeMap<String, i64>,
) -> Check {
    match expected {
        Some(e) => check(
            "row_deltas_as_requested",
            crate::proof::rules::delta_mismatch(observed, e).is_none(),
            format!(
                "expected {}; observed {}",
                fmt_deltas(e),
                fmt_deltas(observed)
            ),
        ),
        None => check(
            "row_deltas_as_requested",
            true,
            format!(
                "the scenario declares no row deltas, so none are checked; observed {}",
                fmt_deltas(observed)
            ),
        ),
    }
}

pub(crate) fn fmt_deltas(m: &BTreeMap<String, i64>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter()
        .map(|(t, d)| format!("{t} {d:+}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `cluster_unchanged` (PostgreSQL): the roles, memberships, settings and
/// database properties outside the database, which no snapshot restores,
/// are after rollback what they were before. None for backends that record
/// no cluster state.
fn cluster_check(p: &Phases) -> Option<Check> {
    let before = p.before.cluster.as_ref()?;
    let after = p.after_rollback.as_ref().and_then(|r| r.cluster.as_ref());
    Some(match after {
        None => check(
            "cluster_unchanged",
            false,
            "the cluster's roles were not captured after rollback",
        ),
        Some(a) if a.sha256 == before.sha256 => check(
            "cluster_unchanged",
            true,
            format!(
                "roles, memberships, settings and database properties as before ({} entries)",
                a.entries.len()
            ),
        ),
        Some(a) => {
            let d = a.differences_from(before);
            let shown: Vec<&str> = d.iter().take(5).map(String::as_str).collect();
            let more = d.len().saturating_sub(shown.len());
            check(
                "cluster_unchanged",
                false,
                format!(
                    "the cluster differs after rollback (no database snapshot restores it): {}{}",
                    if shown.is_empty() {
                        "digests differ".to_string()
                    } else {
                        shown.join("; ")
                    },
                    if more > 0 {
                        format!("; … {more} more")
                    } else {
                        String::new()
                    }
                ),
            )
        }
    })
}

/// [`RollbackRecord::compensation`] of births undone as Directus API
/// deletes.
pub const API_DELETE: &str = "api-delete";

/// `restored_as_api_delete`: births undone as Directus API deletes leave
/// every table as before except the history they keep: `directus_activity`
/// has each birth's `create` and its `delete` (+2 per birth),
/// `directus_revisions` each birth's create revision (+1); schema and
/// settings as before. Sequences are not compared (they advanced, as a
/// production delete leaves them).
pub(crate) fn api_delete_check(before: &Phase, after_apply: Option<&Phase>, r: &Phase) -> Check {
    let rows = |ph: &Phase, t: &str| ph.logical.tables.get(t).map(|d| d.rows).unwrap_or(0) as i64;
    let born = after_apply.map(|a| rows(a, "birth_registry") - rows(before, "birth_registry"));
    let Some(n) = born.filter(|n| *n > 0) else {
        return check(
            "restored_as_api_delete",
            false,
            "no births were measured after apply, so there is nothing an API delete undid",
        );
    };
    let history = [("directus_activity", 2 * n), ("directus_revisions", n)];
    let mut differ = Vec::new();
    let names: std::collections::BTreeSet<&String> = before
        .logical
        .tables
        .keys()
        .chain(r.logical.tables.keys())
        .collect();
    for t in names {
        if t == "sqlite_sequence" {
            continue;
        }
        match history.iter().find(|(h, _)| h == t) {
            Some((_, grown)) => {
                if rows(r, t) - rows(before, t) != *grown {
                    differ.push(format!(
                        "{t} {:+} rows (expected {grown:+})",
                        rows(r, t) - rows(before, t)
                    ));
                }
            }
            None => {
                let same = before.logical.tables.get(t) == r.logical.tables.get(t);
                if !same {
                    differ.push(format!("{t} differs"));
                }
            }
        }
    }
    if r.logical.schema_sha256 != before.logical.schema_sha256 {
        differ.push("the schema differs".into());
    }
    if r.logical.settings != before.logical.settings {
        differ.push("the settings differ".into());
    }
    let ok = differ.is_empty();
    check(
        "restored_as_api_delete",
        ok,
        if ok {
            format!(
                "{n} births undone as Directus API deletes: every table as before except the history they keep (directus_activity +{}: each birth's create and delete; directus_revisions +{n}: the creates' revisions); schema and settings as before; sequences not compared; not a restoration of the before state",
                2 * n
            )
        } else {
            format!(
                "after the API deletes of {n} births: {}",
                differ.into_iter().take(5).collect::<Vec<_>>().join("; ")
            )
        },
    )
}

/// Evaluate every rule; the verdict is PASS iff all checks pass.
pub fn evaluate(i: &Inputs<'_>) -> (Vec<Check>, Verdict) {
    let mut c = Vec::new();
    let p = i.phases;
    for (name, ph) in phase_list(p) {
        c.push(check(
            format!("integrity_check:{name}"),
            ph.integrity_check == "ok",
            format!("PRAGMA integrity_check: {}", ph.integrity_check),
        ));
        c.push(check(
            format!("foreign_key_check:{name}"),
            ph.foreign_key_violations == 0,
            format!(
                "PRAGMA foreign_key_check: {} violation(s)",
                ph.foreign_key_violations
            ),
        ));
    }
    let before = &p.before;
    match &p.snapshot {
        Some(s) => {
            let logical = s.logical.sha256 == before.logical.sha256;
            let bytes = s.file_sha256 == before.file_sha256;
            let ok = logical && (!i.copy_snapshot || bytes);
            c.push(check(
                "snapshot_holds_before",
                ok,
                format!(
                    "snapshot logical {} vs before {}; file bytes {}{}",
                    short(Some(&s.logical.sha256)),
                    short(Some(&before.logical.sha256)),
                    if bytes { "identical" } else { "differ" },
                    if i.copy_snapshot {
                        " (copy: must be identical)"
                    } else {
                        " (backup API: header counters differ, logical equality required)"
                    }
                ),
            ));
        }
        None => c.push(check(
            "snapshot_holds_before",
            false,
            "no snapshot was measured",
        )),
    }
    let apply_fault = i.fault.filter(|(k, _)| {
        matches!(
            k,
            FaultKind::Kill | FaultKind::DiskFull | FaultKind::IoError
        )
    });
    if let Some((_, rec)) = i.fault {
        c.push(check("fault_injected", rec.injected, rec.detail.clone()));
    }
    match (&p.after_apply, apply_fault) {
        (None, _) => c.push(check(
            "apply_was_real",
            false,
            "the after-apply state was not measured",
        )),
        (Some(a), None) => {
            let logical = a.logical.sha256 != before.logical.sha256;
            // No file (PostgreSQL): only the logical hash can show the change.
            let no_file = a.file_sha256.is_none() && before.file_sha256.is_none();
            let bytes = a.file_sha256 != before.file_sha256;
            let ok = logical && (bytes || no_file || i.in_transaction) && i.apply_error.is_none();
            let mut detail = format!(
                "after-apply logical {} vs before {}; file bytes {}",
                short(Some(&a.logical.sha256)),
                short(Some(&before.logical.sha256)),
                if no_file {
                    "n/a (no file)"
                } else if bytes {
                    "differ"
                } else {
                    "identical"
                }
            );
            if i.in_transaction {
                detail.push_str(" (inside the open transaction the main file need not change yet)");
            }
            if let Some(e) = i.apply_error {
                detail.push_str(&format!("; apply failed: {e}"));
            }
            c.push(check("apply_was_real", ok, detail));
            c.push(row_deltas_check(i.expected, i.observed));
        }
        (Some(a), Some(_)) if i.births_requested.is_none() => {
            c.push(scripts::part_way(i.apply_script, before, a));
        }
        (Some(a), Some(_)) => {
            let k = i.observed.get("birth_registry").copied().unwrap_or(0);
            let whole = BIRTH_TABLES
                .iter()
                .all(|t| i.observed.get(*t).copied().unwrap_or(0) == k)
                && i.observed
                    .keys()
                    .all(|t| BIRTH_TABLES.contains(&t.as_str()));
            let requested = i.births_requested.unwrap_or(0) as i64;
            let reported = i.births_reported.unwrap_or(0) as i64;
            let part_way = k >= 1
                && k < requested
                && k >= reported
                && (a.file_sha256.is_none() || a.file_sha256 != before.file_sha256);
            c.push(check(
                "apply_interrupted_part_way",
                part_way && whole,
                format!(
                    "{k} of {requested} births committed before the fault ({reported} reported); observed {}; {}",
                    fmt_deltas(i.observed),
                    if whole { "whole births only" } else { "NOT whole births: the surface was left inconsistent" }
                ),
            ));
        }
    }
    if let (Some(s), None) = (i.apply_script, apply_fault) {
        c.push(scripts::completed(
            "apply",
            s,
            before,
            p.after_apply.as_ref(),
        ));
    }
    let rb = i.rollback;
    if let Some(s) = &rb.script {
        c.push(scripts::completed(
            "rollback",
            s,
            before,
            p.after_rollback.as_ref(),
        ));
    }
    c.push(check(
        "rollback_performed",
        rb.performed && rb.error.is_none(),
        match &rb.error {
            Some(e) => format!("rollback did not complete: {e}"),
            None => "rollback completed".into(),
        },
    ));
    if i.refused_corrupt {
        let untouched = match (&p.after_apply, &p.after_rollback) {
            // Without files (PostgreSQL) the logical hash must be unchanged.
            (Some(a), Some(r)) if a.file_sha256.is_none() => {
                r.file_sha256.is_none() && a.logical.sha256 == r.logical.sha256
            }
            (Some(a), Some(r)) => a.file_sha256 == r.file_sha256,
            _ => false,
        };
        c.push(check(
            "target_untouched_after_refusal",
            untouched,
            if untouched {
                "the refused restore left the target exactly as after apply (same SHA-256)"
            } else {
                "the target changed although the restore was refused"
            },
        ));
    }
    match &p.after_rollback {
        None => c.push(check(
            "restored",
            false,
            "the after-rollback state was not measured",
        )),
        Some(r) => {
            let bytes = r.file_sha256.is_some() && r.file_sha256 == before.file_sha256;
            let logical = r.logical.sha256 == before.logical.sha256;
            let api_delete = rb.compensation.as_deref() == Some(API_DELETE);
            match i.proof {
                _ if api_delete => c.push(api_delete_check(before, p.after_apply.as_ref(), r)),
                Proof::ByteExact => c.push(check(
                    "restored_byte_exact",
                    bytes && logical,
                    format!(
                        "after-rollback file SHA-256 {} vs before {}; logical {}",
                        r.file_sha256.as_deref().unwrap_or("(none)"),
                        before.file_sha256.as_deref().unwrap_or("(none)"),
                        if logical { "equal" } else { "differs" }
                    ),
                )),
                Proof::LogicalOnly => c.push(check(
                    "restored_logically",
                    logical,
                    format!(
                        "after-rollback logical SHA-256 {} vs before {}; proof is logical-only, never byte-exact (file bytes {})",
                        r.logical.sha256,
                        before.logical.sha256,
                        if bytes { "happen to be identical" } else { "differ, as this method pair implies" }
                    ),
                )),
            }
            c.push(check(
                "no_stray_files",
                r.stray_files.is_empty(),
                if r.stray_files.is_empty() {
                    "no -wal, -shm or -journal beside the restored file".to_string()
                } else {
                    format!("left beside the file: {}", r.stray_files.join(", "))
                },
            ));
        }
    }
    if let Some(check) = cluster_check(p) {
        c.push(check);
    }
    let verdict = if c.iter().all(|x| x.outcome == Outcome::Pass) {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    (c, verdict)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::engine::sqlite::logical::{LogicalDigest, TableDigest};

    /// A phase with one table `objects` of `objects` rows.
    pub(crate) fn phase(file: &str, logical: &str, objects: u64) -> Phase {
        Phase {
            file_sha256: Some(file.into()),
            size: Some(4096),
            page_count: Some(1),
            logical: LogicalDigest {
                sha256: logical.into(),
                settings: BTreeMap::new(),
                schema_sha256: "s".into(),
                tables: BTreeMap::from([(
                    "objects".to_string(),
                    TableDigest {
                        rows: objects,
                        sha256: logical.into(),
                    },
                )]),
            },
            integrity_check: "ok".into(),
            foreign_key_violations: 0,
            stray_files: vec![],
            sha3: None,
            free_space: None,
            cluster: None,
            derived_from: None,
            note: None,
            ms: 1,
        }
    }

    fn run(proof: Proof, after: Phase, rolled: Phase) -> (Vec<Check>, Verdict) {
        let expected = BTreeMap::from([("objects".to_string(), 2i64)]);
        run_expecting(proof, after, rolled, Some(&expected))
    }

    fn run_expecting(
        proof: Proof,
        after: Phase,
        rolled: Phase,
        expected: Option<&BTreeMap<String, i64>>,
    ) -> (Vec<Check>, Verdict) {
        let before = phase("f0", "l0", 10);
        let phases = Phases {
            snapshot: Some(before.clone()),
            after_apply: Some(after.clone()),
            after_rollback: Some(rolled),
            before: before.clone(),
        };
        let observed = row_deltas(&before, &after, keeps_sequence(expected));
        let rb = RollbackRecord {
            sql: None,
            sql_sha256: None,
            rewind_sequences: false,
            compensation: None,
            performed: true,
            refused: false,
            error: None,
            script: None,
        };
        evaluate(&Inputs {
            proof,
            copy_snapshot: true,
            in_transaction: false,
            phases: &phases,
            expected,
            observed: &observed,
            births_requested: None,
            births_reported: None,
            apply_error: None,
            fault: None,
            apply_script: None,
            rollback: &rb,
            refused_corrupt: false,
        })
    }

    fn outcome(c: &[Check], name: &str) -> Outcome {
        c.iter()
            .find(|x| x.name == name)
            .map(|x| x.outcome)
            .unwrap()
    }

    #[test]
    fn byte_exact_needs_equal_bytes_logical_only_needs_equal_content() {
        let applied = phase("f1", "l1", 12);
        let (_, v) = run(Proof::ByteExact, applied.clone(), phase("f0", "l0", 10));
        assert_eq!(v, Verdict::Pass);
        // Same content, other bytes: a byte-exact proof fails…
        let (c, v) = run(Proof::ByteExact, applied.clone(), phase("f9", "l0", 10));
        assert_eq!(
            (v, outcome(&c, "restored_byte_exact")),
            (Verdict::Fail, Outcome::Fail)
        );
        // …a logical-only one passes and says it is never byte-exact.
        let (c, v) = run(Proof::LogicalOnly, applied, phase("f9", "l0", 10));
        assert_eq!(v, Verdict::Pass);
        let d = &c
            .iter()
            .find(|x| x.name == "restored_logically")
            .unwrap()
            .detail;
        assert!(d.contains("never byte-exact"), "{d}");
    }

    #[test]
    fn a_noop_or_wrong_sized_apply_never_passes() {
        // No-op: after-apply equals before.
        let (c, v) = run(
            Proof::ByteExact,
            phase("f0", "l0", 10),
            phase("f0", "l0", 10),
        );
        assert_eq!(v, Verdict::Fail);
        assert_eq!(outcome(&c, "apply_was_real"), Outcome::Fail);
        assert_eq!(outcome(&c, "row_deltas_as_requested"), Outcome::Fail);
        // Real change, but one row instead of the two asked for.
        let (c, v) = run(
            Proof::ByteExact,
            phase("f1", "l1", 11),
            phase("f0", "l0", 10),
        );
        assert_eq!(v, Verdict::Fail);
        assert_eq!(outcome(&c, "row_deltas_as_requested"), Outcome::Fail);
    }

    #[test]
    fn a_failed_integrity_check_anywhere_fails() {
        let mut rolled = phase("f0", "l0", 10);
        rolled.integrity_check = "row 3 missing from index".into();
        let (c, v) = run(Proof::ByteExact, phase("f1", "l1", 12), rolled);
        assert_eq!(v, Verdict::Fail);
        assert_eq!(outcome(&c, "integrity_check:after_rollback"), Outcome::Fail);
    }

    #[test]
    fn a_schema_only_change_passes_without_declared_deltas_but_a_noop_never_does() {
        // Same row counts, other logical state (ADD COLUMN, CREATE INDEX, an
        // UPDATE): real, and nothing to declare.
        let (c, v) = run_expecting(
            Proof::ByteExact,
            phase("f1", "l1", 10),
            phase("f0", "l0", 10),
            None,
        );
        assert_eq!(v, Verdict::Pass, "{c:?}");
        let d = &c
            .iter()
            .find(|x| x.name == "row_deltas_as_requested")
            .unwrap()
            .detail;
        assert!(d.contains("declares no row deltas"), "{d}");
        // Declared zeros are checked as zeros (missing = 0).
        let zero = BTreeMap::from([("objects".to_string(), 0i64)]);
        let (_, v) = run_expecting(
            Proof::ByteExact,
            phase("f1", "l1", 10),
            phase("f0", "l0", 10),
            Some(&zero),
        );
        assert_eq!(v, Verdict::Pass);
        let (c, v) = run_expecting(
            Proof::ByteExact,
            phase("f1", "l1", 11),
            phase("f0", "l0", 10),
            Some(&zero),
        );
        assert_eq!(v, Verdict::Fail);
        assert_eq!(outcome(&c, "row_deltas_as_requested"), Outcome::Fail);
        // A no-op apply fails even with nothing declared.
        let (c, v) = run_expecting(
            Proof::ByteExact,
            phase("f0", "l0", 10),
            phase("f0", "l0", 10),
            None,
        );
        assert_eq!(v, Verdict::Fail);
        assert_eq!(outcome(&c, "apply_was_real"), Outcome::Fail);
        // Same bytes rewritten with the same content: not real either.
        let (c, _) = run_expecting(
            Proof::ByteExact,
            phase("f1", "l0", 10),
            phase("f0", "l0", 10),
            None,
        );
        assert_eq!(outcome(&c, "apply_was_real"), Outcome::Fail);
    }

    #[test]
    fn sqlite_sequence_counts_only_when_declared() {
        let before = phase("f0", "l0", 10);
        let mut after = phase("f1", "l1", 10);
        after.logical.tables.insert(
            "sqlite_sequence".into(),
            TableDigest {
                rows: 1,
                sha256: "q".into(),
            },
        );
        assert!(row_deltas(&before, &after, keeps_sequence(None)).is_empty());
        let declared = BTreeMap::from([("sqlite_sequence".to_string(), 1i64)]);
        assert!(keeps_sequence(Some(&declared)));
        assert_eq!(
            row_deltas(&before, &after, keeps_sequence(Some(&declared))),
            declared
        );
    }
}

#[cfg(test)]
#[path = "verdict_pins.rs"]
mod pins;
