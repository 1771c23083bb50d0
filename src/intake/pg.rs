//! PostgreSQL intake: a `pg_dump` file (custom format, or plain SQL with the
//! `\restrict`/`\unrestrict` lines of pg_dump ≥ 15.14) or a database read
//! through a read-only URL becomes a new, isolated `rollproof_` clone
//! database on a server the guard allows, secret-scanned before it counts.
//!
//! The dump is untrusted SQL. It is replayed by a role made for this one
//! intake, `rollproof_r_<id>` (the shape of a sandbox role): LOGIN,
//! NOSUPERUSER, NOCREATEDB, NOCREATEROLE, NOINHERIT, member of nothing,
//! allowed only into the new database. So `COPY … TO PROGRAM`, server files, other databases and
//! roles are out of its reach, and a `DROP … IF EXISTS` can only touch the
//! clone. A plain dump runs through `psql` in restricted mode with a key of
//! our own (`\restrict`), so no psql meta-command in it (`\!`, `\o`, `\i`,
//! `\connect`, …) runs; the dump's own `\restrict`/`\unrestrict` pair is
//! taken out. Afterwards everything the role owns passes to rollproof's own
//! user and the role is dropped. Every step that fails drops the clone.
//!
//! Then the secret scan (every value of every table, one batch of rows in
//! memory at a time) decides: a finding not allowed by an explicit
//! decision drops the clone (exit 3). Format: docs/INTAKE.md.

use super::scan::{ScanResult, Tally, row_key};
use super::secrets::{AllowList, Finding, scan_value};
use super::{IntakeError, Verdict, bad};
use crate::engine::postgres::cluster_lock::ClusterLock;
use crate::engine::postgres::guard::{self as pg_guard, Target};
use crate::engine::postgres::{
    PgError, catalog, load, logical, quote_ident, roles, sandbox, snapshot, sql_err,
};
use crate::guard::Refusal;
use serde::Serialize;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

/// Where the database to take in comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A `pg_dump` file, custom or plain format.
    Dump(PathBuf),
    /// A database, read through a read-only session.
    Url(String),
}

/// What `rollproof intake --target-url` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// The source.
    pub source: Source,
    /// The new clone database (a `rollproof_` name on an allowed server).
    pub target_url: String,
    /// Extra throwaway hosts allowed (`--allow-host`).
    pub allow_hosts: Vec<String>,
    /// Allow-list of false positives.
    pub allow: Option<PathBuf>,
    /// Replace an existing clone of rollproof's own with the same name.
    pub force: bool,
}

/// The PostgreSQL intake report (`--json`).
#[derive(Debug, Clone, Serialize)]
pub struct PgIntakeReport {
    /// Outcome.
    pub verdict: Verdict,
    /// The dump's path, or the source URL without its password.
    pub source: String,
    /// `pg_dump custom`, `pg_dump plain` or `url`.
    pub source_format: String,
    /// SHA-256 of the dump before intake read it (a dump file only).
    pub source_sha256_before: Option<String>,
    /// SHA-256 of the dump afterwards; must equal `before`.
    pub source_sha256_after: Option<String>,
    /// True when the dump's bytes did not change (always true for a URL).
    pub source_unchanged: bool,
    /// The clone database's URL (no password), when one was kept.
    pub clone_url: Option<String>,
    /// The clone database's name.
    pub database: String,
    /// Its logical digest (rollproof-logical-pg), when one was kept.
    pub logical_sha256: Option<String>,
    /// The leg a rehearsal on the clone reports.
    pub leg: &'static str,
    /// The secret scan.
    pub secrets: ScanResult,
    /// What a rehearsal on the clone can run: SQL change scripts, and the
    /// birth operation when the database has `fn_birth_register`.
    pub rehearsable: Vec<&'static str>,
    /// The role the dump's SQL ran as (dropped again).
    pub replayed_as: String,
}

/// The dump formats told apart by their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Custom,
    Plain,
}

