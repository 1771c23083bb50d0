//! Change scripts on any schema: schema-only migrations are rehearsable
//! (no declared row deltas needed, a no-op still never passes), and the
//! first AUTOINCREMENT table's `sqlite_sequence` does not make `verify`
//! reject rollproof's own report. Every rehearsal here runs on a clone of
//! our own small shop fixture (tests/fixtures/dumps/shop.sql), taken in by
//! `rollproof intake` as an operator's dump would be.

use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

/// Take the shop fixture in as a clone; returns its path relative to `w`.
pub fn shop_clone(w: &Work) -> String {
    let dump = repo_file("tests/fixtures/dumps/shop.sql");
    // Not the birth surface: intake keeps the clone and says so (exit 1).
    let o = w.run(&["intake", dump.to_str().unwrap(), "--out", "shop", "--json"]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let rel = "rollproof-work/clones/shop.db";
    assert!(w.path(rel).is_file(), "{}", stderr(&o));
    rel.to_string()
}

/// Write an sql scenario on `db` with `up` (and `down` when given) and
/// `extra` TOML appended; returns the scenario path.
pub fn sql_scenario(
    w: &Work,
    name: &str,
    db: &str,
    up: &str,
    down: Option<&str>,
    extra: &str,
) -> PathBuf {
    std::fs::write(w.path(&format!("{name}.up.sql")), up).unwrap();
    let mut rollback = "[rollback]\nmethod = \"restore\"\n".to_string();
    if let Some(d) = down {
        std::fs::write(w.path(&format!("{name}.down.sql")), d).unwrap();
        rollback = format!("[rollback]\nmethod = \"compensate\"\ndown = \"{name}.down.sql\"\n");
    }
    let (head, rest) = match extra.split_once("@@") {
        Some((h, r)) => (h.to_string(), r.to_string()),
        None => (String::new(), extra.to_string()),
    };
    let text = format!(
        "[scenario]\nname = \"{name}\"\nexpect = \"PASS\"\n[surrogate]\nfile = \"{db}\"\n\
         [apply]\nkind = \"sql\"\nup = \"{name}.up.sql\"\n{head}[snapshot]\nmethod = \"copy\"\n{rollback}{rest}"
    );
    let p = w.path(&format!("{name}.toml"));
    std::fs::write(&p, text).unwrap();
    p
}

/// `rehearse SCENARIO --json`, returning the output and the report (if any).
pub fn rehearse_one(w: &Work, sc: &Path) -> (Output, Option<Value>) {
    let o = w.run(&["rehearse", sc.to_str().unwrap(), "--json"]);
    let v = json_out(&o);
    let report = v["results"][0]["report"].as_str().map(|p| {
        serde_json::from_slice(&std::fs::read(w.path(p)).expect("report file"))
            .expect("report JSON")
    });
    (o, report)
}

/// `rollproof verify` of the only report of a `--json` run.
pub fn verify_report(w: &Work, o: &Output) -> Output {
    let v = json_out(o);
    let path = w.path(v["results"][0]["report"].as_str().expect("report path"));
    w.run(&["verify", path.to_str().unwrap()])
}

#[test]
fn schema_only_changes_are_rehearsable_and_their_reports_verify() {
    let w = Work::new();
    let db = shop_clone(&w);
    let cases = [
        (
            "add-column",
            "ALTER TABLE customers ADD COLUMN tier TEXT;\n",
        ),
        (
            "create-index",
            "CREATE INDEX orders_by_customer ON orders(customer, placed_at);\n",
        ),
        (
            "empty-table",
            "CREATE TABLE coupons (code TEXT PRIMARY KEY, percent INTEGER NOT NULL) WITHOUT ROWID;\n",
        ),
        (
            "update",
            "UPDATE customers SET name = upper(handle) WHERE name IS NULL;\n",
        ),
    ];
    for (name, up) in cases {
        let sc = sql_scenario(&w, name, &db, up, None, "");
        let (o, r) = rehearse_one(&w, &sc);
        assert_success(&o);
        let r = r.unwrap();
        assert_eq!(
            (r["verdict"].as_str(), r["proof"].as_str()),
            (Some("PASS"), Some("byte-exact")),
            "{name}: {}",
            r["checks"]
        );
        assert_eq!(r["apply"]["expected_row_deltas"], Value::Null, "{name}");
        assert_eq!(r["apply"]["observed_row_deltas"], serde_json::json!({}));
        assert!(
            check(&r, "row_deltas_as_requested")["detail"]
                .as_str()
                .unwrap()
                .contains("declares no row deltas"),
            "{name}"
        );
        assert_success(&verify_report(&w, &o));
    }
}

#[test]
fn an_update_with_declared_zero_deltas_passes_and_a_noop_still_fails() {
    let w = Work::new();
    let db = shop_clone(&w);
    let zero = "[apply.expect_rows]\ncustomers = 0\n@@";
    let sc = sql_scenario(
        &w,
        "update-zero",
        &db,
        "UPDATE orders SET note = 'checked';\n",
        None,
        zero,
    );
    let (o, r) = rehearse_one(&w, &sc);
    assert_success(&o);
    assert_eq!(r.unwrap()["verdict"], "PASS");
    // Touching nothing is not a change, declared or not.
    for (name, up) in [
        ("noop-select", "SELECT count(*) FROM orders;\n"),
        ("noop-update", "UPDATE orders SET note = note WHERE 0;\n"),
    ] {
        let sc = sql_scenario(&w, name, &db, up, None, "");
        let (o, r) = rehearse_one(&w, &sc);
        assert_code(&o, 1);
        let r = r.unwrap();
        assert_eq!(r["verdict"], "FAIL", "{name}");
        assert_eq!(check(&r, "apply_was_real")["outcome"], "fail", "{name}");
        assert_success(&verify_report(&w, &o));
    }
}

#[test]
fn the_first_autoincrement_table_does_not_break_verify() {
    let w = Work::new();
    let db = shop_clone(&w);
    let up = "CREATE TABLE refunds (id INTEGER PRIMARY KEY AUTOINCREMENT, order_id INTEGER NOT NULL REFERENCES orders(id), cents INTEGER NOT NULL);\n\
              INSERT INTO refunds (order_id, cents) VALUES (10, 250), (12, 999);\n";
    let sc = sql_scenario(
        &w,
        "first-autoincrement",
        &db,
        up,
        None,
        "[apply.expect_rows]\nrefunds = 2\n@@",
    );
    let (o, r) = rehearse_one(&w, &sc);
    assert_success(&o);
    let r = r.unwrap();
    assert_eq!(
        (r["verdict"].as_str(), r["proof"].as_str()),
        (Some("PASS"), Some("byte-exact"))
    );
    // sqlite_sequence appeared with one row, and is not a declared delta.
    let p = &r["phases"];
    assert!(p["before"]["logical"]["tables"]["sqlite_sequence"].is_null());
    assert_eq!(
        p["after_apply"]["logical"]["tables"]["sqlite_sequence"]["rows"],
        1
    );
    assert_eq!(
        r["apply"]["observed_row_deltas"],
        serde_json::json!({"refunds": 2})
    );
    let v = verify_report(&w, &o);
    assert_success(&v);
    // Declaring it makes it counted, and verify agrees with that too.
    let sc = sql_scenario(
        &w,
        "first-autoincrement-declared",
        &db,
        up,
        None,
        "[apply.expect_rows]\nrefunds = 2\nsqlite_sequence = 1\n@@",
    );
    let (o, r) = rehearse_one(&w, &sc);
    assert_success(&o);
    assert_eq!(
        r.unwrap()["apply"]["observed_row_deltas"],
        serde_json::json!({"refunds": 2, "sqlite_sequence": 1})
    );
    assert_success(&verify_report(&w, &o));
}

#[test]
fn a_down_script_that_leaves_sqlite_sequence_behind_is_named() {
    // #12 §5: dropping the only AUTOINCREMENT table leaves SQLite's
    // sqlite_sequence table in the schema; the FAIL names it as an added
    // table with its SQL, not just "schema differs".
    let w = Work::new();
    let db = shop_clone(&w);
    let up = "CREATE TABLE refunds (id INTEGER PRIMARY KEY AUTOINCREMENT, cents INTEGER NOT NULL);\n\
              INSERT INTO refunds (cents) VALUES (250);\n";
    let sc = sql_scenario(
        &w,
        "sequence-left",
        &db,
        up,
        Some("DROP TABLE refunds;\n"),
        "[apply.expect_rows]\nrefunds = 1\n@@",
    );
    let (o, r) = rehearse_one(&w, &sc);
    assert_code(&o, 1);
    let r = r.unwrap();
    assert_eq!(r["verdict"], "FAIL");
    let objects = r["diff"]["objects"].as_array().expect("objects named");
    let seq = objects
        .iter()
        .find(|x| x["name"] == "sqlite_sequence")
        .unwrap_or_else(|| panic!("sqlite_sequence not named: {objects:?}"));
    assert_eq!(
        (seq["kind"].as_str(), seq["change"].as_str()),
        (Some("table"), Some("added"))
    );
    assert_eq!(seq["after"], "CREATE TABLE sqlite_sequence(name,seq)");
    assert_success(&verify_report(&w, &o));
}

/// Statement 1 adds a column; statement 2 (line 4) breaks a foreign key;
/// statement 3 would have run after it.
const HALF: &str = "ALTER TABLE orders ADD COLUMN channel TEXT;\n\
                    -- the order's customer does not exist\n\
                    \n\
                    INSERT INTO orders (id, customer, placed_at) VALUES (99, 404, '2026-02-01T00:00:00Z');\n\
                    UPDATE orders SET channel = 'web';\n";

fn failure(r: &Value, phase: &str) -> Value {
    r[phase]["script"]["failure"].clone()
}

#[test]
fn a_failing_up_script_gets_a_fail_report_naming_statement_line_and_state() {
    let w = Work::new();
    let db = shop_clone(&w);
    for (transaction, state, undone) in [
        ("none", "changed", false),
        ("per-script", "unchanged", true),
    ] {
        let name = format!("half-{transaction}");
        let extra = format!("@@[scripts]\ntransaction = \"{transaction}\"\n");
        let sc = sql_scenario(&w, &name, &db, HALF, None, &extra);
        let (o, r) = rehearse_one(&w, &sc);
        assert_code(&o, 1); // expected PASS, got FAIL — with a report
        let r = r.expect("a failed change still gets a report");
        assert_eq!(r["verdict"], "FAIL");
        let f = failure(&r, "apply");
        assert_eq!(
            (f["statement"].as_u64(), f["line"].as_u64()),
            (Some(2), Some(4)),
            "{f}"
        );
        assert!(
            f["sql"].as_str().unwrap().starts_with("INSERT INTO orders"),
            "{f}"
        );
        assert!(
            f["message"].as_str().unwrap().contains("FOREIGN KEY"),
            "{f}"
        );
        assert_eq!(
            (f["denied"].as_bool(), f["undone"].as_bool()),
            (Some(false), Some(undone))
        );
        assert_eq!(r["apply"]["script"]["statements"], 3);
        assert_eq!(r["apply"]["script"]["completed"], 1);
        assert_eq!(r["scripts"]["transaction"], transaction);
        let c = check(&r, "script_completed:apply");
        assert_eq!(c["outcome"], "fail");
        let d = c["detail"].as_str().unwrap();
        assert!(
            d.contains("statement 2 of 3 (line 4)") && d.contains(&format!("left {state}")),
            "{d}"
        );
        // The rollback still ran, from the verified snapshot, and held.
        assert_eq!(check(&r, "restored_byte_exact")["outcome"], "pass");
        assert_eq!(check(&r, "rollback_performed")["outcome"], "pass");
        assert_success(&verify_report(&w, &o));
    }
}

#[test]
fn verify_recomputes_a_failed_script_so_its_fail_cannot_be_turned_into_a_pass() {
    let w = Work::new();
    let db = shop_clone(&w);
    let sc = sql_scenario(&w, "forged", &db, HALF, None, "");
    let (o, _) = rehearse_one(&w, &sc);
    assert_code(&o, 1);
    let path = w.path(json_out(&o)["results"][0]["report"].as_str().unwrap());
    let mut r: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    // A forger flips the failed check and the verdict, and re-seals.
    for c in r["checks"].as_array_mut().unwrap() {
        c["outcome"] = "pass".into();
    }
    r["verdict"] = "PASS".into();
    r["as_expected"] = true.into();
    let forged = w.path("forged.json");
    std::fs::write(&forged, crate::report::reseal(r)).unwrap();
    let o = w.run(&["verify", forged.to_str().unwrap(), "--json"]);
    assert_code(&o, 1);
    let text = stdout(&o);
    for code in ["check-outcome", "verdict-recomputed", "pass-script-failed"] {
        assert!(text.contains(code), "{code} not in {text}");
    }
    assert!(text.contains("script_completed:apply"), "{text}");
}

#[test]
fn a_half_applied_change_is_compensated_or_rolled_back_and_reported() {
    let w = Work::new();
    let db = shop_clone(&w);
    let none = "@@[scripts]\ntransaction = \"none\"\n";
    // compensate: used to exit 3 ("its bytes changed since rollproof last
    // bound them") with no report.
    let sc = sql_scenario(
        &w,
        "half-compensate",
        &db,
        HALF,
        Some("ALTER TABLE orders DROP COLUMN channel;\n"),
        none,
    );
    let (o, r) = rehearse_one(&w, &sc);
    assert_code(&o, 1);
    let r = r.expect("report");
    assert_eq!(check(&r, "script_completed:apply")["outcome"], "fail");
    assert_eq!(check(&r, "script_completed:rollback")["outcome"], "pass");
    assert_eq!(check(&r, "restored_logically")["outcome"], "pass");
    assert_success(&verify_report(&w, &o));
    // A down script that fails too is named as well.
    let sc = sql_scenario(
        &w,
        "half-compensate-bad-down",
        &db,
        HALF,
        Some("ALTER TABLE orders DROP COLUMN channel;\nDROP TABLE no_such_table;\n"),
        none,
    );
    let (o, r) = rehearse_one(&w, &sc);
    assert_code(&o, 1);
    let r = r.expect("report");
    let f = failure(&r, "rollback");
    assert_eq!(
        (f["statement"].as_u64(), f["line"].as_u64()),
        (Some(2), Some(2)),
        "{f}"
    );
    let c = check(&r, "script_completed:rollback");
    assert!(
        c["detail"].as_str().unwrap().contains("no such table"),
        "{c}"
    );
    assert_eq!(check(&r, "rollback_performed")["outcome"], "fail");
    // transaction: the held transaction is rolled back, byte-exact.
    let p = w.path("half-tx.toml");
    let text = std::fs::read_to_string(w.path("half-compensate.toml"))
        .unwrap()
        .replace("half-compensate", "half-tx")
        .replace(
            "method = \"compensate\"\ndown = \"half-tx.down.sql\"",
            "method = \"transaction\"",
        );
    std::fs::write(w.path("half-tx.up.sql"), HALF).unwrap();
    std::fs::write(&p, text).unwrap();
    let (o, r) = rehearse_one(&w, &p);
    assert_code(&o, 1);
    let r = r.expect("report");
    assert_eq!(r["methods"]["rollback"], "transaction");
    assert_eq!(check(&r, "script_completed:apply")["outcome"], "fail");
    assert_eq!(check(&r, "restored_byte_exact")["outcome"], "pass");
}

/// The 12-step table rebuild of SQLite's ALTER TABLE documentation: a new
/// customers table, the rows copied, the old one dropped, the new renamed.
const REBUILD: &str = "CREATE TABLE customers_new (id INTEGER PRIMARY KEY, handle TEXT NOT NULL UNIQUE, name TEXT, referred_by INTEGER REFERENCES customers(id), tier TEXT NOT NULL DEFAULT 'basic');\n\
                       INSERT INTO customers_new (id, handle, name, referred_by) SELECT id, handle, name, referred_by FROM customers;\n\
                       DROP TABLE customers;\n\
                       ALTER TABLE customers_new RENAME TO customers;\n";

#[test]
fn foreign_keys_off_lets_a_table_rebuild_keep_its_children() {
    let w = Work::new();
    let db = shop_clone(&w);
    let declared = "[apply.expect_rows]\norders = 0\norder_lines = 0\ncustomers = 0\n@@";
    // With foreign keys on, DROP TABLE first deletes the customers, which
    // the new table's rows still reference: the migration fails outright.
    let sc = sql_scenario(&w, "rebuild-fk-on", &db, REBUILD, None, declared);
    let (o, r) = rehearse_one(&w, &sc);
    assert_code(&o, 1);
    let r = r.unwrap();
    assert_eq!(r["scripts"]["foreign_keys"], true);
    let f = &r["apply"]["script"]["failure"];
    assert_eq!(f["statement"], 3, "{f}");
    assert!(
        f["message"].as_str().unwrap().contains("FOREIGN KEY"),
        "{f}"
    );
    // As migrations run it: foreign keys off.
    let sc = sql_scenario(
        &w,
        "rebuild-fk-off",
        &db,
        REBUILD,
        None,
        &format!("{declared}[scripts]\nforeign_keys = \"off\"\n"),
    );
    let (o, r) = rehearse_one(&w, &sc);
    assert_success(&o);
    let r = r.unwrap();
    assert_eq!(
        (
            r["verdict"].as_str(),
            r["scripts"]["foreign_keys"].as_bool()
        ),
        (Some("PASS"), Some(false))
    );
    assert_eq!(
        check(&r, "foreign_key_check:after_apply")["outcome"],
        "pass"
    );
}

#[test]
fn scripts_with_their_own_transaction_run_as_written_or_are_refused_up_front() {
    let w = Work::new();
    let db = shop_clone(&w);
    let own = "BEGIN;\nALTER TABLE customers ADD COLUMN tier TEXT;\nUPDATE customers SET tier = 'gold' WHERE id = 1;\nCOMMIT;\n";
    // per-script (the default) would nest it: refused before anything runs.
    let sc = sql_scenario(&w, "own-tx", &db, own, None, "");
    let o = w.run(&["rehearse", sc.to_str().unwrap()]);
    assert_code(&o, 2);
    let e = stderr(&o);
    assert!(
        e.contains("apply.up")
            && e.contains("statement 1 of 4 (line 1) `BEGIN;`")
            && e.contains("transaction = \"none\""),
        "{e}"
    );
    assert!(
        !w.path("rollproof-work/runs").exists()
            || std::fs::read_dir(w.path("rollproof-work/runs"))
                .unwrap()
                .next()
                .is_none()
    );
    // As written, with transaction = "none".
    let sc = sql_scenario(
        &w,
        "own-tx-none",
        &db,
        own,
        None,
        "@@[scripts]\ntransaction = \"none\"\n",
    );
    let (o, r) = rehearse_one(&w, &sc);
    assert_success(&o);
    assert_eq!(r.unwrap()["apply"]["script"]["completed"], 4);
    // Under the transaction rollback it would end rollproof's transaction.
    let text = std::fs::read_to_string(&sc)
        .unwrap()
        .replace("own-tx-none\"", "own-tx-rb\"")
        .replace("method = \"restore\"", "method = \"transaction\"");
    let p = w.path("own-tx-rb.toml");
    std::fs::write(&p, text).unwrap();
    let o = w.run(&["rehearse", p.to_str().unwrap()]);
    assert_code(&o, 2);
    assert!(
        stderr(&o).contains("rollback.method = \"transaction\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_surrogate_file_with_an_uncheckpointed_wal_is_refused_with_the_pragma() {
    let w = Work::new();
    let db = shop_clone(&w);
    // A real WAL with a committed change, from a copy of the database in
    // WAL mode, left beside the source (the connection is still open, so
    // it was never checkpointed).
    let copy = w.path("copy.db");
    std::fs::copy(w.path(&db), &copy).unwrap();
    let c = rusqlite::Connection::open(&copy).unwrap();
    c.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; INSERT INTO customers VALUES (9, 'wal', NULL, NULL);",
    )
    .unwrap();
    let wal = w.path(&format!("{db}-wal"));
    std::fs::copy(w.path("copy.db-wal"), &wal).unwrap();
    drop(c);
    let sc = sql_scenario(&w, "wal", &db, "UPDATE orders SET note = 'x';\n", None, "");
    let o = w.run(&["rehearse", sc.to_str().unwrap()]);
    assert_code(&o, 2);
    let e = stderr(&o);
    assert!(
        e.contains("surrogate.file")
            && e.contains("write-ahead log")
            && e.contains("PRAGMA wal_checkpoint(TRUNCATE)"),
        "{e}"
    );
    // Without the WAL the same scenario runs.
    std::fs::remove_file(&wal).unwrap();
    let (o, _) = rehearse_one(&w, &sc);
    assert_success(&o);
}
