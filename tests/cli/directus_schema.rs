//! The surrogate's Directus part equals the description taken from a real
//! Directus 12.4.1 bootstrap (`surrogates/directus/directus-12.4.1.toml`,
//! issue #15), and production's own tables equal their one description
//! (`surrogates/surface/production.toml`, issue #14 §3), on both backends:
//! the surrogate is generated through the CLI and read back through
//! `rollproof profile`, so what is compared is what a user gets, not the
//! DDL rollproof meant to write.

use crate::util::*;
use rollproof::profile::Profile;
use rollproof::schema::render::types::pg_to_sqlite;
use rollproof::schema::{AutoFill, Index, Schema, Sequence, Table};
use std::collections::BTreeSet;

const DESCRIPTION: &str = "surrogates/directus/directus-12.4.1.toml";
const PRODUCTION: &str = "surrogates/surface/production.toml";

/// The description, read from the committed files (not from the copies the
/// binary compiled in, so the two cannot differ unnoticed): Directus's
/// tables, then production's own.
fn description() -> Schema {
    let p = Profile::load(&repo_file(DESCRIPTION)).expect("the Directus description");
    let mut s = p.schema.expect("[schema]");
    #[derive(serde::Deserialize)]
    struct Model {
        schema: Schema,
    }
    let text = std::fs::read_to_string(repo_file(PRODUCTION)).unwrap();
    let own = toml::from_str::<Model>(&text)
        .expect("the production description")
        .schema;
    s.tables.extend(own.tables);
    s.indexes.extend(own.indexes);
    s.sequences.extend(own.sequences);
    s
}

/// Production's own tables, the rest of the surface.
const OWN: [&str; 2] = ["birth_registry", "objects"];

/// `objects` as Directus's API creates a collection (docs/SURFACE.md,
/// measured on Directus 12.4.1): id, status, user_created, date_created,
/// user_updated, date_updated, then the collection's own fields.
const OBJECTS_COLUMNS: [&str; 9] = [
    "id",
    "status",
    "user_created",
    "date_created",
    "user_updated",
    "date_updated",
    "kind",
    "key",
    "payload",
];

fn column_names<'a>(s: &'a Schema, table: &str) -> Vec<&'a str> {
    let t = s.table(table).unwrap_or_else(|| panic!("no table {table}"));
    t.columns.iter().map(|c| c.name.as_str()).collect()
}

/// `rollproof profile ARGS… --out OUT` and the schema it wrote.
fn profiled(w: &Work, args: &[&str], out: &str) -> Schema {
    let mut all = vec!["profile"];
    all.extend_from_slice(args);
    all.extend(["--out", out]);
    let o = w.run(&all);
    assert_success(&o);
    Profile::load(&w.path(out))
        .expect("profile output")
        .schema
        .expect("[schema]")
}

/// A table (or an index or sequence named after its table) of the modeled
/// surface: Directus's or production's own.
fn is_modeled(name: &str) -> bool {
    name.starts_with("directus_")
        || OWN
            .iter()
            .any(|t| name.starts_with(&format!("{t}_")) || name == *t)
}

fn modeled_tables(s: &Schema) -> Vec<&Table> {
    let mut t: Vec<&Table> = s.tables.iter().filter(|t| is_modeled(&t.name)).collect();
    t.sort_by(|a, b| a.name.cmp(&b.name));
    t
}

fn modeled_indexes(s: &Schema) -> Vec<&Index> {
    let mut i: Vec<&Index> = s.indexes.iter().filter(|i| is_modeled(&i.table)).collect();
    i.sort_by(|a, b| a.name.cmp(&b.name));
    i
}

fn modeled_sequences(s: &Schema) -> Vec<&Sequence> {
    let mut q: Vec<&Sequence> = s.sequences.iter().filter(|q| is_modeled(&q.name)).collect();
    q.sort_by(|a, b| a.name.cmp(&b.name));
    q
}