/// `PGDMP` starts a custom-format archive; anything else must be SQL text.
fn detect(path: &Path) -> Result<Format, IntakeError> {
    let mut f = crate::util::fsutil::open_regular_io(path)
        .map_err(|e| bad(path, format!("cannot open: {e}")))?;
    let mut head = [0u8; 512];
    let mut n = 0;
    while n < head.len() {
        let got = f
            .read(&mut head[n..])
            .map_err(|e| bad(path, format!("cannot read: {e}")))?;
        if got == 0 {
            break;
        }
        n += got;
    }
    let head = &head[..n];
    if head.is_empty() {
        return Err(bad(path, "is empty"));
    }
    if head.starts_with(b"PGDMP") {
        return Ok(Format::Custom);
    }
    if head.contains(&0) {
        return Err(bad(
            path,
            "is neither a pg_dump archive (custom format) nor SQL text",
        ));
    }
    Ok(Format::Plain)
}

/// The key of a `\restrict KEY` / `\unrestrict KEY` line, as pg_dump
/// writes them (letters and digits only).
fn restrict_key<'a>(line: &'a str, command: &str) -> Option<&'a str> {
    let key = line.strip_prefix(command)?.strip_prefix(' ')?;
    (!key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(key)
}

/// Copy the plain dump `src` into `out` for psql: our own `\restrict KEY`
/// first, the dump's own `\restrict`/`\unrestrict` pair (same key) left
/// out, everything else as it is. Streamed line by line.
fn restricted_script(src: &Path, out: &mut impl Write, key: &str) -> Result<(), IntakeError> {
    let file = crate::util::fsutil::open_regular_io(src)
        .map_err(|e| bad(src, format!("cannot open: {e}")))?;
    let mut reader = BufReader::new(file);
    let io = |e: std::io::Error| IntakeError::Workspace(format!("cannot write the script: {e}"));
    writeln!(out, "\\restrict {key}").map_err(io)?;
    let mut theirs: Option<String> = None;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| bad(src, format!("cannot read: {e}")))?;
        if n == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let bare = text.trim_end_matches(['\n', '\r']);
        if theirs.is_none()
            && let Some(k) = restrict_key(bare, "\\restrict")
        {
            theirs = Some(k.to_string());
            continue;
        }
        if theirs.is_some() && restrict_key(bare, "\\unrestrict") == theirs.as_deref() {
            continue;
        }
        out.write_all(&line).map_err(io)?;
    }
    out.flush().map_err(io)
}

/// A fresh random hex string of `N` bytes.
fn random_hex<const N: usize>() -> String {
    hex::encode(rand::random::<[u8; N]>())
}

/// The role that replays one dump (module docs).
struct Replayer {
    name: String,
    password: String,
}

impl Replayer {
    /// Create the role, allowed into `clone` only, owning its `public`.
    fn create(admin: &mut postgres::Client, clone: &str) -> Result<Replayer, PgError> {
        let r = Replayer {
            // Named as a sandbox role (sandbox::role_name), so `clean` and
            // a reader know it for rollproof's. A rehearsal on the same
            // server never sees it come or go: the intake holds the server
            // lock while the role exists (cluster_lock.rs).
            name: sandbox::role_name(&random_hex::<8>())?,
            password: random_hex::<24>(),
        };
        let sql = format!(
            "CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION \
             NOBYPASSRLS NOINHERIT CONNECTION LIMIT {limit} PASSWORD '{pw}';
             GRANT CONNECT, CREATE, TEMPORARY ON DATABASE {db} TO {role};",
            role = quote_ident(&r.name),
            pw = r.password,
            limit = roles::SANDBOX_CONNECTION_LIMIT,
            db = quote_ident(clone),
        );
        admin
            .batch_execute(&sql)
            .map_err(sql_err("creating the intake role", clone))?;
        Ok(r)
    }

    /// The clone's target, logged in as this role.
    fn target(&self, clone: &Target) -> Target {
        let mut t = clone.clone();
        t.config.user(&self.name);
        t.config.password(self.password.as_bytes());
        t
    }

