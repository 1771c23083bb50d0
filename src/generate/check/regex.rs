//! PostgreSQL's regular-expression CHECKs (`col ~ 'pattern'`, `~*`): judged
//! on every generated row, and followed from the first draw when the
//! pattern is anchored at both ends (`^…$`, the usual shape of a code or
//! identifier rule): the value is then drawn from the pattern itself.
//!
//! Patterns are read with the `regex` crate's syntax, which agrees with
//! PostgreSQL's for classes, quantifiers, alternation and anchors; a pattern
//! it cannot read (back-references, PostgreSQL-only escapes) stays
//! unmodelled and the database judges it, as before.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use regex_syntax::hir::{Class, Hir, HirKind, Look};
use std::collections::HashMap;

/// `pattern` compiled (once per thread), or `None` when it cannot be read.
/// Called for every generated row a pattern CHECK judges: a hit looks the
/// pattern up by reference, without building a key.
pub fn compiled(pattern: &str, icase: bool) -> Option<regex::Regex> {
    thread_local! {
        // One map per case mode, keyed by the pattern.
        static CACHE: std::cell::RefCell<[HashMap<String, Option<regex::Regex>>; 2]> =
            std::cell::RefCell::new([HashMap::new(), HashMap::new()]);
    }
    CACHE.with(|c| {
        let mut maps = c.borrow_mut();
        let map = &mut maps[usize::from(icase)];
        if let Some(re) = map.get(pattern) {
            return re.clone();
        }
        let re = regex::RegexBuilder::new(pattern)
            .case_insensitive(icase)
            .size_limit(1 << 20)
            .build()
            .ok();
        map.insert(pattern.to_string(), re.clone());
        re
    })
}

/// Unbounded repetitions (`+`, `*`, `{n,}`) draw at most this many more.
const OPEN_EXTRA: u32 = 8;

/// A pattern values are drawn from.
#[derive(Debug, Clone)]
pub struct Pattern {
    hir: Hir,
}

impl Pattern {
    /// The pattern of `col ~ 'pattern'` when values can be drawn from it:
    /// anchored at both ends, readable, and built only of literals,
    /// classes, repetitions, groups and alternations.
    pub fn anchored(pattern: &str) -> Option<Pattern> {
        if !pattern.starts_with('^') || !pattern.ends_with('$') || pattern.ends_with("\\$") {
            return None;
        }
        let hir = regex_syntax::ParserBuilder::new()
            .build()
            .parse(pattern)
            .ok()?;
        let p = Pattern { hir };
        // One trial draw: a pattern with a part it cannot draw is refused.
        let mut rng = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
        p.write(&mut rng, None, &mut String::new()).then_some(p)
    }

    /// Append one value to `out`; `uniq` = Some(i) draws the `i`-th of a
    /// unique column (distinct for distinct `i` while the pattern has that
    /// many values: repetitions then take their longest bounded count and
    /// every choice is a digit of `i`). False if a part cannot be drawn.
    pub fn write(&self, rng: &mut ChaCha8Rng, uniq: Option<u64>, out: &mut String) -> bool {
        let mut rem = uniq;
        draw(&self.hir, rng, &mut rem, out)
    }
}

/// Pick one of `n` options: the next digit of the unique index, or at random.
fn choose(n: usize, rng: &mut ChaCha8Rng, rem: &mut Option<u64>) -> usize {
    match rem {
        Some(r) => {
            let k = (*r % n as u64) as usize;
            *r /= n as u64;
            k
        }
        None => rng.random_range(0..n),
    }
}

