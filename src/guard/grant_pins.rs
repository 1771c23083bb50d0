//! Pins the grant policy and its timestamp arithmetic (issue #18): each
//! refusal with the reason `guard check` prints, each boundary of the
//! window and of the timestamp fields from both sides, and the day count
//! against an independent one (`timefmt`'s inverse) across the years a
//! grant can name.

use super::*;
use crate::util::timefmt::iso_millis;

pub(super) const T: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const FROM: &str = "2026-01-01T00:00:00Z";
const UNTIL: &str = "2026-01-06T00:00:00Z";

/// A grant of `action` on `scope` for target `T`, valid 2026-01-01 to 01-06.
pub(super) fn grant(action: &str, scope: &str) -> Grant {
    Grant {
        action: action.into(),
        scope: scope.into(),
        target_sha256: T.into(),
        granted_by: "owner".into(),
        granted_at: FROM.into(),
        expires_at: UNTIL.into(),
        note: None,
    }
}

fn at(s: &str) -> i64 {
    parse_rfc3339_millis(s).unwrap()
}

fn owner() -> Signature {
    Signature::Trusted {
        file: "g.toml.sig".into(),
        signer: crate::evidence::sign::Signer {
            principals: vec!["owner".into()],
            key: "SHA256:owner-key".into(),
        },
    }
}

/// `decide` with a grant signed by its granter.
fn decide_with(action: &str, g: &Grant, target: Option<&str>, now: i64) -> Decision {
    let sig = owner();
    decide(
        action,
        Some(Presented {
            grant: g,
            signature: &sig,
        }),
        target,
        now,
    )
    .unwrap()
}

fn refused(d: Decision) -> String {
    assert!(!d.allowed, "allowed: {d:?}");
    d.reason
}

#[test]
fn the_lifetime_limit_is_one_week() {
    assert_eq!(MAX_LIFETIME_MS, 604_800_000);
}

#[test]
fn actions_have_one_canonical_spelling_and_production_is_exactly_six() {
    for (asked, canonical) in [
        ("REAL_RUN", "REAL_RUN"),
        ("  real_run ", "REAL_RUN"),
        ("qt001", "QT001"),
        ("Apply", "QT001"),
        ("qt001/APPLY", "QT001"),
        ("Permit", "permit"),
        ("CUTOVER", "cutover"),
        ("rehearsal", "rehearsal"),
        ("clone", "clone"),
    ] {
        assert_eq!(canonical_action(asked).unwrap(), canonical, "{asked}");
    }
    assert_eq!(
        canonical_action("deploy").unwrap_err().to_string(),
        "unknown action 'deploy' (known: REAL_RUN, QT001, permit, activation, repoint, cutover, rehearsal, surrogate, clone)"
    );
    for a in PRODUCTION_ACTIONS {
        assert!(is_production(a), "{a}");
    }
    for a in NON_PRODUCTION_ACTIONS {
        assert!(!is_production(a), "{a}");
    }
}

#[test]
fn a_grant_written_as_toml_reads_back_as_the_same_grant() {
    let mut g = grant("REAL_RUN", "production");
    g.note = Some("window for the 2026-01 cutover".into());
    let toml = g.to_toml();
    assert!(toml.contains("action = \"REAL_RUN\""), "{toml}");
    let back: Grant = toml::from_str(&toml).unwrap();
    assert_eq!(back, g);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.toml");
    std::fs::write(&path, &toml).unwrap();
    let (loaded, bytes) = Grant::load(&path).unwrap();
    assert_eq!((loaded, bytes), (g.clone(), toml.into_bytes()));
    let json = serde_json::to_vec(&g).unwrap();
    std::fs::write(&path, &json).unwrap();
    assert_eq!(Grant::load(&path).unwrap(), (g, json));
    std::fs::write(&path, "action = \"REAL_RUN\"\n").unwrap();
    assert!(matches!(
        Grant::load(&path),
        Err(GrantError::Malformed { .. })
    ));
}

