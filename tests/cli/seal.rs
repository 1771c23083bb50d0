//! `rollproof seal` / `rollproof check`: seal-vs-bytes. Every test builds its
//! own temporary repository (a copied profile, a generated fixture, two
//! reports), seals it, tampers with it one way, and checks that `check`
//! fails closed and names that kind of drift.

use crate::util::*;
use serde_json::Value;
use std::fs;
use std::process::Output;

const FIXTURE: &str = "surrogates/fixtures/tiny-seed7.db";
const PROFILE: &str = "surrogates/profiles/tiny.toml";
const REPORT: &str = "reports/births/run-1.json";
const NOTE: &str = "reports/births/run-1.md";

/// A sealed temporary repository.
fn sealed_repo() -> Work {
    let w = Work::new();
    fs::create_dir_all(w.path("surrogates/profiles")).unwrap();
    fs::copy(repo_file(PROFILE), w.path(PROFILE)).unwrap();
    fs::create_dir_all(w.path("reports/births")).unwrap();
    fs::write(w.path(REPORT), b"{\"verdict\":\"pass\",\"n\":1}\n").unwrap();
    fs::write(w.path(NOTE), "# run 1\n\nverdict: pass\n").unwrap();
    let o = w.run(&[
        "seal",
        "--fixture",
        FIXTURE,
        "--profile",
        PROFILE,
        "--seed",
        "7",
    ]);
    assert_success(&o);
    w
}

fn check(w: &Work, extra: &[&str]) -> (Output, Value) {
    let mut args = vec!["check", "--json"];
    args.extend_from_slice(extra);
    let o = w.run(&args);
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("check --json output is not JSON ({e}): {}", stdout(&o)));
    (o, v)
}

/// (path, drift) of every finding.
fn findings(v: &Value) -> Vec<(String, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["drift"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Assert `check` exits 1 and reports exactly `expected`, in both the JSON
/// and the text output.
fn assert_drift(w: &Work, expected: &[(&str, &str)]) -> Value {
    let (o, v) = check(w, &[]);
    assert_code(&o, 1);
    let mut want: Vec<(String, String)> = expected
        .iter()
        .map(|(p, d)| (p.to_string(), d.to_string()))
        .collect();
    want.sort();
    let mut got = findings(&v);
    got.sort();
    assert_eq!(got, want, "{}", serde_json::to_string_pretty(&v).unwrap());
    let text = w.run(&["check"]);
    assert_code(&text, 1);
    for (p, d) in expected {
        let line = format!("{p}: FAILED ({d}: ");
        assert!(
            stdout(&text).contains(&line),
            "no `{line}` in\n{}",
            stdout(&text)
        );
    }
    assert!(stderr(&text).contains("DRIFT"), "{}", stderr(&text));
    v
}

/// Canonical JSON as docs/SEALS.md defines it, written independently of
/// the crate: keys sorted, no whitespace.
fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        Value::String((*k).clone()),
                        canonical(&m[k.as_str()])
                    )
                })
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        s => s.to_string(),
    }
}

fn seal_of(v: &Value) -> String {
    use sha2::{Digest, Sha256};
    let mut body = v.clone();
    body.as_object_mut().unwrap().shift_remove("seal");
    hex::encode(Sha256::digest(canonical(&body).as_bytes()))
}

/// Edit SEALS.json; with `reseal`, recompute its seal so only the edit shows.
fn edit_manifest(w: &Work, reseal: bool, edit: impl FnOnce(&mut Value)) {
    let path = w.path("SEALS.json");
    let mut v: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    edit(&mut v);
    if reseal {
        let s = seal_of(&v);
        v["seal"] = Value::String(s);
    }
    fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

fn entry<'a>(v: &'a mut Value, path: &str) -> &'a mut Value {
    v["files"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["path"] == path)
        .unwrap()
}

