//! `rollproof verify` rejecting each kind of tampering with a real report
//! and its kept artifacts, each for its own reason.

use super::*;
use serde_json::Value;

/// Verify tampered bytes; expect exit 1 and the given problem code in a
/// `FAILED (code: …)` line, and (when `sealed`) no seal complaint.
fn assert_rejected(w: &Work, name: &str, bytes: &[u8], code: &str, sealed: bool) {
    let path = w.path(&format!("tampered-{name}.json"));
    std::fs::write(&path, bytes).unwrap();
    let o = verify(w, &path, None);
    assert_code(&o, 1);
    let out = stdout(&o);
    assert!(
        out.contains(&format!("FAILED ({code}: ")),
        "{name}: expected {code}\n{out}"
    );
    if sealed {
        assert!(
            !out.contains("(seal-"),
            "{name}: the seal should hold\n{out}"
        );
        assert!(
            !out.contains("(not-canonical"),
            "{name}: should be canonical\n{out}"
        );
    }
    // JSON output names the same code.
    let o = w.run(&["verify", p(&path), "--json"]);
    assert_code(&o, 1);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["ok"], false);
    assert!(
        v[0]["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["code"] == code),
        "{name}: {v}"
    );
}

#[test]
fn tampering_is_rejected_each_for_its_own_reason() {
    let w = Work::new();
    let run = copy_restore(&w);
    let bytes = std::fs::read(&run.report).unwrap();
    let genuine = run.json();
    // Re-sealing the genuine content gives back the very same bytes.
    assert_eq!(
        reseal(genuine.clone()),
        bytes,
        "our re-sealer matches the writer"
    );

    // One byte flipped inside a digest: the seal breaks.
    let text = String::from_utf8(bytes.clone()).unwrap();
    let digest = genuine["scenario"]["sha256"].as_str().unwrap();
    let flipped_digest: String = digest
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i == 0 {
                if c == '0' { '1' } else { '0' }
            } else {
                c
            }
        })
        .collect();
    assert_rejected(
        &w,
        "flip",
        text.replacen(digest, &flipped_digest, 1).as_bytes(),
        "seal-broken",
        false,
    );
    // Whitespace only: the seal still holds, the bytes are not canonical.
    assert_rejected(
        &w,
        "space",
        text.replacen("{\n", "{ \n", 1).as_bytes(),
        "not-canonical",
        false,
    );
    // No seal at all.
    let mut v = genuine.clone();
    v.as_object_mut().unwrap().remove("seal");
    let mut unsealed = serde_json::to_vec_pretty(&sorted(&v)).unwrap();
    unsealed.push(b'\n');
    assert_rejected(&w, "noseal", &unsealed, "seal-missing", false);
    // A schema version from the future.
    let mut v = genuine.clone();
    v["schema_version"] = 99.into();
    assert_rejected(&w, "version", &reseal(v), "schema-version", true);
    // A missing field, and a mistyped one.
    let mut v = genuine.clone();
    v["phases"]["before"]
        .as_object_mut()
        .unwrap()
        .remove("integrity_check");
    assert_rejected(&w, "missing", &reseal(v), "schema", true);
    let mut v = genuine.clone();
    v["surrogate"]["size"] = Value::String("233472".into());
    assert_rejected(&w, "mistyped", &reseal(v), "schema", true);
    let mut v = genuine.clone();
    v["phases"]["after_rollback"]["file_sha256"] = Value::String("not-a-digest".into());
    assert_rejected(&w, "malformed", &reseal(v), "schema", true);
    // PASS although before and after rollback differ.
    let mut v = genuine.clone();
    v["phases"]["after_rollback"]["logical"] = genuine["phases"]["after_apply"]["logical"].clone();
    v["phases"]["after_rollback"]["file_sha256"] =
        genuine["phases"]["after_apply"]["file_sha256"].clone();
    assert_rejected(&w, "before-after", &reseal(v), "pass-before-after", true);
    // PASS although the apply changed nothing.
    let mut v = genuine.clone();
    v["phases"]["after_apply"] = genuine["phases"]["before"].clone();
    v["apply"]["observed_row_deltas"] = serde_json::json!({});
    assert_rejected(
        &w,
        "apply-unchanged",
        &reseal(v),
        "pass-apply-unchanged",
        true,
    );
    // Row deltas that do not match the scenario.
    let mut v = genuine.clone();
    let objects = v["apply"]["expected_row_deltas"]["objects"]
        .as_i64()
        .unwrap();
    v["apply"]["expected_row_deltas"]["objects"] = (objects + 1).into();
    assert_rejected(&w, "scenario-deltas", &reseal(v), "pass-row-deltas", true);
    // Observed deltas that the phases' own row counts contradict.
    let mut v = genuine.clone();
    v["apply"]["observed_row_deltas"]["objects"] = (objects + 1).into();
    v["apply"]["expected_row_deltas"]["objects"] = (objects + 1).into();
    assert_rejected(&w, "phase-deltas", &reseal(v), "row-deltas", true);
    // PASS with a failed check.
    let mut v = genuine.clone();
    v["checks"][0]["outcome"] = "fail".into();
    assert_rejected(&w, "checks", &reseal(v), "verdict-checks", true);
    // A byte-exact claim for a method that can only be logical.
    let backup = backup_restore(&w).json();
    let mut v = backup.clone();
    v["proof"] = "byte-exact".into();
    assert_rejected(
        &w,
        "byte-exact-claim",
        &reseal(v),
        "byte-exact-impossible",
        true,
    );
    let mut v = genuine.clone();
    v["methods"]["rollback"] = "compensate".into();
    assert_rejected(
        &w,
        "byte-exact-compensate",
        &reseal(v),
        "byte-exact-impossible",
        true,
    );
    // Not JSON at all.
    assert_rejected(&w, "garbage", b"{\"seal\": ", "not-json", false);
    // The genuine report still verifies.
    assert_success(&verify(&w, &run.report, None));
}

