//! The migrations rehearsal on a SQLite file in the workspace.
//!
//! The working database is created empty by rollproof in the run folder,
//! stamped with a provenance record (a surrogate whose recipe is the
//! folder's manifest digest) and bound by the guard; every write asks the
//! guard first and re-binds afterwards, as every SQLite write in rollproof
//! does. The snapshot is a plain file copy (byte-identical, taken when no
//! transaction is open and the main file is the whole database); a
//! restore copies it back after re-checking its SHA-256.
//!
//! **Measuring cheaply, soundly** (issue #16, "Speed"). A measure reuses a
//! table's digest when the table's page fingerprint
//! (`engine::sqlite::fingerprint`: its definition and the bytes of every
//! page of its b-tree) equals one already digested in this run, and hashes
//! the table row by row otherwise. A whole state is reused only when no
//! write went through the engine since it was measured and the file is
//! unchanged (size, modification time, header change counter): the state
//! after a step's redo is the next step's before when data first added
//! nothing in between.

use super::engine::{EngineError, ObjectKey, ScriptError, ScriptMode, State, StepEngine};
use super::layout::Script;
use super::tool::Bookkeeping;
use crate::engine::sqlite::{diff, fingerprint, logical, snapshot};
use crate::evidence::report::TableDiff;
use crate::guard;
use rusqlite::Connection;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Tables SQLite itself rewrites on ANALYZE, left out of the logical state
/// by exact name (as the logical hash leaves them out).
const STAT_TABLES: [&str; 4] = [
    "sqlite_stat1",
    "sqlite_stat2",
    "sqlite_stat3",
    "sqlite_stat4",
];

/// A SQLite migrations rehearsal database.
pub struct SqliteEngine {
    target: PathBuf,
    snap: PathBuf,
    snap_sha: Option<String>,
    writer: Option<Connection>,
    /// Table digests by page fingerprint, for this run.
    digests: fingerprint::Cache,
    /// The last state measured, and the file as it was then; dropped by
    /// every write through the engine.
    last: Option<(FileStamp, State)>,
}

/// What identifies the file's bytes cheaply between two measures with no
/// write through the engine: a write by anything else changes one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    /// Header bytes 24–27, SQLite's file change counter.
    change_counter: [u8; 4],
    /// The `-wal` file's size and modification time, if there is one (a
    /// commit in WAL mode changes only it).
    wal: Option<(u64, Option<std::time::SystemTime>)>,
}

fn stamp(path: &Path) -> Result<FileStamp, EngineError> {
    let meta = std::fs::metadata(path).map_err(|source| EngineError::Io {
        what: "cannot inspect the working database".into(),
        path: path.to_path_buf(),
        source,
    })?;
    let h = logical::read_header(path).unwrap_or([0; 100]);
    Ok(FileStamp {
        len: meta.len(),
        modified: meta.modified().ok(),
        change_counter: [h[24], h[25], h[26], h[27]],
        wal: std::fs::metadata(&snapshot::sidecars(path)[0])
            .ok()
            .map(|m| (m.len(), m.modified().ok())),
    })
}

fn db(what: &str) -> impl Fn(rusqlite::Error) -> EngineError + '_ {
    move |e| EngineError::Db {
        what: what.to_string(),
        message: e.to_string(),
    }
}

fn snap_err(e: snapshot::SnapshotError) -> EngineError {
    EngineError::Db {
        what: "snapshot".into(),
        message: e.to_string(),
    }
}

impl SqliteEngine {
    /// Create the empty working database `work.db` in `run_dir` (inside
    /// the workspace), stamp and bind it. `recipe` is the folder manifest
    /// digest recorded as the record's profile digest; `seed` the data seed.
    pub fn create(run_dir: &Path, recipe: &str, seed: u64) -> Result<SqliteEngine, EngineError> {
        std::fs::create_dir_all(run_dir).map_err(|source| EngineError::Io {
            what: "cannot create the run folder".into(),
            path: run_dir.to_path_buf(),
            source,
        })?;
        let target = run_dir.join("work.db");
        // The guard resolves the path inside the workspace (refusing one
        // outside it) before anything is created.
        let real = guard::resolve_in(&guard::workspace()?, &target, true)?;
        if real.exists() {
            return Err(guard::Refusal::new(format!("{} already exists", real.display())).into());
        }
        {
            let c = Connection::open(&real).map_err(db("create the working database"))?;
            c.pragma_update(None, "application_id", crate::surface::APPLICATION_ID)
                .map_err(db("stamp the working database"))?;
            guard::provenance::Record::surrogate(recipe, seed, 1.0)
                .stamp(&c)
                .map_err(db("stamp the working database"))?;
            // SQLite creates `sqlite_sequence` with the first AUTOINCREMENT
            // table and never lets anyone drop it, so a migration creating
            // that first table could never be undone exactly. Creating the
            // (empty) table up front makes that creation a no-op; an empty
            // `sqlite_sequence` changes no behaviour.
            c.execute_batch(
                "CREATE TABLE rollproof_sequence_init(id INTEGER PRIMARY KEY AUTOINCREMENT);
                 DROP TABLE rollproof_sequence_init;",
            )
            .map_err(db("prepare sqlite_sequence"))?;
            c.close().map_err(|(_, e)| db("close")(e))?;
        }
        guard::bind_new(&real, None)?;
        Ok(SqliteEngine {
            snap: run_dir.join("snapshot.db"),
            target: real,
            snap_sha: None,
            writer: None,
            digests: fingerprint::Cache::default(),
            last: None,
        })
    }

