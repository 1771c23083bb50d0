//! The nearest type across dialects, and the rewriting of expressions
//! (defaults, checks, generated columns, index predicates) that lets the
//! common ones cross: PostgreSQL casts (`'x'::text`) dropped, `= ANY
//! (ARRAY[…])` back to `IN (…)`, `true`/`false` to `1`/`0`, `now()` to
//! `CURRENT_TIMESTAMP`. What still does not parse in the target is left
//! for the loader to report, never silently changed into something else.

use crate::schema::tokens::{Kind, Token, tokenize};
use crate::schema::{Dialect, Schema, TypeDef, TypeKind};

/// A column type in the target dialect, with what the source type implies
/// beyond it (an enum's labels, a domain's checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// Declared type in the target dialect.
    pub sql_type: String,
    /// The target type is a boolean (for `0`/`1` ↔ `false`/`true`).
    pub boolean: bool,
    /// Enum labels the column is restricted to (PostgreSQL enum → CHECK).
    pub labels: Vec<String>,
    /// Domain checks, with `VALUE` standing for the column.
    pub domain_checks: Vec<String>,
    /// The domain is NOT NULL.
    pub domain_not_null: bool,
}

/// The user type `name` (as `format_type` prints it: bare in `public`,
/// else qualified, maybe quoted) of a PostgreSQL schema.
fn user_type<'a>(schema: &'a Schema, name: &str) -> Option<&'a TypeDef> {
    let bare = name.trim_end_matches("[]");
    schema.types.iter().find(|t| {
        let q = match t.namespace.as_deref() {
            Some(ns) if ns != "public" => format!("{ns}.{}", t.name),
            _ => t.name.clone(),
        };
        q == bare || format!("\"{}\"", t.name) == bare || q.replace('"', "") == bare
    })
}

/// Map a PostgreSQL column type to SQLite.
pub fn pg_to_sqlite(schema: &Schema, pg: &str) -> Mapped {
    let mut m = Mapped {
        sql_type: String::new(),
        boolean: false,
        labels: Vec::new(),
        domain_checks: Vec::new(),
        domain_not_null: false,
    };
    if pg.ends_with("[]") {
        m.sql_type = "TEXT".into();
        return m;
    }
    if let Some(t) = user_type(schema, pg) {
        match t.kind {
            TypeKind::Enum => {
                m.sql_type = "TEXT".into();
                m.labels = t.labels.clone();
            }
            TypeKind::Domain => {
                let base = t.base.clone().unwrap_or_default();
                let inner = pg_to_sqlite(schema, &base);
                m = Mapped {
                    domain_checks: t.checks.clone(),
                    domain_not_null: t.not_null,
                    ..inner
                };
            }
            TypeKind::Composite => m.sql_type = "TEXT".into(),
        }
        return m;
    }
    let lower = pg.to_ascii_lowercase();
    let (head, args) = match lower.find('(') {
        Some(i) => (lower[..i].trim(), &pg[i..]),
        None => (lower.as_str(), ""),
    };
    m.sql_type = match head {
        "smallint" | "integer" | "bigint" | "int" | "int2" | "int4" | "int8" | "oid" => {
            "INTEGER".into()
        }
        "real" | "double precision" | "float4" | "float8" => "REAL".into(),
        "numeric" | "decimal" => format!("NUMERIC{args}"),
        "money" => "NUMERIC".into(),
        "boolean" | "bool" => {
            m.boolean = true;
            "BOOLEAN".into()
        }
        "character varying" | "varchar" => format!("VARCHAR{args}"),
        "character" | "char" | "bpchar" => format!("CHAR{args}"),
        "date" => "DATE".into(),
        "time without time zone" | "time with time zone" | "time" | "timetz" => "TIME".into(),
        h if h.starts_with("timestamp") => "DATETIME".into(),
        "json" | "jsonb" => "JSON".into(),
        "bytea" => "BLOB".into(),
        // uuid, text, inet, interval, tsvector, xml, bit, …: their text form.
        _ => "TEXT".into(),
    };
    m
}

