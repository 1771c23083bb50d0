//! The forgeries of issue #13, each done the way the review did it: edit a
//! real report, re-seal it so the seal and the canonical form hold, and run
//! `rollproof verify`. Before the verifier recomputed the checks from the
//! phases, every one of these printed OK; now each is rejected for what it
//! changed.

use super::*;

/// Forge `genuine` with `edit`, re-seal, write, verify (with `artifacts`);
/// expect exit 1 and every problem code in `codes`.
fn assert_forgery_rejected(
    w: &Work,
    name: &str,
    genuine: &Value,
    artifacts: Option<&Path>,
    codes: &[&str],
    edit: impl FnOnce(&mut Value),
) {
    let mut v = genuine.clone();
    edit(&mut v);
    let path = w.path(&format!("forged-{name}.json"));
    std::fs::write(&path, reseal(v)).unwrap();
    let o = verify(w, &path, artifacts);
    let out = stdout(&o);
    assert_code(&o, 1);
    assert!(!out.contains("(seal-"), "{name}: the seal holds\n{out}");
    for code in codes {
        assert!(
            out.contains(&format!("FAILED ({code}: ")),
            "{name}: expected {code}\n{out}"
        );
    }
}

#[test]
fn a_fail_turned_into_a_pass_with_its_phases_made_to_match_is_rejected() {
    let w = Work::new();
    let fail = wrong_down(&w).json();
    assert_eq!(fail["verdict"], "FAIL");
    assert_forgery_rejected(&w, "fail-to-pass", &fail, None, &["check-detail"], |v| {
        v["verdict"] = "PASS".into();
        v["expected_verdict"] = "PASS".into();
        v["as_expected"] = true.into();
        v["diff"] = Value::Null;
        v["phases"]["after_rollback"]["logical"] = fail["phases"]["before"]["logical"].clone();
        for c in v["checks"].as_array_mut().unwrap() {
            c["outcome"] = "pass".into();
        }
    });
}

#[test]
fn a_made_up_check_a_missing_snapshot_and_a_bad_before_integrity_are_rejected() {
    let w = Work::new();
    let genuine = copy_restore(&w).json();
    assert_forgery_rejected(&w, "made-up-check", &genuine, None, &["check-extra"], |v| {
        v["checks"].as_array_mut().unwrap().push(serde_json::json!({
            "name": "owner_approved", "outcome": "pass", "detail": "approved by the owner"
        }));
    });
    assert_forgery_rejected(&w, "no-snapshot", &genuine, None, &["check-outcome"], |v| {
        v["phases"]["snapshot"] = Value::Null;
    });
    assert_forgery_rejected(
        &w,
        "before-integrity",
        &genuine,
        None,
        &["check-outcome", "verdict-recomputed"],
        |v| {
            v["phases"]["before"]["integrity_check"] = "row 3 missing from index".into();
        },
    );
    // A check dropped, and checks reordered.
    assert_forgery_rejected(
        &w,
        "dropped-check",
        &genuine,
        None,
        &["check-missing"],
        |v| {
            v["checks"].as_array_mut().unwrap().remove(0);
        },
    );
    assert_forgery_rejected(&w, "reordered", &genuine, None, &["check-order"], |v| {
        v["checks"].as_array_mut().unwrap().swap(0, 1);
    });
}

#[test]
fn methods_swapped_from_compensate_to_a_byte_exact_restore_are_rejected() {
    let w = Work::new();
    let run = rehearse(
        &w,
        "compensate-rewind",
        "PASS",
        &format!(
            "{BIRTHS}[snapshot]\nmethod = \"copy\"\n\n[rollback]\nmethod = \"compensate\"\nrewind_sequences = true\n"
        ),
    );
    let genuine = run.json();
    assert_eq!(
        (&genuine["verdict"], &genuine["proof"]),
        (&Value::from("PASS"), &Value::from("logical-only"))
    );
    assert_forgery_rejected(
        &w,
        "methods",
        &genuine,
        None,
        &["check-missing", "check-extra"],
        |v| {
            v["methods"]["rollback"] = "restore".into();
            v["proof"] = "byte-exact".into();
            for f in ["file_sha256", "size", "sha3", "page_count"] {
                v["phases"]["after_rollback"][f] = genuine["phases"]["before"][f].clone();
            }
        },
    );
    // And a proof kind the methods cannot give, the other way round.
    let exact = copy_restore(&w).json();
    assert_forgery_rejected(&w, "proof-kind", &exact, None, &["proof-kind"], |v| {
        v["proof"] = "logical-only".into();
    });
}

#[test]
fn null_digests_and_made_up_journals_no_longer_skip_kept_artifacts() {
    let w = Work::new();
    let run = copy_restore(&w);
    let genuine = run.json();
    // The kept snapshot is replaced by another database.
    let other = w.tiny("other.db", 99);
    std::fs::copy(&other, run.artifact("snapshot")).unwrap();
    assert_forgery_rejected(
        &w,
        "null-digest",
        &genuine,
        Some(&run.keep_root),
        &["digest-missing", "artifact-sha256"],
        |v| {
            v["phases"]["snapshot"]["file_sha256"] = Value::Null;
            v["phases"]["snapshot"]["size"] = Value::Null;
        },
    );
    // A made-up hot journal beside after_apply no longer skips its content.
    assert_forgery_rejected(
        &w,
        "fake-journal",
        &genuine,
        Some(&run.keep_root),
        &["artifact-missing"],
        |v| {
            v["phases"]["after_apply"]["stray_files"] = serde_json::json!(["x.db-journal"]);
        },
    );
    // The run folder itself is not what --artifacts takes: the --keep folder is.
    let o = verify(&w, &run.report, Some(&run.keep));
    assert_code(&o, 1);
    assert!(
        stdout(&o).contains("give the folder `rehearse --keep` was given"),
        "{}",
        stdout(&o)
    );
}