#[test]
fn changed_or_missing_artifacts_are_rejected() {
    let w = Work::new();
    let run = copy_restore(&w);
    assert_success(&verify(&w, &run.report, Some(&run.keep_root)));
    // A copy of the whole --keep folder verifies as well as the original.
    let copy_root = w.path("copied-keep");
    let rel = run.keep.strip_prefix(&run.keep_root).unwrap();
    let copy = copy_root.join(rel);
    std::fs::create_dir_all(&copy).unwrap();
    for e in std::fs::read_dir(&run.keep).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
    }
    assert_success(&verify(&w, &run.report, Some(&copy_root)));
    // Change one byte in the unused tail of the after-rollback header
    // (reserved bytes 72..92 are zero): bytes differ, content is the same.
    let after = copy.join("after-rollback.db");
    let mut b = std::fs::read(&after).unwrap();
    b[80] ^= 0x01;
    std::fs::write(&after, &b).unwrap();
    let o = verify(&w, &run.report, Some(&copy_root));
    assert_code(&o, 1);
    assert!(
        stdout(&o).contains("FAILED (artifact-sha256: after_rollback"),
        "{}",
        stdout(&o)
    );
    // A changed row in the kept after-apply file changes its content too.
    let applied = copy.join("after-apply.db");
    let c = rusqlite::Connection::open(&applied).unwrap();
    c.execute("UPDATE directus_roles SET name = name || '!'", [])
        .unwrap();
    drop(c);
    let o = verify(&w, &run.report, Some(&copy_root));
    let out = stdout(&o);
    assert!(
        out.contains("FAILED (artifact-sha256: after_apply"),
        "{out}"
    );
    assert!(
        out.contains("FAILED (artifact-logical: after_apply"),
        "{out}"
    );
    assert!(out.contains("FAILED (artifact-sha3: after_apply"), "{out}");
    // A missing artifact fails closed.
    std::fs::remove_file(copy.join("snapshot.db")).unwrap();
    let o = verify(&w, &run.report, Some(&copy_root));
    assert_code(&o, 1);
    assert!(
        stdout(&o).contains("FAILED (artifact-missing: snapshot"),
        "{}",
        stdout(&o)
    );
    // The genuine artifacts were never touched.
    assert_success(&verify(&w, &run.report, Some(&run.keep_root)));
}

#[test]
fn verify_exit_codes_for_several_reports_and_unreadable_input() {
    let w = Work::new();
    let run = copy_restore(&w);
    let bad = w.path("bad.json");
    std::fs::write(&bad, b"[]").unwrap();
    let o = w.run(&["verify", p(&run.report), p(&bad)]);
    assert_code(&o, 1);
    let out = stdout(&o);
    assert!(
        out.contains(&format!("{}: OK (PASS byte-exact", p(&run.report))),
        "{out}"
    );
    assert!(out.contains("bad.json: FAILED (schema: "), "{out}");
    let o = w.run(&["verify", "missing.json"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("missing.json"), "{}", stderr(&o));
    let o = w.run(&[
        "verify",
        p(&run.report),
        p(&bad),
        "--artifacts",
        p(&run.keep_root),
    ]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("--artifacts"), "{}", stderr(&o));
}

#[test]
fn flipping_any_single_byte_of_a_sealed_report_is_detected() {
    let w = Work::new();
    let run = copy_restore(&w);
    let bytes = std::fs::read(&run.report).unwrap();
    let dir = w.path("flipped");
    std::fs::create_dir(&dir).unwrap();
    let mut files = Vec::new();
    // Every byte of the head and tail, and every 17th byte between (all of
    // them would take minutes in a debug build; the offsets cover keys,
    // digests, numbers, strings, punctuation and whitespace alike).
    let n = bytes.len();
    let offsets = (0..n).filter(|i| *i < 64 || *i >= n - 64 || i % 17 == 0);
    for i in offsets {
        let mut b = bytes.clone();
        b[i] ^= 0x01;
        let f = dir.join(format!("{i:06}.json"));
        std::fs::write(&f, b).unwrap();
        files.push(f);
    }
    let mut args = vec!["verify".to_string()];
    args.extend(files.iter().map(|f| p(f).to_string()));
    let o = w.cmd().args(&args).output().unwrap();
    assert_code(&o, 1);
    let out = stdout(&o);
    assert!(
        !out.contains(": OK ("),
        "a flipped report verified:\n{}",
        out.lines()
            .filter(|l| l.contains(": OK ("))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let rejected: std::collections::BTreeSet<&str> = out
        .lines()
        .filter_map(|l| l.split_once(": FAILED (").map(|(f, _)| f))
        .collect();
    for f in &files {
        assert!(rejected.contains(p(f)), "{f:?} not rejected");
    }
    assert!(stderr(&o).contains(&format!(
        "{} of {} report(s) failed",
        files.len(),
        files.len()
    )));
}
