//! `rollproof attach`: real reports from `rollproof rehearse` on the tiny
//! profile, attached to the seed map and to a map with an engineering
//! blocker; every refusal leaves the map byte-identical and writes no backup.

use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

const SEED: &str = "tests/fixtures/final-blocker-map.json";
const ROLLBACK: &str = "FIX7-P0-DRYRUN-PROD-ROLLBACK-1";
const OPT4: &str = "FIX7-P0-PROD-OPT4-1";

/// Write a scenario on the tiny profile; `snapshot` is `copy` (byte-exact)
/// or `backup` (logical-only); `blocker` overrides the scenario's blocker.
fn scenario(w: &Work, name: &str, snapshot: &str, blocker: Option<&str>) -> PathBuf {
    let profile = repo_file("surrogates/profiles/tiny.toml");
    let blocker = blocker
        .map(|b| format!("blocker = \"{b}\"\n"))
        .unwrap_or_default();
    let text = format!(
        "[scenario]\nname = \"{name}\"\ndescription = \"attach test\"\n{blocker}expect = \"PASS\"\n\n\
         [surrogate]\nprofile = \"{}\"\nseed = 7\n\n\
         [apply]\nkind = \"births\"\ncount = 4\n\n\
         [snapshot]\nmethod = \"{snapshot}\"\n\n[rollback]\nmethod = \"restore\"\n",
        profile.display()
    );
    let p = w.path(&format!("{name}.toml"));
    std::fs::write(&p, text).unwrap();
    p
}

/// The CI key every test report is signed with (made on first use), and
/// `allowed_signers` trusting it at the work root.
fn ci_key(w: &Work) -> Key {
    let private = w.path("keys/ci");
    let key = if private.exists() {
        let line = std::fs::read_to_string(format!("{}.pub", private.display())).unwrap();
        Key {
            private,
            public: line
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" "),
            principal: "ci@example.org".into(),
        }
    } else {
        w.keygen("keys/ci", "ci@example.org")
    };
    trust_beside(w, &w.path("x.json"), &key);
    key
}

/// `allowed_signers` beside `map`, trusting `key` for reports.
fn trust_beside(w: &Work, map: &Path, key: &Key) -> PathBuf {
    let rel = map
        .parent()
        .unwrap()
        .join("allowed_signers")
        .strip_prefix(w.dir.path())
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    w.allowed_signers(&rel, &[(key, "namespaces=\"rollproof-report\"")])
}

/// Run the scenario, signed with the CI key; return the absolute path of
/// the sealed report.
fn rehearse(w: &Work, scenario: &Path) -> PathBuf {
    let key = ci_key(w);
    let o = w.run(&[
        "rehearse",
        scenario.to_str().unwrap(),
        "--reports",
        "reports",
        "--sign-key",
        key.private.to_str().unwrap(),
        "--json",
    ]);
    assert_success(&o);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    w.path(v["results"][0]["report"].as_str().unwrap())
}

