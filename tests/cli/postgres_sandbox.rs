//! Change scripts on PostgreSQL run as a role made for the rehearsal, on
//! their own connection: `COPY … TO/FROM PROGRAM`, `COPY` to or from a
//! server file, `pg_read_file`, `CREATE DATABASE`, `DROP DATABASE` of a
//! database rollproof did not create, `CREATE ROLE … SUPERUSER`, and
//! `RESET ROLE` / `SET ROLE` to the admin are refused by the server, the
//! statement named (number and text) in a FAIL report, and every other
//! database and every role are as they were; the role itself is gone after
//! the run (#12 §3). The kill fault terminates a script's session part-way.

use crate::postgres::exists;
use crate::scripts::{rehearse_one, verify_report};
use crate::util::*;
use serde_json::Value;
use std::path::PathBuf;

/// A PostgreSQL sql scenario on the tiny profile: template snapshot,
/// restore (or compensate with `down`).
fn pg_scenario(w: &Work, name: &str, up: &str, down: Option<&str>, extra: &str) -> PathBuf {
    std::fs::write(w.path(&format!("{name}.up.sql")), up).unwrap();
    let rollback = match down {
        Some(d) => {
            std::fs::write(w.path(&format!("{name}.down.sql")), d).unwrap();
            format!("[rollback]\nmethod = \"compensate\"\ndown = \"{name}.down.sql\"\n")
        }
        None => "[rollback]\nmethod = \"restore\"\n".to_string(),
    };
    let p = w.path(&format!("{name}.toml"));
    std::fs::write(
        &p,
        format!(
            "[scenario]\nname = \"{name}\"\nexpect = \"PASS\"\n[surrogate]\nprofile = \"{}\"\nseed = 3\nurl = \"{}\"\n\
             [apply]\nkind = \"sql\"\nup = \"{name}.up.sql\"\n[snapshot]\nmethod = \"template\"\n{rollback}{extra}",
            repo_file("surrogates/profiles/tiny.toml").display(),
            pg().url(&format!("rollproof_{}", name.replace('-', "_")))
        ),
    )
    .unwrap();
    p
}

/// What must not change: the databases and roles rollproof did not make
/// (other tests make their own `rollproof_` ones meanwhile), the roles'
/// superuser flags, and the content of a bystander database.
fn server_state() -> Value {
    let mut c = connect("postgres");
    let dbs: Vec<String> = c
        .query(
            "SELECT datname FROM pg_database WHERE NOT starts_with(datname, 'rollproof_') ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let roles: Vec<(String, bool)> = c
        .query(
            "SELECT rolname, rolsuper FROM pg_roles WHERE NOT starts_with(rolname, 'rollproof_r_') ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let digest: String = connect("bystander")
        .query_one(
            "SELECT md5(string_agg(id || ':' || note, ',' ORDER BY id)) FROM notes",
            &[],
        )
        .unwrap()
        .get(0);
    serde_json::json!({ "databases": dbs, "roles": roles, "bystander": digest })
}

/// A database that rollproof did not create, with some content.
fn bystander() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if !exists("bystander") {
            connect("postgres")
                .batch_execute("CREATE DATABASE bystander")
                .unwrap();
            connect("bystander")
                .batch_execute(
                    "CREATE TABLE notes (id int PRIMARY KEY, note text); INSERT INTO notes VALUES (1, 'keep'), (2, 'me');",
                )
                .unwrap();
        }
    });
}

/// The sandbox role a report names, and whether it still exists.
fn role_left(r: &Value) -> (String, bool) {
    let line = r["scripts"]["sandbox"].as_str().unwrap();
    let role = line
        .split_whitespace()
        .find(|w| w.starts_with("rollproof_r_"))
        .unwrap_or_else(|| panic!("no role in {line}"))
        .to_string();
    let left = connect("postgres")
        .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&role])
        .unwrap()
        .is_some();
    (role, left)
}

