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
