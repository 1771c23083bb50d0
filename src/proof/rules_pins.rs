//! Pins every rule `verify` applies to a report's own numbers (issue #18).
//! Each case edits one thing in a real, consistent PASS report (a
//! byte-exact births rehearsal, copied from `reports/`) and names exactly
//! the problems both layers must then find: [`check`]'s named
//! contradictions and [`recompute`]'s re-derivation. The unedited report
//! has none, so every code listed is caused by its one edit.

use super::*;
use serde_json::{Value, json};

const PASS: &str = include_str!("testdata/births-copy-restore.json");

fn report(v: &Value) -> Report {
    serde_json::from_value(v.clone()).expect("still a report")
}

/// The problem codes of both layers, in the order they are found.
fn codes(v: &Value) -> Vec<&'static str> {
    let r = report(v);
    check(&r)
        .into_iter()
        .chain(recompute(&r))
        .map(|p| p.code)
        .collect()
}

fn messages(v: &Value) -> Vec<String> {
    let r = report(v);
    check(&r)
        .into_iter()
        .chain(recompute(&r))
        .map(|p| p.message)
        .collect()
}

fn edited(edit: impl FnOnce(&mut Value)) -> Value {
    let mut v: Value = serde_json::from_str(PASS).unwrap();
    edit(&mut v);
    v
}

/// The outcome of check `name` in a report value.
fn set_outcome(v: &mut Value, name: &str, outcome: &str) {
    let checks = v["checks"].as_array_mut().unwrap();
    let c = checks.iter_mut().find(|c| c["name"] == name).unwrap();
    c["outcome"] = json!(outcome);
}

#[test]
fn the_unedited_report_is_consistent() {
    assert_eq!(codes(&edited(|_| {})), Vec::<&str>::new());
}

#[test]
fn a_verdict_must_follow_from_its_checks_both_ways() {
    // PASS with a failed check.
    let v = edited(|v| set_outcome(v, "no_stray_files", "fail"));
    // The rules agree the measurements make PASS: only the recorded
    // outcome and the verdict-vs-checks rule object.
    assert_eq!(codes(&v), ["verdict-checks", "check-outcome"]);
    assert_eq!(
        messages(&v)[0],
        "verdict PASS but checks failed: no_stray_files"
    );
    // FAIL with every check passed.
    let v = edited(|v| {
        v["verdict"] = json!("FAIL");
        v["expected_verdict"] = json!("FAIL");
    });
    assert_eq!(codes(&v), ["verdict-checks", "verdict-recomputed"]);
    assert_eq!(messages(&v)[0], "verdict FAIL but every check passed");
    assert_eq!(
        messages(&v)[1],
        "the verdict is FAIL, but the checks recomputed from the measurements give PASS"
    );
}

#[test]
fn as_expected_must_say_whether_the_verdict_was_the_expected_one() {
    let v = edited(|v| v["as_expected"] = json!(false));
    assert_eq!(codes(&v), ["as-expected"]);
    assert_eq!(
        messages(&v)[0],
        "as_expected is false but the verdict is PASS and the expected verdict PASS"
    );
    let v = edited(|v| v["expected_verdict"] = json!("FAIL"));
    assert_eq!(codes(&v), ["as-expected"]);
    let v = edited(|v| {
        v["expected_verdict"] = json!("FAIL");
        v["as_expected"] = json!(false);
    });
    assert_eq!(codes(&v), Vec::<&str>::new());
}

#[test]
fn a_proof_kind_must_be_one_the_methods_can_give() {
    // Byte-exact claimed for a compensating rollback.
    let v = edited(|v| v["methods"]["rollback"] = json!("compensate"));
    let c = codes(&v);
    assert_eq!(c[0], "byte-exact-impossible", "{c:?}");
    assert!(
        messages(&v)[0].contains(
            "with snapshot `copy` and rollback `compensate` can only prove logical equality"
        ),
        "{:?}",
        messages(&v)
    );
    // Logical-only claimed where byte-exact was possible: the check names
    // change with it, and recompute says the kind is wrong.
    let v = edited(|v| v["proof"] = json!("logical-only"));
    let c = codes(&v);
    assert!(c.contains(&"proof-kind"), "{c:?}");
    assert!(!c.contains(&"byte-exact-impossible"), "{c:?}");
}

