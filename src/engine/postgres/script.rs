//! The PostgreSQL statement runner: a change script split as psql splits
//! it (`engine::script::split`) and sent one statement at a time on the
//! sandbox role's own connection (`sandbox`), as a migration tool runs it.
//!
//! Library use: `run_script(&mut client, sql, &mode, &mut |done| …)`
//! returns the number of statements run or the [`ScriptError`] of the
//! statement that failed. With `transaction = per-script` the script runs
//! inside `BEGIN … COMMIT` (a savepoint when the caller holds a
//! transaction) and a failure rolls it back; with `none` every statement
//! commits by itself — inside a caller's transaction each statement gets
//! its own savepoint, so a failure undoes only that statement and leaves
//! the transaction usable, as autocommit would.

use crate::engine::script::{Dialect, ScriptError, ScriptMode, Statement, TxMode, split};
use postgres::Client;

/// The savepoint names rollproof uses around a script and its statements.
const SCRIPT_SAVEPOINT: &str = "rollproof_script";
const STATEMENT_SAVEPOINT: &str = "rollproof_statement";

/// The server's message, with the line it points at when it gives a
/// position inside the statement.
fn message(e: &postgres::Error, s: &Statement<'_>) -> String {
    let mut m = crate::engine::postgres::message(e);
    if let Some(postgres::error::ErrorPosition::Original(p)) =
        e.as_db_error().and_then(|d| d.position())
    {
        let before: String = s
            .sql
            .chars()
            .take((*p as usize).saturating_sub(1))
            .collect();
        let line = s.line + before.matches('\n').count();
        m.push_str(&format!(" (at line {line})"));
    }
    m
}

/// Run `sql` on `client` (the sandbox role's connection) as `mode` says.
pub fn run_script(
    client: &mut Client,
    sql: &str,
    mode: &ScriptMode,
    progress: &mut dyn FnMut(usize),
) -> Result<usize, ScriptError> {
    let stmts = split(sql, Dialect::Postgres)?;
    let total = stmts.len();
    if !mode.foreign_keys {
        return Err(ScriptError::outside(
            "foreign_keys = \"off\"",
            total,
            0,
            "PostgreSQL always enforces foreign keys; foreign_keys = \"off\" is for SQLite",
        )
        .denied());
    }
    let (begin, commit, undo) = match (mode.transaction, mode.inside_transaction) {
        (TxMode::PerScript, false) => (
            "BEGIN".to_string(),
            "COMMIT".to_string(),
            "ROLLBACK".to_string(),
        ),
        (TxMode::PerScript, true) => (
            format!("SAVEPOINT {SCRIPT_SAVEPOINT}"),
            format!("RELEASE {SCRIPT_SAVEPOINT}"),
            format!("ROLLBACK TO {SCRIPT_SAVEPOINT}; RELEASE {SCRIPT_SAVEPOINT}"),
        ),
        (TxMode::None, _) => (String::new(), String::new(), String::new()),
    };
    let per_statement = mode.transaction == TxMode::None && mode.inside_transaction;
    if !begin.is_empty() {
        client.batch_execute(&begin).map_err(|e| {
            ScriptError::outside(&begin, total, 0, crate::engine::postgres::message(&e))
        })?;
    }
    let mut failure = None;
    for s in &stmts {
        let run = if per_statement {
            statement_in_savepoint(client, s.sql)
        } else {
            client.batch_execute(s.sql)
        };
        if let Err(e) = run {
            failure = Some(ScriptError::at(s, total, message(&e, s)));
            break;
        }
        progress(s.index);
    }
    match failure {
        Some(mut e) if !begin.is_empty() => {
            let _ = client.batch_execute(&undo);
            e.undone = true;
            Err(e)
        }
        Some(e) => Err(e),
        None if begin.is_empty() => Ok(total),
        None => client.batch_execute(&commit).map(|()| total).map_err(|e| {
            let _ = client.batch_execute(&undo);
            let mut err =
                ScriptError::outside(&commit, total, total, crate::engine::postgres::message(&e));
            err.undone = true;
            err
        }),
    }
}

/// One statement inside its own savepoint: undone alone when it fails.
fn statement_in_savepoint(client: &mut Client, sql: &str) -> Result<(), postgres::Error> {
    client.batch_execute(&format!("SAVEPOINT {STATEMENT_SAVEPOINT}"))?;
    match client.batch_execute(sql) {
        Ok(()) => client.batch_execute(&format!("RELEASE {STATEMENT_SAVEPOINT}")),
        Err(e) => {
            let _ = client.batch_execute(&format!(
                "ROLLBACK TO {STATEMENT_SAVEPOINT}; RELEASE {STATEMENT_SAVEPOINT}"
            ));
            Err(e)
        }
    }
}
