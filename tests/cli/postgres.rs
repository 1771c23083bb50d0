//! PostgreSQL backend, end to end against a real server: one throwaway
//! cluster per test-binary run (initdb in a temp dir, a free loopback port,
//! its socket in the temp dir), shared by these tests and shut down by the
//! kernel when the test binary exits (see `rollproof::engine::postgres::cluster`).
//! These tests never skip: without a PostgreSQL server they fail and say
//! what is missing.

use crate::util::*;
use std::collections::BTreeMap;

pub(crate) fn exists(db: &str) -> bool {
    connect("postgres")
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&db])
        .unwrap()
        .is_some()
}

/// `rollproof generate --target-url` of the tiny profile; returns its JSON.
fn generate_pg(w: &Work, db: &str, seed: u64, extra: &[&str]) -> serde_json::Value {
    let profile = repo_file("surrogates/profiles/tiny.toml");
    let url = pg().url(db);
    let mut args = vec![
        "generate",
        "--profile",
        profile.to_str().unwrap(),
        "--target-url",
        &url,
        "--json",
    ];
    let seed = seed.to_string();
    args.extend(["--seed", &seed]);
    args.extend(extra);
    let o = w.run(&args);
    assert_success(&o);
    serde_json::from_slice(&o.stdout).expect("generate --json output")
}

