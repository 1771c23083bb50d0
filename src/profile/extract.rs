//! Profile extraction: read a SQLite database (a surrogate, or an operator's
//! sanitized dump) read-only and describe its shape as a [`Profile`] —
//! structure and statistics, never row values. docs/PROFILES.md states the
//! privacy rules; this module is where they are enforced:
//!
//! - always: row counts, declared types, null fractions (4 decimals), byte
//!   length ranges of text, foreign-key targets;
//! - numeric ranges only with `allow_ranges`, only for non-key, non-foreign-key,
//!   non-id columns with at least [`K_MIN`] numeric values, rounded outward
//!   to two significant digits;
//! - category mixes only with `allow_categories`, only for label-like columns
//!   (see [`category_candidate`]) with at most [`MAX_DISTINCT`] distinct
//!   values, each occurring at least [`K_MIN`] times.
//!
//! Only tables of the birth-register surface are profiled (the generator
//! knows no others); the rest are reported as skipped.

use crate::profile::stats::{ColumnInfo, ColumnStats, Db, StatsError};
use crate::profile::{ColumnProfile, Meta, Profile, ProfileError, TableProfile};
use crate::surface;
use std::collections::BTreeMap;
use std::path::Path;

/// Most distinct values a column may have to be written as categories.
pub const MAX_DISTINCT: usize = 12;
/// Fewest rows every category value (and every numeric range) must rest on:
/// a value seen fewer times could single a row out (k-anonymity, k = 5).
pub const K_MIN: u64 = 5;
/// Longest category value, in bytes: labels are short; longer is free text.
pub const MAX_LABEL_BYTES: usize = 32;

/// Column-name tokens that mark identifying or free-text content: such
/// columns never get categories, whatever their cardinality.
const SENSITIVE_TOKENS: &[&str] = &[
    "id",
    "uid",
    "uuid",
    "guid",
    "key",
    "email",
    "mail",
    "name",
    "password",
    "pass",
    "secret",
    "token",
    "tfa",
    "auth",
    "identifier",
    "ip",
    "agent",
    "address",
    "phone",
    "location",
    "title",
    "description",
    "note",
    "comment",
    "text",
    "payload",
    "data",
    "delta",
    "tags",
    "avatar",
    "user",
    "item",
    "date",
    "time",
    "timestamp",
    "at",
    "created",
    "updated",
    "access",
    "url",
    "origin",
    "born",
    "by",
];

/// Declared types whose values are never labels.
const SENSITIVE_TYPES: &[&str] = &["JSON", "BLOB", "DATE", "TIME", "UUID", "BYTEA"];

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The database could not be opened or read.
    #[error(transparent)]
    Stats(#[from] StatsError),
    /// The extracted profile did not validate (a bug: report it).
    #[error("the profile extracted from {db} does not validate (a bug: please report it)")]
    Invalid {
        db: String,
        #[source]
        source: ProfileError,
    },
}

/// What to extract beyond the always-safe shape.
#[derive(Debug, Clone, Default)]
pub struct ExtractOptions {
    /// `[profile] name` to write.
    pub name: String,
    /// Write category mixes of label-like, low-cardinality columns.
    pub allow_categories: bool,
    /// Write rounded numeric ranges of non-key numeric columns.
    pub allow_ranges: bool,
}

/// An extracted profile and what was left out.
#[derive(Debug, Clone)]
pub struct Extracted {
    /// The profile (validated; render it with [`Profile::to_toml`]).
    pub profile: Profile,
    /// Tables in the database that are not part of the surface.
    pub skipped: Vec<String>,
    /// Tables of the surface the database lacks.
    pub missing: Vec<String>,
}

/// Whether a column may carry categories at all, by name and type: not a
/// key, not a foreign key, no identifying or free-text name token, no
/// JSON/blob/date/time type.
pub fn category_candidate(info: &ColumnInfo) -> bool {
    if info.primary_key || info.references.is_some() {
        return false;
    }
    let name = info.name.to_ascii_lowercase();
    if name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|t| SENSITIVE_TOKENS.contains(&t))
    {
        return false;
    }
    let ty = info.decl_type.to_ascii_uppercase();
    !SENSITIVE_TYPES.iter().any(|s| ty.contains(s))
}

/// Whether a column may carry a numeric range: not a key, not a foreign
/// key, not named like an id.
fn range_candidate(info: &ColumnInfo) -> bool {
    let name = info.name.to_ascii_lowercase();
    !info.primary_key
        && info.references.is_none()
        && !name
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|t| ["id", "uid", "uuid", "guid", "key"].contains(&t))
}

/// Round to 4 decimals, but never turn "some" into "none" or "all".
fn fraction(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    let f = ((part as f64 / whole as f64) * 1e4).round() / 1e4;
    if part > 0 && f == 0.0 {
        1e-4
    } else if part < whole && f == 1.0 {
        0.9999
    } else {
        f
    }
}

/// Round `x` to two significant digits, down (`up = false`) or up.
pub fn round_outward(x: f64, up: bool) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let exp = x.abs().log10().floor() as i32 - 1;
    let scaled = x / 10f64.powi(exp);
    let r = if up { scaled.ceil() } else { scaled.floor() };
    // Re-parse through decimal text so 1.2e-3 is written as 0.0012, not 0.0012000000000000001.
    let v = r * 10f64.powi(exp);
    format!("{v:.prec$e}", prec = 1).parse().unwrap_or(v)
}

