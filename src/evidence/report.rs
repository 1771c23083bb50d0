//! The proof report: the evidence one rehearsal emits, its canonical JSON
//! form and its seal.
//!
//! Canonical form: every JSON object's keys sorted (byte order), no
//! insignificant whitespace (`canonical_bytes`). The `seal` is the SHA-256
//! (lowercase hex) of the canonical bytes of the report with the `seal` key
//! removed. Files are written as the same sorted structure, pretty-printed
//! by serde_json with a trailing newline; any reader re-canonicalises before
//! checking the seal, so the on-disk indentation is not part of what is
//! sealed. Timings and timestamps are part of the sealed content: a seal
//! seals what was written.
//!
//! Files live at `<reports>/<scenario-name>/<YYYYMMDDTHHMMSSZ>-<id>.json`
//! so that names sort by time.

use crate::engine::sqlite::logical::LogicalDigest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Version of this report format.
/// 2: `apply.births_reported` and `rollback.refused` are recorded, so that
/// the verdict can be recomputed from the report alone (`proof::judge`).
pub const SCHEMA_VERSION: u32 = 2;

/// Errors reading or writing a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The report file could not be read.
    #[error(transparent)]
    Read(#[from] crate::util::fsutil::InputError),
    /// The report file is not valid JSON or not a report of this format.
    #[error("{path} is not a valid rollproof report: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// The report could not be serialised (should not happen).
    #[error("cannot serialise report: {0}")]
    Serialise(#[from] serde_json::Error),
    /// Writing failed.
    #[error(transparent)]
    Write(#[from] crate::util::fsutil::WriteError),
    /// The report could not be signed.
    #[error(transparent)]
    Sign(#[from] crate::evidence::sign::KeyError),
    /// The reports folder could not be created.
    #[error("cannot create reports folder {path}: {source}")]
    Mkdir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// PASS or FAIL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// Every check held.
    #[serde(rename = "PASS")]
    Pass,
    /// At least one check failed.
    #[serde(rename = "FAIL")]
    Fail,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
        })
    }
}

/// What kind of equality the proof establishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Proof {
    /// The after-rollback file bytes must equal the before bytes.
    #[serde(rename = "byte-exact")]
    ByteExact,
    /// Only the canonical logical hash is compared: the method pair cannot
    /// restore bytes (backup API, compensation, PostgreSQL).
    #[serde(rename = "logical-only")]
    LogicalOnly,
}

impl std::fmt::Display for Proof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Proof::ByteExact => "byte-exact",
            Proof::LogicalOnly => "logical-only",
        })
    }
}

/// A check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The check held.
    Pass,
    /// The check did not hold.
    Fail,
}

/// One named check of the verdict rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Stable check name, e.g. `byte_exact_restore`, `apply_was_real`.
    pub name: String,
    /// pass or fail.
    pub outcome: Outcome,
    /// What was compared, with the values, in one line.
    pub detail: String,
}

/// The scenario that was run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioRef {
    /// Scenario file path as given on the command line.
    pub path: String,
    /// SHA-256 of the scenario file's bytes.
    pub sha256: String,
    /// Scenario name (also the report folder name).
    pub name: String,
    /// One-line description from the scenario.
    pub description: String,
}

/// The surrogate (or clone) the rehearsal ran on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Surrogate {
    /// Profile path the surrogate was generated from (None for an existing file).
    pub profile: Option<String>,
    /// SHA-256 of the profile file's bytes.
    pub profile_sha256: Option<String>,
    /// Generation seed.
    pub seed: Option<u64>,
    /// Generation scale.
    pub scale: Option<f64>,
    /// Source database file, when the scenario names an existing file.
    pub file: Option<String>,
    /// SHA-256 of the surrogate's bytes before the rehearsal.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Fidelity score against the profile (0..100, `crate::profile::fidelity`), when
    /// computed: surrogates generated at scale 1 (the profile's own counts).
    pub fidelity: Option<f64>,
}

