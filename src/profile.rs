//! Profiles: a value-free description of a database's shape. A surrogate is
//! generated from a profile; `rollproof profile` extracts one from any
//! database; `rollproof fidelity` compares a database with one. The format
//! is documented in docs/PROFILES.md; keep the two in step.
//!
//! - **Format 2** (what `rollproof profile` writes): `[schema]`, the
//!   complete schema as the [`crate::schema`] model (value-free DDL), plus
//!   per table its row count, per column null fraction, distinct ratio and
//!   lengths (ranges and category mixes only when allowed), and per foreign
//!   key the distribution of children per parent (`fanout`).
//! - **Format 1** (the shipped birth-register surface profiles): per table
//!   a row count and optional column shapes; the schema is the surface's
//!   own (`src/surface.rs`). Still read, unchanged.
//!
//! ```toml
//! [profile]
//! name = "shop"
//! format = 2
//! [schema]
//! dialect = "sqlite"
//! [[schema.tables]]
//! name = "orders"
//! # … columns, keys, verbatim sql …
//! [tables.orders]
//! rows = 20000
//! [tables.orders.columns.note]
//! null_fraction = 0.8
//! distinct_ratio = 0.97
//! length = [3, 120]
//! [[tables.orders.fanout]]
//! columns = ["customer_id"]
//! references = "customer"
//! childless = 0.1
//! mean = 2.4
//! ```

pub mod dump;
pub mod extract;
pub mod fidelity;
pub mod pgstats;
pub mod stats;
mod validate;

use crate::schema::Schema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Most categories a column may list: more would leak values, not shape.
pub const MAX_CATEGORIES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error(transparent)]
    Read(#[from] crate::util::fsutil::InputError),
    #[error("profile {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("profile {path}: {location}: {problem}")]
    Invalid {
        path: PathBuf,
        location: String,
        problem: String,
    },
}

/// `[profile]`: what this profile describes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// Short name, e.g. "default".
    pub name: String,
    /// Free text: where the shape came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Profile format version: 1 (surface profiles) or 2 (with `[schema]`).
    #[serde(default = "one")]
    pub format: u32,
    /// Where a format-2 profile was extracted from: `sqlite`,
    /// `postgres` (a live database) or `postgres-dump` (a schema-only dump
    /// plus statistics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Format 1: the day (`YYYY-MM-DD`, UTC) the generated history ends
    /// at (it covers the 1,277 days before it); absent = 2026-07-01.
    /// `rollproof generate --as-of` sets it, so the date is part of the
    /// recipe a surrogate's provenance record carries (docs/SURFACE.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
}

fn one() -> u32 {
    1
}

/// One column's shape. Every field is optional; absent means "generator default".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ColumnProfile {
    /// Declared SQL type (informative; extracted profiles record it).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub sql_type: Option<String>,
    /// Fraction of rows where the column is NULL, 0.0..=1.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_fraction: Option<f64>,
    /// Inclusive [min, max] length in bytes of text values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<[u64; 2]>,
    /// Inclusive [min, max] of numeric values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<[f64; 2]>,
    /// Category → weight, for low-cardinality columns only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<BTreeMap<String, f64>>,
    /// Table this column references (foreign key; format 1 only — in
    /// format 2 the schema holds every key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<String>,
    /// Distinct non-NULL values / non-NULL values, 0..=1 (format 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distinct_ratio: Option<f64>,
    /// Mean length in bytes of text and blob values (format 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_length: Option<f64>,
    /// Inclusive [first, last] day (`YYYY-MM-DD`) of date and timestamp
    /// values, widened to whole months; only with `--allow-ranges`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_range: Option<[String; 2]>,
}

/// How many children the rows of a parent table have through one foreign
/// key: the distribution over **all** parent rows (childless ones count as
/// 0). Quantiles and the maximum are exact on SQLite; from PostgreSQL
/// statistics only `childless` and `mean` (and an estimated `max`) exist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FanOut {
    /// The foreign key's columns in this (the child) table.
    pub columns: Vec<String>,
    /// The parent table (its key, as in `[tables]`).
    pub references: String,
    /// Share of parent rows with no child, 0..=1.
    pub childless: f64,
    /// Children per parent row (children with a non-NULL key / parents).
    pub mean: f64,
    /// Children of the median parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50: Option<u64>,
    /// 90th percentile of children per parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p90: Option<u64>,
    /// 99th percentile of children per parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99: Option<u64>,
    /// Most children any parent has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
}

/// One table's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TableProfile {
    /// Number of rows.
    pub rows: u64,
    /// Per-column shapes, by column name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub columns: BTreeMap<String, ColumnProfile>,
    /// Children per parent, one entry per foreign key of this table
    /// (format 2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fanout: Vec<FanOut>,
}

/// A whole profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub profile: Meta,
    /// The complete schema (format 2; absent in format 1, whose schema is
    /// the birth-register surface).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Schema>,
    /// Tables by key ([`crate::schema::Table::key`]: the name, or
    /// `namespace.name` outside PostgreSQL's `public`).
    pub tables: BTreeMap<String, TableProfile>,
}

