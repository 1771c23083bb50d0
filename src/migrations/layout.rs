//! Migration folder layouts: which tool's files these are, and the ordered
//! list of migrations they hold, read exactly as that tool reads them
//! (file names, version order, down files, no-transaction markers). One
//! file per tool below; detection and the shared model here.
//!
//! Nothing is executed here and nothing is written: a folder is read into
//! plain data ([`Folder`]), every file bounded in size, every problem a
//! [`LayoutError`] that names the file and says what to do.

mod dbmate;
mod diesel;
mod flyway;
mod golang;
mod plain;
mod sqlx;

use super::version::VersionKey;
use crate::schema::Dialect;
use std::path::{Path, PathBuf};

/// Largest migration file read (a migration is SQL text; anything larger
/// is refused rather than read into memory).
pub const MAX_SCRIPT_BYTES: u64 = 64 << 20;

/// The migration tools whose folders rollproof reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// diesel: `<version>_<name>/up.sql` + `down.sql` (+ `metadata.toml`).
    Diesel,
    /// sqlx reversible: `<version>_<name>.up.sql` / `.down.sql`.
    Sqlx,
    /// golang-migrate: `<version>_<name>.up.<ext>` / `.down.<ext>`.
    GolangMigrate,
    /// dbmate: one `<version>_<name>.sql` with `-- migrate:up` / `-- migrate:down`.
    Dbmate,
    /// Flyway: `V<version>__<name>.sql` with `U<version>__<name>.sql` undo files.
    Flyway,
    /// rollproof's plain layout: `<name>.up.sql` / `<name>.down.sql`, natural order.
    Plain,
}

impl Layout {
    /// Name as written on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Diesel => "diesel",
            Layout::Sqlx => "sqlx",
            Layout::GolangMigrate => "golang-migrate",
            Layout::Dbmate => "dbmate",
            Layout::Flyway => "flyway",
            Layout::Plain => "plain",
        }
    }
}

/// One script (an up or a down) as the tool would run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// File, relative to the folder, `/`-separated.
    pub path: String,
    /// The SQL text that runs (for dbmate: the section only).
    pub sql: String,
    /// 1-based line of the file on which `sql` begins (reported lines are
    /// lines of the file, not of the section).
    pub first_line: usize,
    /// SHA-256 of `sql`.
    pub sha256: String,
    /// Whether the tool wraps this script in a transaction.
    pub transaction: bool,
    /// What switched the transaction off, when something did (e.g.
    /// `-- no-transaction`, `metadata.toml run_in_transaction = false`).
    pub no_transaction_marker: Option<String>,
}

/// A migration's down, classified: only `Sql` can be proven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Down {
    /// No down file (or section) at all.
    Missing,
    /// A down that holds nothing but whitespace.
    Empty(Script),
    /// A down that holds only comments.
    CommentOnly(Script),
    /// A down with at least one statement.
    Sql(Script),
}

impl Down {
    /// The script, when there is a file or section.
    pub fn script(&self) -> Option<&Script> {
        match self {
            Down::Missing => None,
            Down::Empty(s) | Down::CommentOnly(s) | Down::Sql(s) => Some(s),
        }
    }

    /// Why the migration is irreversible, or None when its down has SQL.
    pub fn irreversible_because(&self) -> Option<&'static str> {
        match self {
            Down::Missing => Some("no down"),
            Down::Empty(_) => Some("empty down"),
            Down::CommentOnly(_) => Some("comment-only down"),
            Down::Sql(_) => None,
        }
    }
}

/// One migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// Version as the tool names it (`20240101120000`, `1.2`).
    pub version: String,
    /// Description / name part.
    pub name: String,
    /// The tool's ordering key.
    pub key: VersionKey,
    /// The up script.
    pub up: Script,
    /// The down script, classified.
    pub down: Down,
    /// Every file this migration consists of (relative paths), for
    /// `--changed-since` and the report.
    pub files: Vec<String>,
}

impl Migration {
    /// `version_name`, the label used in tables and JUnit.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            self.version.clone()
        } else {
            format!("{}_{}", self.version, self.name)
        }
    }
}

