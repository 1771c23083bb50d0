//! The SQLite sandbox for user SQL: what a change script may do to the
//! database it runs on, and nothing outside it.
//!
//! Every connection that writes a rehearsal target is [`harden`]ed:
//! `SQLITE_DBCONFIG_DEFENSIVE` (no `writable_schema` corruption, no writes
//! to shadow tables or `sqlite_dbpage`), `trusted_schema = OFF` (functions
//! with side effects never run from a view or trigger of the schema),
//! ATTACH may neither create nor write files, the FTS3 tokenizer hook is
//! off, and extension loading stays disabled (rollproof never enables it).
//!
//! While a script runs, an authorizer ([`Sandbox`]) sees every action each
//! statement would take when it is prepared, and denies:
//! - `ATTACH` and `DETACH` (the scenario's own source database, or any
//!   other file), except the internal temporary database of a plain
//!   `VACUUM`; this also refuses `VACUUM INTO`, whose internal ATTACH names
//!   the file it would write;
//! - every write outside the target's `main` and `temp` schemas;
//! - `load_extension()` and `fts3_tokenizer()`;
//! - transaction control where it would end rollproof's own transaction
//!   or nest inside the one rollproof wrapped around the script;
//! - every `PRAGMA` outside four lists: [`SETTABLE_PRAGMAS`] (a migration
//!   may read and set them), [`FORMAT_PRAGMAS`] (the persistent settings
//!   the logical state covers: settable, since a rollback that leaves one
//!   changed FAILs the proof; `journal_mode` only to a mode that keeps a
//!   journal), [`READ_ONLY_PRAGMAS`] (read, never set: they loosen checks
//!   or lift the limits and locks rollproof relies on) and
//!   [`INTROSPECTION_PRAGMAS`] (questions about the schema and checks, and
//!   the two maintenance pragmas that stay inside the database);
//! - anything the authorizer does not know (fail closed).
//!
//! A denial makes the statement fail with SQLite's "not authorized"; the
//! runner reports it with the reason recorded here, never skips it.

use rusqlite::Connection;
use rusqlite::config::DbConfig;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use std::sync::{Arc, Mutex, PoisonError};

/// Pragmas a migration may read and set: per-connection behaviour switches
/// that migration guides use (`foreign_keys` around a table rebuild,
/// `defer_foreign_keys`, `legacy_alter_table`, `recursive_triggers`), the
/// two header fields that are part of the logical state and that schema
/// versioning uses (`user_version`, `application_id`), and harmless
/// performance knobs.
pub const SETTABLE_PRAGMAS: &[&str] = &[
    "foreign_keys",
    "defer_foreign_keys",
    "legacy_alter_table",
    "recursive_triggers",
    "user_version",
    "application_id",
    "automatic_index",
    "cache_size",
    "busy_timeout",
    "temp_store",
];

/// The persistent file-format settings a migration may change: they are
/// part of the logical state (`rollproof-logical-v2`, docs/LOGICAL-HASH.md),
/// so a change is measured and a rollback that leaves one behind FAILs.
/// Real migrations switch to WAL or change `page_size`/`auto_vacuum`
/// before a `VACUUM`. `journal_mode` may be set only to [`JOURNAL_MODES`].
pub const FORMAT_PRAGMAS: &[&str] = &["page_size", "auto_vacuum", "encoding", "journal_mode"];

/// The journal modes a script may switch to: WAL and the rollback-journal
/// modes. `OFF` and `MEMORY` drop the on-disk journal that rollproof's
/// transaction rollback and SQLite's crash recovery (the kill fault)
/// depend on.
pub const JOURNAL_MODES: &[&str] = &["wal", "delete", "truncate", "persist"];

/// Pragmas a script may read but not set: setting them corrupts or loosens
/// checks (`schema_version`, `writable_schema`, `trusted_schema`,
/// `cell_size_check`, `ignore_check_constraints`), or lifts limits and
/// locks rollproof relies on (`max_page_count` is the disk-full fault,
/// `locking_mode`, `query_only`, `mmap_size`, `synchronous`,
/// `secure_delete`, and how a WAL is checkpointed and kept).
pub const READ_ONLY_PRAGMAS: &[&str] = &[
    "schema_version",
    "writable_schema",
    "trusted_schema",
    "cell_size_check",
    "ignore_check_constraints",
    "max_page_count",
    "locking_mode",
    "query_only",
    "mmap_size",
    "synchronous",
    "secure_delete",
    "journal_size_limit",
    "wal_autocheckpoint",
    "cache_spill",
    "reverse_unordered_selects",
];