#[test]
fn the_surrogate_digest_must_be_the_before_file() {
    let v = edited(|v| v["surrogate"]["sha256"] = json!("00".repeat(32)));
    assert_eq!(codes(&v), ["surrogate-mismatch"]);
    assert_eq!(
        messages(&v)[0],
        "surrogate.sha256 0000000000000000 is not the before phase's file SHA-256 30536c2a3f60019a"
    );
}

#[test]
fn a_derived_phase_must_have_the_bytes_and_content_of_its_source() {
    // This report's snapshot and after-rollback phases are derived from
    // before (same bytes), and say so truthfully.
    let v = edited(|v| v["phases"]["after_apply"]["derived_from"] = json!("before"));
    assert_eq!(codes(&v), ["derived-from"]);
    // Same bytes, other content (a field no other rule reads).
    let v = edited(|v| v["phases"]["after_rollback"]["logical"]["schema_sha256"] = json!("x"));
    assert_eq!(codes(&v), ["derived-from"]);
    // Same content, other bytes.
    let v = edited(|v| v["phases"]["snapshot"]["file_sha256"] = json!("ab".repeat(32)));
    assert_eq!(
        codes(&v),
        ["derived-from", "check-outcome", "verdict-recomputed"]
    );
    // A source that was not measured, or a source without a file digest.
    let v = edited(|v| v["phases"]["after_rollback"]["derived_from"] = json!("nowhere"));
    assert_eq!(codes(&v), ["derived-from"]);
    assert_eq!(
        messages(&v)[0],
        "phase after_rollback says it was derived from nowhere, but their file SHA-256 or logical hash differ"
    );
}

#[test]
fn observed_deltas_must_be_the_row_counts_of_before_and_after_apply() {
    let v = edited(|v| v["apply"]["observed_row_deltas"]["objects"] = json!(499));
    assert_eq!(
        codes(&v),
        ["row-deltas", "pass-row-deltas", "observed-deltas"]
    );
    assert_eq!(
        messages(&v)[0],
        "observed_row_deltas contradict the row counts of before and after_apply: objects +499 vs +500"
    );
}

#[test]
fn the_expected_deltas_of_births_are_derived() {
    let v = edited(|v| {
        v["apply"]["expected_row_deltas"]["objects"] = json!(499);
    });
    let c = codes(&v);
    assert!(c.contains(&"expected-deltas"), "{c:?}");
    assert!(c.contains(&"pass-row-deltas"), "{c:?}");
}

#[test]
fn a_pass_needs_both_later_phases() {
    let v = edited(|v| v["phases"]["after_apply"] = Value::Null);
    let c = codes(&v);
    assert_eq!(c[0], "pass-incomplete", "{c:?}");
    let v = edited(|v| v["phases"]["after_rollback"] = Value::Null);
    let c = codes(&v);
    assert_eq!(c[0], "pass-incomplete", "{c:?}");
}

#[test]
fn a_pass_must_have_restored_before_and_changed_something() {
    let v = edited(|v| v["phases"]["after_rollback"]["logical"]["sha256"] = json!("ab".repeat(32)));
    assert_eq!(
        codes(&v),
        [
            "derived-from",
            "pass-before-after",
            "check-outcome",
            "verdict-recomputed"
        ]
    );
    // The bytes alone differ: a byte-exact PASS is not borne out.
    let v = edited(|v| v["phases"]["after_rollback"]["file_sha256"] = json!("cd".repeat(32)));
    assert_eq!(
        codes(&v),
        [
            "derived-from",
            "pass-before-after",
            "check-outcome",
            "verdict-recomputed"
        ]
    );
    assert!(
        messages(&v)[1].starts_with("byte-exact PASS but the file SHA-256 before (30536c2a3f60019a) differs from after rollback (cdcdcdcdcdcdcdcd)"),
        "{:?}",
        messages(&v)
    );
    // Only the .sha3sum digest differs.
    let v = edited(|v| v["phases"]["after_rollback"]["sha3"] = json!("ef".repeat(32)));
    assert_eq!(codes(&v), ["pass-before-after"]);
    // The apply changed nothing.
    let v = edited(|v| {
        let before = v["phases"]["before"]["logical"]["sha256"].clone();
        v["phases"]["after_apply"]["logical"]["sha256"] = before;
    });
    let c = codes(&v);
    assert!(c.contains(&"pass-apply-unchanged"), "{c:?}");
    // A failed integrity check after rollback.
    let v = edited(|v| v["phases"]["after_rollback"]["integrity_check"] = json!("page 2 bad"));
    let c = codes(&v);
    assert_eq!(c[0], "pass-integrity", "{c:?}");
}

