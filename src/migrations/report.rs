//! The migrations report: one sealed JSON document per folder run, with
//! the evidence of every step — what ran, the logical digests before, after
//! up, after down and after redo, what differed (objects and rows, named),
//! the checks and the verdict in words. `kind = "migrations"` tells it
//! apart from a single rehearsal's report.
//!
//! It is sealed, written and signed by the one report writer every rollproof
//! report goes through (`crate::evidence::report::write_sealed`): keys
//! sorted, the seal the SHA-256 of the canonical bytes without `seal`,
//! written pretty with a trailing newline, and with a signing key an SSHSIG
//! `<report>.json.sig` (namespace `rollproof-report`, docs/KEYS.md).
//! `rollproof verify` recomputes every step's checks, status and words from
//! the recorded data with the same pure rules (`crate::proof::migrations`).

use crate::evidence::report::{Check, ReportError, TableDiff, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The value of `kind`.
pub const KIND: &str = "migrations";
/// Version of this format.
pub const SCHEMA_VERSION: u32 = 1;

/// One script as run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptRef {
    /// File, relative to the folder.
    pub path: String,
    /// 1-based line where the script (section) begins in the file.
    pub first_line: usize,
    /// SHA-256 of the script text.
    pub sha256: String,
    /// Run inside a transaction.
    pub transaction: bool,
    /// What switched the transaction off, if anything.
    pub no_transaction_marker: Option<String>,
}

/// A measured state, in full (the step's before state).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseSummary {
    /// Logical digest of the whole database.
    pub sha256: String,
    /// Digest of the schema part.
    pub schema_sha256: String,
    /// Settings covered by the digest.
    pub settings: BTreeMap<String, String>,
    /// Tables in the state.
    pub tables: u64,
    /// Rows in all tables.
    pub rows: u64,
}

/// One table's digest at a phase (None: the table does not exist there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableState {
    /// Rows.
    pub rows: u64,
    /// The table's logical digest.
    pub sha256: String,
}

/// A table whose digest differs from the step's before state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableChange {
    /// In the before state.
    pub before: Option<TableState>,
    /// In this phase.
    pub after: Option<TableState>,
}

/// A schema object added, removed or changed between two phases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectChange {
    /// `table`, `index`, `view`, `trigger`, `column`, …
    pub kind: String,
    /// Name (`table.column` for columns).
    pub name: String,
    /// Definition in the earlier phase (None: did not exist).
    pub before: Option<String>,
    /// Definition in the later phase (None: does not exist).
    pub after: Option<String>,
}

/// A phase, recorded as what differs from the step's before state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseDelta {
    /// Logical digest of the whole database.
    pub sha256: String,
    /// Digest of the schema part.
    pub schema_sha256: String,
    /// Settings covered by the digest.
    pub settings: BTreeMap<String, String>,
    /// Tables whose digest differs from before, by name.
    pub tables: BTreeMap<String, TableChange>,
    /// Schema objects that differ from before.
    pub schema: Vec<ObjectChange>,
}

/// The redo: the schema after running up again, against the first up's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedoRecord {
    /// Digest of the schema after the redo.
    pub schema_sha256: String,
    /// Objects that differ from the schema after the first up.
    pub schema: Vec<ObjectChange>,
}

/// Rows generated into tables before the step ("data first").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FillRecord {
    /// `generated` (generic generation), `profile` or `none`.
    pub source: String,
    /// Rows added, by table.
    pub rows: BTreeMap<String, u64>,
    /// Empty tables left empty, with the reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub skipped: BTreeMap<String, String>,
}

/// What a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    /// Every check held: the down restored the before state exactly and
    /// the redo gave the first up's schema.
    Pass,
    /// A check failed (or a script errored).
    Fail,
    /// No down, or an empty or comment-only one: nothing to prove.
    Irreversible,
    /// Applied as setup only (before `--from`, or unchanged since
    /// `--changed-since`): its up ran, nothing was proven.
    Setup,
    /// Not run: an earlier step's up failed and this one depends on it.
    NotRun,
}

impl StepStatus {
    /// Name as shown.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pass => "pass",
            StepStatus::Fail => "fail",
            StepStatus::Irreversible => "irreversible",
            StepStatus::Setup => "setup",
            StepStatus::NotRun => "not-run",
        }
    }
}

/// One migration's step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// 1-based position in the folder's order.
    pub index: usize,
    /// Version as the tool names it.
    pub version: String,
    /// Name part.
    pub name: String,
    /// The up script.
    pub up: ScriptRef,
    /// The down script (None: no down).
    pub down: Option<ScriptRef>,
    /// Why nothing can be proven, for a migration without a usable down
    /// (`no down`, `empty down`, `comment-only down`).
    pub irreversible: Option<String>,
    /// Rehearsed (true) or applied as setup only.
    pub rehearsed: bool,
    /// SQLite `foreign_keys` for the scripts (PostgreSQL: always on).
    pub foreign_keys: bool,
    /// Rows generated before the step.
    pub data: Option<FillRecord>,
    /// The state before the up.
    pub before: Option<PhaseSummary>,
    /// After the up.
    pub after_up: Option<PhaseDelta>,
    /// After the down.
    pub after_down: Option<PhaseDelta>,
    /// After the redo.
    pub after_redo: Option<RedoRecord>,
    /// Script failures by script: `up`, `down`, `redo`.
    pub errors: BTreeMap<String, crate::migrations::engine::ScriptError>,
    /// Rows that differ between before and after the down (bounded list
    /// per table, every row counted).
    pub row_diffs: Vec<TableDiff>,
    /// Why a row diff could not be made, if it could not.
    pub row_diff_error: Option<String>,
    /// The checks (recomputed by verify).
    pub checks: Vec<Check>,
    /// The step's status (recomputed by verify).
    pub status: StepStatus,
    /// The verdict in words, one finding per entry (recomputed by verify).
    pub findings: Vec<String>,
    /// How the run went on after this step, in words.
    pub continued: Option<String>,
    /// Why the step did not run (an earlier up failed).
    pub not_run_because: Option<String>,
    /// Wall time of the step, milliseconds.
    pub ms: u64,
}

