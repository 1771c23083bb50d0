//! `rollproof rehearse`: every shipped scenario meets its expectation, the
//! proofs are honest (byte-exact only where bytes can be restored), a no-op
//! apply never passes, wrong rollbacks are shown row by row, each fault is
//! injected for real, and bad input / guard refusals exit 2 / 3.

use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Run `rehearse` on `paths` (tiny profile override, temp workspace) and
/// return the process output.
fn rehearse(w: &Work, paths: &[&Path], extra: &[&str]) -> std::process::Output {
    let tiny = repo_file("surrogates/profiles/tiny.toml");
    let ws = w.path("ws");
    let mut args: Vec<String> = vec!["rehearse".into()];
    args.extend(paths.iter().map(|p| p.display().to_string()));
    args.extend(["--profile-override".into(), tiny.display().to_string()]);
    args.extend(["--workspace".into(), ws.display().to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    w.run(&refs)
}

fn scenario(w: &Work, name: &str, body: &str) -> PathBuf {
    let p = w.path(&format!("{name}.toml"));
    let profile = repo_file("surrogates/profiles/tiny.toml");
    let text = format!(
        "[scenario]\nname = \"{name}\"\n{body}",
        body = body.replace("PROFILE", &profile.display().to_string())
    );
    std::fs::write(&p, text).unwrap();
    p
}

const BIRTHS: &str = r#"expect = "PASS"
[surrogate]
profile = "PROFILE"
seed = 5
[apply]
kind = "births"
count = 25
"#;

/// Canonical JSON: keys sorted at every level, compact.
fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        x => x.clone(),
    }
}

fn seal_of(report: &Value) -> String {
    use sha2::{Digest, Sha256};
    let mut v = report.clone();
    v.as_object_mut().unwrap().remove("seal");
    hex::encode(Sha256::digest(serde_json::to_vec(&canonical(&v)).unwrap()))
}

#[test]
fn every_shipped_scenario_meets_its_expectation_with_sealed_reports() {
    let w = Work::new();
    let o = rehearse(&w, &[&repo_file("scenarios")], &["--json"]);
    assert_success(&o);
    let v = json_out(&o);
    let results = v["results"].as_array().unwrap();
    assert!(results.len() >= 16, "{v}");
    let mut pairs = std::collections::BTreeSet::new();
    for r in results {
        assert_eq!(r["as_expected"], true, "{r}");
        let report: Value = serde_json::from_slice(
            &std::fs::read(w.dir.path().join(r["report"].as_str().unwrap())).unwrap(),
        )
        .unwrap();
        assert_eq!(report["schema_version"], 2);
        assert_eq!(
            report["seal"].as_str().unwrap(),
            seal_of(&report),
            "seal of {}",
            r["report"]
        );
        assert_eq!(report["blocker"], "FIX7-P0-DRYRUN-PROD-ROLLBACK-1");
        let m = &report["methods"];
        pairs.insert((
            m["snapshot"].as_str().unwrap().to_string(),
            m["rollback"].as_str().unwrap().to_string(),
        ));
        // Never byte-exact where bytes cannot be restored.
        if m["rollback"] == "compensate"
            || (m["snapshot"] == "backup" && m["rollback"] == "restore")
        {
            assert_eq!(report["proof"], "logical-only", "{}", r["report"]);
        }
    }
    assert_eq!(
        pairs.len(),
        6,
        "every snapshot x rollback pair is shipped: {pairs:?}"
    );
    // Expected-FAIL scenarios still count as success (exit 0) and say so.
    assert!(
        results
            .iter()
            .any(|r| r["verdict"] == "FAIL" && r["as_expected"] == true)
    );
}