#[test]
fn a_byte_exact_pass_needs_a_before_file_digest() {
    let v = edited(|v| {
        v["phases"]["before"]["file_sha256"] = Value::Null;
        v["phases"]["after_rollback"]["file_sha256"] = Value::Null;
    });
    let c = codes(&v);
    assert!(c.contains(&"pass-before-after"), "{c:?}");
    assert!(c.contains(&"digest-missing"), "{c:?}");
    // Two missing file digests are not "the same bytes".
    assert!(c.contains(&"derived-from"), "{c:?}");
}

#[test]
fn an_apply_fault_excuses_the_scenario_deltas_but_not_the_phase_deltas() {
    let v = edited(|v| {
        v["faults"] = json!([{"kind": "kill", "injected": true, "detail": "x"}]);
        v["apply"]["expected_row_deltas"]["objects"] = json!(501);
    });
    let c = codes(&v);
    assert!(!c.contains(&"pass-row-deltas"), "{c:?}");
}

#[test]
fn sqlite_records_every_file_digest_at_every_phase() {
    for field in ["file_sha256", "size", "page_count", "sha3"] {
        for phase in ["before", "snapshot", "after_apply", "after_rollback"] {
            let v = edited(|v| v["phases"][phase][field] = Value::Null);
            let c = codes(&v);
            assert!(c.contains(&"digest-missing"), "{phase}.{field}: {c:?}");
            assert!(
                messages(&v).iter().any(|m| m
                    == &format!("phases.{phase}.{field} is null, but the sqlite backend records it at every phase")),
                "{phase}.{field}: {:?}",
                messages(&v)
            );
        }
    }
}

#[test]
fn a_backend_without_files_records_no_file_digest() {
    let v = edited(|v| {
        v["backend"] = json!("postgres");
        v["methods"]["snapshot"] = json!("template");
        v["proof"] = json!("logical-only");
    });
    let c = codes(&v);
    assert!(c.contains(&"digest-impossible"), "{c:?}");
    assert!(!c.contains(&"digest-missing"), "{c:?}");
}

#[test]
fn unknown_methods_are_named() {
    let v = edited(|v| v["methods"]["snapshot"] = json!("rsync"));
    let c = codes(&v);
    assert!(c.contains(&"methods"), "{c:?}");
}

#[test]
fn the_recorded_checks_must_be_exactly_the_derived_ones() {
    // A check taken out.
    let v = edited(|v| {
        v["checks"]
            .as_array_mut()
            .unwrap()
            .retain(|c| c["name"] != "no_stray_files");
    });
    assert_eq!(codes(&v), ["check-missing"]);
    assert_eq!(
        messages(&v)[0],
        "the rules make check `no_stray_files` (pass), the report does not record it"
    );
    // A made-up check.
    let v = edited(|v| {
        v["checks"].as_array_mut().unwrap().push(json!({
            "name": "reviewed_by_hand", "outcome": "pass", "detail": "looked fine"
        }));
    });
    assert_eq!(codes(&v), ["check-extra"]);
    // A detail reworded.
    let v = edited(|v| {
        let c = &mut v["checks"].as_array_mut().unwrap()[11];
        c["detail"] = json!("rollback completed, trust me");
    });
    assert_eq!(codes(&v), ["check-detail"]);
    // Two checks swapped.
    let v = edited(|v| v["checks"].as_array_mut().unwrap().swap(0, 1));
    assert_eq!(codes(&v), ["check-order"]);
    // A failing check recorded as passing: recompute sees the check and
    // the verdict it implies.
    let v = edited(|v| {
        v["phases"]["after_rollback"]["stray_files"] = json!(["t.db-wal"]);
    });
    assert_eq!(codes(&v), ["check-outcome", "verdict-recomputed"]);
    assert!(
        messages(&v)[0].starts_with(
            "check `no_stray_files` is recorded as pass, but its measurements make it fail: "
        ),
        "{:?}",
        messages(&v)
    );
}

