//! §1: only SQLite's exact statistics tables are left out of the hash. A
//! down script that leaves behind an object whose name a `LIKE
//! 'sqlite_stat%'` would have matched is caught.

use super::*;

/// The down script restores everything, then plants `evil`.
fn planted(name: &str, evil: &str) {
    let w = Work::new();
    let s = sql_scenario(&w, name, UP, &format!("{DOWN}{evil}\n"), "notes = 1");
    let (o, path, r) = run(&w, &s);
    assert_code(&o, 1); // expected PASS, got FAIL
    assert_eq!(r["verdict"], "FAIL", "{evil}");
    assert_eq!(r["proof"], "logical-only");
    assert_eq!(outcome(&r, "restored_logically"), "fail", "{evil}");
    assert_eq!(r["diff"]["schema_differs"], true, "{evil}");
    verify_artifacts(&w, &path, &r);
    python_agrees(&r);
}

#[test]
fn a_trigger_named_like_the_statistics_tables_is_state() {
    planted(
        "evil-trigger",
        "CREATE TRIGGER sqlitexstat_evil AFTER INSERT ON objects BEGIN DELETE FROM objects WHERE id = new.id; END;",
    );
}

#[test]
fn an_index_named_in_another_case_is_state() {
    planted(
        "evil-index",
        "CREATE INDEX SQLITE0STAT_x ON directus_users(email);",
    );
}

#[test]
fn a_view_and_a_table_with_a_quoted_look_alike_name_are_state() {
    planted(
        "evil-view",
        "CREATE VIEW \"sqlite-stat evil\" AS SELECT * FROM directus_users;",
    );
    planted(
        "evil-table",
        "CREATE TABLE \"sqlite-stat evil\" AS SELECT id, email FROM directus_users;",
    );
}

#[test]
fn analyze_is_not_a_difference() {
    // SQLite's own statistics are the one thing left out: a down script that
    // runs ANALYZE still restores the database.
    let w = Work::new();
    let s = sql_scenario(&w, "analyze", UP, &format!("{DOWN}ANALYZE;\n"), "notes = 1");
    let (o, path, r) = run(&w, &s);
    assert_success(&o);
    assert_eq!(r["verdict"], "PASS");
    let rolled = artifact(&r, "after_rollback");
    let c = rusqlite::Connection::open(&rolled).unwrap();
    let stats: i64 = c
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_stat1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stats, 1, "ANALYZE wrote sqlite_stat1");
    verify_artifacts(&w, &path, &r);
    python_agrees(&r);
}
