//! The SQLite statement runner: a change script run statement by statement
//! in the sandbox (`sandbox`), as a migration tool runs it
//! ([`crate::engine::script::ScriptMode`]).
//!
//! Library use (the `migrations` runner and the rehearsal backend):
//! `run_script(&mut conn, sql, &mode, &mut |done| …)` returns the number of
//! statements run, or the [`ScriptError`] naming the statement (1-based
//! number, line, text) that failed or was denied and what became of the
//! statements before it. `foreign_keys` is set on the connection (outside a
//! transaction; inside one it must already have the requested value); with
//! `transaction = per-script` the script runs inside `BEGIN … COMMIT` (a
//! savepoint when the caller holds a transaction) and a failure rolls it
//! back; with `none` every statement commits by itself. A statement that
//! would end the caller's transaction stops the script.

use super::sandbox::{SAVEPOINT, Sandbox};
use crate::engine::script::{
    Dialect, ScriptError, ScriptMode, Statement, TxMode, is_plain_vacuum, split,
};
use rusqlite::Connection;

/// Run one statement to completion (reading and discarding any rows).
fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.raw_query();
    while rows.next()?.is_some() {}
    Ok(())
}

/// The database's message without rusqlite's decoration.
fn message(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqlInputError { msg, .. } => msg.clone(),
        rusqlite::Error::SqliteFailure(_, Some(m)) => m.clone(),
        other => other.to_string(),
    }
}

/// How rollproof wraps the script: the statements that open, end and undo
/// its transaction.
fn wrapping(mode: &ScriptMode, outer: bool) -> Option<[String; 3]> {
    match (mode.transaction, outer) {
        (TxMode::None, _) => None,
        (TxMode::PerScript, false) => Some(["BEGIN".into(), "COMMIT".into(), "ROLLBACK".into()]),
        (TxMode::PerScript, true) => Some([
            format!("SAVEPOINT {SAVEPOINT}"),
            format!("RELEASE {SAVEPOINT}"),
            format!("ROLLBACK TO {SAVEPOINT}; RELEASE {SAVEPOINT}"),
        ]),
    }
}

/// Set `foreign_keys` as the mode asks (see the module header).
fn foreign_keys(conn: &Connection, on: bool, total: usize) -> Result<(), ScriptError> {
    let err =
        |e: rusqlite::Error| ScriptError::outside("PRAGMA foreign_keys", total, 0, message(&e));
    if conn.is_autocommit() {
        conn.pragma_update(None, "foreign_keys", on).map_err(err)?;
    }
    let now: bool = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .map_err(err)?;
    if now != on {
        return Err(ScriptError::outside(
            "PRAGMA foreign_keys",
            total,
            0,
            format!(
                "foreign keys are {} on a connection inside an open transaction, where they cannot change; the script asks for {}",
                if now { "on" } else { "off" },
                if on { "on" } else { "off" }
            ),
        ));
    }
    Ok(())
}

/// Run `sql` on `conn` in the sandbox as `mode` says; `progress` gets the
/// number of statements completed after each one.
pub fn run_script(
    conn: &mut Connection,
    sql: &str,
    mode: &ScriptMode,
    progress: &mut dyn FnMut(usize),
) -> Result<usize, ScriptError> {
    let stmts = split(sql, Dialect::Sqlite)?;
    let total = stmts.len();
    foreign_keys(conn, mode.foreign_keys, total)?;
    let outer = !conn.is_autocommit();
    let wrap = wrapping(mode, outer);
    let sb = Sandbox::install(conn)
        .map_err(|e| ScriptError::outside("installing the sandbox", total, 0, message(&e)))?;
    if let Some([begin, ..]) = &wrap {
        sb.set(|s| s.allow_control = true);
        sb.conn()
            .execute_batch(begin)
            .map_err(|e| ScriptError::outside(begin, total, 0, message(&e)))?;
    }
    // The script's own BEGIN/COMMIT only where nothing of ours is open.
    sb.set(|s| s.allow_control = wrap.is_none() && !outer);
    let mut failure = None;
    for s in &stmts {
        if let Err(e) = statement(&sb, s, total, outer) {
            failure = Some(e);
            break;
        }
        progress(s.index);
    }
    sb.set(|s| s.allow_control = true);
    let Some([_, commit, undo]) = &wrap else {
        return failure.map_or(Ok(total), Err);
    };
    let in_tx = !sb.conn().is_autocommit();
    match failure {
        Some(mut e) => {
            // SQLite may already have rolled the transaction back (an I/O
            // error, ON CONFLICT ROLLBACK): then there is nothing to undo.
            if in_tx {
                let _ = sb.conn().execute_batch(undo);
            }
            e.undone = true;
            Err(e)
        }
        None => match sb.conn().execute_batch(commit) {
            Ok(()) => Ok(total),
            Err(e) => {
                let _ = sb.conn().execute_batch(undo);
                let mut err = ScriptError::outside(commit, total, total, message(&e));
                err.undone = true;
                Err(err)
            }
        },
    }
}

