//! `rollproof guard`: the write guard proves provenance and refuses every
//! probe around it (symlinks, `..`, renamed or copied files, copied or
//! edited provenance, foreign bytes); URLs only reach local throwaways.
//! Grants: tests/cli/grants.rs.

use crate::util::*;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::process::Output;

/// A tiny surrogate taken in as the clone `rollproof-work/clones/c.db`.
fn clone(w: &Work) -> PathBuf {
    let s = w.tiny("dump.db", 3);
    assert_success(&w.run(&["intake", s.to_str().unwrap(), "--out", "c"]));
    w.path("rollproof-work/clones/c.db")
}

fn target(w: &Work, p: &Path) -> Output {
    w.run(&["guard", "target", p.to_str().unwrap()])
}

fn refused(o: &Output, needle: &str) {
    assert_code(o, 3);
    let out = format!("{}{}", stdout(o), stderr(o));
    assert!(out.contains("REFUSED") || out.contains("refused"), "{out}");
    assert!(out.contains(needle), "expected {needle:?} in: {out}");
}

fn sidecar(db: &Path) -> PathBuf {
    PathBuf::from(format!("{}.provenance.json", db.display()))
}

#[test]
fn a_bound_clone_is_allowed_and_foreign_targets_are_refused() {
    let w = Work::new();
    let c = clone(&w);
    let o = w.run(&["guard", "target", c.to_str().unwrap(), "--json"]);
    assert_success(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["allowed"], true);
    assert_eq!(v["target"]["leg"], "operator real-dump clone");
    assert_eq!(v["target"]["sha256"], sha256_file(&c).as_str());
    // Relative path from the work directory works too.
    assert_success(&target(&w, Path::new("rollproof-work/clones/c.db")));
    // A database outside the workspace, even a genuine surrogate.
    refused(
        &target(&w, &w.path("dump.db")),
        "outside rollproof's workspace",
    );
    // A surrogate generated straight into the workspace has no sidecar.
    let raw = w.tiny("rollproof-work/raw.db", 3);
    refused(&target(&w, &raw), "no provenance sidecar");
    // A path with '..' is refused even when it resolves to the clone.
    refused(
        &target(&w, Path::new("rollproof-work/clones/../clones/c.db")),
        "'..'",
    );
    // A missing file is bad input (2), not a refusal; the workspace root
    // itself (a folder) too.
    let o = target(&w, &w.path("rollproof-work/clones/none.db"));
    assert_code(&o, 2);
    assert!(
        stderr(&o).contains("none.db: no such file"),
        "{}",
        stderr(&o)
    );
    let o = target(&w, &w.path("rollproof-work"));
    assert_code(&o, 2);
    assert!(stderr(&o).contains("is a directory"), "{}", stderr(&o));
}

#[cfg(unix)]
#[test]
fn symlinks_and_hard_links_are_refused() {
    use std::os::unix::fs::symlink;
    let w = Work::new();
    let c = clone(&w);
    symlink(&c, w.path("link.db")).unwrap();
    refused(&target(&w, &w.path("link.db")), "symlink");
    symlink(w.path("rollproof-work/clones"), w.path("linkdir")).unwrap();
    refused(&target(&w, &w.path("linkdir/c.db")), "symlink");
    symlink(w.path("rollproof-work"), w.path("wslink")).unwrap();
    refused(&target(&w, &w.path("wslink/clones/c.db")), "symlink");
    symlink(&c, w.path("rollproof-work/alias.db")).unwrap();
    refused(&target(&w, &w.path("rollproof-work/alias.db")), "symlink");
    // A hard link from outside would receive every write too.
    std::fs::hard_link(&c, w.path("hard.db")).unwrap();
    refused(&target(&w, &c), "hard links");
    std::fs::remove_file(w.path("hard.db")).unwrap();
    // The clone itself is still fine.
    assert_success(&target(&w, &c));
}

