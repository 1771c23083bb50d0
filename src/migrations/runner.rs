//! The statement runner boundary: one function per backend that runs a
//! user script's statements one by one (split by the shared lexer,
//! `schema::tokens::statements`) and names the statement and file line
//! that failed. Transactions and bookkeeping are the caller's (the tool's)
//! business; this only runs statements.
//!
//! These two functions are the only place user SQL reaches a database in
//! the migrations rehearsal. On SQLite the statements run under the
//! rehearsal's sandbox (issue #12 §3, docs/GUARD.md); on PostgreSQL on the
//! sandbox role's own connection (`engine::postgres::sandbox`, the role
//! `rehearse` uses), never on rollproof's.

use super::engine::{ScriptError, short_sql};
use crate::schema::Dialect;
use crate::schema::tokens::statements;

/// Split `sql` (whose first line is line `first_line` of its file).
fn split(
    sql: &str,
    dialect: Dialect,
    first_line: usize,
) -> Result<Vec<(usize, usize, String)>, ScriptError> {
    let st = statements(sql, dialect).map_err(|e| ScriptError {
        statement_index: 0,
        line: e.line + first_line - 1,
        sql: String::new(),
        message: format!("cannot split the script: unterminated {}", e.what),
    })?;
    Ok(st
        .into_iter()
        .map(|s| (s.index, s.line + first_line - 1, s.text.to_string()))
        .collect())
}

/// SQLite's message without the statement text rusqlite appends to
/// parse errors (the statement is reported on its own).
pub fn sqlite_message(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqlInputError { msg, .. } => msg.clone(),
        other => other.to_string(),
    }
}

/// Run every statement of `sql` on a SQLite connection, under the
/// rehearsal's sandbox (`engine::sqlite::sandbox`: defensive mode,
/// `trusted_schema=OFF`, an authorizer that refuses ATTACH, VACUUM INTO,
/// `load_extension`, writes outside main/temp and the pragmas a migration
/// has no business with). `own_transactions`: the script may run its own
/// BEGIN/COMMIT (the tool does not wrap it). A refused statement fails
/// like any other, its message saying the sandbox refused it and why.
pub fn run_sqlite(
    conn: &mut rusqlite::Connection,
    sql: &str,
    first_line: usize,
    own_transactions: bool,
) -> Result<(), ScriptError> {
    use crate::engine::sqlite::sandbox::Sandbox;
    let parts = split(sql, Dialect::Sqlite, first_line)?;
    let sb = Sandbox::install(conn).map_err(|e| ScriptError {
        statement_index: 0,
        line: 0,
        sql: String::new(),
        message: format!("cannot install the sandbox: {e}"),
    })?;
    sb.set(|st| st.allow_control = own_transactions);
    for (index, line, text) in parts {
        sb.set(|st| {
            st.plain_vacuum = crate::engine::script::is_plain_vacuum(&text);
            st.denied = None;
        });
        sb.conn().execute_batch(&text).map_err(|e| ScriptError {
            statement_index: index,
            line,
            sql: short_sql(&text),
            message: match sb.take_denial() {
                Some(reason) => format!("refused by the sandbox: {reason}"),
                None => sqlite_message(&e),
            },
        })?;
    }
    Ok(())
}

/// Run every statement of `sql` on a PostgreSQL connection logged in as
/// the sandbox role `role` (each statement its own simple-query message,
/// so the caller decides about transactions). A statement the server
/// refuses for want of a privilege (`insufficient_privilege`: `CREATE
/// ROLE`, `COPY … TO PROGRAM`, `DROP DATABASE`, another owner's object) is
/// named as refused by the sandbox, with the statement, as the SQLite
/// sandbox names its refusals.
pub fn run_postgres(
    client: &mut postgres::Client,
    sql: &str,
    first_line: usize,
    role: &str,
) -> Result<(), ScriptError> {
    for (index, line, text) in split(sql, Dialect::Postgres, first_line)? {
        client.batch_execute(&text).map_err(|e| {
            let message = crate::engine::postgres::message(&e);
            let sql = short_sql(&text);
            let denied = e.code() == Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE);
            ScriptError {
                statement_index: index,
                line,
                message: if denied {
                    refused_words(&sql, role, &message)
                } else {
                    message
                },
                sql,
            }
        })?;
    }
    Ok(())
}

/// `refused by the sandbox: `STATEMENT` runs as role R (…): REASON`.
fn refused_words(sql: &str, role: &str, reason: &str) -> String {
    let stmt: String = sql.chars().take(80).collect();
    let more = if sql.chars().count() > 80 { "…" } else { "" };
    format!(
        "refused by the sandbox: `{stmt}{more}` runs as role {role} (NOSUPERUSER NOCREATEDB NOCREATEROLE, member of no role, owning only this database's objects): {reason}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failing_statement_is_named_by_its_file_line() {
        let mut c = rusqlite::Connection::open_in_memory().unwrap();
        let sql = "CREATE TABLE t(x);\n\nINSERT INTO t VALUES (1);\nINSERT INTO nope VALUES (2);\n";
        let e = run_sqlite(&mut c, sql, 10, false).unwrap_err();
        assert_eq!((e.statement_index, e.line), (3, 13));
        assert_eq!(e.sql, "INSERT INTO nope VALUES (2);");
        assert!(e.message.contains("no such table"), "{}", e.message);
        let n: i64 = c
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1, "statements before the failing one ran");
        let e = run_sqlite(&mut c, "SELECT 1;\nSELECT 'open", 1, false).unwrap_err();
        assert_eq!((e.statement_index, e.line), (0, 2));
    }
}