    /// The working database file.
    pub fn target(&self) -> &Path {
        &self.target
    }

    fn writer(&mut self) -> Result<&mut Connection, EngineError> {
        // Whoever asks for the writer may write: the last state is stale.
        self.last = None;
        if self.writer.is_none() {
            guard::authorize_write(&self.target)?;
            let c = Connection::open(&self.target).map_err(db("open the working database"))?;
            c.busy_timeout(std::time::Duration::from_secs(5))
                .map_err(db("set busy timeout"))?;
            self.writer = Some(c);
        }
        self.writer.as_mut().ok_or_else(|| EngineError::Db {
            what: "open the working database".into(),
            message: "no connection".into(),
        })
    }

    /// Close the writer (SQLite folds any WAL back on the last close) and
    /// re-bind provenance to the bytes our writes left.
    fn close(&mut self) -> Result<(), EngineError> {
        if let Some(c) = self.writer.take() {
            if !c.is_autocommit() {
                let _ = c.execute_batch("ROLLBACK");
            }
            c.close()
                .map_err(|(_, e)| db("close the working database")(e))?;
            guard::rebind(&self.target)?;
        }
        if snapshot::has_hot_journal(&self.target) {
            return Err(EngineError::Db {
                what: "quiesce the working database".into(),
                message: "a hot journal sits beside it".into(),
            });
        }
        Ok(())
    }
}

/// Run one batch of rollproof's own SQL (bookkeeping) in a transaction of
/// its own when `own_tx`.
fn ours(c: &Connection, sql: &[String], own_tx: bool) -> Result<(), ScriptError> {
    if sql.is_empty() {
        return Ok(());
    }
    let mut batch = sql.join(";\n");
    if own_tx {
        batch = format!("BEGIN;\n{batch};\nCOMMIT;");
    }
    c.execute_batch(&batch).map_err(|e| {
        if !c.is_autocommit() && own_tx {
            let _ = c.execute_batch("ROLLBACK");
        }
        bookkeeping_error(&batch, &e.to_string())
    })
}

fn bookkeeping_error(sql: &str, message: &str) -> ScriptError {
    ScriptError {
        statement_index: 0,
        line: 0,
        sql: super::engine::short_sql(sql),
        message: format!("the tool's own bookkeeping failed: {message}"),
    }
}

