//! Change scripts as migration tools run them, for both backends: how a
//! script runs ([`ScriptMode`]: foreign keys, one transaction per script or
//! none), how it is split into statements ([`split`], with a lexer per
//! dialect), which statements control transactions ([`control`]), the
//! checks made before anything runs ([`precheck`]), and how a failure is
//! described ([`ScriptError`]: statement number, line, text, message).
//!
//! The runners live with their engines and share these types:
//! `engine::sqlite::script::run_script(conn, sql, &mode, progress)` and
//! `engine::postgres::script::run_script(client, sql, &mode, progress)`
//! both return the number of statements run, or the [`ScriptError`] of the
//! statement that stopped the script. They run user SQL only inside the
//! backend's sandbox (SQLite: an authorizer; PostgreSQL: an unprivileged
//! per-rehearsal role), which a later `migrations` runner reuses unchanged.
//!
//! Statements are split client-side, as psql and the sqlite3 shell do,
//! instead of sending a script as one batch: only then can an error name
//! the statement and line for every kind of failure (a batch's runtime
//! errors carry no position), can a statement that would end rollproof's
//! own transaction be refused before anything runs, and can a fault stop
//! the script between two known statements. SQLite's split is the state
//! machine of `sqlite3_complete` (CREATE TRIGGER bodies end at `; END;`);
//! PostgreSQL's follows psql's lexer (dollar quotes, nested comments,
//! `E'…'` escapes, parentheses, `BEGIN ATOMIC … END` bodies).

mod lex;

use serde::{Deserialize, Serialize};

/// Which SQL dialect a script is written in (the schema model's).
pub use crate::schema::Dialect;

/// Whether rollproof wraps each script in a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TxMode {
    /// One transaction around the whole script, as diesel, sqlx and
    /// golang-migrate run a migration: a failing statement rolls the whole
    /// script back. Scripts may not carry their own BEGIN/COMMIT.
    #[default]
    PerScript,
    /// No wrapping: every statement commits on its own (a script may carry
    /// its own BEGIN/COMMIT), so a failure leaves the statements before it
    /// applied — a half-applied migration.
    None,
}

impl TxMode {
    /// Name as written in scenarios and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            TxMode::PerScript => "per-script",
            TxMode::None => "none",
        }
    }
}

/// How a script runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptMode {
    /// SQLite `PRAGMA foreign_keys` for the script's connection (PostgreSQL
    /// always enforces foreign keys).
    pub foreign_keys: bool,
    /// Transaction wrapping.
    pub transaction: TxMode,
    /// The script runs inside a transaction rollproof holds open (rollback
    /// method `transaction`): nothing in it may end that transaction, and
    /// rollproof's own wrapping becomes a savepoint.
    pub inside_transaction: bool,
}

/// One statement of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    /// 1-based position among the script's statements.
    pub index: usize,
    /// 1-based line of its first token.
    pub line: usize,
    /// Byte offset of its first token in the script.
    pub offset: usize,
    /// Its text, from the first token through the terminating `;` (when
    /// there is one); comments and whitespace before it are not included.
    pub sql: &'a str,
}

/// Split a script into statements. Comments and empty statements (`;;`)
/// are dropped; a last statement without its `;` is still a statement. A
/// string, quoted identifier or comment left open is an error (statement
/// 0, with its line): nothing of such a script runs.
pub fn split(script: &str, dialect: Dialect) -> Result<Vec<Statement<'_>>, ScriptError> {
    let spans = lex::spans(script, dialect).map_err(|e| {
        let mut err = ScriptError::outside("(the script)", 0, 0, e.to_string()).denied();
        err.line = e.line;
        err
    })?;
    let mut line = 1usize;
    let mut counted = 0usize;
    Ok(spans
        .into_iter()
        .enumerate()
        .map(|(i, (start, end))| {
            line += script.as_bytes()[counted..start]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            counted = start;
            Statement {
                index: i + 1,
                line,
                offset: start,
                sql: &script[start..end],
            }
        })
        .collect())
}

/// A statement that starts, ends or marks a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// BEGIN, START TRANSACTION.
    Begin,
    /// COMMIT, END, ROLLBACK, ABORT, and PostgreSQL's two-phase commands.
    End,
    /// SAVEPOINT, RELEASE, ROLLBACK TO: nested, allowed inside a transaction.
    Savepoint,
}

