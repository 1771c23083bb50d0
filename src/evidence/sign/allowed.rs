//! The `allowed_signers` file of OpenSSH (`ssh-keygen(1)`, "ALLOWED
//! SIGNERS"), as git's `gpg.ssh.allowedSignersFile` uses it: one signer per
//! line,
//!
//! ```text
//! principals [options] keytype base64 [comment]
//! ```
//!
//! with `#` comments and blank lines ignored. rollproof reads it fail
//! closed: anything it does not understand is an error naming the line,
//! never a line silently skipped, because a skipped line could be the one
//! that restricts a key.
//! - principals: comma-separated, exact names (no `*`/`?` patterns:
//!   identities are matched exactly, never by pattern), printable ASCII;
//! - options: `namespaces="a,b"`, `valid-after="…"`, `valid-before="…"`;
//!   `cert-authority` and any other option are refused;
//! - times: `YYYYMMDD[HHMM[SS]]Z`, UTC only (without the `Z` OpenSSH reads
//!   the machine's local time zone, so the same file would mean different
//!   things on different machines);
//! - keys: `ssh-ed25519` only (the only type rollproof signs with).

use ssh_key::PublicKey;

/// The key type rollproof signs and verifies with.
pub const KEY_TYPE: &str = "ssh-ed25519";

/// Key type names OpenSSH knows: a second field that is one of these is the
/// key, not options.
const KNOWN_KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ssh-dss",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// One signer line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line number in the file.
    pub line: usize,
    /// The principals (identities) this key signs as.
    pub principals: Vec<String>,
    /// `namespaces="…"`: the only namespaces this key may sign in (None: any).
    pub namespaces: Option<Vec<String>>,
    /// `valid-after`, epoch milliseconds.
    pub valid_after: Option<i64>,
    /// `valid-before`, epoch milliseconds.
    pub valid_before: Option<i64>,
    /// The public key.
    pub key: PublicKey,
}

impl Entry {
    /// Why this entry does not allow a signature in `namespace` at `now_ms`
    /// (None: it does). Same rules as `ssh-keygen -Y verify`: valid-after is
    /// inclusive, and so is valid-before.
    pub fn refuses(&self, namespace: &str, now_ms: i64) -> Option<String> {
        if let Some(ns) = &self.namespaces
            && !ns.iter().any(|n| n == namespace)
        {
            return Some(format!(
                "line {}: the key may sign only in namespace(s) {}, not {namespace}",
                self.line,
                ns.join(", ")
            ));
        }
        if let Some(a) = self.valid_after
            && now_ms < a
        {
            return Some(format!(
                "line {}: the key is not valid before {}",
                self.line,
                crate::util::timefmt::iso_millis(a)
            ));
        }
        if let Some(b) = self.valid_before
            && now_ms > b
        {
            return Some(format!(
                "line {}: the key expired at {}",
                self.line,
                crate::util::timefmt::iso_millis(b)
            ));
        }
        None
    }
}

/// Is `p` a principal rollproof accepts: non-empty printable ASCII without
/// spaces, quotes, commas or pattern characters? (Zero-width and control
/// characters are refused by this, so two principals that look alike are
/// never two different principals.)
pub fn valid_principal(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 256
        && p.bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b',' | b'*' | b'?' | b'!'))
}

/// Split off the next whitespace-delimited field; a field may be
/// double-quoted (`"a b"`, quotes removed) and an unquoted field may
/// contain quoted parts (`namespaces="a,b"`, kept as written).
fn next_field(s: &str) -> Result<(&str, &str), String> {
    let s = s.trim_start_matches([' ', '\t']);
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ' ' | '\t' if !quoted => return Ok((&s[..i], &s[i..])),
            _ => {}
        }
    }
    if quoted {
        return Err("unterminated quote".into());
    }
    Ok((s, ""))
}

