//! One contract for every command (issue #17): the documented exit codes
//! (0 ok, 1 failed, 2 bad input, 3 refused), `--json` that is JSON on errors
//! too, and messages that name the real problem — one test per row that
//! was wrong.

use crate::util::*;
use serde_json::Value;
use std::path::Path;

fn json(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\n{}", stdout(o), stderr(o)))
}

/// Exit 2 with `{ok: false, kind: "bad-input"}` on stdout and the reason on
/// stderr.
fn assert_bad_input_json(o: &std::process::Output, needle: &str) {
    assert_code(o, 2);
    let v = json(o);
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["kind"], "bad-input", "{v}");
    assert!(v["error"].as_str().unwrap().contains(needle), "{v}");
    assert!(stderr(o).contains(needle), "{}", stderr(o));
}

fn file_scenario(w: &Work, name: &str, file: &Path) -> std::path::PathBuf {
    let p = w.path(&format!("{name}.toml"));
    std::fs::write(
        &p,
        format!(
            "[scenario]\nname = \"{name}\"\nexpect = \"PASS\"\n[surrogate]\nfile = \"{}\"\n\
             [apply]\nkind = \"births\"\ncount = 2\n[snapshot]\nmethod = \"copy\"\n[rollback]\nmethod = \"restore\"\n",
            file.display()
        ),
    )
    .unwrap();
    p
}

#[test]
fn a_text_or_truncated_surrogate_is_bad_input_not_a_refusal() {
    let w = Work::new();
    std::fs::write(w.path("notes.db"), "just text\n".repeat(50)).unwrap();
    let good = w.tiny("good.db", 1);
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(w.path("cut.db"), &bytes[..bytes.len() - 1024]).unwrap();
    for (file, needle) in [("notes.db", "no SQLite header"), ("cut.db", "truncated")] {
        let sc = file_scenario(&w, "s", &w.path(file));
        let o = w.run(&["rehearse", sc.to_str().unwrap()]);
        assert_code(&o, 2);
        assert!(stderr(&o).contains(needle), "{}", stderr(&o));
        // The scenario's path is named once, not twice.
        assert_eq!(stderr(&o).matches("s.toml").count(), 1, "{}", stderr(&o));
        let o = w.run(&["guard", "adopt", file, "rollproof-work/runs/x.db", "--json"]);
        assert_bad_input_json(&o, needle);
    }
}

#[test]
fn guard_questions_about_missing_files_and_non_urls_are_bad_input() {
    let w = Work::new();
    let o = w.run(&["guard", "target", "missing.db", "--json"]);
    assert_bad_input_json(&o, "missing.db: no such file");
    std::fs::create_dir(w.path("folder.db")).unwrap();
    let o = w.run(&["guard", "target", "folder.db"]);
    assert_code(&o, 2);
    assert!(
        stderr(&o).contains("is a directory, not a regular file"),
        "{}",
        stderr(&o)
    );
    let o = w.run(&["guard", "url", "not a url", "--json"]);
    assert_bad_input_json(&o, "not a PostgreSQL URL");
    // A real URL to a non-local server is refused (3), in JSON too.
    let o = w.run(&[
        "guard",
        "url",
        "postgres://db.prod.internal/rollproof_x",
        "--json",
    ]);
    assert_code(&o, 3);
    assert_eq!(json(&o)["allowed"], false);
    // Asking created nothing.
    assert!(!w.path("rollproof-work").exists());
}

#[test]
fn hash_refuses_an_empty_file_and_still_prints_the_good_ones() {
    let w = Work::new();
    let good = w.tiny("good.db", 2);
    std::fs::write(w.path("empty.db"), b"").unwrap();
    let o = w.run(&["hash", "empty.db"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("empty"), "{}", stderr(&o));
    let o = w.run(&[
        "hash",
        "--json",
        good.to_str().unwrap(),
        "missing.db",
        "empty.db",
    ]);
    assert_code(&o, 2);
    let v = json(&o);
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), 3, "{v}");
    assert_eq!(items[0]["ok"], true);
    assert_eq!(items[0]["sha256"], sha256_file(&good));
    assert_eq!(items[1]["ok"], false);
    assert_eq!(items[1]["kind"], "bad-input");
    assert_eq!(items[1]["path"], "missing.db");
    assert!(items[2]["error"].as_str().unwrap().contains("empty"), "{v}");
}

