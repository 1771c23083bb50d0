//! The end of a rehearsal: the row-level diff when the content was not
//! restored, and the one-line rendering of a measured phase.

use super::{DIFF_ROWS, RehearseError};
use crate::engine::{Backend, SnapshotMethod};
use crate::evidence::report::{self, Phase, Phases};
use std::path::Path;

/// Row-level diff between the before state and the after-rollback state
/// when their logical hashes differ. The before side is the source file
/// (generated surrogate or scenario file) if its bytes still equal the
/// before phase, else the snapshot if it still holds the before content.
pub(super) fn diff_if_needed(
    be: &mut dyn Backend,
    phases: &Phases,
    source: &Path,
    snap: &crate::engine::Snapshot,
    snapshot_corrupted: bool,
) -> Result<Option<report::Diff>, RehearseError> {
    let Some(after) = &phases.after_rollback else {
        return Ok(None);
    };
    let before = &phases.before;
    if after.logical.sha256 == before.logical.sha256 && after.cluster == before.cluster {
        return Ok(None);
    }
    let mut tables: Vec<String> = before
        .logical
        .tables
        .iter()
        .filter(|(t, d)| after.logical.tables.get(*t) != Some(*d))
        .map(|(t, _)| t.clone())
        .collect();
    tables.extend(
        after
            .logical
            .tables
            .keys()
            .filter(|t| !before.logical.tables.contains_key(*t))
            .cloned(),
    );
    let source_ok = crate::hash::file_sha256(source)
        .ok()
        .map(|d| Some(d.sha256))
        == Some(before.file_sha256.clone());
    let reference = if source_ok {
        Some(crate::engine::Snapshot {
            location: source.display().to_string(),
            sha256: String::new(),
            size: None,
            method: SnapshotMethod::Copy,
        })
    } else if !snapshot_corrupted
        && phases
            .snapshot
            .as_ref()
            .is_some_and(|s| s.logical.sha256 == before.logical.sha256)
    {
        Some(snap.clone())
    } else {
        None
    };
    let d = match reference {
        Some(r) => be.diff(&r, &tables, DIFF_ROWS)?,
        None => report::Diff {
            from: "before".into(),
            to: "after_rollback".into(),
            schema_differs: before.logical.schema_sha256 != after.logical.schema_sha256,
            tables: Vec::new(),
            error: Some(format!(
                "no intact copy of the before state to diff against; differing tables: {}",
                tables.join(", ")
            )),
            ..report::Diff::default()
        },
    };
    let mut d = d;
    d.add_phase_differences(before, after);
    Ok(Some(d))
}

/// `SHA256SUMS` over the kept artifacts (check with `sha256sum -c`).
pub(super) fn write_sums(dir: &Path) -> Result<(), RehearseError> {
    let mut sums = String::new();
    for name in [
        "before.db",
        "snapshot.db",
        "after-apply.db",
        "after-rollback.db",
    ] {
        let p = dir.join(name);
        if let Ok(h) = crate::hash::file_sha256(&p) {
            sums.push_str(&format!("{}  {name}\n", h.sha256));
        }
    }
    crate::util::fsutil::write_atomic(&dir.join("SHA256SUMS"), sums.as_bytes(), true)
        .map_err(|e| RehearseError::Input(e.to_string()))
}

/// One human line for a measured phase.
pub fn phase_line(name: &str, p: &Phase) -> String {
    let rows: u64 = p.logical.tables.values().map(|t| t.rows).sum();
    let mut s = format!(
        "{name:<15} file {}  logical {}  {} pages  {rows} rows  integrity {}  fk violations {}  {} ms",
        p.file_sha256.as_deref().map(|h| &h[..16]).unwrap_or("-"),
        &p.logical.sha256[..16],
        p.page_count
            .map(|n| n.to_string())
            .unwrap_or_else(|| "-".into()),
        p.integrity_check,
        p.foreign_key_violations,
        p.ms
    );
    if let Some(d) = &p.derived_from {
        s.push_str(&format!("  (bytes identical to {d}: results carried over)"));
    }
    if !p.stray_files.is_empty() {
        s.push_str(&format!("  stray: {}", p.stray_files.join(", ")));
    }
    s
}
