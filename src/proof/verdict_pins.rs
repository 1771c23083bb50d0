//! Pins every verdict rule (issue #18): from one rehearsal that passes,
//! each case changes one input, and exactly the check that rule owns fails
//! (and with it the verdict). Boundaries are tried from both sides, so an
//! operator swapped in a rule (`&&`/`||`, `<`/`<=`, `==`/`!=`) changes the
//! outcome of at least one case. The detail lines reviewers read are part
//! of the report format, so their text is pinned too.

use super::*;
use crate::engine::sqlite::logical::{LogicalDigest, Setting, TableDigest};
use crate::evidence::report::ClusterState;

fn phase(file: Option<&str>, logical: &str, rows: &[(&str, u64)]) -> Phase {
    Phase {
        file_sha256: file.map(str::to_string),
        size: Some(4096),
        page_count: Some(1),
        logical: LogicalDigest {
            sha256: logical.into(),
            settings: BTreeMap::new(),
            schema_sha256: "s".into(),
            tables: rows
                .iter()
                .map(|(t, n)| {
                    let d = TableDigest {
                        rows: *n,
                        sha256: format!("{logical}-{t}"),
                    };
                    (t.to_string(), d)
                })
                .collect(),
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

/// Everything [`evaluate`] reads, owned, starting from a byte-exact PASS:
/// a copy snapshot, two `objects` rows added, a rollback to the same bytes.
struct Case {
    proof: Proof,
    copy_snapshot: bool,
    in_transaction: bool,
    phases: Phases,
    /// None: an sql scenario that declares no row deltas.
    expected: Option<BTreeMap<String, i64>>,
    /// None: the observed deltas are computed from before/after apply.
    observed: Option<BTreeMap<String, i64>>,
    births_requested: Option<u64>,
    births_reported: Option<u64>,
    apply_error: Option<String>,
    fault: Option<(FaultKind, FaultRecord)>,
    /// How the up script ran (an sql apply).
    apply_script: Option<ScriptRun>,
    rollback: RollbackRecord,
    refused_corrupt: bool,
}

fn base() -> Case {
    let before = phase(Some("f0"), "l0", &[("objects", 10)]);
    Case {
        proof: Proof::ByteExact,
        copy_snapshot: true,
        in_transaction: false,
        phases: Phases {
            snapshot: Some(before.clone()),
            after_apply: Some(phase(Some("f1"), "l1", &[("objects", 12)])),
            after_rollback: Some(before.clone()),
            before,
        },
        expected: Some(BTreeMap::from([("objects".to_string(), 2)])),
        observed: None,
        births_requested: None,
        births_reported: None,
        apply_error: None,
        fault: None,
        apply_script: None,
        rollback: RollbackRecord {
            sql: None,
            sql_sha256: None,
            rewind_sequences: false,
            compensation: None,
            performed: true,
            refused: false,
            error: None,
            script: None,
        },
        refused_corrupt: false,
    }
}

fn eval(c: &Case) -> (Vec<Check>, Verdict) {
    let observed = c.observed.clone().unwrap_or_else(|| {
        let after = c.phases.after_apply.as_ref().unwrap_or(&c.phases.before);
        row_deltas(&c.phases.before, after, keeps_sequence(c.expected.as_ref()))
    });
    evaluate(&Inputs {
        proof: c.proof,
        copy_snapshot: c.copy_snapshot,
        in_transaction: c.in_transaction,
        phases: &c.phases,
        expected: c.expected.as_ref(),
        observed: &observed,
        births_requested: c.births_requested,
        births_reported: c.births_reported,
        apply_error: c.apply_error.as_deref(),
        fault: c.fault.as_ref().map(|(k, r)| (*k, r)),
        apply_script: c.apply_script.as_ref(),
        rollback: &c.rollback,
        refused_corrupt: c.refused_corrupt,
    })
}

fn failing(c: &[Check]) -> Vec<&str> {
    c.iter()
        .filter(|x| x.outcome == Outcome::Fail)
        .map(|x| x.name.as_str())
        .collect()
}

/// The case fails, and exactly `names` are the failing checks.
fn fails_only(c: &Case, names: &[&str]) {
    let (checks, v) = eval(c);
    assert_eq!(failing(&checks), names, "{checks:#?}");
    assert_eq!(v, Verdict::Fail);
}

fn passes(c: &Case) -> Vec<Check> {
    let (checks, v) = eval(c);
    assert_eq!(failing(&checks), Vec::<&str>::new(), "{checks:#?}");
    assert_eq!(v, Verdict::Pass);
    checks
}

fn detail<'a>(c: &'a [Check], name: &str) -> &'a str {
    &c.iter().find(|x| x.name == name).unwrap().detail
}

fn with(edit: impl FnOnce(&mut Case)) -> Case {
    let mut c = base();
    edit(&mut c);
    c
}

#[test]
fn the_base_case_passes_with_every_check_named_in_order() {
    let c = passes(&base());
    let names: Vec<&str> = c.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "integrity_check:before",
            "foreign_key_check:before",
            "integrity_check:snapshot",
            "foreign_key_check:snapshot",
            "integrity_check:after_apply",
            "foreign_key_check:after_apply",
            "integrity_check:after_rollback",
            "foreign_key_check:after_rollback",
            "snapshot_holds_before",
            "apply_was_real",
            "row_deltas_as_requested",
            "rollback_performed",
            "restored_byte_exact",
            "no_stray_files",
        ]
    );
    assert_eq!(
        detail(&c, "integrity_check:before"),
        "PRAGMA integrity_check: ok"
    );
    assert_eq!(
        detail(&c, "foreign_key_check:before"),
        "PRAGMA foreign_key_check: 0 violation(s)"
    );
    assert_eq!(detail(&c, "rollback_performed"), "rollback completed");
    assert_eq!(
        detail(&c, "no_stray_files"),
        "no -wal, -shm or -journal beside the restored file"
    );
}

