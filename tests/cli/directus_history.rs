//! The generated history as Directus 12.4.1 writes it (issue #15,
//! docs/SURFACE.md): it ends at an as-of day that is part of the recipe
//! (deterministic, never the clock); update revisions, deletes and JSON
//! text have Directus's shapes; every collection row has its table or is a
//! folder without fields or relations. Checked on the SQLite surrogate the
//! CLI writes.

use crate::util::*;
use rusqlite::Connection;
use serde_json::Value;

const AS_OF: &str = "2026-11-30";

/// `generate` of the tiny profile, seed 7, with extra arguments; its SHA-256.
fn generate(w: &Work, out: &str, extra: &[&str]) -> String {
    let profile = repo_file("surrogates/profiles/tiny.toml");
    let mut args = vec![
        "generate",
        "--profile",
        profile.to_str().unwrap(),
        "--seed",
        "7",
        "--out",
        out,
        "--json",
    ];
    args.extend_from_slice(extra);
    let o = w.run(&args);
    assert_success(&o);
    json_out(&o)["sha256"].as_str().unwrap().to_string()
}

fn one<T: rusqlite::types::FromSql>(c: &Connection, sql: &str) -> T {
    c.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn as_of_ends_the_history_there_deterministically_and_is_part_of_the_recipe() {
    let w = Work::new();
    let a = generate(&w, "a.db", &["--as-of", AS_OF]);
    let b = generate(&w, "b.db", &["--as-of", AS_OF]);
    assert_eq!(a, b, "same profile, seed and as-of: same bytes");
    let default = generate(&w, "d.db", &[]);
    assert_ne!(a, default, "the as-of day changes the history");
    // The default is 2026-07-01, not the clock: naming that day gives the
    // same history (the file differs only in the recipe its record holds).
    generate(&w, "d2.db", &["--as-of", "2026-07-01"]);
    let history = |db: &str| -> String {
        one(
            &Connection::open(w.path(db)).unwrap(),
            "SELECT group_concat(action || item || \"timestamp\", ',') FROM directus_activity",
        )
    };
    assert_eq!(history("d.db"), history("d2.db"));
    assert_ne!(history("d.db"), history("a.db"));
    // The same day named in the profile is the same recipe: same bytes.
    let text = std::fs::read_to_string(repo_file("surrogates/profiles/tiny.toml")).unwrap();
    let dated = text.replacen(
        "format = 1\n",
        &format!("format = 1\nas_of = \"{AS_OF}\"\n"),
        1,
    );
    assert_ne!(dated, text);
    std::fs::write(w.path("dated.toml"), dated).unwrap();
    let o = w.run(&[
        "generate",
        "--profile",
        "dated.toml",
        "--seed",
        "7",
        "--out",
        "p.db",
        "--json",
    ]);
    assert_success(&o);
    assert_eq!(json_out(&o)["sha256"], a.as_str());

    // Every event in the 1,277 days before the as-of day, the last one
    // within Directus's 30-day window; the migrations before them all.
    let c = Connection::open(w.path("a.db")).unwrap();
    let last: String = one(&c, "SELECT max(\"timestamp\") FROM directus_activity");
    let first: String = one(&c, "SELECT min(\"timestamp\") FROM directus_activity");
    assert!(last.as_str() < "2026-11-30T00:00:00.000Z", "{last}");
    assert!(last.as_str() >= "2026-10-31T00:00:00.000Z", "{last}");
    assert!(first.as_str() >= "2023-06-01T00:00:00.000Z", "{first}");
    let migrated: String = one(&c, "SELECT max(\"timestamp\") FROM directus_migrations");
    assert!(migrated < first, "{migrated} before {first}");

    // The recipe regenerates: without its sidecar the surrogate proves
    // itself by regenerating from its provenance record, which therefore
    // carries the as-of day.
    let _ = std::fs::remove_file(w.path("a.db.provenance.json"));
    let o = w.run(&["guard", "adopt", "a.db", "rollproof-work/runs/a.db"]);
    assert_success(&o);
}

#[test]
fn a_bad_as_of_day_is_bad_input() {
    let w = Work::new();
    let profile = repo_file("surrogates/profiles/tiny.toml");
    for day in ["2026-02-30", "30.11.2026", "1999-12-31", "2026-11-30T00:00"] {
        let o = w.run(&[
            "generate",
            "--profile",
            profile.to_str().unwrap(),
            "--out",
            "x.db",
            "--as-of",
            day,
        ]);
        assert_code(&o, 2);
        assert!(!w.path("x.db").exists());
    }
    std::fs::write(
        w.path("bad.toml"),
        "[profile]\nname = \"b\"\nas_of = \"2026-13-01\"\n[tables.objects]\nrows = 1\n",
    )
    .unwrap();
    let o = w.run(&["generate", "--profile", "bad.toml", "--out", "y.db"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("profile.as_of"), "{}", stderr(&o));
}

#[test]
fn history_rows_have_the_shapes_directus_writes() {
    let w = Work::new();
    generate(&w, "s.db", &["--as-of", AS_OF]);
    let c = Connection::open(w.path("s.db")).unwrap();
    let rows = |sql: &str| -> Vec<Vec<Option<String>>> {
        let mut st = c.prepare(sql).unwrap();
        let n = st.column_count();
        let text = |v: rusqlite::types::Value| match v {
            rusqlite::types::Value::Null => None,
            rusqlite::types::Value::Integer(i) => Some(i.to_string()),
            rusqlite::types::Value::Text(t) => Some(t),
            other => Some(format!("{other:?}")),
        };
        st.query_map([], |r| (0..n).map(|i| r.get(i).map(text)).collect())
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    let parse =
        |s: &Option<String>| -> Value { serde_json::from_str(s.as_deref().unwrap()).unwrap() };

    // Creates: data = delta = the submitted fields.
    let creates = rows(
        "SELECT r.data, r.delta FROM directus_revisions r JOIN directus_activity a ON a.id = r.activity
         WHERE a.action = 'create'",
    );
    assert!(!creates.is_empty());
    for r in &creates {
        assert_eq!(r[0], r[1]);
        assert_eq!(
            keys(&parse(&r[0])),
            ["id", "status", "kind", "key", "payload"]
        );
    }

    // Updates: data = the full read-back without user_created/user_updated,
    // delta = the changed field plus user_updated and date_updated.
    let updates = rows(
        "SELECT r.data, r.delta, a.\"user\" FROM directus_revisions r
         JOIN directus_activity a ON a.id = r.activity
         WHERE a.action = 'update'",
    );
    assert!(!updates.is_empty());
    for r in &updates {
        let (data, delta) = (parse(&r[0]), parse(&r[1]));
        assert_eq!(
            keys(&data),
            [
                "id",
                "status",
                "date_created",
                "date_updated",
                "kind",
                "key",
                "payload"
            ],
            "the read-back in objects' column order"
        );
        assert_eq!(keys(&delta), ["status", "user_updated", "date_updated"]);
        assert_eq!(delta["user_updated"].as_str(), r[2].as_deref());
        assert_eq!(delta["date_updated"], data["date_updated"]);
        assert_eq!(delta["status"], data["status"]);
        assert!(data["payload"].is_object());
    }

    // Deletes: a `delete` activity, no revision, the item gone, its
    // create's activity and revision kept; never a birth.
    let deletes = rows(
        "SELECT a.item,
           (SELECT count(*) FROM directus_revisions r WHERE r.activity = a.id),
           (SELECT count(*) FROM objects o WHERE o.id = a.item),
           (SELECT count(*) FROM directus_activity c WHERE c.item = a.item AND c.action = 'create'),
           (SELECT count(*) FROM directus_revisions r JOIN directus_activity c ON c.id = r.activity
              WHERE r.item = a.item AND c.action = 'create'),
           (SELECT count(*) FROM birth_registry b WHERE b.item = a.item)
         FROM directus_activity a WHERE a.action = 'delete' AND a.collection = 'objects'",
    );
    assert!(!deletes.is_empty(), "the history includes deletes");
    for d in &deletes {
        let n: Vec<&str> = d[1..].iter().map(|x| x.as_deref().unwrap()).collect();
        assert_eq!(n, ["0", "0", "1", "1", "0"], "delete of {:?}", d[0]);
    }
    // The profile's counts hold with the deletes in them.
    let count = |t: &str| one::<i64>(&c, &format!("SELECT count(*) FROM {t}"));
    assert_eq!(count("objects"), 40);
    assert_eq!(count("directus_revisions"), 60);
    assert_eq!(count("directus_activity"), 100);
    assert_eq!(count("birth_registry"), 30);

    // JSON as JavaScript writes it: minified, integral numbers without
    // ".0" (JSON.stringify(2.0) is "2").
    let texts = rows(
        "SELECT payload FROM objects UNION ALL SELECT data FROM directus_revisions
         UNION ALL SELECT delta FROM directus_revisions",
    );
    let mut numbers = 0;
    for t in texts.iter().filter_map(|r| r[0].as_deref()) {
        let v: Value = serde_json::from_str(t).unwrap();
        assert_eq!(t, rollproof::surface::json::stringify(&v), "{t}");
        numbers += t.matches("\"lat\":").count();
        for (i, _) in t.match_indices(".0") {
            let next = t[i + 2..].chars().next();
            assert!(
                !matches!(next, Some(',' | '}' | ']')),
                "an integral number written with .0 in {t}"
            );
        }
    }
    assert!(numbers > 0, "payloads carry numbers");
}

#[test]
fn every_collection_has_its_table_or_is_a_folder_without_fields_or_relations() {
    let w = Work::new();
    generate(&w, "s.db", &[]);
    let c = Connection::open(w.path("s.db")).unwrap();
    let bad: Vec<String> = c
        .prepare(
            "SELECT collection FROM directus_collections d
             WHERE NOT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = d.collection)
               AND (EXISTS (SELECT 1 FROM directus_fields f WHERE f.collection = d.collection)
                 OR EXISTS (SELECT 1 FROM directus_relations r
                            WHERE r.many_collection = d.collection OR r.one_collection = d.collection))",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(
        bad.is_empty(),
        "collections without a table but with fields or relations: {bad:?}"
    );
    let folders: i64 = one(
        &c,
        "SELECT count(*) FROM directus_collections d
         WHERE NOT EXISTS (SELECT 1 FROM sqlite_schema WHERE name = d.collection)",
    );
    assert!(folders > 0, "the tiny profile has a folder");
    // A field is a column of its collection's table, or an alias.
    let stray: i64 = one(
        &c,
        "SELECT count(*) FROM directus_fields f
         WHERE NOT EXISTS (SELECT 1 FROM pragma_table_info(f.collection) p WHERE p.name = f.field)
           AND (f.special IS NULL OR f.special NOT LIKE '%alias%')",
    );
    assert_eq!(stray, 0);
    // A relation's many field is a column of its table.
    let stray: i64 = one(
        &c,
        "SELECT count(*) FROM directus_relations r
         WHERE NOT EXISTS (SELECT 1 FROM pragma_table_info(r.many_collection) p WHERE p.name = r.many_field)",
    );
    assert_eq!(stray, 0);
}

/// A births scenario on the tiny surrogate, compensated `compensation`.
fn compensated(w: &Work, compensation: &str) -> (std::process::Output, std::path::PathBuf) {
    let profile = repo_file("surrogates/profiles/tiny.toml");
    let path = w.path(&format!("{compensation}.toml"));
    std::fs::write(
        &path,
        format!(
            "[scenario]\nname = \"dx-{compensation}\"\nexpect = \"PASS\"\n\
             [surrogate]\nprofile = \"{}\"\nseed = 5\n\
             [apply]\nkind = \"births\"\ncount = 25\n\
             [snapshot]\nmethod = \"copy\"\n\
             [rollback]\nmethod = \"compensate\"\ncompensation = \"{compensation}\"\n",
            profile.display()
        ),
    )
    .unwrap();
    let keep = w.path(&format!("keep-{compensation}"));
    let o = w.run(&[
        "rehearse",
        path.to_str().unwrap(),
        "--workspace",
        "ws",
        "--json",
        "--keep",
        keep.to_str().unwrap(),
    ]);
    (o, keep)
}

#[test]
fn births_compensated_as_directus_api_deletes_keep_their_history_and_the_report_says_so() {
    let w = Work::new();
    let (o, _keep) = compensated(&w, "api-delete");
    assert_success(&o);
    let r = only_report(&w, &o);
    assert_eq!(r["verdict"], "PASS");
    assert_eq!(r["rollback"]["compensation"], "api-delete");
    let c = check(&r, "restored_as_api_delete");
    assert_eq!(c["outcome"], "pass", "{c}");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("directus_activity +50"),
        "{c}"
    );
    assert!(
        r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "restored_logically"),
        "an API delete does not claim the before state back"
    );
    // The after-rollback file: 25 delete activities, no revision for them,
    // the births' create activity and revision kept, items and records gone.
    let db = std::path::PathBuf::from(r["artifacts"].as_str().unwrap()).join("after-rollback.db");
    let c = Connection::open(db).unwrap();
    let kept: i64 = one(
        &c,
        "SELECT count(*) FROM directus_activity d
         WHERE d.action = 'delete' AND d.collection = 'objects'
           AND NOT EXISTS (SELECT 1 FROM objects o WHERE o.id = d.item)
           AND NOT EXISTS (SELECT 1 FROM directus_revisions r WHERE r.activity = d.id)
           AND EXISTS (SELECT 1 FROM directus_activity a JOIN directus_revisions r ON r.activity = a.id
                       WHERE a.action = 'create' AND a.item = d.item)
           AND d.\"timestamp\" > (SELECT max(\"timestamp\") FROM directus_activity WHERE action = 'create')",
    );
    assert_eq!(kept, 25, "a delete per birth, after it, its create kept");
    // The report verifies: its checks recompute from its own numbers.
    let report = w
        .dir
        .path()
        .join(json_out(&o)["results"][0]["report"].as_str().unwrap());
    assert_success(&w.run(&["verify", report.to_str().unwrap()]));

    // Today's compensation is named too, and still removes the rows.
    let (o, _) = compensated(&w, "remove");
    assert_code(&o, 1); // expected PASS; sequences are not rewound
    let r = only_report(&w, &o);
    assert_eq!(r["rollback"]["compensation"], "remove");
    assert!(
        r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "restored_logically")
    );
}

