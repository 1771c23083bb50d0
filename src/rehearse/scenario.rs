//! Rehearsal scenarios: one TOML file names the surrogate, the blocker it is
//! evidence for, what to apply, how to snapshot and roll back, the fault to
//! inject and the expected verdict (docs/SCENARIOS.md). Unknown keys are
//! errors; paths are relative to the scenario file.

use crate::engine::script::{ScriptMode, TxMode};
use crate::engine::{RollbackMethod, SnapshotMethod};
use crate::evidence::report::Verdict;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The blocker rollback proofs are evidence for unless a scenario says otherwise.
pub const DEFAULT_BLOCKER: &str = "FIX7-P0-DRYRUN-PROD-ROLLBACK-1";

/// Why a scenario cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file is not a regular file, too large or unreadable.
    #[error(transparent)]
    Input(#[from] crate::util::fsutil::InputError),
    /// The folder could not be listed.
    #[error("cannot read scenario {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown/missing keys.
    #[error("scenario {path}: {message}")]
    Parse { path: PathBuf, message: String },
    /// A field has an impossible value or combination.
    #[error("scenario {path}: field `{field}`: {problem}")]
    Invalid {
        path: PathBuf,
        field: String,
        problem: String,
    },
}

/// `[scenario]`: identity and expectation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// Name: report folder name; letters, digits, `-`, `_`, `.` only.
    pub name: String,
    /// One line saying what the scenario proves.
    #[serde(default)]
    pub description: String,
    /// Blocker id the proof is evidence for.
    #[serde(default = "default_blocker")]
    pub blocker: String,
    /// Evidence leg: `surrogate` or `operator real-dump clone`. Optional:
    /// the database's provenance record decides; a scenario that names a
    /// different leg than its database carries is refused as bad input.
    pub leg: Option<String>,
    /// Expected verdict: `PASS` or `FAIL`.
    pub expect: Verdict,
}

fn default_blocker() -> String {
    DEFAULT_BLOCKER.to_string()
}

/// `[surrogate]`: a profile + seed to generate, or an existing file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurrogateSpec {
    /// Profile to generate from (relative to the scenario file).
    pub profile: Option<PathBuf>,
    /// Generation seed.
    pub seed: Option<u64>,
    /// Generation scale.
    pub scale: Option<f64>,
    /// An existing rollproof database to copy instead (relative path).
    pub file: Option<PathBuf>,
    /// Rehearse on this PostgreSQL server instead of a SQLite file:
    /// `postgres://user@host:port/rollproof_<name>`. The rehearsal loads the
    /// surrogate into its own new database `rollproof_<name>_<run id>` there
    /// and drops it afterwards (docs/POSTGRES.md); `rehearse --target-url`
    /// overrides it. Alone (no `profile`, no `file`) it names an existing
    /// rollproof database — an intake clone, a generated surrogate — which
    /// the rehearsal copies (`CREATE DATABASE … TEMPLATE`) into that new
    /// database and only reads.
    pub url: Option<String>,
}

/// What to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApplyKind {
    /// `count` calls of `fn_birth_register`.
    Births,
    /// The user's up script.
    Sql,
}

impl ApplyKind {
    /// Name as written in scenarios and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ApplyKind::Births => "births",
            ApplyKind::Sql => "sql",
        }
    }
}

/// `[apply]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplySpec {
    /// `births` or `sql`.
    pub kind: ApplyKind,
    /// Births to register (births).
    pub count: Option<u64>,
    /// Seed of the birth requests (births; default 1).
    pub seed: Option<u64>,
    /// Kind mix, kind → weight (births; default an even sensor/meter mix).
    pub kinds: Option<BTreeMap<String, f64>>,
    /// Up script (sql), relative to the scenario file.
    pub up: Option<PathBuf>,
    /// Expected row-count change per table (sql; optional: declared tables
    /// are checked, every other table must then keep its count; a
    /// schema-only change declares none).
    pub expect_rows: Option<BTreeMap<String, i64>>,
}

/// `[snapshot]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotSpec {
    /// `copy` or `backup`.
    pub method: SnapshotMethod,
}

