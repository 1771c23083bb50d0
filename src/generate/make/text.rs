//! Text values by semantic, and fitting them to lengths.

use super::{
    PASSWORD_PLACEHOLDER, PasswordForm, Shape, TEST_PASSWORD_ARGON2, TEST_PASSWORD_BCRYPT,
};
use crate::generate::types::Class;
use crate::generate::values::Semantic as S;
use fake::locales::{Data, EN};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use std::fmt::Write;

fn pick<'a>(rng: &mut ChaCha8Rng, list: &'a [&'a str]) -> &'a str {
    list[rng.random_range(0..list.len())]
}

fn first(rng: &mut ChaCha8Rng) -> &'static str {
    pick(rng, EN::NAME_FIRST_NAME)
}

fn last(rng: &mut ChaCha8Rng) -> &'static str {
    pick(rng, EN::NAME_LAST_NAME)
}

fn word(rng: &mut ChaCha8Rng) -> &'static str {
    pick(rng, EN::LOREM_WORD)
}

/// Append lowercase ASCII letters of `s` (names may hold `'` or spaces).
fn push_lower(out: &mut String, s: &str) {
    out.extend(
        s.chars()
            .filter(char::is_ascii_alphabetic)
            .map(|c| c.to_ascii_lowercase()),
    );
}

fn capitalised(out: &mut String, w: &str) {
    let mut c = w.chars();
    if let Some(f) = c.next() {
        out.extend(f.to_uppercase());
        out.push_str(c.as_str());
    }
}

const RESERVED: &[&str] = &["example.com", "example.org", "example.net"];
const STATUSES: &[&str] = &["active", "pending", "inactive", "archived"];
const PRIORITIES: &[&str] = &["low", "normal", "high", "urgent"];
const ROLES: &[&str] = &["admin", "editor", "viewer", "member"];
const TIERS: &[&str] = &["bronze", "silver", "gold", "platinum"];
const KINDS: &[&str] = &["standard", "premium", "basic", "custom"];
const LOCALES: &[&str] = &[
    "en", "en-US", "en-GB", "fr", "de", "es", "it", "nl", "pt-BR", "ja",
];
const MIMES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "application/pdf",
    "text/plain",
    "text/csv",
    "application/json",
    "image/webp",
    "application/zip",
];

