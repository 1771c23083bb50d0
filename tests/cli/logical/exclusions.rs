//! §1: only SQLite's exact statistics tables are left out of the hash. A
//! down script that leaves behind an object whose name a `LIKE
//! 'sqlite_stat%'` would have matched is caught.

use super::*;

/// The down script restores everything, then plants `evil`, an object of
/// type `kind` named `object`: the report names exactly it, with its SQL.
fn planted(name: &str, evil: &str, kind: &str, object: &str) {
    let w = Work::new();
    let s = sql_scenario(&w, name, UP, &format!("{DOWN}{evil}\n"), "notes = 1");
    let (o, path, r) = run(&w, &s);
    assert_code(&o, 1); // expected PASS, got FAIL
    assert_eq!(r["verdict"], "FAIL", "{evil}");
    assert_eq!(r["proof"], "logical-only");
    assert_eq!(outcome(&r, "restored_logically"), "fail", "{evil}");
    assert_eq!(r["diff"]["schema_differs"], true, "{evil}");
    let objects = r["diff"]["objects"].as_array().expect("objects named");
    assert_eq!(objects.len(), 1, "{objects:?}");
    assert_eq!(objects[0]["change"], "added");
    assert_eq!(objects[0]["kind"], kind);
    assert_eq!(objects[0]["name"], object);
    assert_eq!(
        objects[0]["after"],
        evil.trim_end_matches(';'),
        "SQL as sqlite_schema holds it"
    );
    assert!(objects[0]["before"].is_null());
    let md = std::fs::read_to_string(path.with_extension("md")).unwrap();
    assert!(md.contains(&format!("- {kind} `{object}` added")), "{md}");
    assert!(
        stdout(&o).contains(&format!("{kind} {object} added:")) || o.stdout.starts_with(b"{"),
        "{}",
        stdout(&o)
    );
    verify_artifacts(&w, &path, &r);
    python_agrees(&r);
}

#[test]
fn a_trigger_named_like_the_statistics_tables_is_state() {
    planted(
        "evil-trigger",
        "CREATE TRIGGER sqlitexstat_evil AFTER INSERT ON objects BEGIN DELETE FROM objects WHERE id = new.id; END;",
        "trigger",
        "sqlitexstat_evil",
    );
}

#[test]
fn an_index_named_in_another_case_is_state() {
    planted(
        "evil-index",
        "CREATE INDEX SQLITE0STAT_x ON directus_users(email);",
        "index",
        "SQLITE0STAT_x",
    );
}

#[test]
fn a_view_and_a_table_with_a_quoted_look_alike_name_are_state() {
    planted(
        "evil-view",
        "CREATE VIEW \"sqlite-stat evil\" AS SELECT * FROM directus_users;",
        "view",
        "sqlite-stat evil",
    );
    planted(
        "evil-table",
        "CREATE TABLE \"sqlite-stat evil\"(id, email);",
        "table",
        "sqlite-stat evil",
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

#[test]
fn a_changed_table_is_named_with_its_sql_before_and_after() {
    let w = Work::new();
    let s = sql_scenario(
        &w,
        "changed-table",
        UP,
        &format!("{DOWN}ALTER TABLE directus_roles ADD COLUMN extra TEXT;\n"),
        "notes = 1",
    );
    let (o, path, r) = run(&w, &s);
    assert_code(&o, 1);
    let objects = r["diff"]["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 1, "{objects:?}");
    let t = &objects[0];
    assert_eq!(
        (t["change"].as_str(), t["kind"].as_str(), t["name"].as_str()),
        (Some("changed"), Some("table"), Some("directus_roles"))
    );
    let (before, after) = (t["before"].as_str().unwrap(), t["after"].as_str().unwrap());
    assert!(
        before.starts_with("CREATE TABLE") && !before.contains("extra"),
        "{before}"
    );
    assert!(after.contains("extra TEXT"), "{after}");
    verify_artifacts(&w, &path, &r);
    python_agrees(&r);
}