    /// Give what the role owns to rollproof's own user (connected to the
    /// clone as `on_clone`), then drop the role.
    fn retire(self, on_clone: &mut postgres::Client, admin: &mut postgres::Client) {
        let role = quote_ident(&self.name);
        // One statement at a time: each runs even if one before failed.
        // `public` goes back to its owner in a fresh database.
        for sql in [
            format!("REASSIGN OWNED BY {role} TO CURRENT_USER"),
            "ALTER SCHEMA public OWNER TO pg_database_owner".to_string(),
            format!("DROP OWNED BY {role}"),
        ] {
            let _ = on_clone.batch_execute(&sql);
        }
        let _ = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1",
            &[&self.name],
        );
        let _ = admin.batch_execute(&format!("DROP ROLE IF EXISTS {role}"));
    }
}

/// Replay the dump into `clone` as `role`.
fn replay(src: &Path, format: Format, clone: &Target, role: &Replayer) -> Result<(), IntakeError> {
    let as_role = role.target(clone);
    let tool = match format {
        Format::Custom => snapshot::restore_into(&as_role, src),
        Format::Plain => {
            let root = crate::guard::workspace()?;
            let mut tmp = crate::util::fsutil::temp_beside(&root.join("intake.sql"))?;
            restricted_script(src, tmp.as_file_mut(), &random_hex::<24>())?;
            snapshot::psql_file(&as_role, tmp.path())
        }
    };
    tool.map_err(|e| {
        let hint = match format {
            Format::Plain => {
                "; the dump runs as an unprivileged role: make it with pg_dump --no-owner --no-privileges (or --format=custom), without psql meta-commands"
            }
            Format::Custom => "; the dump runs as an unprivileged role (owners and privileges are left out)",
        };
        bad(
            src,
            format!(
                "does not load: {}{hint}",
                crate::evidence::redact::text(&e.to_string())
            ),
        )
    })
}

/// Scan every row of every table of the clone for secrets.
fn scan_pg(
    client: &mut postgres::Client,
    db: &str,
    allow: &AllowList,
) -> Result<ScanResult, PgError> {
    let tables = client
        .query(
            &format!(
                "SELECT c.oid, n.nspname::text, c.relname::text FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind = 'r' AND NOT {}
                   AND NOT (n.nspname = $1 AND c.relname = $2)
                 ORDER BY 2, 3",
                catalog::system_schema("n")
            ),
            &[&catalog::PROVENANCE_ROWS.0, &catalog::PROVENANCE_ROWS.1],
        )
        .map_err(sql_err("listing the tables", db))?;
    let mut tally = Tally::new(allow);
    for t in tables {
        let (oid, nsp, rel): (postgres::types::Oid, String, String) =
            (t.get(0), t.get(1), t.get(2));
        let qname = format!("{}.{}", quote_ident(&nsp), quote_ident(&rel));
        scan_table(
            client,
            db,
            oid,
            (&qname, &format!("{nsp}.{rel}")),
            &mut tally,
        )?;
    }
    Ok(tally.finish())
}

