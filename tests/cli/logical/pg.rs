//! §2 (PostgreSQL): a down script that restores every row but leaves one
//! thing behind — a rule, disabled triggers, RLS, a policy, a privilege, an
//! owner, a comment, storage options, an extension, a setting, an object in
//! rollproof's own schema, a role — FAILs, and the report names it.
//!
//! Roles are cluster-wide, so the tests that create or change roles run on
//! a cluster of their own, one at a time: a role appearing in the middle of
//! another rehearsal on the same server would (rightly) fail that one.

use super::*;
use rollproof::engine::postgres::cluster::Cluster;
use std::sync::{Mutex, OnceLock};

/// A PG scenario on server `url_of(db)`: UP, then `down`, template
/// snapshot, compensating rollback, expected PASS.
fn pg_scenario(w: &Work, name: &str, url: &str, up: &str, down: &str) -> SqlRun {
    let dir = w.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("up.sql"), up).unwrap();
    std::fs::write(dir.join("down.sql"), down).unwrap();
    let scenario = dir.join("scenario.toml");
    std::fs::write(
        &scenario,
        format!(
            "[scenario]\nname = \"{name}\"\nexpect = \"PASS\"\n\
             [surrogate]\nprofile = \"{}\"\nseed = 3\nurl = \"{url}\"\n\
             [apply]\nkind = \"sql\"\nup = \"up.sql\"\n[apply.expect_rows]\nnotes = 1\n\
             [snapshot]\nmethod = \"template\"\n\
             [rollback]\nmethod = \"compensate\"\ndown = \"down.sql\"\n",
            repo_file("surrogates/profiles/tiny.toml").display()
        ),
    )
    .unwrap();
    SqlRun {
        scenario,
        keep: dir.join("keep"),
    }
}

/// Run a PG scenario; returns (output, report path, report).
fn run_pg(w: &Work, s: &SqlRun) -> (std::process::Output, PathBuf, Value) {
    let o = w.run(&[
        "rehearse",
        s.scenario.to_str().unwrap(),
        "--workspace",
        w.path("ws").to_str().unwrap(),
        "--reports",
        w.path("reports").to_str().unwrap(),
        "--json",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(&o), stderr(&o)));
    let rel = v["results"][0]["report"]
        .as_str()
        .unwrap_or_else(|| panic!("no report: {v}\n{}", stderr(&o)));
    let path = w.dir.path().join(rel);
    let report = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    (o, path, report)
}

const PG_UP: &str = "CREATE TABLE notes(id int PRIMARY KEY, body text);\n\
                     INSERT INTO notes VALUES (1, 'first note');\n";

/// The named difference (`name` ending in `*`: a name starting so, for
/// names that carry the run id), or a panic listing what was named.
fn object<'a>(r: &'a Value, kind: &str, name: &str) -> &'a Value {
    let objects = r["diff"]["objects"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let matches = |n: &str| match name.strip_suffix('*') {
        Some(prefix) => n.starts_with(prefix),
        None => n == name,
    };
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["name"].as_str().is_some_and(matches))
        .unwrap_or_else(|| panic!("no {kind} {name} named in {objects:#?}"))
}

/// Rehearse with a down script that drops the new table and then runs
/// `tail`; the proof must fail on `check` and name `kind name` as `change`
/// with `contains` in its definition after rollback (or before, if removed).
#[allow(clippy::too_many_arguments)]
fn left_behind(
    url: &str,
    name: &str,
    up: &str,
    tail: &str,
    check: &str,
    (kind, object_name, change, contains): (&str, &str, &str, &str),
) -> Value {
    let w = Work::new();
    let s = pg_scenario(&w, name, url, up, &format!("DROP TABLE notes;\n{tail}\n"));
    let (o, path, r) = run_pg(&w, &s);
    assert_code(&o, 1);
    assert_eq!(r["verdict"], "FAIL", "{tail}");
    assert_eq!(outcome(&r, check), "fail", "{tail}: {}", r["checks"]);
    let d = object(&r, kind, object_name);
    assert_eq!(d["change"], change, "{d}");
    let side = if change == "removed" {
        "before"
    } else {
        "after"
    };
    let def = d[side].as_str().unwrap_or_default();
    assert!(
        def.contains(contains),
        "{kind} {object_name}: {def:?} lacks {contains:?}"
    );
    let md = std::fs::read_to_string(path.with_extension("md")).unwrap();
    let shown = format!("- {kind} `{}", d["name"].as_str().unwrap());
    assert!(md.contains(&shown), "{md}");
    let o = w.run(&["verify", path.to_str().unwrap()]);
    assert_success(&o);
    r
}

