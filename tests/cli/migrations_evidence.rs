//! A migrations folder report is evidence like a rehearsal's (issue #16,
//! "signed and attachable to a blocker like any other report"): `rollproof
//! migrations --sign-key` signs it through the one report writer, the stock
//! `ssh-keygen -Y verify` and `rollproof verify --trust` agree on it, and
//! `promote`, `attach` and `blockers validate` take a signed PASS one and
//! refuse an unsigned or a FAIL one, with the map left untouched.

use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const SEED: &str = "tests/fixtures/final-blocker-map.json";
const ROLLBACK: &str = "FIX7-P0-DRYRUN-PROD-ROLLBACK-1";

const GOOD: &[(&str, &str)] = &[
    (
        "1-items.up.sql",
        "CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT);",
    ),
    ("1-items.down.sql", "DROP TABLE items;"),
    ("2-index.up.sql", "CREATE INDEX ix_items_v ON items (v);"),
    ("2-index.down.sql", "DROP INDEX ix_items_v;"),
];

fn folder(w: &Work, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = w.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (f, text) in files {
        std::fs::write(dir.join(f), text).unwrap();
    }
    dir
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `ssh-keygen -Y verify -f TRUST -I IDENTITY -n rollproof-report -s SIG < FILE`.
fn ssh_verify(trust: &Path, identity: &str, sig: &Path, file: &Path) -> bool {
    Command::new("ssh-keygen")
        .args(["-Y", "verify", "-f", p(trust), "-I", identity])
        .args(["-n", "rollproof-report", "-s", p(sig)])
        .stdin(Stdio::from(std::fs::File::open(file).unwrap()))
        .output()
        .expect("ssh-keygen must be installed for this test")
        .status
        .success()
}

/// Run `migrations DIR --json` with `extra`; (exit code, JSON, report path).
fn run(w: &Work, dir: &Path, extra: &[&str]) -> (i32, Value, PathBuf) {
    let mut args = vec!["migrations", p(dir), "--json"];
    args.extend_from_slice(extra);
    let o = w.run(&args);
    let v = json_out(&o);
    let report = w.path(v["report"].as_str().expect("report path"));
    (o.status.code().unwrap_or(-1), v, report)
}

/// The seed map at `maps/map.json`, trusting `key` beside it.
fn map(w: &Work, key: &Key) -> PathBuf {
    let m = w.path("maps/map.json");
    std::fs::create_dir_all(m.parent().unwrap()).unwrap();
    std::fs::copy(repo_file(SEED), &m).unwrap();
    w.allowed_signers(
        "maps/allowed_signers",
        &[(key, "namespaces=\"rollproof-report\"")],
    );
    m
}

fn attach(w: &Work, report: &Path, map: &Path) -> std::process::Output {
    w.run(&[
        "attach",
        p(report),
        "--map",
        p(map),
        "--blocker",
        ROLLBACK,
        "--json",
    ])
}

#[test]
fn a_signed_pass_migrations_report_is_evidence_ssh_keygen_agrees_and_it_attaches() {
    let w = Work::new();
    let key = w.keygen("keys/ci", "ci@example.org");
    let map = map(&w, &key);
    let trust = w.path("maps/allowed_signers");
    let dir = folder(&w, "mig", GOOD);
    let (code, v, report) = run(
        &w,
        &dir,
        &["--sign-key", p(&key.private), "--blocker", ROLLBACK],
    );
    assert_eq!((code, v["verdict"].as_str()), (0, Some("PASS")), "{v}");
    let sig = sig_of(&report);
    assert_eq!(w.path(v["signature"].as_str().expect("signature")), sig);
    assert!(
        std::fs::read_to_string(&sig)
            .unwrap()
            .starts_with("-----BEGIN SSH SIGNATURE-----\n")
    );
    // The stock tool and rollproof agree: genuine.
    assert!(ssh_verify(&trust, &key.principal, &sig, &report));
    let o = w.run(&["verify", p(&report), "--trust", p(&trust)]);
    assert_success(&o);
    assert!(
        stdout(&o).contains("OK (PASS migrations") && stdout(&o).contains("signed by ci@"),
        "{}",
        stdout(&o)
    );

    // A run in the workspace is not evidence until promoted.
    let before = std::fs::read(&map).unwrap();
    let o = attach(&w, &report, &map);
    assert_code(&o, 3);
    assert!(
        stderr(&o).contains("not promoted evidence"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&map).unwrap(), before);

    // promote files it under reports/migrations-<folder>/ with its signature.
    let o = w.run(&["promote", p(&report), "--json"]);
    assert_success(&o);
    let name = report.file_name().unwrap().to_str().unwrap();
    let promoted = w.path(&format!("reports/migrations-mig/{name}"));
    assert_eq!(
        json_out(&o)["promoted"][0]["files"],
        serde_json::json!([
            format!("reports/migrations-mig/{name}"),
            format!("reports/migrations-mig/{name}.sig")
        ])
    );
    assert_eq!(
        std::fs::read(&promoted).unwrap(),
        std::fs::read(&report).unwrap()
    );

    // attach records it on the blocker, and the map's cross-checks hold.
    let o = attach(&w, &promoted, &map);
    assert_success(&o);
    let r: Value = serde_json::from_slice(&std::fs::read(&promoted).unwrap()).unwrap();
    let got: Value = serde_json::from_slice(&std::fs::read(&map).unwrap()).unwrap();
    let ev = &got["table_F_final_blockers"][2]["evidence"][0];
    assert_eq!(ev["seal"], r["seal"]);
    assert_eq!(ev["verdict"], "PASS");
    assert_eq!(ev["proof"], "logical-only");
    assert_eq!(ev["leg"], "surrogate");
    assert_eq!(ev["surrogate_sha256"], r["folder"]["manifest_sha256"]);
    assert_eq!(ev["scenario"], "migrations-mig");
    assert_eq!(ev["rehearsed_at"], r["started_at"]);
    assert_eq!(
        ev["report"],
        format!("../reports/migrations-mig/{name}").as_str()
    );
    let o = w.run(&["blockers", "validate", p(&map)]);
    assert_success(&o);

    // Tampered after signing: both reject it, re-sealed or not.
    let mut edited = r.clone();
    edited["blocker"] = "FIX7-P0-PROD-OPT4-1".into();
    edited["seal"] = rollproof::evidence::canonical::seal_of(&edited).into();
    let mut bytes =
        serde_json::to_vec_pretty(&rollproof::evidence::canonical::canonicalize(&edited)).unwrap();
    bytes.push(b'\n');
    std::fs::write(&promoted, bytes).unwrap();
    assert!(!ssh_verify(
        &trust,
        &key.principal,
        &sig_of(&promoted),
        &promoted
    ));
    let o = w.run(&["verify", p(&promoted), "--trust", p(&trust)]);
    assert_code(&o, 1);
    assert!(stdout(&o).contains("NOT EVIDENCE"), "{}", stdout(&o));
    let o = w.run(&["blockers", "validate", p(&map)]);
    assert_code(&o, 1);
}

#[test]
fn unsigned_and_failing_migrations_reports_are_not_attached() {
    let w = Work::new();
    let key = w.keygen("keys/ci", "ci@example.org");
    let map = map(&w, &key);
    let before = std::fs::read(&map).unwrap();
    let dir = folder(&w, "mig", GOOD);
    // Unsigned (written outside the workspace, so only the signature is
    // missing): consistent, but not evidence.
    let (code, v, report) = run(&w, &dir, &["--blocker", ROLLBACK, "--reports", "out"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["signature"], Value::Null);
    assert!(!sig_of(&report).exists());
    let o = attach(&w, &report, &map);
    assert_code(&o, 3);
    assert!(stderr(&o).contains("not evidence"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&map).unwrap(), before);

    // Signed, but a down loses rows: a FAIL is a finding, not evidence.
    let mut files = GOOD.to_vec();
    files.push(("3-note.up.sql", "ALTER TABLE items ADD COLUMN note TEXT;"));
    files.push(("3-note.down.sql", "DELETE FROM items WHERE id % 2 = 0;"));
    let bad = folder(&w, "bad", &files);
    let (code, v, report) = run(
        &w,
        &bad,
        &[
            "--blocker",
            ROLLBACK,
            "--reports",
            "out",
            "--sign-key",
            p(&key.private),
        ],
    );
    assert_eq!((code, v["verdict"].as_str()), (1, Some("FAIL")), "{v}");
    assert!(sig_of(&report).is_file());
    let o = w.run(&["verify", p(&report), "--trust", "maps/allowed_signers"]);
    assert_success(&o);
    let o = attach(&w, &report, &map);
    assert_code(&o, 3);
    assert!(
        stderr(&o).contains("has verdict FAIL: only a PASS is evidence"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&map).unwrap(), before);
    assert!(!w.path("maps/map.json.bak").exists());

    // ROLLPROOF_SIGNING_KEY signs as --sign-key does; a bad key is bad
    // input before anything runs.
    let o = w
        .cmd()
        .args(["migrations", p(&dir), "--reports", "env", "--json"])
        .env("ROLLPROOF_SIGNING_KEY", &key.private)
        .output()
        .unwrap();
    assert_success(&o);
    let v = json_out(&o);
    assert!(w.path(v["signature"].as_str().unwrap()).is_file(), "{v}");
    std::fs::write(w.path("not-a-key"), "nope").unwrap();
    let (code, v) = {
        let o = w.run(&[
            "migrations",
            p(&dir),
            "--sign-key",
            "not-a-key",
            "--reports",
            "never",
            "--json",
        ]);
        (o.status.code().unwrap_or(-1), json_out(&o))
    };
    assert_eq!(code, 2, "{v}");
    assert_eq!(v["ok"], false);
    assert!(!w.path("never/migrations-mig").exists());
}

/// `sha256sum FILE`, the independent digest.
fn sha256sum(file: &Path) -> String {
    let o = Command::new("sha256sum").arg(file).output().unwrap();
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

const LEAKY: &[(&str, &str)] = &[
    (
        "1-items.up.sql",
        "CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT);",
    ),
    ("1-items.down.sql", "DROP TABLE items;"),
    ("2-index.up.sql", "CREATE INDEX ix_items_v ON items (v);"),
    ("2-index.down.sql", "SELECT 1;"),
];

#[test]
fn report_show_prints_every_step_verdict_of_a_migrations_report() {
    let w = Work::new();
    let dir = folder(&w, "mig", LEAKY);
    let (code, v, report) = run(&w, &dir, &[]);
    assert_eq!((code, v["verdict"].as_str()), (1, Some("FAIL")), "{v}");
    let o = w.run(&["report", "show", p(&report)]);
    assert_success(&o);
    let out = stdout(&o);
    assert!(
        out.starts_with("FAIL: migrations folder ") && out.contains("2 migrations, 2 rehearsed"),
        "{out}"
    );
    assert!(out.contains("data       generated: "), "{out}");
    let step = |i: usize| {
        out.lines()
            .find(|l| l.trim_start().starts_with(&format!("{i}  ")))
            .unwrap_or_else(|| panic!("a line for step {i}\n{out}"))
            .to_string()
    };
    assert!(
        step(1).contains("1-items") && step(1).contains("PASS"),
        "{out}"
    );
    assert!(
        step(2).contains("2-index")
            && step(2).contains("FAIL")
            && step(2).contains("down leaves index `ix_items_v`"),
        "{out}"
    );
    assert!(
        out.contains("FAIL: 1 pass, 1 fail, 0 irreversible"),
        "{out}"
    );
    let o = w.run(&["report", "show", "--markdown", p(&report)]);
    assert_success(&o);
    assert!(
        stdout(&o).contains("| 2 | 2-index | FAIL | down leaves index `ix_items_v`"),
        "{}",
        stdout(&o)
    );
    // Tampered (a FAIL step turned into a pass): shown with a warning on
    // top, exit 1.
    let mut r: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    r["steps"][1]["status"] = "pass".into();
    let bad = w.path("bad.json");
    std::fs::write(&bad, serde_json::to_vec_pretty(&r).unwrap()).unwrap();
    let o = w.run(&["report", "show", p(&bad)]);
    assert_code(&o, 1);
    assert!(stdout(&o).starts_with("NOT VERIFIED"), "{}", stdout(&o));
}

#[test]
fn report_attest_wraps_a_migrations_report_in_a_signed_envelope_over_its_files() {
    use base64::Engine;
    let w = Work::new();
    let key = w.keygen("keys/ci", "ci@example.org");
    let trust = w.allowed_signers("allowed_signers", &[(&key, "")]);
    let dir = folder(&w, "mig", GOOD);
    let (code, _, report) = run(&w, &dir, &[]);
    assert_eq!(code, 0);
    let out = w.path("mig.intoto.json");
    let o = w.run(&[
        "report",
        "attest",
        p(&report),
        "--out",
        p(&out),
        "--sign-key",
        p(&key.private),
    ]);
    assert_success(&o);
    let env: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(env["payloadType"], "application/vnd.in-toto+json");
    let payload = base64::engine::general_purpose::STANDARD
        .decode(env["payload"].as_str().unwrap())
        .unwrap();
    let st: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(
        st["predicateType"],
        "https://rollproof.dev/attestation/rollback-proof/v1"
    );
    // The predicate is the sealed report, unchanged.
    let sealed: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(st["predicate"], sealed);
    // The subjects are the folder's files, with their digests.
    let subjects = st["subject"].as_array().unwrap();
    let names: Vec<&str> = subjects
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "migrations/1-items.down.sql",
            "migrations/1-items.up.sql",
            "migrations/2-index.down.sql",
            "migrations/2-index.up.sql"
        ]
    );
    for s in subjects {
        let f = dir.join(
            s["name"]
                .as_str()
                .unwrap()
                .strip_prefix("migrations/")
                .unwrap(),
        );
        assert_eq!(s["digest"]["sha256"], sha256sum(&f).as_str(), "{s}");
    }
    // The envelope verifies and is evidence; a subject digest swapped is not.
    let o = w.run(&["verify", p(&out), "--trust", p(&trust)]);
    assert_success(&o);
    assert!(
        stdout(&o).contains("signed by ci@example.org"),
        "{}",
        stdout(&o)
    );
    let mut forged = st.clone();
    forged["subject"][0]["digest"]["sha256"] = st["subject"][1]["digest"]["sha256"].clone();
    let mut env2 = env.clone();
    env2["payload"] = base64::engine::general_purpose::STANDARD
        .encode(serde_json::to_vec(&forged).unwrap())
        .into();
    let forged_path = w.path("forged.intoto.json");
    std::fs::write(&forged_path, serde_json::to_vec_pretty(&env2).unwrap()).unwrap();
    let o = w.run(&["verify", p(&forged_path)]);
    assert_code(&o, 1);
    assert!(
        stdout(&o).contains("FAILED (statement-subjects: "),
        "{}",
        stdout(&o)
    );
    // A report that does not verify is not attested.
    let mut r = sealed.clone();
    r["verdict"] = "FAIL".into();
    let bad = w.path("bad.json");
    std::fs::write(&bad, serde_json::to_vec_pretty(&r).unwrap()).unwrap();
    let o = w.run(&["report", "attest", p(&bad), "--sign-key", p(&key.private)]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("does not verify"), "{}", stderr(&o));
}
