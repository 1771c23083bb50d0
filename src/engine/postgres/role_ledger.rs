//! The workspace's ledger of sandbox roles, so `rollproof clean` can drop
//! the role of a run that died (SIGKILL, a crash) and nothing else.
//!
//! A role is a cluster-wide object: dropping a dead run's database does not
//! remove it. When [`super::sandbox::Sandbox::create`] makes a role, an
//! entry `<workspace>/.rollproof/pg/roles/<system id>-<role>.json` records
//! the server (its `system_identifier` and URL without password), the role
//! and the owner process, under an HMAC with the workspace key, like the
//! database ledger ([`super::provenance`]). The entry is removed when the
//! role is dropped. `clean` acts on an entry only when its MAC verifies,
//! its owner is dead and the server it reaches has the recorded system
//! identifier; the role is then dropped by exact name
//! ([`super::sandbox::drop_role`], which works only in databases the guard
//! says rollproof created).

use super::guard::Target;
use super::{PgError, sql_err};
use crate::util::owner::Owner;
use postgres::Client;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One sandbox role a process created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleRecord {
    /// The server's `system_identifier` (decimal).
    pub system_identifier: String,
    /// The server as connected to, without password.
    pub server: String,
    /// The role's exact name.
    pub role: String,
    /// The process that created it.
    pub owner: Owner,
}

fn dir(root: &Path) -> PathBuf {
    root.join(".rollproof").join("pg").join("roles")
}

fn path(root: &Path, system_identifier: &str, role: &str) -> PathBuf {
    dir(root).join(format!("{system_identifier}-{role}.json"))
}

fn system_identifier(admin: &mut Client) -> Result<String, PgError> {
    Ok(admin
        .query_one(
            "SELECT system_identifier::text FROM pg_control_system()",
            &[],
        )
        .map_err(sql_err(
            "reading the server's system identifier",
            "postgres",
        ))?
        .get(0))
}

/// Record that this process created `role` on `target`'s server (`admin`
/// is a connection to it).
pub fn remember(admin: &mut Client, target: &Target, role: &str) -> Result<(), PgError> {
    let (root, key) = crate::guard::workspace_and_key()?;
    let rec = RoleRecord {
        system_identifier: system_identifier(admin)?,
        server: target.display.clone(),
        role: role.to_string(),
        owner: Owner::current(),
    };
    let record = serde_json::to_string(&rec).map_err(|e| PgError::Invalid(e.to_string()))?;
    let file = path(&root, &rec.system_identifier, role);
    super::ledger::write(
        &file,
        &super::ledger::LedgerEntry::seal(&key, record),
        "role ledger",
        role,
    )
}

/// `role` was dropped on the server of `admin`: forget its entry.
pub fn forget(admin: &mut Client, role: &str) {
    if let (Ok((root, _)), Ok(id)) = (crate::guard::workspace_and_key(), system_identifier(admin)) {
        let _ = std::fs::remove_file(path(&root, &id, role));
    }
}

/// Every entry of the workspace at `root`: its path and, when it reads and
/// its MAC verifies under `key`, the record.
pub fn entries(root: &Path, key: &[u8]) -> Vec<(PathBuf, Option<RoleRecord>)> {
    super::ledger::list(&dir(root))
        .into_iter()
        .map(|(p, e)| (p, e.ok().and_then(|e| e.verified(key))))
        .collect()
}