/// The methods the rehearsal used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Methods {
    /// `births` or `sql`.
    pub apply: String,
    /// `copy` or `backup` (PostgreSQL: `template`).
    pub snapshot: String,
    /// `restore`, `compensate` or `transaction`.
    pub rollback: String,
}

/// What was applied, what it was expected to change and what it changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyRecord {
    /// Births requested (apply = births).
    pub births: Option<u64>,
    /// Seed of the birth requests.
    pub seed: Option<u64>,
    /// Kind mix of the birth requests (weights).
    pub kinds: BTreeMap<String, f64>,
    /// Up script path (apply = sql).
    pub sql: Option<String>,
    /// SHA-256 of the up script.
    pub sql_sha256: Option<String>,
    /// Births actually committed (differs from `births` when a fault
    /// interrupted the apply).
    pub births_done: Option<u64>,
    /// Births the apply worker said it had committed when a fault stopped
    /// it (kill, disk-full, io-error); None without such a fault.
    pub births_reported: Option<u64>,
    /// Row-count change per table the scenario asked for; null when an sql
    /// scenario declares none (row counts are then reported, not checked).
    pub expected_row_deltas: Option<BTreeMap<String, i64>>,
    /// Row-count change per table observed (after_apply − before), only
    /// tables that changed.
    pub observed_row_deltas: BTreeMap<String, i64>,
    /// The error that stopped the apply, if any (e.g. SQLITE_FULL).
    pub error: Option<String>,
    /// How the up script ran, statement by statement (apply = sql). Absent
    /// when None (added after the first sealed reports, which stay
    /// canonical).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<ScriptRun>,
}

/// How a change script ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptRun {
    /// Statements in the script.
    pub statements: u64,
    /// Statements that completed (all of them when it ran through; with a
    /// failure, the ones before the failing statement).
    pub completed: u64,
    /// Why the script stopped before its end, if it did.
    pub failure: Option<ScriptFailure>,
}

/// The statement a change script stopped at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptFailure {
    /// 1-based statement number; 0 when what failed was not one of the
    /// script's statements but rollproof's wrapping (the COMMIT ending the
    /// script's transaction, e.g. on a deferred foreign-key violation).
    pub statement: u64,
    /// 1-based line in the script of the statement's first token (0 with
    /// statement 0).
    pub line: u64,
    /// The statement's text, whitespace collapsed, at most 400 characters.
    pub sql: String,
    /// The database's error, or why the sandbox refused the statement.
    pub message: String,
    /// Refused by the sandbox rather than failed in the database.
    pub denied: bool,
    /// The statements before it were rolled back with the script's own
    /// transaction (`transaction = "per-script"`); false: they stay applied.
    pub undone: bool,
}

/// How change scripts were run (scenarios with an up or down script).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptSettings {
    /// `PRAGMA foreign_keys` of the script's connection (PostgreSQL always
    /// enforces foreign keys).
    pub foreign_keys: bool,
    /// `per-script` (one transaction around each script) or `none`.
    pub transaction: String,
    /// What confined the scripts, in one line (the SQLite authorizer, or
    /// the PostgreSQL role made for the rehearsal).
    pub sandbox: String,
}

/// How the rollback was done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollbackRecord {
    /// Down script path (rollback = compensate with a user script).
    pub sql: Option<String>,
    /// SHA-256 of the down script.
    pub sql_sha256: Option<String>,
    /// Whether compensation also rewound `sqlite_sequence` to its
    /// recorded pre-apply values.
    pub rewind_sequences: bool,
    /// How births were compensated: `remove` (the rows each birth wrote)
    /// or `api-delete` (as Directus API deletes: history kept, a `delete`
    /// activity added); absent for any other rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compensation: Option<String>,
    /// Whether the rollback ran (false when refused, e.g. corrupted snapshot).
    pub performed: bool,
    /// The restore was refused because the snapshot no longer had the
    /// digest recorded when it was taken (the target was left untouched).
    pub refused: bool,
    /// The error that stopped the rollback, if any.
    pub error: Option<String>,
    /// How the down script ran (compensate with a down script); absent
    /// when None.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<ScriptRun>,
}

