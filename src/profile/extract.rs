//! Profile extraction: describe any database's shape as a format-2
//! [`Profile`] — its complete schema and value-free statistics, never row
//! values. Sources: a SQLite file (read-only, SQL aggregates), a live
//! PostgreSQL database (a read-only session over the catalog and
//! statistics, [`pg`]), or a PostgreSQL schema-only dump plus a statistics
//! file ([`crate::profile::dump`]). docs/PROFILES.md states the privacy
//! rules; this module is where they are enforced:
//!
//! - always: the schema (DDL, whose literals — CHECK lists, defaults, enum
//!   labels — it carries as written), row counts, null fractions and
//!   distinct ratios (4 decimals), byte-length ranges and mean lengths,
//!   the fan-out of every foreign key;
//! - numeric ranges only with `allow_ranges`, only for non-key,
//!   non-foreign-key, non-id columns with at least [`K_MIN`] values,
//!   rounded outward to two significant digits; date ranges likewise,
//!   widened to whole months;
//! - category mixes only with `allow_categories`, only for label-like
//!   columns (see [`category_candidate`]) with at most [`MAX_DISTINCT`]
//!   distinct values, each occurring at least [`K_MIN`] times.

pub mod pg;

use crate::profile::stats::{ColumnInfo, ColumnStats, Db, StatsError};
use crate::profile::{ColumnProfile, FanOut, Meta, Profile, ProfileError, TableProfile};
use crate::schema::Schema;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
    /// The source holds no table: such a profile would describe nothing.
    #[error(
        "{source_name} holds no tables, so there is no shape to profile (views, triggers and functions alone generate nothing); check that this is the right database"
    )]
    Empty { source_name: String },
    /// Reading PostgreSQL failed.
    #[error(transparent)]
    Pg(#[from] pg::PgSourceError),
}

