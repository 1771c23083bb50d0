//! Value makers: one value of a column from its [`Shape`] (semantic, type
//! class, lengths, ranges, categories) and a random stream, written
//! straight into the batch buffers.
//!
//! Unique columns: a maker given `uniq = Some(i)` builds a value that
//! embeds the row index `i` where nothing else can produce the same text
//! (a digit run after name parts that hold no digits, a fixed-width
//! number, a value inside a range by permutation), so distinct rows get
//! distinct values by construction, with no set of used values kept.
//!
//! Secret-free by construction: names come from fake's word lists, emails
//! and URLs use the reserved example domains (RFC 2606), IP addresses the
//! documentation and private ranges (RFC 5737, RFC 3849, RFC 1918),
//! phone numbers the fictional 555 exchange, and credential columns hold
//! placeholders or the hash of the published test password
//! ([`TEST_PASSWORD`]).

mod text;

use super::batch::{Batch, Val};
use super::keys::Affine;
use super::types::Class;
use super::values::Semantic;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

pub use text::{fit_text, fit_words};

/// The published test password whose hashes credential columns hold where
/// the format requires a hash (docs/GENERATE.md).
pub const TEST_PASSWORD: &str = "rollproof-test-password";
/// bcrypt (cost 10, salt `rollproofsurrogatesale`) of [`TEST_PASSWORD`].
pub const TEST_PASSWORD_BCRYPT: &str =
    "$2b$10$rollproofsurrogatesaleNteqLgZcgC3WYE46Qf8ZCKS3Kfah42a";
/// argon2id (m=19456, t=2, p=1, salt `rollproof-surrogate`) of [`TEST_PASSWORD`].
pub const TEST_PASSWORD_ARGON2: &str = "$argon2id$v=19$m=19456,t=2,p=1$cm9sbHByb29mLXN1cnJvZ2F0ZQ$v8CHZwbmn93tiVfTnU9H3pALZSUgaW92zAEvrNm92Lg";
/// What a password column holds when no hash format is required.
pub const PASSWORD_PLACEHOLDER: &str = "rollproof-placeholder-not-a-password";

/// 2020-01-01T00:00:00Z: default start of generated moments.
pub const MOMENT_START: i64 = 1_577_836_800;
/// 2026-01-01T00:00:00Z: default end of generated moments (no clock is
/// read: output must not depend on when it is generated).
pub const MOMENT_END: i64 = 1_767_225_600;

/// A category value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cat {
    Text(String),
    Int(i64),
    Real(f64),
    Bool(bool),
}

/// How a password column is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordForm {
    Placeholder,
    Bcrypt,
    Argon2,
}

/// Everything a maker needs to know about a column.
#[derive(Debug, Clone)]
pub struct Shape {
    pub class: Class,
    pub sem: Semantic,
    /// The column's name, for placeholders and JSON keys.
    pub column: String,
    /// Target length range of text (from statistics): values are fitted.
    pub len: Option<(u64, u64)>,
    /// Hard limits (type, CHECK): never crossed.
    pub min_len: u64,
    pub max_len: Option<u64>,
    /// Numeric range (for moments: epoch seconds), inclusive.
    pub range: Option<(f64, f64)>,
    /// Weighted categories, and their total weight.
    pub cats: Vec<(Cat, f64)>,
    pub cat_total: f64,
    pub lower: bool,
    pub upper: bool,
    pub password: PasswordForm,
    /// Rows of the table: unique values spread over them.
    pub rows: u64,
    /// Permutation of the range for unique integers.
    pub perm: Option<Affine>,
    /// The range comes from a CHECK: it may not be widened.
    pub bounded: bool,
    /// Text drawn from a CHECK's anchored pattern (`col ~ '^…$'`).
    pub pattern: Option<crate::generate::check::regex::Pattern>,
}

impl Shape {
    /// A shape with defaults for `class` and `sem`.
    pub fn new(column: &str, class: Class, sem: Semantic) -> Shape {
        Shape {
            class,
            sem,
            column: column.to_string(),
            len: None,
            min_len: 0,
            max_len: None,
            range: None,
            cats: Vec::new(),
            cat_total: 0.0,
            lower: false,
            upper: false,
            password: PasswordForm::Placeholder,
            rows: 0,
            perm: None,
            bounded: false,
            pattern: None,
        }
    }

