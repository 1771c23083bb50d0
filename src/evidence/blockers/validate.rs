//! The map's own invariants (docs/BLOCKERS.md "Invariants"). Validation
//! collects every violation rather than stopping at the first, each with the
//! JSON path it is about.

use super::category::{CLOSING_LEGS, Closure, closure, declared_set, is_declared};
use super::map::{Blocker, BlockerMap, EVIDENCE, Evidence, TABLE};
use serde::Serialize;
use std::collections::HashMap;

/// Which invariant a violation breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ViolationKind {
    /// `open_count` differs from the number of open blockers.
    OpenCount,
    /// Two blockers share a `blocker_id` (or an id is empty).
    DuplicateId,
    /// `allowed_remaining_categories_check` declares no terminal set.
    NoDeclaredSet,
    /// An open blocker's category is not in the declared terminal set.
    NotTerminal,
    /// `engineering_blockers_remaining` differs from the open blockers
    /// outside the terminal set.
    EngineeringCount,
    /// `can_close_now: true` without evidence that can close the blocker.
    UnbackedClose,
    /// An evidence entry with impossible values (bad seal, unknown verdict).
    BadEvidence,
    /// An evidence entry whose report is missing, does not verify, is not
    /// signed by a trusted key, is not PASS, or is not what the entry says.
    EvidenceReport,
    /// The evidence log's chain is broken, or log and map disagree.
    EvidenceLog,
    /// A closed blocker that nothing backs (a terminal one without a signed
    /// grant, an engineering one without a logged `attach --close`).
    UnbackedClosure,
    /// The map has evidence but no trust file to check it against.
    NoTrust,
}

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Which invariant.
    pub kind: ViolationKind,
    /// JSON path of the value at fault.
    pub at: String,
    /// What is wrong, in words.
    pub problem: String,
}

/// Can any evidence close a blocker of `category`? `Err` says why not.
pub fn category_closable(category: &str) -> Result<(), String> {
    match closure(category) {
        Closure::Engineering => Ok(()),
        Closure::Terminal(t) => Err(format!(
            "its category '{category}' is terminal ({}): {}",
            t.words(),
            t.why_not_closable()
        )),
        Closure::Unrecognised => Err(format!(
            "its category '{category}' is neither a declared terminal category nor an engineering one, so no evidence closes it"
        )),
    }
}

/// Can this evidence entry close a blocker of `category`? `Err` says why not.
pub fn backs_closure(category: &str, ev: &Evidence) -> Result<(), String> {
    category_closable(category)?;
    if ev.verdict != "PASS" {
        return Err(format!("the report's verdict is {}, not PASS", ev.verdict));
    }
    if ev.proof != "byte-exact" {
        return Err(format!(
            "the report's proof is {}, not byte-exact",
            ev.proof
        ));
    }
    if !CLOSING_LEGS.contains(&ev.leg.as_str()) {
        return Err(format!(
            "evidence leg '{}' cannot close a blocker (closing legs: {})",
            ev.leg,
            CLOSING_LEGS.join(", ")
        ));
    }
    Ok(())
}

/// Does any evidence entry on `b` back closing it? `Err` says why not.
pub fn closure_backing(b: &Blocker) -> Result<(), String> {
    category_closable(&b.category)?;
    let mut why = "no evidence is attached".to_string();
    for ev in &b.evidence {
        match backs_closure(&b.category, ev) {
            Ok(()) => return Ok(()),
            Err(e) => why = e,
        }
    }
    Err(why)
}

