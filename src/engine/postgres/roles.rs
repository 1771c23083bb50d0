//! The cluster-wide state a PostgreSQL rehearsal must leave as it found it.
//! Roles, memberships, role settings, tablespaces and a database's own
//! properties (owner, privileges, connection limit, comment) live in shared
//! catalogs, outside any one database's content, so no database snapshot
//! holds or restores them: a role the up script created survives any
//! restore. Every PostgreSQL phase records them (`Phase::cluster`), and the
//! verdict compares before with after rollback (`cluster_unchanged`).
//!
//! Passwords are never read into a report: when `pg_authid` is readable
//! (a superuser session) a role's entry carries a short digest of its
//! stored verifier, so a changed password is seen; otherwise nothing.
//!
//! One exclusion, by exact identity: this run's own sandbox role, by the
//! name this process gave it (passed in; issue #12 §1). Its name differs
//! in every run, so leaving it in would make no two runs' cluster
//! descriptions agree; and it exists in every phase (created before the
//! first is measured, dropped after the last), so what a script can change
//! about it (its own password) ends with it. Its memberships and settings are still compared
//! like any role's: a script that gives its own role a setting fails the
//! proof. Every other role is state, whatever it is called and whatever
//! its shape: a login role named like another run's sandbox role that a
//! script (run as the admin, as a migration tool would run it) leaves
//! behind fails the proof. The roles of other rollproof runs on the same
//! server never come or go while this run compares: each run holds the
//! server lock (`cluster_lock.rs`) for as long as it measures or has a
//! role. Scripts run in the sandbox cannot create roles at all
//! (NOCREATEROLE).

use super::catalog::{CatalogRow, rows_digest};
use super::{PgError, sql_err};
pub use crate::evidence::report::ClusterState;
use postgres::GenericClient;

/// The cluster description (roles.sql).
const ROLES_SQL: &str = include_str!("roles.sql");

/// Connection limit of a per-run role (a rehearsal's sandbox role, an
/// intake's replay role).
pub const SANDBOX_CONNECTION_LIMIT: i32 = 8;

/// The key a row is recorded under: what it is, in words.
fn key(r: &CatalogRow) -> String {
    match r.kind.as_str() {
        "membership" => format!("membership {} in {}", r.sub, r.obj),
        "role setting" => format!("setting {} in {}", r.obj, r.sub),
        _ if r.sub.is_empty() => format!("{} {}", r.kind, r.obj),
        _ => format!("{} {} {}", r.kind, r.obj, r.sub),
    }
}

/// Capture the cluster's state as seen from `client`, with `target_db` the
/// rehearsed database (its properties are captured under its name) and
/// `own_role` this run's sandbox role, the one role left out (module docs).
pub fn capture(
    client: &mut impl GenericClient,
    target_db: &str,
    own_role: Option<&str>,
) -> Result<ClusterState, PgError> {
    let readable: bool = client
        .query_one("SELECT has_table_privilege('pg_authid', 'SELECT')", &[])
        .map_err(sql_err("checking pg_authid", target_db))?
        .get(0);
    let password = if readable {
        "'PASSWORD ' || coalesce('sha256:' || left(encode(sha256(convert_to(\
         (SELECT a.rolpassword FROM pg_authid a WHERE a.oid = r.oid), 'UTF8')), 'hex'), 16), 'none')"
    } else {
        "NULL"
    };
    let sql = ROLES_SQL.replace("{password}", password);
    let own = own_role.unwrap_or("");
    let rows: Vec<CatalogRow> = client
        .query(&sql, &[&target_db, &own])
        .map_err(sql_err("reading the cluster's roles", target_db))?
        .iter()
        .map(|r| CatalogRow {
            kind: r.get(0),
            obj: r.get(1),
            sub: r.get(2),
            def: r.get(3),
        })
        .collect();
    Ok(ClusterState {
        sha256: rows_digest(b"cluster", &rows),
        entries: rows
            .iter()
            .map(|r| (key(r), r.def.clone().unwrap_or_default()))
            .collect(),
    })
}