/// The transaction control a statement performs, if any (by its leading
/// keywords; `BEGIN ATOMIC` bodies and `BEGIN` inside PL/pgSQL `DO` blocks
/// are inside other statements and never seen here).
pub fn control(stmt: &str, dialect: Dialect) -> Option<Control> {
    let words = lex::leading_words(stmt, dialect, 3);
    let w = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    match (w(0), w(1)) {
        ("begin", _) => Some(Control::Begin),
        ("start", "transaction") if dialect == Dialect::Postgres => Some(Control::Begin),
        ("savepoint", _) | ("release", _) => Some(Control::Savepoint),
        ("rollback", "to") => Some(Control::Savepoint),
        ("rollback", "transaction" | "work") if w(2) == "to" => Some(Control::Savepoint),
        ("commit" | "end" | "rollback", _) => Some(Control::End),
        ("abort", _) | ("prepare", "transaction") if dialect == Dialect::Postgres => {
            Some(Control::End)
        }
        _ => None,
    }
}

/// True when `stmt` is a SQLite `VACUUM` without `INTO` (it rewrites the
/// database through an internal temporary database, which the sandbox lets
/// it attach).
pub fn is_plain_vacuum(stmt: &str) -> bool {
    let words = lex::words(stmt, Dialect::Sqlite);
    words.first().is_some_and(|w| w == "vacuum") && !words.iter().any(|w| w == "into")
}

/// Why a script stopped: the statement, where it is, and what happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{}", self.describe())]
pub struct ScriptError {
    /// 1-based statement number; 0 when what failed was not one of the
    /// script's statements but rollproof's wrapping around them: the COMMIT
    /// (or RELEASE) ending the script's transaction, e.g. on a deferred
    /// foreign-key violation, or setting the script's mode.
    pub statement_index: usize,
    /// 1-based line of the statement's first token in the script (0 with
    /// statement 0).
    pub line: usize,
    /// The statement's text (shortened to [`SQL_SHOWN`] characters).
    pub sql: String,
    /// The database's error message, or the sandbox's reason.
    pub message: String,
    /// Refused by the sandbox, or before anything ran, rather than failed
    /// in the database.
    pub denied: bool,
    /// Statements that completed before it.
    pub statements_done: usize,
    /// Statements in the script.
    pub statements_total: usize,
    /// What became of the script's earlier statements: rolled back with the
    /// script's transaction, or left applied.
    pub undone: bool,
}

/// Characters of a statement's text kept in a [`ScriptError`].
pub const SQL_SHOWN: usize = 400;

/// A statement's text shortened for messages and reports.
pub fn shown(sql: &str) -> String {
    let one: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    match one.char_indices().nth(SQL_SHOWN) {
        Some((i, _)) => format!("{}…", &one[..i]),
        None => one,
    }
}

impl ScriptError {
    /// An error at `stmt` of a script of `total` statements.
    pub fn at(stmt: &Statement<'_>, total: usize, message: impl Into<String>) -> ScriptError {
        ScriptError {
            statement_index: stmt.index,
            line: stmt.line,
            sql: shown(stmt.sql),
            message: message.into(),
            denied: false,
            statements_done: stmt.index - 1,
            statements_total: total,
            undone: false,
        }
    }

    /// An error outside the script's statements (statement 0): setting up
    /// or ending the transaction rollproof wraps around the script.
    pub fn outside(
        what: &str,
        total: usize,
        done: usize,
        message: impl Into<String>,
    ) -> ScriptError {
        ScriptError {
            statement_index: 0,
            line: 0,
            sql: what.to_string(),
            message: message.into(),
            denied: false,
            statements_done: done,
            statements_total: total,
            undone: false,
        }
    }

    /// Mark as refused by the sandbox.
    pub fn denied(mut self) -> ScriptError {
        self.denied = true;
        self
    }

    fn describe(&self) -> String {
        let what = if self.statement_index == 0 {
            format!(
                "rollproof's `{}` around the script's {} statement(s), after {} ran,",
                self.sql, self.statements_total, self.statements_done
            )
        } else {
            format!(
                "statement {} of {} (line {}) `{}`",
                self.statement_index, self.statements_total, self.line, self.sql
            )
        };
        let how = if self.denied { "was refused" } else { "failed" };
        let left = match (self.undone, self.statements_done) {
            (_, 0) => String::new(),
            (true, n) => format!(
                "; the {n} statement(s) before it were rolled back with the script's transaction"
            ),
            (false, n) => format!("; the {n} statement(s) before it stay applied"),
        };
        format!("{what} {how}: {}{left}", self.message)
    }
}