#[test]
fn sealed_repo_checks_clean_and_fixture_regenerates_byte_identically() {
    let w = sealed_repo();
    let m: Value = serde_json::from_slice(&fs::read(w.path("SEALS.json")).unwrap()).unwrap();
    assert_eq!(m["format"], "rollproof-seals");
    assert_eq!(
        m["sealed_dirs"],
        serde_json::json!(["reports", "surrogates"])
    );
    let paths: Vec<&str> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, vec![REPORT, NOTE, FIXTURE, PROFILE]);
    // Digests and sizes agree with an independent hash of the bytes.
    for e in m["files"].as_array().unwrap() {
        let p = w.path(e["path"].as_str().unwrap());
        assert_eq!(e["sha256"], sha256_file(&p).as_str());
        assert_eq!(e["size"], fs::metadata(&p).unwrap().len());
    }
    assert_eq!(m["files"][2]["generated"]["seed"], 7);
    assert_eq!(m["files"][2]["generated"]["profile"], PROFILE);
    assert_eq!(m["seal"], seal_of(&m).as_str());

    let (o, v) = check(&w, &["--regenerate"]);
    assert_success(&o);
    assert!(findings(&v).is_empty());
    assert_eq!(v["ok"].as_array().unwrap().len(), 4);
    assert_eq!(v["regenerated"], serde_json::json!([FIXTURE]));
    let text = w.run(&["check", "--regenerate"]);
    assert_success(&text);
    assert!(stdout(&text).contains(&format!("{FIXTURE}: OK")));
    assert!(stdout(&text).contains(&format!("{FIXTURE}: REGENERATED")));
}

#[test]
fn changed_byte_is_changed_bytes() {
    let w = sealed_repo();
    let mut bytes = fs::read(w.path(FIXTURE)).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    fs::write(w.path(FIXTURE), &bytes).unwrap();
    assert_drift(&w, &[(FIXTURE, "changed-bytes")]);
}

#[test]
fn truncated_file_is_truncated() {
    let w = sealed_repo();
    let f = fs::OpenOptions::new()
        .write(true)
        .open(w.path(FIXTURE))
        .unwrap();
    let len = f.metadata().unwrap().len();
    f.set_len(len - 4096).unwrap();
    assert_drift(&w, &[(FIXTURE, "truncated")]);
}

#[test]
fn appended_byte_is_appended_and_growth_with_edits_is_changed_bytes() {
    let w = sealed_repo();
    let mut bytes = fs::read(w.path(REPORT)).unwrap();
    bytes.push(b'\n');
    fs::write(w.path(REPORT), &bytes).unwrap();
    assert_drift(&w, &[(REPORT, "appended")]);
    bytes[0] = b'[';
    fs::write(w.path(REPORT), &bytes).unwrap();
    assert_drift(&w, &[(REPORT, "changed-bytes")]);
}

#[test]
fn deleted_sealed_file_is_missing() {
    let w = sealed_repo();
    fs::remove_file(w.path(NOTE)).unwrap();
    assert_drift(&w, &[(NOTE, "missing")]);
}

#[test]
fn new_file_in_a_sealed_folder_is_unsealed_even_hidden_or_nested() {
    let w = sealed_repo();
    fs::write(w.path("reports/births/run-2.json"), b"{}").unwrap();
    fs::create_dir_all(w.path("surrogates/deep/er")).unwrap();
    fs::write(w.path("surrogates/deep/er/.hidden"), b"").unwrap();
    // Outside the sealed folders: not our business.
    fs::write(w.path("notes.txt"), b"free").unwrap();
    assert_drift(
        &w,
        &[
            ("reports/births/run-2.json", "unsealed"),
            ("surrogates/deep/er/.hidden", "unsealed"),
        ],
    );
}

