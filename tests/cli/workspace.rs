//! Running rollproof never dirties the repository (issue #17): every run
//! writes to the workspace `rollproof-work/` at the project root, from any
//! folder, ignored by git through its own `.gitignore`; only `promote`
//! adds evidence to the sealed reports/, sealing exactly what it adds; dry
//! runs are marked and refused as evidence; files get normal modes.

use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A scenario on the tiny profile, written outside the project.
fn scenario(dir: &Path, name: &str) -> PathBuf {
    let profile = repo_file("surrogates/profiles/tiny.toml");
    let text = format!(
        "[scenario]\nname = \"{name}\"\nblocker = \"FIX7-P0-DRYRUN-PROD-ROLLBACK-1\"\nexpect = \"PASS\"\n\n\
         [surrogate]\nprofile = \"{}\"\nseed = 3\n\n\
         [apply]\nkind = \"births\"\ncount = 3\n\n\
         [snapshot]\nmethod = \"copy\"\n\n[rollback]\nmethod = \"restore\"\n",
        profile.display()
    );
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(&p, text).unwrap();
    p
}

/// A fresh git repository (a `.git` folder when git is missing) with a
/// `docs/` folder; returns its root.
fn project(w: &Work) -> PathBuf {
    let root = w.path("proj");
    std::fs::create_dir_all(root.join("docs")).unwrap();
    let git = Command::new("git")
        .args(["init", "-q"])
        .current_dir(&root)
        .status();
    if !git.is_ok_and(|s| s.success()) {
        std::fs::create_dir_all(root.join(".git")).unwrap();
    }
    root.canonicalize().unwrap()
}