/// Check a script before anything runs: it has at least one statement, and
/// no statement would end a transaction rollproof holds (rollback method
/// `transaction`) or nest one inside the script's own (`per-script`).
/// Returns the statement count.
pub fn precheck(script: &str, dialect: Dialect, mode: &ScriptMode) -> Result<usize, ScriptError> {
    let stmts = split(script, dialect)?;
    if stmts.is_empty() {
        return Err(ScriptError::outside(
            "(nothing)",
            0,
            0,
            "the script has no statements (a no-op apply can never pass)",
        )
        .denied());
    }
    let total = stmts.len();
    for s in &stmts {
        let why = match control(s.sql, dialect) {
            Some(Control::Begin | Control::End) if mode.inside_transaction => {
                "it would end or nest the transaction that rollback.method = \"transaction\" rolls back; remove it, or rehearse with rollback.method = \"restore\""
            }
            Some(Control::Begin | Control::End) if mode.transaction == TxMode::PerScript => {
                "the script controls its own transaction, but [scripts] transaction = \"per-script\" already wraps it in one; set transaction = \"none\" to run it as written"
            }
            _ => continue,
        };
        return Err(ScriptError::at(s, total, why).denied());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(script: &str, d: Dialect) -> Vec<String> {
        split(script, d)
            .unwrap()
            .into_iter()
            .map(|s| s.sql.to_string())
            .collect()
    }

    #[test]
    fn sqlite_split_keeps_trigger_bodies_strings_and_comments_together() {
        let s = "-- lead comment\nCREATE TABLE t(a TEXT DEFAULT ';');\n\n/* block; */ INSERT INTO t VALUES ('x;y'), (\"q;\");;\n\
                 CREATE TEMP TRIGGER tr AFTER INSERT ON t BEGIN\n  UPDATE t SET a = CASE WHEN a = 'z' THEN 'y' ELSE a END;\n  DELETE FROM t WHERE a = [w;];\nEND;\nSELECT 1";
        let v = split(s, Dialect::Sqlite).unwrap();
        assert_eq!(v.len(), 4, "{v:#?}");
        assert_eq!(v[0].sql, "CREATE TABLE t(a TEXT DEFAULT ';');");
        assert_eq!((v[0].index, v[0].line), (1, 2));
        assert!(v[1].sql.starts_with("INSERT") && v[1].sql.ends_with("(\"q;\");"));
        assert_eq!(v[1].line, 4);
        assert!(v[2].sql.starts_with("CREATE TEMP TRIGGER") && v[2].sql.ends_with("END;"));
        assert_eq!((v[2].index, v[2].line), (3, 5));
        assert_eq!((v[3].sql, v[3].line), ("SELECT 1", 9));
    }

    #[test]
    fn sqlite_split_agrees_with_sqlite3_complete() {
        // Every prefix that ends a statement by our split is complete to
        // SQLite, and no shorter prefix ending in `;` is.
        let s = "CREATE TABLE a(x);CREATE TRIGGER t1 BEFORE DELETE ON a BEGIN SELECT 1; SELECT 'END;'; END ; EXPLAIN CREATE TRIGGER t2 AFTER UPDATE ON a BEGIN SELECT 2; END;INSERT INTO a VALUES(1);";
        let ends: Vec<usize> = split(s, Dialect::Sqlite)
            .unwrap()
            .iter()
            .map(|st| st.offset + st.sql.len())
            .collect();
        let mut start = 0;
        for (i, _) in s.match_indices(';') {
            let chunk = std::ffi::CString::new(&s[start..=i]).unwrap();
            // SAFETY: sqlite3_complete reads a NUL-terminated string.
            let complete = unsafe { rusqlite::ffi::sqlite3_complete(chunk.as_ptr()) } != 0;
            assert_eq!(
                complete,
                ends.contains(&(i + 1)),
                "at {i}: {}",
                &s[start..=i]
            );
            if complete {
                start = i + 1;
            }
        }
    }

    #[test]
    fn postgres_split_understands_dollar_quotes_nesting_and_atomic_bodies() {
        let s = "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END $body$;\n\
                 /* outer /* inner; */ still; */ SELECT E'it\\'s;', 'a''b;', \"c;\", $$x;$$, a$b FROM t WHERE x = $1;\n\
                 CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (CASE WHEN true THEN 1 END); DELETE FROM t; END;\n\
                 DO $$ BEGIN PERFORM 1; END $$; CREATE TABLE u (a int CHECK (a > 0));\nSELECT (1;\n2)";
        let v = texts(s, Dialect::Postgres);
        assert_eq!(v.len(), 6, "{v:#?}");
        assert!(v[0].ends_with("$body$;"));
        assert!(v[1].starts_with("SELECT E'it") && v[1].ends_with("$1;"));
        assert!(v[2].starts_with("CREATE OR REPLACE PROCEDURE") && v[2].ends_with("END;"));
        assert_eq!(v[3], "DO $$ BEGIN PERFORM 1; END $$;");
        assert_eq!(v[5], "SELECT (1;\n2)");
        assert_eq!(split(s, Dialect::Postgres).unwrap()[1].line, 2);
    }

    #[test]
    fn transaction_control_is_recognised_by_its_leading_keywords() {
        use Control::*;
        let sq = |s| control(s, Dialect::Sqlite);
        let pg = |s| control(s, Dialect::Postgres);
        assert_eq!(sq("  -- c\n begin immediate;"), Some(Begin));
        assert_eq!(sq("COMMIT TRANSACTION;"), Some(End));
        assert_eq!(sq("END;"), Some(End));
        assert_eq!(sq("ROLLBACK;"), Some(End));
        assert_eq!(sq("ROLLBACK TO sp;"), Some(Savepoint));
        assert_eq!(sq("rollback transaction to savepoint sp;"), Some(Savepoint));
        assert_eq!(sq("SAVEPOINT a;"), Some(Savepoint));
        assert_eq!(
            sq("CREATE TRIGGER x AFTER INSERT ON t BEGIN SELECT 1; END;"),
            None
        );
        assert_eq!(sq("\"begin\";"), None);
        assert_eq!(
            pg("START TRANSACTION ISOLATION LEVEL SERIALIZABLE;"),
            Some(Begin)
        );
        assert_eq!(pg("abort;"), Some(End));
        assert_eq!(pg("PREPARE TRANSACTION 'x';"), Some(End));
        assert_eq!(pg("DO $$ BEGIN COMMIT; END $$;"), None);
        assert!(is_plain_vacuum("VACUUM;") && is_plain_vacuum("vacuum main"));
        assert!(!is_plain_vacuum("VACUUM INTO '/tmp/x.db';"));
        assert!(!is_plain_vacuum("SELECT 'vacuum';"));
    }

    #[test]
    fn precheck_refuses_what_would_break_the_transaction_before_anything_runs() {
        let per = ScriptMode {
            foreign_keys: true,
            transaction: TxMode::PerScript,
            inside_transaction: false,
        };
        let own = "CREATE TABLE a(x);\nBEGIN;\nINSERT INTO a VALUES (1);\nCOMMIT;\n";
        let e = precheck(own, Dialect::Sqlite, &per).unwrap_err();
        assert_eq!((e.statement_index, e.line, e.denied), (2, 2, true));
        assert!(e.to_string().contains("transaction = \"none\""), "{e}");
        let none = ScriptMode {
            transaction: TxMode::None,
            ..per
        };
        assert_eq!(precheck(own, Dialect::Sqlite, &none), Ok(4));
        let inside = ScriptMode {
            inside_transaction: true,
            ..none
        };
        let e = precheck(own, Dialect::Sqlite, &inside).unwrap_err();
        assert!(
            e.message.contains("rollback.method = \"transaction\""),
            "{e}"
        );
        assert_eq!(
            precheck("SAVEPOINT s; RELEASE s;", Dialect::Sqlite, &inside),
            Ok(2)
        );
        let e = precheck("-- nothing\n;;", Dialect::Postgres, &per).unwrap_err();
        assert!(e.message.contains("no statements"), "{e}");
        let e = precheck("SELECT 1;\nSELECT 'open;\n", Dialect::Sqlite, &per).unwrap_err();
        assert_eq!((e.line, e.denied), (2, true));
        assert!(e.message.contains("unterminated string literal"), "{e}");
    }
}
