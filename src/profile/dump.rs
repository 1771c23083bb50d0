//! The schema of a PostgreSQL schema-only dump (`pg_dump --schema-only`,
//! plain SQL or custom format), read by restoring it into a private
//! throwaway cluster and reading that cluster's catalog.
//!
//! Why restore rather than parse: PostgreSQL's DDL is large (types,
//! domains, functions, expression indexes, `ALTER TABLE ONLY … ADD
//! CONSTRAINT`, dollar quoting, …) and the server is its only exact
//! parser. Restored, a dump reads through the same catalog reader as a live
//! database, so a dump and the database it came from profile equal.
//!
//! A dump is untrusted input, so it never reaches a shell or a server that
//! matters: the cluster is our own (`engine::postgres::cluster`, a private
//! folder, loopback only, gone when we are), the statements run as a
//! non-superuser role (no C functions, no untrusted languages, no `COPY
//! PROGRAM`), and only the statements a schema-only dump holds are run.
//! psql meta-commands are refused, except pg_dump's own `\restrict` /
//! `\unrestrict` lines (pg_dump ≥ 15.14), which are dropped. Data (`COPY`,
//! `INSERT`), `DO` blocks and other statements are refused with their line
//! number; ownership, privileges and comments (not part of the model) are
//! skipped.

use crate::engine::postgres::cluster::{Cluster, find_program};
use crate::schema::Dialect;
use crate::schema::postgres::Read;
use crate::schema::tokens::{Kind, statements, tokenize};
use std::path::{Path, PathBuf};

/// Largest dump read: schema-only dumps are small; a bigger file is
/// almost certainly a data dump.
pub const MAX_BYTES: u64 = 256 * 1024 * 1024;
/// Role the dump's statements run as inside the throwaway cluster.
const RESTORE_ROLE: &str = "rollproof_restore";
/// Database the dump is restored into.
const RESTORE_DB: &str = "rollproof_dump";