#[test]
fn moved_file_is_renamed_not_missing_plus_unsealed() {
    let w = sealed_repo();
    fs::rename(w.path(NOTE), w.path("reports/births/run-one.md")).unwrap();
    let v = assert_drift(&w, &[(NOTE, "renamed")]);
    assert!(
        v["findings"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("reports/births/run-one.md")
    );
}

#[test]
fn file_replaced_by_symlink_is_symlink_and_outside_target_is_symlink_outside() {
    let w = sealed_repo();
    fs::remove_file(w.path(NOTE)).unwrap();
    std::os::unix::fs::symlink("run-1.json", w.path(NOTE)).unwrap();
    let outside = Work::new();
    fs::write(outside.path("evil.json"), b"{}").unwrap();
    std::os::unix::fs::symlink(outside.path("evil.json"), w.path("reports/evil.json")).unwrap();
    std::os::unix::fs::symlink("../../../../etc", w.path("surrogates/etc")).unwrap();
    assert_drift(
        &w,
        &[
            (NOTE, "symlink"),
            ("reports/evil.json", "symlink-outside"),
            ("surrogates/etc", "symlink-outside"),
        ],
    );
    // A symlinked sealed folder is not entered either.
    let w = sealed_repo();
    fs::rename(w.path("reports"), w.path("elsewhere")).unwrap();
    std::os::unix::fs::symlink("elsewhere", w.path("reports")).unwrap();
    assert_drift(
        &w,
        &[
            (REPORT, "missing"),
            (NOTE, "missing"),
            ("reports", "symlink"),
        ],
    );
}

#[test]
fn edited_entry_digest_or_size_breaks_the_seal_and_names_the_entry() {
    let w = sealed_repo();
    edit_manifest(&w, false, |v| {
        entry(v, REPORT)["sha256"] = Value::String("0".repeat(64));
    });
    let v = assert_drift(
        &w,
        &[
            ("SEALS.json", "manifest-seal-broken"),
            (REPORT, "entry-edited"),
        ],
    );
    assert_eq!(v["ok"].as_array().unwrap().len(), 3);

    let w = sealed_repo();
    edit_manifest(&w, false, |v| {
        let e = entry(v, NOTE);
        e["size"] = Value::from(e["size"].as_u64().unwrap() + 1);
    });
    assert_drift(
        &w,
        &[
            ("SEALS.json", "manifest-seal-broken"),
            (NOTE, "entry-edited"),
        ],
    );
}

#[test]
fn broken_manifest_seal_is_reported_even_when_bytes_match() {
    let w = sealed_repo();
    // A hand edit that no file contradicts: bump the fixture's seed.
    edit_manifest(&w, false, |v| {
        entry(v, FIXTURE)["generated"]["seed"] = Value::from(8);
    });
    let v = assert_drift(&w, &[("SEALS.json", "manifest-seal-broken")]);
    assert_eq!(v["ok"].as_array().unwrap().len(), 4);
    // Removing the seal altogether is no better.
    edit_manifest(&w, false, |v| {
        v.as_object_mut().unwrap().shift_remove("seal");
    });
    assert_drift(&w, &[("SEALS.json", "manifest-seal-broken")]);
}

#[test]
fn duplicate_and_path_traversing_entries_fail_before_any_file_is_read() {
    let w = sealed_repo();
    edit_manifest(&w, true, |v| {
        let files = v["files"].as_array_mut().unwrap();
        let mut dup = files[0].clone();
        files.push(dup.clone());
        dup["path"] = Value::String("reports/../../secret".into());
        files.push(dup.clone());
        dup["path"] = Value::String("/etc/passwd".into());
        files.push(dup.clone());
        dup["path"] = Value::String("reports/./births/run-1.json".into());
        files.push(dup.clone());
        dup["path"] = Value::String("src/main.rs".into());
        files.push(dup);
    });
    assert_drift(
        &w,
        &[
            (REPORT, "duplicate-entry"),
            ("reports/../../secret", "path-traversal"),
            ("/etc/passwd", "path-traversal"),
            ("reports/./births/run-1.json", "bad-path"),
            ("src/main.rs", "bad-path"),
        ],
    );
    // A traversing sealed folder is refused, not walked.
    edit_manifest(&w, true, |v| {
        v["sealed_dirs"] = serde_json::json!(["..", "reports", "surrogates"]);
        v["files"].as_array_mut().unwrap().truncate(4);
    });
    assert_drift(&w, &[("..", "path-traversal")]);
}

#[test]
fn manifest_that_is_not_json_or_not_a_manifest_fails_and_missing_one_is_bad_input() {
    let w = sealed_repo();
    let good = fs::read(w.path("SEALS.json")).unwrap();
    fs::write(w.path("SEALS.json"), &good[..good.len() / 2]).unwrap();
    let v = assert_drift(&w, &[("SEALS.json", "invalid-json")]);
    assert!(
        v["findings"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("line")
    );
    edit_manifest_raw(
        &w,
        &String::from_utf8(good.clone())
            .unwrap()
            .replace("\"size\"", "\"bytes\""),
    );
    assert_drift(&w, &[("SEALS.json", "invalid-manifest")]);
    fs::remove_file(w.path("SEALS.json")).unwrap();
    let o = w.run(&["check"]);
    assert_code(&o, 2);
    let err = stderr(&o);
    assert!(
        err.contains("SEALS.json") && err.contains("rollproof seal"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

fn edit_manifest_raw(w: &Work, text: &str) {
    fs::write(w.path("SEALS.json"), text).unwrap();
}

#[test]
fn regenerate_proves_reproducible_not_merely_unchanged() {
    let w = sealed_repo();
    // Recipe edited and re-sealed consistently: the bytes are unchanged,
    // so a plain check passes, but the fixture no longer regenerates.
    edit_manifest(&w, true, |v| {
        entry(v, FIXTURE)["generated"]["seed"] = Value::from(8);
    });
    let (o, _) = check(&w, &[]);
    assert_success(&o);
    let (o, v) = check(&w, &["--regenerate"]);
    assert_code(&o, 1);
    assert_eq!(
        findings(&v),
        vec![(FIXTURE.to_string(), "not-regenerable".to_string())]
    );
    // A recipe whose profile is not sealed is a bad entry even without it.
    edit_manifest(&w, true, |v| {
        entry(v, FIXTURE)["generated"]["profile"] = Value::String("surrogates/nope.toml".into());
    });
    assert_drift(&w, &[(FIXTURE, "bad-entry")]);
}

#[test]
fn seal_paths_updates_only_those_and_regenerate_fixtures_restores_the_fixture() {
    let w = sealed_repo();
    fs::write(w.path(REPORT), b"{\"verdict\":\"fail\"}\n").unwrap();
    fs::write(w.path("reports/births/run-2.md"), b"two").unwrap();
    fs::write(w.path(FIXTURE), b"clobbered").unwrap();
    let o = w.run(&["seal", "reports/births", "--json"]);
    assert_success(&o);
    let out: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(out["changed"], serde_json::json!([REPORT]));
    assert_eq!(out["added"], serde_json::json!(["reports/births/run-2.md"]));
    // The fixture was outside the update, so its drift still shows...
    assert_drift(&w, &[(FIXTURE, "truncated")]);
    // ...until the one documented command rebuilds it from its recipe.
    let o = w.run(&["seal", "--regenerate-fixtures"]);
    assert_success(&o);
    let (o, _) = check(&w, &["--regenerate"]);
    assert_success(&o);
    // Dropping a deleted file by naming it.
    fs::remove_file(w.path(NOTE)).unwrap();
    assert_success(&w.run(&["seal", NOTE]));
    let (o, v) = check(&w, &[]);
    assert_success(&o);
    assert_eq!(v["entries"], 4);
}

#[test]
fn seal_refuses_symlinks_escapes_and_a_broken_manifest_and_writes_nothing() {
    let w = sealed_repo();
    let before = fs::read(w.path("SEALS.json")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", w.path("reports/host")).unwrap();
    let o = w.run(&["seal"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("reports/host"), "{}", stderr(&o));
    fs::remove_file(w.path("reports/host")).unwrap();
    let o = w.run(&["seal", "../outside"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("../outside"), "{}", stderr(&o));
    assert_eq!(fs::read(w.path("SEALS.json")).unwrap(), before);

    edit_manifest(&w, false, |v| {
        entry(v, REPORT)["size"] = Value::from(1);
    });
    let edited = fs::read(w.path("SEALS.json")).unwrap();
    let o = w.run(&["seal"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("seal is broken"), "{}", stderr(&o));
    assert_eq!(fs::read(w.path("SEALS.json")).unwrap(), edited);
    assert_success(&w.run(&["seal", "--force"]));
    let (o, v) = check(&w, &["--regenerate"]);
    assert_success(&o);
    assert_eq!(v["regenerated"], serde_json::json!([FIXTURE]));
}

#[test]
fn hostile_file_name_cannot_forge_an_ok_line_and_cannot_be_sealed() {
    let w = sealed_repo();
    fs::write(w.path("reports/births/x\nfake.json: OK"), b"").unwrap();
    let o = w.run(&["check"]);
    assert_code(&o, 1);
    let out = stdout(&o);
    assert!(!out.lines().any(|l| l.starts_with("fake.json")), "{out}");
    assert!(
        out.contains("reports/births/x\\nfake.json: OK: FAILED (bad-path: "),
        "{out}"
    );
    assert_code(&w.run(&["seal"]), 2);
}

/// Issue #13: with a broken manifest seal the summary still said "5 of 5
/// sealed files OK". The broken seal is now the first thing said.
#[test]
fn a_broken_manifest_seal_is_the_first_thing_the_summary_says() {
    let w = sealed_repo();
    edit_manifest(&w, false, |v| {
        entry(v, FIXTURE)["generated"]["seed"] = Value::from(8);
    });
    let o = w.run(&["check"]);
    assert_code(&o, 1);
    let err = stderr(&o);
    assert!(err.contains("DRIFT: MANIFEST SEAL BROKEN"), "{err}");
    assert!(!err.contains("sealed files OK"), "{err}");
    assert!(
        stdout(&o).starts_with("SEALS.json: FAILED (manifest-seal-broken"),
        "{}",
        stdout(&o)
    );
}

/// Issue #13: which folders are sealed was not pinned, so dropping
/// `reports` from sealed_dirs (with its entries) and re-sealing the
/// manifest passed. A default folder that exists, or one named with
/// --require-dir, must be sealed.
#[test]
fn dropping_a_sealed_folder_from_the_manifest_is_drift() {
    let w = sealed_repo();
    edit_manifest(&w, true, |v| {
        v["sealed_dirs"] = serde_json::json!(["surrogates"]);
        v["files"]
            .as_array_mut()
            .unwrap()
            .retain(|e| !e["path"].as_str().unwrap().starts_with("reports/"));
    });
    assert_drift(&w, &[("reports", "sealed-dir-dropped")]);
    // Pinned explicitly (what CI passes): the same, and a folder that is
    // required but absent from the manifest is drift even when not on disk.
    let (o, v) = check(
        &w,
        &["--require-dir", "surrogates", "--require-dir", "evidence"],
    );
    assert_code(&o, 1);
    assert_eq!(
        findings(&v),
        vec![("evidence".to_string(), "sealed-dir-dropped".to_string())]
    );
    let (o, _) = check(&w, &["--require-dir", "surrogates"]);
    assert_code(&o, 0);
}

/// Issue #13: a sealed file replaced by rename while `check` hashed it
/// passed: the bytes hashed were the old file's. `check` now re-stats the
/// file after hashing it, and a replacement meanwhile is drift.
#[test]
fn a_file_replaced_by_rename_while_it_is_hashed_is_drift() {
    use std::os::unix::fs::MetadataExt;
    let w = sealed_repo();
    // A big sparse sealed file, so hashing it takes a while.
    let big = w.path("reports/births/big.bin");
    let f = fs::File::create(&big).unwrap();
    f.set_len(3 << 30).unwrap();
    drop(f);
    assert_success(&w.run(&["seal"]));
    let ino = fs::metadata(&big).unwrap().ino();
    let other = w.path("other.bin");
    for attempt in 0..3 {
        // Swap the file in once `check` has it open.
        fs::write(&other, b"not the sealed bytes").unwrap();
        let mut child = w
            .cmd()
            .args(["check", "--json", "-j", "1"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let fd_dir = format!("/proc/{}/fd", child.id());
        let opened = || {
            fs::read_dir(&fd_dir).ok().is_some_and(|rd| {
                rd.filter_map(Result::ok)
                    .any(|e| fs::metadata(e.path()).is_ok_and(|m| m.ino() == ino))
            })
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !opened() && child.try_wait().unwrap().is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "check never opened the file"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let swapped = child.try_wait().unwrap().is_none() && fs::rename(&other, &big).is_ok();
        let o = child.wait_with_output().unwrap();
        if !swapped {
            assert!(attempt < 2, "the check always finished before the swap");
            continue;
        }
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_code(&o, 1);
        assert!(
            findings(&v).contains(&(
                "reports/births/big.bin".to_string(),
                "replaced-during-check".to_string()
            )),
            "{}",
            serde_json::to_string_pretty(&v).unwrap()
        );
        return;
    }
}

/// A fixture made by an older generator carries a record today's generator
/// cannot prove by regeneration; `seal --regenerate-fixtures` still rebuilds
/// it because its bytes are exactly the sealed ones. A file at the fixture's
/// path that is not the sealed one stays refused, and is kept as it was.
#[test]
fn regenerate_fixtures_replaces_the_sealed_bytes_but_never_an_unsealed_database() {
    let w = sealed_repo();
    // An "old" fixture: its record no longer regenerates to its bytes.
    let c = rusqlite::Connection::open(w.path(FIXTURE)).unwrap();
    c.execute("UPDATE rollproof_provenance SET seed = '9'", [])
        .unwrap();
    drop(c);
    assert_success(&w.run(&["seal", FIXTURE]));
    let o = w.run(&["seal", "--regenerate-fixtures", "--json"]);
    assert_success(&o);
    let (o, _) = check(&w, &["--regenerate"]);
    assert_success(&o);
    // Not the sealed bytes: a database rollproof cannot prove it made.
    let c = rusqlite::Connection::open(w.path(FIXTURE)).unwrap();
    c.execute("UPDATE rollproof_provenance SET seed = '9'", [])
        .unwrap();
    drop(c);
    let before = fs::read(w.path(FIXTURE)).unwrap();
    let o = w.run(&["seal", "--regenerate-fixtures"]);
    assert_code(&o, 3);
    assert!(
        stderr(&o).contains("--force only replaces surrogates"),
        "{}",
        stderr(&o)
    );
    assert_eq!(fs::read(w.path(FIXTURE)).unwrap(), before);
    let leftovers: Vec<_> = fs::read_dir(w.path("surrogates/fixtures"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
}