fn shared(name: &str, tail: &str, check: &str, named: (&str, &str, &str, &str)) -> Value {
    let url = pg().url(&format!("rollproof_lg_{name}"));
    left_behind(&url, name, PG_UP, tail, check, named)
}

#[test]
fn the_exact_inverse_passes_so_the_catalog_description_is_stable() {
    let w = Work::new();
    let s = pg_scenario(
        &w,
        "inverse",
        &pg().url("rollproof_lg_inverse"),
        PG_UP,
        "DROP TABLE notes;\n",
    );
    let (o, _, r) = run_pg(&w, &s);
    assert_success(&o);
    assert_eq!(r["verdict"], "PASS", "{}", r["checks"]);
    assert_eq!(outcome(&r, "cluster_unchanged"), "pass");
}

#[test]
fn a_rule_left_behind_fails() {
    shared(
        "rule",
        "CREATE RULE keep AS ON DELETE TO objects DO INSTEAD NOTHING;",
        "restored_logically",
        (
            "rule",
            "keep on public.objects",
            "added",
            "DO INSTEAD NOTHING",
        ),
    );
}

#[test]
fn disabled_foreign_key_triggers_fail() {
    shared(
        "triggers",
        "ALTER TABLE birth_registry DISABLE TRIGGER ALL;",
        "restored_logically",
        (
            "constraint trigger",
            "birth_registry_item_foreign RI_FKey_check_ins 5 on public.birth_registry",
            "changed",
            "ENABLED D",
        ),
    );
}

#[test]
fn row_level_security_switched_on_fails() {
    shared(
        "rls",
        "ALTER TABLE objects ENABLE ROW LEVEL SECURITY;",
        "restored_logically",
        (
            "relation",
            "public.objects",
            "changed",
            "ROW LEVEL SECURITY",
        ),
    );
}

#[test]
fn a_policy_left_behind_fails() {
    shared(
        "policy",
        "CREATE POLICY hide ON objects USING (false);",
        "restored_logically",
        ("policy", "hide on public.objects", "added", "USING (false)"),
    );
}

#[test]
fn a_grant_to_public_fails() {
    shared(
        "grant",
        "GRANT ALL ON objects TO PUBLIC;",
        "restored_logically",
        ("relation", "public.objects", "changed", "=arwdDxt/"),
    );
}

#[test]
fn a_column_privilege_fails() {
    shared(
        "colgrant",
        "GRANT UPDATE (status) ON objects TO PUBLIC;",
        "restored_logically",
        (
            "column",
            "status on public.objects",
            "changed",
            "privileges =w/",
        ),
    );
}

#[test]
fn a_revoked_function_privilege_fails() {
    shared(
        "fnrevoke",
        "REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC;",
        "restored_logically",
        (
            "function",
            "public.fn_birth_register(*",
            "changed",
            "privileges rollproof=X/",
        ),
    );
}

#[test]
fn a_schema_privilege_fails() {
    shared(
        "schemagrant",
        "GRANT CREATE ON SCHEMA public TO PUBLIC;",
        "restored_logically",
        ("schema", "public", "changed", "=UC/"),
    );
}

#[test]
fn default_privileges_fail() {
    shared(
        "defacl",
        "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC;",
        "restored_logically",
        (
            "default privileges",
            "(all schemas) r on rollproof",
            "added",
            "=r/",
        ),
    );
}

#[test]
fn a_database_privilege_fails() {
    shared(
        "dbgrant",
        "DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO PUBLIC', current_database()); END $$;",
        "cluster_unchanged",
        ("database", "rollproof_lg_dbgrant_*", "changed", "=CTc/"),
    );
}

#[test]
fn a_database_setting_fails() {
    shared(
        "dbset",
        "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET work_mem = %L', current_database(), '1MB'); END $$;",
        "cluster_unchanged",
        (
            "setting",
            "(all roles) in rollproof_lg_dbset_*",
            "added",
            "work_mem=1MB",
        ),
    );
}

