//! Preparing a rehearsal: the run folder in the workspace, the surrogate
//! (generated from a profile, or an existing rollproof database) and the
//! working copy the rehearsal writes to, made by `guard::adopt_copy`.

use super::RehearseError;
use crate::evidence::report::Surrogate;
use crate::rehearse::scenario::Loaded;
use std::path::{Path, PathBuf};

/// The prepared run.
pub struct Prepared {
    /// Run folder `<workspace>/runs/<name>-<stamp>-<id>/`.
    pub run_dir: PathBuf,
    /// The working copy the rehearsal writes to.
    pub target: PathBuf,
    /// A read-only file holding the before state (the generated surrogate
    /// or the scenario's source file), used as the diff's before side.
    pub source: PathBuf,
    /// The surrogate record (sha256/size filled by the caller from `before`).
    pub surrogate: Surrogate,
    /// Milliseconds spent generating, if a surrogate was generated.
    pub generate_ms: Option<u64>,
    /// PostgreSQL without a SQLite surrogate: `target` and `source` do not
    /// exist, the backend makes the target from this instead.
    pub server: Option<ServerSource>,
    /// Where the surrogate's generated history ends (epoch ms): 00:00Z of
    /// its profile's as-of day (`[profile] as_of`, `generate --as-of`),
    /// read from the scenario's profile or from the file's provenance
    /// record; [`crate::generate::DEFAULT_AS_OF`] for a database without
    /// one ([`super::births::DEFAULT_START_MS`]). Rehearsal births start
    /// there, after the history.
    pub history_end_ms: i64,
}

/// [`Prepared::history_end_ms`] of a profile (a bad `as_of` is bad input).
fn history_end(sc: &Loaded, profile: &crate::profile::Profile) -> Result<i64, RehearseError> {
    crate::generate::history_end_ms(profile.profile.as_of.as_deref()).map_err(|p| {
        RehearseError::Input(format!(
            "scenario {}: the surrogate's profile: {p}",
            sc.path.display()
        ))
    })
}

/// [`Prepared::history_end_ms`] of an existing file: the as-of day of the
/// profile its provenance record carries (a generated surrogate), else the
/// default day (an intake clone, a file without a record).
fn history_end_of_file(file: &Path) -> i64 {
    let as_of = crate::guard::provenance::read_record(file)
        .ok()
        .and_then(|r| r.profile_json)
        .and_then(|j| serde_json::from_str::<crate::profile::Profile>(&j).ok())
        .and_then(|p| p.profile.as_of);
    // A record's as-of day was checked when the file was generated.
    crate::generate::history_end_ms(as_of.as_deref()).unwrap_or(super::births::DEFAULT_START_MS)
}

/// Where a PostgreSQL target comes from when no SQLite file does.
pub enum ServerSource {
    /// The existing rollproof database the scenario's `url` alone names,
    /// copied.
    Database,
    /// A format-2 profile (any schema), generated into the target by the
    /// generic engine.
    Generate {
        profile: Box<crate::profile::Profile>,
        seed: u64,
        scale: f64,
    },
}

/// The source file alone must be the database: a `-wal` beside it holds
/// committed changes the main file does not, and a hot `-journal` an
/// interrupted one; rehearsing the main file alone would silently prove
/// something about another state. Refused, with the command that folds it
/// in (as `intake` does).
fn one_file(sc: &Loaded, file: &Path) -> Result<(), RehearseError> {
    let [wal, _, journal] = crate::engine::sqlite::snapshot::sidecars(file);
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    let problem = if wal_len > 0 {
        format!(
            "{} has a write-ahead log beside it ({}, {wal_len} bytes) with changes the main file does not hold, and a rehearsal of the main file alone would drop them; fold it in first: sqlite3 '{}' 'PRAGMA wal_checkpoint(TRUNCATE);'",
            file.display(),
            wal.display(),
            file.display()
        )
    } else if crate::engine::sqlite::snapshot::has_hot_journal(file) {
        format!(
            "{} has a hot journal beside it ({}) from an interrupted write; let SQLite roll it back first: sqlite3 '{}' 'PRAGMA quick_check;'",
            file.display(),
            journal.display(),
            file.display()
        )
    } else {
        return Ok(());
    };
    Err(RehearseError::Input(format!(
        "scenario {}: field `surrogate.file`: {problem} (a file bound to this workspace then has new bytes: take it in again with `rollproof intake`)",
        sc.path.display()
    )))
}

