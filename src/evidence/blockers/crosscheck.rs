//! What `blockers validate` checks beyond the map's own arithmetic: that
//! its evidence is real (docs/BLOCKERS.md "Cross-checks"). A hand edit can
//! make a map add up; it cannot make a missing report exist, a forged one
//! carry a trusted signature, or the evidence log agree.
//!
//! - every evidence entry names a report that exists beside the map, that
//!   verifies (seal, schema, recomputation), whose signature is by a key the
//!   map's trust file lists, whose verdict is PASS, and whose blocker, seal
//!   and recorded facts are the entry's;
//! - the evidence log's chain holds, every evidence entry has its log line
//!   (same blocker, seal, report and signature digests, signer key) and
//!   every log line its evidence entry;
//! - a closed blocker is backed: an engineering one by a logged `--close`
//!   attach, a terminal one (production data or access, CI adoption, owner
//!   decision, REAL_RUN/QT001/cutover grants) never by evidence — it needs a
//!   signed owner grant, which no map records yet, so it is invalid.

use super::category::{Closure, closure};
use super::log::{self, Entry};
use super::map::{BlockerMap, EVIDENCE, Evidence};
use super::validate::{Violation, ViolationKind};
use crate::evidence::report::Verdict;
use crate::evidence::sign::Trust;
use crate::evidence::verify::{self, Facts};
use std::path::Path;

fn violation(kind: ViolationKind, at: impl Into<String>, problem: impl Into<String>) -> Violation {
    Violation {
        kind,
        at: at.into(),
        problem: problem.into(),
    }
}

/// The recorded facts of an entry that must be the report's own (a
/// rehearsal's or a migrations folder's: `verify::Facts`).
fn facts_differ(ev: &Evidence, r: &Facts) -> Vec<String> {
    let verdict = r.verdict.to_string();
    [
        ("verdict", &ev.verdict, &verdict),
        ("proof", &ev.proof, &r.proof),
        ("leg", &ev.leg, &r.leg),
        ("surrogate_sha256", &ev.surrogate_sha256, &r.subject_sha256),
        ("scenario", &ev.scenario, &r.name),
        ("rehearsed_at", &ev.rehearsed_at, &r.started_at),
    ]
    .into_iter()
    .filter(|(_, a, b)| a != b)
    .map(|(f, a, b)| format!("{f} is '{a}' but the report says '{b}'"))
    .collect()
}

/// Check one evidence entry against its report and log line.
fn check_entry(
    map_dir: &Path,
    blocker: &str,
    at: &str,
    ev: &Evidence,
    trust: &Trust,
    log: &[Entry],
    out: &mut Vec<Violation>,
) {
    let bad = |p: String| violation(ViolationKind::EvidenceReport, at, p);
    let path = map_dir.join(&ev.report);
    let checked = match verify::check_file(&path, None, Some(trust)) {
        Ok(c) => c,
        Err(e) => return out.push(bad(format!("the report cannot be read: {e}"))),
    };
    if !checked.ok() {
        let codes: Vec<String> = checked.problems.iter().map(|p| p.to_string()).collect();
        return out.push(bad(format!(
            "{} does not verify: {}",
            ev.report,
            codes.join("; ")
        )));
    }
    let Some(signer) = checked.signature.signer() else {
        return out.push(bad(format!(
            "{} is not evidence: {}",
            ev.report,
            checked.signature.describe()
        )));
    };
    let Some(r) = &checked.facts() else { return };
    if r.seal != ev.seal {
        out.push(bad(format!(
            "seal {} is not the report's ({})",
            ev.seal, r.seal
        )));
    }
    if r.blocker != blocker {
        out.push(bad(format!(
            "the report is for blocker '{}', not this one",
            r.blocker
        )));
    }
    if r.verdict != Verdict::Pass {
        out.push(bad(format!(
            "the report's verdict is {}, not PASS",
            r.verdict
        )));
    }
    for d in facts_differ(ev, r) {
        out.push(bad(d));
    }
    let Some(line) = log
        .iter()
        .find(|e| e.blocker == blocker && e.seal == ev.seal)
    else {
        return out.push(violation(
            ViolationKind::EvidenceLog,
            at,
            "no line of the evidence log records this evidence (the log was truncated, or the entry was added by hand)",
        ));
    };
    let digest = |p: &Path| {
        std::fs::read(p)
            .map(|b| crate::hash::sha256_hex(&b))
            .unwrap_or_default()
    };
    let sig_digest = digest(&crate::evidence::sign::sig_path(&path));
    for (what, ok) in [
        ("report path", line.report == ev.report),
        ("report SHA-256", line.report_sha256 == digest(&path)),
        ("signature SHA-256", line.signature_sha256 == sig_digest),
        ("signer key", line.signer_key == signer.key),
    ] {
        if !ok {
            out.push(violation(
                ViolationKind::EvidenceLog,
                at,
                format!(
                    "the evidence log's line {} has another {what} than the evidence now has",
                    line.seq
                ),
            ));
        }
    }
}

