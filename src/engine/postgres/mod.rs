//! PostgreSQL as a first-class backend beside the embedded SQLite default:
//! a throwaway cluster manager (tests, benchmark), the Directus-shaped
//! surface in PostgreSQL types with `fn_birth_register` in PL/pgSQL, loading
//! a generated surrogate into a database, the canonical logical hash over a
//! PostgreSQL database (PostgreSQL files are never byte-exact after writes,
//! so every proof here is logical), database-level snapshots, and the guard
//! rules for servers. See docs/POSTGRES.md.

pub mod backend;
pub mod catalog;
pub mod checks;
pub mod cluster;
pub mod cluster_lock;
pub mod diff;
pub mod guard;
pub mod ledger;
pub mod leftovers;
pub mod load;
pub mod logical;
pub mod provenance;
pub mod role_ledger;
pub mod roles;
pub mod sandbox;
pub mod schema;
pub mod script;
pub mod snapshot;

/// Why a PostgreSQL operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The URL or a name is unusable.
    #[error("{0}")]
    Invalid(String),
    /// Connecting failed.
    #[error("cannot connect to {target}: {message}")]
    Connect { target: String, message: String },
    /// A statement failed; `what` says which step.
    #[error("{what} on database {db}: {message}")]
    Sql {
        what: String,
        db: String,
        message: String,
    },
    /// Reading the COPY stream failed.
    #[error("{what} on database {db}: {source}")]
    Io {
        what: String,
        db: String,
        #[source]
        source: std::io::Error,
    },
    /// An external client program (`pg_dump`, `pg_restore`) failed.
    #[error("{program} failed: {message}")]
    Tool { program: String, message: String },
    /// The guard refused the write.
    #[error(transparent)]
    Refused(#[from] crate::guard::Refusal),
    /// Generating the surrogate to load failed.
    #[error(transparent)]
    Generate(#[from] crate::generate::GenerateError),
}

impl PgError {
    /// An error for anyhow whose cause chain carries a guard refusal as
    /// [`crate::guard::Refusal`] itself (so the exit code is 3).
    pub fn into_anyhow(self) -> anyhow::Error {
        match self {
            PgError::Refused(r) => anyhow::Error::new(r),
            other => anyhow::Error::new(other),
        }
    }
}

/// The server's message for a failed statement: the database error's own
/// text (with detail) when there is one, else the client error.
pub fn message(e: &postgres::Error) -> String {
    // A server message can quote row values ("Key (token)=(…) already
    // exists"): anything the secret scan flags is shown as a digest.
    let redact = crate::evidence::redact::text;
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(d) => redact(&format!("{} ({d})", db.message())),
            None => redact(db.message()),
        },
        None => {
            let mut text = e.to_string();
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                let c_text = c.to_string();
                if !text.contains(&c_text) {
                    text.push_str(&format!(": {c_text}"));
                }
                cause = c.source();
            }
            text
        }
    }
}

/// Build a [`PgError::Sql`] for step `what` on database `db`.
pub fn sql_err(what: &str, db: &str) -> impl Fn(postgres::Error) -> PgError {
    let (what, db) = (what.to_string(), db.to_string());
    move |e| PgError::Sql {
        what: what.clone(),
        db: db.clone(),
        message: message(&e),
    }
}

/// Double-quote an identifier for PostgreSQL.
pub fn quote_ident(name: &str) -> String {
    crate::engine::sqlite::logical::quote_ident(name)
}

/// `rollproof generate --target-url`: check the URL with the guard, then
/// generate the surrogate into the new database it names.
pub fn generate_url(
    url: &str,
    allow_hosts: &[String],
    profile: &crate::profile::Profile,
    label: &str,
    seed: u64,
    scale: f64,
    force: bool,
) -> anyhow::Result<load::Loaded> {
    use anyhow::Context;
    let allow = guard::allowed_hosts(allow_hosts);
    let target = guard::authorize_url(url, &allow).map_err(PgError::into_anyhow)?;
    load::generate_into(&target, profile, label, seed, scale, force)
        .map_err(PgError::into_anyhow)
        .with_context(|| format!("could not generate into {}", target.display))
}

/// `rollproof generate --target-url` with a format-2 profile: check the
/// URL with the guard, then build and fill the profile's schema in the new
/// database it names.
pub fn generate_schema_url(
    url: &str,
    allow_hosts: &[String],
    job: &crate::generate::SchemaJob<'_>,
    label: &str,
    force: bool,
) -> anyhow::Result<load::Loaded> {
    use anyhow::Context;
    let allow = guard::allowed_hosts(allow_hosts);
    let target = guard::authorize_url(url, &allow).map_err(PgError::into_anyhow)?;
    load::generate_schema_into(&target, job, label, force)
        .map_err(PgError::into_anyhow)
        .with_context(|| format!("could not generate into {}", target.display))
}

/// What `rollproof hash --target-url` reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PgHash {
    /// The database URL (no password).
    pub url: String,
    /// Always "logical": PostgreSQL has no byte-exact form.
    pub proof: &'static str,
    /// Algorithm tag of the digest.
    pub algorithm: &'static str,
    /// The PostgreSQL logical digest (per-table digests compare with SQLite).
    pub logical: crate::engine::sqlite::logical::LogicalDigest,
    /// The cluster's roles, memberships, settings and this database's own
    /// properties (not part of the logical digest: they live outside it).
    pub cluster: roles::ClusterState,
    /// COPY text bytes streamed from the server.
    pub copy_bytes: u64,
    /// `pg_database_size` of the database.
    pub database_bytes: u64,
    /// Wall time of the hash, in seconds.
    pub seconds: f64,
    /// Hash throughput: COPY bytes per second, in MB/s (10^6 bytes).
    pub mb_per_s: f64,
}

/// `rollproof hash --target-url`: the logical digest of any database the
/// user may read, on a server rollproof may use, in a read-only session
/// (no provenance needed: nothing is written).
pub fn hash_url(url: &str, allow_hosts: &[String]) -> anyhow::Result<PgHash> {
    use anyhow::Context;
    let allow = guard::allowed_hosts(allow_hosts);
    let target = guard::authorize_read_url(url, &allow).map_err(PgError::into_anyhow)?;
    let run = || -> Result<PgHash, PgError> {
        let mut client = target.connect()?;
        let read_only: String = client
            .query_one("SHOW default_transaction_read_only", &[])
            .map_err(sql_err("checking the read-only session", &target.dbname))?
            .get(0);
        if read_only != "on" {
            return Err(PgError::Invalid(format!(
                "the session on {} is not read-only (default_transaction_read_only = {read_only}); refusing to hash through it",
                target.display
            )));
        }
        let size: i64 = client
            .query_one("SELECT pg_database_size(current_database())", &[])
            .map_err(sql_err("pg_database_size", &target.dbname))?
            .get(0);
        let started = std::time::Instant::now();
        let d = logical::digest(&mut client, &target.dbname)?;
        let seconds = started.elapsed().as_secs_f64();
        let cluster = roles::capture(&mut client, &target.dbname, None)?;
        Ok(PgHash {
            url: target.display.clone(),
            proof: "logical",
            algorithm: logical::ALGORITHM,
            logical: d.digest,
            cluster,
            copy_bytes: d.bytes,
            database_bytes: size.max(0) as u64,
            seconds,
            mb_per_s: d.bytes as f64 / 1e6 / seconds.max(1e-9),
        })
    };
    run()
        .map_err(PgError::into_anyhow)
        .with_context(|| format!("could not hash {}", target.display))
}
