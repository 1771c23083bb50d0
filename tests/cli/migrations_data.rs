//! `rollproof migrations`, data first: every empty table is filled with
//! generated rows before each step, so a down that loses data fails where
//! the same folder on empty tables passes; keys into tables filled at an
//! earlier step point at rows that exist; same seed, same rows.

use crate::migrations::migrations_json;
use crate::util::*;
use serde_json::Value;
use std::path::PathBuf;

/// A plain-layout folder whose migrations insert no row: customers, then
/// orders keyed to them, then a column dropped and re-added by a down that
/// cannot bring its values back.
fn folder(w: &Work) -> PathBuf {
    let dir = w.path("mig");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in [
        (
            "1-customers.up.sql",
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, \
             note TEXT NOT NULL DEFAULT '');",
        ),
        ("1-customers.down.sql", "DROP TABLE customers;"),
        (
            "2-orders.up.sql",
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, \
             customer_id INTEGER NOT NULL REFERENCES customers (id), \
             total_cents INTEGER NOT NULL CHECK (total_cents >= 0));",
        ),
        ("2-orders.down.sql", "DROP TABLE orders;"),
        (
            "3-index.up.sql",
            "CREATE INDEX ix_orders_customer ON orders (customer_id);",
        ),
        ("3-index.down.sql", "DROP INDEX ix_orders_customer;"),
        (
            "4-drop-note.up.sql",
            "ALTER TABLE customers DROP COLUMN note;",
        ),
        (
            "4-drop-note.down.sql",
            "ALTER TABLE customers ADD COLUMN note TEXT NOT NULL DEFAULT '';",
        ),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

/// Write a plain-layout folder: (name, up, down) per migration; a down of
/// None is left out (irreversible).
fn plain(w: &Work, name: &str, steps: &[(&str, &str, Option<&str>)]) -> PathBuf {
    let dir = w.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (m, up, down) in steps {
        std::fs::write(dir.join(format!("{m}.up.sql")), up).unwrap();
        if let Some(d) = down {
            std::fs::write(dir.join(format!("{m}.down.sql")), d).unwrap();
        }
    }
    dir
}

