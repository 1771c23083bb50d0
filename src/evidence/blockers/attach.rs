//! The pure attach rule: given a map, a blocker id and the evidence of a
//! report that has already been verified, compute the new map — or say why
//! not. No I/O here; `commands::attach` verifies the report, reads and writes
//! the files.
//!
//! Rules (docs/BLOCKERS.md "Attach"):
//! - the report must be for the blocker its scenario declared;
//! - the map must be consistent (only "an open blocker is not terminal" is
//!   tolerated, since attaching evidence is how engineering blockers go away);
//! - the same report (same seal) is recorded once; repeating is a no-op;
//! - evidence that can close the blocker (see
//!   [`super::validate::backs_closure`]) sets `can_close_now: true`;
//! - `close` additionally sets `closed_this_lane: true` and lowers
//!   `open_count` and `engineering_blockers_remaining`; if the evidence
//!   cannot close the blocker, the whole attach is refused.

use super::map::{BlockerMap, EVIDENCE, Evidence, ShapeError, TABLE};
use super::validate::{Violation, ViolationKind, backs_closure, validate};
use serde_json::{Map, Value};
use std::path::{Component, Path};

/// What a verified report contributes to an attach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceInput {
    /// The evidence entry to record.
    pub evidence: Evidence,
    /// The blocker id the report's scenario declared.
    pub report_blocker: String,
}

/// The result of a successful attach.
#[derive(Debug, Clone, PartialEq)]
pub enum AttachOutcome {
    /// The report is already attached and nothing else changes: the map
    /// must not be rewritten.
    Unchanged,
    /// The map changed.
    Changed {
        /// The new map.
        map: BlockerMap,
        /// A new evidence entry was added (false: only the closure changed).
        added: bool,
        /// The blocker now has `can_close_now: true` where it had false.
        can_close_now_set: bool,
        /// The blocker was closed by this attach.
        closed: bool,
    },
}

/// Why an attach cannot go ahead.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// `--blocker` names no blocker in the map (bad input); the map's ids
    /// are listed so the user can pick the right one.
    #[error("no blocker with blocker_id '{id}' in {TABLE}; the map's blocker ids are: {}", .valid.join(", "))]
    UnknownBlocker { id: String, valid: Vec<String> },
    /// The report is for another blocker (refused).
    #[error(
        "the report is for blocker '{report}' (as its scenario declared), not '{requested}'; evidence is only attached to the blocker it was produced for"
    )]
    WrongBlocker { report: String, requested: String },
    /// The map breaks its own invariants (invalid map).
    #[error("the map is invalid ({} violation(s)); fix it before attaching", .0.len())]
    InvalidMap(Vec<Violation>),
    /// Closing was asked for but the evidence cannot close this blocker
    /// (refused).
    #[error("will not close {id}: {why}")]
    CloseRefused { id: String, why: String },
    /// The edit produced a map of the wrong shape (a bug; nothing written).
    #[error("internal: edited map has the wrong shape: {0}")]
    Shape(#[from] ShapeError),
}

impl AttachError {
    /// Is this a fail-closed policy refusal (exit 3) rather than bad input
    /// or an invalid map?
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            AttachError::WrongBlocker { .. } | AttachError::CloseRefused { .. }
        )
    }
}

fn evidence_value(ev: &Evidence) -> Value {
    let mut m = Map::new();
    for (k, v) in [
        ("report", &ev.report),
        ("seal", &ev.seal),
        ("verdict", &ev.verdict),
        ("proof", &ev.proof),
        ("leg", &ev.leg),
        ("surrogate_sha256", &ev.surrogate_sha256),
        ("scenario", &ev.scenario),
        ("rehearsed_at", &ev.rehearsed_at),
        ("date", &ev.date),
    ] {
        m.insert(k.to_string(), Value::String(v.clone()));
    }
    Value::Object(m)
}

fn lower(root: &mut Map<String, Value>, key: &str) {
    if let Some(n) = root.get(key).and_then(Value::as_u64) {
        root.insert(key.to_string(), Value::from(n.saturating_sub(1)));
    }
}

