//! Change scripts on the SQLite target: the sandboxed statement runner
//! (`engine::sqlite::script`) on the write connection, or in the apply
//! worker process for the kill and io-error faults. Every session ends
//! with the connection closed and provenance re-bound (deferred to the next
//! measurement), whether the script ran through or failed part-way: the
//! bytes a failed script left are ours, to be measured and rolled back.

use super::{SqliteBackend, worker};
use crate::engine::script::ScriptMode;
use crate::engine::{BackendError, KilledApply};

/// What confines change scripts on SQLite, in one line for the report.
pub const SANDBOX: &str = "SQLite authorizer: no ATTACH/DETACH, VACUUM INTO, load_extension(), writes outside main/temp or pragmas outside the allowlist (docs/SCENARIOS.md); SQLITE_DBCONFIG_DEFENSIVE on, trusted_schema off, ATTACH may not create or write files";

impl SqliteBackend {
    /// Run a script on the write connection (inside the open transaction,
    /// if there is one).
    pub(super) fn script_session(
        &mut self,
        sql: &str,
        mode: &ScriptMode,
    ) -> Result<usize, BackendError> {
        let r = self.conn().and_then(|c| {
            crate::engine::sqlite::script::run_script(c, sql, mode, &mut |_| {})
                .map_err(BackendError::from)
        });
        if self.in_tx && !self.conn.as_ref().is_some_and(|c| c.is_autocommit()) {
            return r;
        }
        if self.in_tx {
            // An error that rolls a whole transaction back (an I/O error,
            // ON CONFLICT ROLLBACK) ended rollproof's: nothing is left for
            // the rollback's ROLLBACK to undo.
            self.in_tx = false;
            self.tx_ended = true;
        }
        let closed = self.close();
        self.rebind_pending = true;
        let n = r?;
        closed?;
        Ok(n)
    }

    /// Run a script in the apply worker: SIGKILLed once `kill_after`
    /// statements completed, or under a file-size limit of `grow_bytes`
    /// above the current size.
    pub(super) fn script_worker(
        &mut self,
        sql: &str,
        mode: &ScriptMode,
        kill_after: Option<u64>,
        grow_bytes: Option<u64>,
    ) -> Result<KilledApply, BackendError> {
        self.close()?;
        self.authorize()?;
        let limit = match grow_bytes {
            Some(b) => Some(
                std::fs::metadata(&self.target)
                    .map_err(Self::io("cannot inspect", &self.target))?
                    .len()
                    + b,
            ),
            None => None,
        };
        let job = worker::ScriptJob {
            sql: sql.to_string(),
            foreign_keys: mode.foreign_keys,
            transaction: mode.transaction,
        };
        let r = worker::spawn_script(&self.target, &job, kill_after, limit);
        self.after_worker(r)
    }
}