fn report(w: &Work, v: &Value) -> Value {
    let path = w.path(v["report"].as_str().expect("report path"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn statuses(v: &Value) -> Vec<String> {
    v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn generated_rows_catch_a_lossy_down_that_passes_on_empty_tables() {
    let w = Work::new();
    let dir = folder(&w);
    // Without data the lossy down looks perfect: the empty column comes back.
    let (code, v) = migrations_json(&w, &dir, &["--rows", "0"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(statuses(&v), ["pass", "pass", "pass", "pass"], "{v}");
    assert!(report(&w, &v)["data"].as_str().unwrap().starts_with("none"));

    let (code, v) = migrations_json(&w, &dir, &["--rows", "60", "--keep"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(statuses(&v), ["pass", "pass", "pass", "fail"], "{v}");
    let f = v["steps"][3]["findings"].to_string();
    assert!(
        f.contains("`customers`") && f.contains("column `note` dropped by up, not restored"),
        "{f}"
    );
    // Each table is filled once, at the first step where it exists empty.
    let r = report(&w, &v);
    let steps = r["steps"].as_array().unwrap();
    assert!(
        steps[0].get("data").is_none_or(Value::is_null),
        "{}",
        steps[0]
    );
    assert_eq!(steps[1]["data"]["rows"]["customers"], 60, "{}", steps[1]);
    assert_eq!(steps[2]["data"]["rows"]["orders"], 60, "{}", steps[2]);
    assert!(
        steps[3].get("data").is_none_or(Value::is_null),
        "{}",
        steps[3]
    );
    assert!(
        r["data"].as_str().unwrap().starts_with("generated"),
        "{}",
        r["data"]
    );
    // The orders generated at step 3 point at customers generated at step 2.
    let kept = kept_run(&w);
    let c = rusqlite::Connection::open(kept.join("work.db")).unwrap();
    let dangling: i64 = c
        .query_row(
            "SELECT count(*) FROM orders WHERE customer_id NOT IN (SELECT id FROM customers)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(dangling, 0);
    let n: i64 = c
        .query_row("SELECT count(*) FROM orders", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 60);
}

/// The run folder the last `--keep` run left (the only one).
fn kept_run(w: &Work) -> PathBuf {
    let runs = w.path("rollproof-work/migrations");
    let mut all: Vec<PathBuf> = std::fs::read_dir(&runs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(all.len(), 1, "{all:?}");
    all.pop().unwrap()
}

#[test]
fn same_seed_same_rows_and_the_bookkeeping_table_stays_the_tools() {
    let w = Work::new();
    let dir = folder(&w);
    let before = |v: &Value| -> Vec<Value> {
        report(&w, v)["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["before"]["sha256"].clone())
            .collect()
    };
    let (_, a) = migrations_json(&w, &dir, &["--rows", "30", "--seed", "5"]);
    let (_, b) = migrations_json(&w, &dir, &["--rows", "30", "--seed", "5"]);
    let (_, c) = migrations_json(&w, &dir, &["--rows", "30", "--seed", "6"]);
    assert_eq!(before(&a), before(&b));
    assert_ne!(before(&a), before(&c));
    // dbmate keeps schema_migrations: rollproof never fills it.
    let db = w.path("dbm");
    std::fs::create_dir_all(&db).unwrap();
    std::fs::write(
        db.join("20240101000000_t.sql"),
        "-- migrate:up\nCREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);\n-- migrate:down\nDROP TABLE t;\n",
    )
    .unwrap();
    std::fs::write(
        db.join("20240102000000_ix.sql"),
        "-- migrate:up\nCREATE INDEX ix_t_v ON t (v);\n-- migrate:down\nDROP INDEX ix_t_v;\n",
    )
    .unwrap();
    let (code, v) = migrations_json(&w, &db, &["--rows", "10"]);
    assert_eq!(code, 0, "{v}");
    let r = report(&w, &v);
    assert_eq!(
        r["steps"][1]["data"]["rows"],
        serde_json::json!({ "t": 10 }),
        "{}",
        r["steps"][1]
    );
    assert_eq!(r["steps"][0]["data"], Value::Null, "{}", r["steps"][0]);
}

#[test]
fn data_options_are_checked() {
    let w = Work::new();
    let dir = folder(&w);
    let (code, v) = migrations_json(&w, &dir, &["--profile", "nope.toml"]);
    assert_eq!(code, 2, "{v}");
    assert!(v["error"].as_str().unwrap().contains("nope.toml"), "{v}");
    let o = w.run(&["migrations", dir.to_str().unwrap(), "--scale", "2"]);
    assert_code(&o, 2);
    // --rows and --profile hold on PostgreSQL too (migrations_pg.rs).
}

#[test]
fn the_folder_report_verifies_and_an_edited_verdict_does_not() {
    let w = Work::new();
    let dir = folder(&w);
    let (_, v) = migrations_json(&w, &dir, &["--rows", "20"]);
    let path = v["report"].as_str().unwrap().to_string();
    let o = w.run(&["verify", &path]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("OK (FAIL migrations"), "{}", stdout(&o));
    // Turn the failing step into a pass and seal it again: the seal holds,
    // but the step's own data still says the down lost rows.
    let mut r = report(&w, &v);
    r["steps"][3]["status"] = "pass".into();
    r["seal"] = rollproof::evidence::canonical::seal_of(&r).into();
    let mut bytes =
        serde_json::to_vec_pretty(&rollproof::evidence::canonical::canonicalize(&r)).unwrap();
    bytes.push(b'\n');
    std::fs::write(w.path("edited.json"), bytes).unwrap();
    let o = w.run(&["verify", "edited.json", "--json"]);
    assert_code(&o, 1);
    let out = stdout(&o);
    assert!(
        out.contains("migrations-verdict") && out.contains("step 4 (4-drop-note)"),
        "{out}"
    );
    assert!(!out.contains("seal-broken"), "{out}");
}

#[test]
fn a_down_that_recreates_a_table_empty_fails_and_a_rename_pair_passes_on_rows() {
    let w = Work::new();
    let audit = "CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT NOT NULL, at TEXT)";
    let dir = plain(
        &w,
        "mig2",
        &[
            (
                "1-customers",
                "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);",
                Some("DROP TABLE customers;"),
            ),
            ("2-audit", &format!("{audit};"), Some("DROP TABLE audit;")),
            (
                "3-rename",
                "ALTER TABLE customers RENAME COLUMN email TO mail;",
                Some("ALTER TABLE customers RENAME COLUMN mail TO email;"),
            ),
            (
                "4-drop-audit",
                "DROP TABLE audit;",
                Some(&format!("{audit};")),
            ),
            (
                "5-lower",
                "UPDATE customers SET mail = lower(mail);",
                Some("-- cannot be undone\n"),
            ),
            (
                "6-notes",
                "CREATE VIRTUAL TABLE notes USING fts5(body);",
                Some("DROP TABLE notes;"),
            ),
            (
                "7-ix",
                "CREATE INDEX ix_customers_mail ON customers (mail);",
                Some("DROP INDEX ix_customers_mail;"),
            ),
        ],
    );
    let (code, v) = migrations_json(&w, &dir, &["--rows", "40"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(
        statuses(&v),
        [
            "pass",
            "pass",
            "pass",
            "fail",
            "irreversible",
            "pass",
            "pass"
        ],
        "{v}"
    );
    // The rename pair passed with the rows there (40 customers, 40 audit
    // rows, and rollproof's provenance row).
    let r = report(&w, &v);
    assert_eq!(r["steps"][2]["before"]["rows"], 81, "{}", r["steps"][2]);
    // The down recreates `audit` empty: its 40 rows are lost, and said so.
    let f = v["steps"][3]["findings"].to_string();
    assert!(f.contains("down loses 40 rows of `audit`"), "{f}");
    // The FTS5 table and its shadow tables are SQLite's to fill, never
    // rollproof's: no generated row lands in them.
    let filled: Vec<String> = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["data"]["rows"].as_object())
        .flat_map(|o| o.keys().cloned())
        .collect();
    assert!(!filled.iter().any(|t| t.starts_with("notes")), "{filled:?}");
}

#[test]
fn a_profile_gives_the_row_counts_of_the_tables_it_knows() {
    let w = Work::new();
    let dir = folder(&w);
    // "Production": 25 customers, no orders table yet.
    let prod = w.path("prod.db");
    let c = rusqlite::Connection::open(&prod).unwrap();
    c.execute_batch(
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, \
         note TEXT NOT NULL DEFAULT '');
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 25)
         INSERT INTO customers SELECT i, 'c' || i || '@example.test', 'note ' || i FROM n;",
    )
    .unwrap();
    drop(c);
    assert_success(&w.run(&["profile", "prod.db", "--out", "prod.toml"]));
    let (code, v) = migrations_json(
        &w,
        &dir,
        &["--profile", "prod.toml", "--scale", "2", "--rows", "7"],
    );
    assert_eq!(code, 1, "{v}");
    assert_eq!(statuses(&v), ["pass", "pass", "pass", "fail"], "{v}");
    let r = report(&w, &v);
    // customers from the profile (25 × 2), orders (unknown to it) --rows.
    assert_eq!(
        r["steps"][1]["data"]["rows"]["customers"], 50,
        "{}",
        r["steps"][1]
    );
    assert_eq!(r["steps"][1]["data"]["source"], "profile");
    assert_eq!(
        r["steps"][2]["data"]["rows"]["orders"], 7,
        "{}",
        r["steps"][2]
    );
    assert!(
        r["data"].as_str().unwrap().starts_with("profile prod.toml"),
        "{}",
        r["data"]
    );
    let f = v["steps"][3]["findings"].to_string();
    assert!(f.contains("50 rows of `customers`"), "{f}");
}
