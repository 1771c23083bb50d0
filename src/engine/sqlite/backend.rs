//! The SQLite backend: a rehearsal target file inside the workspace.
//!
//! Every write asks the guard first (`guard::authorize_write`) and re-binds
//! provenance afterwards (`guard::rebind`) — after a failed write too, so a
//! half-applied script is measured and rolled back instead of being refused
//! as foreign bytes. Write connections are hardened (`sandbox::harden`) and
//! run with `PRAGMA foreign_keys = ON`, as production enforces its foreign
//! keys, unless a scenario runs its change scripts with them off. User
//! scripts run through `scripts` (the sandboxed statement runner).

mod measure;
mod scripts;
mod worker;

use crate::engine::script::ScriptMode;
use crate::engine::sqlite::snapshot::{self, SnapshotError};
use crate::engine::{
    Backend, BackendError, BirthPlan, KilledApply, RollbackMethod, Snapshot, SnapshotMethod,
};
use crate::evidence::report::{Diff, Phase};
use crate::guard;
use rusqlite::Connection;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use measure::{content_conn, content_file, open_ro};
pub use worker::{ScriptJob, run_script_worker, run_worker};

/// A SQLite rehearsal target.
pub struct SqliteBackend {
    target: PathBuf,
    conn: Option<Connection>,
    in_tx: bool,
    page_limit: Option<u64>,
    /// Our own writes changed the bytes and the provenance sidecar is not
    /// re-bound yet: deferred to the next measurement, whose file digest
    /// then serves the binding too (one read of the file instead of two).
    /// Every guarded step settles it first ([`SqliteBackend::authorize`]).
    rebind_pending: bool,
    /// `PRAGMA foreign_keys` of the write connections.
    foreign_keys: bool,
    /// SQLite itself ended the open transaction (an error that rolls the
    /// whole transaction back): nothing is left for ROLLBACK to undo.
    tx_ended: bool,
}

pub(super) fn db_err(what: &str, target: &Path, e: impl std::fmt::Display) -> BackendError {
    BackendError::Db {
        what: what.to_string(),
        target: target.display().to_string(),
        message: e.to_string(),
    }
}

fn snap_err(e: SnapshotError) -> BackendError {
    match e {
        SnapshotError::Corrupted {
            path,
            recorded,
            actual,
        }
        | SnapshotError::ChangedDuringRestore {
            path,
            recorded,
            actual,
        } => BackendError::SnapshotCorrupted {
            location: path.display().to_string(),
            recorded,
            actual,
        },
        SnapshotError::Io { what, path, source } => BackendError::Io {
            what: what.to_string(),
            path,
            source,
        },
        other => BackendError::Db {
            what: "snapshot".into(),
            target: String::new(),
            message: other.to_string(),
        },
    }
}

impl SqliteBackend {
    /// A backend on `target`, a working copy in the workspace.
    pub fn new(target: PathBuf) -> SqliteBackend {
        SqliteBackend {
            target,
            conn: None,
            in_tx: false,
            page_limit: None,
            rebind_pending: false,
            foreign_keys: true,
            tx_ended: false,
        }
    }

    /// The target file.
    pub fn target(&self) -> &Path {
        &self.target
    }

    fn conn(&mut self) -> Result<&mut Connection, BackendError> {
        if self.conn.is_none() {
            self.authorize()?;
            let c = Connection::open(&self.target).map_err(|e| db_err("open", &self.target, e))?;
            crate::engine::sqlite::sandbox::harden(&c)
                .map_err(|e| db_err("harden the connection", &self.target, e))?;
            c.pragma_update(None, "foreign_keys", self.foreign_keys)
                .map_err(|e| db_err("set foreign keys", &self.target, e))?;
            c.busy_timeout(std::time::Duration::from_secs(5))
                .map_err(|e| db_err("set busy timeout", &self.target, e))?;
            if let Some(limit) = self.page_limit {
                c.pragma_update(None, "max_page_count", limit as i64)
                    .map_err(|e| db_err("limit growth", &self.target, e))?;
            }
            self.conn = Some(c);
        }
        // Just set above when it was missing.
        self.conn
            .as_mut()
            .ok_or_else(|| db_err("open", &self.target, "no connection"))
    }

    /// Close the write connection (no open writer for copies and workers).
    fn close(&mut self) -> Result<(), BackendError> {
        if self.in_tx {
            return Err(db_err("close", &self.target, "a transaction is still open"));
        }
        if let Some(c) = self.conn.take() {
            c.close()
                .map_err(|(_, e)| db_err("close", &self.target, e))?;
        }
        self.page_limit = None;
        Ok(())
    }

