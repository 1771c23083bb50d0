//! The workspace's MAC'd ledgers of what rollproof created on a server:
//! databases ([`super::provenance`]) and sandbox roles
//! ([`super::role_ledger`]).
//!
//! Each entry is one JSON file holding a record's exact JSON bytes and an
//! HMAC-SHA256 over them under the workspace key, so an entry written by
//! hand, or by another workspace, is never acted on. Both ledgers write and
//! read their entries through this one module.

use super::PgError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A ledger entry: a record's JSON, byte for byte, and its MAC.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerEntry {
    /// The record's JSON, byte for byte (for a database: as stored in it).
    pub record: String,
    /// HMAC-SHA256 of `record` under the workspace key.
    pub mac: String,
}

impl LedgerEntry {
    /// The entry for `record` under `key`.
    pub fn seal(key: &[u8], record: String) -> Self {
        LedgerEntry {
            mac: crate::guard::provenance::mac_hex(key, record.as_bytes()),
            record,
        }
    }

    /// The parsed record, if the MAC verifies under `key`.
    pub fn verified<T: DeserializeOwned>(&self, key: &[u8]) -> Option<T> {
        if !crate::guard::provenance::mac_verify(key, self.record.as_bytes(), &self.mac) {
            return None;
        }
        serde_json::from_str(&self.record).ok()
    }
}

/// Write `entry` to `path` atomically, creating its folder; `what` names
/// the ledger and `db` the object, for the error.
pub fn write(path: &Path, entry: &LedgerEntry, what: &str, db: &str) -> Result<(), PgError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| PgError::Io {
            what: format!("creating the workspace's {what}"),
            db: db.to_string(),
            source,
        })?;
    }
    let mut bytes =
        serde_json::to_vec_pretty(entry).map_err(|e| PgError::Invalid(e.to_string()))?;
    bytes.push(b'\n');
    crate::util::fsutil::write_atomic(path, &bytes, true)
        .map_err(|e| PgError::Invalid(e.to_string()))
}

/// The entry at `path` (bounded read); why it cannot be read otherwise.
pub fn read(path: &Path) -> Result<LedgerEntry, String> {
    crate::util::fsutil::read_bounded(path, crate::util::fsutil::limit::SIDECAR, "ledger entry")
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| format!("malformed ({e})")))
}

/// Every `*.json` entry directly in `dir`, sorted by path, each read with
/// [`read`]; an absent folder is an empty ledger.
pub fn list(dir: &Path) -> Vec<(PathBuf, Result<LedgerEntry, String>)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<_> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let entry = read(&p);
            (p, entry)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Rec {
        name: String,
    }

    #[test]
    fn an_entry_round_trips_and_a_changed_record_or_key_does_not_verify() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("a.json");
        let record = serde_json::to_string(&Rec { name: "r1".into() }).unwrap();
        write(
            &path,
            &LedgerEntry::seal(b"k1", record),
            "test ledger",
            "db",
        )
        .unwrap();
        let listed = list(&dir.path().join("sub"));
        assert_eq!(listed.len(), 1);
        let entry = listed[0].1.as_ref().unwrap();
        assert_eq!(
            entry.verified::<Rec>(b"k1"),
            Some(Rec { name: "r1".into() })
        );
        assert_eq!(
            entry.verified::<Rec>(b"k2"),
            None,
            "another workspace's key"
        );
        let mut forged = entry.clone();
        forged.record = forged.record.replace("r1", "r2");
        assert_eq!(forged.verified::<Rec>(b"k1"), None, "an edited record");
    }

    #[test]
    fn unreadable_entries_are_listed_with_the_reason_and_folders_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.json"), b"{not json").unwrap();
        std::fs::create_dir(dir.path().join("roles.json")).unwrap();
        let listed = list(dir.path());
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert!(listed[0].1.as_ref().unwrap_err().starts_with("malformed"));
        assert!(list(&dir.path().join("absent")).is_empty());
    }
}
