//! The database operations a rehearsal needs, behind one trait, so the
//! engine, the verdict rules and the report never care which database ran.
//!
//! `sqlite` implements it on a SQLite file in the workspace; a PostgreSQL
//! backend implements the same trait (its proofs are always logical-only).
//! The trait is deliberately free of SQLite types: states are described by
//! [`crate::evidence::report::Phase`], snapshots by [`Snapshot`], births by
//! [`crate::surface::Birth`] requests produced from a [`BirthPlan`].

pub mod postgres;
pub mod script;
pub mod sqlite;

use crate::engine::script::{ScriptError, ScriptMode};
use crate::evidence::report::{Diff, Phase};
use crate::surface::Birth;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// How the snapshot is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SnapshotMethod {
    /// Plain file copy with no open writer: byte-identical to the source.
    Copy,
    /// SQLite online backup API: equal pages except header counters, so a
    /// restore through it is logical-only (BYTE-EXACT-FACTS).
    Backup,
    /// PostgreSQL `CREATE DATABASE … TEMPLATE` (logical-only).
    Template,
    /// PostgreSQL `pg_dump -Fc` into a file, `pg_restore` to restore
    /// (logical-only).
    PgDump,
}

impl SnapshotMethod {
    /// Name as written in scenarios and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotMethod::Copy => "copy",
            SnapshotMethod::Backup => "backup",
            SnapshotMethod::Template => "template",
            SnapshotMethod::PgDump => "pg-dump",
        }
    }
}

/// How the apply is undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RollbackMethod {
    /// Restore the snapshot over the target.
    Restore,
    /// Run the inverse operation (un-register exactly what was born, or the
    /// user's down script).
    Compensate,
    /// Apply inside a transaction, then roll it back.
    Transaction,
}

impl RollbackMethod {
    /// Name as written in scenarios and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            RollbackMethod::Restore => "restore",
            RollbackMethod::Compensate => "compensate",
            RollbackMethod::Transaction => "transaction",
        }
    }
}

/// A snapshot taken by a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// How it was taken.
    pub method: SnapshotMethod,
    /// Where it is: a file path (SQLite) or a database name (PostgreSQL).
    pub location: String,
    /// Digest recorded when it was taken: the file's SHA-256 (SQLite) or the
    /// logical hash (backends without files). Re-checked before restore.
    pub sha256: String,
    /// Size in bytes, when known.
    pub size: Option<u64>,
}

/// Deterministic birth requests: birth `i` depends only on (seed, i, kind
/// mix, the user list), so a worker process can rebuild the same requests
/// and nothing needs to be held in memory.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BirthPlan {
    /// Seed of the requests.
    pub seed: u64,
    /// Number of births.
    pub count: u64,
    /// Kind mix: (kind, weight), sorted by kind.
    pub kinds: Vec<(String, f64)>,
    /// Acting users, in a deterministic order (ids sorted ascending).
    pub users: Vec<String>,
    /// Millisecond timestamp of the first birth (later ones follow it).
    pub start_ms: i64,
}

impl BirthPlan {
    /// Birth request number `i` (0-based).
    pub fn birth(&self, i: u64) -> Birth {
        crate::rehearse::births::birth(self, i)
    }
}

/// Why a backend operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// A database operation failed; `what` says which, `path` where.
    #[error("{what} on {target}: {message}")]
    Db {
        /// The operation, e.g. "integrity_check".
        what: String,
        /// File path or database name.
        target: String,
        /// The database's error message.
        message: String,
    },
    /// A file operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// The operation, e.g. "cannot copy snapshot to".
        what: String,
        /// The file.
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The snapshot no longer has the digest recorded when it was taken:
    /// the restore is refused and the target left untouched.
    #[error(
        "snapshot {location} is corrupted: SHA-256 recorded when taken {recorded}, now {actual}; restore refused, target left untouched"
    )]
    SnapshotCorrupted {
        /// Where the snapshot is.
        location: String,
        /// Digest recorded at snapshot time.
        recorded: String,
        /// Digest now.
        actual: String,
    },
    /// The guard refused a write (the refusal is the error's source, so
    /// commands map it to exit code 3).
    #[error("write not allowed")]
    Refused(#[from] crate::guard::Refusal),
    /// The operation is not available on this backend.
    #[error("{0} is not supported by this backend")]
    Unsupported(String),
    /// A statement of a user's change script failed or was refused by the
    /// sandbox: part of the rehearsal's story (a FAIL report), not an error
    /// of the run.
    #[error(transparent)]
    Script(#[from] ScriptError),
}

/// What a killed apply worker left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KilledApply {
    /// Births the worker reported committed before it was killed.
    pub reported: u64,
    /// True when the worker was really killed (not finished or failed).
    pub killed: bool,
    /// One line on what happened (signal, exit status).
    pub detail: String,
    /// A change script's statement that failed before the fault could land
    /// (or because of it: the I/O error of `io-error`).
    pub failure: Option<ScriptError>,
}

