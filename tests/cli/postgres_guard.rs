//! The PostgreSQL guard against a real server (the shared throwaway cluster
//! of `postgres.rs`): URLs are decided on the very configuration the client
//! connects with, passwords never appear in output.

use crate::postgres::exists;
use crate::util::*;

fn generate(w: &Work, url: &str, extra: &[&str]) -> std::process::Output {
    let profile = repo_file("surrogates/profiles/tiny.toml");
    let mut args = vec![
        "generate",
        "--profile",
        profile.to_str().unwrap(),
        "--seed",
        "1",
        "--target-url",
        url,
    ];
    args.extend(extra);
    w.run(&args)
}

#[test]
fn a_local_name_is_pinned_and_passwords_never_appear() {
    let w = Work::new();
    let port = pg().port();
    // "localhost" is checked once, pinned to its loopback address, and the
    // client connects there; the password (ignored by the trust-auth test
    // server) is in the user info and in the query string.
    let url =
        format!("postgres://rollproof:hunter2@localhost:{port}/rollproof_pinned?password=hunter3");
    let o = generate(&w, &url, &["--json"]);
    assert_success(&o);
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(!all.contains("hunter"), "password echoed: {all}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let shown = v["url"].as_str().unwrap();
    assert!(shown.contains("hostaddr=127.0.0.1"), "{shown}");
    assert!(exists("rollproof_pinned"));

    // Failures say what went wrong, and still not the password.
    for (url, code) in [
        // nothing listens on port 1
        (
            "postgres://rollproof:hunter2@127.0.0.1:1/rollproof_x?password=hunter3".to_string(),
            2,
        ),
        // not understood: refused
        (
            format!(
                "postgres://rollproof:hunter2@127.0.0.1:{port}/rollproof_x?password=hunter3&service=s"
            ),
            3,
        ),
        // a malformed port
        (
            "postgres://rollproof:hunter2@127.0.0.1:x/rollproof_x?password=hunter3".to_string(),
            2,
        ),
        // the two-parser trick: the client would connect to 10.0.0.5
        (
            format!(
                "postgres://localhost/rollproof_d1?application_name=hunter2@10.0.0.5:{port}/rollproof_d1"
            ),
            3,
        ),
    ] {
        let o = generate(&w, &url, &[]);
        assert_code(&o, code);
        let all = format!("{}{}", stdout(&o), stderr(&o));
        assert!(!all.contains("hunter3"), "password echoed: {all}");
        let o = w.run(&["hash", "--target-url", &url]);
        assert_code(&o, code);
        assert!(!stderr(&o).contains("hunter3"), "{}", stderr(&o));
    }
    assert!(!exists("rollproof_d1"));
}

/// Issue #13: one hand-made INSERT into `rollproof_meta.provenance` made
/// `generate --force` drop a database rollproof never created. The record
/// is now MAC'd under the workspace key and bound to the server's system
/// identifier and the database's OID and name; dropping also needs the
/// workspace's ledger entry.
#[test]
fn a_forged_or_copied_provenance_row_never_gets_a_foreign_database_dropped() {
    let w = Work::new();
    let profile = repo_file("surrogates/profiles/tiny.toml");
    let p = profile.to_str().unwrap();
    // One of ours, to copy a genuine row from.
    let ours = pg().url("rollproof_forge_ours");
    assert_success(&w.run(&["generate", "--profile", p, "--target-url", &ours]));
    let (record, mac): (String, String) = {
        let row = connect("rollproof_forge_ours")
            .query_one("SELECT record, mac FROM rollproof_meta.provenance", &[])
            .unwrap();
        (row.get(0), row.get(1))
    };
    let forged = [
        // The review's INSERT, into a table of the old shape.
        "CREATE SCHEMA rollproof_meta;
         CREATE TABLE rollproof_meta.provenance (dbname text PRIMARY KEY, purpose text,
           source text, rollproof_version text, created_at timestamptz DEFAULT now());
         INSERT INTO rollproof_meta.provenance VALUES (current_database(), 'surrogate', 'x', '0.1.0');"
            .to_string(),
        // Today's shape, a made-up MAC.
        format!(
            "CREATE SCHEMA rollproof_meta;
             CREATE TABLE rollproof_meta.provenance (dbname text PRIMARY KEY, record text, mac text);
             INSERT INTO rollproof_meta.provenance VALUES (current_database(), '{}', '{}');",
            record.replace("rollproof_forge_ours", "rollproof_forge_a"),
            "00".repeat(32)
        ),
        // A genuine row and MAC copied from one of ours (names another OID).
        format!(
            "CREATE SCHEMA rollproof_meta;
             CREATE TABLE rollproof_meta.provenance (dbname text PRIMARY KEY, record text, mac text);
             INSERT INTO rollproof_meta.provenance VALUES (current_database(), '{record}', '{mac}');"
        ),
    ];
    for (i, sql) in forged.iter().enumerate() {
        let db = format!("rollproof_forge_{}", ["a", "b", "c"][i]);
        connect("postgres")
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .unwrap();
        let mut c = connect(&db);
        c.batch_execute(sql).unwrap();
        c.batch_execute("CREATE TABLE precious(x int); INSERT INTO precious VALUES (42);")
            .unwrap();
        drop(c);
        let o = w.run(&[
            "generate",
            "--profile",
            p,
            "--target-url",
            &pg().url(&db),
            "--force",
        ]);
        assert_code(&o, 3);
        assert!(stderr(&o).contains("cannot prove"), "{}", stderr(&o));
        assert!(exists(&db), "{db} was dropped");
        let x: i32 = connect(&db)
            .query_one("SELECT x FROM precious", &[])
            .unwrap()
            .get(0);
        assert_eq!(x, 42);
    }
    // A genuine database of ours is replaced by --force; one made by
    // another workspace (other key, not in this ledger) is not.
    assert_success(&w.run(&["generate", "--profile", p, "--target-url", &ours, "--force"]));
    let other = Work::new();
    let o = other.run(&["generate", "--profile", p, "--target-url", &ours, "--force"]);
    assert_code(&o, 3);
    assert!(exists("rollproof_forge_ours"));
}

/// Issue #13: a password in the URL's user info or query string never
/// appears in any message, error, report or --json output: rehearse (on
/// success and on refusal), its report, `guard url`, `clean --target-url`.
#[test]
fn passwords_in_the_url_never_appear_in_rehearse_reports_guard_or_clean() {
    let w = Work::new();
    let port = pg().port();
    let url =
        format!("postgres://rollproof:hunter2@127.0.0.1:{port}/rollproof_pw?password=hunter3");
    let one = repo_file("scenarios/postgres/pg-births-template-restore.toml");
    let tiny = repo_file("surrogates/profiles/tiny.toml");
    let rehearse = |url: &str| {
        w.run(&[
            "rehearse",
            one.to_str().unwrap(),
            "--profile-override",
            tiny.to_str().unwrap(),
            "--target-url",
            url,
            "--reports",
            w.path("reports").to_str().unwrap(),
            "--json",
        ])
    };
    let o = rehearse(&url);
    assert_success(&o);
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(!all.contains("hunter"), "password echoed: {all}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let report = w
        .dir
        .path()
        .join(v["results"][0]["report"].as_str().unwrap());
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(!text.contains("hunter"), "password in the report: {text}");
    for bad in [
        // refused: another host; not understood; a malformed port
        "postgres://rollproof:hunter2@192.0.2.1:5432/rollproof_pw?password=hunter3".to_string(),
        format!(
            "postgres://rollproof:hunter2@127.0.0.1:{port}/rollproof_pw?password=hunter3&service=s"
        ),
        "postgres://rollproof:hunter2@127.0.0.1:x/rollproof_pw?password=hunter3".to_string(),
    ] {
        let o = rehearse(&bad);
        assert!(
            o.status.code() == Some(2) || o.status.code() == Some(3),
            "{}",
            stderr(&o)
        );
        let all = format!("{}{}", stdout(&o), stderr(&o));
        assert!(!all.contains("hunter"), "password echoed: {all}");
        let o = w.run(&["guard", "url", &bad, "--json"]);
        let all = format!("{}{}", stdout(&o), stderr(&o));
        assert!(!all.contains("hunter"), "password echoed: {all}");
        let o = w.run(&["clean", "--target-url", &bad, "--json"]);
        let all = format!("{}{}", stdout(&o), stderr(&o));
        assert!(!all.contains("hunter"), "password echoed: {all}");
    }
    let o = w.run(&["clean", "--target-url", &url, "--json"]);
    assert_success(&o);
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(!all.contains("hunter"), "password echoed: {all}");
}
