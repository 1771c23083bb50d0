//! Surrogate generation: a production-shaped, secret-free SQLite database,
//! deterministic from (profile, seed, rollproof version).
//!
//! Why it is byte-deterministic: every value comes from ChaCha8 streams keyed
//! by SHA-256(seed, table) (so one table's count never shifts another's
//! values), rows are written in one fixed order with fixed commit points, the
//! page size and journal mode are fixed, and the SQLite library is pinned by
//! Cargo.lock. Memory stays flat: ids are derived from their index, not kept.

mod history;

use crate::fsutil;
use crate::profile::{ColumnProfile, Profile};
use crate::surface;
use crate::timefmt::iso_millis;
use fake::Fake;
use fake::faker::company::en::{Buzzword, CompanyName};
use fake::faker::job::en::Title;
use fake::faker::lorem::en::{Sentence, Word, Words};
use fake::faker::name::en::{FirstName, LastName};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rusqlite::{Connection, params};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// First timestamp of the generated history (2023-01-01T00:00:00Z).
const HISTORY_START_MS: i64 = 1_672_531_200_000;
/// Length of the generated history (1,277 days, to mid-2026).
const HISTORY_SPAN_MS: i64 = 1_277 * 86_400_000;
/// Events per transaction: large enough to stream fast, fixed for determinism.
const EVENTS_PER_COMMIT: u64 = 100_000;
/// Updates pick among the most recently created objects.
const RECENT_OBJECTS: u64 = 2_000;
/// Page size of every generated file.
pub const PAGE_SIZE: u32 = 4096;
/// The placeholder every surrogate password holds: obviously not a hash.
pub const PASSWORD_PLACEHOLDER: &str = "rollproof-surrogate-placeholder-not-a-password";
/// Fields `objects` declares in `directus_fields`.
const OBJECT_FIELDS: &[(&str, Option<&str>, &str)] = &[
    ("id", Some("uuid"), "input"),
    ("status", None, "select-dropdown"),
    ("kind", None, "select-dropdown"),
    ("key", None, "input"),
    ("payload", Some("cast-json"), "input-code"),
    ("user_created", Some("user-created"), "select-dropdown-m2o"),
    ("date_created", Some("date-created"), "datetime"),
    ("user_updated", Some("user-updated"), "select-dropdown-m2o"),
    ("date_updated", Some("date-updated"), "datetime"),
];

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("profile {profile} cannot be generated: {problem}")]
    Shape { profile: String, problem: String },
    #[error(transparent)]
    Write(#[from] fsutil::WriteError),
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

/// Row counts after scaling, with the surface's invariants checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    pub roles: u64,
    pub policies: u64,
    pub access: u64,
    pub users: u64,
    pub settings: u64,
    pub collections: u64,
    pub fields: u64,
    pub relations: u64,
    pub objects: u64,
    pub births: u64,
    pub revisions: u64,
    pub activity: u64,
}

/// Tables whose row counts grow with `--scale`; the rest is configuration.
pub const SCALED_TABLES: &[&str] = &[
    "directus_users",
    "objects",
    "birth_registry",
    "directus_revisions",
    "directus_activity",
];