/// The operations of one rehearsal target. Every write is authorised by the
/// guard inside the implementation, so the engine cannot bypass it.
pub trait Backend {
    /// Backend name for reports: `sqlite`, `postgres`.
    fn name(&self) -> &'static str;

    /// Whether this snapshot/rollback pair can restore the bytes exactly;
    /// false means any proof is logical-only.
    fn byte_exact_capable(&self, snapshot: SnapshotMethod, rollback: RollbackMethod) -> bool;

    /// Measure the target now. When the target's bytes equal those of a
    /// phase in `known` (name, phase), implementations may carry its logical
    /// hash and check results over and say so in `Phase::derived_from`.
    fn measure(&mut self, known: &[(&str, &Phase)]) -> Result<Phase, BackendError>;

    /// Measure a snapshot artifact (same rules as [`Backend::measure`]).
    fn measure_snapshot(
        &mut self,
        snap: &Snapshot,
        known: &[(&str, &Phase)],
    ) -> Result<Phase, BackendError>;

    /// Take a snapshot into `dest` (SQLite: a file path).
    fn snapshot(&mut self, method: SnapshotMethod, dest: &str) -> Result<Snapshot, BackendError>;

    /// Measure the target (nothing carried over) and take a snapshot of it
    /// into `dest`. Implementations may do both at once, since neither
    /// writes the target.
    fn measure_and_snapshot(
        &mut self,
        method: SnapshotMethod,
        dest: &str,
    ) -> Result<(Phase, Snapshot), BackendError> {
        let phase = self.measure(&[])?;
        let snap = self.snapshot(method, dest)?;
        Ok((phase, snap))
    }

    /// Measure the target, then restore `snap` over it; returns the phase
    /// and the restore's own result (a refused or failed restore is part of
    /// the rehearsal's story, not an error of the run). Implementations may
    /// prepare the restore while measuring, as long as the target is only
    /// replaced after its measurement ended.
    fn measure_and_restore(
        &mut self,
        known: &[(&str, &Phase)],
        snap: &Snapshot,
    ) -> Result<(Phase, Result<(), BackendError>), BackendError> {
        let phase = self.measure(known)?;
        let restored = self.restore(snap);
        Ok((phase, restored))
    }

    /// Re-check the snapshot's recorded digest;
    /// [`BackendError::SnapshotCorrupted`] when it differs.
    fn verify_snapshot(&mut self, snap: &Snapshot) -> Result<(), BackendError>;

    /// Verify the snapshot, then restore it over the target. On a failed
    /// verification the target is not touched.
    fn restore(&mut self, snap: &Snapshot) -> Result<(), BackendError>;

    /// Open a transaction that stays open until [`Backend::rollback_transaction`];
    /// applies and measurements in between see its changes.
    fn begin_transaction(&mut self) -> Result<(), BackendError>;

    /// Roll the open transaction back.
    fn rollback_transaction(&mut self) -> Result<(), BackendError>;

    /// What the target lacks for a `births` apply (the birth-register
    /// surface's operation), one line each; empty when births can run.
    fn births_missing(&mut self) -> Result<Vec<String>, BackendError>;

    /// Acting users for birth requests: up to `limit` ids, sorted ascending.
    fn users(&mut self, limit: usize) -> Result<Vec<String>, BackendError>;

    /// Call `fn_birth_register` for every birth of the plan. Outside an open
    /// transaction the batch is committed as one transaction; when
    /// `commit_each` is set every birth is its own transaction (as a client
    /// calling the function repeatedly). `progress` gets the births done.
    /// Returns the births done, and the error that stopped it, if any.
    fn apply_births(
        &mut self,
        plan: &BirthPlan,
        commit_each: bool,
        progress: &mut dyn FnMut(u64),
    ) -> (u64, Option<BackendError>);

