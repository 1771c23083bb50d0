//! `rollproof migrations --target-url`: the PostgreSQL example folders give
//! their expected verdict per step on the shared throwaway cluster, every
//! database the run made is dropped at the end, and the guard refuses
//! servers and names that are not the rehearsal's own.

use crate::migrations::{check_against, example, expected, migrations_json};
use crate::util::pg;
use crate::util::*;

fn our_databases(prefix: &str) -> Vec<String> {
    let mut c = postgres::Client::connect(&pg().url("postgres"), postgres::NoTls).expect("connect");
    c.query(
        "SELECT datname::text FROM pg_database WHERE datname LIKE $1 || '%'",
        &[&prefix],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[test]
fn postgres_examples_give_their_expected_verdict_per_step() {
    for (name, db) in [
        ("pg-sqlx", "rollproof_mig_sqlx"),
        ("pg-golang-migrate", "rollproof_mig_gm"),
    ] {
        let w = Work::new();
        let url = pg().url(db);
        let e = expected(name);
        let mut args: Vec<&str> = e.args.iter().map(String::as_str).collect();
        args.extend(["--target-url", &url, "--reports", "r"]);
        let (code, v) = migrations_json(&w, &example(name), &args);
        check_against(name, code, &v);
        assert!(
            our_databases(db).is_empty(),
            "{name}: the run dropped its databases: {:?}",
            our_databases(db)
        );
    }
}

#[test]
fn the_guard_refuses_other_servers_and_names() {
    let w = Work::new();
    let dir = example("pg-golang-migrate");
    let d = dir.to_str().unwrap();
    let bad_name = pg().url("production");
    let o = w.run(&[
        "migrations",
        d,
        "--layout",
        "golang-migrate",
        "--target-url",
        &bad_name,
    ]);
    assert_code(&o, 3);
    assert!(
        stderr(&o).contains("not a rollproof database name"),
        "{}",
        stderr(&o)
    );
    let far = "postgres://u@10.255.0.1:5432/rollproof_x";
    let (code, v) = migrations_json(
        &w,
        &dir,
        &["--layout", "golang-migrate", "--target-url", far],
    );
    assert_eq!(code, 3, "{v}");
    assert!(v["error"].as_str().unwrap().contains("not loopback"), "{v}");
}

/// Roles whose name starts with `prefix` on the shared cluster.
fn roles(prefix: &str) -> Vec<String> {
    let mut c = postgres::Client::connect(&pg().url("postgres"), postgres::NoTls).expect("connect");
    c.query(
        "SELECT rolname::text FROM pg_roles WHERE starts_with(rolname, $1)",
        &[&prefix],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[test]
fn migrations_run_as_the_rehearsal_role_and_a_privileged_statement_fails_its_step() {
    let w = Work::new();
    // Step 1 proves it runs as the per-run role (not rollproof's own
    // superuser connection); step 2 tries to escape.
    let whoami = "CREATE TABLE t (id int PRIMARY KEY);\nDO $$ BEGIN\n  IF current_user NOT LIKE 'rollproof\\_r\\_%' OR session_user <> current_user THEN\n    RAISE EXCEPTION 'ran as %', current_user;\n  END IF;\nEND $$;";
    let marker = w.path("copied-to-program");
    let escapes = [
        (
            "role",
            "CREATE ROLE rollproof_mig_evil SUPERUSER LOGIN;".to_string(),
            "DROP ROLE rollproof_mig_evil;",
            "CREATE ROLE rollproof_mig_evil SUPERUSER LOGIN",
        ),
        (
            "program",
            format!("COPY (SELECT 1) TO PROGRAM 'touch {}';", marker.display()),
            "SELECT 1;",
            "COPY (SELECT 1) TO PROGRAM",
        ),
    ];
    for (name, up, down, statement) in escapes {
        let dir = w.path(&format!("mig-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        for (f, text) in [
            ("1-t.up.sql", whoami),
            ("1-t.down.sql", "DROP TABLE t;"),
            ("2-escape.up.sql", up.as_str()),
            ("2-escape.down.sql", down),
        ] {
            std::fs::write(dir.join(f), text).unwrap();
        }
        let url = pg().url("rollproof_mig_sb");
        let (code, v) = migrations_json(&w, &dir, &["--target-url", &url, "--reports", "r"]);
        assert_eq!(code, 1, "{name}: {v}");
        // No data first on PostgreSQL, and the report says so.
        let rep: serde_json::Value =
            serde_json::from_slice(&std::fs::read(w.path(v["report"].as_str().unwrap())).unwrap())
                .unwrap();
        assert!(
            rep["data"]
                .as_str()
                .unwrap()
                .starts_with("none: on PostgreSQL rollproof generates no rows yet"),
            "{}",
            rep["data"]
        );
        let s = &v["steps"];
        assert_eq!(s[0]["status"], "pass", "{name}: {v}");
        assert_eq!(s[1]["status"], "fail", "{name}: {v}");
        let finding = s[1]["findings"][0].as_str().unwrap();
        assert!(
            finding.starts_with("up errors at line 1: refused by the sandbox: `")
                && finding.contains(statement)
                && finding.contains("runs as role rollproof_r_"),
            "{name}: {finding}"
        );
        assert_eq!(s[1]["errors"]["up"]["statement_index"], 1, "{name}");
        assert!(
            roles("rollproof_mig_evil").is_empty(),
            "{name}: no role was made"
        );
        assert!(!marker.exists(), "{name}: no program ran");
        // The run's role and databases are gone.
        let role: String = finding
            .split("runs as role ")
            .nth(1)
            .unwrap()
            .chars()
            .take_while(|c| *c == '_' || c.is_ascii_alphanumeric())
            .collect();
        assert!(role.len() > "rollproof_r_".len(), "{finding}");
        assert!(roles(&role).is_empty(), "{name}: {role} was dropped");
        assert!(our_databases("rollproof_mig_sb").is_empty(), "{name}");
    }
}