/// Make the run folder and the working copy.
pub fn prepare(
    sc: &Loaded,
    stamp: &str,
    run_id: &str,
    profile_override: Option<&Path>,
    on_pg: bool,
) -> Result<Prepared, RehearseError> {
    let root = crate::guard::workspace()?;
    let run_dir = root
        .join("runs")
        .join(format!("{}-{stamp}-{run_id}", sc.spec.scenario.name));
    // Marked with its owner until the run ends: a killed run's folder is a
    // leftover that `rollproof clean` removes, and SIGINT/SIGTERM remove it.
    crate::util::cleanup::begin_folder(&run_dir, &root).map_err(|source| RehearseError::Io {
        what: "cannot create run folder",
        path: run_dir.clone(),
        source,
    })?;
    let target = run_dir.join("target.db");
    let spec = &sc.spec.surrogate;
    let mut generate_ms = None;
    let (source, surrogate, history_end_ms) = match (&spec.profile, &spec.file) {
        (Some(p), _) => {
            let profile_path = profile_override
                .map(Path::to_path_buf)
                .unwrap_or_else(|| sc.resolve(p));
            // Read once: the digest in the report is of the very bytes parsed.
            use crate::util::fsutil::{limit, read_bounded_string};
            let text = read_bounded_string(&profile_path, limit::PROFILE, "profile")
                .map_err(crate::profile::ProfileError::from)?;
            let bytes = text.as_bytes();
            let profile = crate::profile::Profile::parse(&text, &profile_path)?;
            let history_end_ms = history_end(sc, &profile)?;
            let seed = spec.seed.unwrap_or(1);
            let scale = spec.scale.unwrap_or(1.0);
            let out = run_dir.join("surrogate.db");
            let record = Surrogate {
                profile: Some(profile_path.display().to_string()),
                profile_sha256: Some(crate::hash::sha256_hex(bytes)),
                seed: Some(seed),
                scale: Some(scale),
                file: None,
                sha256: String::new(),
                size: 0,
                fidelity: None,
            };
            if on_pg && profile.schema.is_some() {
                // Any schema on PostgreSQL: generated straight into the
                // target by the backend.
                return Ok(Prepared {
                    run_dir,
                    source: target.clone(),
                    target,
                    surrogate: record,
                    generate_ms: None,
                    server: Some(ServerSource::Generate {
                        profile: Box::new(profile),
                        seed,
                        scale,
                    }),
                    history_end_ms,
                });
            }
            let started = std::time::Instant::now();
            if profile.schema.is_some() {
                crate::generate::generate_profile(&profile, seed, scale, &out, false)?;
            } else {
                crate::generate::generate(
                    &profile,
                    &profile_path.display().to_string(),
                    seed,
                    scale,
                    &out,
                    false,
                )?;
            }
            generate_ms = Some(started.elapsed().as_millis() as u64);
            let fidelity = if scale == 1.0 {
                crate::profile::fidelity::score(&out, &profile)
                    .ok()
                    .map(|f| f.score)
            } else {
                None
            };
            (out, Surrogate { fidelity, ..record }, history_end_ms)
        }
        (None, Some(f)) => {
            let file = sc.resolve(f);
            // Missing, a folder, a text or truncated file: bad input (exit
            // 2), named before the guard is asked about it.
            crate::engine::sqlite::header::check(&file).map_err(|e| {
                RehearseError::Input(format!(
                    "scenario {}: field `surrogate.file`: {e}",
                    sc.path.display()
                ))
            })?;
            one_file(sc, &file)?;
            let history_end_ms = history_end_of_file(&file);
            (
                file.clone(),
                Surrogate {
                    profile: None,
                    profile_sha256: None,
                    seed: None,
                    scale: None,
                    file: Some(file.display().to_string()),
                    sha256: String::new(),
                    size: 0,
                    fidelity: None,
                },
                history_end_ms,
            )
        }
        (None, None) if spec.url.is_some() => {
            let surrogate = Surrogate {
                profile: None,
                profile_sha256: None,
                seed: None,
                scale: None,
                file: None,
                sha256: String::new(),
                size: 0,
                fidelity: None,
            };
            return Ok(Prepared {
                run_dir,
                source: target.clone(),
                target,
                surrogate,
                generate_ms: None,
                server: Some(ServerSource::Database),
                // An existing PostgreSQL database carries no profile.
                history_end_ms: super::births::DEFAULT_START_MS,
            });
        }
        (None, None) => {
            return Err(RehearseError::Input(format!(
                "scenario {}: no surrogate",
                sc.path.display()
            )));
        }
    };
    crate::guard::adopt_copy(&source, &target)?;
    Ok(Prepared {
        run_dir,
        target,
        source,
        surrogate,
        generate_ms,
        server: None,
        history_end_ms,
    })
}
