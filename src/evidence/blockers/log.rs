//! The append-only evidence log beside a blocker map:
//! `<map stem>.evidence.jsonl` (for `final-blocker-map.json`,
//! `final-blocker-map.evidence.jsonl`). Every `attach` that changes the map
//! appends one JSON line saying who (the signer's principal and key), what
//! (blocker, report), which bytes (report and signature digests) and when;
//! each line carries the SHA-256 of the line before it (`prev`; 64 zeros
//! for the first), so an edited, removed or reordered line breaks the chain
//! and a truncated log leaves map evidence without its line — both of which
//! `blockers validate` reports (docs/BLOCKERS.md "Evidence log").
//!
//! [`check_chain`] is pure; [`read`] and [`append`] do the I/O.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// `prev` of the first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Logs larger than this are refused unread.
pub const MAX_LOG_BYTES: u64 = 64 << 20;

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// 1, 2, 3, … in file order.
    pub seq: u64,
    /// When it was written, UTC, `YYYY-MM-DDTHH:MM:SS.sssZ`.
    pub time: String,
    /// `attach` (evidence recorded; `closed` says whether it closed the
    /// blocker).
    pub action: String,
    /// The blocker's `blocker_id`.
    pub blocker: String,
    /// The report, relative to the map's folder (as in the map).
    pub report: String,
    /// SHA-256 of the report file's bytes.
    pub report_sha256: String,
    /// The report's seal.
    pub seal: String,
    /// SHA-256 of the report's signature file's bytes.
    pub signature_sha256: String,
    /// The principal(s) the trust file lists for the signing key.
    pub signer: String,
    /// The signing key's `SHA256:…` fingerprint.
    pub signer_key: String,
    /// This attach closed the blocker (`--close`).
    pub closed: bool,
    /// SHA-256 (hex) of the previous line's bytes, without its newline.
    pub prev: String,
}

/// The log of the map at `map`.
pub fn log_path(map: &Path) -> PathBuf {
    let stem = map
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "map".into());
    crate::util::fsutil::parent_dir(map).join(format!("{stem}.evidence.jsonl"))
}

/// The entries of a log's bytes, and every break in its chain (line
/// number, what is wrong). Reading stops at the first line that is not an
/// entry.
pub fn check_chain(bytes: &[u8]) -> (Vec<Entry>, Vec<(usize, String)>) {
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    if bytes.is_empty() {
        return (entries, problems);
    }
    if !bytes.ends_with(b"\n") {
        problems.push((
            bytes.split(|b| *b == b'\n').count(),
            "the last line is cut off (no newline): the log was truncated or is being written"
                .into(),
        ));
    }
    let mut prev = GENESIS.to_string();
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let n = i + 1;
        if line.is_empty() && n == bytes.split(|b| *b == b'\n').count() {
            break;
        }
        let e: Entry = match serde_json::from_slice(line) {
            Ok(e) => e,
            Err(err) => {
                problems.push((n, format!("not a log entry: {err}")));
                break;
            }
        };
        if e.seq != n as u64 {
            problems.push((n, format!("seq is {}, expected {n}", e.seq)));
        }
        if e.prev != prev {
            problems.push((
                n,
                "prev is not the SHA-256 of the line before it: a line was edited, removed or reordered".into(),
            ));
        }
        prev = crate::hash::sha256_hex(line);
        entries.push(e);
    }
    (entries, problems)
}

/// The SHA-256 of the last line (what the next line's `prev` must be).
pub fn head(bytes: &[u8]) -> String {
    bytes
        .split(|b| *b == b'\n')
        .rfind(|l| !l.is_empty())
        .map(crate::hash::sha256_hex)
        .unwrap_or_else(|| GENESIS.to_string())
}

/// Read a log (absent: empty).
pub fn read(path: &Path) -> Result<Vec<u8>, crate::util::fsutil::InputError> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(Vec::new());
    }
    crate::util::fsutil::read_bounded(path, MAX_LOG_BYTES, "evidence log")
}

/// Append `entry` (its `seq` and `prev` set from `existing`, the log's
/// current bytes) as one line, and sync it to disk. Refuses to append to a
/// log whose chain is already broken.
pub fn append(path: &Path, existing: &[u8], mut entry: Entry) -> Result<Entry, String> {
    use std::io::Write;
    let (entries, problems) = check_chain(existing);
    if let Some((n, p)) = problems.first() {
        return Err(format!(
            "{} line {n}: {p}; nothing appended",
            path.display()
        ));
    }
    entry.seq = entries.len() as u64 + 1;
    entry.prev = head(existing);
    let mut line = serde_json::to_vec(&entry).map_err(|e| e.to_string())?;
    line.push(b'\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    f.write_all(&line)
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("cannot append to {}: {e}", path.display()))?;
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(blocker: &str) -> Entry {
        Entry {
            seq: 0,
            time: "2026-12-01T00:00:00.000Z".into(),
            action: "attach".into(),
            blocker: blocker.into(),
            report: "r.json".into(),
            report_sha256: "a".repeat(64),
            seal: "b".repeat(64),
            signature_sha256: "c".repeat(64),
            signer: "ci@x".into(),
            signer_key: "SHA256:x".into(),
            closed: false,
            prev: String::new(),
        }
    }

    #[test]
    fn appended_lines_chain_and_every_edit_breaks_the_chain() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.evidence.jsonl");
        for b in ["A", "B", "C"] {
            let now = read(&p).unwrap();
            append(&p, &now, entry(b)).unwrap();
        }
        let bytes = read(&p).unwrap();
        let (entries, problems) = check_chain(&bytes);
        assert_eq!((entries.len(), problems.len()), (3, 0), "{problems:?}");
        assert_eq!(entries[2].seq, 3);
        // Edit the middle line: the third line's prev no longer matches.
        let text = String::from_utf8(bytes.clone()).unwrap();
        let edited = text.replacen("\"B\"", "\"X\"", 1);
        let (_, problems) = check_chain(edited.as_bytes());
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].0, 3);
        // Remove the first line: seq and prev break.
        let dropped: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
        assert!(!check_chain(dropped.as_bytes()).1.is_empty());
        // Cut the last line short.
        let cut = &bytes[..bytes.len() - 5];
        assert!(!check_chain(cut).1.is_empty());
        // Nothing is appended to a broken log.
        assert!(append(&p, edited.as_bytes(), entry("D")).is_err());
    }

    #[test]
    fn the_log_lives_beside_the_map() {
        assert_eq!(
            log_path(Path::new("blockers/final-blocker-map.json")),
            PathBuf::from("blockers/final-blocker-map.evidence.jsonl")
        );
    }
}