impl Counts {
    /// Scale the profile's counts and check they can coexist: every birth
    /// is an object, every object has a create revision, every revision an
    /// activity row.
    pub fn from_profile(p: &Profile, scale: f64) -> Result<Counts, String> {
        if !scale.is_finite() || scale <= 0.0 {
            return Err(format!("scale {scale} must be a positive number"));
        }
        let scaled = |t: &str| {
            let n = p.rows(t);
            if SCALED_TABLES.contains(&t) {
                (n as f64 * scale).round() as u64
            } else {
                n
            }
        };
        let c = Counts {
            roles: scaled("directus_roles"),
            policies: scaled("directus_policies"),
            access: scaled("directus_access"),
            users: scaled("directus_users"),
            settings: scaled("directus_settings"),
            collections: scaled("directus_collections"),
            fields: scaled("directus_fields"),
            relations: scaled("directus_relations"),
            objects: scaled("objects"),
            births: scaled("birth_registry"),
            revisions: scaled("directus_revisions"),
            activity: scaled("directus_activity"),
        };
        let need = |ok: bool, msg: &str| if ok { Ok(()) } else { Err(msg.to_string()) };
        if let Some(unknown) = p
            .tables
            .keys()
            .find(|t| !surface::TABLES.contains(&t.as_str()))
        {
            return Err(format!(
                "table '{unknown}' is not part of the birth-register surface ({})",
                surface::TABLES.join(", ")
            ));
        }
        need(
            c.roles >= 1,
            "directus_roles needs at least 1 row (Administrator)",
        )?;
        need(
            c.policies >= 2,
            "directus_policies needs at least 2 rows (public, admin)",
        )?;
        need(c.access >= 2, "directus_access needs at least 2 rows")?;
        need(
            c.users >= 1,
            "directus_users needs at least 1 row (the admin)",
        )?;
        need(c.settings <= 1, "directus_settings holds at most 1 row")?;
        need(
            c.collections >= 1,
            "directus_collections needs at least 1 row (objects)",
        )?;
        need(
            c.fields >= OBJECT_FIELDS.len() as u64,
            "directus_fields needs at least 9 rows (the objects collection's fields)",
        )?;
        need(
            c.relations >= 2,
            "directus_relations needs at least 2 rows (user_created, user_updated)",
        )?;
        need(
            c.births <= c.objects,
            "birth_registry cannot have more rows than objects",
        )?;
        need(
            c.revisions >= c.objects,
            "directus_revisions needs at least one (create) revision per object",
        )?;
        need(
            c.activity >= c.revisions,
            "directus_activity needs at least one activity row per revision",
        )?;
        Ok(c)
    }