fn report_value(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn seed_value() -> Value {
    serde_json::from_slice(&std::fs::read(repo_file(SEED)).unwrap()).unwrap()
}

/// Copy the seed map (or write `v`) to `rel` in the work dir.
fn map_at(w: &Work, rel: &str, v: Option<&Value>) -> PathBuf {
    let p = w.path(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    match v {
        None => std::fs::copy(repo_file(SEED), &p).map(|_| ()).unwrap(),
        Some(v) => std::fs::write(&p, serde_json::to_vec_pretty(v).unwrap()).unwrap(),
    }
    trust_beside(w, &p, &ci_key(w));
    p
}

fn attach(
    w: &Work,
    report: &Path,
    map: &Path,
    blocker: &str,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "attach",
        report.to_str().unwrap(),
        "--map",
        map.to_str().unwrap(),
        "--blocker",
        blocker,
    ];
    args.extend_from_slice(extra);
    w.run(&args)
}

fn bak(map: &Path) -> PathBuf {
    PathBuf::from(format!("{}.bak", map.display()))
}

/// The refusal contract: exit `code`, the map byte-identical, no backup.
fn assert_refused_untouched(o: &std::process::Output, code: i32, map: &Path, before: &[u8]) {
    assert_code(o, code);
    assert_eq!(std::fs::read(map).unwrap(), before, "map must be unchanged");
    assert!(!bak(map).exists(), "no backup for a refused attach");
    let leftovers: Vec<_> = std::fs::read_dir(map.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".rollproof-tmp")
        })
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn attach_to_the_seed_rollback_blocker_records_evidence_and_keeps_it_open() {
    let w = Work::new();
    let report = rehearse(&w, &scenario(&w, "tiny-restore", "copy", None));
    let map = map_at(&w, "maps/map.json", None);
    let seed_bytes = std::fs::read(&map).unwrap();

    let o = attach(&w, &report, &map, ROLLBACK, &[]);
    assert_success(&o);
    let err = stderr(&o);
    assert!(err.contains(&format!("{ROLLBACK} stays open")), "{err}");
    assert!(err.contains("terminal (real production data)"), "{err}");
    assert_eq!(
        std::fs::read(bak(&map)).unwrap(),
        seed_bytes,
        "backup = previous map"
    );

    let got: Value = serde_json::from_slice(&std::fs::read(&map).unwrap()).unwrap();
    let r = report_value(&report);
    let ev = &got["table_F_final_blockers"][2]["evidence"];
    assert_eq!(ev.as_array().unwrap().len(), 1);
    let ev = &ev[0];
    let rel = format!(
        "../reports/tiny-restore/{}",
        report.file_name().unwrap().to_str().unwrap()
    );
    assert_eq!(ev["report"], rel.as_str());
    assert!(map.parent().unwrap().join(&rel).is_file());
    assert_eq!(ev["seal"], r["seal"]);
    assert_eq!(ev["verdict"], "PASS");
    assert_eq!(ev["proof"], "byte-exact");
    assert_eq!(ev["leg"], "surrogate");
    assert_eq!(ev["surrogate_sha256"], r["surrogate"]["sha256"]);
    assert_eq!(ev["scenario"], "tiny-restore");
    assert_eq!(ev["rehearsed_at"], r["started_at"]);
    let date = ev["date"].as_str().unwrap();
    assert!(date.len() == 10 && date.as_bytes()[4] == b'-', "{date}");
    assert_eq!(
        keys(ev),
        [
            "report",
            "seal",
            "verdict",
            "proof",
            "leg",
            "surrogate_sha256",
            "scenario",
            "rehearsed_at",
            "date"
        ]
    );

    // Fail closed: the flags and counts did not move; everything else is the
    // seed, values and key order, with `evidence` appended to the one entry.
    let mut expect = seed_value();
    expect["table_F_final_blockers"][2]
        .as_object_mut()
        .unwrap()
        .insert(
            "evidence".into(),
            got["table_F_final_blockers"][2]["evidence"].clone(),
        );
    assert_eq!(got, expect);
    assert_eq!(keys(&got), keys(&seed_value()));
    for (g, s) in got["table_F_final_blockers"]
        .as_array()
        .unwrap()
        .iter()
        .zip(expect["table_F_final_blockers"].as_array().unwrap())
    {
        assert_eq!(keys(g), keys(s));
    }
    // Written form: serde_json's pretty printer + newline, a fixed point.
    let mut pretty = serde_json::to_vec_pretty(&got).unwrap();
    pretty.push(b'\n');
    assert_eq!(std::fs::read(&map).unwrap(), pretty);

    let o = w.run(&["blockers", "validate", map.to_str().unwrap()]);
    assert_success(&o);
    let o = w.run(&["blockers", "show", map.to_str().unwrap()]);
    assert_success(&o);
    let row = stdout(&o)
        .lines()
        .find(|l| l.starts_with(ROLLBACK))
        .unwrap()
        .to_string();
    assert!(row.ends_with("1: PASS byte-exact surrogate"), "{row}");
    assert!(row.contains(" open "), "{row}");
}