#[test]
fn renamed_copied_and_edited_provenance_is_refused() {
    let w = Work::new();
    let c = clone(&w);
    let dir = w.path("rollproof-work/clones");
    // A copy under another name, with the sidecar copied beside it.
    std::fs::copy(&c, dir.join("copy.db")).unwrap();
    std::fs::copy(sidecar(&c), sidecar(&dir.join("copy.db"))).unwrap();
    refused(&target(&w, &dir.join("copy.db")), "copied provenance");
    // A rename of file and sidecar together.
    std::fs::copy(&c, w.path("keep.db")).unwrap();
    std::fs::copy(sidecar(&c), w.path("keep.json")).unwrap();
    std::fs::rename(&c, dir.join("moved.db")).unwrap();
    std::fs::rename(sidecar(&c), sidecar(&dir.join("moved.db"))).unwrap();
    refused(&target(&w, &dir.join("moved.db")), "belongs to");
    std::fs::copy(w.path("keep.db"), &c).unwrap();
    std::fs::copy(w.path("keep.json"), sidecar(&c)).unwrap();
    assert_success(&target(&w, &c));
    // An edited sidecar: claim the digest of changed bytes.
    let text = std::fs::read_to_string(sidecar(&c)).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["sha256"] = serde_json::Value::String("0".repeat(64));
    std::fs::write(sidecar(&c), v.to_string()).unwrap();
    refused(&target(&w, &c), "MAC");
    std::fs::write(sidecar(&c), &text).unwrap();
    // Bytes written by something else than rollproof.
    let conn = Connection::open(&c).unwrap();
    conn.execute("UPDATE objects SET kind = 'changed' WHERE rowid = 1", [])
        .unwrap();
    drop(conn);
    refused(&target(&w, &c), "bytes changed");
    // An edited record inside.
    std::fs::copy(w.path("keep.db"), &c).unwrap();
    let conn = Connection::open(&c).unwrap();
    conn.execute("UPDATE rollproof_provenance SET source_sha256 = 'x'", [])
        .unwrap();
    drop(conn);
    refused(&target(&w, &c), "edited");
}

#[test]
fn a_foreign_database_wearing_copied_provenance_is_refused() {
    let w = Work::new();
    let c = clone(&w);
    // A database that is not ours, given the clone's record and sidecar.
    let foreign = w.path("rollproof-work/clones/foreign.db");
    let conn = Connection::open(&foreign).unwrap();
    conn.execute_batch(
        "CREATE TABLE production(secret TEXT); INSERT INTO production VALUES ('x');",
    )
    .unwrap();
    conn.execute(&format!("ATTACH '{}' AS c", c.display()), [])
        .unwrap();
    conn.execute_batch(
        "CREATE TABLE rollproof_provenance AS SELECT * FROM c.rollproof_provenance; DETACH c;",
    )
    .unwrap();
    drop(conn);
    std::fs::copy(sidecar(&c), sidecar(&foreign)).unwrap();
    refused(&target(&w, &foreign), "belongs to");
    // Swapped into the clone's own place: path and MAC fit, bytes do not.
    std::fs::rename(&foreign, &c).unwrap();
    refused(&target(&w, &c), "bytes changed");
}

