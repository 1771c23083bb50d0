//! The kinds of drift `check` names, and one finding of one of them.
//! Every kind has its own end-to-end test (tests/cli/seal.rs) and a row in
//! docs/SEALS.md.

use super::manifest::PathProblem;
use serde::Serialize;

/// The kinds of drift `check` reports (serialised in kebab-case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Drift {
    /// Same size, different bytes (or grew and earlier bytes changed).
    ChangedBytes,
    /// Smaller than sealed.
    Truncated,
    /// Larger than sealed, the sealed bytes intact at its start.
    Appended,
    /// A sealed file is gone.
    Missing,
    /// A file in a sealed folder is not in the manifest.
    Unsealed,
    /// A sealed file is gone and a new file holds exactly its bytes.
    Renamed,
    /// A symlink (resolving inside the root) where a sealed file or in a
    /// sealed folder; never followed.
    Symlink,
    /// A symlink resolving outside the root, or dangling.
    SymlinkOutside,
    /// A FIFO, socket or device in a sealed folder.
    NotRegularFile,
    /// A sealed file that could not be read.
    Unreadable,
    /// A sealed file that was replaced (renamed over), or written, while
    /// `check` hashed it: its bytes on disk are not the bytes hashed.
    ReplacedDuringCheck,
    /// A folder that must be sealed (`check --require-dir`, or a default
    /// folder present on disk) is not in the manifest's `sealed_dirs`.
    SealedDirDropped,
    /// An entry differs from the bytes and the manifest's seal is broken:
    /// the entry (digest or size) was edited by hand.
    EntryEdited,
    /// The manifest's own seal does not match its content (or is absent).
    ManifestSealBroken,
    /// The same path is listed twice.
    DuplicateEntry,
    /// A `..` component or an absolute path.
    PathTraversal,
    /// A path not in normal form, or outside the sealed folders.
    BadPath,
    /// An entry field is malformed (digest, recipe).
    BadEntry,
    /// The manifest is not valid JSON.
    InvalidJson,
    /// The manifest is JSON but not a seal manifest of this version.
    InvalidManifest,
    /// A generated fixture regenerated from its recipe differs from its seal.
    NotRegenerable,
}

impl Drift {
    /// The kebab-case name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Drift::ChangedBytes => "changed-bytes",
            Drift::Truncated => "truncated",
            Drift::Appended => "appended",
            Drift::Missing => "missing",
            Drift::Unsealed => "unsealed",
            Drift::Renamed => "renamed",
            Drift::Symlink => "symlink",
            Drift::SymlinkOutside => "symlink-outside",
            Drift::NotRegularFile => "not-regular-file",
            Drift::Unreadable => "unreadable",
            Drift::ReplacedDuringCheck => "replaced-during-check",
            Drift::SealedDirDropped => "sealed-dir-dropped",
            Drift::EntryEdited => "entry-edited",
            Drift::ManifestSealBroken => "manifest-seal-broken",
            Drift::DuplicateEntry => "duplicate-entry",
            Drift::PathTraversal => "path-traversal",
            Drift::BadPath => "bad-path",
            Drift::BadEntry => "bad-entry",
            Drift::InvalidJson => "invalid-json",
            Drift::InvalidManifest => "invalid-manifest",
            Drift::NotRegenerable => "not-regenerable",
        }
    }
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Root-relative path of the offending file (or `SEALS.json`).
    pub path: String,
    /// Which drift it is.
    pub drift: Drift,
    /// What exactly differs.
    pub detail: String,
}

/// Control characters escaped, so a hostile name cannot forge output lines.
fn printable(path: &str) -> String {
    if path.chars().any(char::is_control) {
        path.escape_debug().to_string()
    } else {
        path.to_string()
    }
}

pub(super) fn finding(path: &str, drift: Drift, detail: impl Into<String>) -> Finding {
    Finding {
        path: printable(path),
        drift,
        detail: detail.into(),
    }
}

pub(super) fn path_finding(path: &str, p: PathProblem) -> Finding {
    match p {
        PathProblem::Traversal(why) => finding(path, Drift::PathTraversal, why),
        PathProblem::NotNormal(why) => finding(path, Drift::BadPath, why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind, as `check` names it in its output and in JSON.
    const ALL: [(Drift, &str); 21] = [
        (Drift::ChangedBytes, "changed-bytes"),
        (Drift::Truncated, "truncated"),
        (Drift::Appended, "appended"),
        (Drift::Missing, "missing"),
        (Drift::Unsealed, "unsealed"),
        (Drift::Renamed, "renamed"),
        (Drift::Symlink, "symlink"),
        (Drift::SymlinkOutside, "symlink-outside"),
        (Drift::NotRegularFile, "not-regular-file"),
        (Drift::Unreadable, "unreadable"),
        (Drift::ReplacedDuringCheck, "replaced-during-check"),
        (Drift::SealedDirDropped, "sealed-dir-dropped"),
        (Drift::EntryEdited, "entry-edited"),
        (Drift::ManifestSealBroken, "manifest-seal-broken"),
        (Drift::DuplicateEntry, "duplicate-entry"),
        (Drift::PathTraversal, "path-traversal"),
        (Drift::BadPath, "bad-path"),
        (Drift::BadEntry, "bad-entry"),
        (Drift::InvalidJson, "invalid-json"),
        (Drift::InvalidManifest, "invalid-manifest"),
        (Drift::NotRegenerable, "not-regenerable"),
    ];

    #[test]
    fn every_drift_has_its_kebab_case_name_in_output_and_json() {
        for (d, name) in ALL {
            assert_eq!(d.as_str(), name);
            assert_eq!(serde_json::to_value(d).unwrap(), name);
        }
    }

    #[test]
    fn a_finding_escapes_control_characters_in_its_path() {
        let f = finding("fixtures/a b.db", Drift::Missing, "gone");
        assert_eq!(
            f,
            Finding {
                path: "fixtures/a b.db".into(),
                drift: Drift::Missing,
                detail: "gone".into(),
            }
        );
        // A newline cannot start a forged `path: OK` line.
        let f = finding("x\nfixtures/y: OK", Drift::Unsealed, "");
        assert_eq!(f.path, "x\\nfixtures/y: OK");
        assert_eq!(printable("tab\there"), "tab\\there");
    }

    #[test]
    fn a_path_problem_is_a_traversal_or_a_bad_path() {
        let f = path_finding("../x", PathProblem::Traversal("a `..` component".into()));
        assert_eq!(
            (f.path.as_str(), f.drift, f.detail.as_str()),
            ("../x", Drift::PathTraversal, "a `..` component")
        );
        let f = path_finding("a//b", PathProblem::NotNormal("not in normal form".into()));
        assert_eq!(
            (f.path.as_str(), f.drift, f.detail.as_str()),
            ("a//b", Drift::BadPath, "not in normal form")
        );
    }
}
