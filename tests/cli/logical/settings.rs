//! §2 (SQLite): the persistent settings are state. A down script that
//! restores every row but leaves one setting changed FAILs; free space left
//! behind by a compensation is reported.

use super::*;

/// The down script restores everything, then changes one setting.
fn changed(name: &str, tail: &str, setting: &str, before: Value, after: Value) {
    let w = Work::new();
    let s = sql_scenario(&w, name, UP, &format!("{DOWN}{tail}\n"), "notes = 1");
    // Each statement by itself: SQLite changes the journal mode and runs
    // VACUUM only outside a transaction.
    let toml = std::fs::read_to_string(&s.scenario).unwrap();
    std::fs::write(
        &s.scenario,
        format!("{toml}[scripts]\ntransaction = \"none\"\n"),
    )
    .unwrap();
    let (o, path, r) = run(&w, &s);
    assert_code(&o, 1);
    assert_eq!(r["verdict"], "FAIL", "{tail}");
    assert_eq!(outcome(&r, "restored_logically"), "fail", "{tail}");
    let settings = |phase: &str| r["phases"][phase]["logical"]["settings"].clone();
    assert_eq!(settings("before")[setting], before, "{tail}");
    assert_eq!(settings("after_rollback")[setting], after, "{tail}");
    // Every other setting, and every table, is as before.
    for (k, v) in settings("before").as_object().unwrap() {
        if k != setting {
            assert_eq!(&settings("after_rollback")[k], v, "{k}");
        }
    }
    assert_eq!(
        r["phases"]["before"]["logical"]["tables"],
        r["phases"]["after_rollback"]["logical"]["tables"]
    );
    // The diff names the setting with both values.
    let named = r["diff"]["settings"].as_array().expect("settings named");
    assert_eq!(named.len(), 1, "{named:?}");
    assert_eq!(named[0]["name"], setting);
    let text = |v: &Value| v.to_string().trim_matches('"').to_string();
    assert_eq!(named[0]["before"].as_str().unwrap(), text(&before));
    assert_eq!(named[0]["after"].as_str().unwrap(), text(&after));
    let md = std::fs::read_to_string(path.with_extension("md")).unwrap();
    assert!(
        md.contains(&format!(
            "- setting `{setting}`: `{}` → `{}`",
            text(&before),
            text(&after)
        )),
        "{md}"
    );
    verify_artifacts(&w, &path, &r);
    python_agrees(&r);
}

#[test]
fn a_down_script_that_leaves_wal_mode_fails() {
    changed(
        "left-wal",
        "PRAGMA journal_mode = WAL;",
        "journal_mode",
        "rollback".into(),
        "wal".into(),
    );
}

#[test]
fn a_down_script_that_changes_the_page_size_fails() {
    changed(
        "page-size",
        "PRAGMA page_size = 8192; VACUUM;",
        "page_size",
        4096.into(),
        8192.into(),
    );
}

#[test]
fn a_down_script_that_turns_on_auto_vacuum_fails() {
    changed(
        "auto-vacuum",
        "PRAGMA auto_vacuum = FULL; VACUUM;",
        "auto_vacuum",
        0.into(),
        1.into(),
    );
}

#[test]
fn a_down_script_that_leaves_the_user_version_changed_fails() {
    // Migration tools store the schema version here: a rollback that
    // leaves it bumped tells the next migration run the change is applied.
    changed(
        "user-version",
        "PRAGMA user_version = 7;",
        "user_version",
        rollproof::surface::SURFACE_VERSION.into(),
        7.into(),
    );
}

#[test]
fn a_down_script_that_changes_the_application_id_fails() {
    changed(
        "application-id",
        "PRAGMA application_id = 7;",
        "application_id",
        rollproof::surface::APPLICATION_ID.into(),
        7.into(),
    );
}

#[test]
fn deleted_rows_left_in_free_space_are_reported() {
    let w = Work::new();
    let up = "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);\n\
              WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)\n\
              INSERT INTO notes SELECT i, 'RESIDUE-MARKER-' || i || printf('%.60c', 'x') FROM n;\n";
    let s = sql_scenario(&w, "residue", up, DOWN, "notes = 400");
    let (o, path, r) = run(&w, &s);
    assert_success(&o);
    assert_eq!(r["verdict"], "PASS");
    let free = |phase: &str| r["phases"][phase]["free_space"].clone();
    let (before, after) = (free("before"), free("after_rollback"));
    assert!(
        after["freelist_pages"].as_u64() > before["freelist_pages"].as_u64(),
        "{before} {after}"
    );
    assert!(
        after["residue_bytes"].as_u64() > before["residue_bytes"].as_u64(),
        "{before} {after}"
    );
    // The report tells the truth: the dropped rows are still in the file.
    let bytes = std::fs::read(artifact(&r, "after_rollback")).unwrap();
    let marker = b"RESIDUE-MARKER-";
    assert!(bytes.windows(marker.len()).any(|w| w == marker));
    let md = std::fs::read_to_string(path.with_extension("md")).unwrap();
    assert!(md.contains("## Free space"), "{md}");
    assert!(md.contains("may still be readable"), "{md}");
    verify_artifacts(&w, &path, &r);
}
