//! Provenance of the PostgreSQL databases rollproof creates, bound to the
//! database itself so that a copied or hand-written record proves nothing.
//!
//! When rollproof creates a database it writes one row into
//! `rollproof_meta.provenance` (`dbname`, `record`, `mac`): `record` is the
//! canonical JSON of [`PgRecord`] — the server's `system_identifier`, the
//! database's OID and name, purpose, source, version, creation time, owner
//! process, whether it is scratch — and `mac` is HMAC-SHA256 over exactly
//! those bytes under the workspace key. A database counts as rollproof's
//! only when the MAC verifies *and* the record names the live server,
//! OID and name: an `INSERT` into another database cannot produce the MAC
//! (it needs the key), and a valid row copied elsewhere (by hand, or by a
//! `CREATE DATABASE … TEMPLATE` of one of ours) names another OID.
//!
//! Beside it, the workspace keeps a ledger of the databases it created
//! (`<workspace>/.rollproof/pg/<system_identifier>-<oid>.json`, the same
//! record and MAC). Dropping — `--force`, the end of a run, `rollproof
//! clean` — needs both: the bound record in the database and the ledger
//! entry in the workspace.

pub use super::ledger::LedgerEntry;
use super::{PgError, sql_err};
use crate::guard::Refusal;
use crate::util::owner::Owner;
use postgres::Client;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// DDL of the provenance table inside each database rollproof creates.
pub const DDL: &str = "CREATE SCHEMA rollproof_meta;
CREATE TABLE rollproof_meta.provenance (
  dbname text NOT NULL PRIMARY KEY,
  record text NOT NULL,
  mac text NOT NULL
);";

/// Longest record accepted from a database (a real one is < 1 KiB).
const MAX_RECORD: usize = 64 * 1024;

/// What rollproof records about a database it created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgRecord {
    /// Record format.
    pub format: u32,
    /// The server's `pg_control_system().system_identifier` (decimal).
    pub system_identifier: String,
    /// The database's OID on that server.
    pub oid: u32,
    /// The database's name.
    pub dbname: String,
    /// What it is for ("surrogate", "rehearsal target", "snapshot", …).
    pub purpose: String,
    /// Where its content came from.
    pub source: String,
    /// rollproof's version.
    pub rollproof_version: String,
    /// When it was created (UTC, RFC 3339).
    pub created_at: String,
    /// Scratch databases (a run's target, snapshots, a surrogate whose load
    /// has not finished) belong to their owner process: once it is dead they
    /// are leftovers that `clean` removes. Kept ones are never removed.
    pub scratch: bool,
    /// The process that created it.
    pub owner: Owner,
    /// The server as connected to, without password (for `clean`).
    pub server: String,
}

/// The live identity of the connected database: (system identifier, OID,
/// name).
pub fn identity(client: &mut Client, db: &str) -> Result<(String, u32, String), PgError> {
    let row = client
        .query_one(
            "SELECT (SELECT system_identifier::text FROM pg_control_system()),
                    d.oid, current_database()::text
             FROM pg_database d WHERE d.datname = current_database()",
            &[],
        )
        .map_err(sql_err("reading the database's identity", db))?;
    let oid: postgres::types::Oid = row.get(1);
    Ok((row.get(0), oid, row.get(2)))
}

fn key() -> Result<(PathBuf, Vec<u8>), PgError> {
    Ok(crate::guard::workspace_and_key()?)
}

/// Where the ledger entry of (server, oid) lives.
fn ledger_path(root: &Path, system_identifier: &str, oid: u32) -> PathBuf {
    ledger_dir(root).join(format!("{system_identifier}-{oid}.json"))
}

fn ledger_dir(root: &Path) -> PathBuf {
    root.join(".rollproof").join("pg")
}

/// Every ledger entry of the workspace at `root` (path, entry); unreadable
/// entries are skipped (and reported by `clean`).
pub fn ledger(root: &Path) -> Vec<(PathBuf, Result<LedgerEntry, String>)> {
    super::ledger::list(&ledger_dir(root))
}

/// Whether the connected database has the provenance table at all.
fn has_provenance(client: &mut Client, db: &str) -> Result<bool, PgError> {
    Ok(client
        .query_one(
            "SELECT to_regclass('rollproof_meta.provenance') IS NOT NULL",
            &[],
        )
        .map_err(sql_err("reading provenance", db))?
        .get::<_, bool>(0))
}

/// Remove the ledger entry of a database just dropped.
pub fn forget(rec: &PgRecord) {
    not_on_interrupt(&rec.dbname);
    if let Ok((root, _)) = key() {
        let _ = std::fs::remove_file(ledger_path(&root, &rec.system_identifier, rec.oid));
    }
}

/// Scratch databases this process created and still owns: dropped if it
/// is interrupted (SIGINT/SIGTERM). Held in memory only (a target may hold
/// a password).
static SCRATCH: std::sync::Mutex<Vec<super::guard::Target>> = std::sync::Mutex::new(Vec::new());

/// Drop the database `t` names if this process is interrupted.
pub fn drop_on_interrupt(t: &super::guard::Target) {
    if let Ok(mut s) = SCRATCH.lock() {
        s.retain(|x| x.dbname != t.dbname);
        s.push(t.clone());
    }
    crate::util::cleanup::on_interrupt(drop_scratch);
}

fn not_on_interrupt(db: &str) {
    if let Ok(mut s) = SCRATCH.lock() {
        s.retain(|x| x.dbname != db);
    }
}

