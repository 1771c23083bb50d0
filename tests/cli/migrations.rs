//! `rollproof migrations`: the example folders give their expected verdict
//! per step (examples/migrations/*/expected.toml), through the binary; the
//! report, JUnit XML, selection options, git `--changed-since`, runner
//! semantics and bad input.

use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The expectations an example folder ships.
#[derive(Debug, serde::Deserialize)]
pub struct Expected {
    pub layout: String,
    pub backend: String,
    pub verdict: String,
    /// Options the folder needs (e.g. `--layout` where detection cannot tell).
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub step: Vec<ExpectedStep>,
}

#[derive(Debug, serde::Deserialize)]
pub struct ExpectedStep {
    version: String,
    status: String,
    findings: Option<Vec<String>>,
}

const PASS_WORDS: &str = "down restores schema, rows and settings; redo gives the same schema";

pub fn example(name: &str) -> PathBuf {
    repo_file(&format!("examples/migrations/{name}"))
}

pub fn expected(name: &str) -> Expected {
    let text = std::fs::read_to_string(example(name).join("expected.toml")).expect("expected.toml");
    toml::from_str(&text).expect("valid expected.toml")
}

/// Run `migrations` with `--json` in `w`; returns (exit code, JSON).
pub fn migrations_json(w: &Work, dir: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["migrations", dir.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let o = w.run(&args);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "--json output is JSON ({e})\n--- stdout\n{}\n--- stderr\n{}",
            stdout(&o),
            stderr(&o)
        )
    });
    (o.status.code().unwrap_or(-1), v)
}