#[test]
fn short_digests_and_none_read_as_reviewers_see_them() {
    assert_eq!(short(None), "none");
    assert_eq!(short(Some("abc")), "abc");
    assert_eq!(short(Some("0123456789abcdef0123")), "0123456789abcdef");
    let a: BTreeMap<String, i64> = (0..7).map(|i| (format!("t{i}"), 1)).collect();
    assert_eq!(
        delta_mismatch(&a, &BTreeMap::new()).unwrap(),
        "t0 +1 vs +0, t1 +1 vs +0, t2 +1 vs +0, t3 +1 vs +0, t4 +1 vs +0"
    );
}

#[test]
fn a_byte_exact_claim_the_methods_cannot_give_is_named_once() {
    // Claimed byte-exact, derivable only as logical-only: that is the
    // named rule's contradiction, not also a "proof-kind" one.
    let v = edited(|v| v["methods"]["rollback"] = json!("compensate"));
    assert!(!codes(&v).contains(&"proof-kind"), "{:?}", codes(&v));
}

#[test]
fn a_backend_without_files_records_neither_a_file_digest_nor_a_size() {
    for field in ["file_sha256", "size"] {
        let v = edited(|v| {
            v["backend"] = json!("postgres");
            v["methods"]["snapshot"] = json!("template");
            v["proof"] = json!("logical-only");
            for phase in ["before", "snapshot", "after_apply", "after_rollback"] {
                v["phases"][phase]["file_sha256"] = Value::Null;
                v["phases"][phase]["size"] = Value::Null;
            }
            v["phases"]["after_apply"][field] = json!(if field == "size" {
                json!(4096)
            } else {
                json!("ab".repeat(32))
            });
        });
        let r = report(&v);
        let impossible: Vec<String> = recompute(&r)
            .into_iter()
            .filter(|p| p.code == "digest-impossible")
            .map(|p| p.message)
            .collect();
        assert_eq!(
            impossible,
            ["phases.after_apply records a file digest, but the postgres backend has no file"],
            "{field}"
        );
    }
}

#[test]
fn a_script_record_that_cannot_add_up_says_why() {
    use crate::evidence::report::{ScriptFailure, ScriptRun};
    let run = |statements, completed, at: Option<u64>| ScriptRun {
        statements,
        completed,
        failure: at.map(|statement| ScriptFailure {
            statement,
            line: 1,
            sql: "x".into(),
            message: "m".into(),
            denied: false,
            undone: false,
        }),
    };
    for (statements, completed, at, why) in [
        (3, 3, None, None),
        (3, 4, None, Some("4 statements completed of 3")),
        (3, 2, Some(3), None), // the last statement failed
        (3, 2, Some(4), Some("failed at statement 4 of 3")),
        (3, 3, Some(4), Some("failed at statement 4 of 3")),
        (3, 1, Some(2), None),
        (3, 3, Some(0), None), // rollproof's COMMIT after all statements
        (
            3,
            0,
            Some(2),
            Some("failed at statement 2 but says 0 completed before it"),
        ),
        (
            3,
            2,
            Some(2),
            Some("failed at statement 2 but says 2 completed before it"),
        ),
    ] {
        assert_eq!(
            script_inconsistency(&run(statements, completed, at)).as_deref(),
            why,
            "{statements} {completed} {at:?}"
        );
    }
    // Found in a report, it is named with its phase.
    let v = edited(|v| {
        v["rollback"]["script"] = json!({"statements": 2, "completed": 3, "failure": null});
    });
    let r = report(&v);
    let p: Vec<String> = check(&r)
        .into_iter()
        .filter(|p| p.code == "script-record")
        .map(|p| p.message)
        .collect();
    assert_eq!(p, ["rollback.script: 3 statements completed of 2"]);
}