/// Write the value of `s` (before fitting) at the end of `out`.
pub(super) fn write(s: &Shape, rng: &mut ChaCha8Rng, uniq: Option<u64>, out: &mut String) {
    let n = |out: &mut String| {
        if let Some(i) = uniq {
            let _ = write!(out, "{i}");
        }
    };
    match s.sem {
        S::Password => match s.password {
            PasswordForm::Bcrypt => out.push_str(TEST_PASSWORD_BCRYPT),
            PasswordForm::Argon2 => out.push_str(TEST_PASSWORD_ARGON2),
            PasswordForm::Placeholder => {
                out.push_str(PASSWORD_PLACEHOLDER);
                if let Some(i) = uniq {
                    let _ = write!(out, "-{i}");
                }
            }
        },
        S::Secret if s.class == Class::Uuid => uuid(rng, uniq, out),
        S::Secret => {
            out.push_str("rollproof-placeholder-");
            out.extend(
                s.column
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .map(|c| c.to_ascii_lowercase()),
            );
            match uniq {
                Some(i) => {
                    let _ = write!(out, "-{i}");
                }
                None => out.push_str("-not-a-secret"),
            }
        }
        S::Email => {
            push_lower(out, first(rng));
            out.push('.');
            push_lower(out, last(rng));
            match uniq {
                Some(i) => {
                    let _ = write!(out, "{i}");
                }
                None if rng.random_bool(0.3) => {
                    let _ = write!(out, "{}", rng.random_range(1..100u32));
                }
                None => {}
            }
            out.push('@');
            out.push_str(pick(rng, RESERVED));
        }
        S::FirstName => {
            out.push_str(first(rng));
            space_n(out, uniq);
        }
        S::LastName => {
            out.push_str(last(rng));
            space_n(out, uniq);
        }
        S::FullName => {
            out.push_str(first(rng));
            out.push(' ');
            out.push_str(last(rng));
            space_n(out, uniq);
        }
        S::Username => {
            push_lower(out, first(rng));
            out.push('_');
            push_lower(out, last(rng));
            match uniq {
                Some(i) => {
                    let _ = write!(out, "{i}");
                }
                None => {
                    let _ = write!(out, "{}", rng.random_range(1..1000u32));
                }
            }
        }
        S::Company => {
            out.push_str(last(rng));
            if rng.random_bool(0.4) {
                out.push_str(" and ");
                out.push_str(last(rng));
            }
            out.push(' ');
            out.push_str(pick(rng, EN::COMPANY_SUFFIX));
            space_n(out, uniq);
        }
        S::JobTitle => {
            capitalised(out, pick(rng, EN::COMPANY_PROFESSION));
            space_n(out, uniq);
        }
        S::Phone => match uniq {
            Some(i) => {
                let _ = write!(out, "+1-555-{i:07}");
            }
            None => {
                let _ = write!(
                    out,
                    "+1-{}-555-01{:02}",
                    rng.random_range(201..990u32),
                    rng.random_range(0..100u32)
                );
            }
        },
        S::Street => {
            let _ = write!(out, "{} ", rng.random_range(1..9999u32));
            out.push_str(last(rng));
            out.push(' ');
            out.push_str(pick(rng, EN::ADDRESS_STREET_SUFFIX));
            space_n(out, uniq);
        }
        S::City => {
            out.push_str(last(rng));
            out.push_str(pick(rng, EN::ADDRESS_CITY_SUFFIX));
            space_n(out, uniq);
        }
        S::State => {
            let short = s.max_len.is_some_and(|m| m <= 3);
            out.push_str(pick(
                rng,
                if short {
                    EN::ADDRESS_STATE_ABBR
                } else {
                    EN::ADDRESS_STATE
                },
            ));
            space_n(out, uniq);
        }
        S::PostalCode => match uniq {
            Some(i) => {
                let _ = write!(out, "{i:05}");
            }
            None => {
                let _ = write!(out, "{:05}", rng.random_range(1000..99_999u32));
            }
        },
        S::Country => {
            out.push_str(pick(rng, EN::ADDRESS_COUNTRY));
            space_n(out, uniq);
        }
        S::CountryCode => match uniq {
            Some(i) => alpha_code(out, i, 2),
            None => out.push_str(pick(rng, EN::ADDRESS_COUNTRY_CODE)),
        },
        S::Url => {
            out.push_str("https://www.");
            out.push_str(pick(rng, RESERVED));
            out.push('/');
            out.push_str(word(rng));
            out.push('/');
            out.push_str(word(rng));
            if let Some(i) = uniq {
                let _ = write!(out, "/{i}");
            }
        }
        S::Domain => {
            out.push_str(word(rng));
            n(out);
            out.push('.');
            out.push_str(pick(rng, RESERVED));
        }
        S::Ip => ip(rng, uniq, out),
        S::Mac => {
            let v = uniq.unwrap_or_else(|| rng.random_range(0..1u64 << 24));
            let _ = write!(
                out,
                "02:00:5e:{:02x}:{:02x}:{:02x}",
                (v >> 16) & 0xff,
                (v >> 8) & 0xff,
                v & 0xff
            );
        }
        S::UserAgent => out.push_str(pick(rng, EN::INTERNET_USER_AGENT)),
        S::Uuid => uuid(rng, uniq, out),
        S::Slug => {
            out.push_str(word(rng));
            out.push('-');
            out.push_str(word(rng));
            if let Some(i) = uniq {
                let _ = write!(out, "-{i}");
            }
        }
        S::Code => {
            for _ in 0..3 {
                out.push(char::from(b'A' + rng.random_range(0..26u8)));
            }
            let digits = digits(s.rows.max(100_000));
            let v = uniq.unwrap_or_else(|| rng.random_range(0..10u64.pow(digits as u32)));
            let _ = write!(out, "-{v:0digits$}");
        }
        S::Color => {
            let v = uniq.unwrap_or_else(|| rng.random_range(0..1u64 << 24));
            let _ = write!(out, "#{v:06x}");
        }
        S::Currency => out.push_str(pick(rng, EN::CURRENCY_CODE)),
        S::Locale => out.push_str(pick(rng, LOCALES)),
        S::MimeType => out.push_str(pick(rng, MIMES)),
        S::FileName => {
            out.push_str(word(rng));
            out.push('_');
            match uniq {
                Some(i) => {
                    let _ = write!(out, "{i}");
                }
                None => out.push_str(word(rng)),
            }
            out.push('.');
            out.push_str(pick(rng, EN::PATH_EXTENSIONS));
        }
        S::Status => {
            let words = crate::generate::values::words(&s.column);
            let list = if words.iter().any(|w| w == "priority") {
                PRIORITIES
            } else if words.iter().any(|w| w == "role") {
                ROLES
            } else if words.iter().any(|w| w == "tier" || w == "level") {
                TIERS
            } else if words
                .iter()
                .any(|w| w == "status" || w == "state" || w == "stage")
            {
                STATUSES
            } else {
                KINDS
            };
            out.push_str(pick(rng, list));
            if let Some(i) = uniq {
                let _ = write!(out, "-{i}");
            }
        }
        S::Title => {
            let k = rng.random_range(2..5);
            for j in 0..k {
                if j > 0 {
                    out.push(' ');
                }
                capitalised(out, word(rng));
            }
            space_n(out, uniq);
        }
        S::Json => json(s, rng, uniq, out),
        S::Moment => moment(s, rng, uniq, out),
        _ => match s.class {
            Class::Uuid => uuid(rng, uniq, out),
            Class::Inet => ip(rng, uniq, out),
            Class::Interval => {
                let _ = write!(
                    out,
                    "{} days",
                    uniq.unwrap_or_else(|| rng.random_range(0..365))
                );
            }
            Class::TextArray => {
                out.push('{');
                out.push_str(word(rng));
                out.push(',');
                out.push_str(word(rng));
                if let Some(i) = uniq {
                    let _ = write!(out, ",{i}");
                }
                out.push('}');
            }
            _ => {
                // Prose and plain text: sentences of lorem words.
                let target = s.len.map_or(24, |(lo, hi)| (lo + hi) / 2).max(1) as usize;
                let start = out.len();
                capitalised(out, word(rng));
                while out.len() - start < target {
                    out.push(' ');
                    out.push_str(word(rng));
                }
                if s.sem == S::Prose {
                    out.push('.');
                }
                space_n(out, uniq);
            }
        },
    }
}