/// Read the schema objects the logical hash covers, and each column.
pub fn objects(c: &Connection) -> rusqlite::Result<BTreeMap<ObjectKey, String>> {
    let mut out = BTreeMap::new();
    let mut stmt =
        c.prepare("SELECT type, name, tbl_name, sql FROM main.sqlite_schema ORDER BY type, name")?;
    let rows: Vec<(String, String, String, Option<String>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (kind, name, tbl, sql) in rows {
        if kind == "table" && STAT_TABLES.contains(&name.as_str()) {
            continue;
        }
        if kind == "table" {
            let mut cols = c.prepare("SELECT cid, name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?1) ORDER BY cid")?;
            let list: Vec<(String, String)> = cols
                .query_map([&name], |r| Ok((r.get(1)?, column_def(r)?)))?
                .collect::<rusqlite::Result<_>>()?;
            for (col, def) in list {
                out.insert(
                    ObjectKey {
                        kind: "column".into(),
                        name: format!("{name}.{col}"),
                    },
                    def,
                );
            }
        }
        let def = sql.unwrap_or_else(|| format!("(automatic index on {tbl})"));
        out.insert(ObjectKey { kind, name }, def);
    }
    Ok(out)
}

/// One `pragma_table_xinfo` row as a column definition:
/// `#position TYPE [NOT NULL] [DEFAULT x] [PRIMARY KEY(n)] [GENERATED]`.
fn column_def(r: &rusqlite::Row<'_>) -> rusqlite::Result<String> {
    let (cid, ty): (i64, String) = (r.get(0)?, r.get(2)?);
    let mut def = format!(
        "#{} {}",
        cid + 1,
        if ty.is_empty() { "(no type)" } else { &ty }
    );
    if r.get::<_, bool>(3)? {
        def.push_str(" NOT NULL");
    }
    if let Some(d) = r.get::<_, Option<String>>(4)? {
        def.push_str(&format!(" DEFAULT {d}"));
    }
    let pk: i64 = r.get(5)?;
    if pk > 0 {
        def.push_str(&format!(" PRIMARY KEY({pk})"));
    }
    if r.get::<_, i64>(6)? > 0 {
        def.push_str(" GENERATED");
    }
    Ok(def)
}

/// Measure a database file: logical digest, settings, objects.
pub fn measure_file(path: &Path) -> Result<State, EngineError> {
    measure_with(path, &mut fingerprint::Cache::default())
}

/// [`measure_file`], reusing the digests of tables whose page fingerprint
/// `digests` has seen (see the module doc). Everything is read in one read
/// transaction.
pub fn measure_with(path: &Path, digests: &mut fingerprint::Cache) -> Result<State, EngineError> {
    let c = logical::open_read_only(path).map_err(db("open for measuring"))?;
    c.execute_batch("BEGIN; SELECT count(*) FROM main.sqlite_schema;")
        .map_err(db("start measuring"))?;
    let pages = fingerprint::Pages::open(path, &c).map_err(|source| EngineError::Io {
        what: "cannot read pages of".into(),
        path: path.to_path_buf(),
        source,
    })?;
    let state = measure_conn(&c, pages.as_ref(), digests);
    // The connection closes before the page reader's file handle (closing
    // a handle drops the process's POSIX locks on the file).
    let closed = c.close().map_err(|(_, e)| db("close after measuring")(e));
    drop(pages);
    let state = state?;
    closed?;
    Ok(state)
}

fn measure_conn(
    c: &Connection,
    pages: Option<&fingerprint::Pages>,
    digests: &mut fingerprint::Cache,
) -> Result<State, EngineError> {
    let logical = logical::digest_conn_with(c, &mut |c, t| digests.table_digest(pages, c, t))
        .map_err(db("logical hash"))?;
    let mut settings = BTreeMap::new();
    for p in ["application_id", "user_version"] {
        let v: i64 = c
            .query_row(&format!("PRAGMA {p}"), [], |r| r.get(0))
            .map_err(db("read settings"))?;
        settings.insert(p.to_string(), v.to_string());
    }
    let objects = objects(c).map_err(db("read the schema"))?;
    Ok(State {
        logical,
        settings,
        objects,
    })
}

impl StepEngine for SqliteEngine {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn setup(&mut self, sql: &[String]) -> Result<(), EngineError> {
        let c = self.writer()?;
        for s in sql {
            c.execute_batch(s)
                .map_err(db("create the bookkeeping table"))?;
        }
        Ok(())
    }

    fn run(
        &mut self,
        script: &Script,
        mode: ScriptMode,
        book: &Bookkeeping,
    ) -> Result<Result<(), ScriptError>, EngineError> {
        let c = self.writer()?;
        c.pragma_update(None, "foreign_keys", mode.foreign_keys)
            .map_err(db("set foreign_keys"))?;
        Ok(run_on(c, script, mode, book))
    }

    fn measure(&mut self) -> Result<State, EngineError> {
        let now = stamp(&self.target)?;
        if let Some((then, state)) = &self.last
            && *then == now
        {
            return Ok(state.clone());
        }
        // A read-only connection beside the idle writer sees what it committed.
        let state = measure_with(&self.target, &mut self.digests)?;
        // Stamped before measuring: a write meanwhile makes it stale.
        self.last = Some((now, state.clone()));
        Ok(state)
    }

    fn snapshot(&mut self) -> Result<(), EngineError> {
        // An idle writer (no transaction open) on a rollback-journal file
        // with nothing beside it has all its commits in the main file:
        // the copy can be taken without closing it (and without the guard
        // re-hashing the file to rebind it and again to re-open it).
        let idle = self.writer.as_ref().is_none_or(|c| c.is_autocommit())
            && snapshot::stray_files(&self.target).is_empty()
            && logical::read_header(&self.target)
                .is_some_and(|h| logical::journal_mode_of(&h) == "rollback");
        if !idle {
            self.close()?;
        }
        // The step before left its snapshot; this one replaces it.
        self.snap_sha = None;
        match std::fs::remove_file(&self.snap) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(EngineError::Io {
                    what: "cannot remove the old snapshot".into(),
                    path: self.snap.clone(),
                    source: e,
                });
            }
            _ => {}
        }
        let d = snapshot::copy_snapshot(&self.target, &self.snap).map_err(snap_err)?;
        self.snap_sha = Some(d.sha256);
        Ok(())
    }

    fn restore(&mut self) -> Result<(), EngineError> {
        self.last = None;
        self.close()?;
        let sha = self.snap_sha.clone().ok_or_else(|| EngineError::Db {
            what: "restore".into(),
            message: "no snapshot was taken".into(),
        })?;
        guard::authorize_write(&self.target)?;
        snapshot::restore_copy(&self.snap, &sha, &self.target).map_err(snap_err)?;
        guard::rebind(&self.target)?;
        Ok(())
    }

    fn diff(&mut self, tables: &[String], limit: usize) -> Result<Vec<TableDiff>, EngineError> {
        diff::diff_files(&self.snap, &self.target, tables, limit).map_err(db("row diff"))
    }

    fn fill(
        &mut self,
        plan: &super::data::DataPlan,
        step: usize,
    ) -> Result<super::data::Filled, EngineError> {
        if plan.source == super::data::Source::None {
            return Ok(super::data::Filled::default());
        }
        let last = self.last.take();
        let c = self.writer()?;
        let filled = super::data::fill(c, plan, step)?;
        // No row written: the logical state is the one last measured (the
        // file stamp is still compared before it is reused).
        if filled.rows.is_empty() {
            self.last = last;
        }
        Ok(filled)
    }

    fn location(&self) -> String {
        self.target.display().to_string()
    }

    fn finish(&mut self) -> Result<(), EngineError> {
        self.close()
    }
}

