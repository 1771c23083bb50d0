//! Surrogate generation: a production-shaped, secret-free SQLite database,
//! deterministic from (profile, seed, rollproof version).
//!
//! Two generators live here. The generic engine (`engine`, `plan`,
//! `produce`, `make`, `values`, `check`, `keys`, `sink_sqlite`) fills any
//! schema from statistics: [`fill`] for an existing database,
//! [`generate_schema`] for a new surrogate file, [`postgres::generate`]
//! for a new PostgreSQL database. The birth-register
//! surface's own generator (`counts`, `history`, `sample`, `system`, and
//! [`generate`] below) writes the modeled Directus history until the
//! surface moves onto the engine.
//!
//! Why it is byte-deterministic: every value comes from ChaCha8 streams keyed
//! by SHA-256(seed, table) (so one table's count never shifts another's
//! values), rows are written in one fixed order with fixed commit points, the
//! page size and journal mode are fixed, and the SQLite library is pinned by
//! Cargo.lock. Memory stays flat: ids are derived from their index, not kept.

mod batch;
pub mod check;
mod counts;
pub mod engine;
pub mod estimate;
mod history;
pub mod keys;
pub mod make;
pub mod plan;
pub mod postgres;
mod produce;
mod sample;
mod sink_sqlite;
pub mod stats;
mod system;
pub mod types;
pub mod values;

pub use engine::{FillSummary, fill};
pub use stats::{ColumnStats, FanOut, FillStats, RowCounts, TableStats};

use counts::counts_by_table;
pub use counts::{Counts, SCALED_TABLES};
use sample::{Col, ascii_lower, make_payload};

use crate::profile::Profile;
use crate::surface;
use crate::util::fsutil;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rusqlite::Connection;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The day the generated history ends at when the profile names none
/// (`[profile] as_of`, `generate --as-of`): a fixed date, never the clock.
pub const DEFAULT_AS_OF: &str = "2026-07-01";
/// Length of the generated history (1,277 days: from 2023-01-01 to the
/// default as-of day).
const HISTORY_SPAN_MS: i64 = 1_277 * 86_400_000;

/// Where the generated history ends: 00:00:00.000Z of the as-of day
/// (`YYYY-MM-DD`, between 2000-01-01 and 9999-12-31; None = [`DEFAULT_AS_OF`]),
/// as epoch milliseconds. Every event falls in the [`HISTORY_SPAN_MS`]
/// before it.
pub fn history_end_ms(as_of: Option<&str>) -> Result<i64, String> {
    let day = as_of.unwrap_or(DEFAULT_AS_OF);
    let days = (day.len() == 10)
        .then(|| crate::util::timefmt::parse_day(day))
        .flatten()
        .filter(|_| ("2000-01-01"..="9999-12-31").contains(&day))
        .ok_or_else(|| {
            format!("as-of date '{day}' is not a YYYY-MM-DD day between 2000-01-01 and 9999-12-31")
        })?;
    Ok(days * 86_400_000)
}
/// Events per transaction: large enough to stream fast, fixed for determinism.
const EVENTS_PER_COMMIT: u64 = 100_000;
/// Updates pick among the most recently created objects.
const RECENT_OBJECTS: u64 = 2_000;
/// Page size of every generated file.
pub const PAGE_SIZE: u32 = 4096;
/// Fields `objects` declares in `directus_fields`, in its column order
/// (`surrogates/surface/production.toml`; a unit test keeps them equal).
const OBJECT_FIELDS: &[(&str, Option<&str>, &str)] = &[
    ("id", Some("uuid"), "input"),
    ("status", None, "select-dropdown"),
    ("user_created", Some("user-created"), "select-dropdown-m2o"),
    ("date_created", Some("date-created"), "datetime"),
    ("user_updated", Some("user-updated"), "select-dropdown-m2o"),
    ("date_updated", Some("date-updated"), "datetime"),
    ("kind", None, "select-dropdown"),
    ("key", None, "input"),
    ("payload", Some("cast-json"), "input-code"),
];

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// A constraint no generated row can satisfy.
    #[error("table {table}: cannot satisfy {constraint}: {problem}")]
    Unsatisfiable {
        table: String,
        constraint: String,
        problem: String,
    },
    /// Unusable input (schema, statistics, counts, connection state).
    #[error("{0}")]
    Unusable(String),
    /// SQLite failed while creating or filling a table.
    #[error("filling {table}: {source}")]
    Fill {
        table: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("profile {profile} cannot be generated: {problem}")]
    Shape { profile: String, problem: String },
    #[error(transparent)]
    Write(#[from] fsutil::WriteError),
    /// `--out` exists and is not a regular file (a FIFO, device, folder).
    #[error(transparent)]
    Input(#[from] fsutil::InputError),
    #[error("generating {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Hash(#[from] crate::hash::HashError),
    #[error("will not replace {path}")]
    Refused {
        path: PathBuf,
        #[source]
        source: crate::guard::Refusal,
    },
}

/// What one generation produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Generated {
    /// Where the surrogate was written.
    pub path: PathBuf,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
    /// File size in bytes.
    pub size: u64,
    /// Rows written per table.
    pub rows: BTreeMap<String, u64>,
    /// Wall time in seconds.
    pub seconds: f64,
}