#[test]
fn integrity_and_foreign_keys_are_checked_at_every_phase() {
    type Pick = fn(&mut Phases) -> &mut Phase;
    let phases: [(&str, Pick); 4] = [
        ("before", |p| &mut p.before),
        ("snapshot", |p| p.snapshot.as_mut().unwrap()),
        ("after_apply", |p| p.after_apply.as_mut().unwrap()),
        ("after_rollback", |p| p.after_rollback.as_mut().unwrap()),
    ];
    for (name, pick) in phases {
        let c = with(|c| pick(&mut c.phases).integrity_check = "page 3 bad".into());
        fails_only(&c, &[&format!("integrity_check:{name}")]);
        let (checks, _) = eval(&c);
        assert_eq!(
            detail(&checks, &format!("integrity_check:{name}")),
            "PRAGMA integrity_check: page 3 bad"
        );
        let c = with(|c| pick(&mut c.phases).foreign_key_violations = 1);
        fails_only(&c, &[&format!("foreign_key_check:{name}")]);
        let (checks, _) = eval(&c);
        assert_eq!(
            detail(&checks, &format!("foreign_key_check:{name}")),
            "PRAGMA foreign_key_check: 1 violation(s)"
        );
    }
}

#[test]
fn the_snapshot_must_hold_before_by_content_and_for_a_copy_by_bytes() {
    // Other content, same bytes: never holds.
    let c = with(|c| c.phases.snapshot.as_mut().unwrap().logical.sha256 = "lx".into());
    fails_only(&c, &["snapshot_holds_before"]);
    let c = with(|c| {
        c.copy_snapshot = false;
        c.phases.snapshot.as_mut().unwrap().logical.sha256 = "lx".into();
    });
    fails_only(&c, &["snapshot_holds_before"]);
    // Same content, other bytes: a copy must be identical, a backup need not.
    let c = with(|c| c.phases.snapshot.as_mut().unwrap().file_sha256 = Some("fx".into()));
    fails_only(&c, &["snapshot_holds_before"]);
    let (checks, _) = eval(&c);
    assert_eq!(
        detail(&checks, "snapshot_holds_before"),
        "snapshot logical l0 vs before l0; file bytes differ (copy: must be identical)"
    );
    let c = with(|c| {
        c.copy_snapshot = false;
        c.phases.snapshot.as_mut().unwrap().file_sha256 = Some("fx".into());
    });
    let checks = passes(&c);
    assert_eq!(
        detail(&checks, "snapshot_holds_before"),
        "snapshot logical l0 vs before l0; file bytes differ \
         (backup API: header counters differ, logical equality required)"
    );
    let checks = passes(&base());
    assert_eq!(
        detail(&checks, "snapshot_holds_before"),
        "snapshot logical l0 vs before l0; file bytes identical (copy: must be identical)"
    );
    // No snapshot at all: no phase checks for it, and the rule fails.
    let c = with(|c| c.phases.snapshot = None);
    fails_only(&c, &["snapshot_holds_before"]);
    let (checks, _) = eval(&c);
    assert_eq!(
        detail(&checks, "snapshot_holds_before"),
        "no snapshot was measured"
    );
    assert!(!checks.iter().any(|x| x.name.ends_with(":snapshot")));
}

