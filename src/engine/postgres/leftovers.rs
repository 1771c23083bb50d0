//! `clean` on PostgreSQL: drop the scratch databases and sandbox roles of
//! dead runs that this workspace's ledgers say it created, and nothing else
//! (roles: [`super::role_ledger`]).
//!
//! A ledger entry (`<workspace>/.rollproof/pg/<system id>-<oid>.json`) is
//! acted on only when its MAC verifies under the workspace key, its record
//! is scratch and its owner is dead. The server is reached through the URL
//! the record names (re-checked by the guard) or one given with
//! `--target-url` (for a password), and only a server whose
//! `system_identifier` is the record's. The database is dropped only when
//! the record inside it verifies, names it (server, OID, name), and is the
//! ledger's record byte for byte ([`super::provenance::verify_for_drop`],
//! then [`super::load::drop_database`], which checks again). An entry whose
//! database is gone is removed from the ledger; a database rollproof did not
//! create is never in the ledger, so it is never considered.

use super::guard::Target;
use super::provenance::{self, PgRecord};
use crate::clean::{Cleaned, Item, Options};
use std::collections::BTreeMap;
use std::path::Path;

/// Connect to the maintenance database of a server and read its
/// system identifier.
fn system_id(t: &Target) -> Option<String> {
    let mut c = t.connect_maintenance().ok()?;
    c.query_one(
        "SELECT system_identifier::text FROM pg_control_system()",
        &[],
    )
    .ok()
    .map(|r| r.get(0))
}

/// Servers to try, by system identifier: the given URLs first, then the
/// recorded ones.
fn servers<'a>(
    opts: &'a Options,
    recorded: impl Iterator<Item = &'a str>,
) -> BTreeMap<String, Target> {
    let allow = super::guard::allowed_hosts(&opts.allow_hosts);
    let mut found = BTreeMap::new();
    let given = opts.target_urls.iter().map(String::as_str);
    for url in given.chain(recorded) {
        let Ok(t) = super::guard::parse_url(url) else {
            continue;
        };
        let Ok(config) = crate::guard::url::check_server(&t.config, &allow) else {
            continue;
        };
        let t = Target {
            display: crate::guard::url::display(&config),
            config,
            dbname: t.dbname,
        };
        if let Some(id) = system_id(&t) {
            found.entry(id).or_insert(t);
        }
    }
    found
}

/// Find and drop the dead runs' scratch databases (module docs).
pub fn clean(ws: &Path, opts: &Options, out: &mut Cleaned) {
    let Ok((_, key)) = crate::guard::workspace_and_key() else {
        return;
    };
    let roles: Vec<_> = super::role_ledger::entries(ws, &key)
        .into_iter()
        .filter(|(_, r)| r.as_ref().is_none_or(|r| !r.owner.alive()))
        .collect();
    let mut records = Vec::new();
    for (path, entry) in provenance::ledger(ws) {
        match entry
            .ok()
            .and_then(|e| e.verified::<provenance::PgRecord>(&key))
        {
            Some(r) if r.scratch && !r.owner.alive() => records.push((path, r)),
            Some(_) => {}
            None => out.left.push(Item {
                kind: "database",
                what: path.display().to_string(),
                why: "a ledger entry that does not verify under this workspace's key; left alone"
                    .into(),
            }),
        }
    }
    if records.is_empty() && roles.is_empty() {
        return;
    }
    let recorded = records.iter().map(|(_, r)| r.server.as_str());
    let role_servers = roles
        .iter()
        .filter_map(|(_, r)| r.as_ref())
        .map(|r| r.server.as_str());
    let servers = servers(opts, recorded.chain(role_servers));
    for (path, rec) in records {
        let Some(server) = servers.get(&rec.system_identifier) else {
            out.left.push(Item {
                kind: "database",
                what: format!("{} on {}", rec.dbname, rec.server),
                why: "its server cannot be reached; give its URL with --target-url (and --allow-host) to clean it".into(),
            });
            continue;
        };
        let t = server.with_db(&rec.dbname);
        drop_one(&t, &path, &rec, opts.dry_run, out);
    }
    // Roles after databases: a dead run's role owns objects only in its
    // databases, dropped above.
    for (path, rec) in roles {
        drop_role(&servers, &path, rec, opts.dry_run, out);
    }
}

