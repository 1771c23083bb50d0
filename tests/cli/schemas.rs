//! The sample schemas of `tests/fixtures/schemas/` (our own, see its
//! README): helpers that build them — a SQLite file in a test's work
//! directory, or a database in the shared throwaway PostgreSQL cluster —
//! and tests that the samples have the shapes they promise (views,
//! triggers, composite keys, self-references, a cycle, NULL-heavy columns).

use crate::util::*;
use rollproof::schema::{self, AutoFill, Schema};
use std::path::PathBuf;

/// The sample schemas, by directory name.
pub const SAMPLES: &[&str] = &["music", "trading", "film"];

/// The SQL of sample `name` in `dialect` ("sqlite" or "postgres").
pub fn sample_sql(name: &str, dialect: &str) -> String {
    let p = repo_file(&format!("tests/fixtures/schemas/{name}/{dialect}.sql"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Build sample `name` as `<name>.db` in the work directory (with its rows).
pub fn sample_sqlite(w: &Work, name: &str) -> PathBuf {
    let path = w.path(&format!("{name}.db"));
    let c = rusqlite::Connection::open(&path).expect("create sample db");
    c.execute_batch(&sample_sql(name, "sqlite"))
        .unwrap_or_else(|e| panic!("loading sample {name} into SQLite: {e}"));
    path
}

/// Create database `db` on the shared cluster, load sample `name` into it
/// (with its rows) and ANALYZE it, so its statistics are those production
/// would have. Returns the database's URL. `db` must not exist yet.
pub fn sample_pg(name: &str, db: &str) -> String {
    let mut admin = connect("postgres");
    admin
        .batch_execute(&format!("CREATE DATABASE \"{db}\""))
        .unwrap_or_else(|e| panic!("creating {db}: {e}"));
    let mut c = connect(db);
    c.batch_execute(&sample_sql(name, "postgres"))
        .unwrap_or_else(|e| panic!("loading sample {name} into PostgreSQL: {e}"));
    c.batch_execute("ANALYZE").expect("analyze");
    pg().url(db)
}

/// The schema of a SQLite database, read by rollproof's own reader.
fn read_sqlite(db: &std::path::Path) -> Schema {
    let c = rusqlite::Connection::open(db).unwrap();
    schema::sqlite::read(&c).unwrap()
}

#[test]
fn sqlite_samples_load_clean_and_have_the_promised_shapes() {
    let w = Work::new();
    for name in SAMPLES {
        let db = sample_sqlite(&w, name);
        let c = rusqlite::Connection::open(&db).unwrap();
        let violations: i64 = c
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(violations, 0, "{name}: foreign-key violations");
        let s = read_sqlite(&db);
        let n = s.tables.len();
        assert!((10..=16).contains(&n), "{name}: {n} tables");
        assert!(s.views.len() >= 2, "{name}: views");
        assert!(!s.triggers.is_empty(), "{name}: triggers");
        assert!(!s.indexes.is_empty(), "{name}: indexes");
        assert!(
            s.tables.iter().any(|t| t.primary_key.len() > 1),
            "{name}: composite key"
        );
        assert!(
            s.tables
                .iter()
                .any(|t| t.foreign_keys.iter().any(|fk| fk.is_self_reference(t))),
            "{name}: self-reference"
        );
        assert!(
            s.tables.iter().any(|t| t.without_rowid),
            "{name}: WITHOUT ROWID"
        );
        assert!(
            s.tables
                .iter()
                .flat_map(|t| &t.columns)
                .any(|c| c.auto == Some(AutoFill::Autoincrement)),
            "{name}: AUTOINCREMENT"
        );
        for t in &s.tables {
            let rows: i64 = c
                .query_row(&format!("SELECT count(*) FROM \"{}\"", t.name), [], |r| {
                    r.get(0)
                })
                .unwrap();
            assert!(rows > 0, "{name}.{}: no rows", t.name);
        }
    }
    // film's store and staff reference each other, deferred.
    let film = read_sqlite(&w.path("film.db"));
    let deferred: Vec<&str> = film
        .tables
        .iter()
        .filter(|t| t.foreign_keys.iter().any(|fk| fk.initially_deferred))
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(deferred, vec!["staff", "store"]);
}

#[test]
fn postgres_samples_load_into_a_throwaway_cluster() {
    for name in SAMPLES {
        let db = format!("sample_load_{name}");
        sample_pg(name, &db);
        let mut c = connect(&db);
        let tables: i64 = c
            .query_one(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')",
                &[],
            )
            .unwrap()
            .get(0);
        assert!((10..=16).contains(&tables), "{name}: {tables} tables");
        let functions: i64 = c
            .query_one(
                "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')",
                &[],
            )
            .unwrap()
            .get(0);
        assert!(functions >= 1, "{name}: functions");
        // The same rows as the SQLite version.
        let w = Work::new();
        let path = sample_sqlite(&w, name);
        let lite = rusqlite::Connection::open(&path).unwrap();
        let s = read_sqlite(&path);
        for t in &s.tables {
            let qualified = if *name == "music" && t.name == "price_change" {
                "audit.price_change".to_string()
            } else {
                format!("public.\"{}\"", t.name)
            };
            let on_pg: i64 = c
                .query_one(&format!("SELECT count(*) FROM {qualified}"), &[])
                .unwrap()
                .get(0);
            let on_lite: i64 = lite
                .query_row(&format!("SELECT count(*) FROM \"{}\"", t.name), [], |r| {
                    r.get(0)
                })
                .unwrap();
            assert_eq!(on_pg, on_lite, "{name}.{}", t.name);
        }
    }
}

/// The schema of a database on the shared cluster, read read-only.
fn read_pg(db: &str) -> rollproof::schema::postgres::Read {
    let mut c = connect(db);
    c.batch_execute("SET search_path = public").unwrap();
    let mut tx = schema::postgres::read_only(&mut c).unwrap();
    let r = schema::postgres::read(&mut tx).unwrap();
    tx.commit().unwrap();
    r
}

#[test]
fn sqlite_schemas_round_trip_and_cross_to_postgres() {
    use rollproof::schema::render;
    let w = Work::new();
    for name in SAMPLES {
        let s = read_sqlite(&sample_sqlite(&w, name));
        let r = render::render(&s, schema::Dialect::Sqlite);
        assert!(r.skipped.is_empty(), "{name}: {:?}", r.skipped);
        let fresh = rusqlite::Connection::open_in_memory().unwrap();
        render::sqlite::load(&fresh, &r).unwrap();
        assert_eq!(schema::sqlite::read(&fresh).unwrap(), s, "{name}");

        let db = format!("render_from_sqlite_{name}");
        connect("postgres")
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .unwrap();
        let r = render::render(&s, schema::Dialect::Postgres);
        let skipped = render::postgres::load(&mut connect(&db), &r)
            .unwrap_or_else(|e| panic!("{name}: {e}\n{}", r.script()));
        // SQLite trigger bodies cannot cross. SQLite expressions PostgreSQL
        // rejects (trading: round(double precision, int) in a generated
        // column) are not translated yet: the table is created without
        // them and each is named.
        for k in &skipped {
            assert!(
                k.kind == "trigger"
                    || k.kind == "check"
                    || (k.kind == "table" && k.reason.starts_with("created without")),
                "{name}: {k:?}"
            );
        }
        if *name != "trading" {
            assert!(
                skipped.iter().all(|k| k.kind == "trigger"),
                "{name}: {skipped:?}"
            );
        }
        let back = read_pg(&db).schema;
        assert_eq!(back.tables.len(), s.tables.len(), "{name}");
        assert_eq!(back.views.len(), s.views.len(), "{name}: views");
    }
}

#[test]
fn postgres_schemas_round_trip_and_cross_to_sqlite() {
    use rollproof::schema::render;
    for name in SAMPLES {
        let db = format!("render_src_{name}");
        sample_pg(name, &db);
        let read = read_pg(&db);
        assert!(read.unmodelled.is_empty(), "{name}: {:?}", read.unmodelled);
        let s = read.schema;
        assert!(!s.routines.is_empty() && !s.triggers.is_empty(), "{name}");
        let r = render::render(&s, schema::Dialect::Postgres);
        assert!(r.skipped.is_empty(), "{name}: {:?}", r.skipped);
        let copy = format!("render_copy_{name}");
        connect("postgres")
            .batch_execute(&format!("CREATE DATABASE {copy}"))
            .unwrap();
        let skipped = render::postgres::load(&mut connect(&copy), &r)
            .unwrap_or_else(|e| panic!("{name}: {e}\n{}", r.script()));
        assert!(skipped.is_empty(), "{name}: {skipped:?}");
        assert_eq!(
            read_pg(&copy).schema,
            s,
            "{name}: read → render → load → read"
        );

        let r = render::render(&s, schema::Dialect::Sqlite);
        let lite = rusqlite::Connection::open_in_memory().unwrap();
        let skipped = render::sqlite::load(&lite, &r)
            .unwrap_or_else(|e| panic!("{name}: {e}\n{}", r.script()));
        // Functions and triggers cannot cross, and are named.
        for k in &skipped {
            assert!(
                ["function", "procedure", "trigger", "extension"].contains(&k.kind.as_str()),
                "{name}: {k:?}\n{}",
                r.script()
            );
        }
        assert!(skipped.iter().any(|k| k.kind == "trigger"), "{name}");
        let back = schema::sqlite::read(&lite).unwrap();
        assert_eq!(back.tables.len(), s.tables.len(), "{name}");
        assert_eq!(back.views.len(), s.views.len(), "{name}: views");
        assert_eq!(back.indexes.len(), s.indexes.len(), "{name}: indexes");
    }
}