#[test]
fn a_pass_with_a_failed_change_script_is_named() {
    let failure = json!({
        "statement": 2, "line": 4, "sql": "DROP TABLE t;", "message": "no such table",
        "denied": false, "undone": false
    });
    let script = json!({"statements": 3, "completed": 1, "failure": failure});
    let pass_script_failed = |v: &Value| {
        let r = report(v);
        check(&r)
            .into_iter()
            .filter(|p| p.code == "pass-script-failed")
            .map(|p| p.message)
            .collect::<Vec<_>>()
    };
    let v = edited(|v| v["rollback"]["script"] = script.clone());
    assert_eq!(
        pass_script_failed(&v),
        ["verdict PASS but a change script stopped at a failed statement"]
    );
    let v = edited(|v| v["apply"]["script"] = script.clone());
    assert_eq!(pass_script_failed(&v).len(), 1);
    // Under an apply fault the up script is meant to stop part-way…
    let v = edited(|v| {
        v["faults"] = json!([{"kind": "kill", "injected": true, "detail": "x"}]);
        v["apply"]["script"] = script.clone();
    });
    assert!(pass_script_failed(&v).is_empty());
    // …but the down script is not.
    let v = edited(|v| {
        v["faults"] = json!([{"kind": "kill", "injected": true, "detail": "x"}]);
        v["rollback"]["script"] = script.clone();
    });
    assert_eq!(pass_script_failed(&v).len(), 1);
    // Scripts that ran through are fine.
    let ran = json!({"statements": 3, "completed": 3, "failure": null});
    let v = edited(|v| {
        v["apply"]["script"] = ran.clone();
        v["rollback"]["script"] = ran.clone();
    });
    assert!(pass_script_failed(&v).is_empty());
}

#[test]
fn a_sha3_digest_on_one_side_only_is_a_missing_digest_not_a_difference() {
    for phase in ["before", "after_rollback"] {
        let v = edited(|v| v["phases"][phase]["sha3"] = Value::Null);
        assert_eq!(codes(&v), ["digest-missing"], "{phase}");
    }
    let v = edited(|v| v["phases"]["after_rollback"]["sha3"] = json!("ef".repeat(32)));
    assert_eq!(
        messages(&v),
        [format!(
            "byte-exact PASS but the .sha3sum digest before ({}) differs from after rollback (efefefefefefefef)",
            &report(&v).phases.before.sha3.clone().unwrap()[..16]
        )]
    );
}

#[test]
fn an_api_delete_pass_stands_on_everything_but_the_history_being_as_before() {
    let pass_before_after = |v: &Value| {
        let r = report(v);
        check(&r)
            .into_iter()
            .filter(|p| p.code == "pass-before-after")
            .map(|p| p.message)
            .collect::<Vec<_>>()
    };
    // The rollback restored the before state, so the history an API delete
    // keeps is not there: its PASS is not borne out.
    let v = edited(|v| v["rollback"]["compensation"] = json!("api-delete"));
    assert_eq!(
        pass_before_after(&v),
        [
            "api-delete PASS not borne out: after the API deletes of 500 births: \
          directus_activity +0 rows (expected +1000); directus_revisions +0 rows (expected +500)"
        ]
    );
    // With that history, and the logical hash no longer the before one,
    // it is.
    let v = edited(|v| {
        v["rollback"]["compensation"] = json!("api-delete");
        let r = &mut v["phases"]["after_rollback"];
        r["derived_from"] = Value::Null;
        r["logical"]["sha256"] = json!("9a".repeat(32));
        for (t, grown) in [("directus_activity", 1000), ("directus_revisions", 500)] {
            let rows = r["logical"]["tables"][t]["rows"].as_i64().unwrap();
            r["logical"]["tables"][t]["rows"] = json!(rows + grown);
        }
    });
    assert!(pass_before_after(&v).is_empty(), "{:?}", messages(&v));
}

#[test]
fn a_births_apply_without_its_count_may_change_nothing() {
    let v = edited(|v| v["apply"]["births"] = Value::Null);
    assert_eq!(judge::expected_deltas(&report(&v)), Some(BTreeMap::new()));
    let v = edited(|_| {});
    let births: BTreeMap<String, i64> = crate::proof::verdict::BIRTH_TABLES
        .iter()
        .map(|t| (t.to_string(), 500))
        .collect();
    assert_eq!(judge::expected_deltas(&report(&v)), Some(births));
    // An sql apply's deltas are the scenario's, as recorded.
    let v = edited(|v| v["methods"]["apply"] = json!("sql"));
    let recorded = report(&v).apply.expected_row_deltas.clone();
    assert!(recorded.is_some());
    assert_eq!(judge::expected_deltas(&report(&v)), recorded);
}
