//! The catalog objects of a PostgreSQL schema beside its tables: indexes
//! that back no constraint, views and materialized views, triggers,
//! sequences, functions and procedures, and the objects the model does not
//! carry (row-level security policies, rules, aggregates), each with the
//! deparsed SQL that re-creates it.

use super::{ReadError, Unmodelled, not_extension_member, sql};
use crate::schema::{Index, IndexKey, Routine, Sequence, Trigger, View};
use postgres::GenericClient;

pub fn read_indexes(tx: &mut impl GenericClient, ns: &[u32]) -> Result<Vec<Index>, ReadError> {
    let rows = tx
        .query(
            "SELECT n.nspname::text, ic.relname::text, t.relname::text, i.indisunique,
                    pg_get_expr(i.indpred, i.indrelid), pg_get_indexdef(i.indexrelid),
                    ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)
                          FROM generate_series(1, i.indnkeyatts) k ORDER BY k),
                    ARRAY(SELECT (i.indkey::int2[])[k - 1] = 0
                          FROM generate_series(1, i.indnkeyatts) k ORDER BY k)
             FROM pg_index i
             JOIN pg_class ic ON ic.oid = i.indexrelid
             JOIN pg_class t ON t.oid = i.indrelid
             JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE t.relnamespace = ANY($1) AND t.relkind IN ('r', 'm')
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid
                               AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x'))
             ORDER BY n.nspname COLLATE \"C\", ic.relname COLLATE \"C\"",
            &[&ns],
        )
        .map_err(sql("indexes"))?;
    Ok(rows
        .iter()
        .map(|r| {
            let parts: Vec<String> = r.get(6);
            let exprs: Vec<bool> = r.get(7);
            Index {
                namespace: Some(r.get(0)),
                name: r.get(1),
                table: r.get(2),
                columns: parts
                    .into_iter()
                    .zip(exprs)
                    .map(|(p, e)| {
                        if e {
                            IndexKey::Expr(p)
                        } else {
                            IndexKey::Column(unquote(&p))
                        }
                    })
                    .collect(),
                unique: r.get(3),
                predicate: r.get(4),
                sql: Some(r.get(5)),
            }
        })
        .collect())
}

/// A column name as `pg_get_indexdef` prints it (quoted when needed).
fn unquote(s: &str) -> String {
    match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => s.to_string(),
    }
}

pub fn read_views(tx: &mut impl GenericClient, ns: &[u32]) -> Result<Vec<View>, ReadError> {
    let rows = tx
        .query(
            &format!(
                "SELECT n.nspname::text, c.relname::text, c.relkind = 'm', c.relispopulated,
                        pg_get_viewdef(c.oid, true), array_to_string(c.reloptions, ', '),
                        CASE WHEN n.nspname = 'public' THEN quote_ident(c.relname::text)
                             ELSE quote_ident(n.nspname::text) || '.' || quote_ident(c.relname::text) END
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relnamespace = ANY($1) AND c.relkind IN ('v', 'm') AND {}
                 ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\"",
                not_extension_member("c.oid", "pg_class")
            ),
            &[&ns],
        )
        .map_err(sql("views"))?;
    Ok(rows
        .iter()
        .map(|r| {
            let materialized: bool = r.get(2);
            let populated: bool = r.get(3);
            let def: String = r.get(4);
            let def = def.trim().trim_end_matches(';').trim_end();
            let options: Option<String> = r.get(5);
            let with = options
                .filter(|o| !o.is_empty())
                .map(|o| format!(" WITH ({o})"))
                .unwrap_or_default();
            let qname: String = r.get(6);
            let sql = if materialized {
                let data = if populated { "" } else { "\nWITH NO DATA" };
                format!("CREATE MATERIALIZED VIEW {qname}{with} AS\n{def}{data};")
            } else {
                format!("CREATE VIEW {qname}{with} AS\n{def};")
            };
            View {
                namespace: Some(r.get(0)),
                name: r.get(1),
                materialized,
                sql,
            }
        })
        .collect())
}

pub fn read_triggers(tx: &mut impl GenericClient, ns: &[u32]) -> Result<Vec<Trigger>, ReadError> {
    let rows = tx
        .query(
            "SELECT n.nspname::text, tg.tgname::text, c.relname::text, pg_get_triggerdef(tg.oid, false)
             FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relnamespace = ANY($1) AND NOT tg.tgisinternal
             ORDER BY n.nspname COLLATE \"C\", tg.tgname COLLATE \"C\", c.relname COLLATE \"C\"",
            &[&ns],
        )
        .map_err(sql("triggers"))?;
    Ok(rows
        .iter()
        .map(|r| Trigger {
            namespace: Some(r.get(0)),
            name: r.get(1),
            table: r.get(2),
            sql: format!("{};", r.get::<_, String>(3)),
        })
        .collect())
}