/// One injected fault and what happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRecord {
    /// `kill`, `disk-full`, `io-error` or `corrupt-snapshot`.
    pub kind: String,
    /// Whether the fault really happened (e.g. the worker was killed before
    /// it finished). A fault that did not happen fails the rehearsal.
    pub injected: bool,
    /// What was done and observed, in one line.
    pub detail: String,
}

/// Everything measured at one phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    /// SHA-256 of the main database file after any WAL checkpoint (None for
    /// backends without a file, e.g. PostgreSQL).
    pub file_sha256: Option<String>,
    /// File size in bytes.
    pub size: Option<u64>,
    /// `PRAGMA page_count`.
    pub page_count: Option<u64>,
    /// Canonical logical hash (docs/LOGICAL-HASH.md), with per-table rows.
    pub logical: LogicalDigest,
    /// `PRAGMA integrity_check` result: `ok`, or its messages joined by `; `.
    pub integrity_check: String,
    /// Rows reported by `PRAGMA foreign_key_check`.
    pub foreign_key_violations: u64,
    /// `-wal`, `-shm` or `-journal` files beside the database at measurement.
    pub stray_files: Vec<String>,
    /// The digest the sqlite3 shell's `.sha3sum` prints, when computed.
    pub sha3: Option<String>,
    /// SQLite files: the freelist and the non-zero bytes left in unused
    /// space (deleted rows a raw reader can still see). Reported, never part
    /// of the verdict. Absent for PostgreSQL, for a state measured inside an
    /// open transaction, and in reports written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_space: Option<crate::engine::sqlite::freespace::FreeSpace>,
    /// PostgreSQL: the cluster's roles, memberships, role and database
    /// settings, tablespaces and the rehearsed database's own properties,
    /// which no database snapshot holds (`cluster_unchanged` compares
    /// before with after rollback). Absent for SQLite and older reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterState>,
    /// When set, the file bytes were identical (same SHA-256) to this earlier
    /// phase, so logical hash, integrity and FK results were carried over
    /// from it instead of being recomputed (equal bytes give equal results).
    pub derived_from: Option<String>,
    /// A note on how this phase was measured (e.g. inside the open
    /// transaction), if anything is unusual.
    pub note: Option<String>,
    /// Time taken to measure this phase, in milliseconds.
    pub ms: u64,
}

/// The cluster-wide state of a PostgreSQL server at one phase
/// (`crate::engine::postgres::roles`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterState {
    /// SHA-256 over every entry (same row encoding as the schema digest).
    pub sha256: String,
    /// Every role, membership, setting, tablespace and the rehearsed
    /// database's own properties: what it is → its definition.
    pub entries: BTreeMap<String, String>,
}

impl ClusterState {
    /// The entries that differ from `before`, as diff objects: the kind is
    /// the entry key's first word (`role`, `membership`, `setting`, …).
    pub fn object_differences(&self, before: &ClusterState) -> Vec<ObjectDiff> {
        let keys: std::collections::BTreeSet<&String> =
            before.entries.keys().chain(self.entries.keys()).collect();
        keys.into_iter()
            .filter_map(|k| {
                let (b, a) = (before.entries.get(k), self.entries.get(k));
                let change = match (b, a) {
                    (Some(x), Some(y)) if x == y => return None,
                    (Some(_), Some(_)) => "changed",
                    (None, _) => "added",
                    (_, None) => "removed",
                };
                let (kind, name) = k.split_once(' ').unwrap_or((k.as_str(), ""));
                Some(ObjectDiff {
                    change: change.into(),
                    kind: kind.into(),
                    name: name.into(),
                    before: b.cloned(),
                    after: a.cloned(),
                })
            })
            .collect()
    }

