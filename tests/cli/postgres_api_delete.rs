//! The `api-delete` compensation on PostgreSQL, end to end through the CLI
//! against the throwaway server: births undone as Directus API deletes
//! prove `restored_as_api_delete`, and a compensation that misses what
//! the database itself does on a delete fails the proof.

use crate::util::*;

/// A births scenario compensated by API deletes, on `surrogate` (the
/// `[surrogate]` body); `expect` PASS.
fn scenario(w: &Work, name: &str, surrogate: &str) -> std::path::PathBuf {
    let path = w.path(&format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "[scenario]\nname = \"{name}\"\nexpect = \"PASS\"\n\
             [surrogate]\n{surrogate}\n\
             [apply]\nkind = \"births\"\ncount = 25\nseed = 4\n\
             [snapshot]\nmethod = \"template\"\n\
             [rollback]\nmethod = \"compensate\"\ncompensation = \"api-delete\"\n"
        ),
    )
    .unwrap();
    path
}

fn rehearse(w: &Work, scenario: &std::path::Path) -> std::process::Output {
    w.run(&[
        "rehearse",
        scenario.to_str().unwrap(),
        "--reports",
        w.path("reports").to_str().unwrap(),
        "--json",
    ])
}

#[test]
fn api_delete_compensation_on_postgres_proves_the_history_it_keeps() {
    let w = Work::new();
    let tiny = repo_file("surrogates/profiles/tiny.toml");
    let sc = scenario(
        &w,
        "pg-api-delete",
        &format!(
            "profile = \"{}\"\nseed = 5\nurl = \"{}\"",
            tiny.display(),
            pg().url("rollproof_apidel")
        ),
    );
    let o = rehearse(&w, &sc);
    assert_success(&o);
    let r = only_report(&w, &o);
    assert_eq!(r["backend"], "postgres");
    assert_eq!(r["verdict"], "PASS", "{}", r["checks"]);
    assert_eq!(r["rollback"]["compensation"], "api-delete");
    let c = check(&r, "restored_as_api_delete");
    assert_eq!(c["outcome"], "pass", "{c}");
    let detail = c["detail"].as_str().unwrap();
    assert!(detail.contains("directus_activity +50"), "{c}");
    assert!(detail.contains("directus_revisions +25"), "{c}");
    // The after-rollback phase: each birth's create and delete activity
    // and its create revision kept; items and registry records as before.
    let rows = |phase: &str, t: &str| {
        r["phases"][phase]["logical"]["tables"][t]["rows"]
            .as_i64()
            .unwrap_or_else(|| panic!("{phase} {t}"))
    };
    assert_eq!(
        rows("after_rollback", "directus_activity") - rows("before", "directus_activity"),
        50
    );
    for t in ["objects", "birth_registry"] {
        assert_eq!(rows("after_rollback", t), rows("before", t), "{t}");
        assert_eq!(rows("after_apply", t) - rows("before", t), 25, "{t}");
    }
    let report = w
        .dir
        .path()
        .join(json_out(&o)["results"][0]["report"].as_str().unwrap());
    assert_success(&w.run(&["verify", report.to_str().unwrap()]));
}

#[test]
fn api_delete_compensation_on_postgres_fails_when_a_delete_does_more() {
    let w = Work::new();
    // A generated surrogate on which production's own audit trigger
    // records every deleted item: an API delete writes a row the
    // compensation does not account for.
    let db = "rollproof_apidel_audit";
    let tiny = repo_file("surrogates/profiles/tiny.toml");
    let o = w.run(&[
        "generate",
        "--profile",
        tiny.to_str().unwrap(),
        "--seed",
        "5",
        "--target-url",
        &pg().url(db),
    ]);
    assert_success(&o);
    connect(db)
        .batch_execute(
            "CREATE TABLE object_audit (item uuid NOT NULL, action text NOT NULL);
             CREATE FUNCTION object_audit_delete() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN INSERT INTO object_audit VALUES (OLD.id, 'delete'); RETURN OLD; END $$;
             CREATE TRIGGER objects_audit AFTER DELETE ON objects
               FOR EACH ROW EXECUTE FUNCTION object_audit_delete();",
        )
        .unwrap();
    let sc = scenario(
        &w,
        "pg-api-delete-audited",
        &format!("url = \"{}\"", pg().url(db)),
    );
    let o = rehearse(&w, &sc);
    assert_code(&o, 1);
    let r = only_report(&w, &o);
    assert_eq!(r["backend"], "postgres");
    assert_eq!(r["verdict"], "FAIL");
    assert_eq!(r["rollback"]["compensation"], "api-delete");
    let c = check(&r, "restored_as_api_delete");
    assert_eq!(c["outcome"], "fail", "{c}");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("object_audit differs"),
        "{c}"
    );
    let report = w
        .dir
        .path()
        .join(json_out(&o)["results"][0]["report"].as_str().unwrap());
    assert_success(&w.run(&["verify", report.to_str().unwrap()]));
}