fn refused(w: &Work, name: &str, up: &str, needle: &str) -> Value {
    let sc = pg_scenario(w, name, up, None, "[scripts]\ntransaction = \"none\"\n");
    let (o, r) = rehearse_one(w, &sc);
    assert_code(&o, 1);
    let r = r.expect("a refused script still gets a report");
    assert_eq!(r["verdict"], "FAIL");
    let f = &r["apply"]["script"]["failure"];
    assert!(
        f["message"].as_str().unwrap().contains(needle),
        "{name}: {f}"
    );
    // The statement is named: its number and its text.
    let sql = f["sql"].as_str().unwrap();
    let collapsed = up.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(!sql.is_empty() && collapsed.contains(sql), "{name}: {f}");
    let c = check(&r, "script_completed:apply");
    assert_eq!(c["outcome"], "fail", "{name}");
    assert_eq!(check(&r, "restored_logically")["outcome"], "pass", "{name}");
    assert_success(&verify_report(w, &o));
    let (role, left) = role_left(&r);
    assert!(!left, "{name}: the sandbox role {role} was not dropped");
    r
}

#[test]
fn server_escapes_are_refused_and_nothing_outside_the_rehearsal_changes() {
    bystander();
    let w = Work::new();
    let before = server_state();
    let marker = w.path("program-ran");
    let r = refused(
        &w,
        "pg-copy-program",
        &format!(
            "CREATE TABLE staging (a int);\nCOPY (SELECT 1) TO PROGRAM 'touch {}';\n",
            marker.display()
        ),
        "pg_execute_server_program",
    );
    assert_eq!(r["apply"]["script"]["failure"]["statement"], 2);
    assert!(!marker.exists(), "COPY TO PROGRAM ran a shell command");
    refused(
        &w,
        "pg-drop-db",
        "DROP DATABASE bystander;\n",
        "must be owner",
    );
    refused(
        &w,
        "pg-superuser",
        "CREATE ROLE evil SUPERUSER LOGIN;\n",
        "superuser",
    );
    let admin = pg().url("postgres");
    let admin_user = admin
        .split("://")
        .nth(1)
        .unwrap()
        .split('@')
        .next()
        .unwrap();
    refused(
        &w,
        "pg-set-role",
        &format!("RESET ROLE;\nSET ROLE {admin_user};\n"),
        "permission denied to set role",
    );
    refused(
        &w,
        "pg-server-file",
        "SELECT pg_read_file('/etc/passwd');\n",
        "permission denied",
    );
    let r = refused(
        &w,
        "pg-copy-from-program",
        &format!(
            "CREATE TABLE staging (a text);\nCOPY staging FROM PROGRAM 'touch {}; echo 1';\n",
            marker.display()
        ),
        "pg_execute_server_program",
    );
    assert_eq!(r["apply"]["script"]["failure"]["statement"], 2);
    assert!(!marker.exists(), "COPY FROM PROGRAM ran a shell command");
    let written = w.path("copied-out");
    refused(
        &w,
        "pg-copy-to-file",
        &format!("COPY (SELECT 'x') TO '{}';\n", written.display()),
        "pg_write_server_files",
    );
    assert!(!written.exists(), "COPY TO a server file wrote it");
    refused(
        &w,
        "pg-copy-from-file",
        "CREATE TABLE staging (line text);\nCOPY staging FROM '/etc/passwd';\n",
        "pg_read_server_files",
    );
    refused(
        &w,
        "pg-create-db",
        "CREATE DATABASE evil_copy;\n",
        "permission denied to create database",
    );
    let r = refused(
        &w,
        "pg-reset-role",
        "RESET ROLE;\nCREATE ROLE evil_after_reset SUPERUSER;\n",
        "superuser",
    );
    // RESET ROLE runs (there is nothing to reset to), and changes nothing.
    assert_eq!(r["apply"]["script"]["failure"]["statement"], 2);
    assert_nothing_escaped(&before, &["evil_copy"], &["evil", "evil_after_reset"]);
}