#[test]
fn a_grant_is_checked_for_form_field_by_field() {
    let ok = grant("permit", "production");
    assert_eq!(ok.validate(), Ok(()));
    let mut upper = ok.clone();
    upper.target_sha256 = T.to_ascii_uppercase();
    assert_eq!(upper.validate(), Ok(()));
    type Edit = fn(&mut Grant);
    let cases: [(Edit, &str); 6] = [
        (
            |g| g.action = "deploy".into(),
            "unknown action 'deploy' (known: REAL_RUN, QT001, permit, activation, repoint, cutover, rehearsal, surrogate, clone)",
        ),
        (
            |g| g.scope = "prod".into(),
            "scope 'prod' is not one of production, rehearsal, surrogate, clone",
        ),
        (
            |g| g.target_sha256 = T[1..].into(),
            "target_sha256 must be 64 hex digits",
        ),
        (
            |g| g.granted_by = "own er".into(),
            "granted_by \"own er\" is not one exact principal: printable ASCII without spaces, quotes, commas, control or invisible (zero-width) characters",
        ),
        (
            |g| g.granted_at = "yesterday".into(),
            "granted_at: 'yesterday' is not an RFC 3339 UTC timestamp (YYYY-MM-DDTHH:MM:SS[.sss]Z)",
        ),
        (
            |g| g.expires_at = "2026-01-06".into(),
            "expires_at: '2026-01-06' is not an RFC 3339 UTC timestamp (YYYY-MM-DDTHH:MM:SS[.sss]Z)",
        ),
    ];
    for (edit, why) in cases {
        let mut g = ok.clone();
        edit(&mut g);
        assert_eq!(g.validate().unwrap_err(), why);
    }
}

#[test]
fn a_window_ends_after_it_starts_and_lasts_at_most_a_week() {
    let t = 1_000_000;
    assert_eq!(
        check_window(t, t).unwrap_err(),
        "expires_at is not after granted_at"
    );
    assert!(check_window(t, t - 1).is_err());
    assert_eq!(check_window(t, t + 1), Ok(()));
    assert_eq!(check_window(t, t + MAX_LIFETIME_MS), Ok(()));
    assert_eq!(
        check_window(t, t + MAX_LIFETIME_MS + 1).unwrap_err(),
        "the grant is valid for 7 day(s), longer than the 7 day(s) a grant may last; grant for the planned window only"
    );
    assert_eq!(
        check_window(-t, MAX_LIFETIME_MS + 26 * 3_600_000 + 60_000).unwrap_err(),
        "the grant is valid for 8 day(s) 2 hour(s) 17 minute(s), longer than the 7 day(s) a grant may last; grant for the planned window only"
    );
}

#[test]
fn spans_read_in_days_hours_and_minutes() {
    for (ms, text) in [
        (0, "0 minute(s)"),
        (45 * 60_000, "45 minute(s)"),
        (45 * 60_000 + 59_999, "45 minute(s)"),
        (2 * 3_600_000, "2 hour(s)"),
        (3 * 86_400_000, "3 day(s)"),
        (90 * 60_000, "0 day(s) 1 hour(s) 30 minute(s)"),
        (
            86_400_000 + 2 * 3_600_000 + 3 * 60_000,
            "1 day(s) 2 hour(s) 3 minute(s)",
        ),
        (86_400_000 + 5 * 60_000, "1 day(s) 0 hour(s) 5 minute(s)"),
        (
            30 * 86_400_000 + 23 * 3_600_000,
            "30 day(s) 23 hour(s) 0 minute(s)",
        ),
    ] {
        assert_eq!(describe_span(ms), text, "{ms}");
    }
}

#[test]
fn lifetimes_are_a_whole_number_of_minutes_hours_or_days_up_to_a_week() {
    for (s, ms) in [
        ("1m", 60_000),
        ("90m", 5_400_000),
        ("1h", 3_600_000),
        ("24h", 86_400_000),
        ("2d", 172_800_000),
        ("7d", MAX_LIFETIME_MS),
        ("168h", MAX_LIFETIME_MS),
        ("10080m", MAX_LIFETIME_MS),
        ("000090m", 5_400_000),
    ] {
        assert_eq!(parse_lifetime(s), Ok(ms), "{s}");
    }
    for s in [
        "0m", "0000000m", "0000001m", "m", "1x", "+1h", " 1h", "1.5h", "1 h", "", "d",
    ] {
        assert_eq!(
            parse_lifetime(s).unwrap_err(),
            format!("'{s}' is not a lifetime like 90m, 24h or 2d"),
            "{s:?}"
        );
    }
    for s in ["8d", "169h", "10081m", "999999d"] {
        assert_eq!(
            parse_lifetime(s).unwrap_err(),
            format!("'{s}' is longer than the 7 day(s) a grant may last"),
            "{s}"
        );
    }
}