/// A migrations folder, read.
#[derive(Debug, Clone)]
pub struct Folder {
    /// The folder.
    pub dir: PathBuf,
    /// Its layout.
    pub layout: Layout,
    /// Whether the layout was detected (false: given with `--layout`).
    pub detected: bool,
    /// Migrations in the tool's order.
    pub migrations: Vec<Migration>,
    /// Files the tool itself ignores (e.g. a README beside sqlx files).
    pub ignored: Vec<String>,
}

/// Why a folder could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    /// A file or folder could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The folder holds no migrations of any known layout.
    #[error(
        "{dir} holds no migrations rollproof recognises (diesel, sqlx, golang-migrate, dbmate, flyway, plain); see docs/MIGRATIONS.md for the layouts, or pass --layout"
    )]
    Nothing { dir: PathBuf },
    /// More than one layout fits.
    #[error("{dir}: {detail}; pass --layout {options} to say which")]
    Ambiguous {
        dir: PathBuf,
        detail: String,
        options: String,
    },
    /// A file breaks the layout's rules.
    #[error("{path}: {problem}")]
    Invalid { path: PathBuf, problem: String },
}

pub(super) fn invalid(path: &Path, problem: impl Into<String>) -> LayoutError {
    LayoutError::Invalid {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

/// Read a regular file of at most [`MAX_SCRIPT_BYTES`] as UTF-8.
pub(super) fn read_text(path: &Path) -> Result<String, LayoutError> {
    let io = |source| LayoutError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(invalid(path, "not a regular file"));
    }
    if meta.len() > MAX_SCRIPT_BYTES {
        return Err(invalid(
            path,
            format!(
                "{} bytes, larger than any migration rollproof reads ({MAX_SCRIPT_BYTES})",
                meta.len()
            ),
        ));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    String::from_utf8(bytes).map_err(|_| invalid(path, "not UTF-8 text"))
}

/// The entries of `dir` (names, sorted), skipping dot-files as every tool does.
pub(super) fn entries(dir: &Path) -> Result<Vec<(String, PathBuf)>, LayoutError> {
    let io = |source| LayoutError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io)? {
        let e = e.map_err(io)?;
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            out.push((name, e.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Build a script record for `sql` read from `rel`.
pub(super) fn script(rel: &str, sql: String, first_line: usize, transaction: bool) -> Script {
    Script {
        path: rel.to_string(),
        sha256: crate::hash::sha256_hex(sql.as_bytes()),
        sql,
        first_line,
        transaction,
        no_transaction_marker: None,
    }
}

/// Classify a down script: empty, comment-only, or SQL. A text that does
/// not even lex counts as SQL (it will fail when run, and say where).
pub fn classify_down(s: Script, dialect: Dialect) -> Down {
    if s.sql.trim().is_empty() {
        return Down::Empty(s);
    }
    match crate::schema::tokens::statements(&s.sql, dialect) {
        Ok(st) if st.is_empty() => Down::CommentOnly(s),
        _ => Down::Sql(s),
    }
}

/// Sort by key and refuse two migrations with one version.
pub(super) fn order(dir: &Path, mut m: Vec<Migration>) -> Result<Vec<Migration>, LayoutError> {
    m.sort_by(|a, b| a.key.cmp(&b.key).then_with(|| a.up.path.cmp(&b.up.path)));
    for w in m.windows(2) {
        if w[0].key == w[1].key {
            return Err(invalid(
                &dir.join(&w[1].up.path),
                format!(
                    "version {} is used twice ({} and {}); the tool would refuse this folder too",
                    w[1].version, w[0].up.path, w[1].up.path
                ),
            ));
        }
    }
    Ok(m)
}

/// Read `dir` as `layout`, or detect the layout when None.
pub fn load(dir: &Path, layout: Option<Layout>, dialect: Dialect) -> Result<Folder, LayoutError> {
    let meta = std::fs::metadata(dir).map_err(|source| LayoutError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(invalid(dir, "not a folder; give the migrations folder"));
    }
    let (layout, detected) = match layout {
        Some(l) => (l, false),
        None => (detect(dir)?, true),
    };
    let (migrations, ignored) = match layout {
        Layout::Diesel => diesel::load(dir, dialect)?,
        Layout::Sqlx => sqlx::load(dir, dialect)?,
        Layout::GolangMigrate => golang::load(dir, dialect)?,
        Layout::Dbmate => dbmate::load(dir, dialect)?,
        Layout::Flyway => flyway::load(dir, dialect)?,
        Layout::Plain => plain::load(dir, dialect)?,
    };
    if migrations.is_empty() {
        return Err(invalid(
            dir,
            format!("holds no {} migrations", layout.as_str()),
        ));
    }
    Ok(Folder {
        dir: dir.to_path_buf(),
        layout,
        detected,
        migrations,
        ignored,
    })
}

/// What the folder's entries look like, for detection.
#[derive(Debug, Default)]
struct Seen {
    diesel: bool,
    flyway: bool,
    dbmate: bool,
    versioned_pairs: bool,
    plain_pairs: bool,
    sqlx_hint: bool,
}

fn detect(dir: &Path) -> Result<Layout, LayoutError> {
    let mut seen = Seen::default();
    for (name, path) in entries(dir)? {
        if path.is_dir() {
            seen.diesel |= path.join("up.sql").is_file();
            continue;
        }
        if flyway::is_versioned_name(&name) {
            seen.flyway = true;
        } else if let Some(stem) = name
            .strip_suffix(".up.sql")
            .or_else(|| name.strip_suffix(".down.sql"))
        {
            if sqlx::split_version(stem).is_some() {
                seen.versioned_pairs = true;
                seen.sqlx_hint |= read_text(&path)
                    .map(|t| t.starts_with(sqlx::NO_TX))
                    .unwrap_or(false);
            } else {
                seen.plain_pairs = true;
            }
        } else if name.ends_with(".sql") && dbmate::has_up_marker(&path) {
            seen.dbmate = true;
        }
    }
    let mut found: Vec<Layout> = Vec::new();
    if seen.diesel {
        found.push(Layout::Diesel);
    }
    if seen.flyway {
        found.push(Layout::Flyway);
    }
    if seen.dbmate {
        found.push(Layout::Dbmate);
    }
    if seen.plain_pairs {
        found.push(Layout::Plain);
    }
    if seen.versioned_pairs {
        match (seen.sqlx_hint, project_hint(dir)) {
            (true, _) | (false, Some(Layout::Sqlx)) => found.push(Layout::Sqlx),
            (false, Some(l)) => found.push(l),
            (false, None) => {
                if found.is_empty() {
                    return Err(LayoutError::Ambiguous {
                        dir: dir.to_path_buf(),
                        detail: "`<version>_<name>.up.sql` / `.down.sql` is both the sqlx and the golang-migrate layout, and nothing here says which (no `-- no-transaction` marker, no Cargo.toml naming sqlx or go.mod naming golang-migrate above it)".into(),
                        options: "sqlx|golang-migrate".into(),
                    });
                }
                found.push(Layout::Sqlx);
            }
        }
    }
    match found.as_slice() {
        [] => Err(LayoutError::Nothing {
            dir: dir.to_path_buf(),
        }),
        [one] => Ok(*one),
        many => Err(LayoutError::Ambiguous {
            dir: dir.to_path_buf(),
            detail: format!(
                "files of several layouts sit here ({})",
                many.iter()
                    .map(|l| l.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            options: many
                .iter()
                .map(|l| l.as_str())
                .collect::<Vec<_>>()
                .join("|"),
        }),
    }
}

/// The nearest project file above `dir` that names the tool: a Cargo.toml
/// depending on sqlx, or a go.mod requiring golang-migrate. Looks at most
/// six folders up and stops at a repository root (`.git`).
fn project_hint(dir: &Path) -> Option<Layout> {
    let mut cur = dir.canonicalize().ok()?;
    for _ in 0..6 {
        let cargo = cur.join("Cargo.toml");
        if let Ok(text) = read_text(&cargo)
            && let Ok(v) = text.parse::<toml::Table>()
        {
            let deps = ["dependencies", "dev-dependencies", "workspace"];
            let named = deps.iter().any(|k| match v.get(*k) {
                Some(toml::Value::Table(t)) if *k == "workspace" => t
                    .get("dependencies")
                    .and_then(|d| d.as_table())
                    .is_some_and(|d| d.contains_key("sqlx")),
                Some(toml::Value::Table(t)) => t.contains_key("sqlx"),
                _ => false,
            });
            if named {
                return Some(Layout::Sqlx);
            }
        }
        if let Ok(text) = read_text(&cur.join("go.mod"))
            && text.contains("github.com/golang-migrate/migrate")
        {
            return Some(Layout::GolangMigrate);
        }
        if cur.join(".git").exists() {
            return None;
        }
        cur = cur.parent()?.to_path_buf();
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Write `files` (relative path, content) under a fresh temp folder.
    pub fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        // A repository root stops the project-hint search inside the temp dir.
        std::fs::create_dir(d.path().join(".git")).unwrap();
        for (rel, text) in files {
            let p = d.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        d
    }

    fn detected(files: &[(&str, &str)]) -> Result<Layout, LayoutError> {
        let d = folder(files);
        detect(d.path())
    }

    #[test]
    fn each_layout_is_detected() {
        assert_eq!(
            detected(&[("2024-01-01-000000_a/up.sql", "x")]).unwrap(),
            Layout::Diesel
        );
        assert_eq!(
            detected(&[("V1__a.sql", "x"), ("U1__a.sql", "x")]).unwrap(),
            Layout::Flyway
        );
        assert_eq!(
            detected(&[("20240101_a.sql", "-- migrate:up\nx;\n-- migrate:down\n")]).unwrap(),
            Layout::Dbmate
        );
        assert_eq!(
            detected(&[("a.up.sql", "x"), ("a.down.sql", "y")]).unwrap(),
            Layout::Plain
        );
        assert_eq!(
            detected(&[
                ("1_a.up.sql", "-- no-transaction\nx"),
                ("1_a.down.sql", "y")
            ])
            .unwrap(),
            Layout::Sqlx
        );
    }

    #[test]
    fn sqlx_and_golang_migrate_need_a_hint_or_the_flag() {
        let e = detected(&[("1_a.up.sql", "x"), ("1_a.down.sql", "y")]).unwrap_err();
        assert!(matches!(e, LayoutError::Ambiguous { .. }), "{e}");
        assert!(
            e.to_string().contains("--layout sqlx|golang-migrate"),
            "{e}"
        );
        let d = folder(&[
            (
                "go.mod",
                "module x\nrequire github.com/golang-migrate/migrate/v4 v4.17.0\n",
            ),
            ("db/1_a.up.sql", "x"),
        ]);
        assert_eq!(detect(&d.path().join("db")).unwrap(), Layout::GolangMigrate);
        let d = folder(&[
            (
                "Cargo.toml",
                "[package]\nname='x'\n[dependencies]\nsqlx = '0.8'\n",
            ),
            ("migrations/1_a.up.sql", "x"),
        ]);
        assert_eq!(detect(&d.path().join("migrations")).unwrap(), Layout::Sqlx);
    }

    #[test]
    fn mixed_layouts_and_empty_folders_are_refused() {
        let e = detected(&[("V1__a.sql", "x"), ("a.up.sql", "y")]).unwrap_err();
        assert!(e.to_string().contains("flyway, plain"), "{e}");
        assert!(matches!(
            detected(&[("README.md", "hi")]).unwrap_err(),
            LayoutError::Nothing { .. }
        ));
    }

    #[test]
    fn downs_are_classified() {
        let s = |t: &str| script("d.sql", t.to_string(), 1, true);
        assert!(matches!(
            classify_down(s("  \n"), Dialect::Sqlite),
            Down::Empty(_)
        ));
        assert!(matches!(
            classify_down(s("-- nothing to undo\n/* really */"), Dialect::Sqlite),
            Down::CommentOnly(_)
        ));
        assert!(matches!(
            classify_down(s("DROP TABLE t;"), Dialect::Sqlite),
            Down::Sql(_)
        ));
        assert_eq!(
            classify_down(s(""), Dialect::Sqlite).irreversible_because(),
            Some("empty down")
        );
    }
}