/// Attach `input` to blocker `blocker_id` of `map`, closing it if `close`.
pub fn attach_evidence(
    map: &BlockerMap,
    blocker_id: &str,
    input: &EvidenceInput,
    close: bool,
) -> Result<AttachOutcome, AttachError> {
    let blocking: Vec<Violation> = validate(map)
        .into_iter()
        .filter(|v| v.kind != ViolationKind::NotTerminal)
        .collect();
    if !blocking.is_empty() {
        return Err(AttachError::InvalidMap(blocking));
    }
    let b = map
        .blocker(blocker_id)
        .ok_or_else(|| AttachError::UnknownBlocker {
            id: blocker_id.to_string(),
            valid: map.blockers.iter().map(|b| b.id.clone()).collect(),
        })?;
    if input.report_blocker != b.id {
        return Err(AttachError::WrongBlocker {
            report: input.report_blocker.clone(),
            requested: b.id.clone(),
        });
    }
    let ev = &input.evidence;
    let backs = backs_closure(&b.category, ev);
    let will_close = close && b.is_open();
    if will_close && let Err(why) = &backs {
        return Err(AttachError::CloseRefused {
            id: b.id.clone(),
            why: why.clone(),
        });
    }
    let add = !b.evidence.iter().any(|e| e.seal == ev.seal);
    let set_can_close = backs.is_ok() && !b.can_close_now && b.is_open();
    if !add && !set_can_close && !will_close {
        return Ok(AttachOutcome::Unchanged);
    }
    let index = b.index;
    let new = map.edit(|root| {
        let entry = root
            .get_mut(TABLE)
            .and_then(Value::as_array_mut)
            .and_then(|t| t.get_mut(index))
            .and_then(Value::as_object_mut)
            .ok_or_else(|| ShapeError {
                at: format!("{TABLE}[{index}]"),
                problem: "blocker entry vanished".into(),
            })?;
        if add {
            let list = entry
                .entry(EVIDENCE.to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(items) = list {
                items.push(evidence_value(ev));
            }
        }
        if set_can_close || will_close {
            entry.insert("can_close_now".into(), Value::Bool(true));
        }
        if will_close {
            entry.insert("closed_this_lane".into(), Value::Bool(true));
            lower(root, "open_count");
            lower(root, "engineering_blockers_remaining");
        }
        Ok(())
    })?;
    Ok(AttachOutcome::Changed {
        map: new,
        added: add,
        can_close_now_set: set_can_close || (will_close && !b.can_close_now),
        closed: will_close,
    })
}

/// `target` relative to the folder `base` (both absolute and canonical),
/// `/`-separated, e.g. `../reports/s/r.json`. When they share no root
/// (another drive), `target` itself.
pub fn relative_to(base: &Path, target: &Path) -> String {
    let b: Vec<Component> = base.components().collect();
    let t: Vec<Component> = target.components().collect();
    let common = b.iter().zip(&t).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return target.to_string_lossy().replace('\\', "/");
    }
    let mut parts: Vec<String> = vec!["..".to_string(); b.len() - common];
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLLBACK: &str = "FIX7-P0-DRYRUN-PROD-ROLLBACK-1";

    fn seed() -> BlockerMap {
        BlockerMap::parse(
            &std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/final-blocker-map.json"
            ))
            .unwrap(),
        )
        .unwrap()
    }

    fn input(blocker: &str, seal: char) -> EvidenceInput {
        EvidenceInput {
            evidence: Evidence {
                report: "reports/s/r.json".into(),
                seal: seal.to_string().repeat(64),
                verdict: "PASS".into(),
                proof: "byte-exact".into(),
                leg: "surrogate".into(),
                surrogate_sha256: "c".repeat(64),
                scenario: "s".into(),
                rehearsed_at: "2026-06-12T01:02:03.004Z".into(),
                date: "2026-06-12".into(),
            },
            report_blocker: blocker.into(),
        }
    }

    fn engineering_map() -> BlockerMap {
        let mut v = seed().value();
        v[TABLE][2]["category"] = "engineering: rollback harness on the surrogate".into();
        v["engineering_blockers_remaining"] = 1.into();
        BlockerMap::from_value(v).unwrap()
    }

    #[test]
    fn production_blocker_records_evidence_but_stays_open() {
        let m = seed();
        let AttachOutcome::Changed {
            map,
            added,
            can_close_now_set,
            closed,
        } = attach_evidence(&m, ROLLBACK, &input(ROLLBACK, 'a'), false).unwrap()
        else {
            panic!("expected a change")
        };
        assert!(added && !can_close_now_set && !closed);
        let b = map.blocker(ROLLBACK).unwrap();
        assert_eq!(b.evidence.len(), 1);
        assert!(!b.can_close_now && !b.closed_this_lane);
        assert_eq!(map.open_count, 7);
        assert_eq!(validate(&map), vec![]);
        // Twice: nothing to do.
        assert_eq!(
            attach_evidence(&map, ROLLBACK, &input(ROLLBACK, 'a'), false).unwrap(),
            AttachOutcome::Unchanged
        );
    }

    #[test]
    fn closing_a_production_blocker_is_refused() {
        let e = attach_evidence(&seed(), ROLLBACK, &input(ROLLBACK, 'a'), true).unwrap_err();
        assert!(e.is_refusal());
        assert!(e.to_string().contains("real production data"), "{e}");
    }

    #[test]
    fn wrong_and_unknown_blockers() {
        let e = attach_evidence(&seed(), ROLLBACK, &input("FIX7-P0-PROD-OPT4-1", 'a'), false)
            .unwrap_err();
        assert!(matches!(e, AttachError::WrongBlocker { .. }));
        let e = attach_evidence(&seed(), "NOPE", &input("NOPE", 'a'), false).unwrap_err();
        assert!(matches!(e, AttachError::UnknownBlocker { .. }) && !e.is_refusal());
    }

    #[test]
    fn engineering_blocker_closes_only_with_passing_byte_exact_evidence() {
        let m = engineering_map();
        let mut bad = input(ROLLBACK, 'a');
        bad.evidence.proof = "logical-only".into();
        let e = attach_evidence(&m, ROLLBACK, &bad, true).unwrap_err();
        assert!(
            e.is_refusal() && e.to_string().contains("logical-only"),
            "{e}"
        );
        let AttachOutcome::Changed {
            map,
            can_close_now_set,
            closed,
            ..
        } = attach_evidence(&m, ROLLBACK, &input(ROLLBACK, 'b'), true).unwrap()
        else {
            panic!("expected a change")
        };
        assert!(can_close_now_set && closed);
        assert_eq!((map.open_count, map.engineering_blockers_remaining), (6, 0));
        assert_eq!(validate(&map), vec![]);
        assert_eq!(
            attach_evidence(&map, ROLLBACK, &input(ROLLBACK, 'b'), true).unwrap(),
            AttachOutcome::Unchanged
        );
    }

    #[test]
    fn relative_paths() {
        let rel = |a: &str, b: &str| relative_to(Path::new(a), Path::new(b));
        assert_eq!(
            rel("/w/maps", "/w/maps/reports/s/r.json"),
            "reports/s/r.json"
        );
        assert_eq!(
            rel("/w/maps/x", "/w/reports/r.json"),
            "../../reports/r.json"
        );
        assert_eq!(rel("/", "/r.json"), "r.json");
    }

    #[test]
    fn inconsistent_map_is_not_attached_to() {
        let mut v = seed().value();
        v["open_count"] = 3.into();
        let m = BlockerMap::from_value(v).unwrap();
        let e = attach_evidence(&m, ROLLBACK, &input(ROLLBACK, 'a'), false).unwrap_err();
        assert!(matches!(e, AttachError::InvalidMap(ref v) if v.len() == 1));
    }
}