/// `[rollback]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackSpec {
    /// `restore`, `compensate` or `transaction`.
    pub method: RollbackMethod,
    /// Down script (compensate after an sql apply), relative path.
    pub down: Option<PathBuf>,
    /// Compensate births: also rewind `sqlite_sequence` to its recorded
    /// pre-apply values (default false).
    #[serde(default)]
    pub rewind_sequences: bool,
    /// Compensate births: how (default `remove`; docs/SCENARIOS.md).
    #[serde(default)]
    pub compensation: Compensation,
}

/// How compensating births undoes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Compensation {
    /// Remove exactly the rows each birth wrote (`birth_unregister`): the
    /// before state again, history included.
    #[default]
    Remove,
    /// As production would through Directus: the registry record removed,
    /// then a Directus API delete of the item — a `delete` activity is
    /// added and the birth's create activity and revision stay.
    ApiDelete,
}

impl Compensation {
    /// Name as written in scenarios and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Compensation::Remove => "remove",
            Compensation::ApiDelete => "api-delete",
        }
    }
}

/// `on` or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Switch {
    /// On.
    #[default]
    On,
    /// Off.
    Off,
}

/// `[scripts]`: how the up and down scripts run, as the migration tool
/// that will run them in production does (docs/SCENARIOS.md).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptsSpec {
    /// SQLite `PRAGMA foreign_keys` for the scripts: `on` (default, as
    /// diesel and sqlx connect) or `off` (as many projects run migrations).
    #[serde(default)]
    pub foreign_keys: Switch,
    /// `per-script` (default: one transaction around each script, as
    /// diesel, sqlx and golang-migrate do) or `none` (statements commit
    /// one by one; scripts may carry their own BEGIN/COMMIT).
    #[serde(default)]
    pub transaction: TxMode,
}

impl ScriptsSpec {
    /// The runner's mode; `inside_transaction` for the up script under a
    /// `transaction` rollback.
    pub fn mode(&self, inside_transaction: bool) -> ScriptMode {
        ScriptMode {
            foreign_keys: self.foreign_keys == Switch::On,
            transaction: self.transaction,
            inside_transaction,
        }
    }
}

/// A fault to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// SIGKILL the apply process part-way through.
    Kill,
    /// The disk fills up during apply (SQLITE_FULL).
    DiskFull,
    /// Writes fail with an OS I/O error during apply (file size limit).
    IoError,
    /// A byte of the snapshot is flipped before restore.
    CorruptSnapshot,
}

impl FaultKind {
    /// Name as written in scenarios and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Kill => "kill",
            FaultKind::DiskFull => "disk-full",
            FaultKind::IoError => "io-error",
            FaultKind::CorruptSnapshot => "corrupt-snapshot",
        }
    }
}

/// `[fault]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Which fault.
    pub kind: FaultKind,
    /// kill: births reported before the SIGKILL (default 5), or statements
    /// of the up script completed before it (default 1).
    pub after: Option<u64>,
    /// disk-full: pages the file may still grow by (default 2);
    /// io-error: bytes the file may still grow by (default 8192).
    pub headroom: Option<u64>,
}

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Identity and expectation.
    pub scenario: Meta,
    /// The database to rehearse on.
    pub surrogate: SurrogateSpec,
    /// The change.
    pub apply: ApplySpec,
    /// The snapshot.
    pub snapshot: SnapshotSpec,
    /// The rollback.
    pub rollback: RollbackSpec,
    /// Optional fault.
    pub fault: Option<FaultSpec>,
    /// How change scripts run (sql applies and down scripts).
    pub scripts: Option<ScriptsSpec>,
}

impl Scenario {
    /// The scripts' settings (defaults when the scenario has no `[scripts]`).
    pub fn scripts(&self) -> ScriptsSpec {
        self.scripts.clone().unwrap_or_default()
    }
}

/// A loaded scenario with its file's path, digest and folder.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The parsed scenario.
    pub spec: Scenario,
    /// Path as given.
    pub path: PathBuf,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
    /// Folder that relative paths are resolved against.
    pub dir: PathBuf,
}

impl Loaded {
    /// Resolve a path written in the scenario.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }
}

