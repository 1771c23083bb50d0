//! `rollproof intake`: a clean dump becomes a bound, rehearsable clone; a
//! dump with any kind of planted secret is refused without leaking it and
//! leaves no clone; SQL text dumps load; non-databases, truncated files and
//! scripts that reach outside are refused; the source's bytes never change.

use crate::util::*;
use rusqlite::Connection;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

fn fixture(name: &str) -> PathBuf {
    repo_file(&format!("tests/fixtures/dumps/{name}"))
}

/// Run intake with `--json`, asserting the source is byte-for-byte unchanged.
fn intake(w: &Work, dump: &Path, extra: &[&str]) -> Output {
    let before = std::fs::read(dump).unwrap();
    let mut args = vec!["intake", dump.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let o = w.run(&args);
    assert_eq!(
        std::fs::read(dump).unwrap(),
        before,
        "intake changed its source"
    );
    o
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

/// No clone files and no temp files left in the clones folder.
fn clones(w: &Work) -> Vec<String> {
    match std::fs::read_dir(w.path("rollproof-work/clones")) {
        Ok(d) => d
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => vec![],
    }
}

#[test]
fn a_clean_surrogate_dump_becomes_a_bound_rehearsable_clone() {
    let w = Work::new();
    let dump = w.tiny("dump.db", 3);
    let sha = sha256_file(&dump);
    let o = intake(&w, &dump, &["--out", "op"]);
    assert_success(&o);
    let r = json(&o);
    assert_eq!(r["verdict"], "accepted");
    assert_eq!(r["source_format"], "sqlite");
    assert_eq!(r["source_sha256_before"], sha.as_str());
    assert_eq!(r["source_sha256_after"], sha.as_str());
    assert_eq!(r["leg"], "operator real-dump clone");
    assert_eq!(r["secrets"]["findings_total"], 0);
    assert!(r["secrets"]["values_scanned"].as_u64().unwrap() > 1000);
    assert_eq!(r["surface"]["ok"], true);
    let clone = w.path("rollproof-work/clones/op.db");
    assert_eq!(r["clone_sha256"], sha256_file(&clone).as_str());
    // The clone carries a clone record naming the source digest.
    let conn = Connection::open(&clone).unwrap();
    let (kind, source): (String, String) = conn
        .query_row(
            "SELECT kind, source_sha256 FROM rollproof_provenance",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((kind.as_str(), source.as_str()), ("clone", sha.as_str()));
    let births: i64 = conn
        .query_row("SELECT count(*) FROM birth_registry", [], |r| r.get(0))
        .unwrap();
    assert_eq!(births, 30);
    drop(conn);
    // The guard accepts it as a write target; the sidecar records the intake.
    assert_success(&w.run(&["guard", "target", clone.to_str().unwrap()]));
    let side: Value = serde_json::from_str(
        &std::fs::read_to_string(w.path("rollproof-work/clones/op.db.provenance.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(side["intake"]["source_sha256_before"], sha.as_str());
    assert_eq!(clones(&w).len(), 2, "{:?}", clones(&w));
    // A second intake under the same name needs --force.
    let o = intake(&w, &dump, &["--out", "op"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_success(&intake(&w, &dump, &["--out", "op", "--force"]));
}

#[test]
fn a_clone_profiles_value_free_and_a_surrogate_of_its_shape_scores_high() {
    let w = Work::new();
    let dump = w.tiny("dump.db", 5);
    assert_success(&intake(&w, &dump, &["--out", "op"]));
    let clone = w.path("rollproof-work/clones/op.db");
    let before = sha256_file(&clone);
    assert_success(&w.run(&["profile", clone.to_str().unwrap(), "--out", "op.toml"]));
    assert_eq!(sha256_file(&clone), before, "profiling changed the clone");
    let text = std::fs::read_to_string(w.path("op.toml")).unwrap();
    assert!(
        !text.contains('@') && !text.contains("rollproof_provenance"),
        "{text}"
    );
    assert_success(&w.run(&[
        "generate",
        "--profile",
        "op.toml",
        "--seed",
        "9",
        "--out",
        "shape.db",
    ]));
    let o = w.run(&["fidelity", "shape.db", "--profile", "op.toml", "--json"]);
    assert_success(&o);
    let score = json(&o)["score"].as_f64().unwrap();
    assert!(score > 90.0, "fidelity {score}");
}

#[test]
fn a_sql_text_dump_loads_into_a_clone() {
    let w = Work::new();
    let o = intake(&w, &fixture("clean.sql"), &[]);
    assert_success(&o);
    let r = json(&o);
    assert_eq!(r["source_format"], "sql");
    assert_eq!(r["verdict"], "accepted");
    assert_eq!(
        r["source_sha256_before"],
        sha256_file(&fixture("clean.sql")).as_str()
    );
    let conn = Connection::open(w.path("rollproof-work/clones/clean.db")).unwrap();
    let births: i64 = conn
        .query_row("SELECT count(*) FROM birth_registry", [], |r| r.get(0))
        .unwrap();
    assert_eq!(births, 3);
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}

/// (kind, table, column, value): one planted secret of each kind.
fn planted() -> Vec<(&'static str, &'static str, &'static str, String)> {
    vec![
        ("private-key", "directus_activity", "user_agent", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----".into()),
        ("cloud-access-key", "directus_activity", "user_agent", "curl with AKIAIOSFODNN7EXAMPLE".into()),
        ("api-token", "directus_activity", "origin", format!("ghp_{}", "aB3dE5fG7h".repeat(4).get(..36).unwrap())),
        ("bearer-token", "directus_activity", "user_agent", "Authorization: Bearer s.9hQ2kL7mP4xZ8vN1".into()),
        ("jwt", "directus_revisions", "data", "{\"t\":\"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U\"}".into()),
        ("password-hash", "directus_users", "password", "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG".into()),
        ("connection-string", "directus_settings", "project_url", "postgres://app:Pr0dPassw0rd@10.0.3.7:5432/prod".into()),
        ("credential-column", "directus_users", "token", "letmein-please".into()),
        ("high-entropy-token", "objects", "payload", "{\"api\":\"9fK2mQ7xLp4Rz8WvT1nB6cYh3JdG5sA0\"}".into()),
    ]
}

#[test]
fn every_kind_of_planted_secret_is_refused_without_leaking_it() {
    let w = Work::new();
    let base = w.tiny("base.db", 3);
    for (kind, table, column, value) in planted() {
        let dump = w.path(&format!("{kind}.db"));
        std::fs::copy(&base, &dump).unwrap();
        let conn = Connection::open(&dump).unwrap();
        conn.execute(
            &format!(
                "UPDATE {table} SET {column} = ?1 WHERE rowid = (SELECT min(rowid) FROM {table})"
            ),
            [&value],
        )
        .unwrap();
        drop(conn);
        let o = intake(&w, &dump, &[]);
        assert_code(&o, 3);
        let r = json(&o);
        assert_eq!(r["verdict"], "refused-secrets", "{kind}");
        let findings = r["secrets"]["findings"].as_array().unwrap();
        let hit = findings
            .iter()
            .find(|f| f["kind"] == kind && f["table"] == table && f["column"] == column)
            .unwrap_or_else(|| panic!("{kind} not reported: {findings:?}"));
        assert!(!hit["row"].as_str().unwrap().is_empty());
        assert_eq!(r["clone"], Value::Null);
        let all = format!("{}{}", stdout(&o), stderr(&o));
        for part in value
            .split(['\n', ' ', '"', ':', '@', '/'])
            .filter(|p| p.len() >= 10)
        {
            assert!(!all.contains(part), "{kind}: secret part {part:?} leaked");
        }
        assert!(clones(&w).is_empty(), "{kind} left {:?}", clones(&w));
        // The text report names table, column, row and kind too.
        let t = w.run(&["intake", dump.to_str().unwrap()]);
        assert_code(&t, 3);
        let line = format!(
            "{table}.{column} row {}: {kind}",
            hit["row"].as_str().unwrap()
        );
        assert!(stdout(&t).contains(&line), "{kind}: {}", stdout(&t));
        assert!(stderr(&t).contains("no clone kept"), "{}", stderr(&t));
    }
}

#[test]
fn an_allow_list_decision_admits_a_false_positive_and_is_recorded() {
    let w = Work::new();
    let dump = w.tiny("dump.db", 3);
    let conn = Connection::open(&dump).unwrap();
    conn.execute(
        "UPDATE objects SET payload = '{\"checksum\":\"Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MEFCQ0RFRg\"}' WHERE rowid = 2",
        [],
    )
    .unwrap();
    drop(conn);
    let r = json(&intake(&w, &dump, &[]));
    let f = &r["secrets"]["findings"][0];
    assert_eq!(f["kind"], "high-entropy-token");
    let allow = w.path("allow.toml");
    let entry = format!(
        "[[allow]]\ntable = \"objects\"\ncolumn = \"payload\"\nrow = \"{}\"\nkind = \"high-entropy-token\"\nreason = \"a content checksum, not a credential\"\nby = \"operator@example.com\"\n",
        f["row"].as_str().unwrap()
    );
    std::fs::write(&allow, format!("{entry}\n[[allow]]\ntable = \"objects\"\ncolumn = \"key\"\nrow = \"x\"\nkind = \"jwt\"\nreason = \"stale\"\nby = \"op\"\n")).unwrap();
    let o = intake(&w, &dump, &["--allow", allow.to_str().unwrap()]);
    assert_success(&o);
    let r = json(&o);
    assert_eq!(r["secrets"]["allowed"].as_array().unwrap().len(), 1);
    assert_eq!(r["secrets"]["unused_allow"].as_array().unwrap().len(), 1);
    let side =
        std::fs::read_to_string(w.path("rollproof-work/clones/dump.db.provenance.json")).unwrap();
    assert!(
        side.contains("a content checksum, not a credential"),
        "{side}"
    );
    let conn = Connection::open(w.path("rollproof-work/clones/dump.db")).unwrap();
    let allow_sha: String = conn
        .query_row(
            "SELECT allowlist_sha256 FROM rollproof_provenance",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(allow_sha, sha256_file(&allow));
    // A decision without a reason is not a decision.
    std::fs::write(
        &allow,
        entry.replace("a content checksum, not a credential", ""),
    )
    .unwrap();
    let o = intake(&w, &dump, &["--allow", allow.to_str().unwrap(), "--force"]);
    assert_code(&o, 2);
    assert!(
        stderr(&o).contains("allow.toml") && stderr(&o).contains("reason"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn sql_dumps_with_secrets_or_outside_reach_are_refused() {
    let w = Work::new();
    let o = intake(&w, &fixture("secret.sql"), &[]);
    assert_code(&o, 3);
    let r = json(&o);
    let kinds: Vec<(String, String)> = r["secrets"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["row"].as_str().unwrap().to_string(),
                f["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("u-2".into(), "password-hash".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("u-3".into(), "cloud-access-key".into())),
        "{kinds:?}"
    );
    assert!(!kinds.iter().any(|(row, _)| row == "u-1"), "{kinds:?}");
    assert!(clones(&w).is_empty());
    let o = intake(&w, &fixture("attach.sql"), &[]);
    assert_code(&o, 3);
    assert!(
        stderr(&o).contains("attach.sql: line 7: ATTACH"),
        "{}",
        stderr(&o)
    );
    assert!(!w.path("attached-by-dump.db").exists());
    assert!(clones(&w).is_empty());
}

#[test]
fn a_dump_without_the_surface_is_accepted_for_sql_rehearsals() {
    let w = Work::new();
    let o = intake(&w, &fixture("no-surface.sql"), &[]);
    assert_success(&o);
    let r = json(&o);
    assert_eq!(r["verdict"], "accepted");
    assert_eq!(r["rehearsable"], serde_json::json!(["sql"]));
    assert_eq!(r["surface"]["ok"], false);
    assert!(
        r["surface"]["missing_tables"]
            .as_array()
            .unwrap()
            .contains(&Value::from("birth_registry"))
    );
    assert!(
        r["surface"]["missing_columns"]["objects"]
            .as_array()
            .unwrap()
            .contains(&Value::from("payload"))
    );
    assert!(
        !r["surface"]["missing_columns"]["objects"]
            .as_array()
            .unwrap()
            .contains(&Value::from("kind"))
    );
    assert!(w.path("rollproof-work/clones/no-surface.db").exists());
    let text = w.run(&[
        "intake",
        fixture("no-surface.sql").to_str().unwrap(),
        "--out",
        "again",
    ]);
    assert_success(&text);
    assert!(
        !stdout(&text).contains("not rehearsable"),
        "{}",
        stdout(&text)
    );
    assert!(
        stdout(&text).contains("rehearsable: sql"),
        "{}",
        stdout(&text)
    );
}

/// A scenario rehearsing `up`/`down` on the clone `clone`, expected PASS.
fn clone_scenario(w: &Work, clone: &Path, up: &str, down: &str, rows: &str) -> PathBuf {
    let dir = w.path("scenario");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("up.sql"), up).unwrap();
    std::fs::write(dir.join("down.sql"), down).unwrap();
    let path = dir.join("scenario.toml");
    std::fs::write(
        &path,
        format!(
            "[scenario]\nname = \"vendor\"\nexpect = \"PASS\"\nleg = \"operator real-dump clone\"\n\
             [surrogate]\nfile = \"{}\"\n\
             [apply]\nkind = \"sql\"\nup = \"up.sql\"\n[apply.expect_rows]\n{rows}\n\
             [snapshot]\nmethod = \"copy\"\n\
             [rollback]\nmethod = \"compensate\"\ndown = \"down.sql\"\n",
            clone.display()
        ),
    )
    .unwrap();
    path
}

#[test]
fn a_vendor_script_that_begins_with_drop_if_exists_is_taken_in_and_rehearsed() {
    let w = Work::new();
    let o = intake(&w, &fixture("vendor.sql"), &["--out", "vendor"]);
    assert_success(&o);
    let r = json(&o);
    assert_eq!(r["verdict"], "accepted");
    assert_eq!(r["source_format"], "sql");
    assert_eq!(r["rehearsable"], serde_json::json!(["sql"]));
    let clone = w.path("rollproof-work/clones/vendor.db");
    let sha = sha256_file(&clone);
    {
        let c = Connection::open(&clone).unwrap();
        let n: i64 = c
            .query_row(
                "SELECT count(*) FROM loans WHERE stamped = 'stamped'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "the trigger ran while loading");
    }
    // An SQL change rehearses on the clone: a new table and rows, undone.
    let scenario = clone_scenario(
        &w,
        &clone,
        "CREATE TABLE reviews(book INTEGER REFERENCES books(id), stars INTEGER);\n\
         INSERT INTO reviews VALUES (1, 5), (2, 4);\n\
         INSERT INTO loans(book, copy_no, reader) VALUES (3, 1, 'reader-9');\n",
        "DELETE FROM loans WHERE reader = 'reader-9';\nDROP TABLE reviews;\n",
        "reviews = 2\nloans = 1",
    );
    let o = w.run(&["rehearse", scenario.to_str().unwrap(), "--json"]);
    assert_success(&o);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["results"][0]["verdict"], "PASS", "{v}");
    assert_eq!(
        sha256_file(&clone),
        sha,
        "the clone itself is never written"
    );
}

#[test]
fn non_databases_and_truncated_files_are_bad_input() {
    let w = Work::new();
    let db = w.tiny("dump.db", 3);
    let bytes = std::fs::read(&db).unwrap();
    let mut cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("cut.db", bytes[..100_000].to_vec(), "truncated"),
        ("pages.db", bytes[..4096 * 10].to_vec(), "header promises"),
        (
            "header.db",
            bytes[..60].to_vec(),
            "shorter than the 100-byte SQLite header",
        ),
        (
            "binary.bin",
            (0..5000u32).map(|i| (i * 7 % 256) as u8).collect(),
            "not a SQLite database or a SQL text dump",
        ),
        ("empty.sql", vec![], "empty"),
        (
            "prose.txt",
            b"hello, this is not SQL\n".to_vec(),
            "never ends",
        ),
        (
            "broken.sql",
            b"CREATE TABLE (;\n".to_vec(),
            "line 1: the statement failed",
        ),
    ];
    let sql = std::fs::read(fixture("clean.sql")).unwrap();
    cases.push(("half.sql", sql[..sql.len() / 2].to_vec(), "truncated"));
    let mut zeros = b"SQLite format 3\0".to_vec();
    zeros.resize(4096, 0);
    cases.push(("zeros.db", zeros, "invalid SQLite header"));
    for (name, content, needle) in cases {
        let p = w.path(name);
        std::fs::write(&p, &content).unwrap();
        let o = intake(&w, &p, &[]);
        assert_code(&o, 2);
        let err = stderr(&o);
        assert!(err.contains(name) && err.contains(needle), "{name}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{name}: {err}");
        assert!(clones(&w).is_empty(), "{name} left {:?}", clones(&w));
    }
    let o = w.run(&["intake", "missing.db"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("missing.db"));
}

#[test]
fn a_scenario_rehearses_on_the_clone_and_reports_its_leg() {
    let w = Work::new();
    let dump = w.tiny("dump.db", 3);
    assert_success(&intake(&w, &dump, &["--out", "op"]));
    let clone = w.path("rollproof-work/clones/op.db");
    let before = sha256_file(&clone);
    std::fs::write(
        w.path("clone.toml"),
        "[scenario]\nname = \"clone-restore\"\nleg = \"operator real-dump clone\"\nexpect = \"PASS\"\n\
         [surrogate]\nfile = \"rollproof-work/clones/op.db\"\n[apply]\nkind = \"births\"\ncount = 5\n\
         [snapshot]\nmethod = \"copy\"\n[rollback]\nmethod = \"restore\"\n",
    )
    .unwrap();
    let o = w.run(&["rehearse", "clone.toml", "--json"]);
    assert_success(&o);
    let v = json(&o);
    assert_eq!(v["results"][0]["verdict"], "PASS");
    let report: Value = serde_json::from_slice(
        &std::fs::read(w.path(v["results"][0]["report"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    assert_eq!(report["leg"], "operator real-dump clone");
    // The rehearsal wrote to a working copy, never to the clone itself.
    assert_eq!(sha256_file(&clone), before);
    assert_success(&w.run(&["guard", "target", clone.to_str().unwrap()]));
}

/// #14 §3: `births` on a database without the birth-register surface is
/// bad input (exit 2) that names what is missing, and says SQL changes
/// still rehearse there.
#[test]
fn births_on_a_clone_without_the_surface_name_what_is_missing() {
    let w = Work::new();
    assert_success(&intake(&w, &fixture("no-surface.sql"), &["--out", "bare"]));
    let clone = w.path("rollproof-work/clones/bare.db");
    let path = w.path("births.toml");
    std::fs::write(
        &path,
        format!(
            "[scenario]\nname = \"bare-births\"\nexpect = \"PASS\"\n\
             [surrogate]\nfile = \"{}\"\n\
             [apply]\nkind = \"births\"\ncount = 3\n\
             [snapshot]\nmethod = \"copy\"\n[rollback]\nmethod = \"restore\"\n",
            clone.display()
        ),
    )
    .unwrap();
    let o = w.run(&["rehearse", path.to_str().unwrap()]);
    assert_code(&o, 2);
    let e = stderr(&o);
    assert!(e.contains("birth-register surface"), "{e}");
    assert!(e.contains("missing table birth_registry"), "{e}");
    assert!(e.contains("kind = \"sql\""), "{e}");
}
