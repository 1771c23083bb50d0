-- The normalized catalog description hashed as the schema part of the
-- PostgreSQL logical hash (src/engine/postgres/catalog.rs, docs/POSTGRES.md):
-- one row (kind, object, sub, definition) per fact that changes how the
-- database behaves, oid-free and order-independent (lists inside a
-- definition are sorted; privileges are the effective ACL, acldefault when
-- none is stored), ordered bytewise. {system} is replaced by the condition
-- that names the system's own schemas on alias n. The database's own
-- properties (owner, privileges, settings, comment) live in shared catalogs
-- and are captured with the cluster's roles (roles.sql). A column's
-- position is its ordinal among the table's live columns, not its attnum: a
-- dropped column leaves a gap in attnum, so a table whose last column was
-- dropped and added back would otherwise never hash as the same again.
WITH rel AS (
  SELECT c.oid, c.relname::text AS rel, n.nspname::text AS nsp, c.relkind,
         quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qname
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE NOT {system}),
fn AS (
  SELECT p.oid, n.nspname::text AS nsp, p.proname::text AS name, p.prokind
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE NOT {system}),
typ AS (
  SELECT t.oid, t.typname::text AS name, n.nspname::text AS nsp, t.typtype, t.typowner, t.typacl
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
  WHERE NOT {system}
    -- array types and the row types of tables are part of what made them
    AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.typarray = t.oid)
    AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
    AND t.typtype <> 'm')
