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
//! One exclusion, by shape, and why it cannot be by name: the per-run
//! roles rollproof itself creates (the sandbox role of a rehearsal, the
//! replay role of an intake), `rollproof_r_<id in letters a-p>`
//! (`sandbox::role_name`) with exactly the sandbox's attributes (LOGIN,
//! NOSUPERUSER, NOINHERIT, no other attribute, connection limit 8), no
//! membership either way and no setting. This run's own role needs no
//! exclusion: it is created before the first phase is measured and dropped
//! after the last, so it is in every phase, compared like any role (a
//! script that gives it a setting changes its shape and fails the proof).
//! The exclusion is for the roles of *other* rollproof processes that
//! start or end on the same server while this one runs: their ids are
//! random and known only to them, so this process cannot name them, and
//! without it two rehearsals on one server would fail each other. A role
//! of that shape holds no attribute or membership beyond a fresh LOGIN
//! role's, and whatever it owns or is granted inside the rehearsed
//! database is part of that database's logical state. A role with the name and any other shape
//! is state like any other. Scripts cannot create roles at all
//! (NOCREATEROLE).

use super::catalog::{CatalogRow, rows_digest};
use super::{PgError, sql_err};
pub use crate::evidence::report::ClusterState;
use postgres::GenericClient;

/// The cluster description (roles.sql).
const ROLES_SQL: &str = include_str!("roles.sql");

/// Connection limit of a sandbox role (part of its exact identity).
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
/// rehearsed database (its properties are captured under its name).
pub fn capture(client: &mut impl GenericClient, target_db: &str) -> Result<ClusterState, PgError> {
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
    let sql = ROLES_SQL
        .replace("{password}", password)
        .replace("{sandbox_limit}", &SANDBOX_CONNECTION_LIMIT.to_string());
    let rows: Vec<CatalogRow> = client
        .query(&sql, &[&target_db])
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
