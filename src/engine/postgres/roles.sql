-- The cluster-wide state a rehearsal must leave as it found it
-- (src/engine/postgres/roles.rs): every role with its attributes, every
-- membership, every per-role and per-database setting, the tablespaces, and
-- the rehearsed database's own properties ($1: its name), all of which live
-- in shared catalogs, outside any one database's content. One row (kind,
-- object, sub, definition), ordered bytewise. {password} is the expression
-- for a role's password: a short digest when pg_authid is readable, else
-- nothing (the password itself is never read into a report).
SELECT kind, obj, sub, def FROM (
  SELECT 'role' AS kind, r.rolname::text AS obj, '' AS sub,
         concat_ws(' ',
           CASE WHEN r.rolsuper THEN 'SUPERUSER' ELSE 'NOSUPERUSER' END,
           CASE WHEN r.rolinherit THEN 'INHERIT' ELSE 'NOINHERIT' END,
           CASE WHEN r.rolcreaterole THEN 'CREATEROLE' ELSE 'NOCREATEROLE' END,
           CASE WHEN r.rolcreatedb THEN 'CREATEDB' ELSE 'NOCREATEDB' END,
           CASE WHEN r.rolcanlogin THEN 'LOGIN' ELSE 'NOLOGIN' END,
           CASE WHEN r.rolreplication THEN 'REPLICATION' ELSE 'NOREPLICATION' END,
           CASE WHEN r.rolbypassrls THEN 'BYPASSRLS' ELSE 'NOBYPASSRLS' END,
           'CONNECTION LIMIT ' || r.rolconnlimit,
           'VALID UNTIL ' || to_char(r.rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
           {password}) AS def
  FROM pg_roles r
  -- this run's own sandbox role, by its exact name ($2; '' when there is
  -- none): its name differs in every run (see roles.rs)
  WHERE r.rolname::text <> $2
  UNION ALL
  SELECT 'membership', g.rolname::text, m.rolname::text,
         concat_ws(' ', CASE WHEN am.admin_option THEN 'WITH ADMIN OPTION' END,
                   'GRANTED BY ' || pg_get_userbyid(am.grantor))
  FROM pg_auth_members am JOIN pg_roles g ON g.oid = am.roleid JOIN pg_roles m ON m.oid = am.member
  UNION ALL
  SELECT 'role setting', coalesce(pg_get_userbyid(nullif(s.setrole, 0)), '(all roles)'),
         coalesce((SELECT datname FROM pg_database WHERE oid = nullif(s.setdatabase, 0)), '(all databases)'),
         (SELECT string_agg(c, ', ' ORDER BY c) FROM unnest(s.setconfig) c)
  FROM pg_db_role_setting s
  -- per-role settings everywhere, and every setting of the rehearsed database
  WHERE s.setdatabase = 0 OR s.setdatabase = (SELECT oid FROM pg_database WHERE datname = $1)
  UNION ALL
  SELECT 'database', d.datname::text, '',
         concat_ws(' ', 'owner ' || pg_get_userbyid(d.datdba),
                   'encoding ' || pg_encoding_to_char(d.encoding),
                   'collate ' || d.datcollate, 'ctype ' || d.datctype,
                   'connection limit ' || d.datconnlimit,
                   'privileges ' || (SELECT string_agg(a::text, ' ' ORDER BY a::text)
                                     FROM unnest(coalesce(d.datacl, acldefault('d'::"char", d.datdba))) a),
                   'comment ' || quote_literal(shobj_description(d.oid, 'pg_database')))
  FROM pg_database d WHERE d.datname = $1
  UNION ALL
  SELECT 'tablespace', spcname::text, '',
         concat_ws(' ', 'owner ' || pg_get_userbyid(spcowner),
                   'options (' || (SELECT string_agg(o, ', ' ORDER BY o) FROM unnest(spcoptions) o) || ')')
  FROM pg_tablespace
) s
ORDER BY kind COLLATE "C", obj COLLATE "C", sub COLLATE "C", def COLLATE "C"