#[test]
fn missing_artifacts_folder_is_bad_input_not_a_failed_proof() {
    let w = Work::new();
    std::fs::write(w.path("r.json"), b"{}").unwrap();
    let o = w.run(&["verify", "r.json", "--artifacts", "nowhere", "--json"]);
    assert_bad_input_json(&o, "--artifacts nowhere: no such folder");
    // An unreadable report is an entry of the JSON array, exit 2.
    let o = w.run(&["verify", "absent.json", "--json"]);
    assert_code(&o, 2);
    let v = json(&o);
    assert_eq!(v[0]["report"], "absent.json");
    assert_eq!(v[0]["kind"], "bad-input");
}

#[test]
fn generate_checks_its_output_and_free_space_before_writing() {
    let w = Work::new();
    let tiny = repo_file("surrogates/profiles/tiny.toml");
    let profile = tiny.to_str().unwrap();
    // Missing folders are made (the README's `--out work/s.db`).
    let o = w.run(&["generate", "--profile", profile, "--out", "work/deep/s.db"]);
    assert_success(&o);
    assert!(w.path("work/deep/s.db").is_file());
    // A folder where the file belongs is named as such, even with --force.
    for extra in [&[][..], &["--force"][..]] {
        let mut args = vec!["generate", "--profile", profile, "--out", "work"];
        args.extend(extra);
        let o = w.run(&args);
        assert_code(&o, 2);
        assert!(stderr(&o).contains("work is a directory"), "{}", stderr(&o));
    }
    // An absurd scale is refused before a byte is written.
    let default = repo_file("surrogates/profiles/default.toml");
    let o = w.run(&[
        "generate",
        "--profile",
        default.to_str().unwrap(),
        "--scale",
        "1e9",
        "--out",
        "huge.db",
        "--json",
    ]);
    assert_bad_input_json(&o, "would need at least");
    let left: Vec<_> = std::fs::read_dir(w.dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "only work/ remains: {left:?}");
}