/// Every cross-check of `map` (read from `map_path`) against its reports,
/// its evidence log and `trust` (None: no trust file was found).
pub fn crosscheck(map: &BlockerMap, map_path: &Path, trust: Option<&Trust>) -> Vec<Violation> {
    let mut out = Vec::new();
    let map_dir = crate::util::fsutil::parent_dir(map_path);
    let log_file = log::log_path(map_path);
    let shown = log_file.display().to_string();
    let bytes = match log::read(&log_file) {
        Ok(b) => b,
        Err(e) => {
            out.push(violation(ViolationKind::EvidenceLog, &shown, e.to_string()));
            Vec::new()
        }
    };
    let (entries, broken) = log::check_chain(&bytes);
    for (n, p) in broken {
        out.push(violation(
            ViolationKind::EvidenceLog,
            format!("{shown} line {n}"),
            p,
        ));
    }
    let needs_trust = map
        .blockers
        .iter()
        .any(|b| !b.evidence.is_empty() || b.closed_this_lane);
    for b in &map.blockers {
        for (i, ev) in b.evidence.iter().enumerate() {
            let at = format!("{}.{EVIDENCE}[{i}]", b.at());
            if let Some(t) = trust {
                check_entry(map_dir, &b.id, &at, ev, t, &entries, &mut out);
            }
        }
        if b.closed_this_lane {
            let at = format!("{}.closed_this_lane", b.at());
            match closure(&b.category) {
                Closure::Terminal(t) => out.push(violation(
                    ViolationKind::UnbackedClosure,
                    at,
                    format!(
                        "closed, but its category is terminal ({}): {}; evidence never closes it, only a signed owner grant does",
                        t.words(),
                        t.why_not_closable()
                    ),
                )),
                Closure::Unrecognised => out.push(violation(
                    ViolationKind::UnbackedClosure,
                    at,
                    format!("closed, but its category '{}' is not one evidence can close", b.category),
                )),
                Closure::Engineering => {
                    let logged = entries.iter().any(|e| {
                        e.blocker == b.id && e.closed && b.evidence.iter().any(|ev| ev.seal == e.seal)
                    });
                    if !logged {
                        out.push(violation(
                            ViolationKind::UnbackedClosure,
                            at,
                            "closed, but no logged `attach --close` with evidence on this blocker closed it",
                        ));
                    }
                }
            }
        }
    }
    if needs_trust && trust.is_none() {
        out.push(violation(
            ViolationKind::NoTrust,
            "allowed_signers",
            "the map has evidence or closed blockers, but no trust file was found (allowed_signers beside the map, or --trust): its evidence cannot be checked",
        ));
    }
    for e in &entries {
        let attached = map
            .blocker(&e.blocker)
            .is_some_and(|b| b.evidence.iter().any(|ev| ev.seal == e.seal));
        if !attached {
            out.push(violation(
                ViolationKind::EvidenceLog,
                format!("{shown} line {}", e.seq),
                format!(
                    "records evidence {} on {} that the map does not have (removed by hand?)",
                    e.seal, e.blocker
                ),
            ));
        }
    }
    out
}
