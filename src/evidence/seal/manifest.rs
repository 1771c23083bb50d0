//! The seal manifest format (`SEALS.json`), its canonical bytes and seal,
//! and the rules a manifest path must follow before any file is opened.
//!
//! ```json
//! {
//!   "format": "rollproof-seals",
//!   "schema_version": 1,
//!   "sealed_dirs": ["reports", "surrogates"],
//!   "files": [
//!     { "path": "surrogates/fixtures/tiny-seed7.db", "sha256": "…", "size": 245760,
//!       "generated": { "profile": "surrogates/profiles/tiny.toml", "seed": 7, "scale": 1.0 } },
//!     { "path": "surrogates/profiles/tiny.toml", "sha256": "…", "size": 1024 }
//!   ],
//!   "seal": "…"
//! }
//! ```
//!
//! The seal is SHA-256 over the canonical JSON of the manifest object without
//! its `seal` key: object keys sorted by byte order, no whitespace, strings
//! and numbers as serde_json writes them. Whitespace or key order may change
//! without breaking it; any value, entry or entry order change breaks it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// File name of the manifest, at the repository root.
pub const MANIFEST_FILE: &str = "SEALS.json";
/// Value of the `format` field.
pub const FORMAT: &str = "rollproof-seals";
/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;
/// Folders sealed when a new manifest is created.
pub const DEFAULT_SEALED_DIRS: &[&str] = &["reports", "surrogates"];

/// How a generated surrogate fixture is rebuilt (`rollproof check
/// --regenerate` does so and compares the bytes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// Profile (TOML) the fixture is generated from, relative to the root;
    /// it must itself be a sealed file. Also the label given to the generator.
    pub profile: String,
    /// Seed given to the generator.
    pub seed: u64,
    /// Row-count scale given to the generator (1.0 = the profile's counts).
    pub scale: f64,
}

/// One sealed file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Path relative to the repository root, forward slashes, normalized
    /// (no `.`, `..`, empty or absolute components), inside a sealed folder.
    pub path: String,
    /// SHA-256 of the file's bytes, 64 lowercase hex digits.
    pub sha256: String,
    /// Size of the file in bytes.
    pub size: u64,
    /// For generated surrogate fixtures: how to regenerate the exact bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<Recipe>,
}

/// The manifest without its seal (what the seal covers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always `"rollproof-seals"`.
    pub format: String,
    /// Always 1 for this layout.
    pub schema_version: u32,
    /// Folders (relative to the root, sorted) in which every regular file
    /// must be sealed; a file there that is not listed is drift.
    pub sealed_dirs: Vec<String>,
    /// The sealed files, sorted by path.
    pub files: Vec<Entry>,
}

/// The manifest as it sits on disk: the body plus its seal. Parsed straight
/// from the text so duplicate keys are errors, not silently merged.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OnDisk {
    format: String,
    schema_version: u32,
    sealed_dirs: Vec<String>,
    files: Vec<Entry>,
    #[serde(default)]
    seal: Option<String>,
}

/// What was wrong with the text of a manifest, before any entry is looked at.
#[derive(Debug, Clone, PartialEq)]
pub enum ParseProblem {
    /// Not JSON at all.
    InvalidJson(String),
    /// JSON, but not a seal manifest of this version.
    InvalidManifest(String),
}

impl std::fmt::Display for ParseProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseProblem::InvalidJson(e) => write!(f, "not valid JSON: {e}"),
            ParseProblem::InvalidManifest(e) => write!(f, "not a rollproof seal manifest: {e}"),
        }
    }
}

/// A parsed manifest and the state of its seal.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The body.
    pub manifest: Manifest,
    /// The seal as written (None when absent or not a string).
    pub recorded_seal: Option<String>,
    /// The seal recomputed from the content.
    pub computed_seal: String,
}

impl Parsed {
    /// True when the recorded seal matches the content.
    pub fn seal_holds(&self) -> bool {
        self.recorded_seal.as_deref() == Some(self.computed_seal.as_str())
    }
}

impl Manifest {
    /// An empty manifest sealing `dirs`.
    pub fn new(mut dirs: Vec<String>) -> Manifest {
        dirs.sort();
        dirs.dedup();
        Manifest {
            format: FORMAT.to_string(),
            schema_version: SCHEMA_VERSION,
            sealed_dirs: dirs,
            files: Vec::new(),
        }
    }

