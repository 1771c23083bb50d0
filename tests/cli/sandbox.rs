//! Change scripts run in a sandbox (SQLite, #12 §3): a script that reaches
//! outside its rehearsal target — ATTACH of the scenario's own source
//! database or of any other, DETACH, VACUUM INTO a file outside the
//! workspace, extension loading, `writable_schema`, dangerous pragmas — is
//! refused with the statement and the reason in a FAIL report, and every
//! other file keeps its bytes. A write outside `main`/`temp` needs an
//! attached database, which no script can get; the authorizer's rule for
//! it is pinned by a unit test (`engine::sqlite::sandbox`). Faults hit sql
//! applies too.

use crate::scripts::{rehearse_one, shop_clone, sql_scenario, verify_report};
use crate::util::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// SHA-256 of every file under `dir`, except the run folders and reports
/// the rehearsal itself writes.
fn digests(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            if rel == "reports" || rel == "rollproof-work/runs" || rel == "rollproof-work/reports" {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(rel, sha256_file(&p));
            }
        }
    }
    out
}

/// The refusal recorded for the up script of a report.
fn refusal(r: &Value) -> String {
    let f = &r["apply"]["script"]["failure"];
    assert_eq!(f["denied"], true, "{f}");
    f["message"].as_str().unwrap().to_string()
}

#[test]
fn attaching_the_scenarios_own_source_database_is_refused() {
    let w = Work::new();
    let db = shop_clone(&w);
    let source = w.path(&db);
    let up = format!(
        "ALTER TABLE customers ADD COLUMN tier TEXT;\nATTACH DATABASE '{}' AS src;\nDELETE FROM src.orders;\n",
        source.display()
    );
    let sc = sql_scenario(&w, "attach-source", &db, &up, None, "");
    let before = digests(w.dir.path());
    let (o, r) = rehearse_one(&w, &sc);
    assert_code(&o, 1);
    let r = r.unwrap();
    assert_eq!(r["verdict"], "FAIL");
    let m = refusal(&r);
    assert!(m.contains("ATTACH of") && m.contains("shop.db"), "{m}");
    let f = &r["apply"]["script"]["failure"];
    assert_eq!(
        (f["statement"].as_u64(), f["line"].as_u64()),
        (Some(2), Some(2))
    );
    let c = check(&r, "script_completed:apply");
    assert!(c["detail"].as_str().unwrap().contains("was refused"), "{c}");
    assert_eq!(digests(w.dir.path()), before, "no other file changed");
    assert!(
        r["scripts"]["sandbox"]
            .as_str()
            .unwrap()
            .contains("authorizer")
    );
    assert_success(&verify_report(&w, &o));
}

#[test]
fn vacuum_into_a_file_outside_the_workspace_is_refused() {
    let w = Work::new();
    let db = shop_clone(&w);
    let escape = w.path("outside/copy.db");
    std::fs::create_dir_all(escape.parent().unwrap()).unwrap();
    let up = format!(
        "UPDATE customers SET name = 'x';\nVACUUM INTO '{}';\n",
        escape.display()
    );
    let sc = sql_scenario(
        &w,
        "vacuum-into",
        &db,
        &up,
        None,
        "@@[scripts]\ntransaction = \"none\"\n",
    );
    let before = digests(w.dir.path());
    let (o, r) = rehearse_one(&w, &sc);
    assert_code(&o, 1);
    let m = refusal(&r.unwrap());
    assert!(m.contains("VACUUM INTO") && m.contains("copy.db"), "{m}");
    assert!(!escape.exists(), "VACUUM INTO wrote its copy");
    assert_eq!(digests(w.dir.path()), before);
}

