//! Version ordering, one rule per migration tool, as pure functions:
//!
//! - **diesel**: the folder name up to the first `_`, with `-` removed,
//!   compared as text (diesel's `MigrationVersion` is a string; its harness
//!   sorts pending migrations by it).
//! - **sqlx**: the file name up to the first `_`, parsed as `i64` and
//!   compared as a number (`Migrator` sorts by `version`).
//! - **golang-migrate**: the leading digits, parsed as `u64` (its
//!   `source` package orders by `uint` version).
//! - **dbmate**: the leading digits as text, compared as text (timestamps
//!   of one width sort by time; dbmate sorts file names).
//! - **Flyway**: `V1.2_3` → parts `[1, 2, 3]` (`_` is a part separator),
//!   compared part by part as unbounded integers, missing parts counting as
//!   0 (so `1.0` equals `1`, `1.10` is after `1.9`).
//! - **plain** (rollproof's own layout): natural order — digit runs compare
//!   as numbers, everything else as text (`2_x` before `10_x`).

use std::cmp::Ordering;

/// An ordering key; keys of one folder are always of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionKey {
    /// Text compared byte-wise (diesel, dbmate).
    Text(String),
    /// A signed number (sqlx).
    Signed(i64),
    /// An unsigned number (golang-migrate).
    Unsigned(u64),
    /// Dotted parts without leading zeros, compared as unbounded integers
    /// (Flyway); trailing zero parts removed so `1.0` and `1` are equal.
    Parts(Vec<String>),
    /// Natural order chunks (plain).
    Natural(Vec<Chunk>),
}

/// One chunk of a natural-order key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// A run of digits, without leading zeros ("" for zero).
    Digits(String),
    /// Anything else.
    Text(String),
}

fn cmp_unbounded(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn strip_zeros(d: &str) -> String {
    d.trim_start_matches('0').to_string()
}

impl Ord for Chunk {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Chunk::Digits(a), Chunk::Digits(b)) => cmp_unbounded(a, b),
            (Chunk::Text(a), Chunk::Text(b)) => a.cmp(b),
            (Chunk::Digits(_), Chunk::Text(_)) => Ordering::Less,
            (Chunk::Text(_), Chunk::Digits(_)) => Ordering::Greater,
        }
    }
}