/// Compare a run's JSON with an example's expected.toml.
pub fn check_against(name: &str, code: i32, v: &Value) {
    let e = expected(name);
    assert_eq!(v["layout"], e.layout.as_str(), "{name}: layout");
    assert_eq!(v["backend"], e.backend.as_str(), "{name}: backend");
    assert_eq!(v["verdict"], e.verdict.as_str(), "{name}: verdict");
    assert_eq!(
        code,
        if e.verdict == "PASS" { 0 } else { 1 },
        "{name}: exit code"
    );
    let steps = v["steps"].as_array().expect("steps");
    assert_eq!(
        steps.len(),
        e.step.len(),
        "{name}: one expectation per migration"
    );
    for (got, want) in steps.iter().zip(&e.step) {
        let at = format!("{name} {}", want.version);
        assert_eq!(got["version"], want.version.as_str(), "{at}: order");
        assert_eq!(
            got["status"],
            want.status.as_str(),
            "{at}: status; findings {}",
            got["findings"]
        );
        let findings: Vec<String> = got["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|f| f.as_str().unwrap().to_string())
            .collect();
        match (&want.findings, want.status.as_str()) {
            (Some(f), _) => assert_eq!(&findings, f, "{at}: findings"),
            (None, "pass") => assert_eq!(findings, vec![PASS_WORDS.to_string()], "{at}"),
            (None, _) => {}
        }
    }
}

#[test]
fn sqlite_examples_give_their_expected_verdict_per_step() {
    for name in ["sqlite-diesel", "sqlite-dbmate"] {
        let w = Work::new();
        let (code, v) = migrations_json(&w, &example(name), &["--reports", "r"]);
        check_against(name, code, &v);
        // The sealed report exists where the JSON says, holds every step,
        // and its seal covers its content.
        let path = w.path(v["report"].as_str().expect("report path"));
        let report: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(report["kind"], "migrations");
        assert_eq!(report["seal"], v["seal"]);
        assert_eq!(
            report["steps"].as_array().unwrap().len(),
            v["steps"].as_array().unwrap().len()
        );
        let mut unsealed = report.clone();
        unsealed.as_object_mut().unwrap().remove("seal");
        assert_eq!(
            report["seal"].as_str().unwrap(),
            rollproof::evidence::canonical::seal_of(&unsealed),
            "{name}: seal"
        );
        // Nothing is left in the workspace once the run ended.
        let runs = w.path("rollproof-work/migrations");
        assert_eq!(
            std::fs::read_dir(&runs).map(|d| d.count()).unwrap_or(0),
            0,
            "{name}: run folder removed"
        );
    }
}

#[test]
fn junit_has_one_case_per_migration_and_failures_carry_the_words() {
    let w = Work::new();
    let o = w.run(&[
        "migrations",
        example("sqlite-dbmate").to_str().unwrap(),
        "--junit",
        "out/junit.xml",
        "--reports",
        "r",
    ]);
    assert_code(&o, 1);
    let out = stdout(&o);
    assert!(
        out.contains("down errors at line 9: no such table: member"),
        "{out}"
    );
    assert!(
        out.contains("FAIL: 5 pass, 2 fail, 2 irreversible") || out.contains("FAIL: 5 pass"),
        "{out}"
    );
    let xml = std::fs::read_to_string(w.path("out/junit.xml")).expect("junit file");
    assert_eq!(xml.matches("<testcase ").count(), 9, "{xml}");
    // 2 failing steps + 2 irreversible ones (not allowed) are failures.
    assert_eq!(xml.matches("<failure").count(), 4, "{xml}");
    assert!(xml.contains("no such table: member"), "{xml}");
    // With --allow-irreversible the irreversible ones are skipped instead.
    let o = w.run(&[
        "migrations",
        example("sqlite-dbmate").to_str().unwrap(),
        "--junit",
        "out/junit.xml",
        "--allow-irreversible",
        "--reports",
        "r",
    ]);
    assert_code(&o, 1);
    let xml = std::fs::read_to_string(w.path("out/junit.xml")).unwrap();
    assert_eq!(xml.matches("<failure").count(), 2, "{xml}");
    assert_eq!(xml.matches("<skipped").count(), 2, "{xml}");
}

/// Write a small plain-layout folder.
fn plain_folder(w: &Work, files: &[(&str, &str)]) -> PathBuf {
    let dir = w.path("mig");
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

const GOOD: &[(&str, &str)] = &[
    (
        "1-items.up.sql",
        "CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT);\nINSERT INTO items VALUES (1, 'a'), (2, 'b');",
    ),
    ("1-items.down.sql", "DROP TABLE items;"),
    ("2-index.up.sql", "CREATE INDEX ix_items_v ON items (v);"),
    ("2-index.down.sql", "DROP INDEX ix_items_v;"),
    ("3-extra.up.sql", "ALTER TABLE items ADD COLUMN w INTEGER;"),
    ("3-extra.down.sql", "ALTER TABLE items DROP COLUMN w;"),
];

#[test]
fn a_clean_folder_passes_with_exit_0_and_selection_chooses_the_steps() {
    let w = Work::new();
    let dir = plain_folder(&w, GOOD);
    let (code, v) = migrations_json(&w, &dir, &["--reports", "r"]);
    assert_eq!((code, v["verdict"].as_str()), (0, Some("PASS")), "{v}");
    assert_eq!(v["layout"], "plain");
    let statuses = |v: &Value| -> Vec<String> {
        v["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["status"].as_str().unwrap().to_string())
            .collect()
    };
    let (code, v) = migrations_json(&w, &dir, &["--only", "2-index", "--reports", "r"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(statuses(&v), ["setup", "pass", "setup"]);
    let (_, v) = migrations_json(&w, &dir, &["--from", "2-index", "--reports", "r"]);
    assert_eq!(statuses(&v), ["setup", "pass", "pass"]);
    let (_, v) = migrations_json(&w, &dir, &["--to", "2-index", "--reports", "r"]);
    assert_eq!(statuses(&v), ["pass", "pass", "setup"]);
    // An unknown version is bad input, in JSON too.
    let (code, v) = migrations_json(&w, &dir, &["--from", "9-nope", "--reports", "r"]);
    assert_eq!(code, 2, "{v}");
    assert_eq!(v["ok"], false);
    assert!(
        v["error"].as_str().unwrap().contains("no such migration"),
        "{v}"
    );
}

#[test]
fn a_failing_up_stops_the_run_and_later_steps_are_not_run() {
    let w = Work::new();
    let mut files = GOOD.to_vec();
    files[2] = (
        "2-index.up.sql",
        "CREATE INDEX ix_items_v ON items (v);\nCREATE INDEX ix_bad ON nowhere (x);",
    );
    let dir = plain_folder(&w, &files);
    let (code, v) = migrations_json(&w, &dir, &["--reports", "r"]);
    assert_eq!(code, 1, "{v}");
    let s = &v["steps"];
    assert_eq!(s[1]["status"], "fail");
    assert_eq!(
        s[1]["findings"][0],
        "up errors at line 2: no such table: main.nowhere"
    );
    assert_eq!(s[1]["errors"]["up"]["statement_index"], 2);
    assert_eq!(s[2]["status"], "not-run");
    assert!(
        s[2]["findings"][0]
            .as_str()
            .unwrap()
            .contains("the up of 2-index failed"),
        "{v}"
    );
}

#[test]
fn migration_scripts_run_in_the_sandbox_and_cannot_reach_other_files() {
    let w = Work::new();
    // Without the tool's transaction, so VACUUM could run and only the
    // sandbox stands between the script and other files.
    let outside = w.path("outside.db");
    let copy = w.path("copy.db");
    for (escape, why) in [
        (
            format!("ATTACH '{}' AS o;\nCREATE TABLE o.t(x);", outside.display()),
            "ATTACH",
        ),
        (format!("VACUUM INTO '{}';", copy.display()), "VACUUM INTO"),
        ("SELECT load_extension('x');".to_string(), "load_extension"),
        (
            "PRAGMA writable_schema = ON;".to_string(),
            "writable_schema",
        ),
    ] {
        let mut files = GOOD.to_vec();
        let up = format!("CREATE INDEX ix_items_v ON items (v);\n{escape}");
        files[2] = ("2-index.up.sql", up.as_str());
        let _ = std::fs::remove_dir_all(w.path("mig"));
        let dir = plain_folder(&w, &files);
        let (code, v) = migrations_json(&w, &dir, &["--transactions", "off", "--reports", "r"]);
        assert_eq!(code, 1, "{escape}: {v}");
        let s = &v["steps"][1];
        assert_eq!(s["status"], "fail", "{escape}: {s}");
        let msg = s["errors"]["up"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains("refused by the sandbox"), "{escape}: {msg}");
        assert!(msg.contains(why), "{escape}: {msg}");
        assert_eq!(s["errors"]["up"]["statement_index"], 2, "{s}");
    }
    assert!(!outside.exists() && !copy.exists());
}

#[test]
fn runner_semantics_follow_the_tool_transactions_and_foreign_keys() {
    let w = Work::new();
    // diesel without a transaction (metadata.toml): the first statement of a
    // failing down stays applied; the step fails with the error, and the run
    // goes on from the restored snapshot.
    let dir = w.path("d");
    let put = |rel: &str, text: &str| {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    put(
        "1_parents/up.sql",
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);\nCREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id) ON DELETE CASCADE);\nINSERT INTO parent VALUES (1), (2);\nINSERT INTO child VALUES (10, 1), (11, 1), (12, 2);",
    );
    put(
        "1_parents/down.sql",
        "DROP TABLE child;\nDROP TABLE parent;",
    );
    put("2_cleanup/up.sql", "CREATE TABLE log (x);");
    put("2_cleanup/down.sql", "DROP TABLE log;\nDROP TABLE nope;");
    put("2_cleanup/metadata.toml", "run_in_transaction = false\n");
    put(
        "3_reparent/up.sql",
        "CREATE TABLE parent_archive AS SELECT * FROM parent WHERE id = 2;\nDELETE FROM parent WHERE id = 2;",
    );
    put(
        "3_reparent/down.sql",
        "INSERT INTO parent SELECT * FROM parent_archive;\nDROP TABLE parent_archive;",
    );
    let (code, v) = migrations_json(&w, &dir, &["--reports", "r"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["layout"], "diesel");
    let s = &v["steps"];
    assert_eq!(s[0]["status"], "pass", "{v}");
    assert_eq!(s[1]["status"], "fail");
    assert_eq!(
        s[1]["findings"][0],
        "down errors at line 2: no such table: nope"
    );
    // diesel leaves SQLite's foreign keys off: deleting the parent keeps its
    // child, and the down puts the parent back: a pass.
    assert_eq!(s[2]["status"], "pass", "{v}");
    // With foreign keys on, the delete cascades to the child row, which
    // the down does not bring back: a loss, named.
    let (_, v) = migrations_json(&w, &dir, &["--foreign-keys", "on", "--reports", "r"]);
    assert_eq!(v["steps"][2]["status"], "fail", "{v}");
    assert_eq!(v["steps"][2]["findings"][0], "down loses 1 row of `child`");
    // Every script in a transaction: the failing down of step 2 leaves nothing.
    let (_, v) = migrations_json(&w, &dir, &["--transactions", "on", "--reports", "r"]);
    assert_eq!(
        v["steps"][1]["findings"][0],
        "down errors at line 2: no such table: nope"
    );
}

#[test]
fn bookkeeping_is_maintained_and_a_down_that_breaks_it_is_caught() {
    let w = Work::new();
    let dir = w.path("s");
    std::fs::create_dir_all(&dir).unwrap();
    for (n, t) in [
        ("1_a.up.sql", "CREATE TABLE a (id INTEGER PRIMARY KEY);"),
        ("1_a.down.sql", "DROP TABLE a;"),
        ("2_b.up.sql", "CREATE TABLE b (id INTEGER PRIMARY KEY);"),
        (
            "2_b.down.sql",
            "DROP TABLE b;\nDELETE FROM _sqlx_migrations;",
        ),
    ] {
        std::fs::write(dir.join(n), t).unwrap();
    }
    let (code, v) = migrations_json(&w, &dir, &["--layout", "sqlx", "--reports", "r"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["steps"][0]["status"], "pass", "{v}");
    assert_eq!(
        v["steps"][1]["findings"][0], "down loses 1 row of `_sqlx_migrations`",
        "{v}"
    );
    let report: Value =
        serde_json::from_slice(&std::fs::read(w.path(v["report"].as_str().unwrap())).unwrap())
            .unwrap();
    assert_eq!(report["runner"]["bookkeeping_table"], "_sqlx_migrations");
    assert_eq!(report["runner"]["foreign_keys"], "tool default (on)");
}

#[test]
fn changed_since_rehearses_only_what_the_branch_adds() {
    let w = Work::new();
    let dir = plain_folder(&w, &GOOD[..4]);
    let git = |args: &[&str]| {
        let o = std::process::Command::new("git")
            .current_dir(w.path(""))
            .args(["-c", "user.name=t", "-c", "user.email=t@example.test"])
            .args(args)
            .output()
            .expect("git");
        assert!(
            o.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "mig"]);
    git(&["commit", "-q", "-m", "base"]);
    // The branch adds migration 3 (untracked, as in a working tree) and
    // changes the down of 2.
    std::fs::write(dir.join("3-extra.up.sql"), GOOD[4].1).unwrap();
    std::fs::write(dir.join("3-extra.down.sql"), GOOD[5].1).unwrap();
    std::fs::write(
        dir.join("2-index.down.sql"),
        "DROP INDEX IF EXISTS ix_items_v;",
    )
    .unwrap();
    let (code, v) = migrations_json(&w, &dir, &["--changed-since", "main", "--reports", "r"]);
    assert_eq!(code, 0, "{v}");
    let statuses: Vec<&str> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["setup", "pass", "pass"]);
    let (code, v) = migrations_json(
        &w,
        &dir,
        &["--changed-since", "no-such-branch", "--reports", "r"],
    );
    assert_eq!(code, 2, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("no such commit"),
        "{v}"
    );
}

#[test]
fn bad_folders_are_bad_input_with_a_message() {
    let w = Work::new();
    let (code, v) = migrations_json(&w, &w.path("missing"), &[]);
    assert_eq!(code, 2, "{v}");
    assert!(v["error"].as_str().unwrap().contains("missing"), "{v}");
    let dir = plain_folder(
        &w,
        &[("1_a.up.sql", "SELECT 1;"), ("1_a.down.sql", "SELECT 1;")],
    );
    let (code, v) = migrations_json(&w, &dir, &[]);
    assert_eq!(code, 2, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("--layout sqlx|golang-migrate"),
        "{v}"
    );
    let o = w.run(&["migrations", dir.to_str().unwrap(), "--layout", "flyway"]);
    assert_code(&o, 2);
    assert!(
        stderr(&o).contains("holds no flyway migrations"),
        "{}",
        stderr(&o)
    );
}