#[test]
fn extensions_and_dangerous_pragmas_are_refused_with_their_reason() {
    let w = Work::new();
    let db = shop_clone(&w);
    for (name, up, needle) in [
        (
            "ext",
            "SELECT load_extension('/tmp/evil.so');\n",
            "load_extension()",
        ),
        (
            "writable",
            "PRAGMA writable_schema = ON;\n",
            "PRAGMA writable_schema = ON",
        ),
        (
            "no-journal",
            "PRAGMA journal_mode = OFF;\n",
            "PRAGMA journal_mode = off",
        ),
        (
            "limit",
            "PRAGMA max_page_count = 2147483646;\n",
            "max_page_count",
        ),
        ("detach", "DETACH DATABASE temp;\n", "DETACH"),
        (
            "attach-memory",
            "ATTACH DATABASE ':memory:' AS aux;\n",
            "ATTACH of `:memory:`",
        ),
    ] {
        let sc = sql_scenario(
            &w,
            name,
            &db,
            up,
            None,
            "@@[scripts]\ntransaction = \"none\"\n",
        );
        let before = digests(w.dir.path());
        let (o, r) = rehearse_one(&w, &sc);
        assert_code(&o, 1);
        let r = r.unwrap();
        assert_eq!(r["verdict"], "FAIL", "{name}");
        let m = refusal(&r);
        assert!(m.contains(needle), "{name}: {m}");
        // The statement is named, by number and text.
        let f = &r["apply"]["script"]["failure"];
        assert_eq!(f["statement"], 1, "{name}: {f}");
        let sql = f["sql"].as_str().unwrap();
        assert!(
            !sql.is_empty() && up.contains(sql.trim_end_matches(';')),
            "{name}: {f}"
        );
        assert_eq!(
            digests(w.dir.path()),
            before,
            "{name}: no other file changed"
        );
    }
    // What a migration needs still runs.
    let up = "PRAGMA foreign_keys = OFF;\nPRAGMA user_version = 42;\nPRAGMA table_info(orders);\nCREATE TEMP TABLE t AS SELECT * FROM orders;\nVACUUM;\n";
    let sc = sql_scenario(
        &w,
        "allowed",
        &db,
        up,
        None,
        "@@[scripts]\ntransaction = \"none\"\n",
    );
    let (o, r) = rehearse_one(&w, &sc);
    assert_success(&o);
    assert_eq!(r.unwrap()["verdict"], "PASS");
    // A migration may switch the file to WAL: the -wal is folded in when
    // measured, the mode is part of the logical state, and the restore
    // takes the file back to its rollback journal byte for byte.
    let up = "PRAGMA journal_mode = WAL;\nUPDATE orders SET note = 'wal';\n";
    let extra = "@@[scripts]\ntransaction = \"none\"\n";
    let sc = sql_scenario(&w, "to-wal", &db, up, None, extra);
    let (o, r) = rehearse_one(&w, &sc);
    assert_success(&o);
    let r = r.unwrap();
    assert_eq!(
        (r["verdict"].as_str(), r["proof"].as_str()),
        (Some("PASS"), Some("byte-exact")),
        "{}",
        r["checks"]
    );
    let mode = |p: &str| r["phases"][p]["logical"]["settings"]["journal_mode"].clone();
    assert_eq!(
        (mode("after_apply"), mode("after_rollback")),
        ("wal".into(), "rollback".into())
    );
    assert_success(&verify_report(&w, &o));
}

/// Three statements; the second inserts 20,000 rows of 200 bytes (about
/// 4 MB), enough to fill any headroom.
const BIG: &str = "CREATE TABLE audit (id INTEGER PRIMARY KEY, body TEXT NOT NULL);\n\
                   WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)\n\
                   INSERT INTO audit (body) SELECT printf('%0200d', i) FROM n;\n\
                   CREATE INDEX audit_body ON audit(body);\n";

#[test]
fn kill_disk_full_and_io_error_hit_sql_applies_and_restore_is_byte_exact() {
    let w = Work::new();
    let db = shop_clone(&w);
    for (name, fault, completed) in [
        ("kill", "kind = \"kill\"\nafter = 1\n", 1),
        ("disk-full", "kind = \"disk-full\"\nheadroom = 8\n", 1),
        ("io-error", "kind = \"io-error\"\nheadroom = 65536\n", 1),
    ] {
        let transaction = "none";
        let extra = format!("@@[scripts]\ntransaction = \"{transaction}\"\n[fault]\n{fault}");
        let sc = sql_scenario(&w, name, &db, BIG, None, &extra);
        let (o, r) = rehearse_one(&w, &sc);
        assert_success(&o);
        let r = r.unwrap();
        assert_eq!(
            (r["verdict"].as_str(), r["proof"].as_str()),
            (Some("PASS"), Some("byte-exact")),
            "{name}: {}",
            r["checks"]
        );
        assert_eq!(check(&r, "fault_injected")["outcome"], "pass", "{name}");
        let c = check(&r, "apply_interrupted_part_way");
        assert_eq!(c["outcome"], "pass", "{name}: {c}");
        assert_eq!(r["apply"]["script"]["completed"], completed, "{name}");
        assert_eq!(r["apply"]["script"]["statements"], 3);
        // What the fault left is measured: statement 1's table stays.
        let tables = &r["phases"]["after_apply"]["logical"]["tables"];
        assert!(tables.get("audit").is_some(), "{name}: {tables}");
        assert_success(&verify_report(&w, &o));
    }
    // Inside its own transaction the script is taken back whole by the
    // crash: nothing is left to roll back, so the proof cannot pass.
    let extra = "@@[scripts]\ntransaction = \"per-script\"\n[fault]\nkind = \"kill\"\nafter = 2\n";
    let sc = sql_scenario(&w, "kill-per-script", &db, BIG, None, extra);
    let (o, r) = rehearse_one(&w, &sc);
    assert_code(&o, 1);
    let r = r.unwrap();
    assert_eq!(check(&r, "fault_injected")["outcome"], "pass");
    assert_eq!(r["apply"]["script"]["completed"], 2);
    let c = check(&r, "apply_interrupted_part_way");
    assert_eq!(c["outcome"], "fail");
    assert!(
        c["detail"].as_str().unwrap().contains("left unchanged"),
        "{c}"
    );
    assert!(
        r["phases"]["after_apply"]["logical"]["tables"]
            .get("audit")
            .is_none()
    );
    assert_eq!(check(&r, "restored_byte_exact")["outcome"], "pass");
}