impl Generated {
    fn new(
        out: &Path,
        sha256: String,
        size: u64,
        rows: BTreeMap<String, u64>,
        started: Instant,
    ) -> Generated {
        Generated {
            path: out.to_path_buf(),
            sha256,
            size,
            rows,
            seconds: started.elapsed().as_secs_f64(),
        }
    }
}

/// Generate a surrogate at `out` (atomically: a temp file renamed into place;
/// without `overwrite` an existing file is refused and left alone).
pub fn generate(
    profile: &Profile,
    profile_label: &str,
    seed: u64,
    scale: f64,
    out: &Path,
    overwrite: bool,
) -> Result<Generated, GenerateError> {
    let started = Instant::now();
    let counts = Counts::from_profile(profile, scale).map_err(|problem| GenerateError::Shape {
        profile: profile_label.to_string(),
        problem,
    })?;
    let end_ms = history_end_ms(profile.profile.as_of.as_deref()).map_err(|problem| {
        GenerateError::Shape {
            profile: profile_label.to_string(),
            problem,
        }
    })?;
    let at = |source| GenerateError::Sqlite {
        path: out.to_path_buf(),
        source,
    };
    let (sha256, size) = write_file(out, overwrite, |conn| {
        Generator::new(conn, profile, seed, &counts, end_ms)
            .run()
            .map_err(at)?;
        // Provenance record (guard issue #7): deterministic, no time or path.
        crate::guard::provenance::stamp_surrogate(conn, profile, seed, scale).map_err(at)
    })?;
    Ok(Generated::new(
        out,
        sha256,
        size,
        counts_by_table(&counts),
        started,
    ))
}