#[test]
fn an_apply_is_real_only_with_new_content_new_bytes_and_no_error() {
    // Same content (the rows moved but the hash did not): not real.
    let c = with(|c| c.phases.after_apply.as_mut().unwrap().logical.sha256 = "l0".into());
    fails_only(&c, &["apply_was_real"]);
    // New content but identical bytes outside a transaction: not real…
    let c = with(|c| c.phases.after_apply.as_mut().unwrap().file_sha256 = Some("f0".into()));
    fails_only(&c, &["apply_was_real"]);
    let (checks, _) = eval(&c);
    assert_eq!(
        detail(&checks, "apply_was_real"),
        "after-apply logical l1 vs before l0; file bytes identical"
    );
    // …inside the open transaction the main file need not change yet.
    let c = with(|c| {
        c.in_transaction = true;
        c.phases.after_apply.as_mut().unwrap().file_sha256 = Some("f0".into());
    });
    let checks = passes(&c);
    assert_eq!(
        detail(&checks, "apply_was_real"),
        "after-apply logical l1 vs before l0; file bytes identical \
         (inside the open transaction the main file need not change yet)"
    );
    // In a transaction the content must still have changed.
    let c = with(|c| {
        c.in_transaction = true;
        c.phases.after_apply.as_mut().unwrap().logical.sha256 = "l0".into();
    });
    fails_only(&c, &["apply_was_real"]);
    // An apply error fails it even when everything changed.
    let c = with(|c| c.apply_error = Some("disk I/O error".into()));
    fails_only(&c, &["apply_was_real"]);
    let (checks, _) = eval(&c);
    assert_eq!(
        detail(&checks, "apply_was_real"),
        "after-apply logical l1 vs before l0; file bytes differ; apply failed: disk I/O error"
    );
    // Not measured: fails, and the delta rule is not even tried.
    let c = with(|c| c.phases.after_apply = None);
    let (checks, v) = eval(&c);
    assert_eq!(v, Verdict::Fail);
    assert!(failing(&checks).contains(&"apply_was_real"));
    assert_eq!(
        detail(&checks, "apply_was_real"),
        "the after-apply state was not measured"
    );
    assert!(!checks.iter().any(|x| x.name == "row_deltas_as_requested"));
}

#[test]
fn without_files_only_the_logical_hash_shows_an_apply() {
    // PostgreSQL: no file at any phase; a logical-only proof.
    let before = phase(None, "l0", &[("objects", 10)]);
    let c = with(|c| {
        c.proof = Proof::LogicalOnly;
        c.copy_snapshot = false;
        c.phases = Phases {
            snapshot: Some(before.clone()),
            after_apply: Some(phase(None, "l1", &[("objects", 12)])),
            after_rollback: Some(before.clone()),
            before: before.clone(),
        };
    });
    let checks = passes(&c);
    assert_eq!(
        detail(&checks, "apply_was_real"),
        "after-apply logical l1 vs before l0; file bytes n/a (no file)"
    );
    let mut same = c;
    same.phases.after_apply.as_mut().unwrap().logical.sha256 = "l0".into();
    fails_only(&same, &["apply_was_real"]);
}