impl Profile {
    /// Read, parse and validate a profile file.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        use crate::util::fsutil::{limit, read_bounded_string};
        let text = read_bounded_string(path, limit::PROFILE, "profile")?;
        Profile::parse(&text, path)
    }

    /// Parse and validate profile text; `path` is for messages.
    pub fn parse(text: &str, path: &Path) -> Result<Profile, ProfileError> {
        let profile: Profile = toml::from_str(text).map_err(|e| ProfileError::Parse {
            path: path.to_path_buf(),
            message: crate::util::tomlerr::describe(text, &e),
        })?;
        profile.validate(path)?;
        Ok(profile)
    }

    /// Check the numbers make sense and references resolve.
    pub fn validate(&self, path: &Path) -> Result<(), ProfileError> {
        let bad = |location: String, problem: String| ProfileError::Invalid {
            path: path.to_path_buf(),
            location,
            problem,
        };
        match (self.profile.format, &self.schema) {
            (1, None) | (2, Some(_)) => {}
            (1, Some(_)) => {
                return Err(bad(
                    "schema".into(),
                    "a format-1 profile has no [schema]; set format = 2".into(),
                ));
            }
            (2, None) => {
                return Err(bad(
                    "schema".into(),
                    "a format-2 profile needs its [schema]".into(),
                ));
            }
            (f, _) => {
                return Err(bad(
                    "profile.format".into(),
                    format!("unsupported format {f} (this rollproof reads 1 and 2)"),
                ));
            }
        }
        if let Some(schema) = &self.schema {
            validate::against_schema(self, schema).map_err(|(l, p)| bad(l, p))?;
        }
        if let Some(day) = &self.profile.as_of {
            crate::generate::history_end_ms(Some(day))
                .map_err(|p| bad("profile.as_of".into(), p))?;
            if self.profile.format != 1 {
                return Err(bad(
                    "profile.as_of".into(),
                    "only a format-1 (birth-register surface) profile has a generated history"
                        .into(),
                ));
            }
        }
        for (table, t) in &self.tables {
            for (col, c) in &t.columns {
                let loc = format!("tables.{table}.columns.{col}");
                validate::column_v2(c).map_err(|(field, p)| bad(format!("{loc}.{field}"), p))?;
                if let Some(f) = c.null_fraction
                    && !(0.0..=1.0).contains(&f)
                {
                    return Err(bad(
                        format!("{loc}.null_fraction"),
                        format!("{f} is not a fraction between 0 and 1"),
                    ));
                }
                if let Some([lo, hi]) = c.length
                    && lo > hi
                {
                    return Err(bad(
                        format!("{loc}.length"),
                        format!("minimum {lo} is greater than maximum {hi}"),
                    ));
                }
                if let Some([lo, hi]) = c.range
                    && (!lo.is_finite() || !hi.is_finite() || lo > hi)
                {
                    return Err(bad(
                        format!("{loc}.range"),
                        format!("[{lo}, {hi}] is not a finite range with min <= max"),
                    ));
                }
                if let Some(cats) = &c.categories {
                    if cats.is_empty() || cats.len() > MAX_CATEGORIES {
                        return Err(bad(
                            format!("{loc}.categories"),
                            format!(
                                "needs 1 to {MAX_CATEGORIES} categories, found {}",
                                cats.len()
                            ),
                        ));
                    }
                    if let Some((k, w)) = cats.iter().find(|(_, w)| !w.is_finite() || **w < 0.0) {
                        return Err(bad(
                            format!("{loc}.categories.{k}"),
                            format!("weight {w} must be a non-negative number"),
                        ));
                    }
                    if cats.values().sum::<f64>() <= 0.0 {
                        return Err(bad(
                            format!("{loc}.categories"),
                            "weights sum to zero".into(),
                        ));
                    }
                }
                if let Some(target) = &c.references
                    && !self.tables.contains_key(target)
                {
                    return Err(bad(
                        format!("{loc}.references"),
                        format!(
                            "foreign key to table '{target}', which the profile does not define"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Row count of a table (0 when absent).
    pub fn rows(&self, table: &str) -> u64 {
        self.tables.get(table).map_or(0, |t| t.rows)
    }

    /// A column's profile, or the empty default.
    pub fn column(&self, table: &str, column: &str) -> ColumnProfile {
        self.tables
            .get(table)
            .and_then(|t| t.columns.get(column))
            .cloned()
            .unwrap_or_default()
    }

    /// Serialise as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// The fan-out entries of `table`, by the foreign key's columns.
    pub fn fanout(&self, table: &str, columns: &[String]) -> Option<&FanOut> {
        self.tables
            .get(table)?
            .fanout
            .iter()
            .find(|f| f.columns == columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Profile, ProfileError> {
        Profile::parse(s, Path::new("p.toml"))
    }

    #[test]
    fn rejects_impossible_numbers_and_unknown_keys() {
        let base = "[profile]\nname='x'\n[tables.a]\nrows=1\n";
        assert!(parse(base).is_ok());
        let e = parse(&format!("{base}[tables.a.columns.c]\nnull_fraction=1.5\n")).unwrap_err();
        assert!(e.to_string().contains("null_fraction"), "{e}");
        assert!(parse("[profile]\nname='x'\n[tables.a]\nrows=-1\n").is_err());
        assert!(parse(&format!("{base}[tables.a.columns.c]\nbogus=1\n")).is_err());
        let e = parse(&format!("{base}[tables.a.columns.c]\nreferences='zz'\n")).unwrap_err();
        assert!(e.to_string().contains("zz"), "{e}");
        assert!(parse(&format!("{base}[tables.a.columns.c]\nlength=[5,2]\n")).is_err());
    }

    #[test]
    fn round_trips_through_toml() {
        let p = parse(
            "[profile]\nname='x'\n[tables.a]\nrows=3\n[tables.a.columns.k]\ncategories={x=1.0,y=2.0}\nnull_fraction=0.1\n",
        )
        .unwrap();
        assert_eq!(parse(&p.to_toml()).unwrap(), p);
    }
}
