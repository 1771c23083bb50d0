//! Snapshot and restore on the server, two ways:
//!
//! - **template** (default): `CREATE DATABASE snap TEMPLATE live STRATEGY
//!   FILE_COPY` — a file-level copy of the database inside the server; other
//!   sessions on the source are terminated first, as PostgreSQL requires.
//!   Restore drops the target and clones it back from the snapshot.
//! - **pg_dump**: `pg_dump -Fc` into a file, `pg_restore` into a fresh
//!   database (the `rollproof_meta` bookkeeping schema is left out of the dump;
//!   every database gets its own provenance record).
//!
//! Every database created or dropped here passes the guard: `rollproof_`
//! names only, and only databases whose provenance record names them.

use super::guard::{self, Target};
use super::{PgError, quote_ident, sql_err};
use postgres::config::Host;
use std::path::Path;
use std::process::Command;

/// Terminate every other session connected to `db` (needed before using it
/// as a template or dropping it).
fn terminate_sessions(t: &Target, db: &str) -> Result<(), PgError> {
    let mut admin = t.connect_maintenance()?;
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND pid <> pg_backend_pid()",
            &[&db],
        )
        .map_err(sql_err("terminating sessions", db))?;
    Ok(())
}

/// Check `db` exists and is one of rollproof's own databases.
pub fn authorize(t: &Target, db: &str) -> Result<(), PgError> {
    let mut c = t.with_db(db).connect()?;
    guard::authorize_existing(&mut c, db)
}

/// Clone `src` into the new database `dest` with `CREATE DATABASE … TEMPLATE`.
/// `dest` must not exist; both must be rollproof names, `src` one of ours.
pub fn clone_template(t: &Target, src: &str, dest: &str, purpose: &str) -> Result<(), PgError> {
    guard::check_name(dest)?;
    authorize(t, src)?;
    terminate_sessions(t, src)?;
    let mut admin = t.connect_maintenance()?;
    admin
        .batch_execute(&format!(
            "CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY",
            quote_ident(dest),
            quote_ident(src)
        ))
        .map_err(sql_err(&format!("CREATE DATABASE … TEMPLATE {src}"), dest))?;
    let mut c = t.with_db(dest).connect()?;
    guard::record_provenance(&mut c, t, dest, purpose, &format!("template {src}"))
}

/// libpq connection parameters for the external client programs (the
/// password, if any, goes through the environment, not the command line).
fn conninfo(t: &Target, db: &str) -> (String, Option<Vec<u8>>) {
    let quote = |v: &str| format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"));
    let mut parts = Vec::new();
    let hosts: Vec<String> = t
        .config
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    if !hosts.is_empty() {
        parts.push(format!("host={}", quote(&hosts.join(","))));
    }
    // The address the guard checked (and pinned): libpq must not resolve
    // the name again.
    let addrs: Vec<String> = t
        .config
        .get_hostaddrs()
        .iter()
        .map(|a| a.to_string())
        .collect();
    if !addrs.is_empty() {
        parts.push(format!("hostaddr={}", quote(&addrs.join(","))));
    }
    let ports: Vec<String> = t.config.get_ports().iter().map(|p| p.to_string()).collect();
    if !ports.is_empty() {
        parts.push(format!("port={}", quote(&ports.join(","))));
    }
    if let Some(user) = t.config.get_user() {
        parts.push(format!("user={}", quote(user)));
    }
    parts.push(format!("dbname={}", quote(db)));
    // The session options rollproof set (a read-only session for a source
    // it only reads); the guard refuses any of the URL's own.
    if let Some(o) = t.config.get_options() {
        parts.push(format!("options={}", quote(o)));
    }
    (parts.join(" "), t.config.get_password().map(|p| p.to_vec()))
}