/// `YYYYMMDD[HHMM[SS]]Z` to epoch milliseconds.
fn parse_time(v: &str) -> Result<i64, String> {
    let bad = || format!("'{v}' is not YYYYMMDD[HHMM[SS]]Z (UTC, with the Z)");
    let digits = v.strip_suffix(['Z', 'z']).ok_or_else(bad)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let (date, hh, mm, ss) = match digits.len() {
        8 => (digits, "00", "00", "00"),
        12 => (&digits[..8], &digits[8..10], &digits[10..12], "00"),
        14 => (
            &digits[..8],
            &digits[8..10],
            &digits[10..12],
            &digits[12..14],
        ),
        _ => return Err(bad()),
    };
    let iso = format!(
        "{}-{}-{}T{hh}:{mm}:{ss}Z",
        &date[..4],
        &date[4..6],
        &date[6..8]
    );
    crate::guard::grant::parse_rfc3339_millis(&iso).map_err(|_| bad())
}

/// Split an options field at commas outside quotes.
fn split_options(s: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if quoted {
        return Err("unterminated quote in the options".into());
    }
    out.push(&s[start..]);
    Ok(out)
}

/// The options of one line.
#[derive(Default)]
struct Options {
    namespaces: Option<Vec<String>>,
    valid_after: Option<i64>,
    valid_before: Option<i64>,
}

/// Apply one `name[="value"]` option to `e`.
fn apply_option(e: &mut Options, opt: &str) -> Result<(), String> {
    let (name, value) = match opt.split_once('=') {
        Some((n, v)) => {
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .ok_or_else(|| format!("option {n}: the value must be double-quoted"))?;
            (n, Some(v))
        }
        None => (opt, None),
    };
    let need = || value.ok_or_else(|| format!("option {name} needs a value"));
    let once = |set: bool| {
        if set {
            Err(format!("option {name} is given twice"))
        } else {
            Ok(())
        }
    };
    match name.to_ascii_lowercase().as_str() {
        "namespaces" => {
            once(e.namespaces.is_some())?;
            let list: Vec<String> = need()?.split(',').map(str::to_string).collect();
            if list.iter().any(|n| n.is_empty() || !valid_principal(n)) {
                return Err("namespaces: every namespace must be a plain name".into());
            }
            e.namespaces = Some(list);
        }
        "valid-after" => {
            once(e.valid_after.is_some())?;
            e.valid_after = Some(parse_time(need()?).map_err(|m| format!("{name}: {m}"))?);
        }
        "valid-before" => {
            once(e.valid_before.is_some())?;
            e.valid_before = Some(parse_time(need()?).map_err(|m| format!("{name}: {m}"))?);
        }
        "cert-authority" => {
            return Err("cert-authority is not supported: list the signing keys themselves".into());
        }
        other => return Err(format!("unknown option '{other}'")),
    }
    Ok(())
}

/// Parse one non-comment line.
fn parse_line(line: usize, text: &str) -> Result<Entry, String> {
    let (principals, rest) = next_field(text)?;
    let principals = principals
        .strip_prefix('"')
        .and_then(|p| p.strip_suffix('"'))
        .unwrap_or(principals);
    let principals: Vec<String> = principals.split(',').map(str::to_string).collect();
    if let Some(p) = principals.iter().find(|p| !valid_principal(p)) {
        return Err(format!(
            "principal '{}' is not a plain printable name (no spaces, quotes, control or zero-width characters, and no */?/! patterns)",
            p.escape_default()
        ));
    }
    let (second, mut rest) = next_field(rest)?;
    let mut o = Options::default();
    if second.is_empty() {
        return Err("no key: expected `principals [options] ssh-ed25519 BASE64`".into());
    }
    let key_type = if KNOWN_KEY_TYPES.contains(&second) {
        second
    } else {
        for opt in split_options(second)? {
            apply_option(&mut o, opt)?;
        }
        let (t, r) = next_field(rest)?;
        rest = r;
        t
    };
    if key_type.is_empty() {
        return Err("no key: expected `principals [options] ssh-ed25519 BASE64`".into());
    }
    if key_type != KEY_TYPE {
        return Err(format!(
            "key type '{key_type}' is not supported: rollproof verifies {KEY_TYPE} signatures only"
        ));
    }
    let (blob, _comment) = next_field(rest)?;
    let key = PublicKey::from_openssh(&format!("{key_type} {blob}"))
        .map_err(|err| format!("the {key_type} key does not decode: {err}"))?;
    if let (Some(a), Some(b)) = (o.valid_after, o.valid_before)
        && b < a
    {
        return Err("valid-before is earlier than valid-after".into());
    }
    Ok(Entry {
        line,
        principals,
        namespaces: o.namespaces,
        valid_after: o.valid_after,
        valid_before: o.valid_before,
        key,
    })
}