SELECT kind, obj, sub, def FROM (
  SELECT 'schema' AS kind, n.nspname::text AS obj, '' AS sub,
         concat_ws(' ', 'owner ' || pg_get_userbyid(n.nspowner), 'privileges ' ||
           (SELECT string_agg(a::text, ' ' ORDER BY a::text)
            FROM unnest(coalesce(n.nspacl, acldefault('n'::"char", n.nspowner))) a)) AS def
  FROM pg_namespace n WHERE NOT {system}
  UNION ALL
  SELECT 'relation', nsp || '.' || rel, '',
         concat_ws(' ', 'kind ' || c.relkind::text, 'persistence ' || c.relpersistence::text,
                   'owner ' || pg_get_userbyid(c.relowner),
                   CASE WHEN c.relrowsecurity THEN 'ROW LEVEL SECURITY' END,
                   CASE WHEN c.relforcerowsecurity THEN 'FORCE ROW LEVEL SECURITY' END,
                   'replica identity ' || c.relreplident::text,
                   'options (' || (SELECT string_agg(o, ', ' ORDER BY o) FROM unnest(c.reloptions) o) || ')',
                   'tablespace ' || (SELECT spcname FROM pg_tablespace WHERE oid = nullif(c.reltablespace, 0)),
                   'partition of ' || (SELECT quote_ident(pn.nspname) || '.' || quote_ident(p.relname)
                                       FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
                                       JOIN pg_namespace pn ON pn.oid = p.relnamespace
                                       WHERE i.inhrelid = c.oid AND c.relispartition)
                     || ' ' || pg_get_expr(c.relpartbound, c.oid),
                   'inherits ' || (SELECT string_agg(quote_ident(pn.nspname) || '.' || quote_ident(p.relname), ', ' ORDER BY i.inhseqno)
                                   FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
                                   JOIN pg_namespace pn ON pn.oid = p.relnamespace
                                   WHERE i.inhrelid = c.oid AND NOT c.relispartition),
                   'partitioned by ' || pg_get_partkeydef(c.oid),
                   'privileges ' || (SELECT string_agg(a::text, ' ' ORDER BY a::text)
                     FROM unnest(coalesce(c.relacl, acldefault((CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::"char", c.relowner))) a))
  FROM rel JOIN pg_class c ON c.oid = rel.oid
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S', 'c')
  UNION ALL
  SELECT 'column', nsp || '.' || rel,
         lpad((row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum))::text, 5, '0') || ' ' || a.attname AS sub,
         concat_ws(' ', format_type(a.atttypid, a.atttypmod),
                   CASE WHEN a.attnotnull THEN 'NOT NULL' END,
                   'DEFAULT ' || pg_get_expr(ad.adbin, ad.adrelid),
                   'IDENTITY ' || nullif(a.attidentity::text, ''),
                   'GENERATED ' || nullif(a.attgenerated::text, ''),
                   'COLLATE ' || CASE WHEN a.attcollation <> t.typcollation
                                      THEN (SELECT collname FROM pg_collation WHERE oid = a.attcollation) END,
                   'STORAGE ' || CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END,
                   'COMPRESSION ' || nullif(a.attcompression::text, ''),
                   'options (' || (SELECT string_agg(o, ', ' ORDER BY o) FROM unnest(a.attoptions) o) || ')',
                   'privileges ' || (SELECT string_agg(x::text, ' ' ORDER BY x::text) FROM unnest(a.attacl) x))
  FROM rel JOIN pg_attribute a ON a.attrelid = rel.oid
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
  WHERE rel.relkind IN ('r', 'p', 'v', 'm', 'f', 'c') AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT 'constraint', nsp || '.' || rel, con.conname::text, pg_get_constraintdef(con.oid)
  FROM rel JOIN pg_constraint con ON con.conrelid = rel.oid
  UNION ALL
  SELECT 'index', nsp || '.' || rel, ic.relname::text,
         concat_ws(' ', pg_get_indexdef(i.indexrelid),
                   CASE WHEN i.indisclustered THEN 'CLUSTERED' END,
                   CASE WHEN i.indisreplident THEN 'REPLICA IDENTITY' END)
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
  -- user triggers, with their enabled state (O origin, D disabled, R replica, A always)
  SELECT 'trigger', nsp || '.' || rel, tg.tgname::text,
         pg_get_triggerdef(tg.oid) || ' ENABLED ' || tg.tgenabled::text
  FROM rel JOIN pg_trigger tg ON tg.tgrelid = rel.oid WHERE NOT tg.tgisinternal
  UNION ALL
  -- the internal triggers that enforce foreign keys (DISABLE TRIGGER ALL
  -- turns them off), named by their constraint: their own names carry oids
  SELECT 'constraint trigger', nsp || '.' || rel,
         con.conname || ' ' || p.proname || ' ' || tg.tgtype,
         'ENABLED ' || tg.tgenabled::text
  FROM rel JOIN pg_trigger tg ON tg.tgrelid = rel.oid
  JOIN pg_constraint con ON con.oid = tg.tgconstraint
  JOIN pg_proc p ON p.oid = tg.tgfoid
  WHERE tg.tgisinternal
  UNION ALL
  -- rules (a view's own _RETURN rule is its definition, above)
  SELECT 'rule', nsp || '.' || rel, r.rulename::text,
         pg_get_ruledef(r.oid) || ' ENABLED ' || r.ev_enabled::text
  FROM rel JOIN pg_rewrite r ON r.ev_class = rel.oid WHERE r.rulename <> '_RETURN'
  UNION ALL
  SELECT 'policy', nsp || '.' || rel, pol.polname::text,
         concat_ws(' ', CASE WHEN pol.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
                   'FOR ' || pol.polcmd::text,
                   'TO ' || (SELECT string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r) END, ', '
                                               ORDER BY CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r) END)
                             FROM unnest(pol.polroles) r),
                   'USING (' || pg_get_expr(pol.polqual, pol.polrelid) || ')',
                   'WITH CHECK (' || pg_get_expr(pol.polwithcheck, pol.polrelid) || ')')
  FROM rel JOIN pg_policy pol ON pol.polrelid = rel.oid
  UNION ALL
  SELECT 'statistics', quote_ident(n.nspname) || '.' || quote_ident(s.stxname), '',
         pg_get_statisticsobjdef(s.oid)
  FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace WHERE NOT {system}
  UNION ALL
  SELECT 'function', nsp || '.' || name, pg_get_function_identity_arguments(fn.oid),
         concat_ws(' ',
           CASE WHEN fn.prokind IN ('a', 'w') THEN fn.prokind::text ELSE pg_get_functiondef(fn.oid) END,
           'owner ' || pg_get_userbyid(p.proowner),
           'privileges ' || (SELECT string_agg(a::text, ' ' ORDER BY a::text)
                             FROM unnest(coalesce(p.proacl, acldefault('f'::"char", p.proowner))) a))
  FROM fn JOIN pg_proc p ON p.oid = fn.oid
  UNION ALL
  SELECT 'type', nsp || '.' || name, '',
         concat_ws(' ', 'kind ' || typ.typtype::text,
           CASE typ.typtype
             WHEN 'e' THEN 'labels ' || (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                                          FROM pg_enum e WHERE e.enumtypid = typ.oid)
             WHEN 'd' THEN concat_ws(' ', 'over ' || format_type(t.typbasetype, t.typtypmod),
                                     CASE WHEN t.typnotnull THEN 'NOT NULL' END, 'DEFAULT ' || t.typdefault,
                                     'COLLATE ' || (SELECT collname FROM pg_collation WHERE oid = nullif(t.typcollation, 0)))
             WHEN 'r' THEN (SELECT 'range of ' || format_type(r.rngsubtype, NULL) FROM pg_range r WHERE r.rngtypid = typ.oid)
           END,
           'owner ' || pg_get_userbyid(typ.typowner),
           'privileges ' || (SELECT string_agg(a::text, ' ' ORDER BY a::text)
                             FROM unnest(coalesce(typ.typacl, acldefault('T'::"char", typ.typowner))) a))
  FROM typ JOIN pg_type t ON t.oid = typ.oid
  UNION ALL
  SELECT 'domain constraint', quote_ident(n.nspname) || '.' || quote_ident(t.typname), con.conname::text,
         pg_get_constraintdef(con.oid)
  FROM pg_constraint con JOIN pg_type t ON t.oid = con.contypid
  JOIN pg_namespace n ON n.oid = t.typnamespace WHERE NOT {system}
  UNION ALL
  SELECT 'extension', e.extname, '',
         concat_ws(' ', 'version ' || e.extversion, 'schema ' || n.nspname,
                   'owner ' || pg_get_userbyid(e.extowner))
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
  UNION ALL
  SELECT 'event trigger', evt.evtname, '',
         concat_ws(' ', 'ON ' || evt.evtevent, 'EXECUTE ' || evt.evtfoid::regproc::text,
                   'ENABLED ' || evt.evtenabled::text, 'owner ' || pg_get_userbyid(evt.evtowner),
                   'tags ' || (SELECT string_agg(x, ', ' ORDER BY x) FROM unnest(evt.evttags) x))
  FROM pg_event_trigger evt
  UNION ALL
  SELECT 'default privileges', pg_get_userbyid(da.defaclrole),
         coalesce((SELECT nspname FROM pg_namespace WHERE oid = nullif(da.defaclnamespace, 0)), '(all schemas)')
           || ' ' || da.defaclobjtype::text,
         (SELECT string_agg(a::text, ' ' ORDER BY a::text) FROM unnest(da.defaclacl) a)
  FROM pg_default_acl da
  UNION ALL
  -- every comment on an object outside the system schemas, by its oid-free identity
  SELECT 'comment', (pg_identify_object(d.classoid, d.objoid, d.objsubid)).type,
         (pg_identify_object(d.classoid, d.objoid, d.objsubid)).identity, d.description
  FROM pg_description d WHERE d.objoid >= 16384
  UNION ALL
  SELECT 'security label', (pg_identify_object(l.classoid, l.objoid, l.objsubid)).type,
         (pg_identify_object(l.classoid, l.objoid, l.objsubid)).identity, l.provider || ' ' || l.label
  FROM pg_seclabel l WHERE l.objoid >= 16384
  UNION ALL
  -- any other object a script can create in a database, by identity
  SELECT 'object', (pg_identify_object(o.classid, o.objid, 0)).type,
         (pg_identify_object(o.classid, o.objid, 0)).identity, ''
  FROM (SELECT 'pg_cast'::regclass AS classid, oid AS objid FROM pg_cast
        UNION ALL SELECT 'pg_operator'::regclass, oid FROM pg_operator
        UNION ALL SELECT 'pg_opclass'::regclass, oid FROM pg_opclass
        UNION ALL SELECT 'pg_opfamily'::regclass, oid FROM pg_opfamily
        UNION ALL SELECT 'pg_collation'::regclass, oid FROM pg_collation
        UNION ALL SELECT 'pg_conversion'::regclass, oid FROM pg_conversion
        UNION ALL SELECT 'pg_language'::regclass, oid FROM pg_language
        UNION ALL SELECT 'pg_am'::regclass, oid FROM pg_am
        UNION ALL SELECT 'pg_ts_config'::regclass, oid FROM pg_ts_config
        UNION ALL SELECT 'pg_ts_dict'::regclass, oid FROM pg_ts_dict
        UNION ALL SELECT 'pg_ts_parser'::regclass, oid FROM pg_ts_parser
        UNION ALL SELECT 'pg_ts_template'::regclass, oid FROM pg_ts_template
        UNION ALL SELECT 'pg_foreign_data_wrapper'::regclass, oid FROM pg_foreign_data_wrapper
        UNION ALL SELECT 'pg_foreign_server'::regclass, oid FROM pg_foreign_server
        UNION ALL SELECT 'pg_user_mapping'::regclass, umid FROM pg_user_mappings -- the view: the table is superuser-only
        UNION ALL SELECT 'pg_publication'::regclass, oid FROM pg_publication
        UNION ALL SELECT 'pg_transform'::regclass, oid FROM pg_transform
        UNION ALL SELECT 'pg_largeobject_metadata'::regclass, oid FROM pg_largeobject_metadata) o
  WHERE o.objid >= 16384
) s
ORDER BY kind COLLATE "C", obj COLLATE "C", sub COLLATE "C", def COLLATE "C"