    /// Get ready to run user change scripts as `mode` says, before the
    /// target is first measured: SQLite opens its write connections with
    /// the requested `foreign_keys`; PostgreSQL creates the per-rehearsal
    /// sandbox role and hands it the target's objects. Returns one line
    /// saying what confines the scripts, for the report.
    fn prepare_scripts(&mut self, mode: &ScriptMode) -> Result<String, BackendError>;

    /// Run a user's change script (up or down) statement by statement in
    /// the sandbox, as `mode` says (its `inside_transaction` is the
    /// backend's to know). A statement that fails or is refused is
    /// [`BackendError::Script`]. Returns the number of statements run.
    fn run_script(&mut self, sql: &str, mode: &ScriptMode) -> Result<usize, BackendError>;

    /// Fault `kill` on a change script: run it in a separate process (or
    /// session) that reports each completed statement, and kill that once
    /// `after` statements completed.
    fn apply_script_killed(
        &mut self,
        sql: &str,
        mode: &ScriptMode,
        after: u64,
    ) -> Result<KilledApply, BackendError> {
        let _ = (sql, mode, after);
        Err(BackendError::Unsupported(
            "the kill fault on a change script".into(),
        ))
    }

    /// Fault `io-error` on a change script: run it in a separate process
    /// whose writes fail with a real I/O error once the file would exceed
    /// `limit_bytes`.
    fn apply_script_io_limited(
        &mut self,
        sql: &str,
        mode: &ScriptMode,
        limit_bytes: u64,
    ) -> Result<KilledApply, BackendError> {
        let _ = (sql, mode, limit_bytes);
        Err(BackendError::Unsupported(
            "the io-error fault on a change script".into(),
        ))
    }

    /// The compensating inverse of the plan's births: un-register exactly
    /// the items born (the first `done` births), in one transaction.
    fn compensate_births(&mut self, plan: &BirthPlan, done: u64) -> Result<(), BackendError>;

    /// The `api-delete` compensation: undo the plan's births (the first
    /// `done`) as Directus API deletes would, in one transaction — each
    /// registry record removed, the item deleted, a `delete` activity
    /// written, the births' history kept ([`crate::surface::birth_api_delete`]).
    fn api_delete_births(&mut self, plan: &BirthPlan, done: u64) -> Result<(), BackendError> {
        let _ = (plan, done);
        Err(BackendError::Unsupported(
            "the api-delete compensation".into(),
        ))
    }

    /// Current values of the serial-id sequences, by table.
    fn sequences(&mut self) -> Result<BTreeMap<String, i64>, BackendError>;

    /// Set the sequences back to `seqs` (dropping ones not in it).
    fn rewind_sequences(&mut self, seqs: &BTreeMap<String, i64>) -> Result<(), BackendError>;

    /// Fault `disk-full`: let the target grow by at most `pages` more pages
    /// before writes fail with a full-disk error.
    fn limit_growth(&mut self, pages: u64) -> Result<(), BackendError>;

    /// Fault `kill`: run the plan's births in a separate process that commits
    /// each birth, and SIGKILL it once it has reported `after` births.
    fn apply_births_killed(
        &mut self,
        plan: &BirthPlan,
        after: u64,
    ) -> Result<KilledApply, BackendError> {
        let _ = (plan, after);
        Err(BackendError::Unsupported("the kill fault".into()))
    }

    /// Fault `io-error`: run the births in a separate process whose writes
    /// fail with a real I/O error once the file would exceed `limit_bytes`.
    fn apply_births_io_limited(
        &mut self,
        plan: &BirthPlan,
        limit_bytes: u64,
    ) -> Result<KilledApply, BackendError> {
        let _ = (plan, limit_bytes);
        Err(BackendError::Unsupported("the io-error fault".into()))
    }

    /// Row-level differences between a snapshot (the before state) and the
    /// target, for the named tables, at most `limit` rows shown per table.
    fn diff(
        &mut self,
        before: &Snapshot,
        tables: &[String],
        limit: usize,
    ) -> Result<Diff, BackendError>;

    /// Keep a copy of the target's current state as an artifact at `dest`.
    fn keep_copy(&mut self, dest: &std::path::Path) -> Result<(), BackendError>;

    /// End of the run: drop what the backend created besides the target
    /// (PostgreSQL snapshot clones) and, unless `keep_target`, the target
    /// itself. File backends leave their files to the run folder's cleanup.
    fn finish(&mut self, keep_target: bool) -> Result<(), BackendError> {
        let _ = keep_target;
        Ok(())
    }
}
