//! `rollproof guard grant` / `guard check`: a grant allows exactly one
//! production action on one target, for a bounded window, and only when an
//! owner key the trust file lists signed it as the grant's `granted_by`.
//! Unsigned, edited, stranger-signed, CI-signed, replayed and
//! "valid from 0000 to 9999" grants are refused (issue #13 §4).

use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PRODUCTION: [&str; 6] = [
    "REAL_RUN",
    "QT001",
    "permit",
    "activation",
    "repoint",
    "cutover",
];
const OWNER: &str = "owner@example.com";

/// The owner's key and the owners' trust file (`owners`) listing it for
/// grants; the CI key is listed for reports only.
fn owners(w: &Work) -> (Key, PathBuf) {
    let owner = w.keygen("keys/owner", OWNER);
    let ci = w.keygen("keys/ci", "ci@example.com");
    let trust = w.allowed_signers(
        "owners",
        &[
            (&owner, "namespaces=\"rollproof-grant\""),
            (&ci, "namespaces=\"rollproof-report\""),
        ],
    );
    (owner, trust)
}

/// `guard grant ACTION` for `digest`, signed with `key`, into `name`.
fn grant(w: &Work, name: &str, action: &str, digest: &str, key: &Key, extra: &[&str]) -> Output {
    let out = w.path(name);
    let mut args = vec![
        "guard",
        "grant",
        action,
        "--target-digest",
        digest,
        "--sign-key",
        key.private.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    if !extra.contains(&"--granted-by") {
        args.extend(["--granted-by", OWNER]);
    }
    if !extra.contains(&"--valid-for") {
        args.extend(["--valid-for", "2h"]);
    }
    w.run(&args)
}

fn made(w: &Work, name: &str, action: &str, digest: &str, key: &Key) -> PathBuf {
    assert_success(&grant(w, name, action, digest, key, &[]));
    w.path(name)
}

/// Write `text` as grant `name` and sign it with the stock `ssh-keygen -Y
/// sign` in `namespace`.
fn hand_signed(w: &Work, name: &str, text: &str, key: &Key, namespace: &str) -> PathBuf {
    let p = w.path(name);
    std::fs::write(&p, text).unwrap();
    let _ = std::fs::remove_file(sig_of(&p));
    let o = Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", namespace, "-f"])
        .arg(&key.private)
        .arg(&p)
        .output()
        .unwrap();
    assert!(o.status.success(), "ssh-keygen: {}", stderr(&o));
    p
}

fn text(action: &str, digest: &str, by: &str, from: &str, until: &str) -> String {
    let scope = if PRODUCTION.contains(&action) {
        "production"
    } else {
        action
    };
    format!(
        "action = \"{action}\"\nscope = \"{scope}\"\ntarget_sha256 = \"{digest}\"\ngranted_by = \"{by}\"\ngranted_at = \"{from}\"\nexpires_at = \"{until}\"\n"
    )
}

fn check(
    w: &Work,
    action: &str,
    grant: Option<&Path>,
    trust: &Path,
    digest: Option<&str>,
) -> Output {
    let mut args = vec!["guard".to_string(), "check".into(), action.into()];
    if let Some(g) = grant {
        args.extend(["--grant".into(), g.display().to_string()]);
    }
    args.extend(["--trust".into(), trust.display().to_string()]);
    if let Some(d) = digest {
        args.extend(["--target-digest".into(), d.into()]);
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    w.run(&refs)
}

fn refused(o: &Output, needle: &str) {
    assert_code(o, 3);
    let out = format!("{}{}", stdout(o), stderr(o));
    assert!(out.contains("REFUSED"), "{out}");
    assert!(out.contains(needle), "expected {needle:?} in: {out}");
}

/// An RFC 3339 time `secs` from now.
fn at(secs: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    rollproof::util::timefmt::iso_millis((now + secs) * 1000)
}

#[test]
fn production_actions_hold_without_their_own_signed_grant() {
    let w = Work::new();
    let (owner, trust) = owners(&w);
    let digest = "ab".repeat(32);
    for a in PRODUCTION {
        refused(&check(&w, a, None, &trust, Some(&digest)), "HOLD");
    }
    // Each action's grant allows that action only.
    for granted in PRODUCTION {
        let g = made(&w, &format!("{granted}.toml"), granted, &digest, &owner);
        for asked in PRODUCTION {
            let o = check(&w, asked, Some(&g), &trust, Some(&digest));
            if asked == granted {
                assert_success(&o);
                assert!(stdout(&o).contains("ALLOWED"), "{}", stdout(&o));
            } else {
                refused(&o, "each action needs its own grant");
            }
        }
    }
    let g = w.path("REAL_RUN.toml");
    // Bound to the target: a grant replayed for another target is refused.
    refused(
        &check(&w, "REAL_RUN", Some(&g), &trust, Some(&"cd".repeat(32))),
        "not cdcd",
    );
    refused(
        &check(&w, "REAL_RUN", Some(&g), &trust, None),
        "--target-digest",
    );
    // The stock tool verifies what `guard grant` signed.
    let o = Command::new("ssh-keygen")
        .args(["-Y", "verify", "-n", "rollproof-grant", "-I", OWNER, "-f"])
        .arg(&trust)
        .arg("-s")
        .arg(sig_of(&g))
        .stdin(std::fs::File::open(&g).unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "ssh-keygen: {}", stderr(&o));
    // JSON for automation.
    let o = w.run(&[
        "guard",
        "check",
        "REAL_RUN",
        "--grant",
        g.to_str().unwrap(),
        "--trust",
        trust.to_str().unwrap(),
        "--target-digest",
        &digest,
        "--json",
    ]);
    assert_success(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["allowed"], true);
    assert_eq!(v["production_scope"], true);
    assert_eq!(v["target_sha256"], digest.as_str());
    assert!(v["reason"].as_str().unwrap().contains("SHA256:"), "{v}");
}

#[test]
fn grants_nobody_trusted_signed_are_refused() {
    let w = Work::new();
    let (owner, trust) = owners(&w);
    let d = "12".repeat(32);
    let g = made(&w, "g.toml", "cutover", &d, &owner);
    assert_success(&check(&w, "cutover", Some(&g), &trust, Some(&d)));

    // Written by hand, as anyone can: unsigned.
    let forged = w.path("forged.toml");
    std::fs::copy(&g, &forged).unwrap();
    refused(
        &check(&w, "cutover", Some(&forged), &trust, Some(&d)),
        "unsigned",
    );
    // Edited after signing (another target): the signature no longer matches.
    let edited = w.path("edited.toml");
    let e = "34".repeat(32);
    std::fs::write(
        &edited,
        std::fs::read_to_string(&g).unwrap().replace(&d, &e),
    )
    .unwrap();
    std::fs::copy(sig_of(&g), sig_of(&edited)).unwrap();
    refused(
        &check(&w, "cutover", Some(&edited), &trust, Some(&e)),
        "does not match the bytes",
    );
    // Signed by a stranger, by the CI key (trusted for reports only), and by
    // the owner key in the report namespace.
    let body = text("cutover", &d, OWNER, &at(-60), &at(3600));
    let stranger = w.keygen("keys/stranger", OWNER);
    let s = hand_signed(&w, "s.toml", &body, &stranger, "rollproof-grant");
    refused(
        &check(&w, "cutover", Some(&s), &trust, Some(&d)),
        "does not list",
    );
    let ci = Key {
        private: w.path("keys/ci"),
        public: String::new(),
        principal: String::new(),
    };
    let c = hand_signed(&w, "c.toml", &body, &ci, "rollproof-grant");
    refused(
        &check(&w, "cutover", Some(&c), &trust, Some(&d)),
        "may sign only in namespace(s) rollproof-report",
    );
    let n = hand_signed(&w, "n.toml", &body, &owner, "rollproof-report");
    refused(
        &check(&w, "cutover", Some(&n), &trust, Some(&d)),
        "namespace rollproof-report, not rollproof-grant",
    );
    // Signed by the owner, but in someone else's name.
    let body = text("cutover", &d, "ceo@example.com", &at(-60), &at(3600));
    let other = hand_signed(&w, "other.toml", &body, &owner, "rollproof-grant");
    refused(
        &check(&w, "cutover", Some(&other), &trust, Some(&d)),
        "is not who signed the grant",
    );
    // The same, hand-signed by the owner with the stock tool, is allowed.
    let body = text("cutover", &d, OWNER, &at(-60), &at(3600));
    let good = hand_signed(&w, "good.toml", &body, &owner, "rollproof-grant");
    assert_success(&check(&w, "cutover", Some(&good), &trust, Some(&d)));

    // A grant without a trust file to check it against is bad input.
    let o = w.run(&[
        "guard",
        "check",
        "cutover",
        "--grant",
        good.to_str().unwrap(),
        "--target-digest",
        &d,
    ]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("--trust"), "{}", stderr(&o));
}

#[test]
fn grant_windows_are_bounded_and_granters_exact() {
    let w = Work::new();
    let (owner, trust) = owners(&w);
    let d = "56".repeat(32);
    // Expired, and not yet valid (both signed: only the time refuses them).
    let old = hand_signed(
        &w,
        "old.toml",
        &text("cutover", &d, OWNER, &at(-7200), &at(-3600)),
        &owner,
        "rollproof-grant",
    );
    refused(
        &check(&w, "cutover", Some(&old), &trust, Some(&d)),
        "expired",
    );
    let future = hand_signed(
        &w,
        "future.toml",
        &text("permit", &d, OWNER, &at(3600), &at(7200)),
        &owner,
        "rollproof-grant",
    );
    refused(
        &check(&w, "permit", Some(&future), &trust, Some(&d)),
        "future",
    );
    // Valid from year 0000 to 9999: no grant at all (bad input).
    for (name, from, until) in [
        (
            "forever.toml",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
        ),
        ("week.toml", &*at(-60), &*at(7 * 86400)),
    ] {
        let g = hand_signed(
            &w,
            name,
            &text("permit", &d, OWNER, from, until),
            &owner,
            "rollproof-grant",
        );
        let o = check(&w, "permit", Some(&g), &trust, Some(&d));
        assert_code(&o, 2);
        assert!(
            stderr(&o).contains("longer than the 7 day(s)"),
            "{}",
            stderr(&o)
        );
    }
    // A zero-width space in granted_by, even signed, is bad input.
    let zw = hand_signed(
        &w,
        "zw.toml",
        &text(
            "permit",
            &d,
            "owner@example.com\u{200b}",
            &at(-60),
            &at(3600),
        ),
        &owner,
        "rollproof-grant",
    );
    let o = check(&w, "permit", Some(&zw), &trust, Some(&d));
    assert_code(&o, 2);
    assert!(stderr(&o).contains("zero-width"), "{}", stderr(&o));

    // `guard grant` refuses the same things before signing anything.
    for (extra, needle) in [
        (vec!["--valid-for", "8d"], "longer than"),
        (vec!["--valid-for", "forever"], "not a lifetime"),
        (
            vec!["--granted-by", "owner@example.com\u{200b}"],
            "zero-width",
        ),
    ] {
        let o = grant(&w, "refused.toml", "permit", &d, &owner, &extra);
        assert_code(&o, 2);
        assert!(stderr(&o).contains(needle), "{}", stderr(&o));
        assert!(!w.path("refused.toml").exists());
    }
    let o = grant(&w, "x.toml", "deploy", &d, &owner, &[]);
    assert_code(&o, 2);
    assert!(
        stderr(&o).contains("unknown action 'deploy'"),
        "{}",
        stderr(&o)
    );
    // Never overwrites a grant.
    made(&w, "once.toml", "permit", &d, &owner);
    let o = grant(&w, "once.toml", "permit", &d, &owner, &[]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("exists"), "{}", stderr(&o));
    // Rehearsal grants never reach production.
    for scope in ["rehearsal", "surrogate", "clone"] {
        let own = made(&w, &format!("{scope}.toml"), scope, &d, &owner);
        assert_success(&check(&w, scope, Some(&own), &trust, None));
        for a in PRODUCTION {
            refused(&check(&w, a, Some(&own), &trust, Some(&d)), "not");
        }
        let dressed = hand_signed(
            &w,
            "dressed.toml",
            &text(scope, &d, OWNER, &at(-60), &at(3600))
                .replace(&format!("action = \"{scope}\""), "action = \"REAL_RUN\""),
            &owner,
            "rollproof-grant",
        );
        refused(
            &check(&w, "REAL_RUN", Some(&dressed), &trust, Some(&d)),
            "never extends to production",
        );
    }
}

#[test]
fn malformed_grants_and_unknown_actions_are_bad_input() {
    let w = Work::new();
    let (_, trust) = owners(&w);
    let d = "01".repeat(32);
    let good = text(
        "repoint",
        &d,
        OWNER,
        "2099-01-01T00:00:00Z",
        "2099-01-02T00:00:00Z",
    );
    let cases = [
        ("syntax.toml", "action = \n".to_string(), "syntax.toml"),
        (
            "missing.toml",
            good.replace(&format!("granted_by = \"{OWNER}\"\n"), ""),
            "granted_by",
        ),
        (
            "time.toml",
            good.replace("2099-01-02T00:00:00Z", "next year"),
            "expires_at",
        ),
        (
            "offset.toml",
            good.replace("2099-01-02T00:00:00Z", "2099-01-02T00:00:00+01:00"),
            "expires_at",
        ),
        ("digest.toml", good.replace(&d, "abc"), "target_sha256"),
        ("extra.toml", format!("{good}surprise = 1\n"), "surprise"),
        (
            "scope.toml",
            good.replace("\"production\"", "\"everything\""),
            "scope",
        ),
        (
            "backwards.toml",
            good.replace("2099-01-02T00:00:00Z", "2098-01-01T00:00:00Z"),
            "not after granted_at",
        ),
    ];
    for (name, text, needle) in cases {
        let p = w.path(name);
        std::fs::write(&p, text).unwrap();
        let o = check(&w, "repoint", Some(&p), &trust, Some(&d));
        assert_code(&o, 2);
        let err = stderr(&o);
        assert!(err.contains(name) && err.contains(needle), "{name}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    let o = check(&w, "deploy", None, &trust, None);
    assert_code(&o, 2);
    assert!(
        stderr(&o).contains("unknown action 'deploy'"),
        "{}",
        stderr(&o)
    );
    let o = check(&w, "repoint", Some(&w.path("nope.toml")), &trust, Some(&d));
    assert_code(&o, 2);
    assert!(stderr(&o).contains("nope.toml"));
}