/// Read, parse and validate a scenario file.
pub fn load(path: &Path) -> Result<Loaded, ScenarioError> {
    let bytes =
        crate::util::fsutil::read_bounded(path, crate::util::fsutil::limit::SCENARIO, "scenario")?;
    let text = String::from_utf8(bytes.clone()).map_err(|e| ScenarioError::Parse {
        path: path.to_path_buf(),
        message: format!("not UTF-8: {e}"),
    })?;
    let spec: Scenario = toml::from_str(&text).map_err(|e| ScenarioError::Parse {
        path: path.to_path_buf(),
        message: crate::util::tomlerr::describe(&text, &e),
    })?;
    validate(&spec, path)?;
    Ok(Loaded {
        spec,
        path: path.to_path_buf(),
        sha256: crate::hash::sha256_hex(&bytes),
        dir: crate::util::fsutil::parent_dir(path).to_path_buf(),
    })
}

/// Check every combination the engine relies on.
pub fn validate(s: &Scenario, path: &Path) -> Result<(), ScenarioError> {
    let bad = |field: &str, problem: &str| {
        Err(ScenarioError::Invalid {
            path: path.to_path_buf(),
            field: field.to_string(),
            problem: problem.to_string(),
        })
    };
    let name = &s.scenario.name;
    if name.is_empty()
        || name.starts_with('.')
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return bad(
            "scenario.name",
            "must be non-empty and use only letters, digits, '-', '_' and '.'",
        );
    }
    if s.scenario.blocker.trim().is_empty() {
        return bad("scenario.blocker", "must not be empty");
    }
    if let Some(leg) = &s.scenario.leg
        && !matches!(leg.as_str(), "surrogate" | "operator real-dump clone")
    {
        return bad(
            "scenario.leg",
            "must be \"surrogate\" or \"operator real-dump clone\"",
        );
    }
    let sur = &s.surrogate;
    match (&sur.profile, &sur.file) {
        (Some(_), Some(_)) => return bad("surrogate", "give either `profile` or `file`, not both"),
        (None, None) if sur.url.is_none() => {
            return bad(
                "surrogate",
                "give `profile` (+ `seed`), `file`, or on PostgreSQL only `url` naming a rollproof database (an intake clone, a generated surrogate) to rehearse on a copy of",
            );
        }
        (None, _) if sur.seed.is_some() || sur.scale.is_some() => {
            return bad("surrogate", "`seed` and `scale` only go with `profile`");
        }
        _ => {}
    }
    if let Some(scale) = sur.scale
        && (!scale.is_finite() || scale <= 0.0)
    {
        return bad("surrogate.scale", "must be a positive number");
    }
    let on_pg = sur.url.is_some();
    let pg_method = matches!(
        s.snapshot.method,
        SnapshotMethod::Template | SnapshotMethod::PgDump
    );
    if pg_method && !on_pg {
        return bad(
            "snapshot.method",
            "`template` and `pg-dump` are for PostgreSQL (set surrogate.url); SQLite scenarios use `copy` or `backup`",
        );
    }
    if on_pg && !pg_method {
        return bad(
            "snapshot.method",
            "PostgreSQL scenarios (surrogate.url) use `template` or `pg-dump`",
        );
    }
    if s.scripts.is_some() && s.apply.kind == ApplyKind::Births {
        return bad(
            "scripts",
            "[scripts] says how change scripts run; this scenario applies births",
        );
    }
    if on_pg && s.scripts().foreign_keys == Switch::Off {
        return bad(
            "scripts.foreign_keys",
            "PostgreSQL always enforces foreign keys; \"off\" is for SQLite scenarios",
        );
    }
    if on_pg
        && let Some(f) = &s.fault
        && (matches!(f.kind, FaultKind::DiskFull | FaultKind::IoError)
            || (f.kind == FaultKind::CorruptSnapshot
                && s.snapshot.method != SnapshotMethod::PgDump))
    {
        return bad(
            "fault.kind",
            "on PostgreSQL only `kill`, and `corrupt-snapshot` with snapshot.method = \"pg-dump\", are available",
        );
    }
    let a = &s.apply;
    match a.kind {
        ApplyKind::Births => {
            match a.count {
                None => return bad("apply.count", "births need a count"),
                Some(0) => {
                    return bad(
                        "apply.count",
                        "must be at least 1 (a no-op apply proves nothing)",
                    );
                }
                _ => {}
            }
            if a.up.is_some() || a.expect_rows.is_some() {
                return bad("apply", "`up` and `expect_rows` belong to kind = \"sql\"");
            }
            if let Some(k) = &a.kinds {
                if k.is_empty() {
                    return bad("apply.kinds", "must name at least one kind");
                }
                if k.values().any(|w| !w.is_finite() || *w <= 0.0) {
                    return bad("apply.kinds", "weights must be positive numbers");
                }
            }
        }
        ApplyKind::Sql => {
            if a.up.is_none() {
                return bad("apply.up", "kind = \"sql\" needs an up script");
            }
            if a.count.is_some() || a.seed.is_some() || a.kinds.is_some() {
                return bad(
                    "apply",
                    "`count`, `seed` and `kinds` belong to kind = \"births\"",
                );
            }
        }
    }
    let r = &s.rollback;
    if r.down.is_some() && !(r.method == RollbackMethod::Compensate && a.kind == ApplyKind::Sql) {
        return bad(
            "rollback.down",
            "a down script goes with method = \"compensate\" after an sql apply",
        );
    }
    if r.method == RollbackMethod::Compensate && a.kind == ApplyKind::Sql && r.down.is_none() {
        return bad(
            "rollback.down",
            "compensating an sql apply needs the down script",
        );
    }
    if r.rewind_sequences
        && !(r.method == RollbackMethod::Compensate && a.kind == ApplyKind::Births)
    {
        return bad(
            "rollback.rewind_sequences",
            "only applies to compensating births",
        );
    }
    if r.compensation == Compensation::ApiDelete {
        if !(r.method == RollbackMethod::Compensate && a.kind == ApplyKind::Births) {
            return bad(
                "rollback.compensation",
                "\"api-delete\" only applies to compensating births",
            );
        }
        if r.rewind_sequences {
            return bad(
                "rollback.rewind_sequences",
                "an api-delete compensation keeps the births' activity and revisions, so their sequences cannot be rewound",
            );
        }
    }
    if let Some(f) = &s.fault {
        if r.method != RollbackMethod::Restore {
            return bad(
                "fault.kind",
                "faults are recovered from the verified snapshot: use rollback.method = \"restore\"",
            );
        }
        if f.after.is_some() && f.kind != FaultKind::Kill {
            return bad("fault.after", "only applies to kind = \"kill\"");
        }
        if f.headroom.is_some() && !matches!(f.kind, FaultKind::DiskFull | FaultKind::IoError) {
            return bad("fault.headroom", "only applies to disk-full and io-error");
        }
        if f.kind == FaultKind::Kill && f.after == Some(0) {
            return bad(
                "fault.after",
                "must be at least 1 (kill part-way, not before the start)",
            );
        }
        if f.kind == FaultKind::Kill
            && a.kind == ApplyKind::Births
            && a.count.unwrap_or(0) <= f.after.unwrap_or(5)
        {
            return bad(
                "fault.after",
                "must be below apply.count so the kill lands part-way",
            );
        }
    }
    Ok(())
}