impl PartialOrd for Chunk {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for VersionKey {
    fn cmp(&self, other: &Self) -> Ordering {
        use VersionKey::*;
        match (self, other) {
            (Text(a), Text(b)) => a.cmp(b),
            (Signed(a), Signed(b)) => a.cmp(b),
            (Unsigned(a), Unsigned(b)) => a.cmp(b),
            (Parts(a), Parts(b)) => {
                for i in 0..a.len().max(b.len()) {
                    let x = a.get(i).map_or("", String::as_str);
                    let y = b.get(i).map_or("", String::as_str);
                    let o = cmp_unbounded(x, y);
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                Ordering::Equal
            }
            (Natural(a), Natural(b)) => a.cmp(b),
            // Keys of one folder share a kind; a fixed order keeps Ord total.
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for VersionKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl VersionKey {
    fn rank(&self) -> u8 {
        match self {
            VersionKey::Text(_) => 0,
            VersionKey::Signed(_) => 1,
            VersionKey::Unsigned(_) => 2,
            VersionKey::Parts(_) => 3,
            VersionKey::Natural(_) => 4,
        }
    }
}

/// diesel: `2024-01-02-030405_create_users` → `"20240102030405"`.
pub fn diesel(dir_name: &str) -> Option<VersionKey> {
    let v = dir_name.split('_').next()?.replace('-', "");
    (!v.is_empty()).then_some(VersionKey::Text(v))
}

/// sqlx: the part before the first `_` as `i64`.
pub fn sqlx(version: &str) -> Option<VersionKey> {
    version.parse::<i64>().ok().map(VersionKey::Signed)
}

/// golang-migrate: the leading digits as `u64`.
pub fn golang_migrate(version: &str) -> Option<VersionKey> {
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    version.parse::<u64>().ok().map(VersionKey::Unsigned)
}

/// dbmate: the leading digits as text.
pub fn dbmate(version: &str) -> Option<VersionKey> {
    (!version.is_empty() && version.bytes().all(|b| b.is_ascii_digit()))
        .then(|| VersionKey::Text(version.to_string()))
}

/// Flyway: `1.2_3` → `[1, 2, 3]`; None unless digits separated by single
/// `.` or `_`.
pub fn flyway(version: &str) -> Option<VersionKey> {
    let parts: Vec<&str> = version.split(['.', '_']).collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let mut parts: Vec<String> = parts.into_iter().map(strip_zeros).collect();
    while parts.last().is_some_and(|p| p.is_empty()) && parts.len() > 1 {
        parts.pop();
    }
    Some(VersionKey::Parts(parts))
}

/// plain: natural order of the whole name.
pub fn natural(name: &str) -> VersionKey {
    let mut chunks = Vec::new();
    let mut cur = String::new();
    let mut digits = false;
    for c in name.chars() {
        let d = c.is_ascii_digit();
        if !cur.is_empty() && d != digits {
            chunks.push(chunk(&cur, digits));
            cur.clear();
        }
        digits = d;
        cur.push(c);
    }
    if !cur.is_empty() {
        chunks.push(chunk(&cur, digits));
    }
    VersionKey::Natural(chunks)
}

fn chunk(s: &str, digits: bool) -> Chunk {
    if digits {
        Chunk::Digits(strip_zeros(s))
    } else {
        Chunk::Text(s.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut v: Vec<(VersionKey, &'static str)>) -> Vec<&'static str> {
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v.into_iter().map(|(_, n)| n).collect()
    }

    #[test]
    fn diesel_compares_text_without_dashes() {
        let k = |s: &'static str| (diesel(s).unwrap(), s);
        assert_eq!(diesel("2024-01-02-030405_x"), diesel("20240102030405_y"));
        // Text, not numbers: "9" sorts after "10" as diesel itself does.
        assert_eq!(sorted(vec![k("9_b"), k("10_a")]), vec!["10_a", "9_b"]);
        assert_eq!(diesel("_x"), None);
    }

    #[test]
    fn sqlx_and_golang_migrate_compare_numbers() {
        let mut v = vec![sqlx("10").unwrap(), sqlx("9").unwrap(), sqlx("-1").unwrap()];
        v.sort();
        assert_eq!(
            v,
            vec![
                VersionKey::Signed(-1),
                VersionKey::Signed(9),
                VersionKey::Signed(10)
            ]
        );
        assert_eq!(sqlx("1a"), None);
        assert!(golang_migrate("0002").unwrap() < golang_migrate("10").unwrap());
        assert_eq!(golang_migrate("-1"), None);
        assert_eq!(golang_migrate("99999999999999999999"), None);
    }

    #[test]
    fn flyway_parts_compare_as_numbers_and_trailing_zeros_vanish() {
        assert!(flyway("1.10").unwrap() > flyway("1.9").unwrap());
        assert_eq!(flyway("1.0"), flyway("1"));
        assert_eq!(flyway("1_1"), flyway("1.1"));
        assert_eq!(flyway("001.2"), flyway("1.2"));
        assert!(flyway("2").unwrap() > flyway("1.999").unwrap());
        assert!(flyway("123456789012345678901234567890").unwrap() > flyway("9").unwrap());
        assert_eq!(flyway("1..2"), None);
        assert_eq!(flyway("1.a"), None);
        assert_eq!(flyway("0"), Some(VersionKey::Parts(vec![String::new()])));
    }

    #[test]
    fn dbmate_is_text_and_natural_order_reads_numbers() {
        assert!(dbmate("20240101000000").unwrap() < dbmate("20240102000000").unwrap());
        assert_eq!(dbmate("12a"), None);
        let k = |s: &'static str| (natural(s), s);
        assert_eq!(
            sorted(vec![k("10_c"), k("2_b"), k("002_a"), k("b"), k("a")]),
            vec!["002_a", "2_b", "10_c", "a", "b"]
        );
    }
}