#[test]
fn rehearse_checks_keep_and_reports_before_it_starts() {
    let w = Work::new();
    std::fs::write(w.path("keep"), b"a file").unwrap();
    let sc = file_scenario(&w, "k", &repo_file("surrogates/fixtures/tiny-seed7.db"));
    let o = w.run(&["rehearse", sc.to_str().unwrap(), "--keep", "keep", "--json"]);
    assert_bad_input_json(&o, "keep is a file, not a folder");
    assert!(!w.path("rollproof-work/runs").exists(), "no run started");
    let o = w.run(&["rehearse", sc.to_str().unwrap(), "--reports", "keep"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("--reports"), "{}", stderr(&o));
}

#[test]
fn toml_errors_name_line_and_column_once() {
    let w = Work::new();
    let sc = w.path("bad.toml");
    std::fs::write(
        &sc,
        "[scenario]\nname = \"bad\"\nexpect = \"PASS\"\ncolour = \"red\"\n",
    )
    .unwrap();
    let o = w.run(&["rehearse", "bad.toml"]);
    assert_code(&o, 2);
    let e = stderr(&o);
    assert!(e.contains("line 4, column 1"), "{e}");
    assert!(!e.contains("at byte"), "{e}");
    assert_eq!(e.matches("bad.toml").count(), 1, "{e}");
    std::fs::write(
        w.path("p.toml"),
        "[profile]\nname = \"p\"\n[tables.x]\nrows = \"many\"\n",
    )
    .unwrap();
    let o = w.run(&["generate", "--profile", "p.toml", "--out", "p.db"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("line 4, column 8"), "{}", stderr(&o));
}

#[test]
fn usage_errors_are_json_when_json_was_asked_for() {
    let w = Work::new();
    let o = w.run(&["hash", "--json", "--bogus"]);
    assert_bad_input_json(&o, "--bogus");
    let o = w.run(&["guard", "adopt", "a.db"]);
    assert_code(&o, 2);
}

#[test]
fn adopt_keeps_an_existing_destination_without_force() {
    let w = Work::new();
    let src = repo_file("surrogates/fixtures/tiny-seed7.db");
    let src = src.to_str().unwrap();
    assert_success(&w.run(&["guard", "adopt", src, "rollproof-work/runs/t.db"]));
    let before = std::fs::read(w.path("rollproof-work/runs/t.db")).unwrap();
    let o = w.run(&["guard", "adopt", src, "rollproof-work/runs/t.db"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(w.path("rollproof-work/runs/t.db")).unwrap(),
        before
    );
    assert_success(&w.run(&["guard", "adopt", src, "rollproof-work/runs/t.db", "--force"]));
}

#[test]
fn rehearsing_a_folder_says_which_subfolders_it_skips() {
    let w = Work::new();
    std::fs::create_dir_all(w.path("sc/sub")).unwrap();
    std::fs::write(w.path("sc/sub/x.toml"), "not even read").unwrap();
    let bad = w.path("sc/a.toml");
    std::fs::write(&bad, "[scenario]\n").unwrap();
    // A folder of SQL scripts beside the scenarios holds none: no note.
    std::fs::create_dir_all(w.path("sc/sql")).unwrap();
    std::fs::write(w.path("sc/sql/up.sql"), "SELECT 1;").unwrap();
    let o = w.run(&["rehearse", "sc"]);
    assert!(
        stderr(&o).contains("skipped the subfolder sc/sub/ (pass --recursive"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("sc/sql"), "{}", stderr(&o));
    let o = w.run(&["rehearse", "sc", "--recursive", "--json"]);
    let v = json(&o);
    assert_eq!(v["results"].as_array().unwrap().len(), 2, "{v}");
}

/// Every command that takes `--json` prints one JSON object on stdout when
/// it fails on bad input (2), with `ok: false`, the `kind` of the exit
/// code's row and the same message as stderr's `rollproof: error:` line.
/// The table must name every such command: a new one with `--json` and no
/// row fails here.
#[test]
fn every_json_command_prints_json_on_bad_input() {
    let w = Work::new();
    let tiny = repo_file("surrogates/profiles/tiny.toml");
    let tiny = tiny.to_str().unwrap();
    let rows: &[&[&str]] = &[
        &["generate", "--profile", "missing.toml", "--out", "o.db"],
        &["profile", "missing.db", "--out", "p.toml"],
        &["fidelity", "missing.db", "--profile", tiny],
        &["rehearse", "missing.toml"],
        &["verify", "missing.json"],
        &["hash", "missing.db"],
        &["seal", "--root", "missing"],
        &["check", "--root", "missing"],
        &["blockers", "validate", "missing.json"],
        &["blockers", "show", "missing.json"],
        &[
            "attach",
            "missing.json",
            "--map",
            "m.json",
            "--blocker",
            "B",
        ],
        &["promote", "missing.json"],
        &["guard", "check", "REAL_RUN", "--grant", "missing.toml"],
        &["guard", "target", "missing.db"],
        &["guard", "url", "not a url"],
        &["guard", "adopt", "missing.db", "rollproof-work/runs/t.db"],
        &["intake", "missing.db"],
        &["migrations", "missing"],
        &["clean", "--target-url", "not a url"],
        &[
            "guard",
            "grant",
            "cutover",
            "--granted-by",
            "owner@example.org",
            "--valid-for",
            "2h",
            "--target-digest",
            "661fce8ba6111939cf6cc2a49e8f599b689ec623f78c5d30d9f8cad10f4d793e",
            "--sign-key",
            "missing_key",
            "--out",
            "g.toml",
        ],
    ];
    let with_json_flag: Vec<String> = crate::examples::command_paths()
        .into_iter()
        .filter(|p| {
            // An option line, not an example that uses a subcommand's flag.
            crate::examples::help_text(p)
                .lines()
                .any(|l| l.trim_start().starts_with("--json"))
        })
        .map(|p| p.join(" "))
        .collect();
    let mut covered = std::collections::BTreeSet::new();
    for args in rows {
        // The row's command: the longest leading words that name one.
        let path = (1..=2)
            .rev()
            .map(|n| args[..n.min(args.len())].join(" "))
            .find(|p| with_json_flag.contains(p))
            .unwrap_or_else(|| panic!("{args:?} is not a command that takes --json"));
        let mut with_json = args.to_vec();
        with_json.push("--json");
        let o = w.run(&with_json);
        assert_code(&o, 2);
        // Commands over several files (hash, verify) print an array of
        // per-file entries, the bad one as such an entry (README).
        let v = match json(&o) {
            Value::Array(entries) => entries
                .into_iter()
                .find(|e| e["ok"] == false)
                .unwrap_or_else(|| panic!("{args:?}: no failed entry")),
            v => v,
        };
        assert_eq!(v["ok"], false, "{args:?}: {v}");
        assert_eq!(v["kind"], "bad-input", "{args:?}: {v}");
        let message = v["error"].as_str().unwrap_or_default();
        let first = message.lines().next().unwrap_or_default();
        assert!(
            !first.is_empty() && stderr(&o).contains(first),
            "{args:?}: stderr does not say what the JSON says:\n{v}\n{}",
            stderr(&o)
        );
        covered.insert(path);
    }
    for path in &with_json_flag {
        assert!(
            covered.contains(path),
            "`rollproof {path} --json` has no row in this test"
        );
    }
}