/// Where a profile is extracted from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A SQLite database file, opened read-only.
    Sqlite(PathBuf),
    /// A live PostgreSQL database, read through a read-only session.
    PgUrl {
        /// The `postgres://` URL.
        url: String,
        /// Hosts allowed besides loopback (`--allow-host`).
        allow_hosts: Vec<String>,
    },
    /// A PostgreSQL schema-only dump (plain or custom format) and,
    /// optionally, the statistics file of `rollproof profile --stats-query`.
    PgDump {
        /// The dump.
        dump: PathBuf,
        /// The statistics (row counts, null fractions, distinct counts).
        stats: Option<PathBuf>,
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

/// An extracted profile and what to tell the user about it.
#[derive(Debug, Clone)]
pub struct Extracted {
    /// The profile (validated; render it with [`Profile::to_toml`]).
    pub profile: Profile,
    /// Objects the schema model does not carry (named, never dropped
    /// silently), and other warnings.
    pub warnings: Vec<String>,
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
pub fn fraction(part: u64, whole: u64) -> f64 {
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

/// Whether a declared type holds dates or timestamps.
pub fn date_like(decl_type: &str) -> bool {
    let t = decl_type.to_ascii_uppercase();
    t.contains("DATE") || t.contains("TIMESTAMP")
}

/// The first day of the month of an ISO date or timestamp (`up`: the
/// last day), or `None` when the text does not start with `YYYY-MM-DD`.
pub fn widen_to_month(value: &str, up: bool) -> Option<String> {
    let b = value.as_bytes();
    let ok = b.len() >= 10
        && b[..10].iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !ok {
        return None;
    }
    let y: u32 = value[..4].parse().ok()?;
    let m: u32 = value[5..7].parse().ok()?;
    if !(1..=12).contains(&m) {
        return None;
    }
    if !up {
        return Some(format!("{y:04}-{m:02}-01"));
    }
    let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let days = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    Some(format!("{y:04}-{m:02}-{days:02}"))
}

/// Summarise a fan-out histogram `(children, parents)` (childless
/// parents included as 0).
pub fn fanout_of(columns: &[String], references: &str, hist: &[(u64, u64)]) -> FanOut {
    let parents: u64 = hist.iter().map(|(_, p)| p).sum();
    let mut f = FanOut {
        columns: columns.to_vec(),
        references: references.to_string(),
        ..FanOut::default()
    };
    if parents == 0 {
        return f;
    }
    let children: u64 = hist.iter().map(|(n, p)| n * p).sum();
    f.mean = (children as f64 / parents as f64 * 1e4).round() / 1e4;
    f.childless = fraction(
        hist.iter().find(|(n, _)| *n == 0).map_or(0, |(_, p)| *p),
        parents,
    );
    let quantile = |q: f64| {
        let want = (q * parents as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        hist.iter()
            .find(|(_, p)| {
                seen += p;
                seen >= want
            })
            .map(|(n, _)| *n)
    };
    f.p50 = quantile(0.5);
    f.p90 = quantile(0.9);
    f.p99 = quantile(0.99);
    f.max = hist.last().map(|(n, _)| *n);
    f
}

/// Extract a profile from `source`.
pub fn extract(source: &Source, opts: &ExtractOptions) -> Result<Extracted, ExtractError> {
    match source {
        Source::Sqlite(path) => from_sqlite(path, opts),
        Source::PgUrl { url, allow_hosts } => pg::from_url(url, allow_hosts, opts),
        Source::PgDump { dump, stats } => pg::from_dump(dump, stats.as_deref(), opts),
    }
}

/// Wrap a schema and its table profiles as a validated format-2 profile:
/// rendered, parsed back and validated, so what is written is exactly
/// what `generate` reads. An empty schema is an error.
pub fn finish(
    schema: Schema,
    tables: BTreeMap<String, TableProfile>,
    source: &str,
    source_name: &str,
    opts: &ExtractOptions,
) -> Result<Profile, ExtractError> {
    if schema.tables.is_empty() {
        return Err(ExtractError::Empty {
            source_name: source_name.to_string(),
        });
    }
    let profile = Profile {
        profile: Meta {
            name: opts.name.clone(),
            description: Some(
                "Extracted by `rollproof profile`: schema and statistics only, no row values."
                    .into(),
            ),
            format: 2,
            source: Some(source.to_string()),
            as_of: None,
        },
        schema: Some(schema),
        tables,
    };
    Profile::parse(&profile.to_toml(), Path::new(source_name)).map_err(|source| {
        ExtractError::Invalid {
            db: source_name.to_string(),
            source,
        }
    })
}

/// Extract the profile of the SQLite database at `path` (read-only).
fn from_sqlite(path: &Path, opts: &ExtractOptions) -> Result<Extracted, ExtractError> {
    let db = Db::open(path)?;
    let schema = db.schema()?;
    let mut tables = BTreeMap::new();
    for t in &schema.tables {
        let infos = ColumnInfo::of(t);
        let names: Vec<String> = infos.iter().map(|i| i.name.clone()).collect();
        let stats = db.table_stats(&t.name, &names)?;
        let mut columns = BTreeMap::new();
        for info in &infos {
            if let Some(cs) = stats.column(&info.name) {
                let cp = column_profile(&db, &t.name, info, cs, stats.rows, opts)?;
                columns.insert(info.name.clone(), cp);
            }
        }
        tables.insert(
            t.key(),
            TableProfile {
                rows: stats.rows,
                columns,
                fanout: Vec::new(),
            },
        );
    }
    for t in &schema.tables {
        for fk in &t.foreign_keys {
            let parent = fk.ref_key();
            let Some(parent_rows) = tables.get(&parent).map(|p| p.rows) else {
                continue; // a key to a table outside the database
            };
            let hist = db.fanout(&t.name, &fk.columns, parent_rows)?;
            let f = fanout_of(&fk.columns, &parent, &hist);
            if let Some(tp) = tables.get_mut(&t.key()) {
                tp.fanout.push(f);
            }
        }
    }
    let name = path.display().to_string();
    let profile = finish(schema, tables, "sqlite", &name, opts)?;
    Ok(Extracted {
        profile,
        warnings: Vec::new(),
    })
}

fn column_profile(
    conn: &Db,
    table: &str,
    info: &ColumnInfo,
    cs: &ColumnStats,
    rows: u64,
    opts: &ExtractOptions,
) -> Result<ColumnProfile, ExtractError> {
    let mut cp = ColumnProfile::default();
    let non_null = rows.saturating_sub(cs.nulls);
    if rows > 0 {
        cp.null_fraction = Some(fraction(cs.nulls, rows));
    }
    if non_null > 0 {
        cp.distinct_ratio = Some(fraction(cs.distinct, non_null));
    }
    cp.length = cs.length;
    cp.mean_length = cs.mean_length.map(|m| (m * 10.0).round() / 10.0);
    if opts.allow_ranges
        && range_candidate(info)
        && cs.numeric() >= K_MIN
        && let Some([lo, hi]) = cs.range
    {
        cp.range = Some([round_outward(lo, false), round_outward(hi, true)]);
    }
    if opts.allow_ranges
        && range_candidate(info)
        && date_like(&info.decl_type)
        && cs.texts >= K_MIN
        && let Some((lo, hi)) = conn.text_bounds(table, &info.name)?
        && let (Some(lo), Some(hi)) = (widen_to_month(&lo, false), widen_to_month(&hi, true))
    {
        cp.date_range = Some([lo, hi]);
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
    fn dates_widen_to_whole_months_and_fanout_quantiles_are_exact() {
        assert_eq!(
            widen_to_month("2024-02-15 04:34:33", false).unwrap(),
            "2024-02-01"
        );
        assert_eq!(widen_to_month("2024-02-15", true).unwrap(), "2024-02-29");
        assert_eq!(
            widen_to_month("2023-11-30T10:00:00Z", true).unwrap(),
            "2023-11-30"
        );
        assert_eq!(widen_to_month("yesterday", true), None);
        assert_eq!(widen_to_month("2024-13-01", true), None);
        // 10 parents: 2 childless, 5 with one child, 2 with 3, 1 with 20.
        let f = fanout_of(&["p".into()], "parent", &[(0, 2), (1, 5), (3, 2), (20, 1)]);
        assert_eq!((f.childless, f.mean), (0.2, 3.1));
        assert_eq!(
            (f.p50, f.p90, f.p99, f.max),
            (Some(1), Some(3), Some(20), Some(20))
        );
        let none = fanout_of(&["p".into()], "parent", &[]);
        assert_eq!((none.mean, none.max), (0.0, None));
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