fn space_n(out: &mut String, uniq: Option<u64>) {
    if let Some(i) = uniq {
        let _ = write!(out, " {i}");
    }
}

fn digits(n: u64) -> usize {
    n.max(1).ilog10() as usize + 1
}

/// `i` as `len` upper-case letters (then more if needed): AA, AB, …
fn alpha_code(out: &mut String, i: u64, len: usize) {
    let mut buf = Vec::new();
    let mut v = i;
    while buf.len() < len || v > 0 {
        buf.push(b'A' + (v % 26) as u8);
        v /= 26;
    }
    out.extend(buf.iter().rev().map(|&b| b as char));
}

fn uuid(rng: &mut ChaCha8Rng, uniq: Option<u64>, out: &mut String) {
    let mut b: [u8; 16] = rng.random();
    if let Some(i) = uniq {
        // The last six bytes carry the row index: distinct by construction.
        b[10..16].copy_from_slice(&i.to_be_bytes()[2..]);
    }
    out.push_str(&crate::generate::uuid_v4(b));
}

fn ip(rng: &mut ChaCha8Rng, uniq: Option<u64>, out: &mut String) {
    match uniq {
        // 10.0.0.0/8 holds 16 M distinct addresses.
        Some(i) => {
            let _ = write!(
                out,
                "10.{}.{}.{}",
                (i >> 16) & 0xff,
                (i >> 8) & 0xff,
                i & 0xff
            );
        }
        None => {
            let net = pick(rng, &["192.0.2", "198.51.100", "203.0.113"]);
            let _ = write!(out, "{net}.{}", rng.random_range(1..255u32));
        }
    }
}

fn json(s: &Shape, rng: &mut ChaCha8Rng, uniq: Option<u64>, out: &mut String) {
    let target = s
        .len
        .map_or(48, |(lo, hi)| rng.random_range(lo..=hi.max(lo))) as usize;
    let start = out.len();
    out.push('{');
    if let Some(i) = uniq {
        let _ = write!(out, "\"id\":{i},");
    }
    let _ = write!(out, "\"{}\":{}", word(rng), rng.random_range(0..1000u32));
    // Close with `}` within the target: each pair is `,"word":"word"`.
    while out.len() - start + 2 < target {
        out.push_str(",\"");
        out.push_str(word(rng));
        out.push_str("\":\"");
        out.push_str(word(rng));
        out.push('"');
    }
    out.push('}');
}

fn moment(s: &Shape, rng: &mut ChaCha8Rng, uniq: Option<u64>, out: &mut String) {
    let (lo, hi) = super::range(s);
    let (lo, hi) = (lo as i64, (hi as i64).max(lo as i64));
    let day = matches!(s.class, Class::Date);
    let t = match uniq {
        Some(i) => {
            let unit: i64 = if day { 86_400 } else { 1 };
            let step = ((hi - lo) / s.rows.max(1) as i64 / unit).max(1) * unit;
            lo + i as i64 * step
        }
        None => rng.random_range(lo..=hi),
    };
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (y, m, d) = crate::util::timefmt::civil_from_days(days);
    let (hh, mm, ss) = (secs / 3600, secs / 60 % 60, secs % 60);
    match s.class {
        Class::Date => {
            let _ = write!(out, "{y:04}-{m:02}-{d:02}");
        }
        Class::Time => {
            let _ = write!(out, "{hh:02}:{mm:02}:{ss:02}");
        }
        Class::Timestamp { tz: true } => {
            let _ = write!(out, "{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}+00");
        }
        _ => {
            let _ = write!(out, "{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}");
        }
    }
}