    /// The bytes to write: pretty JSON in field order with the seal last,
    /// and a final newline. The seal is computed by re-parsing the text, the
    /// same way `check` reads it, so the two can never disagree.
    pub fn to_sealed_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut m = self.clone();
        m.files.sort_by(|a, b| a.path.cmp(&b.path));
        m.sealed_dirs.sort();
        let body = serde_json::to_string(&m)?;
        let seal = canonical_seal(&serde_json::from_str(&body)?);
        let mut value = serde_json::to_value(&m)?;
        if let Value::Object(map) = &mut value {
            map.insert("seal".to_string(), Value::String(seal));
        }
        let mut text = serde_json::to_string_pretty(&value)?;
        text.push('\n');
        Ok(text.into_bytes())
    }

    /// The entry for `path`, if any.
    pub fn entry(&self, path: &str) -> Option<&Entry> {
        self.files.iter().find(|e| e.path == path)
    }
}

/// Parse a manifest's text: JSON syntax, then the seal over the canonical
/// form, then the exact schema.
pub fn parse(text: &str) -> Result<Parsed, ParseProblem> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| ParseProblem::InvalidJson(e.to_string()))?;
    let Value::Object(map) = &value else {
        return Err(ParseProblem::InvalidManifest(
            "the top level is not a JSON object".to_string(),
        ));
    };
    let recorded_seal = map.get("seal").and_then(Value::as_str).map(str::to_string);
    let computed_seal = canonical_seal(&value);
    let raw: OnDisk =
        serde_json::from_str(text).map_err(|e| ParseProblem::InvalidManifest(e.to_string()))?;
    if raw.format != FORMAT {
        return Err(ParseProblem::InvalidManifest(format!(
            "format is {:?}, expected {FORMAT:?}",
            raw.format
        )));
    }
    if raw.schema_version != SCHEMA_VERSION {
        return Err(ParseProblem::InvalidManifest(format!(
            "schema_version {} is not supported (this rollproof reads {SCHEMA_VERSION})",
            raw.schema_version
        )));
    }
    let _ = raw.seal;
    Ok(Parsed {
        manifest: Manifest {
            format: raw.format,
            schema_version: raw.schema_version,
            sealed_dirs: raw.sealed_dirs,
            files: raw.files,
        },
        recorded_seal,
        computed_seal,
    })
}

/// SHA-256 over the canonical JSON of `value` without a top-level `seal`
/// (the same canonical form and seal rule as proof reports).
pub fn canonical_seal(value: &Value) -> String {
    crate::evidence::canonical::seal_of(value)
}

/// Why a manifest path is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathProblem {
    /// `..` components or an absolute path: could reach outside the root.
    Traversal(String),
    /// Not in normal form, or not inside a sealed folder.
    NotNormal(String),
}

impl std::fmt::Display for PathProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathProblem::Traversal(why) => write!(f, "path traversal: {why}"),
            PathProblem::NotNormal(why) => write!(f, "bad path: {why}"),
        }
    }
}

/// Check a root-relative path is in normal form: forward slashes, no empty,
/// `.` or `..` components, not absolute, no control characters.
pub fn check_rel_path(path: &str) -> Result<(), PathProblem> {
    if path.is_empty() {
        return Err(PathProblem::NotNormal("empty path".to_string()));
    }
    let bytes = path.as_bytes();
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    if path.starts_with('/') || path.starts_with('\\') || drive {
        return Err(PathProblem::Traversal(
            "absolute path; manifest paths are relative to the root".to_string(),
        ));
    }
    if path.split(['/', '\\']).any(|c| c == "..") {
        return Err(PathProblem::Traversal(
            "`..` component climbs out of the sealed folders".to_string(),
        ));
    }
    if path.contains('\\') {
        return Err(PathProblem::NotNormal(
            "backslash; use forward slashes".to_string(),
        ));
    }
    if path.chars().any(char::is_control) {
        return Err(PathProblem::NotNormal(
            "control character in path".to_string(),
        ));
    }
    if path.split('/').any(|c| c.is_empty() || c == ".") {
        return Err(PathProblem::NotNormal(
            "not normalized (empty or `.` component, or trailing slash)".to_string(),
        ));
    }
    Ok(())
}