/// Parse a whole file; the error names the first bad line.
pub fn parse(text: &str) -> Result<Vec<Entry>, (usize, String)> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push(parse_line(i + 1, line).map_err(|m| (i + 1, m))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAd27pZPxbJ+kbnuZfaUHu0X54k2g2CieUUF7dxpaUk/";

    fn one(line: &str) -> Result<Entry, String> {
        parse(line).map(|mut v| v.remove(0)).map_err(|(_, m)| m)
    }

    #[test]
    fn plain_and_optioned_lines() {
        let e = one(&format!("ci@example.org {KEY} ci key")).unwrap();
        assert_eq!(e.principals, vec!["ci@example.org"]);
        assert_eq!(e.namespaces, None);
        let e = one(&format!(
            "a@x,b@x namespaces=\"rollproof-report,git\",valid-after=\"20260101Z\",valid-before=\"202601311200Z\" {KEY}"
        ))
        .unwrap();
        assert_eq!(e.principals, vec!["a@x", "b@x"]);
        assert_eq!(
            e.namespaces,
            Some(vec!["rollproof-report".to_string(), "git".to_string()])
        );
        let after = crate::guard::grant::parse_rfc3339_millis("2026-01-01T00:00:00Z").unwrap();
        let before = crate::guard::grant::parse_rfc3339_millis("2026-01-31T12:00:00Z").unwrap();
        assert_eq!((e.valid_after, e.valid_before), (Some(after), Some(before)));
        assert!(e.refuses("rollproof-report", after).is_none());
        assert!(e.refuses("rollproof-report", before).is_none());
        assert!(
            e.refuses("rollproof-report", before + 1)
                .unwrap()
                .contains("expired")
        );
        assert!(
            e.refuses("rollproof-report", after - 1)
                .unwrap()
                .contains("not valid before")
        );
        assert!(
            e.refuses("rollproof-grant", after)
                .unwrap()
                .contains("namespace")
        );
    }

    #[test]
    fn anything_not_understood_is_refused() {
        for (line, why) in [
            (format!("*@example.org {KEY}"), "pattern"),
            (format!("a\u{200b}b {KEY}"), "printable"),
            (format!("a cert-authority {KEY}"), "cert-authority"),
            (format!("a no-touch-required {KEY}"), "unknown option"),
            (format!("a valid-after=\"20260101\" {KEY}"), "UTC"),
            (
                format!("a namespaces=rollproof-report {KEY}"),
                "double-quoted",
            ),
            ("a ssh-rsa AAAAB3NzaC1yc2E=".to_string(), "not supported"),
            ("a ssh-ed25519 AAAA".to_string(), "does not decode"),
            ("a".to_string(), "no key"),
            (
                format!("a valid-after=\"20260201Z\",valid-before=\"20260101Z\" {KEY}"),
                "earlier",
            ),
        ] {
            let e = one(&line).unwrap_err();
            assert!(e.contains(why), "{line}: {e}");
        }
        let (n, _) = parse(&format!("# c\n\nok {KEY}\nbad\n")).unwrap_err();
        assert_eq!(n, 4);
    }
}