/// Write a new database at `out` through `build` (into a temp file beside
/// it), then fsync while hashing and rename into place; (SHA-256, size).
/// Without `overwrite` an existing file is refused and left alone; with it,
/// only a plain file or an earlier surrogate is replaced.
fn write_file(
    out: &Path,
    overwrite: bool,
    build: impl FnOnce(&Connection) -> Result<(), GenerateError>,
) -> Result<(String, u64), GenerateError> {
    if !overwrite && out.exists() {
        return Err(fsutil::WriteError::Exists {
            path: out.to_path_buf(),
        }
        .into());
    }
    if overwrite {
        refuse_to_replace_foreign_database(out, None)?;
    }
    let tmp = fsutil::temp_beside(out)?;
    let sql_err = |source| GenerateError::Sqlite {
        path: out.to_path_buf(),
        source,
    };
    {
        let conn = Connection::open(tmp.path()).map_err(sql_err)?;
        build(&conn)?;
        conn.close().map_err(|(_, e)| sql_err(e))?;
    }
    // Hash the finished file while the kernel writes it to disk: the two
    // overlap instead of adding up (commit's own fsync then finds little
    // left to do).
    let (digest, synced) = std::thread::scope(|s| {
        let digest = s.spawn(|| crate::hash::file_sha256_as(tmp.path(), out));
        let synced = tmp.as_file().sync_all();
        (digest.join(), synced)
    });
    let digest = digest.unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
    synced.map_err(|source| fsutil::WriteError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    if overwrite {
        refuse_to_replace_foreign_database(out, Some(&digest.sha256))?;
    }
    fsutil::commit(tmp, out, overwrite)?;
    crate::hash::memo::renamed(out);
    crate::guard::provenance::note_generated(out, &digest.sha256);
    Ok((digest.sha256, digest.size))
}

/// What to generate with the generic engine.
pub struct SchemaJob<'a> {
    /// The schema to build.
    pub schema: &'a crate::schema::Schema,
    /// Statistics to follow.
    pub stats: &'a FillStats,
    /// Rows per table (already scaled).
    pub rows: &'a RowCounts,
    /// Seed of every value.
    pub seed: u64,
    /// Scale the counts were multiplied by (recorded in the provenance).
    pub scale: f64,
    /// SHA-256 naming the profile (recorded in the provenance).
    pub profile_sha256: &'a str,
}

/// Generate a surrogate of any schema at `out` with the generic engine
/// (atomically; without `overwrite` an existing file is refused).
pub fn generate_schema(
    job: &SchemaJob<'_>,
    out: &Path,
    overwrite: bool,
) -> Result<Generated, GenerateError> {
    let started = Instant::now();
    let mut summary = None;
    let at = |source| GenerateError::Sqlite {
        path: out.to_path_buf(),
        source,
    };
    let (sha256, size) = write_file(out, overwrite, |conn| {
        summary = Some(engine::build_file(
            conn, job.schema, job.stats, job.rows, job.seed,
        )?);
        // A rollproof surrogate, whatever its schema: the guard adopts it
        // as a rehearsal's working copy only with this mark.
        conn.pragma_update(None, "application_id", surface::APPLICATION_ID)
            .map_err(at)?;
        crate::guard::provenance::Record::surrogate_digest(job.profile_sha256, job.seed, job.scale)
            .stamp(conn)
            .map_err(at)
    })?;
    let rows = summary.map(|s| s.rows).unwrap_or_default();
    Ok(Generated::new(out, sha256, size, rows, started))
}

/// Generate the format-2 `profile` (its own schema and statistics, every
/// table scaled by `scale`) into a new SQLite file at `out` with the
/// generic engine; also returns what did not cross into SQLite.
pub fn generate_profile(
    profile: &Profile,
    seed: u64,
    scale: f64,
    out: &Path,
    overwrite: bool,
) -> Result<(Generated, Vec<crate::schema::render::Skipped>), GenerateError> {
    let schema = profile
        .schema
        .as_ref()
        .ok_or_else(|| GenerateError::Unusable("a format-1 profile has no [schema]".into()))?;
    let (schema, skipped) = sqlite_form(schema)?;
    let stats = FillStats::from(profile);
    let rows = stats.row_counts(scale);
    let sha = crate::guard::provenance::profile_sha256(profile);
    let job = SchemaJob {
        schema: &schema,
        stats: &stats,
        rows: &rows,
        seed,
        scale,
        profile_sha256: &sha,
    };
    Ok((generate_schema(&job, out, overwrite)?, skipped))
}

/// A schema in SQLite's dialect: itself, or a PostgreSQL schema rendered
/// with the nearest SQLite types and read back (table keys stay the same:
/// a table outside `public` becomes the one SQLite name `namespace.table`).
/// Also returns what did not cross (functions, triggers, …), to report.
pub fn sqlite_form(
    schema: &crate::schema::Schema,
) -> Result<
    (
        std::borrow::Cow<'_, crate::schema::Schema>,
        Vec<crate::schema::render::Skipped>,
    ),
    GenerateError,