    /// What differs from `before` to `self`, one line per entry (added,
    /// removed, or changed with both definitions), in key order.
    pub fn differences_from(&self, before: &ClusterState) -> Vec<String> {
        let mut out = Vec::new();
        for (k, b) in &before.entries {
            match self.entries.get(k) {
                None => out.push(format!("{k} removed (was: {b})")),
                Some(a) if a != b => out.push(format!("{k}: {b} → {a}")),
                Some(_) => {}
            }
        }
        for (k, a) in &self.entries {
            if !before.entries.contains_key(k) {
                out.push(format!("{k} added ({a})"));
            }
        }
        out
    }
}

/// The four measured states.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phases {
    /// The target before anything was done.
    pub before: Phase,
    /// The snapshot artifact.
    pub snapshot: Option<Phase>,
    /// The target after apply (or after the fault interrupted it).
    pub after_apply: Option<Phase>,
    /// The target after rollback (or after a refused restore: untouched).
    pub after_rollback: Option<Phase>,
}

/// One row that differs, in sqldiff's direction: `sql` turns the
/// after-rollback row back into the before row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowDiff {
    /// `missing` (in before, not after), `extra` (after only) or `changed`.
    pub change: String,
    /// The row's key, e.g. `id=42` or `name='objects'`.
    pub key: String,
    /// Before values (all columns for missing, differing columns for changed).
    pub before: Option<BTreeMap<String, String>>,
    /// After values (all columns for extra, differing columns for changed).
    pub after: Option<BTreeMap<String, String>>,
    /// SQL that would turn the after row into the before row (values longer
    /// than 120 bytes are shortened for display, so it is illustrative).
    pub sql: String,
}

/// Differences in one table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableDiff {
    /// Table name.
    pub table: String,
    /// Rows before.
    pub before_rows: u64,
    /// Rows after rollback.
    pub after_rows: u64,
    /// Rows that differ in all (missing + extra + changed).
    pub differing_rows: u64,
    /// The first differing rows in primary-key order (bounded).
    pub rows: Vec<RowDiff>,
    /// Every differing row counted by `change` (`missing`, `extra`,
    /// `changed`), so a reader need not infer the split from the bounded
    /// `rows`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counts: BTreeMap<String, u64>,
    /// Every `changed` row counted per column that differs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub changed_columns: BTreeMap<String, u64>,
}

impl TableDiff {
    /// An empty diff of `table`.
    pub fn new(table: &str) -> TableDiff {
        TableDiff {
            table: table.to_string(),
            before_rows: 0,
            after_rows: 0,
            differing_rows: 0,
            rows: Vec::new(),
            counts: BTreeMap::new(),
            changed_columns: BTreeMap::new(),
        }
    }

    /// Count one differing row, keeping it when fewer than `limit` are kept.
    pub fn record(&mut self, d: RowDiff, limit: usize) {
        self.differing_rows += 1;
        *self.counts.entry(d.change.clone()).or_default() += 1;
        if d.change == "changed" {
            for col in d.before.iter().flat_map(|m| m.keys()) {
                *self.changed_columns.entry(col.clone()).or_default() += 1;
            }
        }
        if self.rows.len() < limit {
            self.rows.push(d);
        }
    }
}

/// One schema or catalog object that differs, as `sqldiff --schema` shows
/// it: added (after rollback only), removed (before only) or changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectDiff {
    /// `added`, `removed` or `changed`.
    pub change: String,
    /// What it is: SQLite `table`, `index`, `view`, `trigger`; PostgreSQL
    /// the catalog kind (`trigger`, `policy`, `rule`, `relation`, `role`, …).
    pub kind: String,
    /// Its name, e.g. `sqlitexstat_evil` or `public.objects keep`.
    pub name: String,
    /// Its definition before (SQL text or normalized catalog description).
    pub before: Option<String>,
    /// Its definition after rollback.
    pub after: Option<String>,
}

/// One setting that differs, with both values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingDiff {
    /// Setting name, e.g. `journal_mode`.
    pub name: String,
    /// Value before (None: not recorded).
    pub before: Option<String>,
    /// Value after rollback.
    pub after: Option<String>,
}