/// Drop the sandbox role of a dead run, by its exact recorded name.
fn drop_role(
    servers: &BTreeMap<String, Target>,
    entry: &Path,
    rec: Option<super::role_ledger::RoleRecord>,
    dry: bool,
    out: &mut Cleaned,
) {
    let Some(rec) = rec else {
        out.left.push(Item {
            kind: "role",
            what: entry.display().to_string(),
            why: "a role ledger entry that does not verify under this workspace's key; left alone"
                .into(),
        });
        return;
    };
    let what = format!("{} on {}", rec.role, rec.server);
    let Some(server) = servers.get(&rec.system_identifier) else {
        out.left.push(Item {
            kind: "role",
            what,
            why: "its server cannot be reached; give its URL with --target-url (and --allow-host) to clean it".into(),
        });
        return;
    };
    let why = format!(
        "sandbox role of a run (pid {} on {}) that died",
        rec.owner.pid, rec.owner.host
    );
    let exists = server.connect_maintenance().and_then(|mut c| {
        c.query_one(
            "SELECT count(*) FROM pg_roles WHERE rolname = $1",
            &[&rec.role],
        )
        .map(|r| r.get::<_, i64>(0) > 0)
        .map_err(super::sql_err("looking up the role", "postgres"))
    });
    match exists {
        Ok(false) => {
            if !dry {
                let _ = std::fs::remove_file(entry);
            }
        }
        Ok(true) if dry => out.removed.push(Item {
            kind: "role",
            what,
            why,
        }),
        Ok(true) => match super::sandbox::drop_role(server, &rec.role) {
            Ok(()) => {
                let _ = std::fs::remove_file(entry);
                out.removed.push(Item {
                    kind: "role",
                    what,
                    why,
                });
            }
            Err(e) => out.left.push(Item {
                kind: "role",
                what,
                why: format!("{why}; cannot drop it: {e}"),
            }),
        },
        Err(e) => out.left.push(Item {
            kind: "role",
            what,
            why: format!("{why}; cannot look it up: {e}"),
        }),
    }
}

fn drop_one(t: &Target, ledger_entry: &Path, rec: &PgRecord, dry: bool, out: &mut Cleaned) {
    let why = format!(
        "scratch {} of a run (pid {} on {}) that died",
        rec.purpose, rec.owner.pid, rec.owner.host
    );
    match super::snapshot::exists(t, &rec.dbname) {
        Ok(false) => {
            // Gone already (dropped by hand): only the ledger entry is left.
            if !dry {
                let _ = std::fs::remove_file(ledger_entry);
            }
            return;
        }
        Ok(true) => {}
        Err(e) => {
            out.left.push(Item {
                kind: "database",
                what: t.display.clone(),
                why: format!("{why}; cannot look it up: {e}"),
            });
            return;
        }
    }
    // The database's own record must be this very ledger record.
    let same = t
        .connect()
        .and_then(|mut c| provenance::verify_for_drop(&mut c, &rec.dbname))
        .map(|live| live == *rec);
    match same {
        Ok(true) if dry => out.removed.push(Item {
            kind: "database",
            what: t.display.clone(),
            why,
        }),
        Ok(true) => match super::load::drop_database(t, &rec.dbname) {
            Ok(()) => out.removed.push(Item {
                kind: "database",
                what: t.display.clone(),
                why,
            }),
            Err(e) => out.left.push(Item {
                kind: "database",
                what: t.display.clone(),
                why: format!("{why}; cannot drop it: {e}"),
            }),
        },
        Ok(false) => out.left.push(Item {
            kind: "database",
            what: t.display.clone(),
            why: "its record changed since the ledger entry was written; left alone".into(),
        }),
        Err(e) => out.left.push(Item {
            kind: "database",
            what: t.display.clone(),
            why: format!("left alone: {e}"),
        }),
    }
}