/// Semantics whose text may be padded or cut to a profiled length.
fn free_text(sem: S) -> bool {
    matches!(
        sem,
        S::Prose
            | S::Title
            | S::Plain
            | S::Slug
            | S::Json
            | S::Status
            | S::Company
            | S::Street
            | S::FullName
    )
}

/// Fit the value written since `start` to the shape's lengths.
pub(super) fn finish(
    s: &Shape,
    rng: &mut ChaCha8Rng,
    uniq: Option<u64>,
    out: &mut String,
    start: usize,
) {
    if s.sem == S::Json || s.class == Class::Uuid || s.class.is_temporal() {
        return;
    }
    if let Some((lo, hi)) = s.len
        && free_text(s.sem)
    {
        let target = rng.random_range(lo..=hi.max(lo)) as usize;
        fit_words(rng, out, start, target, uniq.is_none());
    } else if let (Some((lo, _)), S::Email) = (s.len, s.sem) {
        pad_email(rng, out, start, lo as usize);
    }
    let min = s.min_len as usize;
    if char_len(&out[start..]) < min {
        while char_len(&out[start..]) < min {
            out.push_str(if out.len() > start { " " } else { "" });
            out.push_str(word(rng));
        }
    }
    if s.lower {
        let lowered = out[start..].to_lowercase();
        out.truncate(start);
        out.push_str(&lowered);
    } else if s.upper {
        let raised = out[start..].to_uppercase();
        out.truncate(start);
        out.push_str(&raised);
    }
    if let Some(max) = s.max_len {
        let max = max as usize;
        if char_len(&out[start..]) > max {
            match uniq {
                // Cutting would cut the row index off: the index alone
                // (decimal, else base 36) is unique by itself, zero-padded
                // to the CHECK's minimum length (`length(code) = 5`).
                Some(i) => {
                    out.truncate(start);
                    compact(out, i, max, min);
                }
                None => fit_text(out, start, max),
            }
        }
    }
}

/// The shortest unique form of `i` that fits `max` characters, padded
/// with leading zeros to `min` (still one-to-one: every form has the same
/// digits after the zeros, and a fixed-width form has no shorter twin).
fn compact(out: &mut String, i: u64, max: usize, min: usize) {
    let dec = i.to_string();
    if dec.len() <= max {
        zeros(out, min.saturating_sub(dec.len()));
        out.push_str(&dec);
        return;
    }
    let mut v = i;
    let mut b36 = Vec::new();
    loop {
        b36.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[(v % 36) as usize]);
        v /= 36;
        if v == 0 {
            break;
        }
    }
    zeros(out, min.saturating_sub(b36.len()));
    out.extend(b36.iter().rev().map(|&b| b as char));
}

fn zeros(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push('0');
    }
}

fn char_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

/// Pad (with words) or, when `may_cut`, cut the text since `start` to
/// `target` bytes.
pub fn fit_words(
    rng: &mut ChaCha8Rng,
    out: &mut String,
    start: usize,
    target: usize,
    may_cut: bool,
) {
    while out.len() - start < target {
        if out.len() > start {
            out.push(' ');
        }
        out.push_str(word(rng));
    }
    if may_cut {
        fit_text(out, start, target);
        while out.len() > start && out.ends_with(' ') && out.len() - start > 1 {
            out.pop();
            out.push('s');
        }
    }
}

/// Cut the text since `start` to at most `max` characters.
pub fn fit_text(out: &mut String, start: usize, max: usize) {
    let cut = out[start..].char_indices().nth(max).map(|(p, _)| start + p);
    if let Some(c) = cut {
        out.truncate(c);
    }
}

/// Lengthen an email's local part to reach `min` bytes.
fn pad_email(rng: &mut ChaCha8Rng, out: &mut String, start: usize, min: usize) {
    let len = out.len() - start;
    if len >= min {
        return;
    }
    let Some(at) = out[start..].find('@').map(|p| start + p) else {
        return;
    };
    let domain = out[at..].to_string();
    out.truncate(at);
    while out.len() - start + domain.len() < min {
        out.push('.');
        push_lower(out, word(rng));
    }
    out.push_str(&domain);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unique_code_cut_to_fit_keeps_the_minimum_length() {
        // CHECK (length(code) = 5) on a unique CHAR(5): every row index
        // gives five characters, and distinct indexes distinct codes.
        let mut seen = std::collections::BTreeSet::new();
        for i in [0, 1, 42, 99_999] {
            let mut out = String::new();
            compact(&mut out, i, 5, 5);
            assert_eq!(out.len(), 5, "{out}");
            assert!(seen.insert(out));
        }
        let mut out = String::from("x");
        compact(&mut out, 7, 8, 0);
        assert_eq!(out, "x7");
    }
}