/// Run the binary in `dir`.
fn run_in(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rollproof"))
        .args(args)
        .current_dir(dir)
        .env_remove("ROLLPROOF_WORKSPACE")
        .output()
        .expect("run rollproof")
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn git_status(root: &Path) -> Option<String> {
    let o = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=all"])
        .current_dir(root)
        .output()
        .ok()?;
    o.status.success().then(|| stdout(&o))
}

fn json(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", stdout(o), stderr(o)))
}

#[test]
fn a_run_from_a_subfolder_writes_only_to_the_workspace_at_the_project_root() {
    let w = Work::new();
    let root = project(&w);
    let sc = scenario(w.dir.path(), "ws-from-docs");
    let docs = root.join("docs");

    // A read-only question first: it creates neither the workspace nor its key.
    let o = run_in(&docs, &["guard", "target", "x.db"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(!root.join("rollproof-work").exists());

    let o = run_in(&docs, &["rehearse", sc.to_str().unwrap(), "--json"]);
    assert_success(&o);
    let report = PathBuf::from(json(&o)["results"][0]["report"].as_str().unwrap());
    let report = docs.join(report);
    assert!(
        report.starts_with(root.join("rollproof-work/reports/ws-from-docs")),
        "{}",
        report.display()
    );
    assert!(report.is_file());

    // The attestation of a report goes to the workspace too.
    let key = w.keygen("keys/ci", "ci@example.org");
    let o = run_in(
        &docs,
        &[
            "report",
            "attest",
            report.to_str().unwrap(),
            "--sign-key",
            key.private.to_str().unwrap(),
        ],
    );
    assert_success(&o);
    assert!(
        root.join("rollproof-work/attestations/ws-from-docs")
            .is_dir()
    );

    // Nothing but the workspace appeared, nothing at all under docs/, and
    // the workspace ignores itself.
    assert_eq!(entries(&root), [".git", "docs", "rollproof-work"]);
    assert!(entries(&docs).is_empty(), "{:?}", entries(&docs));
    let ignore = std::fs::read_to_string(root.join("rollproof-work/.gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "*"), "{ignore}");
    assert!(root.join("rollproof-work/.rollproof/key").is_file());
    if let Some(status) = git_status(&root) {
        assert_eq!(status, "", "git sees the run");
    }

    // seal and check mean the project root's SEALS.json from docs/ too.
    std::fs::create_dir_all(root.join("surrogates")).unwrap();
    std::fs::write(root.join("surrogates/a.txt"), "a").unwrap();
    assert_success(&run_in(&docs, &["seal"]));
    assert!(root.join("SEALS.json").is_file());
    let o = run_in(&docs, &["check", "--json"]);
    assert_success(&o);
    assert_eq!(json(&o)["ok"], serde_json::json!(["surrogates/a.txt"]));
    assert!(entries(&docs).is_empty(), "{:?}", entries(&docs));
}

#[test]
fn promote_copies_verified_reports_and_seals_exactly_them() {
    let w = Work::new();
    let root = project(&w);
    // A sealed tree with one sealed file and one stray, unsealed one.
    std::fs::create_dir_all(root.join("surrogates")).unwrap();
    std::fs::write(root.join("surrogates/a.txt"), "a").unwrap();
    assert_success(&run_in(&root, &["seal"]));
    std::fs::create_dir_all(root.join("reports/old")).unwrap();
    std::fs::write(root.join("reports/old/stray.json"), "{}").unwrap();

    let sc = scenario(w.dir.path(), "promo");
    let o = run_in(&root, &["rehearse", sc.to_str().unwrap(), "--json"]);
    assert_success(&o);
    let report = root.join(json(&o)["results"][0]["report"].as_str().unwrap());
    let name = report.file_name().unwrap().to_str().unwrap().to_string();

    let o = run_in(
        &root.join("docs"),
        &["promote", report.to_str().unwrap(), "--json"],
    );
    assert_success(&o);
    let out = json(&o);
    assert_eq!(out["ok"], true);
    let md = name.replace(".json", ".md");
    assert_eq!(
        out["sealed"]["added"],
        serde_json::json!([
            format!("reports/promo/{name}"),
            format!("reports/promo/{md}")
        ])
    );
    assert_eq!(
        std::fs::read(root.join("reports/promo").join(&name)).unwrap(),
        std::fs::read(&report).unwrap()
    );
    // The stray file was not swept in: check names it, and only it.
    let o = run_in(&root, &["check", "--json"]);
    assert_code(&o, 1);
    let findings = json(&o)["findings"].clone();
    assert_eq!(findings.as_array().unwrap().len(), 1, "{findings}");
    assert_eq!(findings[0]["path"], "reports/old/stray.json");

    // Promoting again changes nothing; a report that does not verify is not
    // promoted (exit 1), and its failure is JSON too.
    let o = run_in(&root, &["promote", report.to_str().unwrap(), "--json"]);
    assert_success(&o);
    assert_eq!(json(&o)["sealed"]["added"], serde_json::json!([]));
    let forged = w.path("forged.json");
    let text = std::fs::read_to_string(&report).unwrap();
    std::fs::write(&forged, text.replacen("\"PASS\"", "\"FAIL\"", 1)).unwrap();
    let o = run_in(&root, &["promote", forged.to_str().unwrap(), "--json"]);
    assert_code(&o, 1);
    assert_eq!(json(&o)["kind"], "failed");
    assert!(!root.join("reports/promo/forged.json").exists());
}

#[test]
fn a_dry_run_is_marked_and_never_becomes_evidence() {
    let w = Work::new();
    let root = project(&w);
    let sc = scenario(w.dir.path(), "dry");
    // The scenario's own profile is tiny; override it with another file.
    let other = w.path("other.toml");
    std::fs::copy(repo_file("surrogates/profiles/tiny.toml"), &other).unwrap();
    // Signed by a key the map trusts: only the dry run stands in the way.
    let key = w.keygen("keys/ci", "ci@example.org");
    w.allowed_signers(
        "allowed_signers",
        &[(&key, "namespaces=\"rollproof-report\"")],
    );
    let o = run_in(
        &root,
        &[
            "rehearse",
            sc.to_str().unwrap(),
            "--profile-override",
            other.to_str().unwrap(),
            "--sign-key",
            key.private.to_str().unwrap(),
            "--json",
        ],
    );
    assert_success(&o);
    let report = root.join(json(&o)["results"][0]["report"].as_str().unwrap());
    let r: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert!(
        r["dry_run"]
            .as_str()
            .unwrap()
            .contains("--profile-override"),
        "{}",
        r["dry_run"]
    );
    // It verifies (it is an honest report of a dry run) …
    assert_success(&run_in(&root, &["verify", report.to_str().unwrap()]));
    let o = run_in(&root, &["report", "show", report.to_str().unwrap()]);
    assert!(
        stdout(&o).contains("DRY RUN, not evidence"),
        "{}",
        stdout(&o)
    );
    // … but attach and promote refuse it (exit 3).
    let map = w.path("map.json");
    std::fs::copy(repo_file("tests/fixtures/final-blocker-map.json"), &map).unwrap();
    let before = std::fs::read(&map).unwrap();
    let o = run_in(
        &root,
        &[
            "attach",
            report.to_str().unwrap(),
            "--map",
            map.to_str().unwrap(),
            "--blocker",
            "FIX7-P0-DRYRUN-PROD-ROLLBACK-1",
        ],
    );
    assert_code(&o, 3);
    assert!(stderr(&o).contains("dry run"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&map).unwrap(), before);
    let o = run_in(&root, &["promote", report.to_str().unwrap(), "--json"]);
    assert_code(&o, 3);
    assert_eq!(json(&o)["kind"], "refused");
    assert!(!root.join("reports").exists());
}

#[cfg(unix)]
#[test]
fn written_files_follow_the_umask_and_a_replaced_map_keeps_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let w = Work::new();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let bin = env!("CARGO_BIN_EXE_rollproof");
    let tiny = repo_file("surrogates/profiles/tiny.toml");
    let script = format!(
        "umask 022 && '{bin}' generate --profile '{}' --seed 1 --out s.db && '{bin}' profile s.db --out p.toml",
        tiny.display()
    );
    let o = Command::new("sh")
        .args(["-c", &script])
        .current_dir(w.dir.path())
        .output()
        .unwrap();
    assert_success(&o);
    assert_eq!(mode(&w.path("s.db")), 0o644);
    assert_eq!(mode(&w.path("p.toml")), 0o644);
    // The workspace key stays owner-only.
    let sc = scenario(w.dir.path(), "modes");
    let key = w.keygen("keys/ci", "ci@example.org");
    w.allowed_signers(
        "allowed_signers",
        &[(&key, "namespaces=\"rollproof-report\"")],
    );
    let o = w.run(&[
        "rehearse",
        sc.to_str().unwrap(),
        "--sign-key",
        key.private.to_str().unwrap(),
        "--json",
    ]);
    assert_success(&o);
    assert_eq!(mode(&w.path("rollproof-work/.rollproof/key")), 0o600);
    let run = w.path(json(&o)["results"][0]["report"].as_str().unwrap());
    let map = w.path("map.json");
    std::fs::copy(repo_file("tests/fixtures/final-blocker-map.json"), &map).unwrap();
    std::fs::set_permissions(&map, std::fs::Permissions::from_mode(0o664)).unwrap();
    let attach = |report: &Path| {
        w.run(&[
            "attach",
            report.to_str().unwrap(),
            "--map",
            map.to_str().unwrap(),
            "--blocker",
            "FIX7-P0-DRYRUN-PROD-ROLLBACK-1",
        ])
    };
    // A run still in the workspace is not evidence until promoted (3).
    let before = std::fs::read(&map).unwrap();
    let o = attach(&run);
    assert_code(&o, 3);
    assert!(
        stderr(&o).contains("not promoted evidence; run `rollproof promote "),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&map).unwrap(), before);
    assert_success(&w.run(&["promote", run.to_str().unwrap()]));
    let report = w.path("reports/modes").join(run.file_name().unwrap());
    // attach rewrites the map: its mode stays.
    let o = attach(&report);
    assert_success(&o);
    assert_eq!(mode(&map), 0o664);
    // A wrong --blocker id is bad input and lists the map's ids.
    let o = w.run(&[
        "attach",
        report.to_str().unwrap(),
        "--map",
        map.to_str().unwrap(),
        "--blocker",
        "FIX7-NOPE",
    ]);
    assert_code(&o, 2);
    assert!(
        stderr(&o).contains("blocker ids are: FIX7-P0-PROD-BIRTH-SURFACE-1, "),
        "{}",
        stderr(&o)
    );
}