#[test]
fn the_row_deltas_must_equal_the_declared_ones_where_declared() {
    let c = with(|c| c.phases.after_apply = Some(phase(Some("f1"), "l1", &[("objects", 11)])));
    fails_only(&c, &["row_deltas_as_requested"]);
    let (checks, _) = eval(&c);
    assert_eq!(
        detail(&checks, "row_deltas_as_requested"),
        "expected objects +2; observed objects +1"
    );
    // Declared zeros (a schema-only change): a table that must not change
    // count, and did not, passes; one that did fails.
    let c = with(|c| {
        c.expected = Some(BTreeMap::from([("objects".into(), 0)]));
        c.phases.after_apply = Some(phase(Some("f1"), "l1", &[("objects", 10)]));
    });
    let checks = passes(&c);
    assert_eq!(
        detail(&checks, "row_deltas_as_requested"),
        "expected objects +0; observed none"
    );
    let c = with(|c| c.expected = Some(BTreeMap::new()));
    fails_only(&c, &["row_deltas_as_requested"]);
    let (checks, _) = eval(&c);
    assert_eq!(
        detail(&checks, "row_deltas_as_requested"),
        "expected none; observed objects +2"
    );
    // Nothing declared: the deltas are reported, not checked.
    let c = with(|c| c.expected = None);
    let checks = passes(&c);
    assert_eq!(
        detail(&checks, "row_deltas_as_requested"),
        "the scenario declares no row deltas, so none are checked; observed objects +2"
    );
    // Several tables are listed in order, with their signs.
    let c = with(|c| {
        c.expected = Some(BTreeMap::from([("a".into(), -1), ("objects".into(), 2)]));
        c.phases.before = phase(Some("f0"), "l0", &[("a", 3), ("objects", 10)]);
        c.phases.snapshot = Some(c.phases.before.clone());
        c.phases.after_rollback = Some(c.phases.before.clone());
        c.phases.after_apply = Some(phase(Some("f1"), "l1", &[("a", 2), ("objects", 12)]));
    });
    let checks = passes(&c);
    assert_eq!(
        detail(&checks, "row_deltas_as_requested"),
        "expected a -1, objects +2; observed a -1, objects +2"
    );
}

#[test]
fn row_deltas_leave_out_sqlite_sequence_unless_asked_and_unchanged_tables() {
    let before = phase(
        Some("f"),
        "l",
        &[("a", 1), ("sqlite_sequence", 0), ("same", 5)],
    );
    let after = phase(
        Some("g"),
        "m",
        &[("a", 3), ("sqlite_sequence", 1), ("same", 5), ("new", 2)],
    );
    assert_eq!(
        row_deltas(&before, &after, false),
        BTreeMap::from([("a".into(), 2), ("new".into(), 2)])
    );
    assert_eq!(
        row_deltas(&before, &after, true),
        BTreeMap::from([
            ("a".into(), 2),
            ("new".into(), 2),
            ("sqlite_sequence".into(), 1)
        ])
    );
    // A table dropped by the apply counts as all its rows removed.
    let gone = phase(Some("g"), "m", &[("sqlite_sequence", 0), ("same", 5)]);
    assert_eq!(
        row_deltas(&before, &gone, false),
        BTreeMap::from([("a".into(), -1)])
    );
}

#[test]
fn a_rollback_counts_only_when_it_ran_without_error() {
    let c = with(|c| c.rollback.performed = false);
    fails_only(&c, &["rollback_performed"]);
    let c = with(|c| c.rollback.error = Some("no such table".into()));
    fails_only(&c, &["rollback_performed"]);
    let (checks, _) = eval(&c);
    assert_eq!(
        detail(&checks, "rollback_performed"),
        "rollback did not complete: no such table"
    );
    let c = with(|c| {
        c.rollback.performed = false;
        c.rollback.error = Some("x".into());
    });
    fails_only(&c, &["rollback_performed"]);
}

#[test]
fn byte_exact_needs_both_the_bytes_and_the_content() {
    let c = with(|c| c.phases.after_rollback.as_mut().unwrap().file_sha256 = Some("f9".into()));
    fails_only(&c, &["restored_byte_exact"]);
    let (checks, _) = eval(&c);
    assert_eq!(
        detail(&checks, "restored_byte_exact"),
        "after-rollback file SHA-256 f9 vs before f0; logical equal"
    );
    let c = with(|c| c.phases.after_rollback.as_mut().unwrap().logical.sha256 = "l9".into());
    fails_only(&c, &["restored_byte_exact"]);
    let (checks, _) = eval(&c);
    assert_eq!(
        detail(&checks, "restored_byte_exact"),
        "after-rollback file SHA-256 f0 vs before f0; logical differs"
    );
    // Two missing digests are not equal bytes.
    let c = with(|c| {
        c.phases.before.file_sha256 = None;
        c.phases.after_rollback.as_mut().unwrap().file_sha256 = None;
        c.copy_snapshot = false;
    });
    let (checks, v) = eval(&c);
    assert_eq!(v, Verdict::Fail);
    assert!(
        failing(&checks).contains(&"restored_byte_exact"),
        "{checks:#?}"
    );
    assert_eq!(
        detail(&checks, "restored_byte_exact"),
        "after-rollback file SHA-256 (none) vs before (none); logical equal"
    );
}