/// Extract the profile of the database at `db` (opened read-only).
pub fn extract(db: &Path, opts: &ExtractOptions) -> Result<Extracted, ExtractError> {
    let conn = Db::open(db)?;
    let present = conn.tables()?;
    let skipped = present
        .iter()
        .filter(|t| !surface::TABLES.contains(&t.as_str()))
        .cloned()
        .collect();
    let missing: Vec<String> = surface::TABLES
        .iter()
        .filter(|t| !present.iter().any(|p| p == *t))
        .map(|t| t.to_string())
        .collect();
    let mut tables = BTreeMap::new();
    for table in surface::TABLES
        .iter()
        .filter(|t| !missing.iter().any(|m| m == *t))
    {
        let infos = conn.columns(table)?;
        let stats = conn.table_stats(table)?;
        let mut columns = BTreeMap::new();
        for info in &infos {
            let Some(cs) = stats.column(&info.name) else {
                continue;
            };
            let cp = column_profile(&conn, table, info, cs, stats.rows, opts, &missing)?;
            columns.insert(info.name.clone(), cp);
        }
        tables.insert(
            table.to_string(),
            TableProfile {
                rows: stats.rows,
                columns,
            },
        );
    }
    let profile = Profile {
        profile: Meta {
            name: opts.name.clone(),
            description: Some(
                "Extracted by `rollproof profile`: structure and statistics only, no row values."
                    .into(),
            ),
            format: 1,
        },
        tables,
    };
    // Validate exactly what will be written: render, then parse it back.
    let reparsed =
        Profile::parse(&profile.to_toml(), db).map_err(|source| ExtractError::Invalid {
            db: db.display().to_string(),
            source,
        })?;
    Ok(Extracted {
        profile: reparsed,
        skipped,
        missing,
    })
}

fn column_profile(
    conn: &Db,
    table: &str,
    info: &ColumnInfo,
    cs: &ColumnStats,
    rows: u64,
    opts: &ExtractOptions,
    missing: &[String],
) -> Result<ColumnProfile, ExtractError> {
    let mut cp = ColumnProfile {
        sql_type: (!info.decl_type.is_empty()).then(|| info.decl_type.clone()),
        ..ColumnProfile::default()
    };
    if rows > 0 {
        cp.null_fraction = Some(fraction(cs.nulls, rows));
    }
    cp.length = cs.length;
    // A foreign key is structure; keep it when its target is profiled too.
    cp.references = info
        .references
        .as_ref()
        .filter(|t| surface::TABLES.contains(&t.as_str()) && !missing.contains(t))
        .cloned();
    if opts.allow_ranges
        && range_candidate(info)
        && cs.numeric() >= K_MIN
        && let Some([lo, hi]) = cs.range
    {
        cp.range = Some([round_outward(lo, false), round_outward(hi, true)]);
    }
    if opts.allow_categories
        && category_candidate(info)
        && cs.blobs == 0
        && cs.reals == 0
        && cs
            .length
            .is_none_or(|[_, max]| max as usize <= MAX_LABEL_BYTES)
        && let Some(values) = conn.distinct_values(table, &info.name, MAX_DISTINCT)?
        && !values.is_empty()
    {
        let (total, counts) = conn.value_counts(table, &info.name, &values)?;
        if counts.iter().all(|c| *c >= K_MIN) {
            cp.categories = Some(
                values
                    .into_iter()
                    .zip(counts)
                    .map(|(v, c)| (v, fraction(c, total)))
                    .collect(),
            );
        }
    }
    Ok(cp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_round_outward_to_two_significant_digits() {
        assert_eq!(round_outward(1234.0, false), 1200.0);
        assert_eq!(round_outward(1234.0, true), 1300.0);
        assert_eq!(round_outward(-1234.0, false), -1300.0);
        assert_eq!(round_outward(0.001234, true), 0.0013);
        assert_eq!(round_outward(12.0, true), 12.0);
        assert_eq!(round_outward(0.0, true), 0.0);
    }

    #[test]
    fn fractions_keep_some_and_all_apart() {
        assert_eq!(fraction(1, 1_000_000), 1e-4);
        assert_eq!(fraction(999_999, 1_000_000), 0.9999);
        assert_eq!(fraction(1, 8), 0.125);
        assert_eq!(fraction(0, 0), 0.0);
    }

    #[test]
    fn identifying_columns_are_never_category_candidates() {
        let col = |name: &str, ty: &str| ColumnInfo {
            name: name.into(),
            decl_type: ty.into(),
            primary_key: false,
            references: None,
        };
        for (n, t) in [
            ("email", "VARCHAR(128)"),
            ("first_name", "VARCHAR(50)"),
            ("object_uid", "VARCHAR(64)"),
            ("payload", "JSON"),
            ("born_at", "DATETIME"),
            ("ip", "VARCHAR(50)"),
            ("tags", "TEXT"),
        ] {
            assert!(!category_candidate(&col(n, t)), "{n}");
        }
        for n in ["status", "kind", "source", "language", "provider", "action"] {
            assert!(category_candidate(&col(n, "VARCHAR(32)")), "{n}");
        }
    }
}