#[test]
fn an_api_delete_compensation_only_goes_with_compensating_births() {
    let w = Work::new();
    let profile = repo_file("surrogates/profiles/tiny.toml");
    for (rollback, needle) in [
        (
            "method = \"restore\"\ncompensation = \"api-delete\"",
            "rollback.compensation",
        ),
        (
            "method = \"compensate\"\ncompensation = \"api-delete\"\nrewind_sequences = true",
            "rollback.rewind_sequences",
        ),
        (
            "method = \"compensate\"\ncompensation = \"undo\"",
            "compensation",
        ),
    ] {
        std::fs::write(
            w.path("s.toml"),
            format!(
                "[scenario]\nname = \"s\"\nexpect = \"PASS\"\n[surrogate]\nprofile = \"{}\"\n\
                 [apply]\nkind = \"births\"\ncount = 2\n[snapshot]\nmethod = \"copy\"\n[rollback]\n{rollback}\n",
                profile.display()
            ),
        )
        .unwrap();
        let o = w.run(&["rehearse", "s.toml", "--workspace", "ws"]);
        assert_code(&o, 2);
        assert!(stderr(&o).contains(needle), "{needle}: {}", stderr(&o));
    }
}

/// The `born_at` range of the births a rehearsal made, read from its kept
/// after-apply file.
fn births_span(w: &Work, r: &Value) -> (String, String) {
    let db = w
        .dir
        .path()
        .join(r["artifacts"].as_str().unwrap())
        .join("after-apply.db");
    let c = Connection::open(db).unwrap();
    let span: (String, String) = c
        .query_row(
            "SELECT min(born_at), max(born_at) FROM birth_registry WHERE object_uid LIKE 'OBJ-rollproof.%'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    span
}

#[test]
fn rehearsal_births_start_at_the_profiles_as_of_day() {
    let w = Work::new();
    let text = std::fs::read_to_string(repo_file("surrogates/profiles/tiny.toml")).unwrap();
    let dated = text.replacen(
        "format = 1\n",
        &format!("format = 1\nas_of = \"{AS_OF}\"\n"),
        1,
    );
    std::fs::write(w.path("dated.toml"), dated).unwrap();
    // A surrogate generated from the scenario's profile, and a file
    // generated with --as-of (its provenance record carries the day).
    generate(&w, "file.db", &["--as-of", AS_OF]);
    for (name, surrogate) in [
        ("dated-profile", "profile = \"dated.toml\"\nseed = 7"),
        ("dated-file", "file = \"file.db\""),
    ] {
        std::fs::write(
            w.path(&format!("{name}.toml")),
            format!(
                "[scenario]\nname = \"{name}\"\nexpect = \"PASS\"\n\
                 [surrogate]\n{surrogate}\n\
                 [apply]\nkind = \"births\"\ncount = 20\n\
                 [snapshot]\nmethod = \"copy\"\n[rollback]\nmethod = \"restore\"\n"
            ),
        )
        .unwrap();
        let o = w.run(&[
            "rehearse",
            &format!("{name}.toml"),
            "--workspace",
            "ws",
            "--json",
            "--keep",
            "keep",
        ]);
        assert_success(&o);
        let r = only_report(&w, &o);
        let (first, last) = births_span(&w, &r);
        // After the history (which ends before the as-of day), on that day.
        assert!(first.starts_with("2026-11-30T00:00:"), "{name}: {first}");
        assert!(last.starts_with("2026-11-30T00:00:"), "{name}: {last}");
    }
    // The default as-of day, 2026-07-01, for the unchanged profile.
    let (o, _keep) = compensated(&w, "api-delete");
    assert_success(&o);
    let (first, _) = births_span(&w, &only_report(&w, &o));
    assert!(first.starts_with("2026-07-01T00:00:"), "{first}");
}