/// Pragmas that ask about the database or run checks (any argument: a
/// table or index name), and the two maintenance pragmas whose writes stay
/// inside it (`optimize` runs ANALYZE, `incremental_vacuum` frees pages).
pub const INTROSPECTION_PRAGMAS: &[&str] = &[
    "table_info",
    "table_xinfo",
    "table_list",
    "index_info",
    "index_xinfo",
    "index_list",
    "foreign_key_list",
    "foreign_key_check",
    "integrity_check",
    "quick_check",
    "collation_list",
    "function_list",
    "module_list",
    "pragma_list",
    "compile_options",
    "database_list",
    "data_version",
    "page_count",
    "freelist_count",
    "optimize",
    "incremental_vacuum",
];

/// Functions no script may call.
const DENIED_FUNCTIONS: &[&str] = &["load_extension", "fts3_tokenizer", "readfile", "writefile"];

/// Turn on SQLite's own protections for a connection that writes a
/// rehearsal target.
pub fn harden(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_ATTACH_CREATE, false)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_ATTACH_WRITE, false)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, false)?;
    Ok(())
}

/// What the runner tells the authorizer about the statement it is running,
/// and what the authorizer tells back.
#[derive(Debug, Default, Clone)]
pub struct State {
    /// The statement is a plain `VACUUM`: its internal temporary database
    /// may be attached, written and detached.
    pub plain_vacuum: bool,
    /// BEGIN/COMMIT/ROLLBACK are allowed (rollproof's own wrapping, or a
    /// script run with transaction = "none" outside rollproof's transaction).
    pub allow_control: bool,
    /// Why the last denied action was denied.
    pub denied: Option<String>,
}

/// The savepoint rollproof wraps a script in inside its own transaction;
/// scripts may not name it.
pub const SAVEPOINT: &str = "rollproof_script";

/// Decide one action: `Ok` to allow, `Err(reason)` to deny.
pub fn decide(action: &AuthAction<'_>, db: Option<&str>, st: &State) -> Result<(), String> {
    use AuthAction as A;
    let write_in = |db: Option<&str>, what: &str| -> Result<(), String> {
        match db {
            None | Some("main" | "temp") => Ok(()),
            Some(d) if st.plain_vacuum && d.starts_with("vacuum_") => Ok(()),
            Some(d) => Err(format!(
                "{what} in schema `{d}`: scripts may write only the target's main and temp schemas"
            )),
        }
    };
    let write = |what: &str| write_in(db, what);
    match *action {
        A::Select | A::Read { .. } | A::Recursive => Ok(()),
        A::Attach { filename } if filename.is_empty() && st.plain_vacuum => Ok(()),
        A::Attach { filename: "" } => {
            Err("ATTACH: scripts may not attach databases (not even a temporary one)".into())
        }
        A::Attach { filename } => Err(format!(
            "ATTACH of `{filename}` (or VACUUM INTO it): scripts may not open or write any other database file"
        )),
        A::Detach { .. } if st.plain_vacuum => Ok(()),
        A::Detach { database_name } => Err(format!(
            "DETACH of `{database_name}`: scripts may not attach or detach databases"
        )),
        A::Insert { table_name }
        | A::Delete { table_name }
        | A::Update { table_name, .. }
        | A::CreateTable { table_name }
        | A::CreateTempTable { table_name }
        | A::DropTable { table_name }
        | A::DropTempTable { table_name }
        | A::Analyze { table_name }
        | A::CreateVtable { table_name, .. }
        | A::DropVtable { table_name, .. } => write(&format!("a write to `{table_name}`")),
        // ALTER TABLE names its schema itself (the context's fifth
        // argument is the column of a DROP COLUMN).
        A::AlterTable {
            database_name,
            table_name,
        } => write_in(
            Some(database_name),
            &format!("ALTER TABLE of `{table_name}`"),
        ),
        A::CreateIndex { index_name, .. }
        | A::CreateTempIndex { index_name, .. }
        | A::DropIndex { index_name, .. }
        | A::DropTempIndex { index_name, .. }
        | A::Reindex { index_name } => write(&format!("a change to index `{index_name}`")),
        A::CreateTrigger { trigger_name, .. }
        | A::CreateTempTrigger { trigger_name, .. }
        | A::DropTrigger { trigger_name, .. }
        | A::DropTempTrigger { trigger_name, .. } => {
            write(&format!("a change to trigger `{trigger_name}`"))
        }
        A::CreateView { view_name }
        | A::CreateTempView { view_name }
        | A::DropView { view_name }
        | A::DropTempView { view_name } => write(&format!("a change to view `{view_name}`")),
        A::Function { function_name } => {
            let f = function_name.to_ascii_lowercase();
            if DENIED_FUNCTIONS.contains(&f.as_str()) {
                Err(format!("{f}(): scripts may not load code or touch files"))
            } else {
                Ok(())
            }
        }
        // A plain VACUUM opens its own transaction internally (and fails
        // by itself inside one).
        A::Transaction { .. } if st.allow_control || st.plain_vacuum => Ok(()),
        A::Transaction { operation } => Err(format!(
            "{operation:?} of a transaction: it would end or nest the transaction rollproof holds around the script"
        )),
        A::Savepoint { savepoint_name, .. }
            if savepoint_name.eq_ignore_ascii_case(SAVEPOINT) && !st.allow_control =>
        {
            Err(format!("savepoint `{savepoint_name}` is rollproof's own"))
        }
        A::Savepoint { .. } => Ok(()),
        A::Pragma {
            pragma_name,
            pragma_value,
        } => pragma(pragma_name, pragma_value, db),
        _ => Err(format!(
            "{action:?}: an action the sandbox does not know is refused"
        )),
    }
}

