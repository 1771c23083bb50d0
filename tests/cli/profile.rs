//! `rollproof profile` and `rollproof fidelity`: value-free extraction,
//! regeneration from an extracted profile, read-only inputs, bad input,
//! and fidelity scores that separate a matching profile from a foreign one.

use crate::util::*;
use rusqlite::Connection;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every text value in every table of `db`.
pub fn text_values(db: &Path) -> BTreeSet<String> {
    let conn = Connection::open(db).unwrap();
    let mut out = BTreeSet::new();
    for (table, cols) in schema(&conn) {
        // rollproof's own provenance record (guard issue #7) is not row data.
        if table == "rollproof_provenance" {
            continue;
        }
        for col in cols {
            let sql = format!("SELECT \"{col}\" FROM \"{table}\" WHERE typeof(\"{col}\") = 'text'");
            let mut stmt = conn.prepare(&sql).unwrap();
            let vals = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
            out.extend(vals.map(|v| v.unwrap()));
        }
    }
    out
}

/// Tables and their columns.
fn schema(conn: &Connection) -> Vec<(String, Vec<String>)> {
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%'")
        .unwrap();
    let tables: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|t| t.unwrap())
        .collect();
    tables
        .into_iter()
        .map(|t| {
            let mut s = conn
                .prepare("SELECT name FROM pragma_table_info(?1)")
                .unwrap();
            let cols = s
                .query_map([&t], |r| r.get(0))
                .unwrap()
                .map(|c| c.unwrap())
                .collect();
            (t, cols)
        })
        .collect()
}

/// Names of tables, columns and declared types: structure, allowed in a profile.
fn identifiers(db: &Path) -> BTreeSet<String> {
    let conn = Connection::open(db).unwrap();
    let mut out = BTreeSet::new();
    for (t, cols) in schema(&conn) {
        let mut s = conn
            .prepare("SELECT type FROM pragma_table_info(?1)")
            .unwrap();
        let types: Vec<String> = s
            .query_map([&t], |r| r.get(0))
            .unwrap()
            .map(|c| c.unwrap())
            .collect();
        out.extend(types);
        out.extend(cols);
        out.insert(t);
    }
    out
}

/// The SQL of every schema object: its literals (CHECK lists, defaults)
/// are DDL, which a profile carries as written.
pub fn schema_sql(db: &Path) -> String {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT group_concat(sql, ';') FROM sqlite_schema WHERE sql IS NOT NULL")
        .unwrap();
    stmt.query_row([], |r| r.get(0)).unwrap()
}

/// Every key and string value in a TOML document.
pub fn toml_strings(v: &toml::Value, out: &mut BTreeSet<String>) {
    match v {
        toml::Value::String(s) => {
            out.insert(s.clone());
        }
        toml::Value::Array(a) => a.iter().for_each(|x| toml_strings(x, out)),
        toml::Value::Table(t) => {
            for (k, x) in t {
                out.insert(k.clone());
                toml_strings(x, out);
            }
        }
        _ => {}
    }
}

fn row_counts(db: &Path) -> BTreeMap<String, i64> {
    let conn = Connection::open(db).unwrap();
    schema(&conn)
        .into_iter()
        .map(|(t, _)| {
            let n = conn
                .query_row(&format!("SELECT count(*) FROM \"{t}\""), [], |r| r.get(0))
                .unwrap();
            (t, n)
        })
        .collect()
}

fn profile(w: &Work, db: &Path, out: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["profile", db.to_str().unwrap(), "--out", out];
    args.extend_from_slice(extra);
    w.run(&args)
}

#[test]
fn extracted_profile_holds_no_row_values_and_regenerates_the_same_counts() {
    let w = Work::new();
    let db = w.tiny("surrogate.db", 3);
    let before = sha256_file(&db);
    let o = profile(&w, &db, "p.toml", &[]);
    assert_success(&o);
    assert_eq!(sha256_file(&db), before, "profiling changed the input");
    let text = std::fs::read_to_string(w.path("p.toml")).unwrap();
    assert!(
        !text.contains("categories") && !text.contains("range"),
        "{text}"
    );
    assert!(!text.contains('@'), "an email leaked:\n{text}");

    let mut strings = BTreeSet::new();
    toml_strings(
        &toml::Value::Table(toml::from_str(&text).unwrap()),
        &mut strings,
    );
    let idents = identifiers(&db);
    let ddl = schema_sql(&db);
    let values = text_values(&db);
    assert!(values.len() > 200, "the scan found too few values");
    for v in values
        .iter()
        .filter(|v| !idents.contains(*v) && !ddl.contains(v.as_str()))
    {
        assert!(
            !strings.contains(v),
            "row value {v:?} appears in the profile"
        );
        if v.len() >= 8 {
            assert!(
                !text.contains(v.as_str()),
                "row value {v:?} appears in the profile"
            );
        }
    }

    // The generator accepts it, and reproduces the row counts.
    let o = w.run(&[
        "generate",
        "--profile",
        "p.toml",
        "--seed",
        "9",
        "--out",
        "again.db",
    ]);
    assert_success(&o);
    assert_eq!(row_counts(&w.path("again.db")), row_counts(&db));
}