/// Against the server state `before` the escapes: no database or role they
/// tried to create exists, every database and role there before still is
/// (none gained SUPERUSER), and the bystander's rows are the same. Other
/// tests create and drop their own databases and roles on this shared
/// server meanwhile (some of them superusers, made by the admin), so the
/// lists are not compared whole: that compared them too, and failed when a
/// schemas:: test created its database at the same moment.
fn assert_nothing_escaped(before: &Value, dbs: &[&str], roles: &[&str]) {
    let now = server_state();
    let has = |v: &Value, key: &str, name: &str| {
        v[key].as_array().unwrap().iter().any(|x| match x {
            Value::Array(pair) => pair[0] == name,
            x => x == name,
        })
    };
    for db in dbs {
        assert!(!has(&now, "databases", db), "database {db} was created");
    }
    for role in roles {
        assert!(!has(&now, "roles", role), "role {role} was created");
    }
    for db in before["databases"].as_array().unwrap() {
        let db = db.as_str().unwrap();
        assert!(has(&now, "databases", db), "database {db} is gone");
    }
    for pair in before["roles"].as_array().unwrap() {
        let (name, was_super) = (pair[0].as_str().unwrap(), &pair[1]);
        let now_super = now["roles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p[0] == name)
            .map(|p| &p[1]);
        if let Some(s) = now_super {
            assert!(s == was_super || s == false, "role {name} became SUPERUSER");
        }
    }
    assert_eq!(
        now["bystander"], before["bystander"],
        "the bystander's rows changed"
    );
}

#[test]
fn scripts_run_as_the_unprivileged_role_that_owns_the_target_and_is_dropped_after() {
    let w = Work::new();
    // The script checks who it runs as: fails unless it is a non-superuser
    // rollproof_r_ role that owns the tables it changes.
    let up = "DO $$ BEGIN\n\
                IF NOT starts_with(current_user, 'rollproof_r_')\n\
                   OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)\n\
                   OR (SELECT tableowner FROM pg_tables WHERE tablename = 'objects') <> current_user\n\
                THEN RAISE EXCEPTION 'not sandboxed: %', current_user; END IF;\n\
              END $$;\n\
              ALTER TABLE objects ADD COLUMN audited boolean;\n\
              CREATE INDEX objects_by_status ON objects (status);\n";
    let down = "DROP INDEX objects_by_status;\nALTER TABLE objects DROP COLUMN audited;\n";
    for (name, down) in [
        ("pg-owner-restore", None),
        ("pg-owner-compensate", Some(down)),
    ] {
        let sc = pg_scenario(&w, name, up, down, "");
        let (o, r) = rehearse_one(&w, &sc);
        assert_success(&o);
        let r = r.unwrap();
        assert_eq!(r["verdict"], "PASS", "{name}: {}", r["checks"]);
        assert!(
            r["scripts"]["sandbox"]
                .as_str()
                .unwrap()
                .contains("rollproof_r_"),
            "{}",
            r["scripts"]
        );
        assert_eq!(r["apply"]["script"]["completed"], 3);
        let (role, left) = role_left(&r);
        assert!(!left, "{name}: the sandbox role {role} was not dropped");
    }
    // The transaction rollback runs the script on the role's connection too.
    let sc = pg_scenario(&w, "pg-owner-tx", up, None, "");
    let text = std::fs::read_to_string(&sc)
        .unwrap()
        .replace("method = \"restore\"", "method = \"transaction\"");
    std::fs::write(&sc, text).unwrap();
    let (o, r) = rehearse_one(&w, &sc);
    assert_success(&o);
    let r = r.unwrap();
    assert_eq!(r["verdict"], "PASS");
    assert!(!role_left(&r).1);
}

#[test]
fn postgres_scripts_are_split_like_psql_and_checked_up_front() {
    let w = Work::new();
    // Dollar quotes, a semicolon in a string, a function body: three
    // statements; the third fails and is named with its line.
    let up = "CREATE FUNCTION note_len(t text) RETURNS int LANGUAGE plpgsql AS $f$\nBEGIN\n  RETURN length(t); -- ; inside\nEND $f$;\n\
              UPDATE objects SET status = 'a;b' WHERE false;\n\
              SELECT note_len(1, 2);\n";
    let sc = pg_scenario(&w, "pg-split", up, None, "");
    let (o, r) = rehearse_one(&w, &sc);
    assert_code(&o, 1);
    let f = r.unwrap()["apply"]["script"]["failure"].clone();
    assert_eq!(
        (f["statement"].as_u64(), f["line"].as_u64()),
        (Some(3), Some(6)),
        "{f}"
    );
    assert_eq!(f["undone"], true);
    // Bad input before anything is made.
    let sc = pg_scenario(
        &w,
        "pg-fk-off",
        "SELECT 1;\n",
        None,
        "[scripts]\nforeign_keys = \"off\"\n",
    );
    let o = w.run(&["rehearse", sc.to_str().unwrap()]);
    assert_code(&o, 2);
    assert!(
        stderr(&o).contains("always enforces foreign keys"),
        "{}",
        stderr(&o)
    );
    let sc = pg_scenario(&w, "pg-own-tx", "BEGIN;\nSELECT 1;\nCOMMIT;\n", None, "");
    let o = w.run(&["rehearse", sc.to_str().unwrap()]);
    assert_code(&o, 2);
    assert!(
        stderr(&o).contains("statement 1 of 3 (line 1)"),
        "{}",
        stderr(&o)
    );
    let made: i64 = connect("postgres")
        .query_one(
            "SELECT count(*) FROM pg_database WHERE starts_with(datname, 'rollproof_pg_own_tx')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(made, 0, "nothing was made for a script refused up front");
}

#[test]
fn the_kill_fault_terminates_a_postgres_script_session_part_way() {
    let w = Work::new();
    let up = "CREATE TABLE audit (id int PRIMARY KEY, body text NOT NULL);\n\
              INSERT INTO audit SELECT i, repeat('x', 50) FROM generate_series(1, 500) i;\n\
              CREATE INDEX audit_body ON audit (body);\n";
    // Each statement commits by itself: the session dies after statement 2,
    // leaving the table and its rows; the restore takes them away.
    let sc = pg_scenario(
        &w,
        "pg-kill-none",
        up,
        None,
        "[scripts]\ntransaction = \"none\"\n[fault]\nkind = \"kill\"\nafter = 2\n",
    );
    let (o, r) = rehearse_one(&w, &sc);
    assert_success(&o);
    let r = r.unwrap();
    assert_eq!(r["verdict"], "PASS", "{}", r["checks"]);
    assert_eq!(check(&r, "fault_injected")["outcome"], "pass");
    assert!(
        r["faults"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("pg_terminate_backend"),
        "{}",
        r["faults"]
    );
    let c = check(&r, "apply_interrupted_part_way");
    assert_eq!(c["outcome"], "pass", "{c}");
    assert_eq!(
        (
            r["apply"]["script"]["completed"].as_u64(),
            r["apply"]["script"]["statements"].as_u64()
        ),
        (Some(2), Some(3))
    );
    let audit = &r["phases"]["after_apply"]["logical"]["tables"]["audit"];
    assert_eq!(audit["rows"], 500, "{audit}");
    assert_success(&verify_report(&w, &o));
    assert!(!role_left(&r).1);
    // In the script's own transaction the server takes it back whole:
    // nothing is left to roll back, so the proof cannot pass.
    let sc = pg_scenario(
        &w,
        "pg-kill-per-script",
        up,
        None,
        "[fault]\nkind = \"kill\"\nafter = 2\n",
    );
    let (o, r) = rehearse_one(&w, &sc);
    assert_code(&o, 1);
    let r = r.unwrap();
    assert_eq!(check(&r, "fault_injected")["outcome"], "pass");
    let c = check(&r, "apply_interrupted_part_way");
    assert_eq!(c["outcome"], "fail");
    assert!(
        c["detail"].as_str().unwrap().contains("left unchanged"),
        "{c}"
    );
    assert_eq!(check(&r, "restored_logically")["outcome"], "pass");
    assert!(!role_left(&r).1);
}
