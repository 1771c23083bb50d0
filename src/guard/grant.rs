//! Grants: explicit, owner-issued permission for exactly one action on one
//! target, for a limited time. rollproof never performs a production action
//! itself; [`decide`] only answers allowed/refused with the reason, so that
//! external automation can gate on `rollproof guard check`.
//!
//! Policy (fail closed, default HOLD):
//! - no grant → refused (HOLD);
//! - the grant must name the very action asked about; one action's grant
//!   never allows another;
//! - production actions (REAL_RUN, QT001, permit, activation, repoint,
//!   cutover) need `scope = "production"`; a rehearsal, surrogate or clone
//!   grant never extends to production, and a production grant never names a
//!   non-production action;
//! - a production action is always bound to a target: the caller must give
//!   the target's SHA-256 and it must equal the grant's `target_sha256`;
//! - `granted_at <= now < expires_at`, `granted_by` non-empty.
//!
//! Format: docs/GUARD.md.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Actions that touch production: each needs its own grant.
pub const PRODUCTION_ACTIONS: &[&str] = &[
    "REAL_RUN",
    "QT001",
    "permit",
    "activation",
    "repoint",
    "cutover",
];
/// Actions (and scopes) that never reach production.
pub const NON_PRODUCTION_ACTIONS: &[&str] = &["rehearsal", "surrogate", "clone"];
/// Scopes a grant may declare.
pub const SCOPES: &[&str] = &["production", "rehearsal", "surrogate", "clone"];

/// A grant file could not be used at all (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error(transparent)]
    Read(#[from] crate::util::fsutil::InputError),
    #[error("grant {path} is malformed: {problem}")]
    Malformed { path: PathBuf, problem: String },
    #[error(
        "unknown action '{0}' (known: REAL_RUN, QT001, permit, activation, repoint, cutover, rehearsal, surrogate, clone)"
    )]
    UnknownAction(String),
}

/// A grant file (TOML or JSON), as written by the owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// The one action granted, e.g. "REAL_RUN".
    pub action: String,
    /// "production" for production actions; "rehearsal", "surrogate" or
    /// "clone" otherwise.
    pub scope: String,
    /// SHA-256 (hex) of the target the action may touch.
    pub target_sha256: String,
    /// Who granted it.
    pub granted_by: String,
    /// When it was granted (RFC 3339, UTC, `Z`).
    pub granted_at: String,
    /// When it stops being valid (RFC 3339, UTC, `Z`).
    pub expires_at: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The canonical spelling of a known action (case-insensitive; "apply" and
/// "QT001/apply" mean QT001).
pub fn canonical_action(name: &str) -> Result<&'static str, GrantError> {
    let lower = name.trim().to_ascii_lowercase();
    let lower = match lower.as_str() {
        "apply" | "qt001/apply" => "qt001",
        other => other,
    };
    PRODUCTION_ACTIONS
        .iter()
        .chain(NON_PRODUCTION_ACTIONS)
        .find(|a| a.to_ascii_lowercase() == lower)
        .copied()
        .ok_or_else(|| GrantError::UnknownAction(name.to_string()))
}

/// True for REAL_RUN, QT001, permit, activation, repoint and cutover.
pub fn is_production(action: &str) -> bool {
    PRODUCTION_ACTIONS.contains(&action)
}

impl Grant {
    /// Read a grant file: JSON when it starts with `{`, TOML otherwise.
    /// Fields are checked for form (timestamps, digest, known action/scope).
    pub fn load(path: &Path) -> Result<Grant, GrantError> {
        use crate::util::fsutil::{limit, read_bounded_string};
        let text = read_bounded_string(path, limit::GRANT, "grant")?;
        let malformed = |problem: String| GrantError::Malformed {
            path: path.to_path_buf(),
            problem,
        };
        let grant: Grant = if text.trim_start().starts_with('{') {
            serde_json::from_str(&text).map_err(|e| malformed(e.to_string()))?
        } else {
            toml::from_str(&text)
                .map_err(|e| malformed(crate::util::tomlerr::describe(&text, &e)))?
        };
        grant.validate().map_err(malformed)?;
        Ok(grant)
    }