/// The sealed folder `path` lies strictly inside, if any.
pub fn sealed_dir_of<'a>(path: &str, dirs: &'a [String]) -> Option<&'a str> {
    dirs.iter().map(String::as_str).find(|d| {
        path.len() > d.len() + 1 && path.starts_with(d) && path.as_bytes()[d.len()] == b'/'
    })
}

/// Check the list of sealed folders: each a normal relative path, none
/// inside another. Returns the problems, one per offending folder.
pub fn check_sealed_dirs(dirs: &[String]) -> Vec<(String, PathProblem)> {
    let mut problems = Vec::new();
    for (i, d) in dirs.iter().enumerate() {
        if let Err(p) = check_rel_path(d) {
            problems.push((d.clone(), p));
        } else if dirs[..i].contains(d) {
            problems.push((
                d.clone(),
                PathProblem::NotNormal("listed twice".to_string()),
            ));
        } else if let Some(outer) = sealed_dir_of(d, dirs) {
            problems.push((
                d.clone(),
                PathProblem::NotNormal(format!("nested inside sealed folder {outer}")),
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        let mut m = Manifest::new(vec!["surrogates".into(), "reports".into()]);
        m.files.push(Entry {
            path: "surrogates/b.db".into(),
            sha256: "a".repeat(64),
            size: 3,
            generated: Some(Recipe {
                profile: "surrogates/p.toml".into(),
                seed: 7,
                scale: 1.0,
            }),
        });
        m.files.push(Entry {
            path: "reports/a.json".into(),
            sha256: "b".repeat(64),
            size: 9,
            generated: None,
        });
        m
    }

    #[test]
    fn written_manifest_parses_with_a_holding_seal() {
        let bytes = sample().to_sealed_bytes().unwrap();
        let p = parse(std::str::from_utf8(&bytes).unwrap()).unwrap();
        assert!(p.seal_holds());
        assert_eq!(p.manifest.sealed_dirs, vec!["reports", "surrogates"]);
        assert_eq!(p.manifest.files[0].path, "reports/a.json");
    }

    #[test]
    fn whitespace_is_free_but_values_are_sealed() {
        let text = String::from_utf8(sample().to_sealed_bytes().unwrap()).unwrap();
        let compact: Value = serde_json::from_str(&text).unwrap();
        assert!(parse(&compact.to_string()).unwrap().seal_holds());
        let edited = text.replace("\"size\": 9", "\"size\": 8");
        assert_ne!(edited, text);
        assert!(!parse(&edited).unwrap().seal_holds());
    }

    #[test]
    fn duplicate_keys_and_unknown_fields_are_rejected() {
        let text = String::from_utf8(sample().to_sealed_bytes().unwrap()).unwrap();
        let dup = text.replacen("\"size\": 9", "\"size\": 9, \"size\": 9", 1);
        assert!(matches!(parse(&dup), Err(ParseProblem::InvalidManifest(_))));
        let extra = text.replacen("\"size\": 9", "\"size\": 9, \"note\": 1", 1);
        assert!(matches!(
            parse(&extra),
            Err(ParseProblem::InvalidManifest(_))
        ));
        assert!(matches!(parse("{"), Err(ParseProblem::InvalidJson(_))));
    }

    #[test]
    fn path_rules() {
        assert!(check_rel_path("surrogates/a.db").is_ok());
        for bad in ["../x", "a/../b", "/etc/passwd", "C:/x", "\\\\srv\\x"] {
            assert!(
                matches!(check_rel_path(bad), Err(PathProblem::Traversal(_))),
                "{bad}"
            );
        }
        for bad in ["", "a//b", "./a", "a/./b", "a/", "a\\b", "a\nb"] {
            assert!(
                matches!(check_rel_path(bad), Err(PathProblem::NotNormal(_))),
                "{bad:?}"
            );
        }
        let dirs = vec!["reports".to_string(), "surrogates".to_string()];
        assert_eq!(sealed_dir_of("reports/x", &dirs), Some("reports"));
        assert_eq!(sealed_dir_of("reportsx/y", &dirs), None);
        assert_eq!(sealed_dir_of("reports", &dirs), None);
        let nested = vec!["a".to_string(), "a/b".to_string(), "a".to_string()];
        assert_eq!(check_sealed_dirs(&nested).len(), 2);
    }
}