    /// All rows this generation writes.
    pub fn total(&self) -> u64 {
        self.roles
            + self.policies
            + self.access
            + self.users
            + self.settings
            + self.collections
            + self.fields
            + self.relations
            + self.objects
            + self.births
            + self.revisions
            + self.activity
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
    if !overwrite && out.exists() {
        return Err(fsutil::WriteError::Exists {
            path: out.to_path_buf(),
        }
        .into());
    }
    if overwrite {
        refuse_to_replace_foreign_database(out)?;
    }
    let tmp = fsutil::temp_beside(out)?;
    let sql_err = |source| GenerateError::Sqlite {
        path: out.to_path_buf(),
        source,
    };
    {
        let conn = Connection::open(tmp.path()).map_err(sql_err)?;
        let mut g = Generator::new(&conn, profile, seed, &counts);
        g.run().map_err(sql_err)?;
        // Provenance record (guard issue #7): deterministic, no time or path.
        crate::provenance::stamp_surrogate(&conn, profile, seed, scale).map_err(sql_err)?;
        conn.close().map_err(|(_, e)| sql_err(e))?;
    }
    fsutil::commit(tmp, out, overwrite)?;
    let digest = crate::hash::file_sha256(out)?;
    Ok(Generated {
        path: out.to_path_buf(),
        sha256: digest.sha256,
        size: digest.size,
        rows: counts_by_table(&counts),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// `--force` may replace a plain file or an earlier surrogate, never a
/// database rollproof did not generate (fail closed: it could be real data).
fn refuse_to_replace_foreign_database(out: &Path) -> Result<(), GenerateError> {
    let mut magic = [0u8; 16];
    let is_sqlite = std::fs::File::open(out)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok()
        && &magic == b"SQLite format 3\0";
    if !is_sqlite {
        return Ok(());
    }
    match crate::provenance::read_record(out) {
        Ok(r) if r.kind == crate::provenance::Kind::Surrogate => Ok(()),
        _ => Err(GenerateError::Refused {
            path: out.to_path_buf(),
            source: crate::guard::Refusal::new(format!(
                "{} is a SQLite database without a valid rollproof surrogate record; \
                 --force only replaces surrogates rollproof generated",
                out.display()
            )),
        }),
    }
}

fn counts_by_table(c: &Counts) -> BTreeMap<String, u64> {
    [
        ("directus_roles", c.roles),
        ("directus_policies", c.policies),
        ("directus_access", c.access),
        ("directus_users", c.users),
        ("directus_settings", c.settings),
        ("directus_collections", c.collections),
        ("directus_fields", c.fields),
        ("directus_relations", c.relations),
        ("objects", c.objects),
        ("birth_registry", c.births),
        ("directus_revisions", c.revisions),
        ("directus_activity", c.activity),
    ]
    .into_iter()
    .map(|(t, n)| (t.to_string(), n))
    .collect()
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

/// A column's profile, turned into sampling rules.
struct Col {
    null: f64,
    length: Option<(u64, u64)>,
    range: Option<(f64, f64)>,
    cats: Vec<(String, f64)>,
    total: f64,
}

impl Col {
    fn new(p: ColumnProfile, default_cats: &[(&str, f64)]) -> Col {
        let cats: Vec<(String, f64)> = match p.categories {
            Some(c) => c.into_iter().collect(),
            None => default_cats
                .iter()
                .map(|(k, w)| (k.to_string(), *w))
                .collect(),
        };
        Col {
            null: p.null_fraction.unwrap_or(0.0),
            length: p.length.map(|[a, b]| (a, b)),
            range: p.range.map(|[a, b]| (a, b)),
            total: cats.iter().map(|(_, w)| w).sum(),
            cats,
        }
    }

    fn is_null(&self, rng: &mut ChaCha8Rng) -> bool {
        self.null > 0.0 && rng.random_bool(self.null.min(1.0))
    }

    /// A nullable text value: NULL at the profiled rate, else `make`'s
    /// output fitted to the profiled length.
    fn text(
        &self,
        rng: &mut ChaCha8Rng,
        make: impl FnOnce(&mut ChaCha8Rng) -> String,
    ) -> Option<String> {
        if self.is_null(rng) {
            return None;
        }
        let base = make(rng);
        Some(self.fit(rng, base))
    }

    fn category(&self, rng: &mut ChaCha8Rng) -> String {
        let mut x = rng.random::<f64>() * self.total;
        for (k, w) in &self.cats {
            if x < *w {
                return k.clone();
            }
            x -= w;
        }
        self.cats.last().map(|(k, _)| k.clone()).unwrap_or_default()
    }

    /// Fit `base` to the profiled length: pad with lorem words, then cut at
    /// a character boundary.
    fn fit(&self, rng: &mut ChaCha8Rng, base: String) -> String {
        let Some((lo, hi)) = self.length else {
            return base;
        };
        let target = rng.random_range(lo..=hi) as usize;
        let mut s = base;
        while s.len() < target {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(&Word().fake_with_rng::<String, _>(rng));
        }
        truncate_chars(&mut s, target);
        s
    }

    fn number(&self, rng: &mut ChaCha8Rng, default: (f64, f64)) -> f64 {
        let (lo, hi) = self.range.unwrap_or(default);
        if hi > lo {
            rng.random_range(lo..=hi)
        } else {
            lo
        }
    }
}

fn truncate_chars(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

struct Generator<'a> {
    conn: &'a Connection,
    profile: &'a Profile,
    seed: u64,
    counts: &'a Counts,
    bar: indicatif::ProgressBar,
}

impl<'a> Generator<'a> {
    fn new(conn: &'a Connection, profile: &'a Profile, seed: u64, counts: &'a Counts) -> Self {
        let bar = crate::progress::rows_bar(counts.total(), "generating surrogate");
        Generator {
            conn,
            profile,
            seed,
            counts,
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
        let (tables, indexes) = split_indexes(surface::SCHEMA_SQL);
        c.execute_batch(&tables)?;
        c.pragma_update(None, "application_id", surface::APPLICATION_ID)?;
        c.pragma_update(None, "user_version", surface::SURFACE_VERSION)?;
        c.execute_batch("BEGIN")?;
        self.roles_policies_access()?;
        self.users()?;
        self.settings()?;
        self.collections_fields_relations()?;
        self.history()?;
        // Secondary indexes are built once at the end: faster than keeping
        // them up to date row by row, same final content.
        c.execute_batch(&indexes)?;
        c.execute_batch("COMMIT")?;
        self.bar.finish_and_clear();
        Ok(())
    }

    fn roles_policies_access(&mut self) -> rusqlite::Result<()> {
        let mut rng = table_rng(self.seed, "directus_roles");
        let mut ins = self.conn.prepare(
            "INSERT INTO directus_roles (id, name, icon, description, parent) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let desc = self.col("directus_roles", "description", &[]);
        for i in 0..self.counts.roles {
            let name = if i == 0 {
                "Administrator".to_string()
            } else {
                format!(
                    "{} {}",
                    Buzzword().fake_with_rng::<String, _>(&mut rng),
                    Title().fake_with_rng::<String, _>(&mut rng)
                )
            };
            let description = desc.text(&mut rng, |r| Sentence(4..10).fake_with_rng(r));
            let parent = (i > 1 && rng.random_bool(0.2))
                .then(|| derived_uuid(self.seed, "directus_roles", rng.random_range(1..i)));
            ins.execute(params![
                derived_uuid(self.seed, "directus_roles", i),
                name,
                "supervised_user_circle",
                description,
                parent
            ])?;
        }
        self.bar.inc(self.counts.roles);

        let mut ins = self.conn.prepare(
            "INSERT INTO directus_policies (id, name, icon, description, enforce_tfa, admin_access, app_access) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut rng = table_rng(self.seed, "directus_policies");
        for i in 0..self.counts.policies {
            let (name, admin, app) = match i {
                0 => ("$t:public_label".to_string(), false, false),
                1 => ("Administrator".to_string(), true, true),
                _ => (
                    format!("{} access", Buzzword().fake_with_rng::<String, _>(&mut rng)),
                    false,
                    rng.random_bool(0.7),
                ),
            };
            ins.execute(params![
                derived_uuid(self.seed, "directus_policies", i),
                name,
                "badge",
                Option::<String>::None,
                rng.random_bool(0.1),
                admin,
                app
            ])?;
        }
        self.bar.inc(self.counts.policies);

        let mut ins = self.conn.prepare(
            "INSERT INTO directus_access (id, role, \"user\", policy, sort) VALUES (?1, ?2, NULL, ?3, ?4)",
        )?;
        let mut rng = table_rng(self.seed, "directus_access");
        for i in 0..self.counts.access {
            let (role, policy) = match i {
                0 => (None, 0), // the public policy hangs off no role
                1 => (Some(0), 1),
                _ => (
                    Some(rng.random_range(0..self.counts.roles)),
                    rng.random_range(2..self.counts.policies.max(3)) % self.counts.policies,
                ),
            };
            let role = role.map(|r| derived_uuid(self.seed, "directus_roles", r));
            ins.execute(params![
                derived_uuid(self.seed, "directus_access", i),
                role,
                derived_uuid(self.seed, "directus_policies", policy),
                i as i64 + 1
            ])?;
        }
        self.bar.inc(self.counts.access);
        Ok(())
    }

    fn users(&mut self) -> rusqlite::Result<()> {
        let mut rng = table_rng(self.seed, "directus_users");
        let t = "directus_users";
        let status = self.col(
            t,
            "status",
            &[
                ("active", 0.9),
                ("suspended", 0.04),
                ("invited", 0.03),
                ("archived", 0.03),
            ],
        );
        let location = self.col(t, "location", &[]);
        let title = self.col(t, "title", &[]);
        let last_access = self.col(t, "last_access", &[]);
        let language = self.col(
            t,
            "language",
            &[
                ("en-US", 0.7),
                ("de-DE", 0.15),
                ("fr-FR", 0.1),
                ("nl-NL", 0.05),
            ],
        );
        let provider = self.col(t, "provider", &[("default", 0.85), ("keycloak", 0.15)]);
        let mut ins = self.conn.prepare(
            "INSERT INTO directus_users (id, first_name, last_name, email, password, location, title, status, role, last_access, provider, external_identifier, language, email_notifications)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )?;
        let domains = ["example.com", "example.org", "example.net"];
        for i in 0..self.counts.users {
            let first: String = FirstName().fake_with_rng(&mut rng);
            let last: String = LastName().fake_with_rng(&mut rng);
            let email = format!(
                "{}.{}.{}@{}",
                ascii_lower(&first),
                ascii_lower(&last),
                i,
                domains[rng.random_range(0..domains.len())]
            );
            let (status_v, role) = if i == 0 {
                ("active".to_string(), 0)
            } else {
                (
                    status.category(&mut rng),
                    rng.random_range(0..self.counts.roles),
                )
            };
            let provider_v = provider.category(&mut rng);
            let external = (provider_v != "default")
                .then(|| format!("ext-{}", derived_uuid(self.seed, "external_identifier", i)));
            let loc = location.text(&mut rng, |r| CompanyName().fake_with_rng(r));
            let title_v = title.text(&mut rng, |r| Title().fake_with_rng(r));
            let access = (!last_access.is_null(&mut rng))
                .then(|| iso_millis(HISTORY_START_MS + rng.random_range(0..HISTORY_SPAN_MS)));
            ins.execute(params![
                self.user_id(i),
                first,
                last,
                email,
                PASSWORD_PLACEHOLDER,
                loc,
                title_v,
                status_v,
                derived_uuid(self.seed, "directus_roles", role),
                access,
                provider_v,
                external,
                language.category(&mut rng),
                rng.random_bool(0.8),
            ])?;
        }
        self.bar.inc(self.counts.users);
        Ok(())
    }

    fn settings(&mut self) -> rusqlite::Result<()> {
        if self.counts.settings == 1 {
            self.conn.execute(
                "INSERT INTO directus_settings (project_name, project_url) VALUES ('Object Registry', 'https://cms.example.com')",
                [],
            )?;
            self.bar.inc(1);
        }
        Ok(())
    }

    fn collections_fields_relations(&mut self) -> rusqlite::Result<()> {
        let mut rng = table_rng(self.seed, "directus_collections");
        let mut coll = self.conn.prepare(
            "INSERT INTO directus_collections (collection, icon, note, hidden, singleton, accountability, sort) VALUES (?1, ?2, ?3, ?4, 0, 'all', ?5)",
        )?;
        coll.execute(params![
            surface::COLLECTION,
            "category",
            "Registered objects (born through fn_birth_register)",
            false,
            1
        ])?;
        let mut names = vec![surface::COLLECTION.to_string()];
        for i in 1..self.counts.collections {
            let name = format!(
                "{}_{}",
                ascii_lower(&Word().fake_with_rng::<String, _>(&mut rng)),
                i
            );
            let note = Sentence(3..8).fake_with_rng::<String, _>(&mut rng);
            coll.execute(params![
                name,
                "folder",
                note,
                rng.random_bool(0.1),
                i as i64 + 1
            ])?;
            names.push(name);
        }
        self.bar.inc(self.counts.collections);

        let mut field = self.conn.prepare(
            "INSERT INTO directus_fields (collection, field, special, interface, readonly, hidden, sort, width, required, searchable)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1)",
        )?;
        for (i, (name, special, interface)) in OBJECT_FIELDS.iter().enumerate() {
            let system = special.is_some();
            field.execute(params![
                surface::COLLECTION,
                name,
                special,
                interface,
                system,
                *name == "id",
                i as i64 + 1,
                if system { "half" } else { "full" },
                *name == "kind" || *name == "key"
            ])?;
        }
        let mut rng = table_rng(self.seed, "directus_fields");
        let extra = self.counts.fields - OBJECT_FIELDS.len() as u64;
        let others = &names[1..];
        for i in 0..extra {
            let owner = if others.is_empty() {
                surface::COLLECTION
            } else {
                others[(i as usize) % others.len()].as_str()
            };
            let name = format!(
                "{}_{}",
                ascii_lower(&Word().fake_with_rng::<String, _>(&mut rng)),
                i
            );
            let interface = [
                "input",
                "input-multiline",
                "boolean",
                "datetime",
                "select-dropdown",
            ][rng.random_range(0..5)];
            field.execute(params![
                owner,
                name,
                Option::<String>::None,
                interface,
                false,
                false,
                i as i64 + 10,
                "full",
                rng.random_bool(0.2)
            ])?;
        }
        self.bar.inc(self.counts.fields);

        let mut rel = self.conn.prepare(
            "INSERT INTO directus_relations (many_collection, many_field, one_collection, one_deselect_action) VALUES (?1, ?2, 'directus_users', 'nullify')",
        )?;
        rel.execute(params![surface::COLLECTION, "user_created"])?;
        rel.execute(params![surface::COLLECTION, "user_updated"])?;
        for i in 2..self.counts.relations {
            let owner = if others.is_empty() {
                surface::COLLECTION
            } else {
                others[(i as usize) % others.len()].as_str()
            };
            rel.execute(params![owner, format!("owner_{i}")])?;
        }
        self.bar.inc(self.counts.relations);
        Ok(())
    }
}

/// An object's JSON payload, padded to the profiled length.
fn make_payload(rng: &mut ChaCha8Rng, col: &Col, kind: &str) -> Value {
    let tags: Vec<String> = Words(1..4).fake_with_rng(rng);
    let lat = (col.number(rng, (-60.0, 70.0)) * 1e5).round() / 1e5;
    let lon = (rng.random_range(-180.0..180.0_f64) * 1e5).round() / 1e5;
    let mut body = json!({
        "title": Sentence(2..6).fake_with_rng::<String, _>(rng),
        "serial": format!("SN-{}-{:06}", kind.to_uppercase(), rng.random_range(0..1_000_000u32)),
        "location": {"lat": lat, "lon": lon},
        "tags": tags,
        "notes": "",
    });
    let target = match col.length {
        Some((lo, hi)) => rng.random_range(lo..=hi) as usize,
        None => 0,
    };
    let len = body.to_string().len();
    if target > len {
        let notes = col_fit_words(rng, target - len);
        body["notes"] = Value::String(notes);
    }
    body
}

fn col_fit_words(rng: &mut ChaCha8Rng, target: usize) -> String {
    let mut s = String::with_capacity(target + 16);
    while s.len() < target {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(&Word().fake_with_rng::<String, _>(rng));
    }
    truncate_chars(&mut s, target);
    s
}

fn ascii_lower(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Split the surface DDL into (tables, secondary indexes).
fn split_indexes(sql: &str) -> (String, String) {
    let (mut tables, mut indexes) = (String::new(), String::new());
    for stmt in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let dest = if stmt.starts_with("CREATE INDEX") {
            &mut indexes
        } else {
            &mut tables
        };
        dest.push_str(stmt);
        dest.push_str(";\n");
    }
    (tables, indexes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_uuids_are_v4_shaped_and_distinct() {
        let a = derived_uuid(1, "t", 0);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_ne!(a, derived_uuid(1, "t", 1));
        assert_ne!(a, derived_uuid(2, "t", 0));
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