> {
    use crate::schema::{Dialect, render};
    if schema.dialect == Dialect::Sqlite {
        return Ok((std::borrow::Cow::Borrowed(schema), Vec::new()));
    }
    let unusable =
        |e: String| GenerateError::Unusable(format!("rendering the schema for SQLite: {e}"));
    let conn = Connection::open_in_memory().map_err(|e| unusable(e.to_string()))?;
    let rendered = render::render(schema, Dialect::Sqlite);
    let skipped = render::sqlite::load(&conn, &rendered).map_err(|e| unusable(e.to_string()))?;
    let lite = crate::schema::sqlite::read(&conn).map_err(|e| unusable(e.to_string()))?;
    Ok((std::borrow::Cow::Owned(lite), skipped))
}

/// `--force` may replace a plain file or an earlier surrogate, never a
/// database rollproof did not generate (fail closed: it could be real data).
/// Before generating (`new_sha256` None) the quick checks; once the new
/// file's digest is known, the proof: the old file has exactly the new bytes,
/// or it regenerates from its own record ([`crate::guard::provenance::prove_generated`]),
/// so a record copied into a foreign database never gets it replaced.
fn refuse_to_replace_foreign_database(
    out: &Path,
    new_sha256: Option<&str>,
) -> Result<(), GenerateError> {
    let mut file = match fsutil::open_regular(out, "output file") {
        Ok(f) => f,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let mut magic = [0u8; 16];
    let is_sqlite =
        std::io::Read::read_exact(&mut file, &mut magic).is_ok() && &magic == b"SQLite format 3\0";
    if !is_sqlite {
        return Ok(());
    }
    let refused = |source| GenerateError::Refused {
        path: out.to_path_buf(),
        source,
    };
    let record = match crate::guard::provenance::read_record(out) {
        Ok(r) if r.kind == crate::guard::provenance::Kind::Surrogate => r,
        _ => {
            return Err(refused(crate::guard::Refusal::new(format!(
                "{} is a SQLite database without a valid rollproof surrogate record; \
                 --force only replaces surrogates rollproof generated",
                out.display()
            ))));
        }
    };
    let Some(new_sha256) = new_sha256 else {
        return Ok(());
    };
    let old = crate::hash::file_sha256(out)?;
    if old.sha256 == new_sha256 {
        return Ok(());
    }
    crate::guard::provenance::prove_generated(out, &record, &old.sha256).map_err(refused)
}

/// SHA-256(seed ‖ label ‖ index): the root of every derived value.
fn derive(seed: u64, label: &str, index: u64) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(seed.to_be_bytes());
    h.update((label.len() as u64).to_be_bytes());
    h.update(label.as_bytes());
    h.update(index.to_be_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(&h.finalize());
    out
}

/// A ChaCha8 stream for one table.
pub fn table_rng(seed: u64, table: &str) -> ChaCha8Rng {
    ChaCha8Rng::from_seed(derive(seed, table, u64::MAX))
}

/// A v4-shaped UUID derived from (seed, label, index): ids are recomputed
/// on demand instead of being kept in memory.
pub fn derived_uuid(seed: u64, label: &str, index: u64) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&derive(seed, label, index)[..16]);
    uuid_v4(b)
}

/// Sixteen random bytes as a version-4 UUID (`xxxxxxxx-xxxx-4xxx-yxxx-…`).
pub fn uuid_v4(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

struct Generator<'a> {
    conn: &'a Connection,
    profile: &'a Profile,
    seed: u64,
    counts: &'a Counts,
    /// First moment of the generated history (epoch ms).
    start_ms: i64,
    bar: indicatif::ProgressBar,
}

