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
        // Data first on PostgreSQL too (default --rows 100), and the
        // report says so.
        let rep: serde_json::Value =
            serde_json::from_slice(&std::fs::read(w.path(v["report"].as_str().unwrap())).unwrap())
                .unwrap();
        assert!(
            rep["data"].as_str().unwrap().starts_with("generated: "),
            "{}",
            rep["data"]
        );
        assert_eq!(rep["steps"][1]["data"]["rows"]["t"], 100, "{name}");
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

/// Data first on PostgreSQL (issue #16): before each step the empty tables
/// hold generated rows, so a down that loses data is reported as a loss
/// with its rows counted, and a key to a table that already holds rows
/// points at those rows.
#[test]
fn data_first_on_postgres_counts_the_rows_a_down_loses() {
    let w = Work::new();
    let dir = w.path("mig-pg-data");
    std::fs::create_dir_all(&dir).unwrap();
    for (f, text) in [
        (
            "1-orders.up.sql",
            "CREATE TABLE orders (id serial PRIMARY KEY, total int NOT NULL CHECK (total >= 0), note text NOT NULL DEFAULT '');",
        ),
        ("1-orders.down.sql", "DROP TABLE orders;"),
        // Drops the column, and the down adds it back empty: a loss.
        ("2-drop-note.up.sql", "ALTER TABLE orders DROP COLUMN note;"),
        (
            "2-drop-note.down.sql",
            "ALTER TABLE orders ADD COLUMN note text NOT NULL DEFAULT '';",
        ),
        (
            "3-lines.up.sql",
            "CREATE TABLE lines (id serial PRIMARY KEY, order_id int NOT NULL REFERENCES orders (id), sku text NOT NULL);",
        ),
        ("3-lines.down.sql", "DROP TABLE lines;"),
        ("4-index.up.sql", "CREATE INDEX lines_sku ON lines (sku);"),
        ("4-index.down.sql", "DROP INDEX lines_sku;"),
    ] {
        std::fs::write(dir.join(f), text).unwrap();
    }
    let url = pg().url("rollproof_mig_data");
    let mut args = vec!["migrations", dir.to_str().unwrap(), "--json"];
    args.extend([
        "--rows",
        "40",
        "--target-url",
        &url,
        "--reports",
        "r",
        "--keep",
    ]);
    let o = w.run(&args);
    assert!(
        stderr(&o)
            .contains("rollproof: data first: generated: every empty table filled with 40 rows"),
        "{}",
        stderr(&o)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(1), "{v}");
    let s = v["steps"].as_array().unwrap();
    let status: Vec<&str> = s.iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert_eq!(status, ["pass", "fail", "pass", "pass"], "{v}");
    assert_eq!(
        s[1]["findings"],
        serde_json::json!([
            "down loses data in 40 rows of `orders` (column `note` dropped by up, not restored)"
        ]),
        "{v}"
    );
    let rep: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.path(v["report"].as_str().unwrap())).unwrap())
            .unwrap();
    assert!(
        rep["data"].as_str().unwrap().starts_with("generated: "),
        "{}",
        rep["data"]
    );
    // orders is filled once, before step 2; lines before step 4.
    let filled = |i: usize, t: &str| rep["steps"][i]["data"]["rows"][t].clone();
    assert_eq!(filled(1, "orders"), 40);
    assert_eq!(filled(3, "lines"), 40);
    assert!(rep["steps"][2]["data"].is_null(), "{}", rep["steps"][2]);
    let before = |i: usize| rep["steps"][i]["before"]["rows"].as_u64().unwrap();
    assert!(before(3) >= before(2) + 40, "{}", rep["steps"][3]);
    // The fill ran with key checks off: the keys of lines must point at
    // existing orders, and the sequence of orders continue after them.
    let kept = our_databases("rollproof_mig_data");
    let work = kept
        .iter()
        .find(|d| !d.ends_with('s'))
        .expect("kept database");
    let mut c = connect(work);
    let q = |c: &mut postgres::Client, sql: &str| -> i64 { c.query_one(sql, &[]).unwrap().get(0) };
    let dangling = q(
        &mut c,
        "SELECT count(*) FROM lines l LEFT JOIN orders o ON o.id = l.order_id WHERE o.id IS NULL",
    );
    assert_eq!(dangling, 0, "every key points at an order");
    assert_eq!(q(&mut c, "SELECT count(DISTINCT order_id) FROM lines"), 40);
    let next = q(&mut c, "SELECT nextval('orders_id_seq')");
    assert!(
        next > q(&mut c, "SELECT max(id)::bigint FROM orders"),
        "sequence past the keys"
    );
    drop(c);
    let mut admin = connect("postgres");
    for d in &kept {
        admin
            .batch_execute(&format!("DROP DATABASE \"{d}\""))
            .unwrap();
    }
}