    /// Draw a category (weights), or the `i`-th one for unique columns.
    fn category(&self, rng: &mut ChaCha8Rng, uniq: Option<u64>) -> &Cat {
        if let Some(i) = uniq {
            return &self.cats[(i as usize) % self.cats.len()].0;
        }
        let mut x = rng.random::<f64>() * self.cat_total;
        for (c, w) in &self.cats {
            if x < *w {
                return c;
            }
            x -= w;
        }
        &self.cats[self.cats.len() - 1].0
    }
}

/// One value of a column.
pub fn make(s: &Shape, rng: &mut ChaCha8Rng, uniq: Option<u64>, b: &mut Batch) -> Val {
    if !s.cats.is_empty() {
        return match s.category(rng, uniq).clone() {
            Cat::Text(t) => b.push_text(&t),
            Cat::Int(i) => match s.class {
                Class::Bool => Val::Bool(i != 0),
                Class::Decimal { scale, .. } => Val::Dec(i.saturating_mul(10i64.pow(scale))),
                Class::Real => Val::Real(i as f64),
                _ => Val::Int(i),
            },
            Cat::Real(f) => match s.class {
                Class::Decimal { scale, .. } => {
                    Val::Dec((f * 10f64.powi(scale as i32)).round() as i64)
                }
                _ => Val::Real(f),
            },
            Cat::Bool(v) => Val::Bool(v),
        };
    }
    match s.class {
        Class::Int { max } => Val::Int(integer(s, rng, uniq, max)),
        Class::Real => Val::Real(real(s, rng, uniq)),
        Class::Decimal { precision, scale } => Val::Dec(decimal(s, rng, uniq, precision, scale)),
        Class::Bool => Val::Bool(match uniq {
            Some(i) => i % 2 == 1,
            None => rng.random_bool(0.5),
        }),
        Class::Blob => {
            let (lo, hi) = s.len.unwrap_or((16, 64));
            let n = rng.random_range(lo..=hi.max(lo)) as usize;
            let start = b.bytes.len();
            b.bytes.resize(start + n, 0);
            if !super::values::is_secret(s.sem) {
                rng.fill(&mut b.bytes[start..]);
            }
            if let Some(i) = uniq {
                let tail = i.to_be_bytes();
                let k = tail.len().min(n);
                b.bytes[start + n - k..start + n].copy_from_slice(&tail[8 - k..]);
            }
            Val::Blob(super::batch::Span {
                start: start as u32,
                len: n as u32,
            })
        }
        _ if s.pattern.is_some() => {
            let start = b.open_text();
            if let Some(p) = &s.pattern {
                p.write(rng, uniq, &mut b.text);
            }
            b.close_text(start)
        }
        _ => {
            let start = b.open_text();
            text::write(s, rng, uniq, &mut b.text);
            text::finish(s, rng, uniq, &mut b.text, start as usize);
            b.close_text(start)
        }
    }
}

/// Default numeric range of a semantic.
fn default_range(sem: Semantic) -> (f64, f64) {
    match sem {
        Semantic::Money => (1.0, 500.0),
        Semantic::Quantity => (1.0, 10.0),
        Semantic::Rating => (1.0, 5.0),
        Semantic::Percent => (0.0, 100.0),
        Semantic::Age => (18.0, 90.0),
        Semantic::Year => (1950.0, 2025.0),
        Semantic::Latitude => (-90.0, 90.0),
        Semantic::Longitude => (-180.0, 180.0),
        Semantic::Moment => (MOMENT_START as f64, MOMENT_END as f64),
        _ => (1.0, 1000.0),
    }
}

/// The column's inclusive range.
pub fn range(s: &Shape) -> (f64, f64) {
    s.range.unwrap_or_else(|| default_range(s.sem))
}