impl<'a> Generator<'a> {
    fn new(
        conn: &'a Connection,
        profile: &'a Profile,
        seed: u64,
        counts: &'a Counts,
        end_ms: i64,
    ) -> Self {
        let bar = crate::util::progress::rows_bar(counts.total(), "generating surrogate");
        Generator {
            conn,
            profile,
            seed,
            counts,
            start_ms: end_ms - HISTORY_SPAN_MS,
            bar,
        }
    }

    fn col(&self, table: &str, column: &str, default_cats: &[(&str, f64)]) -> Col {
        Col::new(self.profile.column(table, column), default_cats)
    }

    fn user_id(&self, i: u64) -> String {
        derived_uuid(self.seed, "directus_users", i)
    }

    fn run(&mut self) -> rusqlite::Result<()> {
        let c = self.conn;
        c.pragma_update(None, "page_size", PAGE_SIZE)?;
        c.pragma_update(None, "journal_mode", "OFF")?;
        c.pragma_update(None, "synchronous", "OFF")?;
        c.pragma_update(None, "cache_size", -32_768)?; // 32 MiB, whatever the size
        c.execute_batch(&surface::tables_sql())?;
        c.pragma_update(None, "application_id", surface::APPLICATION_ID)?;
        c.pragma_update(None, "user_version", surface::SURFACE_VERSION)?;
        c.execute_batch("BEGIN")?;
        self.migrations()?;
        self.roles_policies_access()?;
        self.users()?;
        self.settings()?;
        self.collections_fields_relations()?;
        self.history()?;
        self.last_access()?;
        // Secondary indexes are built once at the end: faster than keeping
        // them up to date row by row, same final content.
        c.execute_batch(&surface::indexes_sql())?;
        c.execute_batch("COMMIT")?;
        self.bar.finish_and_clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_fields_follow_its_columns() {
        let t = surface::production::schema().table("objects").unwrap();
        let columns: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
        let fields: Vec<&str> = OBJECT_FIELDS.iter().map(|f| f.0).collect();
        assert_eq!(fields, columns);
    }

    #[test]
    fn derived_uuids_are_v4_shaped_and_distinct() {
        let a = derived_uuid(1, "t", 0);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_ne!(a, derived_uuid(1, "t", 1));
        assert_ne!(a, derived_uuid(2, "t", 0));
    }

    /// The default profile at scale 0.05, generated once.
    fn surrogate() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("surrogates/profiles/default.toml");
        let p = Profile::load(&path).unwrap();
        let out = dir.path().join("s.db");
        generate(&p, "default", 3, 0.05, &out, false).unwrap();
        let c = Connection::open(&out).unwrap();
        (dir, c)
    }

