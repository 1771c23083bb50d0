//! User-defined types of a PostgreSQL schema: enums (labels in sort
//! order), domains (base type, default, NOT NULL, checks) and composite
//! types (attributes), each with the `CREATE TYPE` / `CREATE DOMAIN` that
//! re-creates it. Members of extensions are left to their extension.

use super::{ReadError, not_extension_member, sql};
use crate::schema::{TypeDef, TypeKind};
use postgres::GenericClient;

/// Read every enum, domain and composite type of namespaces `ns`.
pub fn read_types(tx: &mut impl GenericClient, ns: &[u32]) -> Result<Vec<TypeDef>, ReadError> {
    let rows = tx
        .query(
            &format!(
                "SELECT n.nspname::text, t.typname::text, t.typtype::text,
                        CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END,
                        t.typnotnull, t.typdefault,
                        ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid
                              ORDER BY e.enumsortorder),
                        ARRAY(SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
                              WHERE c.contypid = t.oid ORDER BY c.conname COLLATE \"C\"),
                        ARRAY(SELECT quote_ident(a.attname::text) || ' ' || format_type(a.atttypid, a.atttypmod)
                              FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0
                                AND NOT a.attisdropped ORDER BY a.attnum),
                        CASE WHEN n.nspname = 'public' THEN quote_ident(t.typname::text)
                             ELSE quote_ident(n.nspname::text) || '.' || quote_ident(t.typname::text) END
                 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                 WHERE t.typnamespace = ANY($1) AND t.typtype IN ('e', 'd', 'c')
                   AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
                   AND {}
                 ORDER BY n.nspname COLLATE \"C\", t.typname COLLATE \"C\"",
                not_extension_member("t.oid", "pg_type")
            ),
            &[&ns],
        )
        .map_err(sql("types"))?;
    Ok(rows
        .iter()
        .map(|r| {
            let kind: String = r.get(2);
            let base: Option<String> = r.get(3);
            let not_null: bool = r.get(4);
            let default: Option<String> = r.get(5);
            let labels: Vec<String> = r.get(6);
            let checks: Vec<String> = r.get(7);
            let attributes: Vec<String> = r.get(8);
            let qname: String = r.get(9);
            let (kind, sql) = match kind.as_str() {
                "e" => {
                    let list: Vec<String> = labels.iter().map(|l| quote_literal(l)).collect();
                    (
                        TypeKind::Enum,
                        format!("CREATE TYPE {qname} AS ENUM ({});", list.join(", ")),
                    )
                }
                "d" => {
                    let mut s = format!(
                        "CREATE DOMAIN {qname} AS {}",
                        base.clone().unwrap_or_default()
                    );
                    if let Some(d) = &default {
                        s.push_str(&format!(" DEFAULT {d}"));
                    }
                    if not_null {
                        s.push_str(" NOT NULL");
                    }
                    for c in &checks {
                        s.push(' ');
                        s.push_str(c);
                    }
                    s.push(';');
                    (TypeKind::Domain, s)
                }
                _ => (
                    TypeKind::Composite,
                    format!("CREATE TYPE {qname} AS ({});", attributes.join(", ")),
                ),
            };
            TypeDef {
                namespace: Some(r.get(0)),
                name: r.get(1),
                kind,
                labels,
                base,
                not_null,
                default,
                checks: checks.iter().map(|c| super::check_expr(c)).collect(),
                sql,
            }
        })
        .collect())
}

/// A SQL string literal.
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
