//! The PostgreSQL sandbox for user SQL: every change script runs on its own
//! connection, logged in as a role created for this one rehearsal,
//! `rollproof_r_<run id in letters>` ([`role_name`]; so one a crash left
//! behind is recognisable), and dropped at the end. It is the one role the
//! cluster comparison leaves out, by that exact name (`roles.rs`).
//!
//! The role is `LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
//! NOBYPASSRLS NOINHERIT`, a member of no role at all (so neither of
//! `pg_execute_server_program`, `pg_read_server_files`,
//! `pg_write_server_files` nor any other), checked after creation. It owns
//! the rehearsal database's objects (its schemas, tables, views, sequences,
//! routines and types, outside `rollproof_meta`) and may connect to it,
//! create schemas and temporary tables in it; nothing else on the server.
//! So a script cannot `COPY … TO PROGRAM`, read or write server files,
//! drop or alter a database, create roles, or reach rollproof's
//! provenance record — the server refuses, and the refusal is the
//! statement's error. `SET ROLE` on rollproof's connection would not do:
//! a script could `RESET ROLE`; here there is nothing to reset to.
//! rollproof's own (admin) connection never runs user SQL.

use super::guard::Target;
use super::{PgError, quote_ident, sql_err};
use postgres::Client;

/// Prefix of every sandbox role rollproof creates.
pub const ROLE_PREFIX: &str = "rollproof_r_";

/// Attributes the sandbox role is created with (and must show).
const ATTRIBUTES: &str = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT CONNECTION LIMIT 8";

/// The per-rehearsal role.
#[derive(Debug, Clone)]
pub struct Sandbox {
    /// The role's name, [`role_name`] of the run id.
    pub role: String,
    password: String,
}

/// A random password only this process knows.
fn password() -> Result<String, PgError> {
    let mut bytes = [0u8; 24];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom")
            .map_err(|e| PgError::Invalid(format!("cannot read /dev/urandom: {e}")))?,
        &mut bytes,
    )
    .map_err(|e| PgError::Invalid(format!("cannot read /dev/urandom: {e}")))?;
    Ok(hex::encode(bytes))
}

/// The role name for run `run_id` (hex digits): [`ROLE_PREFIX`] and the
/// id spelled in the letters `a`..`p` (0 → a, …, f → p). Letters, because
/// the role's name appears in every owner and ACL entry of the database's
/// description (`rollproof_r_xxxx=arwdDxt/rollproof_r_xxxx`), and a name
/// with digits makes those entries look like a random token to the secret
/// scan (`evidence::redact`), which would hide every privilege in a diff.
pub fn role_name(run_id: &str) -> Result<String, PgError> {
    if run_id.is_empty() || run_id.len() > 40 || !run_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(PgError::Invalid(format!(
            "run id {run_id:?} cannot name a sandbox role"
        )));
    }
    let letters: String = run_id
        .chars()
        .filter_map(|c| c.to_digit(16))
        .map(|d| char::from(b'a' + d as u8))
        .collect();
    Ok(format!("{ROLE_PREFIX}{letters}"))
}

impl Sandbox {
    /// Create the role for run `run_id` on `target`'s server, check it has
    /// no privilege beyond logging in, and let it into database `target`.
    pub fn create(target: &Target, run_id: &str) -> Result<Sandbox, PgError> {
        let role = role_name(run_id)?;
        let sb = Sandbox {
            role,
            password: password()?,
        };
        let mut admin = target.connect_maintenance()?;
        admin
            .batch_execute(&format!(
                "CREATE ROLE {} {ATTRIBUTES} PASSWORD '{}'",
                quote_ident(&sb.role),
                sb.password
            ))
            .map_err(sql_err("creating the sandbox role", "postgres"))?;
        // Checked, then written in the workspace's role ledger so `clean`
        // can drop it if this process dies before it does.
        let kept = sb
            .check(&mut admin)
            .and_then(|()| super::role_ledger::remember(&mut admin, target, &sb.role));
        if let Err(e) = kept {
            let _ = sb.drop_role(target);
            return Err(e);
        }
        Ok(sb)
    }

    /// The role has exactly the attributes asked for and no membership.
    fn check(&self, admin: &mut Client) -> Result<(), PgError> {
        let row = admin
            .query_one(
                "SELECT r.rolsuper OR r.rolcreatedb OR r.rolcreaterole OR r.rolreplication OR r.rolbypassrls OR r.rolinherit,
                        (SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid)
                 FROM pg_roles r WHERE r.rolname = $1",
                &[&self.role],
            )
            .map_err(sql_err("checking the sandbox role", "postgres"))?;
        let (privileged, memberships): (bool, i64) = (row.get(0), row.get(1));
        if privileged || memberships > 0 {
            return Err(PgError::Invalid(format!(
                "the sandbox role {} came out privileged (attributes or {memberships} membership(s)); refusing to run scripts as it",
                self.role
            )));
        }
        Ok(())
    }

    /// Give the role database `db`: connect, create schemas and temporary
    /// tables, and own every object outside the system schemas and
    /// `rollproof_meta`. `client` is rollproof's (admin) connection to
    /// `db`. Run again after a restore replaced the database.
    pub fn grant(&self, client: &mut Client, db: &str) -> Result<(), PgError> {
        let role = quote_ident(&self.role);
        let mut sql = vec![format!(
            "GRANT CONNECT, TEMPORARY, CREATE ON DATABASE {} TO {role}",
            quote_ident(db)
        )];
        let rows = client.query(OWNED_OBJECTS, &[]).map_err(sql_err(
            "listing the objects to hand to the sandbox role",
            db,
        ))?;
        for r in rows {
            let (kind, name): (String, String) = (r.get(0), r.get(1));
            sql.push(format!("ALTER {kind} {name} OWNER TO {role}"));
        }
        let mut tx = client.transaction().map_err(sql_err("BEGIN", db))?;
        for s in &sql {
            tx.batch_execute(s).map_err(sql_err(
                &format!("handing objects to the sandbox role ({s})"),
                db,
            ))?;
        }
        tx.commit().map_err(sql_err("COMMIT", db))
    }