fn run_tool(program: &str, args: &[&str], password: Option<Vec<u8>>) -> Result<(), PgError> {
    let path = super::cluster::find_program(program).map_err(|e| PgError::Tool {
        program: program.into(),
        message: e.to_string(),
    })?;
    let mut cmd = Command::new(path);
    // libpq also reads PGHOST, PGSERVICE, PGOPTIONS, … from the environment:
    // the client programs must see only the checked conninfo we pass.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PG") {
            cmd.env_remove(k);
        }
    }
    cmd.args(args).env("PGCONNECT_TIMEOUT", "30");
    if let Some(p) = password {
        use std::os::unix::ffi::OsStringExt;
        cmd.env("PGPASSWORD", std::ffi::OsString::from_vec(p));
    }
    let out = cmd.output().map_err(|e| PgError::Tool {
        program: program.into(),
        message: e.to_string(),
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(PgError::Tool {
            program: program.into(),
            message: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        })
    }
}

/// `pg_dump -Fc` of `db` (one of ours) into `file`, without the bookkeeping
/// schema.
pub fn dump(t: &Target, db: &str, file: &Path) -> Result<(), PgError> {
    authorize(t, db)?;
    let (info, password) = conninfo(t, db);
    let file = file.to_string_lossy();
    run_tool(
        "pg_dump",
        &[
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            "--exclude-schema=rollproof_meta",
            "--file",
            &file,
            "--dbname",
            &info,
        ],
        password,
    )
}

/// Create the new database `dest` and `pg_restore` the dump `file` into it.
pub fn restore_dump(t: &Target, file: &Path, dest: &str, purpose: &str) -> Result<(), PgError> {
    let target = t.with_db(dest);
    drop(super::load::create_database(
        &target,
        false,
        purpose,
        &format!("pg_dump {}", file.display()),
    )?);
    if let Err(e) = restore_into(&target, file) {
        let _ = drop_database(t, dest);
        return Err(e);
    }
    Ok(())
}

/// `pg_dump -Fc` of the database `t` names, which need not be one of
/// rollproof's (intake from a URL): `t` is a read-only session
/// ([`guard::authorize_read_url`]), and pg_dump only reads.
pub fn dump_foreign(t: &Target, file: &Path) -> Result<(), PgError> {
    let (info, password) = conninfo(t, &t.dbname);
    let file = file.to_string_lossy();
    run_tool(
        "pg_dump",
        &["--format=custom", "--file", &file, "--dbname", &info],
        password,
    )
}

/// `pg_restore` the custom-format archive `file` into the existing database
/// `t` names, connected as `t`'s user, owners and privileges left out, in
/// one transaction that stops at the first error (intake).
pub fn restore_into(t: &Target, file: &Path) -> Result<(), PgError> {
    let (info, password) = conninfo(t, &t.dbname);
    let file = file.to_string_lossy();
    run_tool(
        "pg_restore",
        &[
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            "--dbname",
            &info,
            &file,
        ],
        password,
    )
}

/// Run the SQL script `file` with `psql` into the database `t` names, as
/// `t`'s user: no psqlrc, one transaction, stop at the first error
/// (intake of a plain dump; the script starts in psql's restricted mode).
pub fn psql_file(t: &Target, file: &Path) -> Result<(), PgError> {
    let (info, password) = conninfo(t, &t.dbname);
    let file = file.to_string_lossy();
    run_tool(
        "psql",
        &[
            "--no-psqlrc",
            "--quiet",
            "--set=ON_ERROR_STOP=1",
            "--single-transaction",
            "--file",
            &file,
            "--dbname",
            &info,
        ],
        password,
    )
}

/// Drop one of rollproof's own databases (guard-checked).
pub fn drop_database(t: &Target, db: &str) -> Result<(), PgError> {
    super::load::drop_database(t, db)
}

/// True when database `db` exists on the server.
pub fn exists(t: &Target, db: &str) -> Result<bool, PgError> {
    let mut admin = t.connect_maintenance()?;
    Ok(admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&db])
        .map_err(sql_err("looking up the database", db))?
        .is_some())
}
