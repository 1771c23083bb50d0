//! Evidence (issue #4): `rollproof hash` against independent tools
//! (sha256sum, the sqlite3 shell's `.sha3sum`, tools/logical_hash.py); proof
//! reports from real rehearsals validated against docs/report.schema.json;
//! `rollproof verify` rejecting every kind of tampering; `report show` and
//! `report attest`.

use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

mod forgery;
mod show;
mod sign;
mod tamper;

/// Run an external tool (sha256sum, sqlite3, python3) and return its stdout.
/// CI installs them (.ci/run); a missing tool fails the test loudly.
fn tool(program: &str, args: &[&str]) -> String {
    let o = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} must be installed for this test: {e}"));
    assert!(
        o.status.success(),
        "{program} {args:?} failed: {}",
        stderr(&o)
    );
    stdout(&o)
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// What `sha256sum FILE` prints, digest only.
fn sha256sum(path: &Path) -> String {
    tool("sha256sum", &[p(path)])
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// What the stock sqlite3 shell prints for the recorded `.sha3sum` options.
fn shell_sha3sum(path: &Path) -> String {
    tool(
        "sqlite3",
        &["-readonly", p(path), ".sha3sum --schema --sha3-256"],
    )
    .trim()
    .to_string()
}

/// tools/logical_hash.py --json on some files.
fn python_logical(files: &[&Path]) -> Vec<Value> {
    let script = repo_file("tools/logical_hash.py");
    let mut args = vec![p(&script)];
    args.extend(files.iter().map(|f| p(f)));
    args.push("--json");
    serde_json::from_str(&tool("python3", &args)).unwrap()
}

/// `rollproof hash --json` on some files.
fn rollproof_hash(w: &Work, files: &[&Path]) -> Vec<Value> {
    let mut args = vec!["hash", "--json"];
    args.extend(files.iter().map(|f| p(f)));
    let o = w.run(&args);
    assert_success(&o);
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Every digest `rollproof hash` prints must be what the independent tools
/// print for the same files.
fn assert_independent_tools_agree(w: &Work, files: &[&Path]) {
    let ours = rollproof_hash(w, files);
    let python = python_logical(files);
    assert_eq!(ours.len(), files.len());
    for ((f, h), py) in files.iter().zip(&ours).zip(&python) {
        assert_eq!(h["sha256"], sha256sum(f), "sha256sum {f:?}");
        assert_eq!(h["size"], std::fs::metadata(f).unwrap().len());
        assert_eq!(
            h["sha3sum"]["digest"],
            shell_sha3sum(f),
            "sqlite3 .sha3sum {f:?}"
        );
        assert_eq!(
            h["logical"]["sha256"], py["sha256"],
            "logical_hash.py {f:?}"
        );
        assert_eq!(h["logical"]["schema_sha256"], py["schema_sha256"]);
        assert_eq!(
            h["logical"]["tables"], py["tables"],
            "per-table digests {f:?}"
        );
    }
}

#[test]
fn hash_agrees_with_sha256sum_sqlite3_and_the_python_script_on_surrogates() {
    let w = Work::new();
    let files: Vec<PathBuf> = (1..=3).map(|s| w.tiny(&format!("s{s}.db"), s)).collect();
    let refs: Vec<&Path> = files.iter().map(|f| f.as_path()).collect();
    assert_independent_tools_agree(&w, &refs);
    // Different seeds, different digests: the comparison is not vacuous.
    let ours = rollproof_hash(&w, &refs);
    assert_ne!(ours[0]["logical"]["sha256"], ours[1]["logical"]["sha256"]);
    assert_ne!(ours[0]["sha3sum"]["digest"], ours[1]["sha3sum"]["digest"]);
    // Hashing never changes the bytes.
    for (f, h) in refs.iter().zip(&ours) {
        assert_eq!(sha256_file(f), h["sha256"].as_str().unwrap());
    }
}

#[test]
fn one_changed_value_changes_every_content_digest() {
    let w = Work::new();
    let a = w.tiny("a.db", 5);
    let b = w.path("b.db");
    std::fs::copy(&a, &b).unwrap();
    let c = rusqlite::Connection::open(&b).unwrap();
    c.execute("UPDATE objects SET payload = payload || 'x' WHERE rowid = (SELECT min(rowid) FROM objects)", [])
        .unwrap();
    drop(c);
    assert_independent_tools_agree(&w, &[&a, &b]);
    let h = rollproof_hash(&w, &[&a, &b]);
    assert_ne!(h[0]["logical"]["sha256"], h[1]["logical"]["sha256"]);
    assert_ne!(h[0]["sha3sum"]["digest"], h[1]["sha3sum"]["digest"]);
    assert_ne!(
        h[0]["logical"]["tables"]["objects"],
        h[1]["logical"]["tables"]["objects"]
    );
    assert_eq!(
        h[0]["logical"]["tables"]["directus_users"],
        h[1]["logical"]["tables"]["directus_users"]
    );
}

#[test]
fn hash_names_a_missing_or_foreign_file_and_exits_2() {
    let w = Work::new();
    let o = w.run(&["hash", "nowhere.db"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("nowhere.db"), "{}", stderr(&o));
    assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
    assert!(!w.path("nowhere.db").exists(), "hash must not create files");
    std::fs::write(
        w.path("notes.txt"),
        b"not a database at all, just text.........",
    )
    .unwrap();
    let o = w.run(&["hash", "notes.txt"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("notes.txt"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(w.path("notes.txt")).unwrap(),
        b"not a database at all, just text........."
    );
}

// ---------------------------------------------------------------------------
// Proof reports from real rehearsals.

/// A rehearsal that ran: its report and its kept artifacts.
struct Run {
    report: PathBuf,
    /// The run's own folder, `<keep_root>/<scenario>/<stamp>-<id>`.
    keep: PathBuf,
    /// The folder `rehearse --keep` was given (what `verify --artifacts` takes).
    keep_root: PathBuf,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_slice(&std::fs::read(&self.report).unwrap()).unwrap()
    }
    fn artifact(&self, phase: &str) -> PathBuf {
        self.keep.join(format!("{}.db", phase.replace('_', "-")))
    }
}

/// Write a scenario on the tiny profile and rehearse it with --keep.
fn rehearse(w: &Work, name: &str, expect: &str, body: &str) -> Run {
    let profile = repo_file("surrogates/profiles/tiny.toml");
    let text = format!(
        "[scenario]\nname = \"{name}\"\ndescription = \"{name} on the tiny surrogate\"\nexpect = \"{expect}\"\n\n[surrogate]\nprofile = \"{}\"\nseed = 3\n\n{body}",
        p(&profile)
    );
    let file = w.path(&format!("{name}.toml"));
    std::fs::write(&file, text).unwrap();
    let o = w.run(&[
        "rehearse",
        p(&file),
        "--keep",
        p(&w.path("keep")),
        "--reports",
        p(&w.path("reports")),
        "--workspace",
        p(&w.path("ws")),
        "--json",
    ]);
    assert_success(&o);
    let rows: Value = serde_json::from_slice(&o.stdout).unwrap();
    let report = PathBuf::from(rows["results"][0]["report"].as_str().expect("report path"));
    let report = if report.is_absolute() {
        report
    } else {
        w.path(p(&report))
    };
    let runs: Vec<PathBuf> = std::fs::read_dir(w.path("keep").join(name))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|d| d.is_dir())
        .collect();
    assert_eq!(runs.len(), 1, "one kept run folder for {name}: {runs:?}");
    Run {
        report,
        keep: runs[0].clone(),
        keep_root: w.path("keep"),
    }
}

const BIRTHS: &str = "[apply]\nkind = \"births\"\ncount = 6\nseed = 11\n\n";

fn copy_restore(w: &Work) -> Run {
    rehearse(
        w,
        "copy-restore",
        "PASS",
        &format!("{BIRTHS}[snapshot]\nmethod = \"copy\"\n\n[rollback]\nmethod = \"restore\"\n"),
    )
}

fn backup_restore(w: &Work) -> Run {
    rehearse(
        w,
        "backup-restore",
        "PASS",
        &format!("{BIRTHS}[snapshot]\nmethod = \"backup\"\n\n[rollback]\nmethod = \"restore\"\n"),
    )
}

fn transaction(w: &Work) -> Run {
    rehearse(
        w,
        "in-transaction",
        "PASS",
        &format!("{BIRTHS}[snapshot]\nmethod = \"copy\"\n\n[rollback]\nmethod = \"transaction\"\n"),
    )
}

/// A user's own up/down SQL whose down script forgets a row: must FAIL.
fn wrong_down(w: &Work) -> Run {
    std::fs::write(
        w.path("up.sql"),
        "INSERT INTO directus_roles(id, name) VALUES ('rp-test-1', 'auditor'), ('rp-test-2', 'reader');\n",
    )
    .unwrap();
    std::fs::write(
        w.path("down.sql"),
        "DELETE FROM directus_roles WHERE id = 'rp-test-1';\n",
    )
    .unwrap();
    rehearse(
        w,
        "wrong-down",
        "FAIL",
        &format!(
            "[apply]\nkind = \"sql\"\nup = \"{}\"\nexpect_rows = {{ directus_roles = 2 }}\n\n[snapshot]\nmethod = \"copy\"\n\n[rollback]\nmethod = \"compensate\"\ndown = \"{}\"\n",
            p(&w.path("up.sql")),
            p(&w.path("down.sql"))
        ),
    )
}

/// Validate a report against the shipped JSON Schema with the jsonschema
/// crate directly (independently of `rollproof verify`).
fn assert_schema_valid(report: &Value) {
    let schema: Value =
        serde_json::from_slice(&std::fs::read(repo_file("docs/report.schema.json")).unwrap())
            .unwrap();
    jsonschema::meta::validate(&schema).expect("docs/report.schema.json is a valid JSON Schema");
    let v = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = v
        .iter_errors(report)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "report does not match the schema: {errors:#?}"
    );
}

fn verify(w: &Work, report: &Path, artifacts: Option<&Path>) -> std::process::Output {
    let mut args = vec!["verify", p(report)];
    if let Some(a) = artifacts {
        args.extend(["--artifacts", p(a)]);
    }
    w.run(&args)
}

#[test]
fn every_report_validates_verifies_and_is_rendered_beside_it() {
    let w = Work::new();
    let runs = [
        copy_restore(&w),
        backup_restore(&w),
        transaction(&w),
        wrong_down(&w),
    ];
    let expect = [
        ("PASS", "byte-exact"),
        ("PASS", "logical-only"),
        ("PASS", "byte-exact"),
        ("FAIL", "logical-only"),
    ];
    for (run, (verdict, proof)) in runs.iter().zip(expect) {
        let r = run.json();
        assert_eq!(
            (r["verdict"].as_str().unwrap(), r["proof"].as_str().unwrap()),
            (verdict, proof),
            "{:?}",
            run.report
        );
        assert_schema_valid(&r);
        let o = verify(&w, &run.report, Some(&run.keep_root));
        assert_success(&o);
        assert!(stdout(&o).contains(": OK ("), "{}", stdout(&o));
        // The independent seal checker agrees.
        let seal = tool(
            "python3",
            &[p(&repo_file("tools/report_seal.py")), p(&run.report)],
        );
        assert!(seal.contains(": OK "), "{seal}");
        // The Markdown beside it says the verdict first.
        let md = std::fs::read_to_string(run.report.with_extension("md"))
            .expect("markdown beside the report");
        let first = md.lines().next().unwrap();
        assert!(first.contains(verdict) && first.contains(proof), "{first}");
        // Every phase's sha3 was recorded.
        assert!(
            r["phases"]["before"]["sha3"].is_string(),
            "before.sha3 recorded"
        );
    }
    // The FAIL report names the failed check and the row that differs.
    let md = std::fs::read_to_string(runs[3].report.with_extension("md")).unwrap();
    assert!(md.contains("rp-test-2"), "{md}");
}

/// Sort keys recursively (independent of rollproof's own canonicaliser).
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = serde_json::Map::new();
            for k in keys {
                out.insert(k.clone(), sorted(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Re-seal an edited report the way a careful forger would, so that the
/// seal holds and only the rule under test can reject it.
pub fn reseal(mut v: Value) -> Vec<u8> {
    v.as_object_mut().unwrap().remove("seal");
    let canon = serde_json::to_vec(&sorted(&v)).unwrap();
    v["seal"] = Value::String(sha256_hex(&canon));
    let mut bytes = serde_json::to_vec_pretty(&sorted(&v)).unwrap();
    bytes.push(b'\n');
    bytes
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

#[test]
fn kept_artifacts_match_sha256sum_the_sqlite3_shell_and_the_python_script() {
    let w = Work::new();
    for run in [
        copy_restore(&w),
        backup_restore(&w),
        transaction(&w),
        wrong_down(&w),
    ] {
        let r = run.json();
        let shell_options = ".sha3sum --schema --sha3-256";
        let mut checked = 0;
        for phase in ["before", "snapshot", "after_apply", "after_rollback"] {
            let ph = &r["phases"][phase];
            if ph.is_null() {
                continue;
            }
            let f = run.artifact(phase);
            assert!(f.exists(), "{f:?} kept");
            // Inside the open transaction the engine keeps a logical copy of
            // the transaction's view: its content is the evidence, not bytes.
            let in_tx = r["methods"]["rollback"] == "transaction" && phase == "after_apply";
            if !in_tx {
                assert_eq!(ph["file_sha256"], sha256sum(&f), "sha256sum {f:?}");
            }
            let hot = !in_tx
                && ph["stray_files"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|s| s.as_str().unwrap().ends_with("-journal"));
            if !hot {
                assert_eq!(
                    ph["sha3"],
                    shell_sha3sum(&f),
                    "sqlite3 {shell_options} {f:?}"
                );
                let py = &python_logical(&[&f])[0];
                assert_eq!(
                    ph["logical"]["sha256"], py["sha256"],
                    "logical_hash.py {f:?}"
                );
                assert_eq!(ph["logical"]["tables"], py["tables"]);
                checked += 1;
            }
        }
        let measured = ["before", "snapshot", "after_apply", "after_rollback"]
            .iter()
            .filter(|ph| !r["phases"][**ph].is_null())
            .count();
        assert!(measured >= 3);
        assert_eq!(
            checked, measured,
            "{:?}: content digests checked on every phase",
            run.report
        );
        let before = run.artifact("before");
        let after = run.artifact("after_rollback");
        assert_independent_tools_agree(&w, &[&before, &after]);
        if r["verdict"] == "PASS" {
            assert_eq!(
                python_logical(&[&before])[0]["sha256"],
                python_logical(&[&after])[0]["sha256"]
            );
        }
        if r["proof"] == "byte-exact" {
            assert_eq!(sha256sum(&before), sha256sum(&after));
        }
    }
}

#[test]
fn every_shipped_scenario_writes_a_report_that_validates_and_verifies_with_its_artifacts() {
    let w = Work::new();
    let o = w.run(&[
        "rehearse",
        p(&repo_file("scenarios")),
        "--profile-override",
        p(&repo_file("surrogates/profiles/tiny.toml")),
        "--keep",
        p(&w.path("keep")),
        "--reports",
        p(&w.path("reports")),
        "--workspace",
        p(&w.path("ws")),
        "--json",
    ]);
    assert_success(&o);
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    let results = summary["results"].as_array().unwrap();
    assert!(results.len() >= 10, "{summary}");
    let mut after_rollbacks = Vec::new();
    for row in results {
        let report = w.path(
            row["report"]
                .as_str()
                .expect("every scenario wrote a report"),
        );
        let r: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        assert_schema_valid(&r);
        let keep = PathBuf::from(r["artifacts"].as_str().unwrap());
        let o = verify(&w, &report, Some(&w.path("keep")));
        assert_success(&o);
        assert!(report.with_extension("md").exists());
        let after = keep.join("after-rollback.db");
        let hot = r["phases"]["after_rollback"]["stray_files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().ends_with("-journal"));
        if after.exists() && !hot {
            after_rollbacks.push((
                after,
                r["phases"]["after_rollback"]["logical"]["sha256"].clone(),
            ));
        }
    }
    // The independent Python implementation agrees on every after-rollback artifact.
    let files: Vec<&Path> = after_rollbacks.iter().map(|(f, _)| f.as_path()).collect();
    let py = python_logical(&files);
    for ((f, recorded), py) in after_rollbacks.iter().zip(&py) {
        assert_eq!(&py["sha256"], recorded, "{f:?}");
    }
    let verdicts: Vec<&str> = results
        .iter()
        .map(|r| r["verdict"].as_str().unwrap())
        .collect();
    assert!(
        verdicts.contains(&"PASS") && verdicts.contains(&"FAIL"),
        "{verdicts:?}"
    );
}
