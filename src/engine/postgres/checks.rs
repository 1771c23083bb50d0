//! The PostgreSQL counterparts of SQLite's `PRAGMA integrity_check` and
//! `PRAGMA foreign_key_check`, at the catalog and row level:
//!
//! - integrity: every index is valid and ready, every constraint validated
//!   (an interrupted `CREATE INDEX CONCURRENTLY` or a `NOT VALID` constraint
//!   shows up here); page-level checks need the `amcheck` extension, which
//!   would be a write, so they are not run;
//! - foreign keys: every foreign key re-checked over the rows (MATCH SIMPLE:
//!   rows with a NULL in the key are skipped), so rows written while triggers
//!   were disabled are found too.

use super::{PgError, quote_ident, sql_err};
use postgres::GenericClient;

/// Messages kept in the integrity result at most.
const MESSAGES: usize = 10;

/// (`ok` or the problems joined by `; `, foreign-key violations).
pub fn run(c: &mut impl GenericClient, db: &str) -> Result<(String, u64), PgError> {
    let system = super::catalog::system_schema("n");
    let mut problems: Vec<String> = c
        .query(
            &format!(
                "SELECT 'index ' || ic.relname || ' on ' || t.relname || ' is not valid'
                 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                 JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
                 WHERE (NOT i.indisvalid OR NOT i.indisready) AND NOT {system}
                 UNION ALL
                 SELECT 'constraint ' || con.conname || ' on ' || t.relname || ' is not validated'
                 FROM pg_constraint con JOIN pg_class t ON t.oid = con.conrelid
                 JOIN pg_namespace n ON n.oid = t.relnamespace
                 WHERE NOT con.convalidated AND NOT {system}
                 ORDER BY 1"
            ),
            &[],
        )
        .map_err(sql_err("integrity check", db))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let more = problems.len().saturating_sub(MESSAGES);
    problems.truncate(MESSAGES);
    let mut integrity = if problems.is_empty() {
        "ok".to_string()
    } else {
        problems.join("; ")
    };
    if more > 0 {
        integrity.push_str(&format!("; … {more} more"));
    }

    let fks = c
        .query(
            &format!(
                "SELECT quote_ident(n.nspname) || '.' || quote_ident(ct.relname),
                        quote_ident(pn.nspname) || '.' || quote_ident(pt.relname),
                        (SELECT array_agg(a.attname::text ORDER BY k.i) FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
                           JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n),
                        (SELECT array_agg(a.attname::text ORDER BY k.i) FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
                           JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n)
                 FROM pg_constraint con
                 JOIN pg_class ct ON ct.oid = con.conrelid JOIN pg_namespace n ON n.oid = ct.relnamespace
                 JOIN pg_class pt ON pt.oid = con.confrelid JOIN pg_namespace pn ON pn.oid = pt.relnamespace
                 WHERE con.contype = 'f' AND NOT {system}
                 ORDER BY con.conname"
            ),
            &[],
        )
        .map_err(sql_err("reading foreign keys", db))?;
    let mut violations = 0u64;
    for fk in fks {
        let (child, parent): (String, String) = (fk.get(0), fk.get(1));
        let (ccols, pcols): (Vec<String>, Vec<String>) = (fk.get(2), fk.get(3));
        let not_null: Vec<String> = ccols
            .iter()
            .map(|c| format!("c.{} IS NOT NULL", quote_ident(c)))
            .collect();
        let join: Vec<String> = ccols
            .iter()
            .zip(&pcols)
            .map(|(c, p)| format!("p.{} = c.{}", quote_ident(p), quote_ident(c)))
            .collect();
        let n: i64 = c
            .query_one(
                &format!(
                    "SELECT count(*) FROM {child} c WHERE {} AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE {})",
                    not_null.join(" AND "),
                    join.join(" AND ")
                ),
                &[],
            )
            .map_err(sql_err("foreign key check", db))?
            .get(0);
        violations += n.max(0) as u64;
    }
    Ok((integrity, violations))
}