#[test]
fn logical_only_needs_the_content_and_never_claims_the_bytes() {
    let lo = |edit: fn(&mut Phase)| {
        with(|c| {
            c.proof = Proof::LogicalOnly;
            edit(c.phases.after_rollback.as_mut().unwrap());
        })
    };
    let checks = passes(&lo(|r| r.file_sha256 = Some("f9".into())));
    assert_eq!(
        detail(&checks, "restored_logically"),
        "after-rollback logical SHA-256 l0 vs before l0; proof is logical-only, \
         never byte-exact (file bytes differ, as this method pair implies)"
    );
    assert!(!checks.iter().any(|x| x.name == "restored_byte_exact"));
    let checks = passes(&lo(|_| {}));
    assert!(detail(&checks, "restored_logically").ends_with("(file bytes happen to be identical)"));
    fails_only(
        &lo(|r| r.logical.sha256 = "l9".into()),
        &["restored_logically"],
    );
}

#[test]
fn nothing_may_be_left_beside_the_restored_file() {
    let c = with(|c| {
        c.phases.after_rollback.as_mut().unwrap().stray_files =
            vec!["t.db-wal".into(), "t.db-shm".into()];
    });
    fails_only(&c, &["no_stray_files"]);
    let (checks, _) = eval(&c);
    assert_eq!(
        detail(&checks, "no_stray_files"),
        "left beside the file: t.db-wal, t.db-shm"
    );
    // Strays at after-apply are normal (WAL mode); only the restored file counts.
    passes(&with(|c| {
        c.phases.after_apply.as_mut().unwrap().stray_files = vec!["t.db-wal".into()];
    }));
}

#[test]
fn an_unmeasured_rollback_fails_without_a_restored_check() {
    let c = with(|c| c.phases.after_rollback = None);
    fails_only(&c, &["restored"]);
    let (checks, _) = eval(&c);
    assert_eq!(
        detail(&checks, "restored"),
        "the after-rollback state was not measured"
    );
    assert!(!checks.iter().any(|x| x.name == "no_stray_files"));
}

#[test]
fn a_refused_restore_must_leave_the_target_as_after_apply() {
    // The refused restore left after-apply's bytes: untouched, but not restored.
    let refused = |rolled: Phase| {
        with(|c| {
            c.refused_corrupt = true;
            c.phases.after_rollback = Some(rolled);
        })
    };
    let applied = phase(Some("f1"), "l1", &[("objects", 12)]);
    let (checks, _) = eval(&refused(applied.clone()));
    assert_eq!(failing(&checks), ["restored_byte_exact"]);
    assert_eq!(
        detail(&checks, "target_untouched_after_refusal"),
        "the refused restore left the target exactly as after apply (same SHA-256)"
    );
    let mut other = applied.clone();
    other.file_sha256 = Some("f2".into());
    let (checks, _) = eval(&refused(other));
    assert!(failing(&checks).contains(&"target_untouched_after_refusal"));
    assert_eq!(
        detail(&checks, "target_untouched_after_refusal"),
        "the target changed although the restore was refused"
    );
    // Without files: the logical hash must be unchanged, and still no file.
    let no_file = |after: &str, rolled: Option<&str>, logical: &str| {
        let mut c = refused(phase(rolled, logical, &[("objects", 12)]));
        c.phases.after_apply = Some(phase(None, after, &[("objects", 12)]));
        let (checks, _) = eval(&c);
        checks
            .iter()
            .find(|x| x.name == "target_untouched_after_refusal")
            .unwrap()
            .outcome
    };
    assert_eq!(no_file("l1", None, "l1"), Outcome::Pass);
    assert_eq!(no_file("l1", None, "l2"), Outcome::Fail);
    assert_eq!(no_file("l1", Some("f1"), "l1"), Outcome::Fail);
    // Nothing measured after: cannot be shown untouched.
    let mut c = refused(applied);
    c.phases.after_rollback = None;
    let (checks, _) = eval(&c);
    assert!(failing(&checks).contains(&"target_untouched_after_refusal"));
    // Not refused: the check is not there at all.
    assert!(
        !passes(&base())
            .iter()
            .any(|x| x.name == "target_untouched_after_refusal")
    );
}

fn cluster(entries: &[(&str, &str)]) -> ClusterState {
    let entries: BTreeMap<String, String> = entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ClusterState {
        sha256: format!("{entries:?}"),
        entries,
    }
}