/// Run one statement of the script in the sandbox.
fn statement(
    sb: &Sandbox<'_>,
    s: &Statement<'_>,
    total: usize,
    outer: bool,
) -> Result<(), ScriptError> {
    sb.set(|st| {
        st.plain_vacuum = is_plain_vacuum(s.sql);
        st.denied = None;
    });
    let run = exec(sb.conn(), s.sql);
    sb.set(|st| st.plain_vacuum = false);
    if let Err(e) = run {
        return Err(match sb.take_denial() {
            Some(reason) => {
                ScriptError::at(s, total, format!("refused by the sandbox: {reason}")).denied()
            }
            None => ScriptError::at(s, total, message(&e)),
        });
    }
    if outer && sb.conn().is_autocommit() {
        return Err(ScriptError::at(
            s,
            total,
            "the statement ended the transaction rollproof holds open for the rollback (e.g. ON CONFLICT ROLLBACK)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE p(id INTEGER PRIMARY KEY); CREATE TABLE c(id INTEGER PRIMARY KEY, p INTEGER REFERENCES p(id)); INSERT INTO p VALUES (1);")
            .unwrap();
        c
    }

    fn mode(transaction: TxMode, foreign_keys: bool) -> ScriptMode {
        ScriptMode {
            foreign_keys,
            transaction,
            inside_transaction: false,
        }
    }

    fn rows(c: &Connection, t: &str) -> i64 {
        c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
            .unwrap()
    }

    const HALF: &str = "INSERT INTO c VALUES (1, 1);\n-- the second insert breaks the key\nINSERT INTO c VALUES (2, 99);\nINSERT INTO c VALUES (3, 1);\n";

    #[test]
    fn a_failing_statement_is_named_and_per_script_rolls_the_rest_back() {
        let mut c = db();
        let mut seen = Vec::new();
        let e = run_script(&mut c, HALF, &mode(TxMode::PerScript, true), &mut |n| {
            seen.push(n)
        })
        .unwrap_err();
        assert_eq!(
            (
                e.statement_index,
                e.line,
                e.statements_done,
                e.statements_total
            ),
            (2, 3, 1, 3)
        );
        assert!(e.message.contains("FOREIGN KEY"), "{e}");
        assert!(e.undone && !e.denied);
        assert_eq!(seen, [1]);
        assert_eq!(rows(&c, "c"), 0);
        assert!(c.is_autocommit());
    }

    #[test]
    fn without_a_transaction_the_statements_before_stay_applied() {
        let mut c = db();
        let e = run_script(&mut c, HALF, &mode(TxMode::None, true), &mut |_| {}).unwrap_err();
        assert!(!e.undone);
        assert!(e.to_string().contains("stay applied"), "{e}");
        assert_eq!(rows(&c, "c"), 1);
        // Foreign keys off: the same script runs to the end.
        let mut c = db();
        assert_eq!(
            run_script(&mut c, HALF, &mode(TxMode::None, false), &mut |_| {}),
            Ok(3)
        );
        assert_eq!(rows(&c, "c"), 3);
    }

    #[test]
    fn inside_a_held_transaction_the_script_is_a_savepoint_and_keeps_it_open() {
        let mut c = db();
        c.execute_batch("BEGIN IMMEDIATE").unwrap();
        let e = run_script(&mut c, HALF, &mode(TxMode::PerScript, true), &mut |_| {}).unwrap_err();
        assert!(e.undone);
        assert!(!c.is_autocommit(), "rollproof's transaction is still open");
        assert_eq!(rows(&c, "c"), 0);
        let e = run_script(
            &mut c,
            "INSERT INTO c VALUES (5, 1);\nCOMMIT;\n",
            &mode(TxMode::None, true),
            &mut |_| {},
        )
        .unwrap_err();
        assert!(e.denied && e.statement_index == 2, "{e}");
        assert!(!c.is_autocommit());
        let e = run_script(
            &mut c,
            "INSERT OR ROLLBACK INTO p VALUES (1);",
            &mode(TxMode::None, true),
            &mut |_| {},
        )
        .unwrap_err();
        assert!(
            e.message.contains("UNIQUE") || e.message.contains("ended the transaction"),
            "{e}"
        );
        // Asking for other foreign-key settings than the open transaction has
        // is refused instead of silently ignored.
        if !c.is_autocommit() {
            let e = run_script(&mut c, "SELECT 1;", &mode(TxMode::None, false), &mut |_| {})
                .unwrap_err();
            assert!(e.message.contains("cannot change"), "{e}");
        }
    }

    #[test]
    fn deferred_violations_fail_at_the_commit_rollproof_runs() {
        let mut c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE p(id INTEGER PRIMARY KEY); CREATE TABLE c(id INTEGER PRIMARY KEY, p INTEGER REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED);")
            .unwrap();
        let e = run_script(
            &mut c,
            "INSERT INTO c VALUES (1, 7);",
            &mode(TxMode::PerScript, true),
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(
            (e.statement_index, e.statements_done, e.sql.as_str()),
            (0, 1, "COMMIT")
        );
        assert!(e.undone);
        assert_eq!(rows(&c, "c"), 0);
    }

    #[test]
    fn a_script_with_its_own_transaction_runs_as_written_without_wrapping() {
        let mut c = db();
        let s = "BEGIN;\nINSERT INTO c VALUES (1, 1);\nCOMMIT;\nVACUUM;\n";
        assert_eq!(
            run_script(&mut c, s, &mode(TxMode::None, true), &mut |_| {}),
            Ok(4)
        );
        assert_eq!(rows(&c, "c"), 1);
    }
}