#[test]
fn categories_and_ranges_only_when_allowed_and_never_identifying() {
    let w = Work::new();
    let db = w.tiny("s.db", 3);
    let o = profile(
        &w,
        &db,
        "p.toml",
        &["--allow-categories", "--allow-ranges", "--json"],
    );
    assert_success(&o);
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["tables"], rollproof::surface::tables().len());
    let text = std::fs::read_to_string(w.path("p.toml")).unwrap();
    let doc = toml::Value::Table(toml::from_str(&text).unwrap());
    let tables = doc["tables"].as_table().unwrap();
    // directus_activity.collection has two values (items and logins), each
    // seen well over 5 times (its action has a rare `delete` too).
    let action = &tables["directus_activity"]["columns"]["collection"]["categories"];
    let sum: f64 = action
        .as_table()
        .unwrap()
        .values()
        .map(|v| v.as_float().unwrap())
        .sum();
    assert!((sum - 1.0).abs() < 1e-3, "{action}");
    assert!(text.contains("range"), "no numeric range written");
    // Every category value rests on at least 5 rows (k-anonymity).
    let conn = Connection::open(&db).unwrap();
    let mut seen = 0;
    for (t, tp) in tables {
        let Some(cols) = tp.get("columns").and_then(|c| c.as_table()) else {
            continue;
        };
        for (c, cp) in cols {
            assert!(
                cp.get("range").is_none() || c != "id",
                "{t}.{c} has an id range"
            );
            let Some(cats) = cp.get("categories").and_then(|c| c.as_table()) else {
                continue;
            };
            for k in cats.keys() {
                let n: i64 = conn
                    .query_row(
                        &format!("SELECT count(*) FROM \"{t}\" WHERE CAST(\"{c}\" AS TEXT) = ?1"),
                        [k],
                        |r| r.get(0),
                    )
                    .unwrap();
                assert!(n >= 5, "{t}.{c} = {k} occurs {n} times");
                seen += 1;
            }
        }
    }
    assert!(seen >= 3);
    // Identifying values never appear, flags or not.
    let mut stmt = conn
        .prepare(
            "SELECT email FROM directus_users UNION ALL SELECT first_name FROM directus_users
             UNION ALL SELECT last_name FROM directus_users UNION ALL SELECT id FROM objects
             UNION ALL SELECT key FROM objects UNION ALL SELECT payload FROM objects
             UNION ALL SELECT object_uid FROM birth_registry UNION ALL SELECT ip FROM directus_activity",
        )
        .unwrap();
    let secrets: Vec<Option<String>> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|v| v.unwrap())
        .collect();
    for s in secrets.into_iter().flatten() {
        assert!(
            !text.contains(&format!("\"{s}\"")) && !text.contains(&format!("{s} =")),
            "{s} leaked"
        );
    }
    // The extended profile regenerates too, and its surrogate scores high.
    assert_success(&w.run(&["generate", "--profile", "p.toml", "--out", "r.db"]));
    let o = w.run(&["fidelity", "r.db", "--profile", "p.toml", "--json"]);
    assert_success(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["score"].as_f64().unwrap() > 90.0, "{v}");
}