    /// Fold a `-wal` back into the main file so it alone holds the database.
    fn checkpoint(&mut self) -> Result<(), BackendError> {
        let wal = &snapshot::sidecars(&self.target)[0];
        if wal.exists() {
            self.authorize()?;
            let c = Connection::open(&self.target).map_err(|e| db_err("open", &self.target, e))?;
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(|e| db_err("wal_checkpoint", &self.target, e))?;
            c.close()
                .map_err(|(_, e)| db_err("close", &self.target, e))?;
        }
        Ok(())
    }

    /// No open writer, no WAL, no hot journal: the main file alone holds
    /// the database, as a copy of it needs.
    fn quiesce(&mut self, what: &str) -> Result<(), BackendError> {
        self.close()?;
        self.checkpoint()?;
        if snapshot::has_hot_journal(&self.target) {
            return Err(db_err(
                what,
                &self.target,
                "a hot journal sits beside the file; a snapshot now would not be consistent",
            ));
        }
        Ok(())
    }

    fn rebind(&mut self) -> Result<(), BackendError> {
        guard::rebind(&self.target)?;
        self.rebind_pending = false;
        Ok(())
    }

    /// Re-bind provenance now if our last write deferred it.
    fn settle_binding(&mut self) -> Result<(), BackendError> {
        if self.rebind_pending {
            self.rebind()?;
        }
        Ok(())
    }

    /// Ask the guard before a write (after settling a deferred re-bind: the
    /// guard refuses a file whose bytes differ from its sidecar).
    fn authorize(&mut self) -> Result<(), BackendError> {
        self.settle_binding()?;
        guard::authorize_write(&self.target)?;
        Ok(())
    }

    /// Measure a file that is not open for writing.
    fn measure_path(
        &mut self,
        path: &Path,
        known: &[(&str, &Phase)],
    ) -> Result<Phase, BackendError> {
        measure::measure_path(path, known)
    }

    /// After the apply worker (ours) stopped: recover any hot journal it
    /// left (`worker::recover`), then re-bind provenance to the bytes our
    /// worker left.
    fn after_worker(
        &mut self,
        r: Result<KilledApply, BackendError>,
    ) -> Result<KilledApply, BackendError> {
        let k = worker::recover(&self.target, r?)?;
        self.rebind()?;
        Ok(k)
    }

    /// End a write session that ran outside a transaction, whatever its
    /// outcome: close the connection and re-bind provenance to the bytes it
    /// left, then return the session's own result.
    fn end_write<T>(&mut self, r: Result<T, BackendError>) -> Result<T, BackendError> {
        let closed = self.close().and_then(|()| self.rebind());
        let v = r?;
        closed?;
        Ok(v)
    }

    fn io(what: &str, path: &Path) -> impl Fn(std::io::Error) -> BackendError {
        let (what, path) = (what.to_string(), path.to_path_buf());
        move |source| BackendError::Io {
            what: what.clone(),
            path: path.clone(),
            source,
        }
    }
}

impl Backend for SqliteBackend {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn byte_exact_capable(&self, snapshot: SnapshotMethod, rollback: RollbackMethod) -> bool {
        match rollback {
            RollbackMethod::Transaction => true,
            RollbackMethod::Restore => snapshot == SnapshotMethod::Copy,
            RollbackMethod::Compensate => false,
        }
    }

    fn measure(&mut self, known: &[(&str, &Phase)]) -> Result<Phase, BackendError> {
        if self.in_tx {
            let started = Instant::now();
            let target = self.target.clone();
            let file = crate::hash::file_sha256(&target).map_err(|e| BackendError::Io {
                what: "cannot hash".into(),
                path: target.clone(),
                source: e.source,
            })?;
            let stray = snapshot::stray_files(&target);
            let c = self.conn()?;
            let content = content_conn(c).map_err(|e| db_err("measure", &target, e))?;
            let note = "measured inside the open transaction: logical hash and checks see the uncommitted changes; the main file's bytes hold only what the page cache spilled".to_string();
            return Ok(measure::phase(
                Some(&file),
                content,
                stray,
                Some(note),
                started,
            ));
        }
        self.close()?;
        self.checkpoint()?;
        let target = self.target.clone();
        let phase = self.measure_path(&target, known)?;
        self.settle_binding()?;
        Ok(phase)
    }

    fn measure_snapshot(
        &mut self,
        snap: &Snapshot,
        known: &[(&str, &Phase)],
    ) -> Result<Phase, BackendError> {
        self.measure_path(Path::new(&snap.location), known)
    }