/// What the rollback failed to restore.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Diff {
    /// Phase compared from (normally `before`).
    pub from: String,
    /// Phase compared to (normally `after_rollback`).
    pub to: String,
    /// The schema differs (sqlite_schema rows).
    pub schema_differs: bool,
    /// Tables whose content digest differs.
    pub tables: Vec<TableDiff>,
    /// Schema and catalog objects (PostgreSQL: also cluster roles and
    /// settings) added, removed or changed, in name order (bounded: see
    /// `more_objects`). Absent when none differ, and in older reports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ObjectDiff>,
    /// Objects that differ beyond those listed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub more_objects: u64,
    /// Settings that differ (SQLite: the hashed settings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<SettingDiff>,
    /// Why a row-level diff could not be made, if it could not.
    pub error: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Objects listed in a diff at most; the rest are counted.
pub const DIFF_OBJECTS: usize = 200;

impl Diff {
    /// Keep `objects` sorted and bounded, counting what is left out.
    pub fn set_objects(&mut self, mut objects: Vec<ObjectDiff>) {
        objects.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
        let more = objects.len().saturating_sub(DIFF_OBJECTS);
        objects.truncate(DIFF_OBJECTS);
        self.objects = objects;
        self.more_objects = more as u64;
    }

    /// Add what the recorded phases alone show: SQLite settings and
    /// PostgreSQL cluster entries that differ from before to after.
    pub fn add_phase_differences(&mut self, before: &Phase, after: &Phase) {
        let (b, a) = (&before.logical.settings, &after.logical.settings);
        let names: std::collections::BTreeSet<&String> = b.keys().chain(a.keys()).collect();
        self.settings = names
            .into_iter()
            .filter(|n| b.get(*n) != a.get(*n))
            .map(|n| SettingDiff {
                name: n.clone(),
                before: b.get(n).map(|v| v.to_string()),
                after: a.get(n).map(|v| v.to_string()),
            })
            .collect();
        if let (Some(b), Some(a)) = (&before.cluster, &after.cluster) {
            let mut objects = std::mem::take(&mut self.objects);
            objects.extend(a.object_differences(b));
            self.set_objects(objects);
        }
    }
}

/// A sealed proof report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Report format version (1).
    pub schema_version: u32,
    /// rollproof version that ran the rehearsal.
    pub rollproof_version: String,
    /// Bundled SQLite library version.
    pub sqlite_version: String,
    /// Backend that ran: `sqlite` or `postgres`.
    pub backend: String,
    /// Unique id of this run (short hex).
    pub run_id: String,
    /// When the rehearsal started, UTC, `YYYY-MM-DDTHH:MM:SS.sssZ`.
    pub started_at: String,
    /// The scenario.
    pub scenario: ScenarioRef,
    /// Blocker this is evidence for, e.g. `FIX7-P0-DRYRUN-PROD-ROLLBACK-1`.
    pub blocker: String,
    /// Evidence leg: `surrogate` or `operator real-dump clone`.
    pub leg: String,
    /// The database the rehearsal ran on.
    pub surrogate: Surrogate,
    /// Apply, snapshot and rollback methods.
    pub methods: Methods,
    /// The apply: requested, expected and observed.
    pub apply: ApplyRecord,
    /// The rollback.
    pub rollback: RollbackRecord,
    /// How change scripts ran, when the scenario has any; absent when None.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scripts: Option<ScriptSettings>,
    /// Injected faults.
    pub faults: Vec<FaultRecord>,
    /// Measurements at every phase.
    pub phases: Phases,
    /// Every check of the verdict rules.
    pub checks: Vec<Check>,
    /// PASS only if every check passed.
    pub verdict: Verdict,
    /// `byte-exact` or `logical-only`: what the method pair can prove.
    pub proof: Proof,
    /// The verdict the scenario expects.
    pub expected_verdict: Verdict,
    /// verdict == expected_verdict.
    pub as_expected: bool,
    /// What differs between before and after rollback, when anything does.
    pub diff: Option<Diff>,
    /// Wall time per step (generate, before, snapshot, apply, after_apply,
    /// rollback, after_rollback, diff, total), in milliseconds.
    pub timing_ms: BTreeMap<String, u64>,
    /// Folder holding the kept artifacts (`--keep`), if any.
    pub artifacts: Option<String>,
    /// Set when this was a dry run: why the surrogate is not the one the
    /// scenario declares (e.g. `--profile-override`). A dry run proves the
    /// pipeline, not the scenario: `attach` and `promote` refuse it. Absent
    /// (not null) otherwise, so reports written before it still verify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<String>,
    /// SHA-256 over the canonical bytes of this report without `seal`.
    pub seal: String,
}

