//! `rollproof profile` and `rollproof fidelity` on schemas that are not
//! ours: the sample schemas of `tests/fixtures/schemas/` (views, triggers,
//! composite keys, self-references, a cycle) from a SQLite file, a live
//! PostgreSQL database and a PostgreSQL schema-only dump plus statistics.
//! What a profile may hold is checked value by value; a surrogate
//! generated from each profile must score at least 90.

use crate::profile::{schema_sql, text_values, toml_strings};
use crate::schemas::{SAMPLES, sample_pg, sample_sqlite};
use crate::util::*;
use rollproof::profile::Profile;
use std::collections::BTreeSet;
use std::path::Path;

/// Run `profile` with `args`, expect success, return the profile.
fn profile_ok(w: &Work, args: &[&str]) -> (Profile, String) {
    let o = w.run(args);
    assert_success(&o);
    let out = args[args.iter().position(|a| *a == "--out").unwrap() + 1];
    let text = std::fs::read_to_string(w.path(out)).unwrap();
    let p = Profile::load(&w.path(out)).unwrap_or_else(|e| panic!("{e}\n{text}"));
    (p, text)
}

/// The overall fidelity score of `db` against `profile`, through the CLI.
fn fidelity(w: &Work, db: &str, profile: &str) -> serde_json::Value {
    let o = w.run(&["fidelity", db, "--profile", profile, "--json"]);
    assert_success(&o);
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Generate a surrogate of a format-2 SQLite profile at `out` with the
/// generic engine, from the profile alone.
fn generate_from(p: &Profile, out: &Path, seed: u64) {
    use rollproof::generate::{FillStats, SchemaJob, generate_schema};
    let schema = p.schema.as_ref().expect("format 2");
    let stats = FillStats::from(p);
    let rows = stats.row_counts(1.0);
    let job = SchemaJob {
        schema,
        stats: &stats,
        rows: &rows,
        seed,
        scale: 1.0,
        profile_sha256: "0000",
    };
    generate_schema(&job, out, false).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
}

/// Every row value of `db` that is not also an identifier or a DDL literal
/// must be absent from the profile text (as a TOML string, and verbatim
/// when long enough not to match by chance).
fn assert_no_row_values(db: &Path, text: &str, ddl: &str) {
    let mut strings = BTreeSet::new();
    toml_strings(
        &toml::Value::Table(toml::from_str(text).unwrap()),
        &mut strings,
    );
    let values = text_values(db);
    assert!(values.len() > 50, "{}: too few values", db.display());
    for v in values.iter().filter(|v| !ddl.contains(v.as_str())) {
        let long = v.len() >= 6 && text.contains(v.as_str());
        assert!(
            !strings.contains(v) && !long,
            "{}: row value {v:?} appears in the profile",
            db.display()
        );
    }
}

#[test]
fn sqlite_samples_profile_value_free_and_regenerate_above_90() {
    let w = Work::new();
    for name in SAMPLES {
        let db = sample_sqlite(&w, name);
        let before = sha256_file(&db);
        let out = format!("{name}.toml");
        let db_arg = db.to_str().unwrap();
        let (p, text) = profile_ok(&w, &["profile", db_arg, "--out", &out]);
        assert_eq!(
            sha256_file(&db),
            before,
            "{name}: profiling changed the input"
        );
        assert_eq!(p.profile.format, 2);
        let schema = p.schema.as_ref().unwrap();
        assert_eq!(p.tables.len(), schema.tables.len(), "{name}");
        assert!(!schema.views.is_empty() && !schema.triggers.is_empty());
        assert!(
            p.tables.values().any(|t| !t.fanout.is_empty()),
            "{name}: no fan-out"
        );
        assert!(
            !text.contains("categories") && !text.contains("range"),
            "{name}: values without --allow-*"
        );
        assert_no_row_values(&db, &text, &schema_sql(&db));

        // The database itself matches its profile (up to the rounding of
        // ratios to 4 decimals).
        let own = fidelity(&w, db_arg, &out);
        let own = own["score"].as_f64().unwrap();
        assert!(own >= 99.9, "{name}: its own profile scored {own}");

        // A surrogate generated from the profile alone scores ≥ 90.
        let s = w.path(&format!("{name}-surrogate.db"));
        generate_from(&p, &s, 7);
        let again = fidelity(&w, s.to_str().unwrap(), &out);
        let score = again["score"].as_f64().unwrap();
        assert!(score >= 90.0, "{name}: surrogate scored {score}\n{again:#}");
        eprintln!("{name}: surrogate fidelity {score}");
    }
}

#[test]
fn an_empty_database_is_an_error_not_an_empty_profile() {
    let w = Work::new();
    let db = w.path("empty.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE VIEW v AS SELECT 1 AS one;")
        .unwrap();
    let o = w.run(&["profile", "empty.db", "--out", "e.toml"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("empty.db"), "{}", stderr(&o));
    assert!(!w.path("e.toml").exists());
}

/// Run the statistics query `profile --stats-query` prints on `db`, as
/// an operator would with psql, and write its JSON to `out`.
fn take_stats(w: &Work, db: &str, out: &str, extra: &[&str]) {
    let mut args = vec!["profile", "--stats-query"];
    args.extend_from_slice(extra);
    let o = w.run(&args);
    assert_success(&o);
    let query = stdout(&o);
    let doc: String = connect(db).query_one(query.as_str(), &[]).unwrap().get(0);
    std::fs::write(w.path(out), doc).unwrap();
}

/// A schema-only dump of `db` on the shared cluster, as plain SQL.
fn schema_dump(w: &Work, db: &str, out: &str) {
    let bin = std::path::Path::new("/usr/lib/postgresql/15/bin/pg_dump");
    let o = std::process::Command::new(bin)
        .args(["--schema-only", "--no-owner", "-f"])
        .arg(w.path(out))
        .arg(pg().url(db))
        .output()
        .expect("run pg_dump");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn postgres_samples_profile_by_url_and_by_dump_alike_and_never_read_values() {
    let w = Work::new();
    for name in SAMPLES {
        let db = format!("open_profile_{name}");
        let url = sample_pg(name, &db);
        let out = format!("{name}-url.toml");
        let (p, text) = profile_ok(&w, &["profile", "--url", &url, "--out", &out]);
        assert_eq!(p.profile.source.as_deref(), Some("postgres"));
        let schema = p.schema.as_ref().unwrap();
        assert!(!schema.routines.is_empty(), "{name}: functions");
        assert!(!schema.sequences.is_empty(), "{name}: sequences");
        assert!(!schema.triggers.is_empty() && !schema.views.is_empty());
        assert_eq!(p.tables.len(), schema.tables.len(), "{name}");
        assert!(p.tables.values().all(|t| t.rows > 0), "{name}: row counts");
        // pg_stats' most-common values and histogram bounds stay out.
        assert!(
            !text.contains("categories") && !text.contains("range"),
            "{name}"
        );
        let lite = sample_sqlite(&w, name);
        // The fixture's DDL comes before its first row.
        let sql = crate::schemas::sample_sql(name, "postgres");
        let ddl = &sql[..sql.find("\nINSERT INTO").expect("rows")];
        assert_no_row_values(&lite, &text, ddl);

        // The same database through a schema-only dump plus statistics.
        schema_dump(&w, &db, &format!("{name}.sql"));
        take_stats(&w, &db, &format!("{name}-stats.json"), &[]);
        let dumped = format!("{name}-dump.toml");
        let (d, _) = profile_ok(
            &w,
            &[
                "profile",
                "--schema-dump",
                &format!("{name}.sql"),
                "--stats",
                &format!("{name}-stats.json"),
                "--out",
                &dumped,
            ],
        );
        assert_eq!(d.profile.source.as_deref(), Some("postgres-dump"));
        assert_eq!(d.schema, p.schema, "{name}: dump and URL schemas differ");
        assert_eq!(d.tables, p.tables, "{name}: dump and URL statistics differ");
    }
}

#[test]
fn a_postgres_url_must_name_a_local_server() {
    let w = Work::new();
    let o = w.run(&[
        "profile",
        "--url",
        "postgres://me@db.example.com/shop",
        "--out",
        "x.toml",
    ]);
    assert_code(&o, 3);
    assert!(stderr(&o).contains("db.example.com"), "{}", stderr(&o));
    assert!(!w.path("x.toml").exists());
}

/// `generate --profile P --target-url URL --json`: the report.
fn generate_pg(w: &Work, profile: &str, seed: u64, db: &str) -> serde_json::Value {
    let url = pg().url(db);
    let seed = seed.to_string();
    let o = w.run(&[
        "generate",
        "--profile",
        profile,
        "--seed",
        &seed,
        "--target-url",
        &url,
        "--force",
        "--json",
    ]);
    assert_success(&o);
    serde_json::from_slice(&o.stdout).unwrap()
}

/// (foreign keys, triggers, views, unique indexes) of a database, from the
/// catalog.
fn pg_shape(db: &str) -> Vec<i64> {
    let mut c = connect(db);
    [
        "SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
         WHERE contype = 'f' AND nspname NOT IN ('pg_catalog', 'information_schema')",
        "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal",
        "SELECT count(*) FROM pg_views WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
        "SELECT count(*) FROM pg_indexes i JOIN pg_class c ON c.relname = i.indexname
         JOIN pg_index x ON x.indexrelid = c.oid
         WHERE x.indisunique AND schemaname NOT IN ('pg_catalog', 'information_schema', 'rollproof_meta')",
    ]
    .iter()
    .map(|q| c.query_one(*q, &[]).unwrap().get(0))
    .collect()
}

/// #14 §2: a format-2 profile of each PostgreSQL sample (functions,
/// sequences, identity columns, enums, domains, views, triggers) and of a
/// SQLite one generates into a new PostgreSQL database: the profile's row
/// counts, every foreign key, trigger, view and unique index in place (so
/// every constraint held over the generated rows), the same logical hash
/// for the same profile and seed, another for another seed; a key column's
/// sequence continues after the generated rows.
#[test]
fn format_2_profiles_generate_into_postgres_deterministically() {
    let w = Work::new();
    for name in SAMPLES {
        let src = format!("gen_pg_src_{name}");
        let url = sample_pg(name, &src);
        let profile = format!("{name}-pg.toml");
        let (p, _) = profile_ok(&w, &["profile", "--url", &url, "--out", &profile]);
        let a = format!("rollproof_gpg_{name}_a");
        let ra = generate_pg(&w, &profile, 5, &a);
        for (table, t) in &p.tables {
            assert_eq!(ra["rows"][table], t.rows, "{name}: {table}: {ra}");
        }
        assert_eq!(
            pg_shape(&a),
            pg_shape(&src),
            "{name}: constraints, triggers, views"
        );
        let rb = generate_pg(&w, &profile, 5, &format!("rollproof_gpg_{name}_b"));
        assert_eq!(
            ra["logical"]["sha256"], rb["logical"]["sha256"],
            "{name}: same seed"
        );
        let rc = generate_pg(&w, &profile, 6, &format!("rollproof_gpg_{name}_c"));
        assert_ne!(
            ra["logical"]["sha256"], rc["logical"]["sha256"],
            "{name}: another seed"
        );
        // What `hash --target-url` reads is what generate reported.
        let o = w.run(&["hash", "--target-url", &pg().url(&a), "--json"]);
        assert_success(&o);
        let h: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(h["logical"]["sha256"], ra["logical"]["sha256"], "{name}");
    }
    // A SQLite schema crosses too (its triggers are SQLite's: reported).
    let lite = sample_sqlite(&w, "music");
    let (p, _) = profile_ok(
        &w,
        &[
            "profile",
            lite.to_str().unwrap(),
            "--out",
            "music-lite.toml",
        ],
    );
    let r = generate_pg(&w, "music-lite.toml", 5, "rollproof_gpg_lite");
    for (table, t) in &p.tables {
        assert_eq!(r["rows"][table], t.rows, "music (SQLite): {table}");
    }
}

/// The guard holds for format-2 profiles too: only a `rollproof_` database
/// on a local server (exit 3), and a database rollproof did not make is
/// never replaced, --force or not.
#[test]
fn format_2_generation_into_postgres_is_guarded() {
    let w = Work::new();
    let lite = sample_sqlite(&w, "film");
    let profile = "film.toml";
    profile_ok(&w, &["profile", lite.to_str().unwrap(), "--out", profile]);
    for url in [
        pg().url("film"),
        "postgres://me@db.example.com/rollproof_film".to_string(),
    ] {
        let o = w.run(&["generate", "--profile", profile, "--target-url", &url]);
        assert_code(&o, 3);
    }
    let mut admin = connect("postgres");
    admin
        .batch_execute("DROP DATABASE IF EXISTS rollproof_gpg_foreign")
        .unwrap();
    admin
        .batch_execute("CREATE DATABASE rollproof_gpg_foreign")
        .unwrap();
    let url = pg().url("rollproof_gpg_foreign");
    let o = w.run(&[
        "generate",
        "--profile",
        profile,
        "--target-url",
        &url,
        "--force",
    ]);
    assert_code(&o, 3);
    let tables: i64 = connect("rollproof_gpg_foreign")
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 0, "the foreign database was not touched");
}

/// #14 §5: an up/down pair rehearses on a surrogate generated from a
/// format-2 profile, on both backends: the music sample's PostgreSQL
/// profile on SQLite and on PostgreSQL (generated straight into the run's
/// database), its SQLite profile on SQLite. The up script's INSERT without
/// a key needs the sequences set past the generated rows.
#[test]
fn up_and_down_sql_rehearse_on_format_2_surrogates_on_both_backends() {
    let w = Work::new();
    let url = sample_pg("music", "open_rehearse_music");
    profile_ok(&w, &["profile", "--url", &url, "--out", "music-pg.toml"]);
    let lite = sample_sqlite(&w, "music");
    profile_ok(
        &w,
        &[
            "profile",
            lite.to_str().unwrap(),
            "--out",
            "music-lite.toml",
        ],
    );
    std::fs::write(
        w.path("music.up.sql"),
        "INSERT INTO artist(name) VALUES ('rollproof rehearsal artist');\n\
         INSERT INTO album(title, artist_id) SELECT 'first light', max(artist_id) FROM artist;\n",
    )
    .unwrap();
    // Compensated by a down script: a change that moves no AUTOINCREMENT
    // counter (a down script cannot rewind one).
    std::fs::write(
        w.path("rename.up.sql"),
        "UPDATE artist SET name = name || ' (live)' WHERE artist_id <= 3;\n",
    )
    .unwrap();
    std::fs::write(
        w.path("rename.down.sql"),
        "UPDATE artist SET name = substr(name, 1, length(name) - 7) WHERE artist_id <= 3;\n",
    )
    .unwrap();
    let cases = [
        ("music-pg.toml", true, "restore"),
        ("music-pg.toml", false, "compensate"),
        ("music-lite.toml", false, "restore"),
    ];
    for (i, (profile, on_pg, rollback)) in cases.into_iter().enumerate() {
        let (snapshot, url) = if on_pg {
            (
                "template",
                format!("url = \"{}\"\n", pg().url("rollproof_open_music")),
            )
        } else {
            ("copy", String::new())
        };
        let (apply, down) = if rollback == "compensate" {
            ("up = \"rename.up.sql\"\n", "down = \"rename.down.sql\"\n")
        } else {
            (
                "up = \"music.up.sql\"\n[apply.expect_rows]\nartist = 1\nalbum = 1\n",
                "",
            )
        };
        let sc = w.path(&format!("music-{i}.toml"));
        std::fs::write(
            &sc,
            format!(
                "[scenario]\nname = \"music-{i}\"\nexpect = \"PASS\"\n\
                 [surrogate]\nprofile = \"{profile}\"\nseed = 4\n{url}\
                 [apply]\nkind = \"sql\"\n{apply}\
                 [snapshot]\nmethod = \"{snapshot}\"\n[rollback]\nmethod = \"{rollback}\"\n{down}"
            ),
        )
        .unwrap();
        let (o, report) = crate::scripts::rehearse_one(&w, &sc);
        let report = report.unwrap_or_else(|| panic!("{profile}: {}", stderr(&o)));
        assert_success(&o);
        assert_eq!(
            report["verdict"], "PASS",
            "{profile} {rollback}: {report:#}"
        );
        assert_eq!(report["backend"], if on_pg { "postgres" } else { "sqlite" });
        assert_success(&crate::scripts::verify_report(&w, &o));
    }
}

/// #14 §2: a PostgreSQL CHECK with a regular expression (`code ~ '^…$'`,
/// also on a UNIQUE column, and `~*`) is followed, not only judged: before,
/// PostgreSQL rejected the first generated row ("violates check constraint
/// warehouse_code_check") and the generation failed. The schema is our own.
#[test]
fn postgres_regex_checks_are_followed_by_the_generated_values() {
    let w = Work::new();
    let mut admin = connect("postgres");
    admin
        .batch_execute("DROP DATABASE IF EXISTS open_regex_src")
        .unwrap();
    admin
        .batch_execute("CREATE DATABASE open_regex_src")
        .unwrap();
    connect("open_regex_src")
        .batch_execute(
            "CREATE TABLE warehouse (
               id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
               code text NOT NULL UNIQUE CHECK (code ~ '^[A-Z]{3}[0-9]{2}$'),
               region text CHECK (region ~* '^(eu|us)-[a-z]+-[0-9]$'),
               parent_id int REFERENCES warehouse(id));
             INSERT INTO warehouse (code, region)
               SELECT 'AMS' || lpad(g::text, 2, '0'), 'eu-west-' || (g % 9)
               FROM generate_series(1, 40) g;
             ANALYZE;",
        )
        .unwrap();
    let src = pg().url("open_regex_src");
    profile_ok(&w, &["profile", "--url", &src, "--out", "regex.toml"]);
    let out = generate_pg(&w, "regex.toml", 5, "rollproof_open_regex");
    assert_eq!(out["rows"]["warehouse"], 40, "{out}");
    let rows = connect("rollproof_open_regex")
        .query("SELECT code, region FROM warehouse", &[])
        .unwrap();
    assert_eq!(rows.len(), 40);
    let code = regex::Regex::new("^[A-Z]{3}[0-9]{2}$").unwrap();
    let region = regex::Regex::new("(?i)^(eu|us)-[a-z]+-[0-9]$").unwrap();
    for r in rows {
        let c: String = r.get(0);
        assert!(code.is_match(&c), "{c}");
        if let Some(g) = r.get::<_, Option<String>>(1) {
            assert!(region.is_match(&g), "{g}");
        }
    }
}