    /// Check the grant's form (not its policy).
    pub fn validate(&self) -> Result<(), String> {
        canonical_action(&self.action).map_err(|e| e.to_string())?;
        if !SCOPES.contains(&self.scope.as_str()) {
            return Err(format!(
                "scope '{}' is not one of {}",
                self.scope,
                SCOPES.join(", ")
            ));
        }
        if !crate::hash::is_sha256_hex(&self.target_sha256.to_ascii_lowercase()) {
            return Err("target_sha256 must be 64 hex digits".to_string());
        }
        parse_rfc3339_millis(&self.granted_at).map_err(|e| format!("granted_at: {e}"))?;
        parse_rfc3339_millis(&self.expires_at).map_err(|e| format!("expires_at: {e}"))?;
        Ok(())
    }
}

/// The answer to "may ACTION proceed?".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The action asked about (canonical spelling).
    pub action: String,
    /// True only when the grant allows exactly this action on this target now.
    pub allowed: bool,
    /// Why: the grant that allows it, or the first reason it is refused.
    pub reason: String,
}

/// Decide whether `action` may proceed under `grant` for the target with
/// digest `target_sha256`, at `now_ms` (epoch milliseconds).
pub fn decide(
    action: &str,
    grant: Option<&Grant>,
    target_sha256: Option<&str>,
    now_ms: i64,
) -> Result<Decision, GrantError> {
    let action = canonical_action(action)?;
    let refuse = |reason: String| Decision {
        action: action.to_string(),
        allowed: false,
        reason,
    };
    let Some(g) = grant else {
        return Ok(refuse(format!(
            "HOLD: no grant given; {action} needs its own explicit owner grant (--grant FILE)"
        )));
    };
    let granted = canonical_action(&g.action)?;
    if granted != action {
        return Ok(refuse(format!(
            "the grant is for {granted}, not {action}; each action needs its own grant"
        )));
    }
    let production = is_production(action);
    if production && g.scope != "production" {
        return Ok(refuse(format!(
            "a {} grant never extends to production action {action}",
            g.scope
        )));
    }
    if !production && g.scope != action {
        return Ok(refuse(format!(
            "grant scope '{}' does not match non-production action {action}",
            g.scope
        )));
    }
    if g.granted_by.trim().is_empty() {
        return Ok(refuse("the grant does not say who granted it".to_string()));
    }
    let (from, until) = match (
        parse_rfc3339_millis(&g.granted_at),
        parse_rfc3339_millis(&g.expires_at),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return Ok(refuse("the grant's timestamps are malformed".to_string())),
    };
    if until <= from {
        return Ok(refuse(format!(
            "the grant expires ({}) before it was granted ({})",
            g.expires_at, g.granted_at
        )));
    }
    if now_ms < from {
        return Ok(refuse(format!(
            "the grant is dated in the future ({})",
            g.granted_at
        )));
    }
    if now_ms >= until {
        return Ok(refuse(format!("the grant expired at {}", g.expires_at)));
    }
    match target_sha256 {
        None if production => {
            return Ok(refuse(format!(
                "{action} is bound to a target: give its digest with --target-digest"
            )));
        }
        Some(t) if !t.eq_ignore_ascii_case(&g.target_sha256) => {
            return Ok(refuse(format!(
                "the grant is for target {}, not {}",
                g.target_sha256.to_ascii_lowercase(),
                t.to_ascii_lowercase()
            )));
        }
        _ => {}
    }
    Ok(Decision {
        action: action.to_string(),
        allowed: true,
        reason: format!(
            "granted by {} at {} for target {}, valid until {}",
            g.granted_by,
            g.granted_at,
            g.target_sha256.to_ascii_lowercase(),
            g.expires_at
        ),
    })
}