/// One table: key columns (or ctid), then each scanned column as text.
fn scan_table(
    client: &mut postgres::Client,
    db: &str,
    oid: postgres::types::Oid,
    (qname, shown_name): (&str, &str),
    tally: &mut Tally<'_>,
) -> Result<(), PgError> {
    // Numbers, booleans and times cannot hold a secret; everything else is
    // read as text (bytea as its escaped bytes).
    let cols = client
        .query(
            "SELECT a.attname::text, t.oid = 'bytea'::regtype,
                    coalesce(a.attnum = ANY (i.indkey::int2[]), false)
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
             LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum",
            &[&oid],
        )
        .map_err(sql_err("reading columns", db))?;
    let cols: Vec<(String, bool, bool)> = cols
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let keys: Vec<&str> = cols.iter().filter(|c| c.2).map(|c| c.0.as_str()).collect();
    let key_sql = if keys.is_empty() {
        "'ctid=' || ctid::text".to_string()
    } else {
        keys.iter()
            .map(|k| format!("coalesce({}::text, 'NULL')", quote_ident(k)))
            .collect::<Vec<_>>()
            .join(" || ',' || ")
    };
    let shown: Vec<String> = cols
        .iter()
        .map(|(c, bytea, _)| {
            if *bytea {
                format!("encode({}, 'escape')", quote_ident(c))
            } else {
                format!("{}::text", quote_ident(c))
            }
        })
        .collect();
    let sql = format!(
        "SELECT {key_sql}, {} FROM ONLY {qname}",
        if shown.is_empty() {
            "NULL".to_string()
        } else {
            shown.join(", ")
        }
    );
    let mut tx = client.transaction().map_err(sql_err("BEGIN", db))?;
    let portal = tx
        .bind(sql.as_str(), &[])
        .map_err(sql_err("scanning", db))?;
    loop {
        let rows = tx
            .query_portal(&portal, 500)
            .map_err(sql_err("scanning", db))?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            let key: String = row.get(0);
            for (i, (col, _, _)) in cols.iter().enumerate() {
                let Some(text) = row.get::<_, Option<String>>(i + 1) else {
                    continue;
                };
                let kinds = scan_value(col, &text);
                tally.scanned();
                for kind in kinds {
                    tally.finding(Finding {
                        table: shown_name.to_string(),
                        column: col.clone(),
                        row: row_key(&[(String::new(), key.clone())]),
                        kind,
                    });
                }
            }
        }
    }
    tx.commit().map_err(sql_err("COMMIT", db))?;
    Ok(())
}

/// Dump the database behind the read-only `url` into a temp file in the
/// workspace (custom format), and return the file.
fn dump_url(url: &str, allow: &[String]) -> Result<(tempfile::NamedTempFile, String), IntakeError> {
    let source = pg_guard::authorize_read_url(url, allow).map_err(pg_to_intake)?;
    let root = crate::guard::workspace()?;
    let tmp = crate::util::fsutil::temp_beside(&root.join("intake.dump"))?;
    snapshot::dump_foreign(&source, tmp.path()).map_err(pg_to_intake)?;
    Ok((tmp, source.display.clone()))
}

/// A guard refusal stays a refusal (exit 3); anything else is bad input.
fn pg_to_intake(e: PgError) -> IntakeError {
    match e {
        PgError::Refused(r) => IntakeError::Refused(r),
        other => IntakeError::Workspace(other.to_string()),
    }
}

/// Take the source in as a new clone database (module docs).
pub fn intake(opts: &Options) -> Result<PgIntakeReport, IntakeError> {
    let (allow, allow_sha) = super::load_allow(opts.allow.as_deref())?;
    let hosts = pg_guard::allowed_hosts(&opts.allow_hosts);
    let target = pg_guard::authorize_url(&opts.target_url, &hosts).map_err(pg_to_intake)?;
    pg_guard::check_name(&target.dbname)?;
    let mut held = None;
    let (path, shown, format_name, before) = match &opts.source {
        Source::Dump(p) => {
            let meta = std::fs::metadata(p).map_err(|e| bad(p, format!("cannot read: {e}")))?;
            if !meta.is_file() {
                return Err(bad(p, "is not a regular file"));
            }
            let sha = crate::hash::file_sha256_fresh(p)?.sha256;
            (p.clone(), p.display().to_string(), None, Some(sha))
        }
        Source::Url(u) => {
            let (tmp, shown) = dump_url(u, &hosts)?;
            let path = tmp.path().to_path_buf();
            held = Some(tmp);
            (path, shown, Some("url"), None)
        }
    };
    let format = detect(&path)?;
    let format_name = format_name.unwrap_or(match format {
        Format::Custom => "pg_dump custom",
        Format::Plain => "pg_dump plain",
    });
    let record_source = match &before {
        Some(sha) => format!("intake of {shown} ({format_name}) sha256 {sha}"),
        None => format!("intake of {shown} (read-only session)"),
    };
    let record_source = match &allow_sha {
        Some(a) => format!("{record_source}; allow-list sha256 {a}"),
        None => record_source,
    };
    drop(
        load::create_database(&target, opts.force, "clone", &record_source)
            .map_err(pg_to_intake)?,
    );
    let outcome = fill_and_scan(&path, format, &target, &allow);
    drop(held);
    let (secrets, digest, births, replayed_as) = match outcome {
        Ok(v) => v,
        Err(e) => {
            let _ = load::drop_database(&target, &target.dbname);
            return Err(e);
        }
    };
    let after = match &opts.source {
        Source::Dump(p) => Some(crate::hash::file_sha256_fresh(p)?.sha256),
        Source::Url(_) => None,
    };
    let mut report = PgIntakeReport {
        verdict: Verdict::RefusedSecrets,
        source: shown,
        source_format: format_name.to_string(),
        source_unchanged: before == after,
        source_sha256_before: before.clone(),
        source_sha256_after: after.clone(),
        clone_url: None,
        database: target.dbname.clone(),
        logical_sha256: None,
        leg: crate::guard::provenance::Kind::Clone.leg(),
        secrets,
        rehearsable: Vec::new(),
        replayed_as,
    };
    if !report.source_unchanged || report.secrets.findings_total > 0 {
        let _ = load::drop_database(&target, &target.dbname);
        if !report.source_unchanged {
            return Err(Refusal::new(format!(
                "{} changed during intake; no clone was kept",
                report.source
            ))
            .into());
        }
        return Ok(report);
    }
    report.verdict = Verdict::Accepted;
    report.clone_url = Some(target.display.clone());
    report.logical_sha256 = Some(digest);
    report.rehearsable = if births {
        vec!["sql", "births"]
    } else {
        vec!["sql"]
    };
    Ok(report)
}

