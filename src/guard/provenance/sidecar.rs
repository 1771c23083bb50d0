//! The sidecar beside a surrogate or clone in the workspace
//! (`<db>.provenance.json`): the record id, the file's canonical path and
//! current digest, bound together by an HMAC under the workspace key.

use super::{Kind, ProvenanceError, SIDECAR_SUFFIX, invalid};
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::path::{Path, PathBuf};

type HmacSha256 = hmac::Hmac<Sha256>;

/// Where the sidecar of `db` lives: `<db>.provenance.json`.
pub fn sidecar_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(SIDECAR_SUFFIX);
    db.with_file_name(name)
}

/// What intake recorded about a clone's origin (kept in the sidecar).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntakeNote {
    /// The operator's dump, as given.
    pub source: String,
    /// "sqlite" or "sql".
    pub source_format: String,
    /// SHA-256 of the source before intake read it.
    pub source_sha256_before: String,
    /// SHA-256 of the source after intake; equal to `before` or intake fails.
    pub source_sha256_after: String,
    /// When the clone was taken (UTC, RFC 3339).
    pub taken_at: String,
    /// Allow-list decisions applied to secret findings (none when empty).
    pub allowed_findings: Vec<crate::intake::secrets::AllowEntry>,
}

/// The sidecar beside a surrogate or clone in the workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sidecar {
    /// Sidecar format version ([`FORMAT`]).
    pub format: i64,
    /// The `record_id` of the record inside the database.
    pub record_id: String,
    /// Kind of the database, as in the record.
    pub kind: Kind,
    /// Canonical path of the database this sidecar belongs to.
    pub path: String,
    /// SHA-256 of the database's bytes at the last binding.
    pub sha256: String,
    /// Size in bytes at the last binding.
    pub size: u64,
    /// When it was last bound (UTC, RFC 3339).
    pub bound_at: String,
    /// The file this one was copied from, for working copies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copied_from: Option<String>,
    /// Intake details, for clones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intake: Option<IntakeNote>,
    /// HMAC-SHA256 (hex) over the sidecar with this field empty, keyed by the
    /// workspace key.
    pub mac: String,
}

impl Sidecar {
    fn mac_input(&self) -> Vec<u8> {
        let mut unsigned = self.clone();
        unsigned.mac = String::new();
        serde_json::to_vec(&unsigned).unwrap_or_default()
    }

    /// Compute and set the MAC.
    pub fn seal(&mut self, key: &[u8]) {
        self.mac = mac_hex(key, &self.mac_input());
    }

    /// True when the MAC verifies under `key` (constant-time comparison).
    pub fn mac_ok(&self, key: &[u8]) -> bool {
        mac_verify(key, &self.mac_input(), &self.mac)
    }

    /// Read and parse the sidecar of `db`.
    pub fn load(db: &Path) -> Result<Sidecar, ProvenanceError> {
        let p = sidecar_path(db);
        use crate::util::fsutil::{limit, read_bounded_string};
        let text = read_bounded_string(&p, limit::SIDECAR, "provenance sidecar")?;
        serde_json::from_str(&text).map_err(|e| invalid(&p, format!("sidecar is malformed ({e})")))
    }

    /// Write the sidecar of `db` atomically.
    pub fn store(&self, db: &Path) -> Result<(), ProvenanceError> {
        let p = sidecar_path(db);
        let mut bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| invalid(&p, format!("cannot serialise sidecar ({e})")))?;
        bytes.push(b'\n');
        crate::util::fsutil::write_atomic(&p, &bytes, true)
            .map_err(|e| invalid(&p, format!("cannot write sidecar ({e})")))
    }
}

/// HMAC-SHA256 of `data` under `key`, lowercase hex.
pub fn mac_hex(key: &[u8], data: &[u8]) -> String {
    match <HmacSha256 as KeyInit>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data);
            hex::encode(m.finalize().into_bytes())
        }
        // HMAC accepts keys of any length; unreachable in practice.
        Err(_) => String::new(),
    }
}

/// True when `tag_hex` is the HMAC-SHA256 of `data` under `key`
/// (constant-time comparison).
pub fn mac_verify(key: &[u8], data: &[u8], tag_hex: &str) -> bool {
    let Ok(tag) = hex::decode(tag_hex) else {
        return false;
    };
    let Ok(mut m) = <HmacSha256 as KeyInit>::new_from_slice(key) else {
        return false;
    };
    m.update(data);
    m.verify_slice(&tag).is_ok()
}

/// The workspace's secret key (`<root>/.rollproof/key`, 32 random bytes in
/// hex), created with owner-only permissions on first use.
pub fn workspace_key(root: &Path) -> Result<Vec<u8>, ProvenanceError> {
    let dir = root.join(".rollproof");
    let path = dir.join("key");
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| ProvenanceError::Io { path: p, source }
    };
    if !path.exists() {
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let key: [u8; 32] = rand::random();
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        match opts.open(&path) {
            Ok(mut f) => {
                use std::io::Write;
                f.write_all(hex::encode(key).as_bytes())
                    .and_then(|_| f.sync_all())
                    .map_err(io(&path))?;
            }
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(&path)(e)),
        }
    }
    read_key(&path)
}

/// The workspace key, if the workspace has one; never creates it (for
/// read-only questions such as `guard target`).
pub fn existing_workspace_key(root: &Path) -> Result<Option<Vec<u8>>, ProvenanceError> {
    let path = root.join(".rollproof").join("key");
    if std::fs::symlink_metadata(&path).is_err() {
        return Ok(None);
    }
    read_key(&path).map(Some)
}

fn read_key(path: &Path) -> Result<Vec<u8>, ProvenanceError> {
    let text = crate::util::fsutil::read_bounded_string(
        path,
        crate::util::fsutil::limit::KEY,
        "workspace key",
    )?;
    let key = hex::decode(text.trim())
        .ok()
        .filter(|k| k.len() == 32)
        .ok_or_else(|| invalid(path, "workspace key is malformed (expected 64 hex digits)"))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::provenance::FORMAT;

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        assert_eq!(
            mac_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn sidecar_mac_covers_every_field() {
        let mut s = Sidecar {
            format: FORMAT,
            record_id: "r".into(),
            kind: Kind::Clone,
            path: "/w/a.db".into(),
            sha256: "00".into(),
            size: 1,
            bound_at: "2026-01-01T00:00:00.000Z".into(),
            copied_from: None,
            intake: None,
            mac: String::new(),
        };
        s.seal(b"k");
        assert!(s.mac_ok(b"k"));
        assert!(!s.mac_ok(b"other key"));
        let mut moved = s.clone();
        moved.path = "/w/b.db".into();
        assert!(!moved.mac_ok(b"k"));
        let mut redigested = s.clone();
        redigested.sha256 = "11".into();
        assert!(!redigested.mac_ok(b"k"));
    }

    #[test]
    fn sidecar_path_is_beside() {
        assert_eq!(
            sidecar_path(Path::new("/w/c/x.db")),
            PathBuf::from("/w/c/x.db.provenance.json")
        );
    }
}
