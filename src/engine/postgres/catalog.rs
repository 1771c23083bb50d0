//! The parts of the PostgreSQL logical hash that are not table rows: the
//! normalized catalog description (the schema part) and the sequence state,
//! kept in the form of SQLite's `sqlite_sequence` so it compares across
//! backends. See [`super::logical`].

use super::logical::{SEQUENCE_SEGMENT, put_str};
use super::{PgError, quote_ident, sql_err};
use crate::engine::sqlite::logical::TableDigest;
use postgres::GenericClient;
use sha2::{Digest, Sha256};

/// SQL condition on the `pg_namespace` row `n`: true for the system's own
/// schemas, the only ones the hash leaves out: `pg_catalog`,
/// `information_schema`, `pg_toast` (out-of-line storage of hashed tables,
/// named after oids) and the per-session temporary schemas `pg_temp_N` and
/// `pg_toast_temp_N` (PostgreSQL itself tells temporary schemas by exactly
/// that name, `isAnyTempNamespace`). Names are compared exactly, never by
/// pattern: every other schema is state, rollproof's own `rollproof_meta`
/// included (only the rows of its provenance table are left out, see
/// [`PROVENANCE_ROWS`]).
pub fn system_schema(n: &str) -> String {
    format!(
        "({n}.nspname IN ('pg_catalog', 'information_schema', 'pg_toast') \
         OR {n}.nspname ~ '^pg_(toast_)?temp_[1-9][0-9]*$')"
    )
}

/// The one relation whose rows are not hashed: rollproof's provenance
/// record (`rollproof_meta.provenance`, written when rollproof creates a
/// database; every clone gets its own row naming itself). Its definition
/// (columns, key, owner, privileges) is hashed like any table's.
pub const PROVENANCE_ROWS: (&str, &str) = (super::guard::SCHEMA, "provenance");

/// One used sequence: the owning table's name (or the sequence's own name
/// when no column owns it), the sequence as SQL, and its last value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SequenceRow {
    /// Owning table (bare in `public`, else `schema.table`) or sequence name.
    pub name: String,
    /// Last value handed out.
    pub last_value: i64,
    /// The sequence, quoted and schema-qualified, for `setval`.
    pub sequence: String,
}

/// Sequence state as SQLite's `sqlite_sequence` table: every sequence that
/// has been used, sorted by (name, value). `None` when the database has no
/// sequences at all (as SQLite has no `sqlite_sequence` then).
pub fn sequence_rows(
    client: &mut impl GenericClient,
    db: &str,
) -> Result<Option<Vec<SequenceRow>>, PgError> {
    let rows = client
        .query(
            &format!(
                "SELECT s.schemaname::text, s.sequencename::text, s.last_value,
                        tn.nspname::text, t.relname::text
                 FROM pg_sequences s
                 JOIN pg_namespace sn ON sn.nspname = s.schemaname
                 JOIN pg_class sc ON sc.relnamespace = sn.oid AND sc.relname = s.sequencename
                 LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = sc.oid
                      AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                 LEFT JOIN pg_class t ON t.oid = d.refobjid
                 LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
                 WHERE NOT {}",
                system_schema("sn")
            ),
            &[],
        )
        .map_err(sql_err("reading sequences", db))?;
    if rows.is_empty() {
        return Ok(None);
    }
    let qualify = |schema: &str, name: &str| {
        if schema == "public" {
            name.to_string()
        } else {
            format!("{schema}.{name}")
        }
    };
    let mut out: Vec<SequenceRow> = rows
        .into_iter()
        .filter_map(|r| {
            let (schema, seq): (String, String) = (r.get(0), r.get(1));
            let last: Option<i64> = r.get(2);
            let name = match (r.get::<_, Option<String>>(3), r.get::<_, Option<String>>(4)) {
                (Some(ts), Some(table)) => qualify(&ts, &table),
                _ => qualify(&schema, &seq),
            };
            last.map(|v| SequenceRow {
                name,
                last_value: v,
                sequence: format!("{}.{}", quote_ident(&schema), quote_ident(&seq)),
            })
        })
        .collect();
    out.sort_by(|a, b| (a.name.as_bytes(), a.last_value).cmp(&(b.name.as_bytes(), b.last_value)));
    Ok(Some(out))
}