#[test]
fn attaching_the_same_report_twice_is_a_no_op() {
    let w = Work::new();
    let report = rehearse(&w, &scenario(&w, "tiny-restore", "copy", None));
    let map = map_at(&w, "map.json", None);
    assert_success(&attach(&w, &report, &map, ROLLBACK, &[]));
    let once = std::fs::read(&map).unwrap();
    let backup = std::fs::read(bak(&map)).unwrap();

    let o = attach(&w, &report, &map, ROLLBACK, &["--json"]);
    assert_success(&o);
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["changed"], false);
    assert_eq!(j["added"], false);
    assert_eq!(j["backup"], Value::Null);
    assert_eq!(std::fs::read(&map).unwrap(), once, "map byte-identical");
    assert_eq!(
        std::fs::read(bak(&map)).unwrap(),
        backup,
        "backup not rewritten"
    );

    // A second, different report is a second entry; the first is untouched.
    let second = rehearse(&w, &scenario(&w, "tiny-restore-2", "copy", None));
    assert_success(&attach(&w, &second, &map, ROLLBACK, &[]));
    let got: Value = serde_json::from_slice(&std::fs::read(&map).unwrap()).unwrap();
    let ev = got["table_F_final_blockers"][2]["evidence"]
        .as_array()
        .unwrap();
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[1]["scenario"], "tiny-restore-2");
    assert_eq!(
        std::fs::read(bak(&map)).unwrap(),
        once,
        "backup = the previous map"
    );
}

#[test]
fn closing_a_production_blocker_is_refused_by_the_guard() {
    let w = Work::new();
    let report = rehearse(&w, &scenario(&w, "tiny-restore", "copy", None));
    let map = map_at(&w, "map.json", None);
    let before = std::fs::read(&map).unwrap();
    let o = attach(&w, &report, &map, ROLLBACK, &["--close"]);
    assert_refused_untouched(&o, 3, &map, &before);
    let err = stderr(&o);
    assert!(
        err.contains("refused by guard: will not close FIX7-P0-DRYRUN-PROD-ROLLBACK-1"),
        "{err}"
    );
    assert!(err.contains("real production data"), "{err}");
}