#[test]
fn a_comment_fails() {
    shared(
        "comment",
        "COMMENT ON TABLE objects IS 'hello';",
        "restored_logically",
        ("comment", "table public.objects", "added", "hello"),
    );
}

#[test]
fn storage_options_fail() {
    shared(
        "reloptions",
        "ALTER TABLE objects SET (fillfactor = 70);",
        "restored_logically",
        (
            "relation",
            "public.objects",
            "changed",
            "options (fillfactor=70)",
        ),
    );
}

#[test]
fn an_extension_left_behind_fails() {
    shared(
        "extension",
        "CREATE EXTENSION pg_trgm;",
        "restored_logically",
        ("extension", "pg_trgm", "added", "version"),
    );
}

#[test]
fn an_object_inside_rollproofs_own_schema_is_state() {
    shared(
        "meta",
        "CREATE TABLE rollproof_meta.extra(x int);",
        "restored_logically",
        ("relation", "rollproof_meta.extra", "added", "kind r"),
    );
}

/// The cluster for the tests that change roles, and the lock that runs
/// them one at a time.
fn roles_cluster() -> (&'static Cluster, std::sync::MutexGuard<'static, ()>) {
    static C: OnceLock<Result<Cluster, String>> = OnceLock::new();
    static LOCK: Mutex<()> = Mutex::new(());
    let c = match C.get_or_init(|| Cluster::start().map_err(|e| e.to_string())) {
        Ok(c) => c,
        Err(e) => panic!("cannot start a second throwaway cluster: {e}"),
    };
    (c, LOCK.lock().unwrap_or_else(|e| e.into_inner()))
}

/// A role every roles test may use, created before any rehearsal on the
/// roles cluster.
fn with_member(c: &Cluster) {
    let mut admin = postgres::Client::connect(&c.url("postgres"), postgres::NoTls).unwrap();
    admin
        .batch_execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rp_member')
             THEN CREATE ROLE rp_member NOLOGIN; END IF; END $$;",
        )
        .unwrap();
}

fn on_roles_cluster(
    name: &str,
    up: &str,
    tail: &str,
    check: &str,
    named: (&str, &str, &str, &str),
) -> Value {
    let (c, _lock) = roles_cluster();
    with_member(c);
    left_behind(
        &c.url(&format!("rollproof_lg_{name}")),
        name,
        up,
        tail,
        check,
        named,
    )
}

#[test]
fn a_superuser_role_created_by_the_up_script_fails() {
    let r = on_roles_cluster(
        "superrole",
        &format!("{PG_UP}CREATE ROLE evil_super SUPERUSER;\n"),
        "",
        "cluster_unchanged",
        ("role", "evil_super", "added", "SUPERUSER"),
    );
    let detail = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "cluster_unchanged")
        .unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        detail.contains("role evil_super added (SUPERUSER"),
        "{detail}"
    );
}

#[test]
fn a_plain_role_created_by_the_up_script_fails() {
    on_roles_cluster(
        "plainrole",
        &format!("{PG_UP}CREATE ROLE evil_plain LOGIN;\n"),
        "",
        "cluster_unchanged",
        ("role", "evil_plain", "added", "NOSUPERUSER"),
    );
}

#[test]
fn a_membership_left_behind_fails() {
    on_roles_cluster(
        "membership",
        PG_UP,
        "GRANT pg_read_server_files TO rp_member;",
        "cluster_unchanged",
        (
            "membership",
            "rp_member in pg_read_server_files",
            "added",
            "GRANTED BY",
        ),
    );
}

#[test]
fn a_role_setting_left_behind_fails() {
    on_roles_cluster(
        "roleset",
        PG_UP,
        "ALTER ROLE rp_member SET work_mem = '2MB';",
        "cluster_unchanged",
        (
            "setting",
            "rp_member in (all databases)",
            "added",
            "work_mem=2MB",
        ),
    );
}

#[test]
fn an_owner_change_fails() {
    on_roles_cluster(
        "owner",
        PG_UP,
        "ALTER TABLE objects OWNER TO rp_member;",
        "restored_logically",
        ("relation", "public.objects", "changed", "owner rp_member"),
    );
}