#[test]
fn the_cluster_must_be_as_before_when_it_was_recorded() {
    let roles = cluster(&[("role app", "LOGIN"), ("role admin", "SUPERUSER")]);
    let c = with(|c| {
        c.phases.before.cluster = Some(roles.clone());
        c.phases.after_rollback.as_mut().unwrap().cluster = Some(roles.clone());
    });
    let checks = passes(&c);
    assert_eq!(
        detail(&checks, "cluster_unchanged"),
        "roles, memberships, settings and database properties as before (2 entries)"
    );
    let c = with(|c| c.phases.before.cluster = Some(roles.clone()));
    fails_only(&c, &["cluster_unchanged"]);
    let (checks, _) = eval(&c);
    assert_eq!(
        detail(&checks, "cluster_unchanged"),
        "the cluster's roles were not captured after rollback"
    );
    let mut many: Vec<(String, String)> = (0..7)
        .map(|i| (format!("role r{i}"), "LOGIN".into()))
        .collect();
    many.push(("role app".into(), "LOGIN".into()));
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let c = with(|c| {
        c.phases.before.cluster = Some(roles.clone());
        c.phases.after_rollback.as_mut().unwrap().cluster = Some(cluster(&many));
    });
    fails_only(&c, &["cluster_unchanged"]);
    let (checks, _) = eval(&c);
    let d = detail(&checks, "cluster_unchanged");
    assert!(
        d.starts_with("the cluster differs after rollback (no database snapshot restores it): "),
        "{d}"
    );
    assert!(d.ends_with("; … 3 more"), "{d}");
    // No cluster recorded before (SQLite): no check.
    assert!(
        !passes(&base())
            .iter()
            .any(|x| x.name == "cluster_unchanged")
    );
}

/// A births apply of 10 with a kill fault: `k` births committed on all four
/// tables, `reported` of them reported by the worker before it died.
fn killed(k: i64, reported: u64) -> Case {
    with(|c| {
        c.expected = Some(BIRTH_TABLES.iter().map(|t| (t.to_string(), 10)).collect());
        c.observed = Some(BIRTH_TABLES.iter().map(|t| (t.to_string(), k)).collect());
        c.births_requested = Some(10);
        c.births_reported = Some(reported);
        c.fault = Some((
            FaultKind::Kill,
            FaultRecord {
                kind: "kill".into(),
                injected: true,
                detail: "killed after 3 births".into(),
            },
        ));
    })
}

#[test]
fn an_apply_fault_must_land_part_way_and_leave_whole_births() {
    for (k, reported, ok) in [
        (0, 0, false),  // nothing committed: the fault came too early
        (1, 0, true),   // the first birth is enough
        (3, 3, true),   // at least what was reported
        (2, 3, false),  // fewer than reported: a reported birth was lost
        (9, 3, true),   // all but the last
        (10, 3, false), // all: the fault landed too late
        (11, 3, false), // more than asked
    ] {
        let c = killed(k, reported);
        if ok {
            let checks = passes(&c);
            assert!(!checks.iter().any(|x| x.name == "apply_was_real"));
        } else {
            fails_only(&c, &["apply_interrupted_part_way"]);
        }
    }
    let checks = passes(&killed(3, 3));
    assert_eq!(detail(&checks, "fault_injected"), "killed after 3 births");
    assert_eq!(
        detail(&checks, "apply_interrupted_part_way"),
        "3 of 10 births committed before the fault (3 reported); observed \
         birth_registry +3, directus_activity +3, directus_revisions +3, objects +3; whole births only"
    );
    // Torn births: one table behind, or a table outside the births.
    let mut torn = killed(3, 3);
    torn.observed.as_mut().unwrap().insert("objects".into(), 2);
    fails_only(&torn, &["apply_interrupted_part_way"]);
    let (checks, _) = eval(&torn);
    assert!(
        detail(&checks, "apply_interrupted_part_way")
            .ends_with("NOT whole births: the surface was left inconsistent")
    );
    let mut extra = killed(3, 3);
    extra.observed.as_mut().unwrap().insert("other".into(), 3);
    fails_only(&extra, &["apply_interrupted_part_way"]);
    // The file must have changed, unless there is none.
    let mut same = killed(3, 3);
    same.phases.after_apply.as_mut().unwrap().file_sha256 = Some("f0".into());
    fails_only(&same, &["apply_interrupted_part_way"]);
    let mut no_file = killed(3, 3);
    no_file.phases.after_apply.as_mut().unwrap().file_sha256 = None;
    passes(&no_file);
    // A fault that did not happen fails on its own.
    let mut missed = killed(3, 3);
    missed.fault.as_mut().unwrap().1.injected = false;
    fails_only(&missed, &["fault_injected"]);
}