/// The tool's run of one script on an open connection: bookkeeping before
/// (own transaction), BEGIN when the tool wraps the script, its
/// statements, the bookkeeping inside, COMMIT, bookkeeping after.
fn run_on(
    c: &mut Connection,
    script: &Script,
    mode: ScriptMode,
    book: &Bookkeeping,
) -> Result<(), ScriptError> {
    ours(c, &book.before, true)?;
    if mode.transaction {
        c.execute_batch("BEGIN")
            .map_err(|e| bookkeeping_error("BEGIN", &e.to_string()))?;
    }
    let body = super::runner::run_sqlite(c, &script.sql, script.first_line, !mode.transaction)
        .and_then(|()| ours(c, &book.inside, false))
        .and_then(|()| {
            if mode.transaction {
                c.execute_batch("COMMIT").map_err(|e| ScriptError {
                    statement_index: 0,
                    line: 0,
                    sql: "COMMIT".into(),
                    message: e.to_string(),
                })
            } else {
                Ok(())
            }
        });
    if let Err(e) = body {
        if mode.transaction && !c.is_autocommit() {
            let _ = c.execute_batch("ROLLBACK");
        }
        return Err(e);
    }
    ours(c, &book.after, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrations::layout::script;

    #[test]
    fn objects_name_columns_with_position_and_type() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t(id INTEGER PRIMARY KEY, note TEXT NOT NULL DEFAULT 'x'); CREATE INDEX ix ON t(note); ANALYZE;").unwrap();
        let o = objects(&c).unwrap();
        let k = |kind: &str, name: &str| ObjectKey {
            kind: kind.into(),
            name: name.into(),
        };
        assert_eq!(o[&k("column", "t.note")], "#2 TEXT NOT NULL DEFAULT 'x'");
        assert_eq!(o[&k("column", "t.id")], "#1 INTEGER PRIMARY KEY(1)");
        assert!(o.contains_key(&k("index", "ix")));
        assert!(!o.contains_key(&k("table", "sqlite_stat1")));
    }

    #[test]
    fn a_failing_script_in_a_transaction_leaves_nothing_and_bookkeeping_is_inside() {
        let mut c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE book(v TEXT)").unwrap();
        let book = Bookkeeping {
            inside: vec!["INSERT INTO book VALUES ('1')".into()],
            ..Default::default()
        };
        let tx = ScriptMode {
            transaction: true,
            foreign_keys: false,
        };
        let bad = script(
            "u.sql",
            "CREATE TABLE a(x);\nINSERT INTO missing VALUES (1);".into(),
            1,
            true,
        );
        let e = run_on(&mut c, &bad, tx, &book).unwrap_err();
        assert_eq!(e.line, 2);
        let n: i64 = c
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'a'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 0, "rolled back");
        // Without a transaction the first statement stays.
        let no_tx = ScriptMode {
            transaction: false,
            ..tx
        };
        run_on(&mut c, &bad, no_tx, &book).unwrap_err();
        let n: i64 = c
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'a'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "half applied");
        let good = script("u.sql", "CREATE TABLE b(x);".into(), 1, true);
        run_on(&mut c, &good, tx, &book).unwrap();
        let n: i64 = c
            .query_row("SELECT count(*) FROM book", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }
}