pub use crate::evidence::canonical::{canonical_bytes, canonicalize, seal_of};

/// A report the one report writer ([`write_sealed`]) seals, writes and
/// signs: a rehearsal's [`Report`] and a migrations folder's report
/// (`crate::migrations::report::MigrationsReport`). Both are filed as
/// `<reports>/<folder>/<stamp>-<id>.json` and sealed the same way.
pub trait Sealed: Serialize {
    /// The `seal` field.
    fn seal_field(&mut self) -> &mut String;
    /// The folder under the reports folder the report is filed in (a
    /// scenario's name; `migrations-<folder>` for a migrations folder).
    fn report_folder(&self) -> String;
    /// When the run started, UTC `YYYY-MM-DDTHH:MM:SS.sssZ`.
    fn started_at(&self) -> &str;
    /// The run's id.
    fn run_id(&self) -> &str;
}

/// Compute and set `r`'s seal: the SHA-256 of its canonical bytes without
/// `seal`.
pub fn seal_report<R: Sealed>(r: &mut R) -> Result<(), ReportError> {
    r.seal_field().clear();
    let v = serde_json::to_value(&*r)?;
    *r.seal_field() = seal_of(&v);
    Ok(())
}

/// The bytes a report is written as: canonical (sorted) structure, pretty,
/// with a trailing newline.
pub fn file_bytes<R: Serialize>(r: &R) -> Result<Vec<u8>, ReportError> {
    let v = canonicalize(&serde_json::to_value(r)?);
    let mut bytes = serde_json::to_vec_pretty(&v)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// A report's file name: the start time as `YYYYMMDDTHHMMSSZ`, then the
/// run id, so that names sort by time.
pub fn report_file_name(started_at: &str, run_id: &str) -> String {
    let t: String = started_at
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect();
    // "YYYYMMDDTHHMMSSsss" -> drop the milliseconds.
    let stamp = t.get(..15).unwrap_or(&t);
    format!("{stamp}Z-{run_id}.json")
}

/// The one report writer: seal `r`, write it atomically to
/// `<dir>/<folder>/<stamp>-<id>.json` and, with a key, sign the written
/// bytes into `<report>.json.sig` (namespace `rollproof-report`,
/// docs/KEYS.md). Returns the report's path.
pub fn write_sealed<R: Sealed>(
    r: &mut R,
    dir: &Path,
    key: Option<&crate::evidence::sign::SigningKey>,
) -> Result<PathBuf, ReportError> {
    seal_report(r)?;
    let folder = dir.join(r.report_folder());
    std::fs::create_dir_all(&folder).map_err(|source| ReportError::Mkdir {
        path: folder.clone(),
        source,
    })?;
    let path = folder.join(report_file_name(r.started_at(), r.run_id()));
    let bytes = file_bytes(r)?;
    crate::util::fsutil::write_atomic(&path, &bytes, false)?;
    if let Some(k) = key {
        sign_file(&path, &bytes, k)?;
    }
    Ok(path)
}

/// Sign a report's exact bytes into `<report>.json.sig` (replacing an older
/// signature); returns the signature's path.
pub fn sign_file(
    path: &Path,
    bytes: &[u8],
    key: &crate::evidence::sign::SigningKey,
) -> Result<PathBuf, ReportError> {
    use crate::evidence::sign;
    let sig = key.sign(sign::NS_REPORT, bytes)?;
    let out = sign::sig_path(path);
    crate::util::fsutil::write_atomic(&out, sig.as_bytes(), true)?;
    Ok(out)
}

impl Sealed for Report {
    fn seal_field(&mut self) -> &mut String {
        &mut self.seal
    }
    fn report_folder(&self) -> String {
        self.scenario.name.clone()
    }
    fn started_at(&self) -> &str {
        &self.started_at
    }
    fn run_id(&self) -> &str {
        &self.run_id
    }
}

impl Report {
    /// Compute and set the seal.
    pub fn seal(&mut self) -> Result<(), ReportError> {
        seal_report(self)
    }

    /// True when the stored seal matches the content.
    pub fn seal_ok(&self) -> bool {
        serde_json::to_value(self)
            .map(|v| seal_of(&v) == self.seal)
            .unwrap_or(false)
    }

    /// The bytes written to disk ([`file_bytes`]).
    pub fn to_file_bytes(&self) -> Result<Vec<u8>, ReportError> {
        file_bytes(self)
    }

    /// The file name under `<dir>/<scenario-name>/` ([`report_file_name`]).
    pub fn file_name(&self) -> String {
        report_file_name(&self.started_at, &self.run_id)
    }

    /// Write through the one report writer ([`write_sealed`], signed with
    /// a key), and the human rendering (verdict, phase table, failed
    /// checks) beside it.
    pub fn write_signed(
        &mut self,
        dir: &Path,
        key: Option<&crate::evidence::sign::SigningKey>,
    ) -> Result<PathBuf, ReportError> {
        let path = write_sealed(self, dir, key)?;
        crate::evidence::render::write_markdown_beside(&path, self)?;
        Ok(path)
    }

    /// [`Report::write_signed`] without a key.
    pub fn write(&mut self, dir: &Path) -> Result<PathBuf, ReportError> {
        self.write_signed(dir, None)
    }

    /// Read a report (the seal is not checked here; see `seal_ok`).
    pub fn load(path: &Path) -> Result<Report, ReportError> {
        use crate::util::fsutil::{limit, read_bounded};
        let bytes = read_bounded(path, limit::REPORT, "report")?;
        serde_json::from_slice(&bytes).map_err(|source| ReportError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state(entries: &[(&str, &str)]) -> ClusterState {
        ClusterState {
            sha256: String::new(),
            entries: entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn cluster_differences_name_each_entry() {
        let b = state(&[("role a", "NOSUPERUSER"), ("role b", "LOGIN")]);
        let a = state(&[("role a", "SUPERUSER"), ("role evil", "SUPERUSER LOGIN")]);
        assert_eq!(
            a.differences_from(&b),
            [
                "role a: NOSUPERUSER → SUPERUSER",
                "role b removed (was: LOGIN)",
                "role evil added (SUPERUSER LOGIN)"
            ]
        );
        assert!(b.differences_from(&b).is_empty());
    }

    #[test]
    fn canonical_bytes_sort_keys_at_every_level() {
        let v = json!({"b": 1, "a": {"d": [ {"z": 1, "y": 2} ], "c": null}});
        assert_eq!(
            String::from_utf8(canonical_bytes(&v)).unwrap(),
            r#"{"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1}"#
        );
    }

    #[test]
    fn seal_ignores_the_seal_field_and_covers_everything_else() {
        let a = json!({"x": 1, "seal": "whatever"});
        let b = json!({"seal": "other", "x": 1});
        assert_eq!(seal_of(&a), seal_of(&b));
        assert_ne!(seal_of(&a), seal_of(&json!({"x": 2})));
        assert_eq!(seal_of(&a), crate::hash::sha256_hex(br#"{"x":1}"#));
    }
}