#[test]
fn every_apply_fault_kind_is_judged_part_way_and_a_snapshot_fault_is_not() {
    for kind in [FaultKind::Kill, FaultKind::DiskFull, FaultKind::IoError] {
        let mut c = killed(3, 3);
        c.fault.as_mut().unwrap().0 = kind;
        let checks = passes(&c);
        assert!(
            checks
                .iter()
                .any(|x| x.name == "apply_interrupted_part_way")
        );
    }
    // A corrupt snapshot is not an apply fault: the apply is judged whole.
    let mut c = killed(3, 3);
    c.fault.as_mut().unwrap().0 = FaultKind::CorruptSnapshot;
    let (checks, _) = eval(&c);
    assert!(checks.iter().any(|x| x.name == "apply_was_real"));
    assert!(
        !checks
            .iter()
            .any(|x| x.name == "apply_interrupted_part_way")
    );
    assert!(failing(&checks).contains(&"row_deltas_as_requested"));
}

#[test]
fn long_digests_are_shortened_to_sixteen_characters_in_details() {
    let long = "0123456789abcdef0123";
    let c = with(|c| c.phases.after_apply.as_mut().unwrap().logical.sha256 = long.into());
    let checks = passes(&c);
    assert_eq!(
        detail(&checks, "apply_was_real"),
        "after-apply logical 0123456789abcdef vs before l0; file bytes differ"
    );
    assert_eq!(short(None), "(none)");
    assert_eq!(short(Some("abc")), "abc");
}

#[test]
fn with_a_file_on_one_side_only_the_bytes_are_said_to_differ() {
    // "n/a (no file)" only when neither phase has a file.
    let c = with(|c| c.phases.after_apply.as_mut().unwrap().file_sha256 = None);
    let checks = passes(&c);
    assert_eq!(
        detail(&checks, "apply_was_real"),
        "after-apply logical l1 vs before l0; file bytes differ"
    );
}

#[test]
fn an_sql_apply_fault_is_judged_by_how_far_the_script_ran() {
    // No births requested: the script's record, not the birth counts, says
    // whether the fault landed part-way.
    let faulted = |completed: u64| {
        with(|c| {
            c.fault = Some((
                FaultKind::Kill,
                FaultRecord {
                    kind: "kill".into(),
                    injected: true,
                    detail: "killed after statement 1".into(),
                },
            ));
            c.apply_script = Some(ScriptRun {
                statements: 3,
                completed,
                failure: None,
            });
        })
    };
    let checks = passes(&faulted(1));
    assert_eq!(
        detail(&checks, "apply_interrupted_part_way"),
        "the fault stopped the script after 1 of 3 statements (stopped after 1 of 3 statements); \
         the database was left changed: its logical state differs from the before state's \
         (same schema; row deltas objects +2)"
    );
    assert!(!checks.iter().any(|x| x.name == "apply_was_real"));
    assert!(!checks.iter().any(|x| x.name == "script_completed:apply"));
    fails_only(&faulted(3), &["apply_interrupted_part_way"]);
}

/// Births undone as Directus API deletes: `n` births applied on top of
/// before (5 births, 20 activity rows, 10 revisions), then deleted through
/// the API, which keeps each birth's create and delete activity and its
/// create revision.
fn api_deleted(n: u64) -> Case {
    let t = |br: u64, act: u64, rev: u64| {
        [
            ("birth_registry", br),
            ("directus_activity", act),
            ("directus_revisions", rev),
            ("objects", br),
        ]
    };
    with(|c| {
        c.proof = Proof::LogicalOnly;
        c.copy_snapshot = false;
        c.rollback.compensation = Some(API_DELETE.into());
        c.expected = Some(
            BIRTH_TABLES
                .iter()
                .map(|t| (t.to_string(), n as i64))
                .collect(),
        );
        c.phases.before = phase(Some("f0"), "l0", &t(5, 20, 10));
        c.phases.snapshot = Some(c.phases.before.clone());
        c.phases.after_apply = Some(phase(Some("f1"), "l1", &t(5 + n, 20 + n, 10 + n)));
        // Same table digests as before for the tables an API delete
        // restores (the helper derives them from the logical name).
        c.phases.after_rollback = Some(phase(Some("f2"), "l0", &t(5, 20 + 2 * n, 10 + n)));
    })
}

