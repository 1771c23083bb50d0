//! The logical state (issue #12 §1, §2, §5): exclusions by exact identity,
//! every persistent setting in the hash, diffs that name what differs, and
//! no secret printed anywhere. Each test runs a real rehearsal through the
//! binary whose down script leaves exactly one thing behind, and checks the
//! rehearsal FAILs, names it, and that `verify --artifacts` and
//! tools/logical_hash.py agree with the report.

use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

mod exclusions;
mod hash;
mod pg;
mod secrets;
mod settings;

/// A SQL scenario on the tiny surrogate: `up` creates and fills a table,
/// the rollback compensates with `down` (logical-only), expected PASS.
pub struct SqlRun {
    pub scenario: PathBuf,
    pub keep: PathBuf,
}

/// The up script every test uses: one new table with one row.
pub const UP: &str = "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);\n\
                      INSERT INTO notes VALUES (1, 'first note');\n";

/// The exact inverse of [`UP`].
pub const DOWN: &str = "DROP TABLE notes;\n";

/// Write a scenario named `name` whose down script is `down`.
pub fn sql_scenario(w: &Work, name: &str, up: &str, down: &str, rows: &str) -> SqlRun {
    let dir = w.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("up.sql"), up).unwrap();
    std::fs::write(dir.join("down.sql"), down).unwrap();
    let profile = repo_file("surrogates/profiles/tiny.toml");
    let scenario = dir.join("scenario.toml");
    std::fs::write(
        &scenario,
        format!(
            "[scenario]\nname = \"{name}\"\nexpect = \"PASS\"\n\
             [surrogate]\nprofile = \"{}\"\nseed = 3\n\
             [apply]\nkind = \"sql\"\nup = \"up.sql\"\n[apply.expect_rows]\n{rows}\n\
             [snapshot]\nmethod = \"copy\"\n\
             [rollback]\nmethod = \"compensate\"\ndown = \"down.sql\"\n",
            profile.display()
        ),
    )
    .unwrap();
    SqlRun {
        scenario,
        keep: dir.join("keep"),
    }
}

/// Run a scenario with `--json --keep`; returns (output, report path, report).
pub fn run(w: &Work, s: &SqlRun) -> (std::process::Output, PathBuf, Value) {
    let ws = w.path("ws");
    let o = w.run(&[
        "rehearse",
        s.scenario.to_str().unwrap(),
        "--workspace",
        ws.to_str().unwrap(),
        "--json",
        "--keep",
        s.keep.to_str().unwrap(),
    ]);
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(&o), stderr(&o)));
    let rel = v["results"][0]["report"]
        .as_str()
        .unwrap_or_else(|| panic!("no report: {v}"));
    let path = w.dir.path().join(rel);
    let report = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    (o, path, report)
}

/// The outcome of the named check.
pub fn outcome<'a>(r: &'a Value, name: &str) -> &'a str {
    r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .and_then(|c| c["outcome"].as_str())
        .unwrap_or_else(|| panic!("no check {name}: {}", r["checks"]))
}

/// `rollproof verify REPORT --artifacts DIR` must accept the report: every
/// recorded digest is the kept files' own.
pub fn verify_artifacts(w: &Work, report: &Path, r: &Value) {
    // The report records the run's folder, <keep>/<scenario>/<run>;
    // --artifacts takes the folder `rehearse --keep` was given.
    let run = Path::new(r["artifacts"].as_str().expect("artifacts kept"));
    let keep = run.ancestors().nth(2).expect("keep folder");
    let o = w.run(&[
        "verify",
        report.to_str().unwrap(),
        "--artifacts",
        keep.to_str().unwrap(),
    ]);
    assert_success(&o);
}

/// tools/logical_hash.py --json on one file.
pub fn python_logical(file: &Path) -> Value {
    let o = Command::new("python3")
        .arg(repo_file("tools/logical_hash.py"))
        .arg(file)
        .arg("--json")
        .output()
        .expect("python3 must be installed for this test");
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice::<Value>(&o.stdout).unwrap()[0].clone()
}

/// The kept artifact of a phase.
pub fn artifact(r: &Value, phase: &str) -> PathBuf {
    PathBuf::from(r["artifacts"].as_str().unwrap()).join(format!("{}.db", phase.replace('_', "-")))
}

/// Independent agreement on the two ends of a run: the Python
/// re-implementation computes the recorded logical hashes from the kept
/// files.
pub fn python_agrees(r: &Value) {
    for phase in ["before", "after_rollback"] {
        let py = python_logical(&artifact(r, phase));
        assert_eq!(
            py["sha256"], r["phases"][phase]["logical"]["sha256"],
            "logical_hash.py on {phase}"
        );
    }
}