/// Days from 1970-01-01 to the civil date (inverse of
/// [`crate::util::timefmt::civil_from_days`], Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parse `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (UTC only) to epoch milliseconds.
/// Offsets other than `Z` are refused rather than guessed.
pub fn parse_rfc3339_millis(s: &str) -> Result<i64, String> {
    let bad = || format!("'{s}' is not an RFC 3339 UTC timestamp (YYYY-MM-DDTHH:MM:SS[.sss]Z)");
    let b = s.as_bytes();
    if b.len() < 20 || !matches!(b[b.len() - 1], b'Z' | b'z') {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        let part = s.get(r).ok_or_else(bad)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse::<i64>().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let (y, mo, d, h, mi, sec) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    let frac = &s[19..s.len() - 1];
    let millis = if frac.is_empty() {
        0
    } else {
        let digits = frac.strip_prefix('.').ok_or_else(bad)?;
        if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let mut ms = String::from(&digits[..digits.len().min(3)]);
        while ms.len() < 3 {
            ms.push('0');
        }
        ms.parse::<i64>().map_err(|_| bad())?
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo)
        || d < 1
        || d > month_days[(mo - 1) as usize]
        || h > 23
        || mi > 59
        || sec > 59
    {
        return Err(bad());
    }
    let days = days_from_civil(y, mo as u32, d as u32);
    Ok(((days * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::timefmt::iso_millis;

    const T: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    fn grant(action: &str, scope: &str) -> Grant {
        Grant {
            action: action.into(),
            scope: scope.into(),
            target_sha256: T.into(),
            granted_by: "owner".into(),
            granted_at: "2026-01-01T00:00:00Z".into(),
            expires_at: "2026-02-01T00:00:00Z".into(),
            note: None,
        }
    }

    fn now() -> i64 {
        parse_rfc3339_millis("2026-01-15T12:00:00Z").unwrap()
    }

    #[test]
    fn rfc3339_round_trips_with_timefmt() {
        for ms in [0, 951_782_400_123, 1_798_761_599_999, -86_400_000] {
            assert_eq!(parse_rfc3339_millis(&iso_millis(ms)).unwrap(), ms);
        }
        assert_eq!(parse_rfc3339_millis("1970-01-01T00:00:01Z").unwrap(), 1000);
        assert_eq!(parse_rfc3339_millis("1970-01-01T00:00:00.5Z").unwrap(), 500);
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-01-01T00:00:00+02:00",
            "2026-01-01 00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:00.Z",
            "yesterday",
        ] {
            assert!(parse_rfc3339_millis(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn matching_grant_allows_and_everything_else_refuses() {
        let g = grant("REAL_RUN", "production");
        assert!(
            decide("REAL_RUN", Some(&g), Some(T), now())
                .unwrap()
                .allowed
        );
        assert!(
            decide("real_run", Some(&g), Some(T), now())
                .unwrap()
                .allowed
        );
        let refused = |a: &str, g: Option<&Grant>, t: Option<&str>, at: i64| {
            let d = decide(a, g, t, at).unwrap();
            assert!(!d.allowed, "{a} was allowed");
            d.reason
        };
        assert!(refused("REAL_RUN", None, Some(T), now()).contains("HOLD"));
        assert!(refused("cutover", Some(&g), Some(T), now()).contains("not cutover"));
        assert!(refused("REAL_RUN", Some(&g), None, now()).contains("--target-digest"));
        assert!(refused("REAL_RUN", Some(&g), Some(&"b".repeat(64)), now()).contains("not bbbb"));
        let late = parse_rfc3339_millis("2026-02-01T00:00:00Z").unwrap();
        assert!(refused("REAL_RUN", Some(&g), Some(T), late).contains("expired"));
        let early = parse_rfc3339_millis("2025-12-31T23:59:59Z").unwrap();
        assert!(refused("REAL_RUN", Some(&g), Some(T), early).contains("future"));
        for scope in NON_PRODUCTION_ACTIONS {
            let g = grant("REAL_RUN", scope);
            assert!(refused("REAL_RUN", Some(&g), Some(T), now()).contains("never extends"));
        }
        let r = grant("rehearsal", "rehearsal");
        assert!(decide("rehearsal", Some(&r), None, now()).unwrap().allowed);
        assert!(refused("QT001", Some(&r), Some(T), now()).contains("not QT001"));
        let mixed = grant("rehearsal", "production");
        assert!(refused("rehearsal", Some(&mixed), None, now()).contains("does not match"));
        let mut anon = grant("permit", "production");
        anon.granted_by = " ".into();
        assert!(refused("permit", Some(&anon), Some(T), now()).contains("who"));
    }

    #[test]
    fn aliases_and_unknown_actions() {
        assert_eq!(canonical_action("apply").unwrap(), "QT001");
        assert_eq!(canonical_action("QT001/apply").unwrap(), "QT001");
        assert!(canonical_action("deploy").is_err());
    }
}