#[test]
fn the_day_count_agrees_with_timefmt_from_year_0_to_9999() {
    // Every 13th day (so every day of the month and every month is hit,
    // in leap and common years), at a time of day with every field set.
    let first = at("0000-01-01T00:00:00Z");
    let last = at("9999-12-31T00:00:00Z");
    assert_eq!(first, -62_167_219_200_000);
    assert_eq!(last, 253_402_214_400_000);
    let offset = ((7 * 60 + 8) * 60 + 9) * 1000 + 321;
    let mut day = first;
    while day <= last {
        let ms = day + offset;
        assert_eq!(at(&iso_millis(ms)), ms, "{}", iso_millis(ms));
        day += 13 * 86_400_000;
    }
    assert_eq!(at("1970-01-01T00:00:00Z"), 0);
    assert_eq!(at("1970-01-02T03:04:05.678Z"), 97_445_678);
    assert_eq!(
        at("2000-03-01T00:00:00Z") - at("2000-02-28T00:00:00Z"),
        2 * 86_400_000
    );
    assert_eq!(
        at("1900-03-01T00:00:00Z") - at("1900-02-28T00:00:00Z"),
        86_400_000
    );
}

#[test]
fn february_29_exists_only_in_leap_years() {
    for (y, leap) in [
        (1900, false),
        (2000, true),
        (2023, false),
        (2024, true),
        (2100, false),
        (2400, true),
        (1, false),
        (4, true),
    ] {
        let s = format!("{y:04}-02-29T00:00:00Z");
        assert_eq!(parse_rfc3339_millis(&s).is_ok(), leap, "{s}");
        assert!(parse_rfc3339_millis(&format!("{y:04}-02-28T00:00:00Z")).is_ok());
        assert!(parse_rfc3339_millis(&format!("{y:04}-02-30T00:00:00Z")).is_err());
    }
}

#[test]
fn every_timestamp_field_is_bounded_from_both_sides() {
    for ok in [
        "2026-01-31T23:59:59Z",
        "2026-12-01T00:00:00Z",
        "2026-04-30T00:00:00Z",
        "2026-01-01t00:00:00z",
        "2026-01-01T00:00:00.999Z",
    ] {
        assert!(parse_rfc3339_millis(ok).is_ok(), "{ok}");
    }
    for bad in [
        "2026-00-01T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-01-00T00:00:00Z",
        "2026-01-32T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-01-01T24:00:00Z",
        "2026-01-01T00:60:00Z",
        "2026-01-01T00:00:60Z",
        // Separators, each in turn.
        "2026x01-01T00:00:00Z",
        "2026-01x01T00:00:00Z",
        "2026-01-01x00:00:00Z",
        "2026-01-01T00x00:00Z",
        "2026-01-01T00:00x00Z",
        // Digits only in the fields, UTC only, nothing short.
        "2026-0a-01T00:00:00Z",
        "+026-01-01T00:00:00Z",
        "2026-01-01T00:00:00",
        "2026-01-01T00:00:00+00",
        "2026-01-01T00:00:0Z",
        "2026-01-01T00:00:00x123Z",
        "2026-01-01T00:00:00.1aZ",
        "2026-01-01T00:00:00.Z",
        "",
    ] {
        assert_eq!(
            parse_rfc3339_millis(bad).unwrap_err(),
            format!("'{bad}' is not an RFC 3339 UTC timestamp (YYYY-MM-DDTHH:MM:SS[.sss]Z)"),
            "{bad}"
        );
    }
}

#[test]
fn fractions_are_read_to_the_millisecond_and_cut_beyond() {
    let base = at("2026-01-01T00:00:00Z");
    for (frac, ms) in [
        (".1", 100),
        (".12", 120),
        (".123", 123),
        (".1239", 123),
        (".000001", 0),
        (".5", 500),
    ] {
        assert_eq!(
            at(&format!("2026-01-01T00:00:00{frac}Z")) - base,
            ms,
            "{frac}"
        );
    }
    // Each field carries its own weight.
    for (s, ms) in [
        ("2026-01-01T00:00:01Z", 1_000),
        ("2026-01-01T00:01:00Z", 60_000),
        ("2026-01-01T01:00:00Z", 3_600_000),
        ("2026-01-02T00:00:00Z", 86_400_000),
        ("2026-02-01T00:00:00Z", 31 * 86_400_000),
        ("2027-01-01T00:00:00Z", 365 * 86_400_000),
    ] {
        assert_eq!(at(s) - base, ms, "{s}");
    }
}