/// The scenario files named by `paths`: files as given; a folder's
/// `*.toml` files, sorted. Subfolders holding scenarios are skipped, and
/// returned so the caller can say so, unless `recursive` (then their
/// scenarios follow).
pub fn expand_folders(
    paths: &[PathBuf],
    recursive: bool,
) -> Result<(Vec<PathBuf>, Vec<PathBuf>), ScenarioError> {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for p in paths {
        if p.is_dir() {
            let found = folder(p, recursive, &mut out, &mut skipped)?;
            if found == 0 {
                return Err(ScenarioError::Parse {
                    path: p.clone(),
                    message: "folder holds no *.toml scenarios".into(),
                });
            }
        } else {
            out.push(p.clone());
        }
    }
    Ok((out, skipped))
}

/// Scenario files of one folder (and, recursively, its subfolders); how many.
fn folder(
    dir: &Path,
    recursive: bool,
    out: &mut Vec<PathBuf>,
    skipped: &mut Vec<PathBuf>,
) -> Result<usize, ScenarioError> {
    let rd = std::fs::read_dir(dir).map_err(|source| ScenarioError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    let mut found = 0;
    let mut subdirs = Vec::new();
    for f in entries {
        // A symlinked folder is not followed (no loops).
        let is_dir = std::fs::symlink_metadata(&f).is_ok_and(|m| m.is_dir());
        if is_dir {
            subdirs.push(f);
        } else if f.extension().is_some_and(|x| x == "toml") && f.is_file() {
            out.push(f);
            found += 1;
        }
    }
    for d in subdirs {
        if recursive {
            found += folder(&d, true, out, skipped)?;
        } else if folder(&d, true, &mut Vec::new(), &mut Vec::new())? > 0 {
            // Only a subfolder holding scenarios is worth a note (not, say,
            // the SQL scripts of scenarios/sql/).
            skipped.push(d);
        }
    }
    Ok(found)
}

/// [`expand_folders`] without subfolders, for callers that need no note.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ScenarioError> {
    expand_folders(paths, false).map(|(files, _)| files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenario, String> {
        let s: Scenario = toml::from_str(text).map_err(|e| e.to_string())?;
        validate(&s, Path::new("t.toml")).map_err(|e| e.to_string())?;
        Ok(s)
    }

    const OK: &str = r#"
[scenario]
name = "x"
expect = "PASS"
[surrogate]
profile = "p.toml"
seed = 7
[apply]
kind = "births"
count = 3
[snapshot]
method = "copy"
[rollback]
method = "restore"
"#;

    #[test]
    fn minimal_scenario_parses_with_defaults() {
        let s = parse(OK).unwrap();
        assert_eq!(s.scenario.blocker, DEFAULT_BLOCKER);
        assert_eq!(s.scenario.leg, None);
        assert_eq!(s.snapshot.method, SnapshotMethod::Copy);
    }

    #[test]
    fn unknown_keys_and_bad_combinations_are_errors() {
        let e = parse(&OK.replace("count = 3", "count = 3\ncolour = 1")).unwrap_err();
        assert!(e.contains("colour"), "{e}");
        let e = parse(&OK.replace("count = 3", "count = 0")).unwrap_err();
        assert!(e.contains("apply.count"), "{e}");
        let e = parse(&OK.replace("\"restore\"", "\"compensate\"\ndown = \"d.sql\"")).unwrap_err();
        assert!(e.contains("rollback.down"), "{e}");
        let e = parse(&format!("{OK}[fault]\nkind = \"kill\"\nafter = 9\n")).unwrap_err();
        assert!(e.contains("fault.after"), "{e}");
    }

    #[test]
    fn scripts_settings_belong_to_sql_scenarios_and_suit_the_backend() {
        let sql = OK.replace(
            "kind = \"births\"\ncount = 3",
            "kind = \"sql\"\nup = \"u.sql\"",
        );
        let s = parse(&sql).unwrap();
        let m = s.scripts().mode(false);
        assert!(m.foreign_keys && m.transaction == TxMode::PerScript);
        let s = parse(&format!(
            "{sql}[scripts]\nforeign_keys = \"off\"\ntransaction = \"none\"\n"
        ))
        .unwrap();
        assert_eq!(
            (s.scripts().foreign_keys, s.scripts().transaction),
            (Switch::Off, TxMode::None)
        );
        let e = parse(&format!("{OK}[scripts]\ntransaction = \"none\"\n")).unwrap_err();
        assert!(e.contains("`scripts`"), "{e}");
        let e = parse(&format!("{sql}[scripts]\ntransaction = \"sometimes\"\n")).unwrap_err();
        assert!(e.contains("sometimes"), "{e}");
        // A fault may interrupt an sql apply now.
        parse(&format!("{sql}[fault]\nkind = \"kill\"\nafter = 2\n")).unwrap();
        parse(&format!("{sql}[fault]\nkind = \"disk-full\"\n")).unwrap();
        // PostgreSQL enforces foreign keys; its kill fault hits scripts too,
        // disk-full does not exist there.
        let pg = sql
            .replace(
                "profile = \"p.toml\"",
                "profile = \"p.toml\"\nurl = \"postgres://u@localhost/rollproof_x\"",
            )
            .replace("method = \"copy\"", "method = \"template\"");
        parse(&pg).unwrap();
        let e = parse(&format!("{pg}[scripts]\nforeign_keys = \"off\"\n")).unwrap_err();
        assert!(e.contains("scripts.foreign_keys"), "{e}");
        parse(&format!("{pg}[fault]\nkind = \"kill\"\n")).unwrap();
        let e = parse(&format!("{pg}[fault]\nkind = \"disk-full\"\n")).unwrap_err();
        assert!(e.contains("fault.kind"), "{e}");
    }
}
