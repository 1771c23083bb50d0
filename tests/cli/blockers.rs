//! `rollproof blockers validate|show`: the seed map, every invariant, and
//! malformed maps named by file and JSON path.

use crate::util::*;
use serde_json::Value;
use std::path::PathBuf;

const SEED: &str = "tests/fixtures/final-blocker-map.json";

fn seed_value() -> Value {
    serde_json::from_slice(&std::fs::read(repo_file(SEED)).unwrap()).unwrap()
}

/// Write `v` (or raw text) as a map file in the work dir.
fn write_map(w: &Work, name: &str, v: &Value) -> PathBuf {
    let p = w.path(name);
    std::fs::write(&p, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    p
}

fn json_out(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

#[test]
fn seed_map_is_valid() {
    let w = Work::new();
    let seed = repo_file(SEED);
    let o = w.run(&["blockers", "validate", seed.to_str().unwrap()]);
    assert_success(&o);
    assert!(
        stdout(&o).contains("OK (7 blockers, 7 open, 0 engineering remaining)"),
        "{}",
        stdout(&o)
    );
    let o = w.run(&["blockers", "validate", "--json", seed.to_str().unwrap()]);
    assert_success(&o);
    let v = json_out(&o);
    assert_eq!(v["valid"], true);
    assert_eq!(v["open"], 7);
    assert_eq!(v["violations"], Value::Array(vec![]));
}

#[test]
fn every_violation_is_reported_with_its_json_path() {
    let w = Work::new();
    let mut v = seed_value();
    v["open_count"] = 5.into();
    v["table_F_final_blockers"][3]["blocker_id"] = "FIX7-P0-PROD-CI-SCOPE-1".into();
    v["table_F_final_blockers"][6]["category"] = "engineering: write the intake".into();
    v["table_F_final_blockers"][2]["can_close_now"] = true.into();
    let map = write_map(&w, "bad.json", &v);
    let before = std::fs::read(&map).unwrap();
    let o = w.run(&["blockers", "validate", map.to_str().unwrap()]);
    assert_code(&o, 1);
    let out = stdout(&o);
    for needle in [
        "bad.json: open_count: is 5 but 7 blocker(s) are open",
        "bad.json: table_F_final_blockers[3].blocker_id: duplicate id 'FIX7-P0-PROD-CI-SCOPE-1' (first used at table_F_final_blockers[1])",
        "bad.json: table_F_final_blockers[6].category: 'engineering: write the intake' is not one of the allowed terminal categories",
        "bad.json: engineering_blockers_remaining: is 0 but 1 open blocker(s)",
        "bad.json: table_F_final_blockers[2].can_close_now: claims true but nothing backs it: its category 'requires real production data / production access' is terminal",
        "bad.json: INVALID (5 violation(s))",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
    let o = w.run(&["blockers", "validate", "--json", map.to_str().unwrap()]);
    assert_code(&o, 1);
    let j = json_out(&o);
    assert_eq!(j["valid"], false);
    let kinds: Vec<&str> = j["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "open-count",
            "duplicate-id",
            "not-terminal",
            "engineering-count",
            "unbacked-close"
        ]
    );
    assert_eq!(
        std::fs::read(&map).unwrap(),
        before,
        "validate never writes"
    );
}

#[test]
fn a_category_outside_the_declared_set_is_invalid() {
    let w = Work::new();
    let mut v = seed_value();
    // The map stops declaring grants as terminal: its grant blockers break.
    v["allowed_remaining_categories_check"] = "allowed terminal set (real production data / production credentials-access / production CI adoption / owner-operator production decision)".into();
    v["engineering_blockers_remaining"] = 2.into();
    let map = write_map(&w, "m.json", &v);
    let o = w.run(&["blockers", "validate", map.to_str().unwrap()]);
    assert_code(&o, 1);
    let out = stdout(&o);
    assert!(out.contains("table_F_final_blockers[3].category: 'requires REAL_RUN grant' (REAL_RUN-QT001-cutover grants) is not in the terminal set"), "{out}");
    assert!(out.contains("table_F_final_blockers[4].category"), "{out}");
    assert!(out.contains("INVALID (2 violation(s))"), "{out}");
}

/// Malformed maps: exit 2, one line on stderr naming the file and the path.
#[test]
fn malformed_maps_are_bad_input_named_by_file_and_json_path() {
    let w = Work::new();
    let seed_text = std::fs::read_to_string(repo_file(SEED)).unwrap();
    let mut no_table = seed_value();
    no_table
        .as_object_mut()
        .unwrap()
        .remove("table_F_final_blockers");
    let mut wrong_id = seed_value();
    wrong_id["table_F_final_blockers"][3]["blocker_id"] = 3.into();
    let mut wrong_count = seed_value();
    wrong_count["open_count"] = "seven".into();
    let mut wrong_flag = seed_value();
    wrong_flag["table_F_final_blockers"][0]["can_close_now"] = "no".into();
    let mut wrong_table = seed_value();
    wrong_table["table_F_final_blockers"] = serde_json::json!({"a": 1});
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "trunc.json",
            seed_text[..200].to_string(),
            "trunc.json is not valid JSON: EOF while parsing",
        ),
        ("empty.json", String::new(), "empty.json is not valid JSON"),
        (
            "list.json",
            "[1, 2]".into(),
            "list.json: (top level): expected a blocker map (a JSON object), found an array",
        ),
        (
            "notable.json",
            no_table.to_string(),
            "notable.json: table_F_final_blockers: required field is missing",
        ),
        (
            "id.json",
            wrong_id.to_string(),
            "id.json: table_F_final_blockers[3].blocker_id: expected a string, found a number",
        ),
        (
            "count.json",
            wrong_count.to_string(),
            "count.json: open_count: expected a non-negative integer, found a string",
        ),
        (
            "flag.json",
            wrong_flag.to_string(),
            "flag.json: table_F_final_blockers[0].can_close_now: expected true or false, found a string",
        ),
        (
            "table.json",
            wrong_table.to_string(),
            "table.json: table_F_final_blockers: expected an array, found an object",
        ),
        (
            "dupkey.json",
            seed_text.replacen(
                "\"open_count\": 7,",
                "\"open_count\": 7, \"open_count\": 6,",
                1,
            ),
            "dupkey.json: open_count: key appears twice in the same object",
        ),
    ];
    for (name, text, needle) in cases {
        let p = w.path(name);
        std::fs::write(&p, &text).unwrap();
        for sub in ["validate", "show"] {
            let o = w.run(&["blockers", sub, p.to_str().unwrap()]);
            assert_code(&o, 2);
            let err = stderr(&o);
            assert!(err.contains(needle), "{name} ({sub}): {err}");
            assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
            assert!(o.stdout.is_empty());
        }
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            text,
            "input untouched"
        );
    }
    let o = w.run(&["blockers", "validate", "missing.json"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("cannot read blocker map missing.json"));
}