#[test]
fn a_report_that_fails_verification_is_refused() {
    let w = Work::new();
    let report = rehearse(&w, &scenario(&w, "tiny-restore", "copy", None));
    let map = map_at(&w, "map.json", None);
    let before = std::fs::read(&map).unwrap();
    // Tamper: claim a different surrogate digest, keep the old seal.
    let text = std::fs::read_to_string(&report).unwrap();
    let r = report_value(&report);
    let digest = r["surrogate"]["sha256"].as_str().unwrap();
    let forged = text.replace(digest, &"0".repeat(64));
    assert_ne!(forged, text);
    let tampered = w.path("tampered.json");
    std::fs::write(&tampered, forged).unwrap();
    let o = attach(&w, &tampered, &map, ROLLBACK, &[]);
    assert_refused_untouched(&o, 1, &map, &before);
    let err = stderr(&o);
    assert!(err.contains("tampered.json: FAILED (seal-broken"), "{err}");
    assert!(err.contains("refused to attach"), "{err}");

    // Re-sealed, so it is consistent (the forgery of issue #13): the
    // signature no longer matches, so it is not evidence: refused.
    let mut v = report_value(&report);
    v["scenario"]["description"] = "edited".into();
    v["seal"] = rollproof::evidence::report::seal_of(&v).into();
    let resealed = w.path("resealed.json");
    let mut bytes =
        serde_json::to_vec_pretty(&rollproof::evidence::canonical::canonicalize(&v)).unwrap();
    bytes.push(b'\n');
    std::fs::write(&resealed, bytes).unwrap();
    std::fs::copy(sig_of(&report), sig_of(&resealed)).unwrap();
    assert_success(&w.run(&["verify", resealed.to_str().unwrap()]));
    let o = attach(&w, &resealed, &map, ROLLBACK, &[]);
    assert_refused_untouched(&o, 3, &map, &before);
    assert!(
        stderr(&o).contains("consistent but not evidence (bad signature"),
        "{}",
        stderr(&o)
    );
    // Unsigned: refused too.
    std::fs::remove_file(sig_of(&resealed)).unwrap();
    let o = attach(&w, &resealed, &map, ROLLBACK, &[]);
    assert_refused_untouched(&o, 3, &map, &before);
    assert!(stderr(&o).contains("unsigned"), "{}", stderr(&o));
    // Signed by a key the map does not trust: refused.
    let stranger = w.keygen("keys/stranger", "ci@example.org");
    let o = w.run(&[
        "report",
        "sign",
        report.to_str().unwrap(),
        "--sign-key",
        stranger.private.to_str().unwrap(),
    ]);
    assert_success(&o);
    let o = attach(&w, &report, &map, ROLLBACK, &[]);
    assert_refused_untouched(&o, 3, &map, &before);
    assert!(stderr(&o).contains("does not list"), "{}", stderr(&o));
    // No trust file beside the map (and no --trust): bad input.
    std::fs::remove_file(map.parent().unwrap().join("allowed_signers")).unwrap();
    let o = attach(&w, &report, &map, ROLLBACK, &[]);
    assert_refused_untouched(&o, 2, &map, &before);
    assert!(stderr(&o).contains("--trust"), "{}", stderr(&o));

    let o = attach(&w, &w.path("missing.json"), &map, ROLLBACK, &[]);
    assert_refused_untouched(&o, 2, &map, &before);
}

