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
//! - the grant file is signed (`<grant>.sig`, SSHSIG in namespace
//!   `rollproof-grant`) by a key the owners' allowed-signers file lists, and
//!   `granted_by` is one of the principals that file gives that key: who
//!   granted it is who signed it;
//! - `granted_at <= now < expires_at`, and the window is at most
//!   [`MAX_LIFETIME_MS`] long (a grant "from year 0000 to 9999" is no
//!   grant);
//! - `granted_by` is one exact principal: printable ASCII, so a zero-width
//!   or look-alike character never makes a second owner.
//!
//! Format: docs/GUARD.md.

use crate::evidence::verify::signature::Signature;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The longest a grant may be valid: one week. A production action is a
/// planned, one-off event; a grant that outlives the plan is a standing
/// permission, which is what grants exist to prevent.
pub const MAX_LIFETIME_MS: i64 = 7 * 24 * 3600 * 1000;

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
    /// Fields are checked for form (timestamps, window, digest, principal,
    /// known action/scope). Returns the bytes read too: the signature is
    /// checked over exactly the bytes that were parsed.
    pub fn load(path: &Path) -> Result<(Grant, Vec<u8>), GrantError> {
        use crate::util::fsutil::{limit, read_bounded};
        let bytes = read_bounded(path, limit::GRANT, "grant")?;
        let text = std::str::from_utf8(&bytes).map_err(|_| GrantError::Malformed {
            path: path.to_path_buf(),
            problem: "not UTF-8 text".into(),
        })?;
        let malformed = |problem: String| GrantError::Malformed {
            path: path.to_path_buf(),
            problem,
        };
        let grant: Grant = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?
        } else {
            toml::from_str(text).map_err(|e| malformed(crate::util::tomlerr::describe(text, &e)))?
        };
        grant.validate().map_err(malformed)?;
        Ok((grant, bytes))
    }

    /// The grant as the TOML `guard grant` writes (and signs).
    pub fn to_toml(&self) -> String {
        // Plain strings and one optional string: serialising cannot fail.
        toml::to_string(self).unwrap_or_default()
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
        if !crate::evidence::sign::allowed::valid_principal(&self.granted_by) {
            return Err(format!(
                "granted_by {:?} is not one exact principal: printable ASCII without spaces, quotes, commas, control or invisible (zero-width) characters",
                self.granted_by
            ));
        }
        let from =
            parse_rfc3339_millis(&self.granted_at).map_err(|e| format!("granted_at: {e}"))?;
        let until =
            parse_rfc3339_millis(&self.expires_at).map_err(|e| format!("expires_at: {e}"))?;
        check_window(from, until)
    }
}

/// A grant's window: it ends after it starts, and lasts at most
/// [`MAX_LIFETIME_MS`].
pub fn check_window(from: i64, until: i64) -> Result<(), String> {
    if until <= from {
        return Err("expires_at is not after granted_at".to_string());
    }
    if until - from > MAX_LIFETIME_MS {
        return Err(format!(
            "the grant is valid for {}, longer than the {} a grant may last; grant for the planned window only",
            describe_span(until - from),
            describe_span(MAX_LIFETIME_MS)
        ));
    }
    Ok(())
}

/// "3 days 4 hours", "90 minutes": a span for messages.
fn describe_span(ms: i64) -> String {
    let minutes = ms / 60_000;
    match (minutes / (24 * 60), minutes % (24 * 60) / 60, minutes % 60) {
        (0, 0, m) => format!("{m} minute(s)"),
        (0, h, 0) => format!("{h} hour(s)"),
        (d, 0, 0) => format!("{d} day(s)"),
        (d, h, m) => format!("{d} day(s) {h} hour(s) {m} minute(s)"),
    }
}