    fn count(c: &Connection, sql: &str) -> i64 {
        c.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn users_log_in_within_the_seat_limit_and_last_access_follows_logins() {
        let (_dir, c) = surrogate();
        let users = count(&c, "SELECT count(*) FROM directus_users");
        assert!(users > 10, "{users}");
        let argon = count(
            &c,
            &format!(
                "SELECT count(*) FROM directus_users WHERE password = '{}'",
                make::TEST_PASSWORD_ARGON2
            ),
        );
        assert_eq!(argon, users, "every password is the published test hash");
        // Seats as Directus counts them: active users whose role, or an
        // ancestor of it, reaches a policy with admin or app access.
        let seats = count(
            &c,
            "WITH RECURSIVE up(user, role) AS (
               SELECT id, role FROM directus_users WHERE status = 'active' AND role IS NOT NULL
               UNION SELECT up.user, r.parent FROM up JOIN directus_roles r ON r.id = up.role
               WHERE r.parent IS NOT NULL)
             SELECT count(DISTINCT up.user) FROM up
             JOIN directus_access a ON a.role = up.role
             JOIN directus_policies p ON p.id = a.policy
             WHERE p.admin_access OR p.app_access",
        );
        assert!((1..=system::SEATS as i64).contains(&seats), "{seats} seats");
        let active = count(
            &c,
            "SELECT count(*) FROM directus_users WHERE status = 'active'",
        );
        assert!(active > seats, "API-only users stay active: {active}");
        // Directus without a license locks while an active user uses SSO.
        let sso = count(
            &c,
            "SELECT count(*) FROM directus_users WHERE status = 'active' AND provider <> 'default'",
        );
        assert_eq!(sso, 0, "no active SSO user");
        assert!(
            count(
                &c,
                "SELECT count(*) FROM directus_users WHERE provider <> 'default'"
            ) > 0,
            "the profile's SSO users are there, not active"
        );
        let wrong = count(
            &c,
            "SELECT count(*) FROM directus_users u WHERE u.last_access IS NOT
               (SELECT max(\"timestamp\") FROM directus_activity a
                WHERE a.action = 'login' AND a.\"user\" = u.id)",
        );
        assert_eq!(wrong, 0, "last_access is the last login");
        assert!(
            count(
                &c,
                "SELECT count(*) FROM directus_users WHERE last_access IS NOT NULL"
            ) > 0
        );
    }

    #[test]
    fn activity_follows_the_item_by_a_few_milliseconds() {
        let (_dir, c) = surrogate();
        let ms = |sql: &str| -> (i64, i64, i64) {
            c.query_row(sql, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
        };
        let lag =
            "CAST(round((julianday(a.\"timestamp\") - julianday(o.{col})) * 86400000) AS INTEGER)";
        // Plain creates (no registry record): 1–7 ms, as Directus writes them.
        let (n, lo, hi) = ms(&format!(
            "SELECT count(*), min({l}), max({l}) FROM directus_activity a JOIN objects o ON o.id = a.item
             WHERE a.action = 'create' AND o.id NOT IN (SELECT item FROM birth_registry)",
            l = lag.replace("{col}", "date_created")
        ));
        assert!(
            n > 0 && lo >= 1 && hi <= 7,
            "{n} creates, lag {lo}..{hi} ms"
        );
        // Births through fn_birth_register: one moment for both.
        let (n, lo, hi) = ms(&format!(
            "SELECT count(*), min({l}), max({l}) FROM directus_activity a JOIN birth_registry b ON b.activity = a.id
             JOIN objects o ON o.id = b.item",
            l = lag.replace("{col}", "date_created")
        ));
        assert!(n > 0 && lo == 0 && hi == 0, "{n} births, lag {lo}..{hi} ms");
    }

    #[test]
    fn no_constraint_directus_does_not_create() {
        let (_dir, c) = surrogate();
        let sql = |t: &str| -> String {
            c.query_row("SELECT sql FROM sqlite_schema WHERE name = ?1", [t], |r| {
                r.get(0)
            })
            .unwrap()
        };
        assert!(!sql("directus_users").contains("CHECK"));
        assert!(!sql("objects").contains("CHECK"));
        assert!(!sql("directus_fields").contains("UNIQUE"));
        assert!(!sql("directus_fields").contains("REFERENCES"));
        assert!(
            sql("birth_registry").contains("CHECK"),
            "production's own table keeps its check"
        );
        for ddl in [
            crate::engine::postgres::schema::tables_sql(),
            crate::engine::postgres::schema::constraints_sql(),
        ] {
            for name in [
                "directus_fields_collection_field_unique",
                "directus_fields_collection_foreign",
                "directus_users_status_check",
                "objects_status_check",
            ] {
                assert!(!ddl.contains(name), "{name}");
            }
        }
    }

    #[test]
    fn impossible_counts_are_refused() {
        let text =
            "[profile]\nname='x'\n[tables.objects]\nrows=10\n[tables.birth_registry]\nrows=11\n";
        let p = Profile::parse(text, Path::new("p")).unwrap();
        let e = Counts::from_profile(&p, 1.0).unwrap_err();
        assert!(
            e.contains("directus_roles") || e.contains("birth_registry"),
            "{e}"
        );
    }
}