impl StepReport {
    /// Step `index` (1-based) of migration `version` `name` with its `up`,
    /// before anything ran: rehearsed, no down, nothing measured, no
    /// error, and no verdict yet (`crate::proof::migrations::judge` gives
    /// the checks, status and findings). Set the rest with `..`.
    pub fn new(index: usize, version: &str, name: &str, up: ScriptRef) -> StepReport {
        StepReport {
            index,
            version: version.to_string(),
            name: name.to_string(),
            up,
            down: None,
            irreversible: None,
            rehearsed: true,
            foreign_keys: false,
            data: None,
            before: None,
            after_up: None,
            after_down: None,
            after_redo: None,
            errors: BTreeMap::new(),
            row_diffs: Vec::new(),
            row_diff_error: None,
            checks: Vec::new(),
            status: StepStatus::NotRun,
            findings: Vec::new(),
            continued: None,
            not_run_because: None,
            ms: 0,
        }
    }
}

/// The folder that was rehearsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderRef {
    /// As given on the command line.
    pub path: String,
    /// Layout.
    pub layout: String,
    /// Detected (true) or given with `--layout`.
    pub detected: bool,
    /// SHA-256 over the manifest of every migration file (sorted
    /// `sha256  path` lines).
    pub manifest_sha256: String,
    /// Every migration file and its SHA-256, by relative path.
    pub files: BTreeMap<String, String>,
    /// Files the tool ignores.
    pub ignored: Vec<String>,
}

/// How scripts ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunnerRecord {
    /// The tool's bookkeeping table (None: the tool keeps none).
    pub bookkeeping_table: Option<String>,
    /// `maintained, in the proof` or `not maintained`, with why.
    pub bookkeeping: String,
    /// `tool` (each tool's own rule and markers), `on` or `off`.
    pub transactions: String,
    /// SQLite foreign keys: `tool default (on|off)`, `on` or `off`.
    pub foreign_keys: String,
    /// The rule for going on after a failing step.
    pub continue_rule: String,
}

/// Which steps were rehearsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectionRecord {
    /// `--from`.
    pub from: Option<String>,
    /// `--to`.
    pub to: Option<String>,
    /// `--only`.
    pub only: Vec<String>,
    /// `--changed-since` revision and the commit it resolved to.
    pub changed_since: Option<String>,
}

/// Step counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Steps that passed.
    pub pass: u64,
    /// Steps that failed.
    pub fail: u64,
    /// Irreversible steps.
    pub irreversible: u64,
    /// Setup-only steps.
    pub setup: u64,
    /// Steps not run.
    pub not_run: u64,
}

/// A sealed migrations report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigrationsReport {
    /// Always `migrations`.
    pub kind: String,
    /// Format version (1).
    pub schema_version: u32,
    /// rollproof version.
    pub rollproof_version: String,
    /// Bundled SQLite version.
    pub sqlite_version: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Unique id of the run.
    pub run_id: String,
    /// Start, UTC `YYYY-MM-DDTHH:MM:SS.sssZ`.
    pub started_at: String,
    /// Blocker this is evidence for (empty: none named).
    pub blocker: String,
    /// Evidence leg (`surrogate`).
    pub leg: String,
    /// The folder.
    pub folder: FolderRef,
    /// How scripts ran.
    pub runner: RunnerRecord,
    /// Which steps were rehearsed.
    pub selection: SelectionRecord,
    /// Data: how tables were filled (`none`, `generated`, `profile <path>`),
    /// with the seed.
    pub data: String,
    /// Every step, in order.
    pub steps: Vec<StepReport>,
    /// Counts by status.
    pub summary: Summary,
    /// PASS when no step failed, and no irreversible step either unless
    /// irreversible steps were allowed.
    pub verdict: Verdict,
    /// `--allow-irreversible` was given.
    pub allow_irreversible: bool,
    /// Wall time (total), milliseconds.
    pub timing_ms: BTreeMap<String, u64>,
    /// SHA-256 over the canonical bytes without `seal`.
    pub seal: String,
}

impl crate::evidence::report::Sealed for MigrationsReport {
    fn seal_field(&mut self) -> &mut String {
        &mut self.seal
    }
    /// `migrations-<folder name>` (`super::run::folder_name`).
    fn report_folder(&self) -> String {
        format!(
            "migrations-{}",
            super::run::folder_name(Path::new(&self.folder.path))
        )
    }
    fn started_at(&self) -> &str {
        &self.started_at
    }
    fn run_id(&self) -> &str {
        &self.run_id
    }
}

impl MigrationsReport {
    /// Compute and set the seal.
    pub fn seal(&mut self) -> Result<(), ReportError> {
        crate::evidence::report::seal_report(self)
    }

    /// Seal, write and (with a key) sign through the one report writer
    /// (`crate::evidence::report::write_sealed`), to
    /// `<dir>/migrations-<folder name>/<stamp>-<id>.json`.
    pub fn write(
        &mut self,
        dir: &Path,
        key: Option<&crate::evidence::sign::SigningKey>,
    ) -> Result<PathBuf, ReportError> {
        crate::evidence::report::write_sealed(self, dir, key)
    }
}