fn rolled(c: &mut Case) -> &mut Phase {
    c.phases.after_rollback.as_mut().unwrap()
}

#[test]
fn an_api_delete_must_leave_everything_as_before_but_the_history_it_keeps() {
    let checks = passes(&api_deleted(3));
    assert!(
        !checks
            .iter()
            .any(|x| x.name.starts_with("restored_") && x.name != "restored_as_api_delete")
    );
    assert_eq!(
        detail(&checks, "restored_as_api_delete"),
        "3 births undone as Directus API deletes: every table as before except the history \
         they keep (directus_activity +6: each birth's create and delete; directus_revisions \
         +3: the creates' revisions); schema and settings as before; sequences not compared; \
         not a restoration of the before state"
    );
    // Sequences advanced, as a production delete leaves them: not compared.
    let mut seq = api_deleted(3);
    let counter = |rows| TableDigest {
        rows,
        sha256: format!("seq-{rows}"),
    };
    let before = &mut seq.phases.before.logical.tables;
    before.insert("sqlite_sequence".into(), counter(4));
    let after = &mut rolled(&mut seq).logical.tables;
    after.insert("sqlite_sequence".into(), counter(5));
    passes(&seq);
    // One birth is as good as many; none is nothing undone.
    passes(&api_deleted(1));
    let mut none = api_deleted(3);
    none.phases.after_apply = Some(none.phases.before.clone());
    none.phases.after_apply.as_mut().unwrap().logical.sha256 = "l1".into();
    none.phases.after_apply.as_mut().unwrap().file_sha256 = Some("f1".into());
    *rolled(&mut none) = none.phases.before.clone();
    let (checks, v) = eval(&none);
    assert_eq!(v, Verdict::Fail);
    assert!(
        failing(&checks).contains(&"restored_as_api_delete"),
        "{checks:#?}"
    );
    assert_eq!(
        detail(&checks, "restored_as_api_delete"),
        "no births were measured after apply, so there is nothing an API delete undid"
    );
    let mut unmeasured = api_deleted(3);
    unmeasured.phases.after_apply = None;
    let (checks, _) = eval(&unmeasured);
    assert!(failing(&checks).contains(&"restored_as_api_delete"));
}

#[test]
fn an_api_delete_fails_on_any_other_difference_and_names_it() {
    type Edit = fn(&mut Phase);
    let cases: [(Edit, &str); 6] = [
        (
            |r| r.logical.tables.get_mut("directus_activity").unwrap().rows -= 1,
            "directus_activity +5 rows (expected +6)",
        ),
        (
            |r| r.logical.tables.get_mut("directus_revisions").unwrap().rows += 1,
            "directus_revisions +4 rows (expected +3)",
        ),
        (
            |r| r.logical.tables.get_mut("objects").unwrap().rows += 1,
            "objects differs",
        ),
        (
            |r| r.logical.tables.get_mut("birth_registry").unwrap().sha256 = "x".into(),
            "birth_registry differs",
        ),
        (
            |r| r.logical.schema_sha256 = "s2".into(),
            "the schema differs",
        ),
        (
            |r| {
                r.logical
                    .settings
                    .insert("user_version".into(), Setting::Int(7));
            },
            "the settings differ",
        ),
    ];
    for (edit, why) in cases {
        let mut c = api_deleted(3);
        edit(rolled(&mut c));
        fails_only(&c, &["restored_as_api_delete"]);
        let (checks, _) = eval(&c);
        assert_eq!(
            detail(&checks, "restored_as_api_delete"),
            format!("after the API deletes of 3 births: {why}")
        );
    }
    // A table the delete left behind, and one it removed.
    let mut c = api_deleted(3);
    rolled(&mut c).logical.tables.insert(
        "extra".into(),
        TableDigest {
            rows: 1,
            sha256: "e".into(),
        },
    );
    rolled(&mut c).logical.tables.remove("objects");
    fails_only(&c, &["restored_as_api_delete"]);
    let (checks, _) = eval(&c);
    assert_eq!(
        detail(&checks, "restored_as_api_delete"),
        "after the API deletes of 3 births: extra differs; objects differs"
    );
}