#[test]
fn every_refusal_says_why_in_the_words_guard_check_prints() {
    let g = grant("REAL_RUN", "production");
    let now = at("2026-01-03T12:00:00Z");
    let hold = decide("REAL_RUN", None, Some(T), now).unwrap();
    assert_eq!(hold.action, "REAL_RUN");
    assert_eq!(
        refused(hold),
        "HOLD: no grant given; REAL_RUN needs its own explicit owner grant (--grant FILE)"
    );
    let unsigned = decide(
        "REAL_RUN",
        Some(Presented {
            grant: &g,
            signature: &Signature::NotChecked,
        }),
        Some(T),
        now,
    )
    .unwrap();
    assert_eq!(
        refused(unsigned),
        "the grant is not signed by an owner key the trust file lists (signature not checked (no --trust)); a grant anyone can write is no grant"
    );
    let mut other = g.clone();
    other.granted_by = "someone-else".into();
    assert_eq!(
        refused(decide_with("REAL_RUN", &other, Some(T), now)),
        "granted_by 'someone-else' is not who signed the grant (the trust file names key SHA256:owner-key as owner)"
    );
    assert_eq!(
        refused(decide_with("cutover", &g, Some(T), now)),
        "the grant is for REAL_RUN, not cutover; each action needs its own grant"
    );
    assert_eq!(
        refused(decide_with(
            "REAL_RUN",
            &grant("REAL_RUN", "clone"),
            Some(T),
            now
        )),
        "a clone grant never extends to production action REAL_RUN"
    );
    assert_eq!(
        refused(decide_with(
            "clone",
            &grant("clone", "rehearsal"),
            None,
            now
        )),
        "grant scope 'rehearsal' does not match non-production action clone"
    );
    let mut malformed = g.clone();
    malformed.target_sha256 = "xyz".into();
    assert_eq!(
        refused(decide_with("REAL_RUN", &malformed, Some(T), now)),
        "the grant is malformed: target_sha256 must be 64 hex digits"
    );
    assert_eq!(
        refused(decide_with("REAL_RUN", &g, None, now)),
        "REAL_RUN is bound to a target: give its digest with --target-digest"
    );
    let b = "B".repeat(64);
    assert_eq!(
        refused(decide_with("REAL_RUN", &g, Some(&b), now)),
        format!("the grant is for target {T}, not {}", "b".repeat(64))
    );
    // An unknown action is bad input, not a refusal.
    assert!(decide("deploy", None, None, now).is_err());
    assert!(decide_with_err("REAL_RUN", &grant("deploy", "production")));
}

fn decide_with_err(action: &str, g: &Grant) -> bool {
    let sig = owner();
    let p = Some(Presented {
        grant: g,
        signature: &sig,
    });
    matches!(
        decide(action, p, Some(T), at("2026-01-03T12:00:00Z")),
        Err(GrantError::UnknownAction(_))
    )
}

#[test]
fn a_grant_holds_from_granted_at_up_to_but_not_at_expires_at() {
    let g = grant("REAL_RUN", "production");
    let (from, until) = (at(FROM), at(UNTIL));
    for now in [from, from + 1, until - 1] {
        let d = decide_with("REAL_RUN", &g, Some(T), now);
        assert!(d.allowed, "{now}: {d:?}");
    }
    assert_eq!(
        refused(decide_with("REAL_RUN", &g, Some(T), from - 1)),
        "the grant is dated in the future (2026-01-01T00:00:00Z)"
    );
    for now in [until, until + 1] {
        assert_eq!(
            refused(decide_with("REAL_RUN", &g, Some(T), now)),
            "the grant expired at 2026-01-06T00:00:00Z"
        );
    }
}

#[test]
fn an_allowed_action_names_who_granted_what_on_which_target_until_when() {
    let mut g = grant("REAL_RUN", "production");
    g.target_sha256 = T.to_ascii_uppercase();
    let d = decide_with("real_run", &g, Some(T), at("2026-01-03T12:00:00Z"));
    assert_eq!(
        d,
        Decision {
            action: "REAL_RUN".into(),
            allowed: true,
            reason: format!(
                "granted by owner (key SHA256:owner-key) at {FROM} for target {T}, valid until {UNTIL}"
            ),
        }
    );
    // A non-production grant needs no target, but a target given must match.
    let r = grant("rehearsal", "rehearsal");
    let now = at("2026-01-03T12:00:00Z");
    assert!(decide_with("rehearsal", &r, None, now).allowed);
    assert!(decide_with("rehearsal", &r, Some(T), now).allowed);
    assert!(!decide_with("rehearsal", &r, Some(&"b".repeat(64)), now).allowed);
}