/// The interrupt hook: drop every scratch database still owned (each
/// still proven by its record and the ledger); what was dropped.
fn drop_scratch() -> Vec<String> {
    let targets: Vec<_> = SCRATCH.lock().map(|s| s.clone()).unwrap_or_default();
    targets
        .iter()
        .filter(|t| super::load::drop_database(t, &t.dbname).is_ok())
        .map(|t| format!("database {}", t.display))
        .collect()
}

/// Write the provenance row into the database rollproof just created (the
/// connection is to it) and its ledger entry; returns the record.
pub fn record(
    client: &mut Client,
    db: &str,
    purpose: &str,
    source: &str,
    scratch: bool,
    server: &str,
) -> Result<PgRecord, PgError> {
    let (root, key) = key()?;
    let (system_identifier, oid, dbname) = identity(client, db)?;
    let rec = PgRecord {
        format: 2,
        system_identifier,
        oid,
        dbname,
        purpose: purpose.to_string(),
        source: source.to_string(),
        rollproof_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: crate::util::timefmt::iso_millis(crate::util::timefmt::now_millis()),
        scratch,
        owner: Owner::current(),
        server: server.to_string(),
    };
    store(client, &root, &key, &rec)?;
    Ok(rec)
}

/// Write `rec` (row and ledger entry), replacing this database's row.
fn store(client: &mut Client, root: &Path, key: &[u8], rec: &PgRecord) -> Result<(), PgError> {
    let db = &rec.dbname;
    let text = serde_json::to_string(rec).map_err(|e| PgError::Invalid(e.to_string()))?;
    let entry = LedgerEntry::seal(key, text);
    let path = ledger_path(root, &rec.system_identifier, rec.oid);
    super::ledger::write(&path, &entry, "database ledger", db)?;
    let has = has_provenance(client, db)?;
    if !has {
        client
            .batch_execute(DDL)
            .map_err(sql_err("creating provenance", db))?;
    }
    client
        .execute(
            "INSERT INTO rollproof_meta.provenance (dbname, record, mac)
             VALUES (current_database(), $1, $2)
             ON CONFLICT (dbname) DO UPDATE SET record = excluded.record, mac = excluded.mac",
            &[&entry.record, &entry.mac],
        )
        .map_err(sql_err("writing provenance", db))?;
    Ok(())
}

/// Mark the connected database as kept (no longer scratch): a surrogate
/// whose load finished.
pub fn keep(client: &mut Client, db: &str) -> Result<(), PgError> {
    let (root, key) = key()?;
    let mut rec = verify(client, db)?;
    rec.scratch = false;
    store(client, &root, &key, &rec)?;
    not_on_interrupt(db);
    Ok(())
}

fn refuse(db: &str, why: &str) -> PgError {
    Refusal::new(format!(
        "database '{db}' {why}: rollproof cannot prove it created it and will not write to, read or drop it"
    ))
    .into()
}

/// The verified record of the connected database `db`: the row naming it
/// exists, its MAC verifies under this workspace's key, and it names this
/// very server, OID and database. Anything else is a refusal.
pub fn verify(client: &mut Client, db: &str) -> Result<PgRecord, PgError> {
    crate::guard::url::check_name(db)?;
    let (_, key) = key()?;
    if !has_provenance(client, db)? {
        return Err(refuse(db, "has no rollproof provenance record"));
    }
    // Read as text whatever the columns' types: a hand-made table with
    // other columns is simply not ours.
    let row = client
        .query_opt(
            "SELECT to_jsonb(p) ->> 'record', to_jsonb(p) ->> 'mac'
             FROM rollproof_meta.provenance p WHERE to_jsonb(p) ->> 'dbname' = current_database()",
            &[],
        )
        .map_err(sql_err("reading provenance", db))?;
    let Some(row) = row else {
        return Err(refuse(db, "has no rollproof provenance record naming it"));
    };
    let (record, tag): (Option<String>, Option<String>) = (row.get(0), row.get(1));
    let (Some(record), Some(tag)) = (record, tag) else {
        return Err(refuse(db, "has a provenance row rollproof did not write"));
    };
    if record.len() > MAX_RECORD
        || !crate::guard::provenance::mac_verify(&key, record.as_bytes(), &tag)
    {
        return Err(refuse(
            db,
            "has a provenance record this workspace did not write (its MAC does not verify: written by hand, or by another workspace)",
        ));
    }
    let rec: PgRecord = serde_json::from_str(&record)
        .map_err(|_| refuse(db, "has a provenance record in an unknown format"))?;
    let (system_identifier, oid, dbname) = identity(client, db)?;
    if rec.system_identifier != system_identifier || rec.oid != oid || rec.dbname != dbname {
        return Err(refuse(
            db,
            "carries a provenance record made for another database (copied: its server, OID or name differ)",
        ));
    }
    Ok(rec)
}

/// Before dropping: the database's bound record ([`verify`]) and this
/// workspace's ledger entry for it must both prove it is ours.
pub fn verify_for_drop(client: &mut Client, db: &str) -> Result<PgRecord, PgError> {
    let rec = verify(client, db)?;
    let (root, key) = key()?;
    let path = ledger_path(&root, &rec.system_identifier, rec.oid);
    let entry = super::ledger::read(&path).ok();
    match entry.and_then(|e| e.verified::<PgRecord>(&key)) {
        Some(l)
            if l.oid == rec.oid
                && l.system_identifier == rec.system_identifier
                && l.dbname == rec.dbname =>
        {
            Ok(rec)
        }
        _ => Err(refuse(
            db,
            "is not in this workspace's ledger of databases it created",
        )),
    }
}
