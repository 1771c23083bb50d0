//! Profiles: a value-free description of production's shape — per table its
//! row count, per column its null fraction, length or numeric range, category
//! mix (low-cardinality columns only) and foreign-key target. A surrogate is
//! generated from a profile; `rollproof profile` extracts one from a database.
//!
//! Format (TOML, unknown keys are errors):
//! ```toml
//! [profile]
//! name = "default"
//! [tables.objects]
//! rows = 20000
//! [tables.objects.columns.kind]
//! categories = { sensor = 0.5, gateway = 0.5 }
//! [tables.objects.columns.payload]
//! null_fraction = 0.0
//! length = [80, 900]
//! ```

pub mod extract;
pub mod fidelity;
pub mod stats;

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
    /// Profile format version (1).
    #[serde(default = "one")]
    pub format: u32,
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
    /// Table this column references (foreign key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<String>,
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
}

/// A whole profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub profile: Meta,
    /// Tables by name.
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
        if self.profile.format != 1 {
            return Err(bad(
                "profile.format".into(),
                format!(
                    "unsupported format {} (this rollproof reads 1)",
                    self.profile.format
                ),
            ));
        }
        for (table, t) in &self.tables {
            for (col, c) in &t.columns {
                let loc = format!("tables.{table}.columns.{col}");
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