/// Map a SQLite declared type to PostgreSQL (by SQLite's own affinity
/// rules where the name is not a known one).
pub fn sqlite_to_pg(decl: &str) -> Mapped {
    let upper = decl.trim().to_ascii_uppercase();
    let (head, args) = match upper.find('(') {
        Some(i) => (upper[..i].trim().to_string(), decl.trim()[i..].to_string()),
        None => (upper.clone(), String::new()),
    };
    let sql_type = match head.as_str() {
        "" => "text".to_string(),
        // SQLite integers are 64-bit.
        "INTEGER" | "INT" | "BIGINT" | "INT8" | "MEDIUMINT" | "UNSIGNED BIG INT" => "bigint".into(),
        "SMALLINT" | "INT2" | "TINYINT" => "smallint".into(),
        "REAL" | "DOUBLE" | "DOUBLE PRECISION" | "FLOAT" => "double precision".into(),
        "NUMERIC" | "DECIMAL" => format!("numeric{args}"),
        // SQLite has no boolean type: a BOOLEAN column holds the integers
        // 0 and 1, and the schema's CHECKs, views and triggers compare it
        // with integers (`flag IN (0, 1)`, `flag = 0`), which PostgreSQL's
        // boolean rejects. It crosses as the integer it is.
        "BOOLEAN" | "BOOL" => "smallint".into(),
        "VARCHAR" | "VARYING CHARACTER" | "NVARCHAR" | "CHARACTER VARYING" => {
            format!("varchar{args}")
        }
        "CHAR" | "CHARACTER" | "NCHAR" | "NATIVE CHARACTER" => format!("char{args}"),
        "TEXT" | "CLOB" => "text".into(),
        "DATE" => "date".into(),
        "DATETIME" | "TIMESTAMP" => "timestamp".into(),
        "TIME" => "time".into(),
        "BLOB" => "bytea".into(),
        "JSON" => "json".into(),
        "UUID" => "uuid".into(),
        h if h.contains("INT") => "bigint".into(),
        h if h.contains("CHAR") || h.contains("CLOB") || h.contains("TEXT") => "text".into(),
        h if h.contains("BLOB") => "bytea".into(),
        h if h.contains("REAL") || h.contains("FLOA") || h.contains("DOUB") => {
            "double precision".into()
        }
        _ => "numeric".into(),
    };
    Mapped {
        sql_type,
        boolean: false,
        labels: Vec::new(),
        domain_checks: Vec::new(),
        domain_not_null: false,
    }
}

/// Words that can make up a PostgreSQL type name after `::`.
const TYPE_WORDS: &[&str] = &[
    "character",
    "varying",
    "double",
    "precision",
    "timestamp",
    "time",
    "with",
    "without",
    "zone",
    "bit",
];

/// Rewrite a PostgreSQL expression for SQLite (module docs).
pub fn pg_expr_to_sqlite(expr: &str) -> String {
    rewrite_any_all(&strip_casts(expr))
}

/// Drop `::type` casts; `true`/`false` → `1`/`0`; `now()` →
/// `CURRENT_TIMESTAMP`.
fn strip_casts(expr: &str) -> String {
    let Ok(toks) = tokenize(expr, Dialect::Postgres) else {
        return expr.to_string();
    };
    let mut out = String::new();
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        if t.is_punct(":") && toks.get(i + 1).is_some_and(|n| n.is_punct(":")) {
            i = skip_type(&toks, i + 2);
            continue;
        }
        if t.is_word("true") || t.is_word("false") {
            out.push_str(if t.is_word("true") { "1" } else { "0" });
        } else if t.is_word("now") && next_code_is(&toks, i, "(") {
            out.push_str("CURRENT_TIMESTAMP");
            i = skip_call_parens(&toks, i + 1);
            continue;
        } else {
            out.push_str(t.text);
        }
        i += 1;
    }
    out
}