/// Check every invariant of `map`; empty means valid.
pub fn validate(map: &BlockerMap) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut push = |kind, at: String, problem: String| out.push(Violation { kind, at, problem });

    let open: Vec<&Blocker> = map.blockers.iter().filter(|b| b.is_open()).collect();
    if map.open_count != open.len() as u64 {
        push(
            ViolationKind::OpenCount,
            "open_count".into(),
            format!(
                "is {} but {} blocker(s) are open (closed_this_lane: false)",
                map.open_count,
                open.len()
            ),
        );
    }

    let mut first_at: HashMap<&str, usize> = HashMap::new();
    for b in &map.blockers {
        if b.id.trim().is_empty() {
            push(
                ViolationKind::DuplicateId,
                format!("{}.blocker_id", b.at()),
                "is empty".into(),
            );
        } else if let Some(first) = first_at.get(b.id.as_str()) {
            push(
                ViolationKind::DuplicateId,
                format!("{}.blocker_id", b.at()),
                format!("duplicate id '{}' (first used at {TABLE}[{first}])", b.id),
            );
        } else {
            first_at.insert(&b.id, b.index);
        }
    }

    let declared = declared_set(&map.allowed_remaining_categories_check);
    if declared.is_none() {
        push(
            ViolationKind::NoDeclaredSet,
            "allowed_remaining_categories_check".into(),
            "declares no terminal set: expected a parenthesised ' / '-separated list, e.g. '(real production data / production credentials-access / …)'".into(),
        );
    }
    let declared = declared.unwrap_or_default();
    let mut engineering = 0u64;
    for b in &open {
        let ok = match closure(&b.category) {
            Closure::Terminal(t) if is_declared(t, &declared) => true,
            Closure::Terminal(t) => {
                push(
                    ViolationKind::NotTerminal,
                    format!("{}.category", b.at()),
                    format!(
                        "'{}' ({}) is not in the terminal set the map declares in allowed_remaining_categories_check",
                        b.category,
                        t.words()
                    ),
                );
                false
            }
            Closure::Engineering | Closure::Unrecognised => {
                push(
                    ViolationKind::NotTerminal,
                    format!("{}.category", b.at()),
                    format!(
                        "'{}' is not one of the allowed terminal categories the map declares ({})",
                        b.category,
                        declared.join(" / ")
                    ),
                );
                false
            }
        };
        if !ok {
            engineering += 1;
        }
    }
    if map.engineering_blockers_remaining != engineering {
        push(
            ViolationKind::EngineeringCount,
            "engineering_blockers_remaining".into(),
            format!(
                "is {} but {engineering} open blocker(s) are outside the declared terminal set",
                map.engineering_blockers_remaining
            ),
        );
    }

    for b in &map.blockers {
        for (i, ev) in b.evidence.iter().enumerate() {
            let at = format!("{}.{EVIDENCE}[{i}]", b.at());
            for (field, value) in [
                ("seal", &ev.seal),
                ("surrogate_sha256", &ev.surrogate_sha256),
            ] {
                if !crate::hash::is_sha256_hex(value) {
                    push(
                        ViolationKind::BadEvidence,
                        format!("{at}.{field}"),
                        format!("'{value}' is not a lowercase hex SHA-256"),
                    );
                }
            }
            if !matches!(ev.verdict.as_str(), "PASS" | "FAIL") {
                push(
                    ViolationKind::BadEvidence,
                    format!("{at}.verdict"),
                    format!("'{}' is neither PASS nor FAIL", ev.verdict),
                );
            }
            if !matches!(ev.proof.as_str(), "byte-exact" | "logical-only") {
                push(
                    ViolationKind::BadEvidence,
                    format!("{at}.proof"),
                    format!("'{}' is neither byte-exact nor logical-only", ev.proof),
                );
            }
            if b.evidence[..i].iter().any(|e| e.seal == ev.seal) {
                push(
                    ViolationKind::BadEvidence,
                    format!("{at}.seal"),
                    "the same report is attached twice".into(),
                );
            }
        }
        if b.can_close_now
            && let Err(why) = closure_backing(b)
        {
            push(
                ViolationKind::UnbackedClose,
                format!("{}.can_close_now", b.at()),
                format!("claims true but nothing backs it: {why}"),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn seed() -> Value {
        serde_json::from_slice(
            &std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/final-blocker-map.json"
            ))
            .unwrap(),
        )
        .unwrap()
    }

    fn check(v: Value) -> Vec<Violation> {
        validate(&BlockerMap::from_value(v).unwrap())
    }

    fn kinds(v: &[Violation]) -> Vec<ViolationKind> {
        v.iter().map(|x| x.kind).collect()
    }

    #[test]
    fn seed_map_is_valid() {
        assert_eq!(check(seed()), vec![]);
    }

    #[test]
    fn every_violation_is_reported_with_its_path() {
        let mut v = seed();
        v["open_count"] = 6.into();
        v[TABLE][4]["blocker_id"] = v[TABLE][1]["blocker_id"].clone();
        v[TABLE][0]["can_close_now"] = true.into();
        v[TABLE][5]["category"] = "engineering: tidy the harness".into();
        let got = check(v);
        assert_eq!(
            kinds(&got),
            vec![
                ViolationKind::OpenCount,
                ViolationKind::DuplicateId,
                ViolationKind::NotTerminal,
                ViolationKind::EngineeringCount,
                ViolationKind::UnbackedClose,
            ]
        );
        assert_eq!(got[1].at, "table_F_final_blockers[4].blocker_id");
        assert!(got[1].problem.contains("[1]"), "{}", got[1].problem);
        assert_eq!(got[2].at, "table_F_final_blockers[5].category");
        assert_eq!(got[4].at, "table_F_final_blockers[0].can_close_now");
        assert!(got[4].problem.contains("terminal"), "{}", got[4].problem);
    }

    #[test]
    fn closed_blockers_leave_the_counts() {
        let mut v = seed();
        v[TABLE][6]["closed_this_lane"] = true.into();
        assert_eq!(kinds(&check(v.clone())), vec![ViolationKind::OpenCount]);
        v["open_count"] = 6.into();
        assert_eq!(check(v), vec![]);
    }

    #[test]
    fn a_map_that_drops_a_class_from_its_declared_set_rejects_that_category() {
        let mut v = seed();
        v["allowed_remaining_categories_check"] =
            "set (real production data / production credentials-access / production CI adoption / owner-operator production decision)".into();
        let got = check(v);
        assert_eq!(got.len(), 3, "{got:?}"); // two grant blockers + the count
        assert_eq!(got[0].at, "table_F_final_blockers[3].category");
        v = seed();
        v["allowed_remaining_categories_check"] = "nothing declared".into();
        assert!(kinds(&check(v)).contains(&ViolationKind::NoDeclaredSet));
    }

    #[test]
    fn can_close_now_on_an_engineering_blocker_needs_passing_byte_exact_evidence() {
        let mut v = seed();
        v["engineering_blockers_remaining"] = 1.into();
        v[TABLE][0]["category"] = "engineering: rollback harness".into();
        v[TABLE][0]["can_close_now"] = true.into();
        let ev = |verdict: &str, proof: &str| {
            serde_json::json!([{
                "report": "r.json", "seal": "a".repeat(64), "verdict": verdict,
                "proof": proof, "leg": "surrogate", "surrogate_sha256": "b".repeat(64),
                "scenario": "s", "rehearsed_at": "2026-06-12T00:00:00.000Z", "date": "2026-06-12"
            }])
        };
        v[TABLE][0]["evidence"] = ev("FAIL", "byte-exact");
        let got = check(v.clone());
        assert!(
            got.iter()
                .any(|x| x.kind == ViolationKind::UnbackedClose && x.problem.contains("FAIL"))
        );
        v[TABLE][0]["evidence"] = ev("PASS", "logical-only");
        assert!(kinds(&check(v.clone())).contains(&ViolationKind::UnbackedClose));
        v[TABLE][0]["evidence"] = ev("PASS", "byte-exact");
        assert_eq!(kinds(&check(v)), vec![ViolationKind::NotTerminal]);
    }
}