#[test]
fn a_report_for_another_blocker_is_refused() {
    let w = Work::new();
    let report = rehearse(&w, &scenario(&w, "tiny-restore", "copy", None));
    let map = map_at(&w, "map.json", None);
    let before = std::fs::read(&map).unwrap();
    let o = attach(&w, &report, &map, OPT4, &[]);
    assert_refused_untouched(&o, 3, &map, &before);
    assert!(
        stderr(&o).contains(&format!("the report is for blocker '{ROLLBACK}'")),
        "{}",
        stderr(&o)
    );

    // A scenario that declares OPT4 cannot be filed under the rollback blocker.
    let other = rehearse(&w, &scenario(&w, "for-opt4", "copy", Some(OPT4)));
    let o = attach(&w, &other, &map, ROLLBACK, &[]);
    assert_refused_untouched(&o, 3, &map, &before);

    let o = attach(&w, &report, &map, "NO-SUCH-BLOCKER", &[]);
    assert_refused_untouched(&o, 2, &map, &before);
    assert!(
        stderr(&o).contains("no blocker with blocker_id 'NO-SUCH-BLOCKER'"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_engineering_blocker_closes_only_with_passing_byte_exact_evidence() {
    let w = Work::new();
    let mut v = seed_value();
    v["table_F_final_blockers"][2]["category"] =
        "engineering: rollback proof on the surrogate".into();
    v["engineering_blockers_remaining"] = 1.into();
    let map = map_at(&w, "map.json", Some(&v));
    // Before: the open engineering blocker is outside the terminal set.
    assert_code(&w.run(&["blockers", "validate", map.to_str().unwrap()]), 1);

    let logical = rehearse(&w, &scenario(&w, "tiny-backup", "backup", None));
    assert_eq!(report_value(&logical)["proof"], "logical-only");
    let before = std::fs::read(&map).unwrap();
    let o = attach(&w, &logical, &map, ROLLBACK, &["--close"]);
    assert_refused_untouched(&o, 3, &map, &before);
    assert!(
        stderr(&o).contains("logical-only, not byte-exact"),
        "{}",
        stderr(&o)
    );

    let exact = rehearse(&w, &scenario(&w, "tiny-restore", "copy", None));
    let o = attach(&w, &exact, &map, ROLLBACK, &["--json"]);
    assert_success(&o);
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["can_close_now"], true);
    assert_eq!(j["closed_this_lane"], false);
    assert_eq!(j["open_count"], 7);
    assert_eq!(j["stays_open_because"], Value::Null);

    let o = attach(&w, &exact, &map, ROLLBACK, &["--close"]);
    assert_success(&o);
    assert!(
        stdout(&o).contains("closed; open_count is now 6"),
        "{}",
        stdout(&o)
    );
    let got: Value = serde_json::from_slice(&std::fs::read(&map).unwrap()).unwrap();
    assert_eq!(got["open_count"], 6);
    assert_eq!(got["engineering_blockers_remaining"], 0);
    assert_eq!(got["table_F_final_blockers"][2]["closed_this_lane"], true);
    assert_eq!(
        got["table_F_final_blockers"][2]["evidence"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // After: every invariant holds.
    assert_success(&w.run(&["blockers", "validate", map.to_str().unwrap()]));
    // Closing again: nothing to do.
    let closed = std::fs::read(&map).unwrap();
    assert_success(&attach(&w, &exact, &map, ROLLBACK, &["--close"]));
    assert_eq!(std::fs::read(&map).unwrap(), closed);
}

#[test]
fn malformed_or_inconsistent_maps_are_refused_untouched() {
    let w = Work::new();
    let report = rehearse(&w, &scenario(&w, "tiny-restore", "copy", None));
    let seed_text = std::fs::read_to_string(repo_file(SEED)).unwrap();
    let mut no_table = seed_value();
    no_table
        .as_object_mut()
        .unwrap()
        .remove("table_F_final_blockers");
    let mut wrong_type = seed_value();
    wrong_type["table_F_final_blockers"][2]["closed_this_lane"] = "no".into();
    let mut dup_ids = seed_value();
    dup_ids["table_F_final_blockers"][4]["blocker_id"] = ROLLBACK.into();
    let mut bad_count = seed_value();
    bad_count["open_count"] = 3.into();
    let cases: Vec<(&str, String, i32, &str)> = vec![
        (
            "trunc.json",
            seed_text[..300].to_string(),
            2,
            "trunc.json is not valid JSON",
        ),
        (
            "notable.json",
            no_table.to_string(),
            2,
            "notable.json: table_F_final_blockers: required field is missing",
        ),
        (
            "type.json",
            wrong_type.to_string(),
            2,
            "type.json: table_F_final_blockers[2].closed_this_lane: expected true or false, found a string",
        ),
        (
            "dup.json",
            dup_ids.to_string(),
            1,
            "dup.json: table_F_final_blockers[4].blocker_id: duplicate id 'FIX7-P0-DRYRUN-PROD-ROLLBACK-1'",
        ),
        (
            "count.json",
            bad_count.to_string(),
            1,
            "count.json: open_count: is 3 but 7 blocker(s) are open",
        ),
    ];
    for (name, text, code, needle) in cases {
        let map = w.path(name);
        std::fs::write(&map, &text).unwrap();
        let o = attach(&w, &report, &map, ROLLBACK, &[]);
        assert_refused_untouched(&o, code, &map, text.as_bytes());
        assert!(stderr(&o).contains(needle), "{name}: {}", stderr(&o));
    }
}

#[test]
fn a_write_that_fails_part_way_leaves_the_map_as_it_was() {
    let w = Work::new();
    let report = rehearse(&w, &scenario(&w, "tiny-restore", "copy", None));
    let map = map_at(&w, "map.json", None);
    let before = std::fs::read(&map).unwrap();
    // The backup cannot be written (a folder is in its way): the attach
    // stops before the map is touched.
    std::fs::create_dir(bak(&map)).unwrap();
    std::fs::write(bak(&map).join("keep"), b"x").unwrap();
    let o = attach(&w, &report, &map, ROLLBACK, &[]);
    assert_code(&o, 2);
    assert!(
        stderr(&o).contains("cannot keep a backup"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&map).unwrap(), before);
    assert!(bak(&map).join("keep").is_file());
}

#[test]
fn kept_artifacts_that_no_longer_match_the_report_are_refused() {
    let w = Work::new();
    let s = scenario(&w, "tiny-keep", "copy", None);
    let key = ci_key(&w);
    let o = w.run(&[
        "rehearse",
        s.to_str().unwrap(),
        "--reports",
        "reports",
        "--keep",
        "keep",
        "--sign-key",
        key.private.to_str().unwrap(),
        "--json",
    ]);
    assert_success(&o);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let report = w.path(v["results"][0]["report"].as_str().unwrap());
    let artifacts = w.path(report_value(&report)["artifacts"].as_str().unwrap());
    let map = map_at(&w, "map.json", None);
    let before = std::fs::read(&map).unwrap();
    let keep = w.path("keep");
    let dir = keep.to_str().unwrap();

    // Intact artifacts verify, and the evidence is recorded.
    let scratch = w.path("scratch.json");
    std::fs::copy(&map, &scratch).unwrap();
    assert_success(&attach(
        &w,
        &report,
        &scratch,
        ROLLBACK,
        &["--artifacts", dir],
    ));

    // One byte appended to the restored database: refused, map untouched.
    let db = artifacts.join("after-rollback.db");
    let mut bytes = std::fs::read(&db).unwrap();
    bytes.push(0);
    std::fs::write(&db, bytes).unwrap();
    let o = attach(&w, &report, &map, ROLLBACK, &["--artifacts", dir]);
    assert_refused_untouched(&o, 1, &map, &before);
    assert!(stderr(&o).contains("FAILED (artifact-"), "{}", stderr(&o));
}

#[test]
fn blockers_validate_cross_checks_the_evidence_and_its_log() {
    let w = Work::new();
    let report = rehearse(&w, &scenario(&w, "tiny-restore", "copy", None));
    let second = rehearse(&w, &scenario(&w, "tiny-restore-2", "copy", None));
    let map = map_at(&w, "maps/map.json", None);
    assert_success(&attach(&w, &report, &map, ROLLBACK, &[]));
    assert_success(&attach(&w, &second, &map, ROLLBACK, &[]));
    let validate = |m: &Path| w.run(&["blockers", "validate", m.to_str().unwrap()]);
    assert_success(&validate(&map));

    // The log: who, what, which bytes, chained.
    let log = w.path("maps/map.evidence.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let first = &lines[0];
    assert_eq!(first["seq"], 1);
    assert_eq!(first["prev"], "0".repeat(64));
    assert_eq!(first["blocker"], ROLLBACK);
    assert_eq!(first["signer"], "ci@example.org");
    assert!(first["signer_key"].as_str().unwrap().starts_with("SHA256:"));
    assert_eq!(first["report_sha256"], sha256_file(&report));
    assert_eq!(first["signature_sha256"], sha256_file(&sig_of(&report)));
    assert_eq!(first["seal"], report_value(&report)["seal"]);
    assert_eq!(lines[1]["prev"], {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(text.lines().next().unwrap().as_bytes()))
    });

    // A variant of the map (and its log) that validate must reject.
    let variant = |name: &str, edit: &dyn Fn(&mut Value), log_text: &str| -> String {
        let mut v: Value = serde_json::from_slice(&std::fs::read(&map).unwrap()).unwrap();
        edit(&mut v);
        let m = w.path(&format!("maps/{name}.json"));
        std::fs::write(&m, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
        std::fs::write(w.path(&format!("maps/{name}.evidence.jsonl")), log_text).unwrap();
        let o = validate(&m);
        assert_code(&o, 1);
        stdout(&o)
    };
    let same = |_: &mut Value| {};
    // A production blocker closed by hand (counts made to add up).
    let out = variant(
        "hand-closed",
        &|v| {
            v["table_F_final_blockers"][0]["closed_this_lane"] = true.into();
            v["open_count"] = 6.into();
        },
        &text,
    );
    assert!(
        out.contains("closed, but its category is terminal"),
        "{out}"
    );
    // Evidence that names a report that does not exist.
    let out = variant(
        "missing-report",
        &|v| {
            v["table_F_final_blockers"][2]["evidence"][0]["report"] = "../reports/none.json".into()
        },
        &text,
    );
    assert!(out.contains("the report cannot be read"), "{out}");
    // Evidence put on another blocker by hand.
    let out = variant(
        "moved",
        &|v| {
            let ev = v["table_F_final_blockers"][2]["evidence"].clone();
            v["table_F_final_blockers"][3]["evidence"] = ev;
            v["table_F_final_blockers"][2]
                .as_object_mut()
                .unwrap()
                .remove("evidence");
        },
        &text,
    );
    assert!(out.contains("the report is for blocker"), "{out}");
    // The first log line edited: the chain breaks.
    let edited = text.replacen("ci@example.org", "owner@example.org", 1);
    let out = variant("edited-log", &same, &edited);
    assert!(out.contains("line 2: prev is not the SHA-256"), "{out}");
    // The log truncated (its last line gone): that evidence has no line.
    let truncated: String = text.lines().take(1).map(|l| format!("{l}\n")).collect();
    let out = variant("truncated-log", &same, &truncated);
    assert!(
        out.contains("no line of the evidence log records this evidence"),
        "{out}"
    );
    // Evidence removed from the map by hand: its line has no evidence.
    let out = variant(
        "dropped",
        &|v| {
            v["table_F_final_blockers"][2]["evidence"]
                .as_array_mut()
                .unwrap()
                .pop();
        },
        &text,
    );
    assert!(out.contains("that the map does not have"), "{out}");
    // A report re-signed by a stranger after it was attached: not evidence.
    let stranger = w.keygen("keys/stranger", "ci@example.org");
    let o = w.run(&[
        "report",
        "sign",
        second.to_str().unwrap(),
        "--sign-key",
        stranger.private.to_str().unwrap(),
    ]);
    assert_success(&o);
    let o = validate(&map);
    assert_code(&o, 1);
    assert!(stdout(&o).contains("is not evidence"), "{}", stdout(&o));
    // Without a trust file the evidence cannot be checked: invalid.
    std::fs::remove_file(w.path("maps/allowed_signers")).unwrap();
    let o = validate(&map);
    assert_code(&o, 1);
    assert!(
        stdout(&o).contains("no trust file was found"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_signed_failing_report_is_not_evidence() {
    let w = Work::new();
    // A no-op apply can never pass; the scenario expects that, so rehearse
    // exits 0 and writes a genuine, signed FAIL report.
    std::fs::write(w.path("noop.sql"), "SELECT 1;\n").unwrap();
    let text = format!(
        "[scenario]\nname = \"noop\"\ndescription = \"attach test\"\nexpect = \"FAIL\"\n\n\
         [surrogate]\nprofile = \"{}\"\nseed = 7\n\n\
         [apply]\nkind = \"sql\"\nup = \"noop.sql\"\n[apply.expect_rows]\nobjects = 1\n\n\
         [snapshot]\nmethod = \"copy\"\n\n[rollback]\nmethod = \"restore\"\n",
        repo_file("surrogates/profiles/tiny.toml").display()
    );
    let sc = w.path("noop.toml");
    std::fs::write(&sc, text).unwrap();
    let report = rehearse(&w, &sc);
    assert_eq!(report_value(&report)["verdict"], "FAIL");
    let map = map_at(&w, "map.json", None);
    let before = std::fs::read(&map).unwrap();
    let o = attach(&w, &report, &map, ROLLBACK, &[]);
    assert_refused_untouched(&o, 3, &map, &before);
    assert!(
        stderr(&o).contains("has verdict FAIL: only a PASS is evidence"),
        "{}",
        stderr(&o)
    );
    assert!(!w.path("map.evidence.jsonl").exists());
}
