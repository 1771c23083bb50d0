//! One rollproof run at a time per PostgreSQL server, for as long as it
//! compares the cluster's roles or has a per-run role of its own.
//!
//! A rehearsal compares the cluster's roles before and after its rollback
//! (`roles.rs`), skipping only its own sandbox role, by its exact name.
//! Another rollproof process on the same server makes and drops per-run
//! roles too (its own sandbox role, an intake's replay role); its names
//! are random and known only to it, and a rule that skipped "roles that
//! look like rollproof's" would also skip a look-alike that a script left
//! behind (issue #12 §1). So instead of excluding them, rollproof keeps
//! them out of each other's way: every rehearsal on PostgreSQL and every
//! intake holds one session-level advisory lock ([`KEY`], in the server's
//! maintenance database `postgres`) from before its first measurement (or
//! its role's creation) until after its role is dropped. A second run on
//! the same server waits for the first. The lock belongs to the session,
//! so a run that dies releases it with its connection.

use super::guard::Target;
use super::{PgError, sql_err};
use postgres::Client;

/// The advisory lock key: the bytes `rollprof` read as a big-endian i64.
pub const KEY: i64 = 0x726f_6c6c_7072_6f66;

/// The held lock; dropping it closes the session and so releases it.
pub struct ClusterLock {
    _session: Client,
}

impl std::fmt::Debug for ClusterLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterLock")
    }
}

impl ClusterLock {
    /// Take the lock on `target`'s server, waiting for another run that
    /// holds it (and saying so on stderr, so a wait is not taken for a hang).
    pub fn take(target: &Target) -> Result<ClusterLock, PgError> {
        let mut c = target.connect_maintenance()?;
        let got: bool = c
            .query_one("SELECT pg_try_advisory_lock($1)", &[&KEY])
            .map_err(sql_err("taking rollproof's server lock", "postgres"))?
            .get(0);
        if !got {
            eprintln!(
                "rollproof: waiting for another rollproof run on {} (one run at a time compares a server's roles)",
                target.display
            );
            c.execute("SELECT pg_advisory_lock($1)", &[&KEY])
                .map_err(sql_err("waiting for rollproof's server lock", "postgres"))?;
        }
        Ok(ClusterLock { _session: c })
    }
}