#[test]
fn existing_output_is_refused_without_force_and_left_untouched() {
    let w = Work::new();
    let db = w.tiny("s.db", 1);
    std::fs::write(w.path("p.toml"), b"precious").unwrap();
    let o = profile(&w, &db, "p.toml", &[]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(std::fs::read(w.path("p.toml")).unwrap(), b"precious");
    assert_success(&profile(&w, &db, "p.toml", &["--force"]));
    assert!(
        std::fs::read_to_string(w.path("p.toml"))
            .unwrap()
            .contains("[profile]")
    );
}

#[test]
fn bad_databases_are_named_exit_2_and_write_nothing() {
    let w = Work::new();
    let db = w.tiny("s.db", 1);
    let bytes = std::fs::read(&db).unwrap();
    std::fs::write(w.path("half.db"), &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(
        w.path("notes.db"),
        "just some notes, not a database\n".repeat(10),
    )
    .unwrap();
    std::fs::write(w.path("empty.db"), b"").unwrap();
    let tiny = repo_file("surrogates/profiles/tiny.toml");
    for name in ["half.db", "notes.db", "empty.db", "absent.db"] {
        let p = w.path(name);
        let p = p.to_str().unwrap();
        let runs = [
            vec!["profile", p, "--out", "out.toml"],
            vec!["fidelity", p, "--profile", tiny.to_str().unwrap()],
        ];
        for args in runs {
            let cmd = args[0];
            let o = w.run(&args);
            assert_code(&o, 2);
            let err = stderr(&o);
            assert!(err.contains(name), "{cmd} {name}: {err}");
            assert_eq!(err.trim().lines().count(), 1, "one-line error: {err}");
            assert!(!w.path("out.toml").exists(), "{cmd} {name} wrote output");
        }
    }
}

#[test]
fn every_table_is_profiled_without_its_values() {
    let w = Work::new();
    let db = w.tiny("s.db", 1);
    let conn = Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TABLE operator_notes(id INTEGER PRIMARY KEY, body TEXT);
         INSERT INTO operator_notes(body) VALUES ('do not copy me');
         DROP TABLE directus_settings;",
    )
    .unwrap();
    drop(conn);
    let o = profile(&w, &db, "p.toml", &[]);
    assert_success(&o);
    let text = std::fs::read_to_string(w.path("p.toml")).unwrap();
    // A table outside the birth-register surface is one more table...
    assert!(text.contains("[tables.operator_notes]"), "{text}");
    // ...whose rows stay out, and a dropped table is simply not there.
    assert!(!text.contains("do not copy"));
    assert!(!text.contains("[tables.directus_settings]"));
}

#[test]
fn fidelity_scores_own_profile_high_and_a_foreign_one_low() {
    let w = Work::new();
    let db = w.tiny("s.db", 5);
    let before = sha256_file(&db);
    let tiny = repo_file("surrogates/profiles/tiny.toml");
    let default = repo_file("surrogates/profiles/default.toml");
    let score = |p: &Path| -> serde_json::Value {
        let o = w.run(&[
            "fidelity",
            "s.db",
            "--profile",
            p.to_str().unwrap(),
            "--json",
        ]);
        assert_success(&o);
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let own = score(&tiny);
    let foreign = score(&default);
    let (own_s, foreign_s) = (
        own["score"].as_f64().unwrap(),
        foreign["score"].as_f64().unwrap(),
    );
    assert!(own_s > 90.0, "own profile scored {own_s}");
    assert!(foreign_s < 70.0, "foreign profile scored {foreign_s}");
    let objects = own["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "objects")
        .unwrap();
    assert_eq!(objects["actual_rows"], 40);
    assert_eq!(objects["rows_score"], 1.0);
    assert_eq!(sha256_file(&db), before, "fidelity changed the database");

    // The text form names every table and ends with the overall score.
    let o = w.run(&["fidelity", "s.db", "--profile", tiny.to_str().unwrap()]);
    assert_success(&o);
    let out = stdout(&o);
    assert!(out.contains("birth_registry") && out.contains("directus_activity"));
    assert!(
        out.trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("fidelity "),
        "{out}"
    );

    // --min-score turns the measurement into a check.
    let p = default.to_str().unwrap();
    assert_code(
        &w.run(&["fidelity", "s.db", "--profile", p, "--min-score", "90"]),
        1,
    );
    let t = tiny.to_str().unwrap();
    assert_success(&w.run(&["fidelity", "s.db", "--profile", t, "--min-score", "90"]));
    let o = w.run(&["fidelity", "s.db", "--profile", t, "--min-score", "101"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("--min-score"));
}

#[test]
fn fidelity_refuses_a_database_with_none_of_the_profiles_tables() {
    let w = Work::new();
    let p = w.path("other.db");
    let conn = Connection::open(&p).unwrap();
    conn.execute_batch("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes(body) VALUES ('x');")
        .unwrap();
    drop(conn);
    let tiny = repo_file("surrogates/profiles/tiny.toml");
    let o = w.run(&["fidelity", "other.db", "--profile", tiny.to_str().unwrap()]);
    assert_code(&o, 2);
    let err = stderr(&o);
    assert!(
        err.contains("other.db") && err.contains("none of the profile's tables"),
        "{err}"
    );
}

#[test]
fn fidelity_scale_matches_a_scaled_surrogate() {
    let w = Work::new();
    let tiny = repo_file("surrogates/profiles/tiny.toml");
    let t = tiny.to_str().unwrap();
    let o = w.run(&[
        "generate",
        "--profile",
        t,
        "--scale",
        "3",
        "--out",
        "big.db",
    ]);
    assert_success(&o);
    let score = |scale: &str| -> f64 {
        let o = w.run(&[
            "fidelity",
            "big.db",
            "--profile",
            t,
            "--scale",
            scale,
            "--json",
        ]);
        assert_success(&o);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["score"].as_f64().unwrap()
    };
    let (plain, scaled) = (score("1"), score("3"));
    assert!(
        scaled > 90.0 && scaled > plain + 5.0,
        "scaled {scaled}, plain {plain}"
    );
    assert_code(
        &w.run(&["fidelity", "big.db", "--profile", t, "--scale", "0"]),
        2,
    );
}