fn draw(h: &Hir, rng: &mut ChaCha8Rng, rem: &mut Option<u64>, out: &mut String) -> bool {
    match h.kind() {
        HirKind::Empty => true,
        HirKind::Literal(l) => match std::str::from_utf8(&l.0) {
            Ok(s) => {
                out.push_str(s);
                true
            }
            Err(_) => false,
        },
        HirKind::Class(c) => match printable(c) {
            Some(chars) => {
                out.push(chars[choose(chars.len(), rng, rem)]);
                true
            }
            None => false,
        },
        HirKind::Look(l) => matches!(
            l,
            Look::Start | Look::End | Look::StartLF | Look::EndLF | Look::StartCRLF | Look::EndCRLF
        ),
        HirKind::Repetition(r) => {
            let hi = r
                .max
                .unwrap_or(r.min.saturating_add(OPEN_EXTRA))
                .min(r.min.saturating_add(OPEN_EXTRA));
            let n = if rem.is_some() {
                hi
            } else {
                rng.random_range(r.min..=hi.max(r.min))
            };
            (0..n).all(|_| draw(&r.sub, rng, rem, out))
        }
        HirKind::Capture(c) => draw(&c.sub, rng, rem, out),
        HirKind::Concat(parts) => parts.iter().all(|p| draw(p, rng, rem, out)),
        HirKind::Alternation(alts) => {
            let k = choose(alts.len(), rng, rem);
            draw(&alts[k], rng, rem, out)
        }
    }
}

/// The characters of a class a value may hold: its printable ASCII ones
/// when it has any (a negated class like `[^@]` means "not @", not "any
/// of a million code points"), else its first 256 characters.
fn printable(c: &Class) -> Option<Vec<char>> {
    let ranges: Vec<(char, char)> = match c {
        Class::Unicode(u) => u.ranges().iter().map(|r| (r.start(), r.end())).collect(),
        Class::Bytes(b) => b
            .ranges()
            .iter()
            .filter(|r| r.start() < 0x80)
            .map(|r| (char::from(r.start()), char::from(r.end().min(0x7f))))
            .collect(),
    };
    let ascii: Vec<char> = ranges
        .iter()
        .flat_map(|&(a, b)| a.max(' ')..=b.min('~'))
        .collect();
    if !ascii.is_empty() {
        return Some(ascii);
    }
    let any: Vec<char> = ranges.iter().flat_map(|&(a, b)| a..=b).take(256).collect();
    (!any.is_empty()).then_some(any)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn draws(pattern: &str, n: u64, uniq: bool) -> Vec<String> {
        let p = Pattern::anchored(pattern).expect("drawable");
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        (0..n)
            .map(|i| {
                let mut s = String::new();
                assert!(p.write(&mut rng, uniq.then_some(i), &mut s));
                s
            })
            .collect()
    }

    #[test]
    fn drawn_values_match_their_pattern() {
        for pattern in [
            "^[A-Z]{3}[0-9]{2}$",
            "^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$",
            "^(DE|FR|NL)-[0-9]{4,6}$",
            "^[^@]+@[^@]+$",
            "^\\d{3}-\\d{4}$",
            "^(?:v[0-9]+)?$",
        ] {
            let re = compiled(pattern, false).unwrap();
            for v in draws(pattern, 200, false) {
                assert!(re.is_match(&v), "{pattern}: {v:?}");
                assert!(v.chars().all(|c| (' '..='~').contains(&c)), "{v:?}");
            }
        }
    }

    #[test]
    fn unique_draws_are_distinct_and_deterministic() {
        let a = draws("^[A-Z]{3}[0-9]{2}$", 5000, true);
        let set: std::collections::BTreeSet<_> = a.iter().collect();
        assert_eq!(set.len(), a.len());
        assert_eq!(a, draws("^[A-Z]{3}[0-9]{2}$", 5000, true));
        assert_ne!(draws("^[a-z]{8}$", 3, false), draws("^[a-z]{8}$", 3, true));
    }

    #[test]
    fn unanchored_unreadable_or_undrawable_patterns_are_not_drawn_from() {
        assert!(Pattern::anchored("[A-Z]+").is_none(), "not anchored");
        assert!(Pattern::anchored("^(a)\\1$").is_none(), "back-reference");
        assert!(Pattern::anchored("^\\bword$").is_none(), "word boundary");
        assert!(compiled("(a)\\1", false).is_none());
        assert!(compiled("^ab$", true).unwrap().is_match("AB"));
    }
}