#[test]
fn adopt_makes_a_bound_working_copy_only_of_our_databases() {
    let w = Work::new();
    let s = w.tiny("s.db", 4);
    let before = sha256_file(&s);
    let dest = w.path("rollproof-work/runs/a.db");
    let o = w.run(&[
        "guard",
        "adopt",
        "s.db",
        "rollproof-work/runs/a.db",
        "--json",
    ]);
    assert_success(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["leg"], "surrogate");
    assert_eq!(sha256_file(&dest), before);
    assert_eq!(sha256_file(&s), before, "adopt changed its source");
    assert_success(&target(&w, &dest));
    // Outside the workspace: refused, nothing created.
    let o = w.run(&["guard", "adopt", "s.db", "elsewhere/a.db"]);
    refused(&o, "outside");
    assert!(!w.path("elsewhere").exists());
    let o = w.run(&["guard", "adopt", "s.db", "rollproof-work/runs/../b.db"]);
    refused(&o, "'..'");
    // A database without provenance.
    let plain = w.path("plain.db");
    Connection::open(&plain)
        .unwrap()
        .execute_batch("CREATE TABLE t(a); INSERT INTO t VALUES (1);")
        .unwrap();
    refused(
        &w.run(&["guard", "adopt", "plain.db", "rollproof-work/runs/p.db"]),
        "no provenance record",
    );
    assert!(!w.path("rollproof-work/runs/p.db").exists());
    // An edited surrogate record.
    std::fs::copy(&s, w.path("edited.db")).unwrap();
    Connection::open(w.path("edited.db"))
        .unwrap()
        .execute("UPDATE rollproof_provenance SET seed = '5'", [])
        .unwrap();
    refused(
        &w.run(&["guard", "adopt", "edited.db", "rollproof-work/runs/e.db"]),
        "edited",
    );
    // A clone carried out of its workspace loses its sidecar: refused.
    let c = clone(&w);
    std::fs::copy(&c, w.path("stolen.db")).unwrap();
    refused(
        &w.run(&["guard", "adopt", "stolen.db", "rollproof-work/runs/s.db"]),
        "without its sidecar",
    );
    // The clone itself adopts fine and keeps its leg.
    let o = w.run(&[
        "guard",
        "adopt",
        c.to_str().unwrap(),
        "rollproof-work/runs/c.db",
        "--json",
    ]);
    assert_success(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["leg"], "operator real-dump clone");
}

#[test]
fn only_local_throwaway_database_urls_are_allowed() {
    let w = Work::new();
    assert_success(&w.run(&[
        "guard",
        "url",
        "postgres://rp@localhost:5432/rollproof_rehearsal",
    ]));
    assert_success(&w.run(&[
        "guard",
        "url",
        "postgresql:///rollproof_x?host=/run/postgresql",
    ]));
    for u in [
        "postgres://admin:hunter2@db.prod.example.com/directus",
        "postgres://localhost/directus",
        "postgres://10.0.0.7/rollproof_x",
        "postgres://localhost/rollproof_x?service=prod",
        "mysql://localhost/rollproof_x",
        // Passwords in the user info and in the query string, in URLs the
        // guard refuses for different reasons.
        "postgres://admin:hunter2@localhost/rollproof_x?password=hunter3&service=prod",
        "postgres://admin@localhost/rollproof_x?password=hunter3&options=-c%20role%3Dx",
        "postgres://admin@10.0.0.7/rollproof_x?password=hunter3",
        // A URL the client cannot parse is bad input (2), not a refusal.
        "postgres://admin:hunter2@localhost:notaport/rollproof_x?password=hunter3",
    ] {
        let code = if u.contains("notaport") { 2 } else { 3 };
        for json in [false, true] {
            let mut args = vec!["guard", "url", u];
            if json {
                args.push("--json");
            }
            let o = w.run(&args);
            assert_code(&o, code);
            let all = format!("{}{}", stdout(&o), stderr(&o));
            assert!(!all.contains("hunter"), "password echoed: {all}");
        }
    }
}

/// Issue #13: the guard and the PostgreSQL client parsed URLs differently;
/// the client's parser takes everything up to the last '@' as user info, so
/// this URL reaches 10.0.0.5. There is one parser now, and it is refused.
#[test]
fn guard_url_decides_on_the_host_the_client_would_connect_to() {
    let w = Work::new();
    let u = "postgres://localhost/rollproof_d1?application_name=a@10.0.0.5:5432/rollproof_d1";
    let o = w.run(&["guard", "url", u, "--json"]);
    assert_code(&o, 3);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["allowed"], false);
    let reason = v["reason"].as_str().unwrap();
    assert!(reason.contains("'10.0.0.5'"), "{reason}");
    // Parameters the client would read differently or that redirect it.
    for u in [
        "postgres://localhost/rollproof_x?passfile=/tmp/p",
        "postgres://localhost/rollproof_x?host=/tmp&host=db.prod",
        "postgres://localhost:5432,5433/rollproof_x",
    ] {
        assert_code(&w.run(&["guard", "url", u]), 3);
    }
}