#[test]
fn copy_restore_is_byte_exact_and_the_kept_artifacts_prove_it() {
    let w = Work::new();
    let sc = scenario(
        &w,
        "copy-restore",
        &format!("{BIRTHS}[snapshot]\nmethod = \"copy\"\n[rollback]\nmethod = \"restore\"\n"),
    );
    let keep = w.path("keep");
    let o = rehearse(&w, &[&sc], &["--json", "--keep", keep.to_str().unwrap()]);
    assert_success(&o);
    let r = only_report(&w, &o);
    assert_eq!(
        (r["verdict"].as_str(), r["proof"].as_str()),
        (Some("PASS"), Some("byte-exact"))
    );
    let dir = PathBuf::from(r["artifacts"].as_str().unwrap());
    let (before, snap, applied, rolled) = (
        dir.join("before.db"),
        dir.join("snapshot.db"),
        dir.join("after-apply.db"),
        dir.join("after-rollback.db"),
    );
    // Independent check: hash the kept files ourselves.
    assert_eq!(
        sha256_file(&before),
        r["phases"]["before"]["file_sha256"].as_str().unwrap()
    );
    assert_eq!(sha256_file(&before), sha256_file(&snap));
    assert_eq!(sha256_file(&before), sha256_file(&rolled));
    assert_ne!(sha256_file(&before), sha256_file(&applied));
    let count = |p: &Path| -> i64 {
        rusqlite::Connection::open(p)
            .unwrap()
            .query_row("SELECT count(*) FROM birth_registry", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(count(&applied), count(&before) + 25);
    let sums = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap();
    assert!(
        sums.contains(&format!("{}  after-rollback.db", sha256_file(&rolled))),
        "{sums}"
    );
    assert!(
        r["timing_ms"]["total"].as_u64().is_some() && r["phases"]["after_apply"]["ms"].is_u64()
    );
}

#[test]
fn backup_restore_passes_logical_only_with_differing_bytes() {
    let w = Work::new();
    let sc = scenario(
        &w,
        "backup-restore",
        &format!("{BIRTHS}[snapshot]\nmethod = \"backup\"\n[rollback]\nmethod = \"restore\"\n"),
    );
    let o = rehearse(&w, &[&sc], &["--json"]);
    assert_success(&o);
    let r = only_report(&w, &o);
    assert_eq!(
        (r["verdict"].as_str(), r["proof"].as_str()),
        (Some("PASS"), Some("logical-only"))
    );
    let p = &r["phases"];
    assert_ne!(
        p["after_rollback"]["file_sha256"], p["before"]["file_sha256"],
        "the backup API rewrites header counters"
    );
    assert_eq!(
        p["after_rollback"]["logical"]["sha256"],
        p["before"]["logical"]["sha256"]
    );
    assert!(
        check(&r, "restored_logically")["detail"]
            .as_str()
            .unwrap()
            .contains("never byte-exact")
    );
}

#[test]
fn transaction_rollback_is_byte_exact_and_keeps_the_uncommitted_state() {
    let w = Work::new();
    let sc = scenario(
        &w,
        "tx",
        &format!("{BIRTHS}[snapshot]\nmethod = \"copy\"\n[rollback]\nmethod = \"transaction\"\n"),
    );
    let keep = w.path("keep");
    let o = rehearse(&w, &[&sc], &["--json", "--keep", keep.to_str().unwrap()]);
    assert_success(&o);
    let r = only_report(&w, &o);
    assert_eq!(
        (r["verdict"].as_str(), r["proof"].as_str()),
        (Some("PASS"), Some("byte-exact"))
    );
    let applied = PathBuf::from(r["artifacts"].as_str().unwrap()).join("after-apply.db");
    let n: i64 = rusqlite::Connection::open(&applied)
        .unwrap()
        .query_row("SELECT count(*) FROM objects", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        n,
        40 + 25,
        "the after-apply artifact holds the uncommitted births"
    );
}

#[test]
fn noop_apply_can_never_pass() {
    let w = Work::new();
    std::fs::write(w.path("noop.sql"), "SELECT 1;\n").unwrap();
    let sc = scenario(
        &w,
        "noop",
        "expect = \"PASS\"\n[surrogate]\nprofile = \"PROFILE\"\nseed = 5\n[apply]\nkind = \"sql\"\nup = \"noop.sql\"\n[apply.expect_rows]\nobjects = 1\n[snapshot]\nmethod = \"copy\"\n[rollback]\nmethod = \"restore\"\n",
    );
    let o = rehearse(&w, &[&sc], &["--json"]);
    assert_code(&o, 1);
    let r = only_report(&w, &o);
    assert_eq!(r["verdict"], "FAIL");
    assert_eq!(check(&r, "apply_was_real")["outcome"], "fail");
    assert_eq!(check(&r, "row_deltas_as_requested")["outcome"], "fail");
    // The restore itself was fine: only the no-op apply failed the proof.
    assert_eq!(check(&r, "restored_byte_exact")["outcome"], "pass");
    assert!(stderr(&o).contains("run folder kept"), "{}", stderr(&o));
}

#[test]
fn wrong_down_script_fails_and_shows_the_rows_it_left_behind() {
    let w = Work::new();
    let o = rehearse(
        &w,
        &[&repo_file("scenarios/sql-compensate-wrong-down.toml")],
        &[],
    );
    assert_success(&o); // expected FAIL, got FAIL
    let out = stdout(&o);
    assert!(out.contains("verdict: FAIL"), "{out}");
    assert!(
        out.contains("table directus_relations: 1 differing row(s)"),
        "{out}"
    );
    assert!(
        out.contains("DELETE FROM \"directus_relations\" WHERE \"id\"="),
        "{out}"
    );
    let o = rehearse(
        &w,
        &[&repo_file("scenarios/sql-compensate-wrong-down.toml")],
        &["--json"],
    );
    let r = only_report(&w, &o);
    let tables: Vec<&str> = r["diff"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    assert_eq!(tables, ["directus_relations", "sqlite_sequence"]);
    assert_eq!(r["diff"]["tables"][0]["rows"][0]["change"], "extra");
}

#[test]
fn compensation_differs_only_in_sqlite_sequence_unless_rewound() {
    let w = Work::new();
    let base =
        format!("{BIRTHS}[snapshot]\nmethod = \"copy\"\n[rollback]\nmethod = \"compensate\"\n");
    let plain = scenario(&w, "comp", &base);
    let o = rehearse(&w, &[&plain], &["--json"]);
    assert_code(&o, 1); // expected PASS, but a compensation cannot rewind sequences
    let r = only_report(&w, &o);
    let tables: Vec<&str> = r["diff"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    assert_eq!(tables, ["sqlite_sequence"]);
    let rewound = scenario(
        &w,
        "comp-rewind",
        &format!("{base}rewind_sequences = true\n"),
    );
    let o = rehearse(&w, &[&rewound], &["--json"]);
    assert_success(&o);
    let r = only_report(&w, &o);
    assert_eq!(
        (r["verdict"].as_str(), r["proof"].as_str()),
        (Some("PASS"), Some("logical-only"))
    );
}

#[test]
fn kill_fault_sigkills_the_worker_and_recovery_is_byte_exact() {
    let w = Work::new();
    let o = rehearse(&w, &[&repo_file("scenarios/fault-kill.toml")], &["--json"]);
    assert_success(&o);
    let r = only_report(&w, &o);
    assert_eq!(r["faults"][0]["injected"], true, "{}", r["faults"]);
    assert!(
        r["faults"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("SIGKILLed")
    );
    let done = r["apply"]["births_done"].as_u64().unwrap();
    assert!((20..5000).contains(&done), "killed part-way: {done}");
    assert_eq!(
        r["apply"]["observed_row_deltas"]["objects"].as_u64(),
        Some(done),
        "whole births only"
    );
    assert_eq!(
        r["phases"]["after_rollback"]["file_sha256"],
        r["phases"]["before"]["file_sha256"]
    );
    assert_eq!(
        (r["verdict"].as_str(), r["proof"].as_str()),
        (Some("PASS"), Some("byte-exact"))
    );
}

#[test]
fn disk_full_and_io_error_faults_stop_the_apply_and_restore_is_byte_exact() {
    let w = Work::new();
    for (name, needle) in [("fault-disk-full", "full"), ("fault-io-error", "I/O error")] {
        let o = rehearse(
            &w,
            &[&repo_file(&format!("scenarios/{name}.toml"))],
            &["--json"],
        );
        assert_success(&o);
        let r = only_report(&w, &o);
        let f = &r["faults"][0];
        assert_eq!(f["injected"], true, "{name}: {f}");
        assert!(
            f["detail"].as_str().unwrap().contains(needle),
            "{name}: {f}"
        );
        assert_eq!(
            check(&r, "apply_interrupted_part_way")["outcome"],
            "pass",
            "{name}"
        );
        assert_eq!(r["verdict"], "PASS", "{name}");
        assert_eq!(
            r["phases"]["after_rollback"]["file_sha256"],
            r["phases"]["before"]["file_sha256"]
        );
    }
}

#[test]
fn corrupted_snapshot_is_refused_and_the_target_left_untouched() {
    let w = Work::new();
    let o = rehearse(
        &w,
        &[&repo_file("scenarios/fault-corrupt-snapshot.toml")],
        &["--json"],
    );
    assert_success(&o); // the scenario expects FAIL
    let r = only_report(&w, &o);
    assert_eq!(r["verdict"], "FAIL");
    assert_eq!(r["rollback"]["performed"], false);
    assert!(
        r["rollback"]["error"]
            .as_str()
            .unwrap()
            .contains("corrupted")
    );
    assert_eq!(
        check(&r, "target_untouched_after_refusal")["outcome"],
        "pass"
    );
    assert_eq!(
        r["phases"]["after_rollback"]["file_sha256"],
        r["phases"]["after_apply"]["file_sha256"]
    );
    assert!(
        stderr(&o).contains("restore refused, target left untouched"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bad_scenarios_exit_2_naming_file_and_field() {
    let w = Work::new();
    let sc = scenario(
        &w,
        "bad",
        &format!(
            "{BIRTHS}colour = \"red\"\n[snapshot]\nmethod = \"copy\"\n[rollback]\nmethod = \"restore\"\n"
        ),
    );
    let o = rehearse(&w, &[&sc], &[]);
    assert_code(&o, 2);
    let e = stderr(&o);
    assert!(e.contains("bad.toml") && e.contains("colour"), "{e}");
    let sc = scenario(
        &w,
        "missing-up",
        "expect = \"PASS\"\n[surrogate]\nprofile = \"PROFILE\"\n[apply]\nkind = \"sql\"\nup = \"nope.sql\"\n[apply.expect_rows]\nobjects = 1\n[snapshot]\nmethod = \"copy\"\n[rollback]\nmethod = \"restore\"\n",
    );
    let o = rehearse(&w, &[&sc], &[]);
    assert_code(&o, 2);
    assert!(
        stderr(&o).contains("apply.up") && stderr(&o).contains("nope.sql"),
        "{}",
        stderr(&o)
    );
    let o = rehearse(&w, &[&w.path("absent.toml")], &[]);
    assert_code(&o, 2);
    assert!(!w.path("reports").exists(), "no report for bad input");
}

#[test]
fn a_foreign_database_is_refused_by_the_guard() {
    let w = Work::new();
    let foreign = w.path("foreign.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
        .unwrap();
    let before = sha256_file(&foreign);
    let sc = scenario(
        &w,
        "foreign",
        &format!(
            "expect = \"PASS\"\n[surrogate]\nfile = \"{}\"\n[apply]\nkind = \"births\"\ncount = 3\n[snapshot]\nmethod = \"copy\"\n[rollback]\nmethod = \"restore\"\n",
            foreign.display()
        ),
    );
    let o = rehearse(&w, &[&sc], &[]);
    assert_code(&o, 3);
    assert!(stderr(&o).contains("refused"), "{}", stderr(&o));
    assert_eq!(sha256_file(&foreign), before, "the source is never written");
}

/// Above `hash::memo::WAIT_FROM_BYTES` (64 MiB) the engine reuses the digest
/// of every file state it has read (guard checks, re-binds, the staged
/// restore, the byte-identical phases). Every digest it reports must still
/// be what an independent read of the kept artifact gives — also after a
/// compensation, which rewrites the target in place without changing its
/// size (a memo keyed too loosely would report the after-apply digest).
#[test]
fn on_a_large_surrogate_every_reported_digest_is_the_artifacts_own() {
    let w = Work::new();
    let big = w.path("big.db");
    let profile = repo_file("surrogates/profiles/default.toml");
    let o = w.run(&[
        "generate",
        "--profile",
        profile.to_str().unwrap(),
        "--seed",
        "3",
        "--out",
        big.to_str().unwrap(),
    ]);
    assert_success(&o);
    assert!(std::fs::metadata(&big).unwrap().len() > 64 << 20);
    let births = "expect = \"PASS\"\n[surrogate]\nfile = \"big.db\"\n[apply]\nkind = \"births\"\ncount = 40\n[snapshot]\nmethod = \"copy\"\n";
    let restore = scenario(
        &w,
        "large-copy-restore",
        &format!("{births}[rollback]\nmethod = \"restore\"\n"),
    );
    let compensate = scenario(
        &w,
        "large-copy-compensate",
        &format!("{births}[rollback]\nmethod = \"compensate\"\nrewind_sequences = true\n"),
    );
    let keep = w.path("keep");
    let o = rehearse(
        &w,
        &[&restore, &compensate],
        &["--json", "--keep", keep.to_str().unwrap()],
    );
    assert_success(&o);
    let v = json_out(&o);
    let results = v["results"].as_array().expect("results");
    assert_eq!(results.len(), 2, "{v}");
    for (res, proof) in results.iter().zip(["byte-exact", "logical-only"]) {
        let path = w.path(res["report"].as_str().unwrap());
        let r: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(
            (r["verdict"].as_str(), r["proof"].as_str()),
            (Some("PASS"), Some(proof))
        );
        let dir = PathBuf::from(r["artifacts"].as_str().unwrap());
        for (phase, file) in [
            ("before", "before.db"),
            ("snapshot", "snapshot.db"),
            ("after_apply", "after-apply.db"),
            ("after_rollback", "after-rollback.db"),
        ] {
            assert_eq!(
                r["phases"][phase]["file_sha256"].as_str().unwrap(),
                sha256_file(&dir.join(file)),
                "{proof}: {phase}"
            );
        }
        let digest = |phase: &str| r["phases"][phase]["file_sha256"].clone();
        assert_ne!(digest("after_apply"), digest("before"), "{proof}");
        assert_ne!(digest("after_rollback"), digest("after_apply"), "{proof}");
        // The source surrogate was only read.
        assert_eq!(sha256_file(&big), digest("before").as_str().unwrap());
    }
}
