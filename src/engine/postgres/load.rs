//! Generating a surrogate into PostgreSQL. The rows are made once, by the
//! SQLite generator ([`crate::generate::generate`], into a temp file), and
//! streamed into a new database with `COPY … FROM STDIN`; the sequences are
//! then set from `sqlite_sequence`. So the same profile and seed give the
//! same logical content on both backends by construction, and the per-table
//! logical digests are equal (checked by the tests).

use super::guard::{self, Target};
use super::{PgError, quote_ident, sql_err};
use crate::engine::sqlite::logical::LogicalDigest;
use crate::profile::Profile;
use crate::surface;
use postgres::Client;
use rusqlite::types::ValueRef;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// What a generation into PostgreSQL produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Loaded {
    /// The target URL (no password).
    pub url: String,
    /// The database created.
    pub database: String,
    /// Always "logical": PostgreSQL targets have no byte-exact form.
    pub proof: &'static str,
    /// Rows per table.
    pub rows: BTreeMap<String, u64>,
    /// The database's logical digest after loading.
    pub logical: LogicalDigest,
    /// Objects of the profile's schema that could not be created on
    /// PostgreSQL, and why (format-2 profiles).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<crate::schema::render::Skipped>,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// Append one COPY-text field for a SQLite value.
fn copy_field(buf: &mut Vec<u8>, v: ValueRef<'_>) {
    match v {
        ValueRef::Null => buf.extend_from_slice(b"\\N"),
        ValueRef::Integer(i) => buf.extend_from_slice(i.to_string().as_bytes()),
        ValueRef::Real(f) => buf.extend_from_slice(format!("{f:?}").as_bytes()),
        ValueRef::Text(t) => escape_into(buf, t),
        ValueRef::Blob(b) => {
            buf.extend_from_slice(b"\\\\x");
            buf.extend_from_slice(hex::encode(b).as_bytes());
        }
    }
}

/// COPY text escaping: backslash, tab, newline and carriage return (also
/// the generic generator's COPY writer, generate::postgres).
pub(crate) fn escape_into(buf: &mut Vec<u8>, t: &[u8]) {
    for &b in t {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            _ => buf.push(b),
        }
    }
}

/// Stream every surface table of the SQLite surrogate at `src` into the
/// connected (empty) database, then add constraints, indexes, the function,
/// and set the sequences — all in one transaction.
pub fn load_sqlite(
    src: &Path,
    client: &mut Client,
    db: &str,
) -> Result<BTreeMap<String, u64>, PgError> {
    let lite_err = |e: rusqlite::Error| PgError::Invalid(format!("reading {}: {e}", src.display()));
    let lite = crate::engine::sqlite::logical::open_read_only(src).map_err(lite_err)?;
    let mut tx = client.transaction().map_err(sql_err("BEGIN", db))?;
    tx.batch_execute(&super::schema::tables_sql())
        .map_err(sql_err("creating the surface tables", db))?;
    let mut rows = BTreeMap::new();
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    for table in surface::tables() {
        let (cols, _) =
            crate::engine::sqlite::logical::table_order(&lite, table).map_err(lite_err)?;
        let quoted: Vec<String> = cols.iter().map(|c| quote_ident(c)).collect();
        let io = |source| PgError::Io {
            what: format!("loading table {table}"),
            db: db.to_string(),
            source,
        };
        let writer = tx
            .copy_in(&format!(
                "COPY {} ({}) FROM STDIN",
                quote_ident(table),
                quoted.join(", ")
            ))
            .map_err(sql_err("COPY in", db))?;
        let mut writer = std::io::BufWriter::with_capacity(1 << 20, writer);
        let mut stmt = lite
            .prepare(&format!(
                "SELECT {} FROM {}",
                quoted.join(", "),
                quote_ident(table)
            ))
            .map_err(lite_err)?;
        let mut q = stmt.query([]).map_err(lite_err)?;
        let mut n = 0u64;
        while let Some(row) = q.next().map_err(lite_err)? {
            buf.clear();
            for i in 0..cols.len() {
                if i > 0 {
                    buf.push(b'\t');
                }
                copy_field(&mut buf, row.get_ref(i).map_err(lite_err)?);
            }
            buf.push(b'\n');
            writer.write_all(&buf).map_err(io)?;
            n += 1;
        }
        let writer = writer.into_inner().map_err(|e| io(e.into_error()))?;
        writer
            .finish()
            .map_err(sql_err(&format!("loading table {table}"), db))?;
        rows.insert(table.to_string(), n);
    }
    tx.batch_execute(&super::schema::constraints_sql())
        .map_err(sql_err("adding constraints and indexes", db))?;
    tx.batch_execute(super::schema::FUNCTION_SQL)
        .map_err(sql_err("creating fn_birth_register", db))?;
    let has_seq: bool = lite
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_schema WHERE name = 'sqlite_sequence'",
            [],
            |r| r.get(0),
        )
        .map_err(lite_err)?;
    if has_seq {
        let mut stmt = lite
            .prepare("SELECT name, seq FROM sqlite_sequence ORDER BY name")
            .map_err(lite_err)?;
        let seqs: Vec<(String, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(lite_err)?
            .collect::<rusqlite::Result<_>>()
            .map_err(lite_err)?;
        for (table, seq) in seqs {
            if !surface::tables().contains(&table.as_str()) || seq < 1 {
                continue;
            }
            tx.execute(
                "SELECT setval(pg_get_serial_sequence($1, 'id'), $2, true)",
                &[&quote_ident(&table), &seq],
            )
            .map_err(sql_err(&format!("setting the sequence of {table}"), db))?;
        }
    }
    tx.execute("ANALYZE", &[]).map_err(sql_err("ANALYZE", db))?;
    tx.commit().map_err(sql_err("COMMIT", db))?;
    Ok(rows)
}