    fn snapshot(&mut self, method: SnapshotMethod, dest: &str) -> Result<Snapshot, BackendError> {
        self.quiesce("snapshot")?;
        take_snapshot(&self.target, method, dest)
    }

    fn measure_and_snapshot(
        &mut self,
        method: SnapshotMethod,
        dest: &str,
    ) -> Result<(Phase, Snapshot), BackendError> {
        if self.in_tx {
            let phase = self.measure(&[])?;
            return Ok((phase, self.snapshot(method, dest)?));
        }
        self.quiesce("snapshot")?;
        // Both only read the target: the copy runs while it is measured.
        let target = self.target.clone();
        let (phase, snap) = std::thread::scope(|s| {
            let snap = s.spawn(|| take_snapshot(&target, method, dest));
            let phase = measure::measure_path(&target, &[]);
            let snap = snap
                .join()
                .unwrap_or_else(|_| Err(db_err("snapshot", &target, "thread panicked")));
            (phase, snap)
        });
        let phase = phase?;
        self.settle_binding()?;
        Ok((phase, snap?))
    }

    fn measure_and_restore(
        &mut self,
        known: &[(&str, &Phase)],
        snap: &Snapshot,
    ) -> Result<(Phase, Result<(), BackendError>), BackendError> {
        if self.in_tx || snap.method != SnapshotMethod::Copy {
            let phase = self.measure(known)?;
            return Ok((phase, self.restore(snap)));
        }
        self.close()?;
        self.checkpoint()?;
        // Stage the restored copy beside the target while the target is
        // measured; it replaces the target only after the measurement ended.
        let target = self.target.clone();
        let (phase, staged) = std::thread::scope(|s| {
            let staged = s.spawn(|| {
                snapshot::stage_restore(Path::new(&snap.location), &snap.sha256, &target)
            });
            let phase = measure::measure_path(&target, known);
            let staged = staged.join().unwrap_or_else(|_| {
                Err(SnapshotError::Io {
                    what: "cannot stage the restore of",
                    path: PathBuf::from(&snap.location),
                    source: std::io::Error::other("thread panicked"),
                })
            });
            (phase, staged)
        });
        let phase = phase?;
        self.settle_binding()?;
        let restored = match staged {
            Ok(tmp) => self.authorize().and_then(|()| {
                snapshot::commit_restore(tmp, &self.target).map_err(snap_err)?;
                self.rebind()
            }),
            Err(e) => Err(snap_err(e)),
        };
        Ok((phase, restored))
    }

    fn verify_snapshot(&mut self, snap: &Snapshot) -> Result<(), BackendError> {
        snapshot::verify(Path::new(&snap.location), &snap.sha256).map_err(snap_err)
    }

    fn restore(&mut self, snap: &Snapshot) -> Result<(), BackendError> {
        // A copy restore verifies the digest of the bytes it writes before
        // the rename (one pass); the backup API reads pages, so verify first.
        if snap.method != SnapshotMethod::Copy {
            self.verify_snapshot(snap)?;
        }
        self.close()?;
        self.authorize()?;
        let path = Path::new(&snap.location);
        match snap.method {
            SnapshotMethod::Copy => snapshot::restore_copy(path, &snap.sha256, &self.target),
            SnapshotMethod::Backup => snapshot::restore_backup(path, &self.target),
            SnapshotMethod::Template | SnapshotMethod::PgDump => {
                return Err(BackendError::Unsupported(format!(
                    "restore from `{}`",
                    snap.method.as_str()
                )));
            }
        }
        .map_err(snap_err)?;
        self.rebind()
    }