#[test]
fn show_prints_a_compact_table_with_every_blocker() {
    let w = Work::new();
    let seed = repo_file(SEED);
    let o = w.run(&["blockers", "show", seed.to_str().unwrap()]);
    assert_success(&o);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].ends_with("7 open of 7 blockers, 0 engineering remaining, default HOLD_REAL_DATA")
    );
    for h in [
        "ID",
        "STATE",
        "CATEGORY",
        "BLOCKS",
        "WHO MUST ACT",
        "NEXT ACTION",
        "EVIDENCE",
    ] {
        assert!(lines[1].contains(h), "{}", lines[1]);
    }
    assert_eq!(lines.len(), 2 + 7);
    let row = lines
        .iter()
        .find(|l| l.starts_with("FIX7-P0-DRYRUN-PROD-ROLLBACK-1 "))
        .unwrap();
    assert!(row.contains(" open "), "{row}");
    assert!(
        row.contains("requires real production data / production access"),
        "{row}"
    );
    // Not on a terminal: nothing is cut (the who-must-act text in full).
    assert!(
        row.contains("operator (real dump) + owner (production grants)"),
        "{row}"
    );
    assert!(!out.contains('…'), "{out}");
    assert!(row.trim_end().ends_with("none"), "{row}");
    // Columns line up: every row's CATEGORY starts where the header's does.
    let col = lines[1].find("CATEGORY").unwrap();
    for l in &lines[2..] {
        assert_eq!(l.chars().nth(col - 1), Some(' '), "{l}");
        assert_ne!(l.chars().nth(col), Some(' '), "{l}");
    }
}

#[test]
fn show_json_has_the_full_fields() {
    let w = Work::new();
    let seed = repo_file(SEED);
    let o = w.run(&["blockers", "show", "--json", seed.to_str().unwrap()]);
    assert_success(&o);
    let j = json_out(&o);
    assert_eq!(j["valid"], true);
    assert_eq!(j["open_count"], 7);
    let bs = j["blockers"].as_array().unwrap();
    let seed = seed_value();
    let table = seed["table_F_final_blockers"].as_array().unwrap();
    assert_eq!(bs.len(), table.len());
    for (b, s) in bs.iter().zip(table) {
        for key in [
            "blocker_id",
            "category",
            "blocks",
            "next_action",
            "remaining_actor_input",
            "can_close_now",
            "closed_this_lane",
        ] {
            assert_eq!(b[key], s[key], "{key}");
        }
        assert_eq!(b["open"], true);
        assert_eq!(b["closable_by_evidence"], false);
        assert!(b["terminal_category"].is_string(), "{b}");
        assert_eq!(b["evidence"], Value::Array(vec![]));
    }
    assert_eq!(bs[3]["terminal_category"], "REAL_RUN-QT001-cutover grants");
}

#[test]
fn show_warns_about_an_invalid_map_but_still_shows_it() {
    let w = Work::new();
    let mut v = seed_value();
    v["open_count"] = 1.into();
    let map = write_map(&w, "m.json", &v);
    let o = w.run(&["blockers", "show", map.to_str().unwrap()]);
    assert_success(&o);
    assert!(
        stderr(&o).contains("m.json breaks 1 invariant(s)"),
        "{}",
        stderr(&o)
    );
    assert_eq!(stdout(&o).lines().count(), 9);
}