fn pragma(name: &str, value: Option<&str>, db: Option<&str>) -> Result<(), String> {
    let n = name.to_ascii_lowercase();
    let n = n.as_str();
    if let Some(d) = db.filter(|d| !matches!(*d, "main" | "temp")) {
        return Err(format!(
            "PRAGMA {d}.{n}: scripts may use only the target's schemas"
        ));
    }
    let v = value.map(|v| v.trim_matches(['\'', '"']).to_ascii_lowercase());
    if n == "journal_mode"
        && let Some(v) = v.as_deref().filter(|v| !JOURNAL_MODES.contains(v))
    {
        return Err(format!(
            "PRAGMA journal_mode = {v}: scripts may switch only to {} (OFF and MEMORY drop the journal rollback and crash recovery depend on)",
            JOURNAL_MODES.join(", ")
        ));
    }
    let ok = SETTABLE_PRAGMAS.contains(&n)
        || FORMAT_PRAGMAS.contains(&n)
        || INTROSPECTION_PRAGMAS.contains(&n)
        || (READ_ONLY_PRAGMAS.contains(&n) && value.is_none());
    if ok {
        return Ok(());
    }
    Err(match value {
        Some(v) if READ_ONLY_PRAGMAS.contains(&n) => format!(
            "PRAGMA {n} = {v}: scripts may read this pragma but not set it (docs/SCENARIOS.md lists what a migration may set)"
        ),
        _ => format!(
            "PRAGMA {n}: not a pragma a migration may use (docs/SCENARIOS.md lists the allowed ones)"
        ),
    })
}

/// The authorizer installed on a connection for as long as this lives.
pub struct Sandbox<'c> {
    conn: &'c mut Connection,
    state: Arc<Mutex<State>>,
}

impl<'c> Sandbox<'c> {
    /// Install the authorizer on `conn` (harden it first).
    pub fn install(conn: &'c mut Connection) -> rusqlite::Result<Sandbox<'c>> {
        harden(conn)?;
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        conn.authorizer(Some(move |ctx: AuthContext<'_>| {
            let mut st = shared.lock().unwrap_or_else(PoisonError::into_inner);
            match decide(&ctx.action, ctx.database_name, &st) {
                Ok(()) => Authorization::Allow,
                Err(reason) => {
                    st.denied.get_or_insert(reason);
                    Authorization::Deny
                }
            }
        }))?;
        Ok(Sandbox { conn, state })
    }

    /// The sandboxed connection.
    pub fn conn(&self) -> &Connection {
        self.conn
    }

    /// Change the runner's side of the state.
    pub fn set(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Why the last statement was denied, if it was (and forget it).
    pub fn take_denial(&self) -> Option<String> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .denied
            .take()
    }
}