fn integer(s: &Shape, rng: &mut ChaCha8Rng, uniq: Option<u64>, max: i64) -> i64 {
    let (lo, hi) = range(s);
    let (lo, hi) = (
        lo.ceil().max(i64::MIN as f64) as i64,
        hi.floor().min(max as f64) as i64,
    );
    let hi = hi.max(lo);
    if let Some(i) = uniq {
        // Inside the range by permutation when it is wide enough, else
        // counting up from its start.
        return match &s.perm {
            Some(p) => lo.saturating_add(p.at(i) as i64),
            None => lo.saturating_add(i as i64),
        };
    }
    if s.sem == Semantic::Quantity || s.sem == Semantic::Money {
        // Small values are more common: square a uniform draw.
        let u: f64 = rng.random();
        return lo + ((hi - lo) as f64 * u * u).round() as i64;
    }
    rng.random_range(lo..=hi)
}

fn real(s: &Shape, rng: &mut ChaCha8Rng, uniq: Option<u64>) -> f64 {
    let (lo, hi) = range(s);
    if let Some(i) = uniq {
        let step = if s.rows > 0 && hi > lo {
            (hi - lo) / s.rows as f64
        } else {
            1.0
        };
        return lo + i as f64 * step;
    }
    let u: f64 = rng.random();
    let x = if s.sem == Semantic::Money {
        lo + (hi - lo) * u * u
    } else {
        lo + (hi - lo) * u
    };
    match s.sem {
        Semantic::Money | Semantic::Percent => (x * 100.0).round() / 100.0,
        Semantic::Latitude | Semantic::Longitude => (x * 1e6).round() / 1e6,
        _ => (x * 1e4).round() / 1e4,
    }
    .clamp(lo, hi)
}

fn decimal(s: &Shape, rng: &mut ChaCha8Rng, uniq: Option<u64>, precision: u32, scale: u32) -> i64 {
    let unit = 10i64.pow(scale);
    let type_max = 10f64.powi((precision - scale) as i32) - 1.0 / unit as f64;
    let (lo, hi) = range(s);
    let (lo, hi) = (lo.max(-type_max), hi.min(type_max).max(lo.max(-type_max)));
    let (lo_u, hi_u) = (
        (lo * unit as f64).ceil() as i64,
        (hi * unit as f64).floor() as i64,
    );
    if let Some(i) = uniq {
        return match &s.perm {
            Some(p) => lo_u + p.at(i) as i64,
            None => lo_u.saturating_add(i as i64),
        };
    }
    let u: f64 = rng.random();
    let u = if s.sem == Semantic::Money { u * u } else { u };
    let mut v = lo_u + ((hi_u - lo_u) as f64 * u).round() as i64;
    if s.sem == Semantic::Money && scale >= 2 && unit > 100 {
        v -= v % (unit / 100); // cents, not fractions of them
    }
    v.clamp(lo_u, hi_u.max(lo_u))
}

/// Days since 1970-01-01 of a civil date (Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Epoch seconds of a `YYYY-MM-DD[ HH:MM:SS]` literal.
pub fn parse_moment(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = s.split_at(s.find([' ', 'T']).unwrap_or(s.len()));
    let mut p = date.split('-');
    let (y, m, d) = (
        p.next()?.parse().ok()?,
        p.next()?.parse().ok()?,
        p.next()?.parse().ok()?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    let time = time.trim_start_matches([' ', 'T']);
    if !time.is_empty() {
        let mut t = time.split(':');
        let h: i64 = t.next()?.parse().ok()?;
        let mi: i64 = t.next().unwrap_or("0").parse().ok()?;
        let se: i64 = t
            .next()
            .unwrap_or("0")
            .get(..2)
            .unwrap_or("0")
            .parse()
            .ok()?;
        secs += h * 3600 + mi * 60 + se;
    }
    Some(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(parse_moment("2020-01-01"), Some(MOMENT_START));
        assert_eq!(parse_moment("2026-01-01 00:00:00"), Some(MOMENT_END));
        let (y, m, d) = crate::util::timefmt::civil_from_days(days_from_civil(2024, 2, 29));
        assert_eq!((y, m, d), (2024, 2, 29));
        assert_eq!(parse_moment("soon"), None);
    }
}
