//! A column's declared type, read as the class of values it holds. Works on
//! SQLite's free-form types (affinity rules: `VARCHAR(40)`, `UNSIGNED BIG
//! INT`, no type at all) and on PostgreSQL's (`character varying(40)`,
//! `timestamp with time zone`, `numeric(10,2)`, `text[]`).

/// What kind of values a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Whole numbers; `max` is the largest value the type stores.
    Int { max: i64 },
    /// Floating point.
    Real,
    /// Exact decimal with `scale` digits after the point and at most
    /// `precision` digits in all.
    Decimal { precision: u32, scale: u32 },
    /// true/false (SQLite stores 0/1).
    Bool,
    /// Text; `max` characters when the type says (`VARCHAR(n)`, `CHAR(n)`).
    Text { max: Option<u32> },
    /// Bytes.
    Blob,
    /// Calendar date.
    Date,
    /// Time of day.
    Time,
    /// Date and time; `tz` when the type carries a time zone.
    Timestamp { tz: bool },
    /// UUID.
    Uuid,
    /// JSON document.
    Json,
    /// IP address (PostgreSQL `inet`, `cidr`).
    Inet,
    /// MAC address (PostgreSQL `macaddr`).
    Mac,
    /// Time span (PostgreSQL `interval`).
    Interval,
    /// A PostgreSQL array of text-like values (`text[]`).
    TextArray,
}

impl Class {
    /// True for classes whose values are written as text.
    pub fn is_textual(self) -> bool {
        matches!(self, Class::Text { .. })
    }

    /// True for numeric classes.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            Class::Int { .. } | Class::Real | Class::Decimal { .. }
        )
    }

    /// True for date/time classes.
    pub fn is_temporal(self) -> bool {
        matches!(self, Class::Date | Class::Time | Class::Timestamp { .. })
    }
}

/// The class of a declared type (`""` when SQLite has none: text).
pub fn classify(declared: &str) -> Class {
    let t = declared.trim().to_ascii_lowercase();
    let (base, args) = match t.find('(') {
        Some(p) => (t[..p].trim(), numbers(&t[p..])),
        None => (t.as_str(), Vec::new()),
    };
    if base.ends_with("[]") || t.ends_with("[]") {
        return Class::TextArray;
    }
    let words: Vec<&str> = base.split_whitespace().collect();
    let has = |w: &str| words.contains(&w);
    match base {
        "bool" | "boolean" => return Class::Bool,
        "bit" if args.first().is_none_or(|n| *n == 1) => return Class::Bool,
        "uuid" | "uniqueidentifier" => return Class::Uuid,
        "json" | "jsonb" => return Class::Json,
        "inet" | "cidr" => return Class::Inet,
        "macaddr" | "macaddr8" => return Class::Mac,
        "interval" => return Class::Interval,
        "date" => return Class::Date,
        "timestamptz" => return Class::Timestamp { tz: true },
        "timetz" => return Class::Time,
        "money" => {
            return Class::Decimal {
                precision: 18,
                scale: 2,
            };
        }
        "smallint" | "int2" | "smallserial" | "serial2" => {
            return Class::Int {
                max: i16::MAX as i64,
            };
        }
        "integer" | "int" | "int4" | "serial" | "serial4" | "mediumint" => {
            return Class::Int {
                max: i32::MAX as i64,
            };
        }
        "tinyint" => return Class::Int { max: 127 },
        _ => {}
    }
    if has("timestamp") || has("datetime") || base.starts_with("timestamp") {
        return Class::Timestamp {
            tz: t.contains("with time zone"),
        };
    }
    if has("time") {
        return Class::Time;
    }
    if base.contains("int") && base != "point" {
        return Class::Int { max: i64::MAX };
    }
    if base.contains("serial") {
        return Class::Int { max: i64::MAX };
    }
    if base.starts_with("numeric") || base.starts_with("decimal") || base == "number" {
        let precision = args.first().copied().unwrap_or(18).clamp(1, 18);
        let scale = args
            .get(1)
            .copied()
            .unwrap_or(if args.is_empty() { 2 } else { 0 });
        return Class::Decimal {
            precision,
            scale: scale.min(precision.saturating_sub(1)),
        };
    }
    if base.contains("char")
        || base.contains("clob")
        || base.contains("text")
        || base == "string"
        || base == "citext"
        || base == "name"
        || base.is_empty()
    {
        return Class::Text {
            max: args.first().copied().filter(|n| *n > 0),
        };
    }
    if base.contains("blob") || base == "bytea" || base.contains("binary") {
        return Class::Blob;
    }
    if base.contains("real") || base.contains("floa") || base.contains("doub") {
        return Class::Real;
    }
    // SQLite gives anything else NUMERIC affinity; PostgreSQL's other types
    // (enums, domains) take text input.
    Class::Text { max: None }
}

/// The unsigned numbers inside a `(…)` suffix: `(10, 2)` → [10, 2].
fn numbers(s: &str) -> Vec<u32> {
    s.split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_and_postgres_types_are_classified() {
        assert_eq!(
            classify("INTEGER"),
            Class::Int {
                max: i32::MAX as i64
            }
        );
        assert_eq!(classify("UNSIGNED BIG INT"), Class::Int { max: i64::MAX });
        assert_eq!(classify("bigserial"), Class::Int { max: i64::MAX });
        assert_eq!(classify("VARCHAR(40)"), Class::Text { max: Some(40) });
        assert_eq!(
            classify("character varying(12)"),
            Class::Text { max: Some(12) }
        );
        assert_eq!(classify(""), Class::Text { max: None });
        assert_eq!(
            classify("NUMERIC(10,2)"),
            Class::Decimal {
                precision: 10,
                scale: 2
            }
        );
        assert_eq!(
            classify("timestamp with time zone"),
            Class::Timestamp { tz: true }
        );
        assert_eq!(
            classify("timestamp without time zone"),
            Class::Timestamp { tz: false }
        );
        assert_eq!(classify("DATETIME"), Class::Timestamp { tz: false });
        assert_eq!(classify("time without time zone"), Class::Time);
        assert_eq!(classify("interval"), Class::Interval);
        assert_eq!(classify("point"), Class::Text { max: None });
        assert_eq!(classify("BOOLEAN"), Class::Bool);
        assert_eq!(classify("text[]"), Class::TextArray);
        assert_eq!(classify("DOUBLE PRECISION"), Class::Real);
        assert_eq!(classify("BLOB"), Class::Blob);
        assert_eq!(classify("jsonb"), Class::Json);
    }
}