#[test]
fn postgres_surrogate_has_exactly_the_directus_bootstrap_schema() {
    let w = Work::new();
    let db = "rollproof_directus_schema";
    let profile = repo_file("surrogates/profiles/tiny.toml");
    let url = pg().url(db);
    let o = w.run(&[
        "generate",
        "--profile",
        profile.to_str().unwrap(),
        "--target-url",
        &url,
        "--seed",
        "7",
    ]);
    assert_success(&o);
    let got = profiled(&w, &["--url", &url], "pg.toml");
    let want = description();
    assert_eq!(column_names(&got, "objects"), OBJECTS_COLUMNS);
    assert_eq!(modeled_tables(&want).len(), 33 + OWN.len());
    // Tables field for field: columns in Directus's order, types,
    // defaults, NOT NULL, serial ids, keys and their names, foreign keys
    // with their actions; and nothing Directus does not create.
    let (g, e) = (modeled_tables(&got), modeled_tables(&want));
    assert_eq!(g.len(), e.len(), "directus tables");
    for (g, e) in g.iter().zip(&e) {
        assert_eq!(g, e, "table {}", e.name);
    }
    assert_eq!(modeled_indexes(&got), modeled_indexes(&want));
    assert_eq!(modeled_sequences(&got), modeled_sequences(&want));
    // Directus creates no functions, triggers or views: the only routine
    // is production's own fn_birth_register.
    let routines: Vec<&str> = got.routines.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(routines, vec!["fn_birth_register"]);
    assert!(got.triggers.is_empty() && got.views.is_empty());
    // Production's own additions are the only other tables.
    let others: BTreeSet<&str> = got
        .tables
        .iter()
        .map(|t| t.name.as_str())
        .filter(|n| !is_modeled(n))
        .collect();
    assert!(others.is_empty(), "{others:?}");
    // The migrations Directus checks on start.
    let versions: Vec<String> = connect(db)
        .query(
            "SELECT version FROM directus_migrations ORDER BY version",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let tsv = std::fs::read_to_string(repo_file(
        "surrogates/directus/directus-12.4.1-migrations.tsv",
    ))
    .unwrap();
    let expected: Vec<String> = tsv
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect();
    assert_eq!(versions.len(), 109);
    assert_eq!(versions, expected);
}

/// One foreign key as comparable text (SQLite keeps no constraint names).
fn fk_shape(t: &Table) -> BTreeSet<String> {
    t.foreign_keys
        .iter()
        .map(|f| {
            format!(
                "({}) -> {}({}) on delete {} on update {}",
                f.columns.join(","),
                f.ref_table,
                f.ref_columns.join(","),
                f.on_delete,
                f.on_update
            )
        })
        .collect()
}

#[test]
fn sqlite_surrogate_has_the_directus_bootstrap_schema_in_the_nearest_types() {
    let w = Work::new();
    let db = w.tiny("s.db", 7);
    let got = profiled(&w, &[db.to_str().unwrap()], "lite.toml");
    let want = description();
    assert_eq!(column_names(&got, "objects"), OBJECTS_COLUMNS);
    let (g, e) = (modeled_tables(&got), modeled_tables(&want));
    let names = |v: &[&Table]| v.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&g), names(&e));
    for (g, e) in g.iter().zip(&e) {
        let cols = |t: &Table| t.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        assert_eq!(cols(g), cols(e), "{}: columns in Directus's order", e.name);
        for (gc, ec) in g.columns.iter().zip(&e.columns) {
            let at = format!("{}.{}", e.name, ec.name);
            let serial_key = ec.auto.is_some() && e.primary_key == [ec.name.clone()];
            let ty = if serial_key {
                "INTEGER".to_string()
            } else {
                pg_to_sqlite(&want, &ec.sql_type).sql_type
            };
            assert_eq!(gc.sql_type, ty, "{at}: type");
            if serial_key {
                assert_eq!(gc.auto, Some(AutoFill::Autoincrement), "{at}: serial key");
            } else {
                assert_eq!(gc.not_null, ec.not_null, "{at}: NOT NULL");
            }
            let has_default = ec
                .default
                .as_deref()
                .is_some_and(|d| !d.starts_with("nextval("));
            assert_eq!(gc.default.is_some(), has_default, "{at}: default");
        }
        assert_eq!(g.primary_key, e.primary_key, "{}: primary key", e.name);
        let uniques = |t: &Table| {
            t.uniques
                .iter()
                .map(|u| u.columns.join(","))
                .collect::<BTreeSet<_>>()
        };
        assert_eq!(uniques(g), uniques(e), "{}: unique keys", e.name);
        assert_eq!(fk_shape(g), fk_shape(e), "{}: foreign keys", e.name);
        // Directus creates no CHECK; production's own table keeps its one.
        assert_eq!(g.checks.len(), e.checks.len(), "{}: checks", e.name);
    }
    let idx = |s: &Schema| {
        modeled_indexes(s)
            .iter()
            .map(|i| (i.name.clone(), i.table.clone(), i.columns.clone(), i.unique))
            .collect::<Vec<_>>()
    };
    assert_eq!(idx(&got), idx(&want));
    let c = rusqlite::Connection::open(&db).unwrap();
    let n: i64 = c
        .query_row("SELECT count(*) FROM directus_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 109);
    // Directus lists the collection's fields in its column order.
    let mut stmt = c
        .prepare("SELECT field FROM directus_fields WHERE collection = 'objects' ORDER BY sort")
        .unwrap();
    let fields: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let fields: Vec<&str> = fields
        .iter()
        .map(String::as_str)
        .filter(|f| OBJECTS_COLUMNS.contains(f))
        .collect();
    assert_eq!(fields, OBJECTS_COLUMNS);
}