/// Why a dump could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// The file could not be read.
    #[error("cannot read dump {path}: {message}")]
    Read { path: PathBuf, message: String },
    /// The file holds something a schema-only dump does not.
    #[error("dump {path}, line {line}: {problem}")]
    Refused {
        path: PathBuf,
        line: usize,
        problem: String,
    },
    /// The throwaway cluster or `pg_restore` failed.
    #[error("cannot restore dump {path}: {message}")]
    Restore { path: PathBuf, message: String },
    /// A statement of the dump failed in the throwaway database.
    #[error("dump {path}, line {line}: PostgreSQL refused the statement: {message}")]
    Statement {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// A dump's schema and what was noted while reading it.
pub struct DumpRead {
    /// The schema, as the catalog reader sees it.
    pub schema: crate::schema::Schema,
    /// Objects the model does not carry.
    pub unmodelled: Vec<crate::schema::postgres::Unmodelled>,
    /// Notes for the user (skipped statements).
    pub notes: Vec<String>,
}

/// Custom-format dumps start with this magic.
const CUSTOM_MAGIC: &[u8] = b"PGDMP";

/// The SQL text of a dump: a plain dump as it is, a custom one through
/// `pg_restore --schema-only -f -` (which writes SQL and connects nowhere).
fn sql_text(path: &Path) -> Result<String, DumpError> {
    let read = |message: String| DumpError::Read {
        path: path.to_path_buf(),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| read(e.to_string()))?;
    if !meta.is_file() {
        return Err(read("not a regular file".into()));
    }
    if meta.len() > MAX_BYTES {
        return Err(read(format!(
            "{} bytes is more than the {MAX_BYTES}-byte limit for a schema-only dump (is it a data dump?)",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| read(e.to_string()))?;
    if !bytes.starts_with(CUSTOM_MAGIC) {
        return String::from_utf8(bytes)
            .map_err(|_| read("not UTF-8 text and not a custom-format dump".into()));
    }
    let restore = |message: String| DumpError::Restore {
        path: path.to_path_buf(),
        message,
    };
    let prog = find_program("pg_restore").map_err(|e| restore(e.to_string()))?;
    let out = std::process::Command::new(prog)
        .args(["--schema-only", "--no-owner", "--no-privileges", "-f", "-"])
        .arg(path)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| restore(format!("running pg_restore: {e}")))?;
    if !out.status.success() {
        return Err(restore(format!(
            "pg_restore: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    String::from_utf8(out.stdout).map_err(|_| restore("pg_restore wrote non-UTF-8 text".into()))
}

/// Blank out pg_dump's `\restrict` / `\unrestrict` lines; any other psql
/// meta-command (a backslash starting a line outside literals) is refused.
fn drop_meta_commands(path: &Path, sql: &str) -> Result<String, DumpError> {
    let toks = tokenize(sql, Dialect::Postgres).map_err(|e| DumpError::Refused {
        path: path.to_path_buf(),
        line: e.line,
        problem: e.to_string(),
    })?;
    let mut out = sql.to_string();
    for t in toks
        .iter()
        .filter(|t| t.kind == Kind::Punct && t.text == "\\")
    {
        let line_start = sql[..t.start].rfind('\n').map_or(0, |i| i + 1);
        if !sql[line_start..t.start].trim().is_empty() {
            continue; // a backslash inside a line is an operator, not psql's
        }
        let end = sql[t.start..].find('\n').map_or(sql.len(), |i| t.start + i);
        let line = &sql[t.start..end];
        let word = line[1..].split_whitespace().next().unwrap_or("");
        if word != "restrict" && word != "unrestrict" {
            return Err(DumpError::Refused {
                path: path.to_path_buf(),
                line: crate::schema::tokens::line_of(sql, t.start),
                problem: format!(
                    "psql meta-command '\\{word}' refused: a schema-only dump holds SQL only"
                ),
            });
        }
        out.replace_range(t.start..end, &" ".repeat(end - t.start));
    }
    Ok(out)
}

/// What to do with one statement of the dump.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Run,
    Skip(&'static str),
    Refuse(String),
}

fn classify(text: &str) -> Verdict {
    let toks = tokenize(text, Dialect::Postgres).unwrap_or_default();
    let words: Vec<String> = toks
        .iter()
        .filter(|t| t.is_code())
        .take(8)
        .map(|t| t.text.to_ascii_uppercase())
        .collect();
    let w = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    match w(0) {
        "SET" | "RESET" | "CREATE" | "DROP" => Verdict::Run,
        "ALTER" if words.iter().any(|x| x == "OWNER") => Verdict::Skip("ownership"),
        "ALTER" => Verdict::Run,
        "SELECT" if w(1) == "PG_CATALOG" && w(3) == "SET_CONFIG" => Verdict::Run,
        "COMMENT" | "SECURITY" => Verdict::Skip("comments and labels"),
        "GRANT" | "REVOKE" => Verdict::Skip("privileges"),
        "BEGIN" | "COMMIT" | "START" | "END" => Verdict::Skip("transaction control"),
        "REFRESH" => Verdict::Skip("materialized-view refreshes"),
        "COPY" | "INSERT" => Verdict::Refuse(
            "table data: this is not a schema-only dump (make one with pg_dump --schema-only)"
                .into(),
        ),
        other => Verdict::Refuse(format!(
            "'{other}' statements are not part of a schema-only dump"
        )),
    }
}

/// Restore the schema-only dump at `path` into a private throwaway cluster
/// and read its schema there. The cluster is stopped and removed after.
pub fn read_schema(path: &Path) -> Result<DumpRead, DumpError> {
    let sql = drop_meta_commands(path, &sql_text(path)?)?;
    let stmts = statements(&sql, Dialect::Postgres).map_err(|e| DumpError::Refused {
        path: path.to_path_buf(),
        line: e.line,
        problem: e.to_string(),
    })?;
    let mut run = Vec::new();
    let mut skipped: std::collections::BTreeMap<&str, usize> = Default::default();
    for s in &stmts {
        match classify(s.text) {
            Verdict::Run => run.push(s),
            Verdict::Skip(what) => *skipped.entry(what).or_default() += 1,
            Verdict::Refuse(problem) => {
                return Err(DumpError::Refused {
                    path: path.to_path_buf(),
                    line: s.line,
                    problem,
                });
            }
        }
    }
    let restore = |message: String| DumpError::Restore {
        path: path.to_path_buf(),
        message,
    };
    let cluster = Cluster::start().map_err(|e| restore(e.to_string()))?;
    let result = (|| {
        let pg = |e: postgres::Error| restore(crate::engine::postgres::message(&e));
        let mut admin =
            postgres::Client::connect(&cluster.url("postgres"), postgres::NoTls).map_err(pg)?;
        admin
            .batch_execute(&format!(
                "CREATE ROLE {RESTORE_ROLE} LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB"
            ))
            .map_err(pg)?;
        // On its own: CREATE DATABASE cannot run inside the implicit
        // transaction of a multi-statement batch.
        admin
            .batch_execute(&format!(
                "CREATE DATABASE {RESTORE_DB} OWNER {RESTORE_ROLE}"
            ))
            .map_err(pg)?;
        let url = format!(
            "postgres://{RESTORE_ROLE}@127.0.0.1:{}/{RESTORE_DB}",
            cluster.port()
        );
        let mut c = postgres::Client::connect(&url, postgres::NoTls).map_err(pg)?;
        for s in &run {
            c.batch_execute(s.text).map_err(|e| DumpError::Statement {
                path: path.to_path_buf(),
                line: s.line,
                message: crate::engine::postgres::message(&e),
            })?;
        }
        drop(c);
        let target = crate::engine::postgres::guard::parse_url(&cluster.url(RESTORE_DB))
            .map_err(|e| restore(e.to_string()))?;
        let mut client = target.connect().map_err(|e| restore(e.to_string()))?;
        let mut tx =
            crate::schema::postgres::read_only(&mut client).map_err(|e| restore(e.to_string()))?;
        let read: Read =
            crate::schema::postgres::read(&mut tx).map_err(|e| restore(e.to_string()))?;
        let _ = tx.commit();
        Ok(read)
    })();
    cluster.stop();
    let read = result?;
    let notes = skipped
        .into_iter()
        .map(|(what, n)| {
            format!("{n} statement(s) of {what} in the dump are not part of a profile (skipped)")
        })
        .collect();
    Ok(DumpRead {
        schema: read.schema,
        unmodelled: read.unmodelled,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_schema_statements_run() {
        assert_eq!(classify("CREATE TABLE t (a int);"), Verdict::Run);
        assert_eq!(
            classify("SELECT pg_catalog.set_config('search_path', '', false);"),
            Verdict::Run
        );
        assert_eq!(
            classify("ALTER TABLE t OWNER TO bob;"),
            Verdict::Skip("ownership")
        );
        assert_eq!(
            classify("GRANT ALL ON t TO bob;"),
            Verdict::Skip("privileges")
        );
        assert!(matches!(classify("COPY t FROM stdin;"), Verdict::Refuse(_)));
        assert!(matches!(
            classify("DO $$ BEGIN END $$;"),
            Verdict::Refuse(_)
        ));
        assert!(matches!(
            classify("SELECT pg_sleep(100);"),
            Verdict::Refuse(_)
        ));
    }

    #[test]
    fn psql_meta_commands_are_refused_but_restrict_lines_dropped() {
        let p = Path::new("d.sql");
        let ok = drop_meta_commands(
            p,
            "\\restrict abc\nCREATE TABLE t (a text DEFAULT E'\\\\x');\n\\unrestrict abc\n",
        )
        .unwrap();
        assert!(!ok.contains("restrict"), "{ok}");
        assert!(ok.contains("CREATE TABLE"));
        let e = drop_meta_commands(p, "CREATE TABLE t (a int);\n\\! rm -rf /\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        // A backslash inside a function body is not a meta-command.
        assert!(
            drop_meta_commands(
                p,
                "CREATE FUNCTION f() RETURNS text AS $$\n\\x\n$$ LANGUAGE sql;"
            )
            .is_ok()
        );
    }
}