/// Create a new, empty database `t.dbname` on the server and record that
/// rollproof created it. An existing database is refused unless `force` is
/// set and it is one of rollproof's own (then it is dropped first).
pub fn create_database(
    t: &Target,
    force: bool,
    purpose: &str,
    source: &str,
) -> Result<Client, PgError> {
    guard::check_name(&t.dbname)?;
    let mut admin = t.connect_maintenance()?;
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&t.dbname])
        .map_err(sql_err("looking up the database", "postgres"))?
        .is_some();
    if exists {
        if !force {
            return Err(PgError::Invalid(format!(
                "database {} already exists on {}; pass --force to replace it (only a database rollproof created is ever dropped)",
                t.dbname, t.display
            )));
        }
        drop_database(t, &t.dbname)?;
    }
    admin
        .batch_execute(&format!(
            "CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'",
            quote_ident(&t.dbname)
        ))
        .map_err(sql_err("CREATE DATABASE", &t.dbname))?;
    let made = t.connect().and_then(|mut client| {
        guard::record_provenance(&mut client, t, &t.dbname, purpose, source)?;
        Ok(client)
    });
    if made.is_err() {
        drop_unfinished(t);
    }
    made
}

/// Drop database `db` on `t`'s server — only after checking it is one
/// rollproof created (its provenance record names it). Other sessions on it
/// are terminated first.
pub fn drop_database(t: &Target, db: &str) -> Result<(), PgError> {
    guard::check_name(db)?;
    let rec = {
        let mut c = t.with_db(db).connect()?;
        super::provenance::verify_for_drop(&mut c, db)?
    };
    let mut admin = t.connect_maintenance()?;
    admin
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(db)
        ))
        .map_err(sql_err("DROP DATABASE", db))?;
    super::provenance::forget(&rec);
    Ok(())
}

/// Drop a database rollproof created but could not finish (no provenance
/// check possible when its creation failed half-way); only `rollproof_`
/// names, only right after our own CREATE DATABASE.
fn drop_unfinished(t: &Target) {
    if guard::check_name(&t.dbname).is_ok()
        && let Ok(mut admin) = t.connect_maintenance()
    {
        // Its record, if it got one, names the ledger entry to remove.
        let rec = t
            .connect()
            .ok()
            .and_then(|mut c| super::provenance::verify(&mut c, &t.dbname).ok());
        let _ = admin.batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(&t.dbname)
        ));
        if let Some(rec) = rec {
            super::provenance::forget(&rec);
        }
    }
}

