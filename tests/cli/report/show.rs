//! `rollproof report show` and `rollproof report attest` on real reports.

use super::*;
use serde_json::Value;
use std::path::Path;

#[test]
fn report_show_puts_the_verdict_first_and_refuses_to_vouch_for_a_tampered_report() {
    let w = Work::new();
    let run = copy_restore(&w);
    let r = run.json();
    let o = w.run(&["report", "show", p(&run.report)]);
    assert_success(&o);
    let out = stdout(&o);
    assert!(out.starts_with("PASS (byte-exact)"), "{out}");
    for phase in ["before", "snapshot", "after_apply", "after_rollback"] {
        let sha = r["phases"][phase]["file_sha256"].as_str().unwrap();
        assert!(
            out.contains(sha),
            "{phase} file SHA-256 in the table\n{out}"
        );
    }
    let o = w.run(&["report", "show", "--markdown", p(&run.report)]);
    assert_success(&o);
    assert_eq!(
        stdout(&o),
        std::fs::read_to_string(run.report.with_extension("md")).unwrap()
    );
    // A FAIL shows the failed checks and what differs.
    let fail = wrong_down(&w);
    let o = w.run(&["report", "show", p(&fail.report)]);
    assert_success(&o);
    let out = stdout(&o);
    assert!(out.starts_with("FAIL"), "{out}");
    assert!(
        out.contains("failed checks:") && out.contains("rp-test-2"),
        "{out}"
    );
    // Tampered: shown with a warning on top, exit 1.
    let mut v = r.clone();
    v["verdict"] = "FAIL".into();
    let mut bytes = serde_json::to_vec_pretty(&sorted(&v)).unwrap();
    bytes.push(b'\n');
    let bad = w.path("bad.json");
    std::fs::write(&bad, bytes).unwrap();
    let o = w.run(&["report", "show", p(&bad)]);
    assert_code(&o, 1);
    assert!(stdout(&o).starts_with("NOT VERIFIED"), "{}", stdout(&o));
    assert!(stderr(&o).contains("seal-broken"), "{}", stderr(&o));
}

/// The Statement inside a DSSE envelope file.
fn payload(envelope: &Path) -> Value {
    use base64::Engine;
    let env: Value = serde_json::from_slice(&std::fs::read(envelope).unwrap()).unwrap();
    assert_eq!(env["payloadType"], "application/vnd.in-toto+json");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(env["payload"].as_str().unwrap())
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Wrap a (forged) Statement in an envelope as the forger would, re-using
/// the genuine signature (pretty-printed, so even the same Statement is
/// other bytes).
fn rewrap(envelope: &Path, statement: &Value, to: &Path) {
    use base64::Engine;
    let mut env: Value = serde_json::from_slice(&std::fs::read(envelope).unwrap()).unwrap();
    env["payload"] = base64::engine::general_purpose::STANDARD
        .encode(serde_json::to_vec_pretty(statement).unwrap())
        .into();
    std::fs::write(to, serde_json::to_vec_pretty(&env).unwrap()).unwrap();
}

#[test]
fn attest_writes_a_signed_envelope_over_the_surrogate_and_artifacts() {
    let w = Work::new();
    let run = copy_restore(&w);
    let key = w.keygen("keys/ci", "ci@example.org");
    let trust = w.allowed_signers("allowed_signers", &[(&key, "")]);
    let out = w.path("proof.intoto.json");
    // No key, no attestation.
    let o = w.run(&["report", "attest", p(&run.report), "--out", p(&out)]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("--sign-key"), "{}", stderr(&o));
    let o = w.run(&[
        "report",
        "attest",
        p(&run.report),
        "--out",
        p(&out),
        "--sign-key",
        p(&key.private),
    ]);
    assert_success(&o);
    let st = payload(&out);
    assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(
        st["predicateType"],
        "https://rollproof.dev/attestation/rollback-proof/v1"
    );
    // The predicate is the sealed report, unchanged.
    assert_eq!(st["predicate"], run.json());
    assert_schema_valid(&st["predicate"]);
    let subjects = st["subject"].as_array().unwrap();
    assert_eq!(subjects.len(), 5, "{subjects:#?}");
    assert!(
        subjects[0]["name"]
            .as_str()
            .unwrap()
            .starts_with("surrogate/tiny-seed3")
    );
    assert_eq!(
        subjects[0]["digest"]["sha256"],
        sha256sum(&run.artifact("before"))
    );
    for (s, phase) in
        subjects[1..]
            .iter()
            .zip(["before", "snapshot", "after_apply", "after_rollback"])
    {
        let f = run.artifact(phase);
        let name = format!("artifacts/{}", f.file_name().unwrap().to_str().unwrap());
        assert_eq!(s["name"], name.as_str());
        assert_eq!(s["digest"]["sha256"], sha256sum(&f), "{name}");
    }
    // The envelope verifies and is evidence; a subject digest swapped does not.
    assert_success(&verify(&w, &out, None));
    let o = w.run(&["verify", p(&out), "--trust", p(&trust)]);
    assert_success(&o);
    assert!(
        stdout(&o).contains("signed by ci@example.org"),
        "{}",
        stdout(&o)
    );
    let mut forged = st.clone();
    forged["subject"][4]["digest"]["sha256"] = st["subject"][3]["digest"]["sha256"].clone();
    let forged_path = w.path("forged.intoto.json");
    rewrap(&out, &forged, &forged_path);
    let o = verify(&w, &forged_path, None);
    assert_code(&o, 1);
    assert!(
        stdout(&o).contains("FAILED (statement-subjects: "),
        "{}",
        stdout(&o)
    );
    // The same Statement with whitespace changed is not what was signed.
    rewrap(&out, &st, &forged_path);
    let o = w.run(&["verify", p(&forged_path), "--trust", p(&trust)]);
    assert_code(&o, 1);
    assert!(
        stdout(&o).contains("NOT EVIDENCE (consistent, but bad signature"),
        "{}",
        stdout(&o)
    );
    let mut forged = st.clone();
    forged["predicate"]["verdict"] = "FAIL".into();
    rewrap(&out, &forged, &forged_path);
    let o = verify(&w, &forged_path, None);
    assert_code(&o, 1);
    assert!(
        stdout(&o).contains("FAILED (seal-broken: "),
        "{}",
        stdout(&o)
    );
    // No overwrite without --force; a tampered report is never attested.
    let sk = ["--sign-key", p(&key.private)];
    let o = w.run(
        &[
            &["report", "attest", p(&run.report), "--out", p(&out)][..],
            &sk,
        ]
        .concat(),
    );
    assert_code(&o, 2);
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    let mut v = run.json();
    v["proof"] = "logical-only".into();
    let bad = w.path("bad.json");
    std::fs::write(&bad, serde_json::to_vec_pretty(&sorted(&v)).unwrap()).unwrap();
    let o = w.run(&[&["report", "attest", p(&bad)][..], &sk].concat());
    assert_code(&o, 1);
    assert!(!w.path("bad.intoto.json").exists());
    // The default output goes to the workspace, never beside the
    // (possibly sealed) report.
    let o = w.run(&[&["report", "attest", p(&run.report)][..], &sk].concat());
    assert_success(&o);
    assert!(!run.report.with_extension("intoto.json").exists());
    let name = run.report.with_extension("intoto.json");
    let name = name.file_name().unwrap().to_str().unwrap();
    let scenario = run.json()["scenario"]["name"].as_str().unwrap().to_string();
    assert!(
        w.path(&format!("rollproof-work/attestations/{scenario}/{name}"))
            .is_file(),
        "{}",
        stdout(&o)
    );
}