pub fn read_sequences(tx: &mut impl GenericClient, ns: &[u32]) -> Result<Vec<Sequence>, ReadError> {
    let rows = tx
        .query(
            "SELECT n.nspname::text, c.relname::text, s.seqstart, s.seqincrement,
                    CASE WHEN tn.nspname = 'public' THEN t.relname::text
                         ELSE tn.nspname::text || '.' || t.relname::text END || '.' || a.attname::text,
                    d.deptype = 'i',
                    format_type(s.seqtypid, NULL), s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
                    CASE WHEN n.nspname = 'public' THEN quote_ident(c.relname::text)
                         ELSE quote_ident(n.nspname::text) || '.' || quote_ident(c.relname::text) END
             FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
                  AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
             LEFT JOIN pg_class t ON t.oid = d.refobjid
             LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
             LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
             WHERE c.relnamespace = ANY($1)
             ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\"",
            &[&ns],
        )
        .map_err(sql("sequences"))?;
    Ok(rows
        .iter()
        .map(|r| {
            let (start, inc): (i64, i64) = (r.get(2), r.get(3));
            let ty: String = r.get(6);
            let (min, max, cache, cycle): (i64, i64, i64, bool) =
                (r.get(7), r.get(8), r.get(9), r.get(10));
            let qname: String = r.get(11);
            let cycle = if cycle { " CYCLE" } else { "" };
            Sequence {
                namespace: Some(r.get(0)),
                name: r.get(1),
                owned_by: r.get(4),
                identity: r.get::<_, Option<bool>>(5).unwrap_or(false),
                start,
                increment: inc,
                sql: Some(format!(
                    "CREATE SEQUENCE {qname} AS {ty} START WITH {start} INCREMENT BY {inc} MINVALUE {min} MAXVALUE {max} CACHE {cache}{cycle};"
                )),
            }
        })
        .collect())
}

pub fn read_routines(
    tx: &mut impl GenericClient,
    ns: &[u32],
    unmodelled: &mut Vec<Unmodelled>,
) -> Result<Vec<Routine>, ReadError> {
    let rows = tx
        .query(
            &format!(
                "SELECT n.nspname::text, p.proname::text, p.prokind::text,
                        pg_get_function_identity_arguments(p.oid),
                        CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) END
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE p.pronamespace = ANY($1) AND {}
                 ORDER BY n.nspname COLLATE \"C\", p.proname COLLATE \"C\", pg_get_function_identity_arguments(p.oid) COLLATE \"C\"",
                not_extension_member("p.oid", "pg_proc")
            ),
            &[&ns],
        )
        .map_err(sql("functions"))?;
    let mut out = Vec::new();
    for r in rows {
        let (nsp, name, kind, args): (String, String, String, String) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        match r.get::<_, Option<String>>(4) {
            Some(def) => out.push(Routine {
                namespace: Some(nsp),
                name,
                kind: if kind == "p" { "procedure" } else { "function" }.into(),
                arguments: args,
                sql: format!("{};", def.trim_end()),
            }),
            None => unmodelled.push(Unmodelled {
                kind: if kind == "a" {
                    "aggregate"
                } else {
                    "window function"
                }
                .into(),
                name: format!("{nsp}.{name}({args})"),
            }),
        }
    }
    Ok(out)
}

pub fn read_unmodelled(
    tx: &mut impl GenericClient,
    ns: &[u32],
    out: &mut Vec<Unmodelled>,
) -> Result<(), ReadError> {
    let rows = tx
        .query(
            "SELECT 'policy', n.nspname::text || '.' || c.relname::text || '.' || p.polname::text
             FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relnamespace = ANY($1)
             UNION ALL
             SELECT 'rule', n.nspname::text || '.' || c.relname::text || '.' || r.rulename::text
             FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relnamespace = ANY($1) AND r.rulename <> '_RETURN'
             ORDER BY 1, 2",
            &[&ns],
        )
        .map_err(sql("policies and rules"))?;
    out.extend(rows.iter().map(|r| Unmodelled {
        kind: r.get(0),
        name: r.get(1),
    }));
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn index_columns_unquote() {
        assert_eq!(super::unquote("\"Weird\"\"Name\""), "Weird\"Name");
        assert_eq!(super::unquote("plain"), "plain");
    }
}
