//! `rollproof generate`: determinism, integrity, secret-free values, bad input.

use crate::util::*;

#[test]
fn same_seed_is_byte_identical_and_other_seed_differs() {
    let w = Work::new();
    let a = w.tiny("a.db", 7);
    let b = w.tiny("b.db", 7);
    let c = w.tiny("c.db", 8);
    assert_eq!(sha256_file(&a), sha256_file(&b));
    assert_ne!(sha256_file(&a), sha256_file(&c));
}

#[test]
fn surrogate_is_consistent_and_secret_free() {
    let w = Work::new();
    let db = w.tiny("s.db", 3);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let fk: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(fk, 0);
    // Every birth points at its item, its create activity and its revision.
    let orphans: i64 = conn
        .query_row(
            "SELECT count(*) FROM birth_registry b
             LEFT JOIN objects o ON o.id = b.item
             LEFT JOIN directus_activity a ON a.id = b.activity AND a.item = b.item AND a.action = 'create'
             LEFT JOIN directus_revisions r ON r.id = b.revision AND r.activity = a.id
             WHERE o.id IS NULL OR a.id IS NULL OR r.id IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0);
    // Activity rows name real users; emails sit on reserved example domains.
    let stray: i64 = conn
        .query_row(
            "SELECT count(*) FROM directus_activity WHERE \"user\" NOT IN (SELECT id FROM directus_users)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stray, 0);
    let bad_email: i64 = conn
        .query_row(
            "SELECT count(*) FROM directus_users WHERE email NOT LIKE '%@example.com' AND email NOT LIKE '%@example.org' AND email NOT LIKE '%@example.net'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(bad_email, 0);
    // Every password is the published test password's argon2id hash
    // (docs/SURFACE.md), never a realistic secret: Directus logs in with it.
    let other: i64 = conn
        .query_row(
            "SELECT count(*) FROM directus_users WHERE password IS NOT ?1",
            [rollproof::generate::make::TEST_PASSWORD_ARGON2],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(other, 0);
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM birth_registry", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 30);
}

#[test]
fn existing_output_is_refused_without_force_and_left_untouched() {
    let w = Work::new();
    let out = w.path("s.db");
    std::fs::write(&out, b"precious").unwrap();
    let profile = repo_file("surrogates/profiles/tiny.toml");
    let args = [
        "generate",
        "--profile",
        profile.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let o = w.run(&args);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).unwrap(), b"precious");
    let mut forced = args.to_vec();
    forced.push("--force");
    assert_success(&w.run(&forced));
    assert_ne!(std::fs::read(&out).unwrap(), b"precious");
}

#[test]
fn bad_profiles_are_named_and_leave_no_output() {
    let w = Work::new();
    let cases = [
        (
            "unknown.toml",
            "[profile]\nname='x'\nsurprise=1\n[tables]\n",
            "surprise",
        ),
        (
            "fraction.toml",
            "[profile]\nname='x'\n[tables.objects]\nrows=1\n[tables.objects.columns.kind]\nnull_fraction=1.5\n",
            "null_fraction",
        ),
        (
            "negative.toml",
            "[profile]\nname='x'\n[tables.objects]\nrows=-3\n",
            "rows",
        ),
        (
            "fk.toml",
            "[profile]\nname='x'\n[tables.objects]\nrows=1\n[tables.objects.columns.user_created]\nreferences='nowhere'\n",
            "nowhere",
        ),
        (
            "shape.toml",
            "[profile]\nname='x'\n[tables.objects]\nrows=5\n",
            "directus_roles",
        ),
    ];
    for (name, text, needle) in cases {
        let p = w.path(name);
        std::fs::write(&p, text).unwrap();
        let out = w.path("out.db");
        let o = w.run(&[
            "generate",
            "--profile",
            p.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_code(&o, 2);
        let err = stderr(&o);
        assert!(err.contains(name), "{name}: {err}");
        assert!(err.contains(needle), "{name}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one-line error: {err}");
        assert!(!out.exists(), "{name} left an output file");
    }
    // No temp files left behind either.
    let leftovers: Vec<_> = std::fs::read_dir(w.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".rollproof-tmp")
        })
        .collect();
    assert!(leftovers.is_empty());
    let o = w.run(&["generate", "--profile", "/no/such.toml", "--out", "x.db"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("/no/such.toml"));
}

#[test]
fn scale_grows_the_growing_tables() {
    let w = Work::new();
    let profile = repo_file("surrogates/profiles/tiny.toml");
    let o = w.run(&[
        "generate",
        "--profile",
        profile.to_str().unwrap(),
        "--seed",
        "1",
        "--scale",
        "3",
        "--out",
        "big.db",
        "--json",
    ]);
    assert_success(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["rows"]["objects"], 120);
    assert_eq!(v["rows"]["directus_roles"], 3);
    assert_eq!(
        v["sha256"].as_str().unwrap(),
        sha256_file(&w.path("big.db"))
    );
}

#[test]
fn force_never_replaces_a_database_rollproof_did_not_generate() {
    let w = Work::new();
    let foreign = w.path("prod.db");
    {
        let c = rusqlite::Connection::open(&foreign).unwrap();
        c.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES ('real data');")
            .unwrap();
    }
    let before = sha256_file(&foreign);
    let profile = repo_file("surrogates/profiles/tiny.toml");
    let o = w.run(&[
        "generate",
        "--profile",
        profile.to_str().unwrap(),
        "--out",
        foreign.to_str().unwrap(),
        "--force",
    ]);
    assert_code(&o, 3);
    assert!(stderr(&o).contains("refused by guard"), "{}", stderr(&o));
    assert_eq!(sha256_file(&foreign), before);
    // An earlier surrogate may be replaced.
    let s = w.tiny("s.db", 1);
    let o = w.run(&[
        "generate",
        "--profile",
        profile.to_str().unwrap(),
        "--seed",
        "2",
        "--out",
        s.to_str().unwrap(),
        "--force",
    ]);
    assert_success(&o);
}

#[test]
fn output_piped_into_a_closed_pipe_does_not_panic() {
    let w = Work::new();
    let profile = repo_file("surrogates/profiles/tiny.toml");
    let mut child = w
        .cmd()
        .args([
            "generate",
            "--profile",
            profile.to_str().unwrap(),
            "--out",
            "p.db",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away, like `| head -0`
    let out = child.wait_with_output().unwrap();
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[test]
fn a_format_2_profile_of_postgres_generates_its_own_schema_into_a_sqlite_file() {
    let w = Work::new();
    let p = repo_file("surrogates/directus/directus-12.4.1.toml");
    let p = p.to_str().unwrap();
    let o = w.run(&["generate", "--profile", p, "--out", "dx.db", "--seed", "3"]);
    assert_success(&o);
    // What does not exist on SQLite is named, not dropped silently.
    assert!(stderr(&o).contains("extension plpgsql"), "{}", stderr(&o));
    let c = rusqlite::Connection::open(w.path("dx.db")).unwrap();
    let n = |sql: &str| -> i64 { c.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        n(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name LIKE 'directus\\_%' ESCAPE '\\'"
        ),
        33
    );
    // The bootstrap's row counts, from the profile's statistics.
    assert_eq!(n("SELECT count(*) FROM directus_migrations"), 109);
    assert_eq!(n("SELECT count(*) FROM directus_settings"), 1);
    // Into PostgreSQL (#14 §2) it is Directus's own schema again: its 33
    // tables, keys and the bootstrap's rows.
    let url = pg().url("rollproof_format2_dx");
    let o = w.run(&["generate", "--profile", p, "--target-url", &url, "--force"]);
    assert_success(&o);
    let mut pc = connect("rollproof_format2_dx");
    let q = |c: &mut postgres::Client, sql: &str| -> i64 { c.query_one(sql, &[]).unwrap().get(0) };
    assert_eq!(
        q(
            &mut pc,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'directus\\_%'"
        ),
        33
    );
    assert_eq!(q(&mut pc, "SELECT count(*) FROM directus_migrations"), 109);
    assert_eq!(q(&mut pc, "SELECT count(*) FROM directus_settings"), 1);
}

/// The shipped benchmark profile (bench/shop.toml, #14 §6: 14 tables,
/// foreign keys, unique indexes, a view and a trigger) generates through
/// the CLI into a sound file: every key holds, every table is filled.
#[test]
fn the_shipped_shop_profile_generates_a_sound_surrogate() {
    let w = Work::new();
    let p = repo_file("bench/shop.toml");
    let o = w.run(&[
        "generate",
        "--profile",
        p.to_str().unwrap(),
        "--scale",
        "0.5",
        "--out",
        "shop.db",
        "--json",
    ]);
    assert_success(&o);
    let g: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = g["rows"].as_object().unwrap();
    assert_eq!(rows.len(), 14, "{g}");
    assert!(rows.values().all(|n| n.as_u64() > Some(0)), "{g}");
    let c = rusqlite::Connection::open(w.path("shop.db")).unwrap();
    let n = |sql: &str| -> i64 { c.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(n("SELECT count(*) FROM pragma_foreign_key_check"), 0);
    assert!(
        n("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND sql LIKE 'CREATE UNIQUE%'")
            > 0
    );
    assert_eq!(
        n("SELECT count(*) FROM sqlite_schema WHERE type IN ('view', 'trigger')"),
        2
    );
}