/// Parse a lifetime: a whole number followed by `m` (minutes), `h` (hours)
/// or `d` (days), e.g. `90m`, `24h`, `2d`; at most [`MAX_LIFETIME_MS`].
pub fn parse_lifetime(s: &str) -> Result<i64, String> {
    let bad = || format!("'{s}' is not a lifetime like 90m, 24h or 2d");
    let (num, unit) = s.split_at(s.len().saturating_sub(1));
    let unit_ms = match unit {
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) || num.len() > 6 {
        return Err(bad());
    }
    let ms = num.parse::<i64>().map_err(|_| bad())? * unit_ms;
    if ms == 0 {
        return Err(bad());
    }
    if ms > MAX_LIFETIME_MS {
        return Err(format!(
            "'{s}' is longer than the {} a grant may last",
            describe_span(MAX_LIFETIME_MS)
        ));
    }
    Ok(ms)
}

/// A grant as presented to [`decide`]: its content and the state of its
/// signature against the owners' trust file.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    pub grant: &'a Grant,
    pub signature: &'a Signature,
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
    presented: Option<Presented<'_>>,
    target_sha256: Option<&str>,
    now_ms: i64,
) -> Result<Decision, GrantError> {
    let action = canonical_action(action)?;
    let refuse = |reason: String| Decision {
        action: action.to_string(),
        allowed: false,
        reason,
    };
    let Some(Presented {
        grant: g,
        signature,
    }) = presented
    else {
        return Ok(refuse(format!(
            "HOLD: no grant given; {action} needs its own explicit owner grant (--grant FILE)"
        )));
    };
    let Some(signer) = signature.signer() else {
        return Ok(refuse(format!(
            "the grant is not signed by an owner key the trust file lists ({}); a grant anyone can write is no grant",
            signature.describe()
        )));
    };
    if !signer.principals.contains(&g.granted_by) {
        return Ok(refuse(format!(
            "granted_by '{}' is not who signed the grant (the trust file names key {} as {})",
            g.granted_by,
            signer.key,
            signer.principal()
        )));
    }
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
    if let Err(problem) = g.validate() {
        return Ok(refuse(format!("the grant is malformed: {problem}")));
    }
    let (from, until) = match (
        parse_rfc3339_millis(&g.granted_at),
        parse_rfc3339_millis(&g.expires_at),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return Ok(refuse("the grant's timestamps are malformed".to_string())),
    };
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
            "granted by {} (key {}) at {} for target {}, valid until {}",
            g.granted_by,
            signer.key,
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

    // One builder for these tests and the pins (grant_pins.rs).
    use super::pins::{T, grant};

    fn now() -> i64 {
        parse_rfc3339_millis("2026-01-03T12:00:00Z").unwrap()
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

    fn pr<'a>(grant: &'a Grant, signature: &'a Signature) -> Option<Presented<'a>> {
        Some(Presented { grant, signature })
    }

    fn signed_by(principal: &str) -> Signature {
        Signature::Trusted {
            file: "g.toml.sig".into(),
            signer: crate::evidence::sign::Signer {
                principals: vec![principal.into()],
                key: "SHA256:owner-key".into(),
            },
        }
    }

    #[test]
    fn matching_grant_allows_and_everything_else_refuses() {
        let owner = signed_by("owner");
        let g = grant("REAL_RUN", "production");
        assert!(
            decide("REAL_RUN", pr(&g, &owner), Some(T), now())
                .unwrap()
                .allowed
        );
        assert!(
            decide("real_run", pr(&g, &owner), Some(T), now())
                .unwrap()
                .allowed
        );
        fn refused(a: &str, g: Option<Presented<'_>>, t: Option<&str>, at: i64) -> String {
            let d = decide(a, g, t, at).unwrap();
            assert!(!d.allowed, "{a} was allowed");
            d.reason
        }
        assert!(refused("REAL_RUN", None, Some(T), now()).contains("HOLD"));
        assert!(refused("cutover", pr(&g, &owner), Some(T), now()).contains("not cutover"));
        assert!(refused("REAL_RUN", pr(&g, &owner), None, now()).contains("--target-digest"));
        assert!(
            refused("REAL_RUN", pr(&g, &owner), Some(&"b".repeat(64)), now()).contains("not bbbb")
        );
        let late = parse_rfc3339_millis("2026-01-06T00:00:00Z").unwrap();
        assert!(refused("REAL_RUN", pr(&g, &owner), Some(T), late).contains("expired"));
        let early = parse_rfc3339_millis("2025-12-31T23:59:59Z").unwrap();
        assert!(refused("REAL_RUN", pr(&g, &owner), Some(T), early).contains("future"));
        for scope in NON_PRODUCTION_ACTIONS {
            let g = grant("REAL_RUN", scope);
            assert!(refused("REAL_RUN", pr(&g, &owner), Some(T), now()).contains("never extends"));
        }
        let r = grant("rehearsal", "rehearsal");
        assert!(
            decide("rehearsal", pr(&r, &owner), None, now())
                .unwrap()
                .allowed
        );
        assert!(refused("QT001", pr(&r, &owner), Some(T), now()).contains("not QT001"));
        let mixed = grant("rehearsal", "production");
        assert!(refused("rehearsal", pr(&mixed, &owner), None, now()).contains("does not match"));
    }

    #[test]
    fn only_a_grant_signed_by_its_granter_counts() {
        let g = grant("permit", "production");
        let with = |s: &Signature| {
            decide(
                "permit",
                Some(Presented {
                    grant: &g,
                    signature: s,
                }),
                Some(T),
                now(),
            )
            .unwrap()
        };
        assert!(with(&signed_by("owner")).allowed);
        let other = with(&signed_by("someone-else"));
        assert!(
            !other.allowed && other.reason.contains("not who signed"),
            "{other:?}"
        );
        for s in [
            Signature::NotChecked,
            Signature::Unsigned {
                file: "g.toml.sig".into(),
            },
            Signature::Invalid {
                file: "g.toml.sig".into(),
                reason: "changed".into(),
            },
            Signature::Untrusted {
                file: "g.toml.sig".into(),
                reason: "stranger".into(),
            },
        ] {
            let d = with(&s);
            assert!(
                !d.allowed && d.reason.contains("not signed by an owner key"),
                "{d:?}"
            );
        }
    }

    #[test]
    fn windows_are_bounded_and_principals_exact() {
        let mut g = grant("permit", "production");
        assert!(g.validate().is_ok());
        g.granted_at = "0000-01-01T00:00:00Z".into();
        g.expires_at = "9999-12-31T23:59:59Z".into();
        assert!(
            g.validate()
                .unwrap_err()
                .contains("longer than the 7 day(s)")
        );
        g.granted_at = "2026-01-01T00:00:00Z".into();
        g.expires_at = "2026-01-08T00:00:00.001Z".into();
        assert!(g.validate().is_err());
        g.expires_at = "2026-01-08T00:00:00Z".into();
        assert!(g.validate().is_ok());
        g.expires_at = "2026-01-01T00:00:00Z".into();
        assert!(g.validate().unwrap_err().contains("not after"));
        let mut g = grant("permit", "production");
        for who in ["", " ", "owner\u{200b}", "\u{200b}owner", "own er", "ownér"] {
            g.granted_by = who.into();
            assert!(g.validate().unwrap_err().contains("zero-width"), "{who:?}");
        }
        assert_eq!(parse_lifetime("90m").unwrap(), 90 * 60_000);
        assert_eq!(parse_lifetime("7d").unwrap(), MAX_LIFETIME_MS);
        for bad in ["8d", "0h", "h", "1w", "-1d", "1.5h", ""] {
            assert!(parse_lifetime(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn aliases_and_unknown_actions() {
        assert_eq!(canonical_action("apply").unwrap(), "QT001");
        assert_eq!(canonical_action("QT001/apply").unwrap(), "QT001");
        assert!(canonical_action("deploy").is_err());
    }
}

#[cfg(test)]
#[path = "grant_pins.rs"]
mod pins;