fn next_code_is(toks: &[Token<'_>], i: usize, p: &str) -> bool {
    toks[i + 1..]
        .iter()
        .find(|t| t.is_code())
        .is_some_and(|t| t.is_punct(p))
}

/// Index after the `( … )` that opens at or after `i`.
fn skip_call_parens(toks: &[Token<'_>], mut i: usize) -> usize {
    while i < toks.len() && !toks[i].is_punct("(") {
        i += 1;
    }
    let mut depth = 0;
    while i < toks.len() {
        if toks[i].is_punct("(") {
            depth += 1;
        } else if toks[i].is_punct(")") {
            depth -= 1;
            if depth == 0 {
                return i + 1;
            }
        }
        i += 1;
    }
    i
}

/// Index after a type name starting at `i` (after `::`).
fn skip_type(toks: &[Token<'_>], mut i: usize) -> usize {
    let mut first = true;
    while i < toks.len() {
        let t = &toks[i];
        let word = t.kind == Kind::Word || t.kind == Kind::QuotedIdent;
        if word && (first || TYPE_WORDS.iter().any(|w| t.is_word(w))) {
            first = false;
            i += 1;
        } else if t.is_punct(".") && !first {
            first = true;
            i += 1;
        } else if t.kind == Kind::Space
            && !first
            && toks
                .get(i + 1)
                .is_some_and(|n| TYPE_WORDS.iter().any(|w| n.is_word(w)))
        {
            i += 1;
        } else if t.is_punct("(") && !first {
            i = skip_call_parens(toks, i);
        } else if t.is_punct("[") && toks.get(i + 1).is_some_and(|n| n.is_punct("]")) {
            i += 2;
        } else {
            break;
        }
    }
    i
}

/// `= ANY (ARRAY[a, b])` → ` IN (a, b)` and `<> ALL (ARRAY[…])` →
/// ` NOT IN (…)`, however many parentheses wrap the array.
fn rewrite_any_all(expr: &str) -> String {
    let Ok(toks) = tokenize(expr, Dialect::Postgres) else {
        return expr.to_string();
    };
    let code: Vec<usize> = (0..toks.len()).filter(|&i| toks[i].is_code()).collect();
    let mut out = String::new();
    let mut i = 0; // index into toks
    while i < toks.len() {
        if let Some(ci) = code.iter().position(|&c| c == i)
            && let Some((text, end)) = any_array(&toks, &code, ci)
        {
            out.push_str(&text);
            i = end;
            continue;
        }
        out.push_str(toks[i].text);
        i += 1;
    }
    out
}

/// Match `op QUANT ( … ( ARRAY [ list ] ) … )` at code index `ci`; the
/// rewritten text and the token index after the match.
fn any_array(toks: &[Token<'_>], code: &[usize], ci: usize) -> Option<(String, usize)> {
    let at = |k: usize| code.get(k).map(|&i| &toks[i]);
    let (neg, mut k) = if at(ci)?.is_punct("=") {
        (false, ci + 1)
    } else if at(ci)?.is_punct("<") && at(ci + 1)?.is_punct(">") {
        (true, ci + 2)
    } else {
        return None;
    };
    if !at(k)?.is_word(if neg { "ALL" } else { "ANY" }) {
        return None;
    }
    k += 1;
    let mut opened = 0;
    while at(k)?.is_punct("(") {
        opened += 1;
        k += 1;
    }
    if opened == 0 || !at(k)?.is_word("ARRAY") || !at(k + 1)?.is_punct("[") {
        return None;
    }
    let list_start = code[k + 1] + 1;
    k += 2;
    let mut depth = 0;
    while !(at(k)?.is_punct("]") && depth == 0) {
        if at(k)?.is_punct("[") {
            depth += 1;
        } else if at(k)?.is_punct("]") {
            depth -= 1;
        }
        k += 1;
    }
    let list_end = code[k];
    k += 1;
    for _ in 0..opened {
        if !at(k)?.is_punct(")") {
            return None;
        }
        k += 1;
    }
    let inner: String = toks[list_start..list_end].iter().map(|t| t.text).collect();
    let op = if neg { "NOT IN" } else { "IN" };
    Some((format!("{op} ({})", inner.trim()), code[k - 1] + 1))
}

/// Replace the word `VALUE` (a domain check's stand-in) by `column`.
pub fn replace_value(check: &str, column: &str) -> String {
    let Ok(toks) = tokenize(check, Dialect::Postgres) else {
        return check.to_string();
    };
    toks.iter()
        .map(|t| {
            if t.is_word("VALUE") {
                column.to_string()
            } else {
                t.text.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_any_arrays_and_booleans_cross_to_sqlite() {
        assert_eq!(
            pg_expr_to_sqlite("(status = ANY (ARRAY['a'::text, 'b'::text]))"),
            "(status IN ('a', 'b'))"
        );
        assert_eq!(
            pg_expr_to_sqlite("((kind)::text <> ALL ((ARRAY['x'::character varying])::text[]))"),
            "((kind) NOT IN ('x'))"
        );
        assert_eq!(pg_expr_to_sqlite("'paid'::invoice_status"), "'paid'");
        assert_eq!(pg_expr_to_sqlite("now()"), "CURRENT_TIMESTAMP");
        assert_eq!(pg_expr_to_sqlite("false"), "0");
        assert_eq!(
            pg_expr_to_sqlite("'2024-01-01 00:00:00'::timestamp without time zone"),
            "'2024-01-01 00:00:00'"
        );
        assert_eq!(
            pg_expr_to_sqlite("(length((customer_code)::text) = 5)"),
            "(length((customer_code)) = 5)"
        );
    }

    #[test]
    fn types_map_to_their_nearest() {
        let s = Schema::new(Dialect::Postgres);
        let t = |x: &str| pg_to_sqlite(&s, x).sql_type;
        assert_eq!(t("numeric(10,2)"), "NUMERIC(10,2)");
        assert_eq!(t("timestamp with time zone"), "DATETIME");
        assert_eq!(t("uuid"), "TEXT");
        assert_eq!(t("text[]"), "TEXT");
        assert_eq!(t("character varying(60)"), "VARCHAR(60)");
        assert!(pg_to_sqlite(&s, "boolean").boolean);
        let p = |x: &str| sqlite_to_pg(x).sql_type;
        assert_eq!(p("INTEGER"), "bigint");
        assert_eq!(p("VARCHAR(40)"), "varchar(40)");
        assert_eq!(p("DATETIME"), "timestamp");
        assert_eq!(p(""), "text");
        assert_eq!(p("NUMERIC(10,2)"), "numeric(10,2)");
        assert_eq!(p("BOOLEAN"), "smallint");
        assert_eq!(replace_value("(VALUE >= 0)", "\"p\""), "(\"p\" >= 0)");
    }
}