impl Drop for Sandbox<'_> {
    fn drop(&mut self) {
        // rollproof's own statements after the script run unrestricted.
        type NoHook = fn(AuthContext<'_>) -> Authorization;
        let _ = self.conn.authorizer(None::<NoHook>);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(sql: &str) -> Result<(), String> {
        let mut c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t(x)").unwrap();
        let sb = Sandbox::install(&mut c).unwrap();
        sb.set(|s| s.plain_vacuum = crate::engine::script::is_plain_vacuum(sql));
        let r = sb.conn().execute_batch(sql);
        let denied = sb.take_denial();
        r.map_err(|e| denied.unwrap_or_else(|| e.to_string()))
    }

    #[test]
    fn escapes_are_denied_with_their_reason() {
        let d = tempfile::tempdir().unwrap();
        let other = d.path().join("other.db");
        let o = other.display();
        for (sql, needle) in [
            (format!("ATTACH '{o}' AS x"), "ATTACH of"),
            (format!("VACUUM INTO '{o}'"), "VACUUM INTO"),
            ("ATTACH '' AS x".into(), "not even a temporary"),
            ("SELECT load_extension('x')".into(), "load_extension()"),
            ("PRAGMA writable_schema = ON".into(), "may read this pragma"),
            ("PRAGMA journal_mode = OFF".into(), "may switch only to wal"),
            (
                "PRAGMA journal_mode = 'memory'".into(),
                "may switch only to wal",
            ),
            (
                "PRAGMA wal_autocheckpoint = 0".into(),
                "may read this pragma",
            ),
            (
                "PRAGMA max_page_count = 1000000".into(),
                "may read this pragma",
            ),
            (
                "PRAGMA temp_store_directory = '/tmp'".into(),
                "not a pragma",
            ),
            ("PRAGMA shrink_memory".into(), "not a pragma"),
            ("BEGIN; COMMIT".into(), "of a transaction"),
        ] {
            let e = run(&sql).unwrap_err();
            assert!(e.contains(needle), "{sql}: {e}");
        }
        assert!(!other.exists(), "nothing was written outside");
    }

    #[test]
    fn every_write_outside_main_and_temp_is_denied_even_to_a_database_already_attached() {
        // No script can attach a database (above); this pins the second
        // line of defence: were one attached, nothing could write it.
        let d = tempfile::tempdir().unwrap();
        let other = d.path().join("other.db");
        let mut c = Connection::open_in_memory().unwrap();
        c.execute_batch(&format!(
            "CREATE TABLE t(x); ATTACH '{}' AS aux; CREATE TABLE aux.u(x); INSERT INTO aux.u VALUES (1);",
            other.display()
        ))
        .unwrap();
        let bytes = std::fs::read(&other).unwrap();
        let sb = Sandbox::install(&mut c).unwrap();
        for sql in [
            "INSERT INTO aux.u VALUES (2)",
            "UPDATE aux.u SET x = 3",
            "DELETE FROM aux.u",
            "CREATE TABLE aux.v(a)",
            "DROP TABLE aux.u",
            "CREATE INDEX aux.ux ON u(x)",
            "CREATE VIEW aux.w AS SELECT 1",
            "ALTER TABLE aux.u ADD COLUMN y",
            "PRAGMA aux.user_version = 3",
        ] {
            let r = sb.conn().execute_batch(sql);
            let denied = sb.take_denial();
            assert!(r.is_err(), "{sql} ran");
            let why = denied.unwrap_or_default();
            assert!(why.contains("aux"), "{sql}: {why}");
        }
        // Reading it is not a write.
        let n: i64 = sb
            .conn()
            .query_row("SELECT count(*) FROM aux.u", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        drop(sb);
        drop(c);
        assert_eq!(std::fs::read(&other).unwrap(), bytes, "aux kept its bytes");
    }

    #[test]
    fn what_a_migration_needs_is_allowed() {
        for sql in [
            "PRAGMA foreign_keys = OFF; PRAGMA user_version = 7; PRAGMA journal_mode; PRAGMA table_info(t)",
            "SELECT * FROM pragma_table_info('t'); PRAGMA integrity_check; PRAGMA foreign_key_check",
            "CREATE TABLE u(a INTEGER PRIMARY KEY AUTOINCREMENT, b); INSERT INTO u(b) VALUES (1); CREATE INDEX ub ON u(b)",
            "CREATE TEMP TABLE scratch(a); INSERT INTO scratch VALUES (1); DROP TABLE scratch",
            "CREATE VIEW v AS SELECT x FROM t; CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END",
            "ALTER TABLE t ADD COLUMN y; ALTER TABLE t DROP COLUMN y; ALTER TABLE t RENAME TO t2; ANALYZE; SAVEPOINT a; RELEASE a",
            "VACUUM",
            "PRAGMA page_size = 8192; PRAGMA auto_vacuum = FULL; PRAGMA journal_mode = WAL; PRAGMA journal_mode = delete",
        ] {
            run(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }
}