    /// Connect to `target`'s database as the role. Row security is off for
    /// the session: a query that a policy would filter fails instead of
    /// showing a filtered view (rollproof measures on this connection
    /// inside an open transaction).
    pub fn connect(&self, target: &Target) -> Result<Client, PgError> {
        let mut t = target.clone();
        t.config.user(&self.role);
        t.config.password(self.password.as_bytes());
        let mut c = t.connect()?;
        c.batch_execute("SET row_security = off")
            .map_err(sql_err("session setup", &target.dbname))?;
        Ok(c)
    }

    /// Drop the role: end its sessions, then in each of rollproof's own
    /// databases where it still owns or holds something hand that back to
    /// the admin and revoke it, then drop the role.
    pub fn drop_role(&self, target: &Target) -> Result<(), PgError> {
        drop_role(target, &self.role)
    }
}

/// Drop sandbox role `role` (see [`Sandbox::drop_role`]); only names with
/// [`ROLE_PREFIX`], only in databases the guard says rollproof created.
pub fn drop_role(target: &Target, role: &str) -> Result<(), PgError> {
    if !role.starts_with(ROLE_PREFIX) {
        return Err(PgError::Invalid(format!(
            "{role} is not a rollproof sandbox role"
        )));
    }
    let mut admin = target.connect_maintenance()?;
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1",
            &[&role],
        )
        .map_err(sql_err("ending the sandbox role's sessions", "postgres"))?;
    let dbs: Vec<String> = admin
        .query(
            "SELECT DISTINCT d.datname FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid
             JOIN pg_roles r ON r.oid = s.refobjid WHERE r.rolname = $1 ORDER BY 1",
            &[&role],
        )
        .map_err(sql_err("finding what the sandbox role holds", "postgres"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for db in dbs {
        let mut c = target.with_db(&db).connect()?;
        super::guard::authorize_existing(&mut c, &db)?;
        c.batch_execute(&format!(
            "REASSIGN OWNED BY {r} TO CURRENT_USER; DROP OWNED BY {r}",
            r = quote_ident(role)
        ))
        .map_err(sql_err("taking back what the sandbox role holds", &db))?;
    }
    // Privileges on databases are shared objects, recorded in pg_shdepend
    // of no database: revoke them on every database that grants them.
    let granted: Vec<String> = admin
        .query(
            "SELECT DISTINCT d.datname FROM pg_database d, aclexplode(d.datacl) a
             JOIN pg_roles r ON r.oid = a.grantee WHERE r.rolname = $1 ORDER BY 1",
            &[&role],
        )
        .map_err(sql_err(
            "finding the sandbox role's database grants",
            "postgres",
        ))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for db in granted {
        admin
            .batch_execute(&format!(
                "REVOKE ALL ON DATABASE {} FROM {}",
                quote_ident(&db),
                quote_ident(role)
            ))
            .map_err(sql_err("revoking the sandbox role's grants", &db))?;
    }
    admin
        .batch_execute(&format!("DROP ROLE IF EXISTS {}", quote_ident(role)))
        .map_err(sql_err("dropping the sandbox role", "postgres"))?;
    super::role_ledger::forget(&mut admin, role);
    Ok(())
}

/// `ALTER <kind> <name>` pairs for every object the sandbox role must own:
/// schemas, relations (sequences owned by a column follow their table),
/// routines and types outside the system schemas and `rollproof_meta`,
/// except an extension's members (the extension keeps them).
const OWNED_OBJECTS: &str = "
WITH ext AS (SELECT classid, objid FROM pg_depend WHERE deptype = 'e'),
ns AS (
  SELECT oid, nspname FROM pg_namespace
  WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'rollproof_meta')
    AND NOT pg_is_other_temp_schema(oid) AND oid <> pg_my_temp_schema()
)
SELECT 'SCHEMA', quote_ident(nspname) FROM ns
UNION ALL
SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                      WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
       c.oid::regclass::text
FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.oid NOT IN (SELECT objid FROM ext WHERE classid = 'pg_class'::regclass)
  AND NOT (c.relkind = 'S' AND EXISTS (
    SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
      AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))
UNION ALL
SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
       p.oid::regprocedure::text
FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace WHERE p.oid NOT IN (SELECT objid FROM ext WHERE classid = 'pg_proc'::regclass)
UNION ALL
SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.oid::regtype::text
FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
WHERE t.oid NOT IN (SELECT objid FROM ext WHERE classid = 'pg_type'::regclass)
  AND (t.typtype IN ('d', 'e', 'r')
       OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_spell_the_run_id_in_letters() {
        assert_eq!(role_name("0a9f").unwrap(), "rollproof_r_akjp");
        assert_eq!(role_name("0A9F").unwrap(), "rollproof_r_akjp");
        assert!(role_name("").is_err());
        assert!(role_name("x1").is_err());
        assert!(role_name(&"a".repeat(41)).is_err());
        // What the secret scan sees in an ACL entry naming the role.
        let acl = format!("{r}=arwdDxt/{r}", r = role_name("0678506c").unwrap());
        assert!(
            !crate::intake::secrets::has_high_entropy_token(&acl),
            "{acl}"
        );
    }
}