/// A foreign database (with what looks like a secret) given a genuine
/// surrogate's record and rollproof's application_id.
fn forged_surrogate(w: &Work, name: &str) -> PathBuf {
    let genuine = w.tiny("genuine.db", 7);
    let foreign = w.path(name);
    let conn = Connection::open(&foreign).unwrap();
    conn.execute_batch(
        "CREATE TABLE customers(id INTEGER PRIMARY KEY, email TEXT, password TEXT);
         INSERT INTO customers VALUES (1, 'ceo@corp.example', 'Sup3rS3cret!hunter2');",
    )
    .unwrap();
    conn.execute(&format!("ATTACH '{}' AS g", genuine.display()), [])
        .unwrap();
    conn.execute_batch(
        "CREATE TABLE rollproof_provenance AS SELECT * FROM g.rollproof_provenance; DETACH g;",
    )
    .unwrap();
    let app: i64 = Connection::open(&genuine)
        .unwrap()
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    conn.execute_batch(&format!("PRAGMA application_id = {app};"))
        .unwrap();
    drop(conn);
    foreign
}

/// Issue #13: a copied `rollproof_provenance` row plus the application_id
/// made any database adoptable as a surrogate, skipping intake's secret
/// scan. A surrogate without a sidecar now proves itself by regenerating
/// from its record; the foreign one does not.
#[test]
fn a_copied_surrogate_record_does_not_make_a_foreign_database_adoptable() {
    let w = Work::new();
    let foreign = forged_surrogate(&w, "foreign.db");
    let o = w.run(&["guard", "adopt", "foreign.db", "rollproof-work/runs/f.db"]);
    refused(&o, "regenerat");
    assert!(!w.path("rollproof-work/runs/f.db").exists());
    // Through a scenario: refused before anything is read into a report.
    std::fs::write(
        w.path("s.toml"),
        "[scenario]\nname = \"s\"\nexpect = \"PASS\"\n[surrogate]\nfile = \"foreign.db\"\n\
         [apply]\nkind = \"births\"\ncount = 1\n[snapshot]\nmethod = \"copy\"\n\
         [rollback]\nmethod = \"restore\"\n",
    )
    .unwrap();
    let o = w.run(&["rehearse", "s.toml"]);
    assert_code(&o, 3);
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(!all.contains("hunter2"), "{all}");
    assert!(all.contains("intake"), "{all}");
    // generate --force does not replace it either, and it is unchanged.
    let before = sha256_file(&foreign);
    let profile = repo_file("surrogates/profiles/tiny.toml");
    let o = w.run(&[
        "generate",
        "--profile",
        profile.to_str().unwrap(),
        "--seed",
        "7",
        "--out",
        "foreign.db",
        "--force",
    ]);
    assert_code(&o, 3);
    assert_eq!(sha256_file(&foreign), before);
    // A genuine surrogate without a sidecar still adopts (it regenerates),
    // and --force still replaces a genuine surrogate of another seed.
    assert_success(&w.run(&["guard", "adopt", "genuine.db", "rollproof-work/runs/g.db"]));
    let o = w.run(&[
        "generate",
        "--profile",
        profile.to_str().unwrap(),
        "--seed",
        "8",
        "--out",
        "genuine.db",
        "--force",
    ]);
    assert_success(&o);
    // An edited genuine surrogate (one row changed) no longer proves itself.
    let edited = w.tiny("edited.db", 3);
    Connection::open(&edited)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99;")
        .unwrap();
    refused(
        &w.run(&["guard", "adopt", "edited.db", "rollproof-work/runs/e.db"]),
        "other bytes",
    );
}

/// A clone's record is MAC'd by the workspace that took it in: a clone
/// record written by hand (with a sidecar the same workspace sealed for
/// another file) is refused.
#[test]
fn a_clone_record_written_by_hand_is_refused() {
    let w = Work::new();
    let c = clone(&w);
    let conn = Connection::open(&c).unwrap();
    conn.execute("UPDATE rollproof_provenance SET mac = NULL", [])
        .unwrap();
    drop(conn);
    refused(&target(&w, &c), "MAC");
}