/// Digest of the sequence segment, encoded as SQLite's `sqlite_sequence`.
pub fn sequence_digest(rows: &[(String, i64)]) -> TableDigest {
    let mut h = Sha256::new();
    put_str(&mut h, b"table");
    put_str(&mut h, SEQUENCE_SEGMENT.as_bytes());
    h.update(2u64.to_be_bytes());
    put_str(&mut h, b"name");
    put_str(&mut h, b"seq");
    for (name, seq) in rows {
        h.update(b"R");
        h.update(b"T");
        put_str(&mut h, name.as_bytes());
        h.update(b"I");
        h.update(seq.to_be_bytes());
    }
    h.update(b"E");
    h.update((rows.len() as u64).to_be_bytes());
    TableDigest {
        rows: rows.len() as u64,
        sha256: hex::encode(h.finalize()),
    }
}

/// The normalized catalog description hashed as the schema part: one row
/// per column, constraint, index, sequence, function, view and trigger.
fn schema_query() -> String {
    SCHEMA_QUERY_TEXT.replace("{system}", &system_schema("n"))
}

const SCHEMA_QUERY_TEXT: &str = "
WITH rel AS (
  SELECT c.oid, c.relname::text AS rel, n.nspname::text AS nsp, c.relkind
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE NOT {system})
SELECT kind, obj, sub, def FROM (
  SELECT 'column' AS kind, nsp || '.' || rel AS obj,
         lpad(a.attnum::text, 5, '0') || ' ' || a.attname AS sub,
         concat_ws(' ', format_type(a.atttypid, a.atttypmod),
                   CASE WHEN a.attnotnull THEN 'NOT NULL' END,
                   'DEFAULT ' || pg_get_expr(ad.adbin, ad.adrelid),
                   'IDENTITY ' || nullif(a.attidentity::text, ''),
                   'GENERATED ' || nullif(a.attgenerated::text, ''),
                   'COLLATE ' || CASE WHEN a.attcollation <> t.typcollation
                                      THEN (SELECT collname FROM pg_collation WHERE oid = a.attcollation) END) AS def
  FROM rel JOIN pg_attribute a ON a.attrelid = rel.oid
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
  WHERE rel.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT 'constraint', nsp || '.' || rel, con.conname::text, pg_get_constraintdef(con.oid)
  FROM rel JOIN pg_constraint con ON con.conrelid = rel.oid
  UNION ALL
  SELECT 'index', nsp || '.' || rel, ic.relname::text, pg_get_indexdef(i.indexrelid)
  FROM rel JOIN pg_index i ON i.indrelid = rel.oid JOIN pg_class ic ON ic.oid = i.indexrelid
  UNION ALL
  SELECT 'sequence', nsp || '.' || rel, '',
         concat_ws(' ', format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin,
                   s.seqmax, s.seqcache, s.seqcycle)
  FROM rel JOIN pg_sequence s ON s.seqrelid = rel.oid
  UNION ALL
  SELECT 'view', nsp || '.' || rel, '', pg_get_viewdef(rel.oid)
  FROM rel WHERE rel.relkind IN ('v', 'm')
  UNION ALL
  SELECT 'trigger', nsp || '.' || rel, tg.tgname::text, pg_get_triggerdef(tg.oid)
  FROM rel JOIN pg_trigger tg ON tg.tgrelid = rel.oid WHERE NOT tg.tgisinternal
  UNION ALL
  SELECT 'function', n.nspname || '.' || p.proname,
         pg_get_function_identity_arguments(p.oid),
         CASE WHEN p.prokind IN ('a', 'w') THEN p.prokind::text ELSE pg_get_functiondef(p.oid) END
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE NOT {system}
) s
ORDER BY kind COLLATE \"C\", obj COLLATE \"C\", sub COLLATE \"C\", def COLLATE \"C\"";

/// SHA-256 over the normalized catalog description (the schema part).
pub fn schema_digest(tx: &mut impl GenericClient, db: &str) -> Result<String, PgError> {
    let mut h = Sha256::new();
    put_str(&mut h, b"schema");
    for row in tx
        .query(&schema_query(), &[])
        .map_err(sql_err("describing the schema", db))?
    {
        h.update(b"S");
        for i in 0..4 {
            match row.get::<_, Option<String>>(i) {
                Some(s) => {
                    h.update(b"T");
                    put_str(&mut h, s.as_bytes());
                }
                None => h.update(b"N"),
            }
        }
    }
    Ok(hex::encode(h.finalize()))
}