/// `rollproof generate --target-url`: generate the surrogate for (profile,
/// seed, scale) and load it into a new database `t.dbname`.
pub fn generate_into(
    t: &Target,
    profile: &Profile,
    label: &str,
    seed: u64,
    scale: f64,
    force: bool,
) -> Result<Loaded, PgError> {
    let started = Instant::now();
    let tmp = crate::util::cleanup::temp_dir().map_err(|source| PgError::Io {
        what: "creating a temp folder for the surrogate".into(),
        db: t.dbname.clone(),
        source,
    })?;
    let lite = tmp.path().join("surrogate.db");
    crate::generate::generate(profile, label, seed, scale, &lite, false)?;
    let source = format!("profile={label} seed={seed} scale={scale}");
    let mut client = create_database(t, force, "surrogate", &source)?;
    // Scratch until fully loaded: a run killed mid-load leaves a database
    // that the next run or `clean` removes; a finished one is kept.
    let result = load_sqlite(&lite, &mut client, &t.dbname)
        .and_then(|rows| Ok((rows, super::logical::digest(&mut client, &t.dbname)?)))
        .and_then(|done| {
            super::provenance::keep(&mut client, &t.dbname)?;
            Ok(done)
        });
    drop(client);
    match result {
        Ok((rows, digested)) => Ok(Loaded {
            url: t.display.clone(),
            database: t.dbname.clone(),
            proof: "logical",
            rows,
            logical: digested.digest,
            skipped: Vec::new(),
            seconds: started.elapsed().as_secs_f64(),
        }),
        Err(e) => {
            drop_unfinished(t);
            Err(e)
        }
    }
}

/// `rollproof generate --target-url` with a format-2 profile: create the
/// new database `t.dbname` (guarded as [`create_database`]), build the
/// job's schema in it and fill it with the generic engine
/// ([`crate::generate::postgres::generate`]). Scratch until finished; a
/// failure drops it.
pub fn generate_schema_into(
    t: &Target,
    job: &crate::generate::SchemaJob<'_>,
    label: &str,
    force: bool,
) -> Result<Loaded, PgError> {
    let started = Instant::now();
    let source = format!(
        "profile={label} profile_sha256={} seed={} scale={}",
        job.profile_sha256, job.seed, job.scale
    );
    let mut client = create_database(t, force, "surrogate", &source)?;
    let result =
        crate::generate::postgres::generate(&mut client, job.schema, job.stats, job.rows, job.seed)
            .map_err(PgError::from)
            .and_then(|filled| {
                client
                    .batch_execute("ANALYZE")
                    .map_err(sql_err("ANALYZE", &t.dbname))?;
                let digested = super::logical::digest(&mut client, &t.dbname)?;
                super::provenance::keep(&mut client, &t.dbname)?;
                Ok((filled, digested))
            });
    drop(client);
    match result {
        Ok((filled, digested)) => Ok(Loaded {
            url: t.display.clone(),
            database: t.dbname.clone(),
            proof: "logical",
            rows: filled.summary.rows,
            logical: digested.digest,
            skipped: filled.skipped,
            seconds: started.elapsed().as_secs_f64(),
        }),
        Err(e) => {
            drop_unfinished(t);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_fields_are_escaped() {
        let mut b = Vec::new();
        copy_field(&mut b, ValueRef::Text(b"a\\b\tc\nd\re"));
        assert_eq!(b, b"a\\\\b\\tc\\nd\\re");
        b.clear();
        copy_field(&mut b, ValueRef::Null);
        copy_field(&mut b, ValueRef::Integer(-3));
        copy_field(&mut b, ValueRef::Blob(&[0, 255]));
        assert_eq!(b, b"\\N-3\\\\x00ff");
    }
}
