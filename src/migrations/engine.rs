//! What the step loop needs from a database, behind one trait so the loop
//! never cares which backend runs: run a script as the tool would, measure
//! the logical state, snapshot and restore, diff rows against the snapshot.
//! `sqlite` implements it on a workspace file (snapshots by file copy),
//! `postgres` on a server (snapshots by template clone).

use super::layout::Script;
use super::tool::Bookkeeping;
use crate::engine::sqlite::logical::LogicalDigest;
use crate::evidence::report::TableDiff;
use std::collections::BTreeMap;

/// How one script runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptMode {
    /// Wrap the script (and the bookkeeping inside it) in one transaction.
    pub transaction: bool,
    /// SQLite `PRAGMA foreign_keys` for the connection (PostgreSQL always
    /// enforces foreign keys).
    pub foreign_keys: bool,
}

/// A statement of a script that failed: which one, where, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScriptError {
    /// 1-based position among the script's statements (0: not a statement
    /// of the script, e.g. the tool's bookkeeping or its COMMIT).
    pub statement_index: usize,
    /// 1-based line in the migration file.
    pub line: usize,
    /// The statement (first 200 characters).
    pub sql: String,
    /// The database's error message.
    pub message: String,
}

/// An object of the schema, for naming what differs: a table, index,
/// view or trigger (SQLite: its `sqlite_schema` row; PostgreSQL: a catalog
/// item), and each table column as its own object (`table.column`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectKey {
    /// `table`, `index`, `view`, `trigger`, `column`, `constraint`, …
    pub kind: String,
    /// Name; for columns `table.column`.
    pub name: String,
}

/// The logical state of the database at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// The logical digest (docs/LOGICAL-HASH.md): overall, schema, tables.
    pub logical: LogicalDigest,
    /// Settings covered by the digest, by name (`user_version`, …).
    pub settings: BTreeMap<String, String>,
    /// Schema objects and their definitions.
    pub objects: BTreeMap<ObjectKey, String>,
}

/// Why the database itself could not be driven (not a failing migration:
/// that is a [`ScriptError`]).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A database operation of rollproof's own failed.
    #[error("{what}: {message}")]
    Db {
        /// What rollproof was doing.
        what: String,
        /// The database's message.
        message: String,
    },
    /// A file operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What rollproof was doing.
        what: String,
        /// The file.
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The guard refused a write (exit code 3).
    #[error(transparent)]
    Refused(#[from] crate::guard::Refusal),
    /// Rows could not be generated before a step.
    #[error(
        "data first: {0} (give the table rows in a --profile, or --rows 0 to rehearse on the migrations' own rows only)"
    )]
    Data(#[from] super::data::DataError),
    /// A PostgreSQL operation failed.
    #[error(transparent)]
    Pg(#[from] crate::engine::postgres::PgError),
}

impl EngineError {
    /// An error for anyhow whose cause chain carries a guard refusal as
    /// [`crate::guard::Refusal`] itself (so the exit code is 3).
    pub fn into_anyhow(self) -> anyhow::Error {
        match self {
            EngineError::Refused(r) => anyhow::Error::new(r),
            EngineError::Pg(p) => p.into_anyhow(),
            other => anyhow::Error::new(other),
        }
    }
}

/// A rehearsal database.
pub trait StepEngine {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Run rollproof's own setup SQL (the tool's bookkeeping table), each
    /// statement committed.
    fn setup(&mut self, sql: &[String]) -> Result<(), EngineError>;

    /// Run a migration script as the tool would, with its bookkeeping.
    /// `Ok(Err(_))` is the script (or the bookkeeping it broke) failing;
    /// the database is left as the failure left it (rolled back when the
    /// script ran in a transaction).
    fn run(
        &mut self,
        script: &Script,
        mode: ScriptMode,
        book: &Bookkeeping,
    ) -> Result<Result<(), ScriptError>, EngineError>;

    /// Data first: fill the empty tables before step `step` (1-based).
    fn fill(
        &mut self,
        plan: &super::data::DataPlan,
        step: usize,
    ) -> Result<super::data::Filled, EngineError>;

    /// Measure the whole logical state.
    fn measure(&mut self) -> Result<State, EngineError>;

    /// Replace the snapshot with the current state.
    fn snapshot(&mut self) -> Result<(), EngineError>;

    /// Put the snapshot back over the database.
    fn restore(&mut self) -> Result<(), EngineError>;

    /// Rows that differ in `tables` between the snapshot and the database
    /// now, at most `limit` shown per table (all counted).
    fn diff(&mut self, tables: &[String], limit: usize) -> Result<Vec<TableDiff>, EngineError>;

    /// Where the working database lives (a file, or a database name).
    fn location(&self) -> String;

    /// End of the run: drop what the engine created (files are left to the
    /// run folder's cleanup).
    fn finish(&mut self) -> Result<(), EngineError>;
}

/// Shorten a statement for a report.
pub fn short_sql(sql: &str) -> String {
    let one: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    match one.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &one[..i]),
        None => one,
    }
}