    fn begin_transaction(&mut self) -> Result<(), BackendError> {
        let target = self.target.clone();
        self.conn()?
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| db_err("begin transaction", &target, e))?;
        self.in_tx = true;
        Ok(())
    }

    fn rollback_transaction(&mut self) -> Result<(), BackendError> {
        if std::mem::take(&mut self.tx_ended) {
            // SQLite rolled it back already (see `tx_ended`).
            return Ok(());
        }
        let target = self.target.clone();
        self.conn()?
            .execute_batch("ROLLBACK")
            .map_err(|e| db_err("rollback transaction", &target, e))?;
        self.in_tx = false;
        self.close()?;
        self.rebind()
    }

    fn births_missing(&mut self) -> Result<Vec<String>, BackendError> {
        // The modeled semantics write the surface's tables: all of them,
        // with their columns, as intake judges a clone.
        let c = open_ro(&self.target).map_err(|e| db_err("open", &self.target, e))?;
        crate::intake::surface_check::check(&c)
            .map(|s| s.problems())
            .map_err(|e| db_err("reading the schema", &self.target, e))
    }

    fn users(&mut self, limit: usize) -> Result<Vec<String>, BackendError> {
        let c = open_ro(&self.target).map_err(|e| db_err("open", &self.target, e))?;
        let mut stmt = c
            .prepare("SELECT id FROM directus_users ORDER BY id LIMIT ?1")
            .map_err(|e| db_err("read directus_users", &self.target, e))?;
        stmt.query_map([limit as i64], |r| r.get(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
            .map_err(|e| db_err("read directus_users", &self.target, e))
    }

    fn apply_births(
        &mut self,
        plan: &BirthPlan,
        commit_each: bool,
        progress: &mut dyn FnMut(u64),
    ) -> (u64, Option<BackendError>) {
        let target = self.target.clone();
        let batch = !self.in_tx && !commit_each;
        let c = match self.conn() {
            Ok(c) => c,
            Err(e) => return (0, Some(e)),
        };
        if batch && let Err(e) = c.execute_batch("BEGIN IMMEDIATE") {
            return (0, Some(db_err("begin", &target, e)));
        }
        let mut done = 0u64;
        let mut failure = None;
        for i in 0..plan.count {
            match crate::surface::birth_register(c, &plan.birth(i)) {
                Ok(_) => {
                    done += 1;
                    progress(done);
                }
                Err(e) => {
                    failure = Some(db_err(
                        &format!("fn_birth_register (birth {})", i + 1),
                        &target,
                        e,
                    ));
                    break;
                }
            }
        }
        if batch {
            let end = if failure.is_some() {
                "ROLLBACK"
            } else {
                "COMMIT"
            };
            if let Err(e) = c.execute_batch(end) {
                failure.get_or_insert(db_err(end, &target, e));
            }
            if failure.is_some() {
                done = 0;
            }
        }
        if !self.in_tx {
            match self.close() {
                Ok(()) => self.rebind_pending = true,
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        (done, failure)
    }

    fn prepare_scripts(&mut self, mode: &ScriptMode) -> Result<String, BackendError> {
        self.close()?;
        self.foreign_keys = mode.foreign_keys;
        Ok(scripts::SANDBOX.to_string())
    }

    fn run_script(&mut self, sql: &str, mode: &ScriptMode) -> Result<usize, BackendError> {
        self.script_session(sql, mode)
    }

    fn apply_script_killed(
        &mut self,
        sql: &str,
        mode: &ScriptMode,
        after: u64,
    ) -> Result<KilledApply, BackendError> {
        self.script_worker(sql, mode, Some(after), None)
    }

    fn apply_script_io_limited(
        &mut self,
        sql: &str,
        mode: &ScriptMode,
        limit_bytes: u64,
    ) -> Result<KilledApply, BackendError> {
        self.script_worker(sql, mode, None, Some(limit_bytes))
    }

    fn compensate_births(&mut self, plan: &BirthPlan, done: u64) -> Result<(), BackendError> {
        let target = self.target.clone();
        let c = self.conn()?;
        let r = in_write_transaction(c, |c| {
            for i in (0..done).rev() {
                crate::surface::birth_unregister(c, &crate::rehearse::births::item_id(plan, i))?;
            }
            Ok(())
        })
        .map_err(|e| db_err("compensate (birth_unregister)", &target, e));
        // Closed and re-bound on failure too (the transaction was rolled
        // back, but the file is still ours to measure).
        self.end_write(r)
    }

    fn api_delete_births(&mut self, plan: &BirthPlan, done: u64) -> Result<(), BackendError> {
        let target = self.target.clone();
        let c = self.conn()?;
        let r = in_write_transaction(c, |c| {
            crate::rehearse::births::for_each_api_delete(plan, done, |d| {
                crate::surface::birth_api_delete(c, d).map(|_| ())
            })
        })
        .map_err(|e| db_err("compensate (api delete)", &target, e));
        self.end_write(r)
    }

    fn sequences(&mut self) -> Result<BTreeMap<String, i64>, BackendError> {
        let c = open_ro(&self.target).map_err(|e| db_err("open", &self.target, e))?;
        let exists: bool = c
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_sequence'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| db_err("read sqlite_sequence", &self.target, e))?;
        if !exists {
            return Ok(BTreeMap::new());
        }
        let mut stmt = c
            .prepare("SELECT name, seq FROM sqlite_sequence")
            .map_err(|e| db_err("read sqlite_sequence", &self.target, e))?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| db_err("read sqlite_sequence", &self.target, e))
    }

    fn rewind_sequences(&mut self, seqs: &BTreeMap<String, i64>) -> Result<(), BackendError> {
        let target = self.target.clone();
        let now = self.sequences()?;
        let c = self.conn()?;
        let r = in_write_transaction(c, |c| {
            for name in now.keys() {
                match seqs.get(name) {
                    Some(v) => c.execute(
                        "UPDATE sqlite_sequence SET seq = ?1 WHERE name = ?2",
                        rusqlite::params![v, name],
                    ),
                    None => c.execute("DELETE FROM sqlite_sequence WHERE name = ?1", [name]),
                }?;
            }
            Ok(())
        })
        .map_err(|e| db_err("rewind sqlite_sequence", &target, e));
        self.end_write(r)
    }

    fn limit_growth(&mut self, pages: u64) -> Result<(), BackendError> {
        self.close()?;
        let c = open_ro(&self.target).map_err(|e| db_err("open", &self.target, e))?;
        let now = measure::page_count(&c).map_err(|e| db_err("page_count", &self.target, e))?;
        self.page_limit = Some(now + pages);
        Ok(())
    }

    fn apply_births_killed(
        &mut self,
        plan: &BirthPlan,
        after: u64,
    ) -> Result<KilledApply, BackendError> {
        self.close()?;
        self.authorize()?;
        let r = worker::spawn(&self.target, plan, Some(after), None);
        self.after_worker(r)
    }

    fn apply_births_io_limited(
        &mut self,
        plan: &BirthPlan,
        limit_bytes: u64,
    ) -> Result<KilledApply, BackendError> {
        self.close()?;
        self.authorize()?;
        let size = std::fs::metadata(&self.target)
            .map_err(Self::io("cannot inspect", &self.target))?
            .len();
        let r = worker::spawn(&self.target, plan, None, Some(size + limit_bytes));
        self.after_worker(r)
    }

    fn diff(
        &mut self,
        before: &Snapshot,
        tables: &[String],
        limit: usize,
    ) -> Result<Diff, BackendError> {
        self.close()?;
        let schema_differs = {
            let b = open_ro(Path::new(&before.location))
                .map_err(|e| db_err("open", Path::new(&before.location), e))?;
            let a = open_ro(&self.target).map_err(|e| db_err("open", &self.target, e))?;
            crate::engine::sqlite::logical::schema_digest(&b)
                .map_err(|e| db_err("schema", &self.target, e))?
                != crate::engine::sqlite::logical::schema_digest(&a)
                    .map_err(|e| db_err("schema", &self.target, e))?
        };
        Ok(crate::engine::sqlite::diff::diff_record(
            Path::new(&before.location),
            &self.target,
            schema_differs,
            tables,
            limit,
        ))
    }

    fn finish(&mut self, _keep_target: bool) -> Result<(), BackendError> {
        self.settle_binding()
    }

    fn keep_copy(&mut self, dest: &Path) -> Result<(), BackendError> {
        if self.in_tx {
            let target = self.target.clone();
            let c = self.conn()?;
            snapshot::copy_logical(c, dest)
                .map_err(|e| db_err("copy the open transaction's state", &target, e))?;
            return Ok(());
        }
        self.close()?;
        std::fs::copy(&self.target, dest)
            .map_err(Self::io("cannot keep a copy of", &self.target))?;
        let journal = &snapshot::sidecars(&self.target)[2];
        if journal.exists() {
            std::fs::copy(journal, &snapshot::sidecars(dest)[2])
                .map_err(Self::io("cannot keep a copy of", journal))?;
        }
        Ok(())
    }
}

/// Snapshot a quiet target file into `dest` by `method`.
fn take_snapshot(
    target: &Path,
    method: SnapshotMethod,
    dest: &str,
) -> Result<Snapshot, BackendError> {
    let dest_path = Path::new(dest);
    let d = match method {
        SnapshotMethod::Copy => snapshot::copy_snapshot(target, dest_path),
        SnapshotMethod::Backup => snapshot::backup_snapshot(target, dest_path),
        SnapshotMethod::Template | SnapshotMethod::PgDump => {
            return Err(BackendError::Unsupported(format!(
                "snapshot method `{}`",
                method.as_str()
            )));
        }
    }
    .map_err(snap_err)?;
    Ok(Snapshot {
        method,
        location: dest.to_string(),
        sha256: d.sha256,
        size: Some(d.size),
    })
}

/// Run `f` inside `BEGIN IMMEDIATE … COMMIT`; on any error roll back, so a
/// failed compensation leaves the target as it was.
fn in_write_transaction(
    c: &rusqlite::Connection,
    f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    c.execute_batch("BEGIN IMMEDIATE")?;
    match f(c) {
        Ok(()) => c.execute_batch("COMMIT"),
        Err(e) => {
            let _ = c.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}