/// Replay the dump into the (new, empty) clone as its own role, hand the
/// objects to rollproof's user, scan, digest. Returns (scan, logical
/// sha256, whether the clone has `fn_birth_register`, the role).
fn fill_and_scan(
    path: &Path,
    format: Format,
    target: &Target,
    allow: &AllowList,
) -> Result<(ScanResult, String, bool, String), IntakeError> {
    let mut admin = target.connect_maintenance().map_err(pg_to_intake)?;
    let mut on_clone = target.connect().map_err(pg_to_intake)?;
    // Held while the replay role exists (cluster_lock.rs).
    let lock = ClusterLock::take(target).map_err(pg_to_intake)?;
    let role = Replayer::create(&mut admin, &target.dbname).map_err(pg_to_intake)?;
    let owner = on_clone
        .batch_execute(&format!(
            "ALTER SCHEMA public OWNER TO {}",
            quote_ident(&role.name)
        ))
        .map_err(sql_err("preparing the clone", &target.dbname))
        .map_err(pg_to_intake);
    let replayed = owner.and_then(|_| replay(path, format, target, &role));
    let replayed_as = role.name.clone();
    role.retire(&mut on_clone, &mut admin);
    drop(lock);
    replayed?;
    let secrets = scan_pg(&mut on_clone, &target.dbname, allow).map_err(pg_to_intake)?;
    let digest = logical::digest(&mut on_clone, &target.dbname)
        .map_err(pg_to_intake)?
        .digest
        .sha256;
    let births: bool = on_clone
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'fn_birth_register')",
            &[],
        )
        .map_err(sql_err("looking for fn_birth_register", &target.dbname))
        .map_err(pg_to_intake)?
        .get(0);
    Ok((secrets, digest, births, replayed_as))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dumps_own_restrict_pair_is_replaced_by_ours() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("d.sql");
        std::fs::write(
            &src,
            "\\restrict abc123\n-- x\nCREATE TABLE t(a text);\nCOPY t (a) FROM stdin;\n\\restrict other\n\\.\n\\unrestrict abc123\n",
        )
        .unwrap();
        let mut out = Vec::new();
        restricted_script(&src, &mut out, "KEY").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\\restrict KEY\n-- x\nCREATE TABLE t(a text);\nCOPY t (a) FROM stdin;\n\\restrict other\n\\.\n"
        );
        assert_eq!(restrict_key("\\restrict ab; x", "\\restrict"), None);
    }
}