fn tables(v: &serde_json::Value) -> BTreeMap<String, serde_json::Value> {
    v["tables"]
        .as_object()
        .expect("tables")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Per-table digests of a SQLite file, surface tables and sequences only
/// (the SQLite file also carries its own provenance table).
fn sqlite_tables(path: &std::path::Path) -> BTreeMap<String, serde_json::Value> {
    let d = rollproof::engine::sqlite::logical::digest_file(path).expect("sqlite digest");
    d.tables
        .into_iter()
        .filter(|(t, _)| {
            rollproof::surface::tables().contains(&t.as_str()) || t == "sqlite_sequence"
        })
        .map(|(t, d)| (t, serde_json::to_value(d).unwrap()))
        .collect()
}

#[test]
fn generate_on_postgres_has_the_same_content_as_sqlite() {
    let w = Work::new();
    let lite = w.tiny("s.db", 5);
    let v = generate_pg(&w, "rollproof_gen_same", 5, &[]);
    assert_eq!(v["proof"], "logical");
    let pg_tables = tables(&v["logical"]);
    let lite_tables = sqlite_tables(&lite);
    assert_eq!(lite_tables.len(), rollproof::surface::tables().len() + 1);
    // Every surface table and the sequence state hash equal across backends.
    assert_eq!(pg_tables, lite_tables);
    assert_eq!(v["rows"]["birth_registry"], 30);

    // Deterministic on PostgreSQL too, schema part included.
    let again = generate_pg(&w, "rollproof_gen_again", 5, &[]);
    assert_eq!(again["logical"]["sha256"], v["logical"]["sha256"]);

    // The real PostgreSQL types and Directus constraint names are there.
    let mut c = connect("rollproof_gen_same");
    let ty: String = c
        .query_one(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
             WHERE attrelid = 'directus_revisions'::regclass AND attname = 'data'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(ty, "json");
    let fk: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_constraint WHERE conname IN
             ('birth_registry_item_foreign', 'directus_users_email_unique', 'objects_pkey')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(fk, 3);
    let ts: String = c
        .query_one(
            "SELECT pg_typeof(born_at)::text FROM birth_registry LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(ts, "timestamp with time zone");
}

#[test]
fn fn_birth_register_in_plpgsql_writes_what_the_sqlite_surface_writes() {
    let w = Work::new();
    let lite = w.tiny("s.db", 9);
    generate_pg(&w, "rollproof_birth", 9, &[]);
    let user: String = {
        let conn = rusqlite::Connection::open(&lite).unwrap();
        conn.query_row(
            "SELECT id FROM directus_users ORDER BY id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    let birth = rollproof::surface::Birth {
        item: "0b5e3c1a-7f00-4a00-8000-000000000001".into(),
        object_uid: "OBJ-2026-TEST-1".into(),
        kind: "sensor".into(),
        key: "sensor-test-1".into(),
        status: "published".into(),
        payload: serde_json::json!({"title": "tab\there", "n": 1.5, "quote": "\"x\\y\""})
            .to_string(),
        user,
        at: "2026-06-01T12:34:56.789Z".into(),
        source: "api".into(),
        ip: Some("192.0.2.7".into()),
        user_agent: None,
        origin: Some("https://cms.example.com".into()),
    };
    {
        let conn = rusqlite::Connection::open(&lite).unwrap();
        rollproof::surface::birth_register(&conn, &birth).unwrap();
    }
    let mut c = connect("rollproof_birth");
    let ids = rollproof::engine::postgres::schema::birth_register(&mut c, &birth).unwrap();
    assert!(ids.activity > 0 && ids.revision > 0 && ids.registry > 0);
    // A failing birth (duplicate object uid) leaves no row behind.
    let mut dup = birth.clone();
    dup.item = "0b5e3c1a-7f00-4a00-8000-000000000002".into();
    dup.key = "sensor-test-2".into();
    assert!(rollproof::engine::postgres::schema::birth_register(&mut c, &dup).is_err());
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM objects WHERE key = 'sensor-test-2'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    drop(c);

    let o = w.run(&[
        "hash",
        "--target-url",
        &pg().url("rollproof_birth"),
        "--json",
    ]);
    assert_success(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["proof"], "logical");
    assert!(v["copy_bytes"].as_u64().unwrap() > 10_000);
    let pg_tables = tables(&v["logical"]);
    let lite_tables = sqlite_tables(&lite);
    for t in [
        "objects",
        "directus_activity",
        "directus_revisions",
        "birth_registry",
    ] {
        assert_eq!(pg_tables[t], lite_tables[t], "{t}");
    }
    // The failed call consumed sequence values on PostgreSQL (sequences are
    // not transactional there), so only the sequence segment may differ.
    assert_ne!(pg_tables["sqlite_sequence"], lite_tables["sqlite_sequence"]);
}

#[test]
fn guard_refuses_foreign_databases_remote_hosts_and_other_names() {
    let w = Work::new();
    let profile = repo_file("surrogates/profiles/tiny.toml");
    let p = profile.to_str().unwrap();
    // A database rollproof did not create, even with a rollproof_ name.
    connect("postgres")
        .batch_execute("CREATE DATABASE rollproof_foreign; ")
        .unwrap();
    connect("rollproof_foreign")
        .batch_execute("CREATE TABLE precious(x int); INSERT INTO precious VALUES (42);")
        .unwrap();
    let url = pg().url("rollproof_foreign");
    for extra in [&[][..], &["--force"][..]] {
        let mut args = vec!["generate", "--profile", p, "--target-url", &url];
        args.extend(extra);
        let o = w.run(&args);
        assert_code(&o, if extra.is_empty() { 2 } else { 3 });
        assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
    }
    let x: i32 = connect("rollproof_foreign")
        .query_one("SELECT x FROM precious", &[])
        .unwrap()
        .get(0);
    assert_eq!(x, 42);

    // Not a rollproof database name.
    let o = w.run(&[
        "generate",
        "--profile",
        p,
        "--target-url",
        &pg().url("postgres"),
    ]);
    assert_code(&o, 3);
    assert!(stderr(&o).contains("rollproof_"), "{}", stderr(&o));
    // A remote host (TEST-NET, never contacted) unless explicitly allowed.
    let remote = "postgres://rollproof@192.0.2.1:5432/rollproof_remote";
    let o = w.run(&["generate", "--profile", p, "--target-url", remote]);
    assert_code(&o, 3);
    assert!(stderr(&o).contains("--allow-host"), "{}", stderr(&o));
    // Malformed URL and missing database name are bad input.
    for bad in [
        "postgres://rollproof@127.0.0.1:1:2/x",
        "postgres://rollproof@127.0.0.1",
    ] {
        let o = w.run(&["generate", "--profile", p, "--target-url", bad]);
        assert_code(&o, 2);
    }

    // Reading needs no provenance (#14 §5): `hash` reads any database on an
    // allowed server, in a read-only session, and writes nothing.
    let o = w.run(&["hash", "--target-url", &url, "--json"]);
    assert_success(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["logical"]["tables"]["precious"]["rows"], 1);
    let o = w.run(&["hash", "--target-url", remote]);
    assert_code(&o, 3);

    // Our own database: --force replaces it; without --force it is kept.
    let first = generate_pg(&w, "rollproof_own", 1, &[]);
    let o = w.run(&[
        "generate",
        "--profile",
        p,
        "--target-url",
        &pg().url("rollproof_own"),
    ]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    let v = generate_pg(&w, "rollproof_own", 2, &["--force"]);
    assert_eq!(v["database"], "rollproof_own");
    // Another seed, other content.
    assert_ne!(
        v["logical"]["tables"]["objects"],
        first["logical"]["tables"]["objects"]
    );
    assert!(exists("rollproof_own"));
}

#[test]
fn template_and_pg_dump_snapshots_restore_the_logical_content() {
    use rollproof::engine::postgres::{guard, logical, snapshot};
    let w = Work::new();
    // The library calls below run in this process, whose workspace (and so
    // whose provenance key) is the one under the test's own folder: the
    // database must be generated with that workspace to be provably ours.
    let ws = rollproof::guard::workspace::location().unwrap();
    let profile = repo_file("surrogates/profiles/tiny.toml");
    let o = w
        .cmd()
        .env("ROLLPROOF_WORKSPACE", &ws)
        .args(["generate", "--seed", "3", "--profile"])
        .arg(&profile)
        .args(["--target-url", &pg().url("rollproof_snap_live")])
        .output()
        .unwrap();
    assert_success(&o);
    let t = guard::authorize_url(&pg().url("rollproof_snap_live"), &[]).unwrap();
    let digest = |db: &str| {
        let mut c = t.with_db(db).connect().unwrap();
        logical::digest(&mut c, db).unwrap().digest
    };
    let before = digest("rollproof_snap_live");
    snapshot::clone_template(&t, "rollproof_snap_live", "rollproof_snap_tpl", "snapshot").unwrap();
    let dump = w.path("live.dump");
    snapshot::dump(&t, "rollproof_snap_live", &dump).unwrap();
    assert_eq!(digest("rollproof_snap_tpl"), before);

    // A write changes the digest, including the sequence segment.
    connect("rollproof_snap_live")
        .batch_execute(
            "UPDATE objects SET status = 'archived' WHERE status <> 'archived';
                        SELECT nextval('directus_activity_id_seq');",
        )
        .unwrap();
    let changed = digest("rollproof_snap_live");
    assert_ne!(changed.sha256, before.sha256);
    assert_ne!(changed.tables["objects"], before.tables["objects"]);
    assert_ne!(
        changed.tables["sqlite_sequence"],
        before.tables["sqlite_sequence"]
    );

    // pg_restore into a fresh database gives the same logical content.
    snapshot::restore_dump(&t, &dump, "rollproof_snap_restored", "restore").unwrap();
    assert_eq!(digest("rollproof_snap_restored"), before);

    // Dropping: only our own databases.
    snapshot::drop_database(&t, "rollproof_snap_tpl").unwrap();
    assert!(!exists("rollproof_snap_tpl"));
    connect("postgres")
        .batch_execute("CREATE DATABASE rollproof_snap_foreign")
        .unwrap();
    let e = snapshot::drop_database(&t, "rollproof_snap_foreign").unwrap_err();
    assert!(
        matches!(e, rollproof::engine::postgres::PgError::Refused(_)),
        "{e}"
    );
    assert!(exists("rollproof_snap_foreign"));
    // A manual clone of one of ours is not ours.
    connect("postgres")
        .batch_execute("CREATE DATABASE rollproof_snap_copy TEMPLATE rollproof_snap_restored")
        .unwrap();
    assert!(snapshot::drop_database(&t, "rollproof_snap_copy").is_err());
}

#[test]
fn rehearsals_on_postgres_prove_logically_verify_and_clean_up() {
    let w = Work::new();
    let tiny = repo_file("surrogates/profiles/tiny.toml");
    let scenarios = repo_file("scenarios/postgres");
    let url = pg().url("rollproof_rh");
    let base = |extra: &[&str]| {
        let mut a = vec![
            "rehearse".to_string(),
            scenarios.display().to_string(),
            "--profile-override".into(),
            tiny.display().to_string(),
            "--workspace".into(),
            w.path("ws").display().to_string(),
            "--reports".into(),
            w.path("reports").display().to_string(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let args = base(&["--target-url", &url, "--json"]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = w.run(&refs);
    assert_success(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let results = v["results"].as_array().expect("results");
    assert_eq!(results.len(), 7, "{v}");

    // The before state equals the SQLite surrogate of the same profile and
    // seed, table by table.
    let lite = w.tiny("seed7.db", 7);
    let lite_tables = sqlite_tables(&lite);
    let mut names = Vec::new();
    for r in results {
        assert_eq!(r["as_expected"], true, "{r}");
        let path = w.dir.path().join(r["report"].as_str().unwrap());
        let rep: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let name = rep["scenario"]["name"].as_str().unwrap().to_string();
        assert_eq!(rep["backend"], "postgres", "{name}");
        assert_eq!(rep["proof"], "logical-only", "{name}");
        assert!(rep["phases"]["before"]["file_sha256"].is_null(), "{name}");
        assert_eq!(
            tables(&rep["phases"]["before"]["logical"]),
            lite_tables,
            "{name}"
        );
        // The independent validator accepts every report.
        let o = w.run(&["verify", path.to_str().unwrap()]);
        assert_success(&o);
        if name == "pg-births-template-transaction" {
            // ROLLBACK restores every row but not the sequences: exactly the
            // sequence segment differs.
            assert_eq!(rep["verdict"], "FAIL");
            let differing: Vec<&str> = rep["diff"]["tables"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["table"].as_str().unwrap())
                .collect();
            assert_eq!(differing, ["sqlite_sequence"]);
            let seq = &rep["diff"]["tables"][0];
            assert!(seq["differing_rows"].as_u64().unwrap() >= 1, "{seq}");
            assert_eq!(seq["rows"][0]["change"], "changed", "{seq}");
        }
        if name == "pg-births-template-restore" {
            // The validator enforces "logical" for PostgreSQL: a resealed
            // report claiming a byte-exact proof is rejected.
            let mut forged = rep.clone();
            forged["proof"] = serde_json::Value::String("byte-exact".into());
            forged["seal"] =
                serde_json::Value::String(rollproof::evidence::report::seal_of(&forged));
            let mut bytes =
                serde_json::to_vec_pretty(&rollproof::evidence::report::canonicalize(&forged))
                    .unwrap();
            bytes.push(b'\n');
            let forged_path = w.path("forged.json");
            std::fs::write(&forged_path, bytes).unwrap();
            let o = w.run(&["verify", forged_path.to_str().unwrap()]);
            assert_code(&o, 1);
            assert!(
                stdout(&o).contains("byte-exact-impossible"),
                "{}",
                stdout(&o)
            );
        }
        if name == "pg-fault-kill" {
            let f = &rep["faults"][0];
            assert_eq!(f["injected"], true, "{f}");
            assert!(
                f["detail"]
                    .as_str()
                    .unwrap()
                    .contains("pg_terminate_backend")
            );
        }
        names.push(name);
    }
    assert!(names.contains(&"pg-births-pgdump-restore".to_string()));

    // Every run dropped its own databases (targets and snapshot clones).
    let left: Vec<String> = connect("postgres")
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE 'rollproof\\_rh%'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");

    // The guard: a remote server, or a name rollproof would not create.
    let one = repo_file("scenarios/postgres/pg-births-template-restore.toml");
    for bad in [
        "postgres://rollproof@192.0.2.1:5432/rollproof_rh".to_string(),
        pg().url("postgres"),
    ] {
        let mut args = base(&["--target-url", &bad]);
        args[1] = one.display().to_string();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = w.run(&refs);
        assert_code(&o, 3);
    }
}

#[test]
fn a_wrong_down_script_on_postgres_fails_and_shows_the_rows_it_left() {
    let w = Work::new();
    std::fs::write(
        w.path("up.sql"),
        "UPDATE objects SET status = 'archived' WHERE id IN
           (SELECT id FROM objects WHERE status <> 'archived' ORDER BY id LIMIT 3);
         INSERT INTO directus_relations (many_collection, many_field, one_collection)
           VALUES ('objects', 'owner', 'directus_users');",
    )
    .unwrap();
    // Wrong: removes the relation but leaves the three statuses changed.
    std::fs::write(
        w.path("down.sql"),
        "DELETE FROM directus_relations WHERE many_field = 'owner';",
    )
    .unwrap();
    let tiny = repo_file("surrogates/profiles/tiny.toml");
    let scenario = w.path("pg-wrong-down.toml");
    std::fs::write(
        &scenario,
        format!(
            "[scenario]\nname = \"pg-wrong-down\"\nexpect = \"FAIL\"\n\
             [surrogate]\nprofile = \"{}\"\nseed = 3\nurl = \"{}\"\n\
             [apply]\nkind = \"sql\"\nup = \"up.sql\"\n[apply.expect_rows]\ndirectus_relations = 1\n\
             [snapshot]\nmethod = \"template\"\n\
             [rollback]\nmethod = \"compensate\"\ndown = \"down.sql\"\n",
            tiny.display(),
            pg().url("rollproof_wrong")
        ),
    )
    .unwrap();
    let o = w.run(&[
        "rehearse",
        scenario.to_str().unwrap(),
        "--workspace",
        w.path("ws").to_str().unwrap(),
        "--reports",
        w.path("reports").to_str().unwrap(),
        "--json",
    ]);
    assert_success(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let r = &v["results"][0];
    assert_eq!(r["verdict"], "FAIL", "{v}");
    let rep: serde_json::Value = serde_json::from_slice(
        &std::fs::read(w.dir.path().join(r["report"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    let diff = &rep["diff"];
    assert!(diff["error"].is_null(), "{diff}");
    let by_table: BTreeMap<&str, &serde_json::Value> = diff["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["table"].as_str().unwrap(), t))
        .collect();
    let objects = by_table["objects"];
    assert_eq!(objects["differing_rows"], 3, "{objects}");
    for row in objects["rows"].as_array().unwrap() {
        assert_eq!(row["change"], "changed");
        assert_eq!(row["after"]["status"], "archived");
        assert_ne!(row["before"]["status"], "archived");
        assert!(row["sql"].as_str().unwrap().starts_with("UPDATE"), "{row}");
    }
    // The relation's serial id was consumed: the sequence differs too.
    assert_eq!(by_table["sqlite_sequence"]["differing_rows"], 1);
    assert!(!by_table.contains_key("directus_relations"));
}
