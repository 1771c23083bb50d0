//! Virtual tables on a user's own SQLite schema. A full-text table
//! (`fts5`, `fts4`) keeps its data in shadow tables that SQLite creates and
//! writes itself; a surrogate must be built through the virtual table, never
//! by writing rows into its shadow tables (which would corrupt the index).

use crate::util::*;
use rusqlite::Connection;
use std::path::Path;

/// A small app database: a notes table, its full-text index (fts5, with
/// content of its own) and an fts4 table beside an ordinary one.
fn app_db(path: &Path) {
    let c = Connection::open(path).unwrap();
    c.execute_batch(
        "CREATE TABLE note (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT);
         CREATE VIRTUAL TABLE note_search USING fts5(title, body);
         CREATE VIRTUAL TABLE tag_search USING fts4(tag);
         CREATE TRIGGER note_ai AFTER INSERT ON note BEGIN
           INSERT INTO note_search(rowid, title, body) VALUES (new.id, new.title, new.body);
         END;",
    )
    .unwrap();
    for i in 0..40 {
        c.execute(
            "INSERT INTO note (title, body) VALUES (?1, ?2)",
            (
                format!("note number {i}"),
                format!("some words about thing {} and more", i % 7),
            ),
        )
        .unwrap();
        c.execute(
            "INSERT INTO tag_search (tag) VALUES (?1)",
            [format!("t{i}")],
        )
        .unwrap();
    }
}

#[test]
fn full_text_tables_are_profiled_and_generated_through_the_virtual_table() {
    let w = Work::new();
    app_db(&w.path("app.db"));
    let o = w.run(&["profile", "app.db", "--out", "app.toml"]);
    assert_success(&o);
    let text = std::fs::read_to_string(w.path("app.toml")).unwrap();
    // The shadow tables are SQLite's (PRAGMA table_list says 'shadow'):
    // never profiled as tables of their own.
    for shadow in ["note_search_data", "note_search_idx", "tag_search_segments"] {
        assert!(!text.contains(shadow), "{shadow} in the profile:\n{text}");
    }
    let o = w.run(&[
        "generate",
        "--profile",
        "app.toml",
        "--seed",
        "3",
        "--out",
        "s.db",
    ]);
    assert_success(&o);
    let c = Connection::open(w.path("s.db")).unwrap();
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    // SQLite's own consistency checks of both full-text indexes pass.
    c.execute_batch(
        "INSERT INTO note_search(note_search) VALUES ('integrity-check');
         INSERT INTO tag_search(tag_search) VALUES ('integrity-check');",
    )
    .unwrap();
    // The full-text tables hold the profiled number of rows, searchable.
    for t in ["note", "note_search", "tag_search"] {
        let n: i64 = c
            .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 40, "{t}");
    }
    let word: String = c
        .query_row(
            "SELECT substr(title, 1, instr(title || ' ', ' ') - 1) FROM note_search LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let hits: i64 = c
        .query_row(
            "SELECT count(*) FROM note_search WHERE note_search MATCH ?1",
            [format!("\"{word}\"")],
            |r| r.get(0),
        )
        .unwrap();
    assert!(hits >= 1, "no hit for {word:?}");
    // And the surrogate scores as a surrogate of the profile should.
    let o = w.run(&["fidelity", "s.db", "--profile", "app.toml", "--json"]);
    assert_success(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["score"].as_f64().unwrap() >= 90.0, "{v}");
}
