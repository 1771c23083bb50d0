//! The rehearsal engine: before → snapshot → apply → rollback → after on a
//! working copy in the workspace, measured at every phase, judged from the
//! report it writes by the rules `verify` uses too (`proof::judge`), and written as a sealed proof report.
//!
//! The engine talks to the database only through [`crate::engine::Backend`]
//! and never prints: it reports progress through a callback and returns the
//! report; the `rehearse` command does the printing.

mod apply;
pub mod births;
pub mod faults;
mod finish;
mod inputs;
mod rollback;
pub mod scenario;
mod setup;

use crate::proof::judge;

use finish::diff_if_needed;
pub use finish::phase_line;

use crate::engine::sqlite::backend::SqliteBackend;
use crate::engine::{Backend, BackendError, RollbackMethod};
use crate::evidence::report::{
    self, ApplyRecord, FaultRecord, Methods, Phases, Proof, Report, ScenarioRef, ScriptSettings,
    Verdict,
};
use crate::rehearse::scenario::{FaultKind, Loaded};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Rows shown per differing table in the diff.
pub const DIFF_ROWS: usize = 5;

/// Why a rehearsal could not run to a verdict.
#[derive(Debug, thiserror::Error)]
pub enum RehearseError {
    /// The guard refused (exit code 3).
    #[error("rehearsal refused")]
    Refused(#[from] crate::guard::Refusal),
    /// Bad input the scenario points at.
    #[error("{0}")]
    Input(String),
    /// A profile could not be loaded.
    #[error(transparent)]
    Profile(#[from] crate::profile::ProfileError),
    /// The surrogate could not be generated.
    #[error(transparent)]
    Generate(#[from] crate::generate::GenerateError),
    /// A file operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A backend operation failed where the rehearsal cannot go on.
    #[error("rehearsal stopped")]
    Backend(#[source] BackendError),
    /// The report could not be written.
    #[error(transparent)]
    Report(#[from] report::ReportError),
}

impl From<BackendError> for RehearseError {
    fn from(e: BackendError) -> Self {
        match e {
            BackendError::Refused(r) => RehearseError::Refused(r),
            other => RehearseError::Backend(other),
        }
    }
}

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Keep before/snapshot/after-apply/after-rollback artifacts under this folder.
    pub keep: Option<PathBuf>,
    /// Where reports go (`reports/`).
    pub reports: PathBuf,
    /// Generate from this profile instead of the scenario's (tests, dry runs).
    pub profile_override: Option<PathBuf>,
    /// Rehearse on this PostgreSQL server instead of the scenario's
    /// `surrogate.url` (docs/POSTGRES.md).
    pub target_url: Option<String>,
    /// PostgreSQL server hosts allowed besides loopback.
    pub allow_hosts: Vec<String>,
    /// Sign each report with this key (`<report>.json.sig`).
    pub sign_key: Option<std::sync::Arc<crate::evidence::sign::SigningKey>>,
}

/// A finished rehearsal.
pub struct Outcome {
    /// The sealed report.
    pub report: Report,
    /// Where it was written.
    pub path: PathBuf,
    /// The run folder, when it was kept (outcome differed from expectation).
    pub kept_run_dir: Option<PathBuf>,
    /// Where the artifacts were kept (`--keep DIR`: DIR/<scenario>/<run>).
    pub kept_artifacts: Option<PathBuf>,
    /// The report's detached signature, when a key was given.
    pub signature: Option<PathBuf>,
}

fn ms(t: Instant) -> u64 {
    t.elapsed().as_millis() as u64
}

fn short_id(seed: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    crate::hash::sha256_hex(format!("{seed}:{nanos}:{}", std::process::id()).as_bytes())[..8]
        .to_string()
}

/// Keep one artifact (a copy) in the keep folder, with the hot `-journal`
/// beside it if there is one (`verify --artifacts` needs both).
fn keep_file(dir: &Option<PathBuf>, name: &str, from: &Path) -> Result<(), RehearseError> {
    if let Some(d) = dir {
        let to = d.join(name);
        let copy = |from: &Path, to: &Path| {
            std::fs::copy(from, to).map_err(|source| RehearseError::Io {
                what: "cannot keep artifact",
                path: from.to_path_buf(),
                source,
            })
        };
        copy(from, &to)?;
        let journal = &crate::engine::sqlite::snapshot::sidecars(from)[2];
        if journal.is_file() {
            copy(journal, &crate::engine::sqlite::snapshot::sidecars(&to)[2])?;
        }
    }
    Ok(())
}

/// Why a run is a dry run (its surrogate is not the scenario's), if it is.
fn dry_run_reason(sc: &Loaded, opts: &Options) -> Option<String> {
    let declared = sc.spec.surrogate.profile.as_ref()?;
    let used = opts.profile_override.as_ref()?;
    let same = |a: &Path, b: &Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y);
    if same(&sc.resolve(declared), used) {
        return None;
    }
    Some(format!(
        "--profile-override {} replaced the scenario's profile {}",
        used.display(),
        declared.display()
    ))
}

/// Run one scenario. `say` gets one line per step (phase-by-phase output).
pub fn run(
    sc: &Loaded,
    opts: &Options,
    say: &mut dyn FnMut(&str),
) -> Result<Outcome, RehearseError> {
    let t_total = Instant::now();
    let spec = &sc.spec;
    let started_at = crate::util::timefmt::iso_millis(crate::util::timefmt::now_millis());
    let run_id = short_id(&sc.sha256);
    let stamp: String = started_at
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .take(15)
        .collect::<String>()
        + "Z";
    let mut timing = BTreeMap::new();

    // Inputs first: a missing or unrunnable script is bad input before
    // anything is made.
    let pg_url = opts
        .target_url
        .clone()
        .or_else(|| spec.surrogate.url.clone());
    let on_pg = pg_url.is_some();
    let scripts = inputs::scripts(sc, on_pg)?;

    let prep = setup::prepare(sc, &stamp, &run_id, opts.profile_override.as_deref(), on_pg)?;
    if let Some(g) = prep.generate_ms {
        timing.insert("generate".to_string(), g);
        say(&format!(
            "generated surrogate from {} in {g} ms",
            prep.surrogate.profile.as_deref().unwrap_or("?")
        ));
    }
    let keep_dir = match &opts.keep {
        Some(k) => {
            let d = k
                .join(&spec.scenario.name)
                .join(format!("{stamp}-{run_id}"));
            let ws = crate::guard::workspace()?;
            crate::util::cleanup::begin_folder(&d, &ws).map_err(|source| RehearseError::Io {
                what: "cannot create keep folder",
                path: d.clone(),
                source,
            })?;
            Some(d)
        }
        None => None,
    };
    let db_leg = match &pg_url {
        // An existing PostgreSQL database: its own record says what it is.
        Some(url) if matches!(prep.server, Some(setup::ServerSource::Database)) => {
            crate::engine::postgres::backend::PostgresBackend::leg_of_database(
                url,
                &opts.allow_hosts,
            )?
        }
        _ => crate::guard::provenance::leg_of(&prep.target)
            .unwrap_or_else(|| crate::guard::provenance::LEG_SURROGATE.to_string()),
    };
    let leg = match &spec.scenario.leg {
        Some(l) if *l != db_leg => {
            return Err(RehearseError::Input(format!(
                "scenario {}: field `scenario.leg`: says \"{l}\" but the database's provenance record says \"{db_leg}\"",
                sc.path.display()
            )));
        }
        _ => db_leg,
    };
    let mut be: Box<dyn Backend> = match (&pg_url, &prep.server) {
        (Some(url), Some(setup::ServerSource::Database)) => Box::new(
            crate::engine::postgres::backend::PostgresBackend::from_database(
                url,
                &opts.allow_hosts,
                &run_id,
            )?,
        ),
        (
            Some(url),
            Some(setup::ServerSource::Generate {
                profile,
                seed,
                scale,
            }),
        ) => {
            let started = Instant::now();
            let be = crate::engine::postgres::backend::PostgresBackend::generated(
                url,
                &opts.allow_hosts,
                &run_id,
                profile,
                *seed,
                *scale,
            )?;
            let g = ms(started);
            timing.insert("generate".to_string(), g);
            say(&format!(
                "generated surrogate from {} into PostgreSQL in {g} ms",
                prep.surrogate.profile.as_deref().unwrap_or("?")
            ));
            Box::new(be)
        }
        (Some(url), None) => Box::new(
            crate::engine::postgres::backend::PostgresBackend::for_rehearsal(
                url,
                &opts.allow_hosts,
                &run_id,
                &prep.target,
            )?,
        ),
        (None, _) => Box::new(SqliteBackend::new(prep.target.clone())),
    };
    let snap_method = spec.snapshot.method;
    let rb_method = spec.rollback.method;
    // The sandbox is ready (PostgreSQL: the role owns the target) before
    // the target is first measured, so every phase sees the same database.
    let script_settings = if scripts.any() {
        let mode = scripts.settings.mode(false);
        Some(ScriptSettings {
            foreign_keys: mode.foreign_keys,
            transaction: mode.transaction.as_str().to_string(),
            sandbox: be.prepare_scripts(&mode)?,
        })
    } else {
        None
    };

    // before, and the snapshot taken while it is measured (neither writes)
    let t = Instant::now();
    let snap_path = prep.run_dir.join(if on_pg {
        "snapshot.dump"
    } else {
        "snapshot.db"
    });
    let (before, snap) = be.measure_and_snapshot(snap_method, &snap_path.display().to_string())?;
    timing.insert("before".into(), before.ms);
    timing.insert("snapshot".into(), ms(t));
    say(&phase_line("before", &before));
    if !on_pg {
        keep_file(&keep_dir, "before.db", &prep.target)?;
    }
    let mut surrogate = prep.surrogate.clone();
    match &before.file_sha256 {
        Some(h) => {
            surrogate.sha256 = h.clone();
            surrogate.size = before.size.unwrap_or(0);
        }
        // PostgreSQL without a SQLite file (an existing database copied, or
        // a schema generated into the target): its logical digest, as
        // there are no bytes to name.
        None if prep.server.is_some() => {
            surrogate.sha256 = before.logical.sha256.clone();
            surrogate.size = 0;
        }
        // PostgreSQL: the SQLite surrogate that was loaded into the server.
        None => {
            let f = crate::hash::file_sha256(&prep.target).map_err(|e| RehearseError::Io {
                what: "cannot hash",
                path: prep.target.clone(),
                source: e.source,
            })?;
            surrogate.sha256 = f.sha256;
            surrogate.size = f.size;
        }
    }

    let plan = match births::plan(&mut *be, sc, prep.history_end_ms) {
        Ok(p) => p,
        Err(e) => {
            // PostgreSQL: the target made for this run goes again.
            let _ = be.finish(false);
            return Err(e);
        }
    };
    let seq_before = be.sequences()?;

    let snapshot_phase = be.measure_snapshot(&snap, &[("before", &before)])?;
    say(&phase_line("snapshot", &snapshot_phase));
    if !on_pg {
        keep_file(&keep_dir, "snapshot.db", &snap_path)?;
    }

    // apply
    let fault = spec.fault.as_ref();
    let t = Instant::now();
    if rb_method == RollbackMethod::Transaction {
        be.begin_transaction()?;
    }
    let up = scripts.up.as_ref().map(|u| apply::Up {
        sql: &u.text,
        statements: u.statements,
        mode: scripts
            .settings
            .mode(rb_method == RollbackMethod::Transaction),
    });
    let applied = apply::apply(&mut *be, plan.as_ref(), up.as_ref(), fault)?;
    let apply_script = applied.script;
    let mut faults = applied.faults;
    let apply_error = applied.error;
    let mut births_done = applied.births_done;
    let births_reported = applied.births_reported;
    timing.insert("apply".into(), ms(t));
    if let Some(e) = &apply_error {
        say(&format!("apply failed: {e}"));
    }
    if let Some(d) = &keep_dir {
        be.keep_copy(&d.join("after-apply.db"))?;
    }

    // corrupt-snapshot fault (before after_apply is measured: a restore
    // may be staged while it is)
    if fault.map(|f| f.kind) == Some(FaultKind::CorruptSnapshot) {
        let detail = crate::rehearse::faults::corrupt_snapshot(&snap_path).map_err(|source| {
            RehearseError::Io {
                what: "cannot corrupt",
                path: snap_path.clone(),
                source,
            }
        })?;
        faults.push(FaultRecord {
            kind: "corrupt-snapshot".into(),
            injected: true,
            detail,
        });
    }

    // after_apply, then the rollback. Nothing is carried over: an apply
    // must have changed the bytes. A restore is staged while the target is
    // measured and replaces it only afterwards.
    let t = Instant::now();
    let (after_apply, restored) = if rb_method == RollbackMethod::Restore {
        let (phase, restored) = be.measure_and_restore(&[], &snap)?;
        (phase, Some(restored))
    } else {
        (be.measure(&[])?, None)
    };
    timing.insert("after_apply".into(), after_apply.ms);
    say(&phase_line("after_apply", &after_apply));
    // A staged restore's time overlaps the measurement's.
    let t = if restored.is_some() {
        t
    } else {
        Instant::now()
    };
    let (rollback, refused_corrupt) = rollback::roll_back(
        &mut *be,
        spec,
        &scripts,
        rollback::Undo {
            snap: &snap,
            staged: restored,
            plan: plan.as_ref(),
            births_done: births_done.unwrap_or(0),
            seq_before: &seq_before,
        },
        say,
    )?;
    timing.insert("rollback".into(), ms(t));
    let t = Instant::now();
    let after_rollback = be.measure(&[("before", &before), ("after_apply", &after_apply)])?;
    timing.insert("after_rollback".into(), ms(t));
    say(&phase_line("after_rollback", &after_rollback));
    if !on_pg {
        keep_file(&keep_dir, "after-rollback.db", &prep.target)?;
    }

    // the expected deltas as the scenario declared them (births: derived
    // again by the judge from the report; None: an sql scenario declares
    // none), and the observed ones the judge derives
    let expected: Option<BTreeMap<String, i64>> = match (&plan, &spec.apply.expect_rows) {
        (Some(_), _) => None,
        (None, m) => m.clone(),
    };
    if births_done.is_none() && plan.is_some() {
        let births = crate::proof::verdict::row_deltas(&before, &after_apply, false);
        births_done = births.get("birth_registry").map(|d| (*d).max(0) as u64);
    }
    let phases = Phases {
        before,
        snapshot: Some(snapshot_phase),
        after_apply: Some(after_apply),
        after_rollback: Some(after_rollback),
    };

    // diff, when the rollback did not restore the content
    let t = Instant::now();
    let diff = diff_if_needed(be.as_mut(), &phases, &prep.source, &snap, refused_corrupt)?;
    if diff.is_some() {
        timing.insert("diff".into(), ms(t));
    }
    if let Some(d) = &keep_dir {
        finish::write_sums(d)?;
    }
    timing.insert("total".into(), ms(t_total));

    let mut report = Report {
        schema_version: report::SCHEMA_VERSION,
        rollproof_version: env!("CARGO_PKG_VERSION").to_string(),
        sqlite_version: rusqlite::version().to_string(),
        backend: be.name().to_string(),
        run_id,
        started_at,
        scenario: ScenarioRef {
            path: sc.path.display().to_string(),
            sha256: sc.sha256.clone(),
            name: spec.scenario.name.clone(),
            description: spec.scenario.description.clone(),
        },
        blocker: spec.scenario.blocker.clone(),
        leg,
        surrogate,
        methods: Methods {
            apply: spec.apply.kind.as_str().into(),
            snapshot: snap_method.as_str().into(),
            rollback: rb_method.as_str().into(),
        },
        apply: ApplyRecord {
            births: plan.as_ref().map(|p| p.count),
            seed: plan.as_ref().map(|p| p.seed),
            kinds: plan
                .as_ref()
                .map(|p| p.kinds.iter().cloned().collect())
                .unwrap_or_default(),
            sql: scripts.up.as_ref().map(|u| u.path.clone()),
            sql_sha256: scripts.up.as_ref().map(|u| u.sha256.clone()),
            births_done,
            births_reported,
            expected_row_deltas: expected,
            observed_row_deltas: BTreeMap::new(),
            error: apply_error,
            script: apply_script,
        },
        rollback,
        scripts: script_settings,
        faults,
        phases,
        checks: Vec::new(),
        verdict: Verdict::Fail,
        proof: Proof::LogicalOnly,
        expected_verdict: spec.scenario.expect,
        as_expected: false,
        diff,
        timing_ms: timing,
        artifacts: keep_dir.as_ref().map(|d| d.display().to_string()),
        dry_run: dry_run_reason(sc, opts),
        seal: String::new(),
    };
    // The verdict: the same judgement `verify` recomputes from the report.
    let judged = judge::judge(&report).map_err(RehearseError::Input)?;
    report.proof = judged.proof;
    report.apply.expected_row_deltas = judged.expected;
    report.apply.observed_row_deltas = judged.observed;
    report.checks = judged.checks;
    report.verdict = judged.verdict;
    report.as_expected = report.verdict == spec.scenario.expect;
    let path = report.write_signed(&opts.reports, opts.sign_key.as_deref())?;
    let ws = crate::guard::workspace()?;
    let signature = opts
        .sign_key
        .as_ref()
        .map(|_| crate::evidence::sign::sig_path(&path));
    if let Some(d) = &keep_dir {
        let _ = std::fs::copy(&path, d.join("report.json"));
        if let Some(sig) = &signature {
            let _ = std::fs::copy(sig, d.join("report.json.sig"));
        }
        crate::util::cleanup::end_folder(d, &ws);
    }
    // PostgreSQL: drop the snapshot clones, and the target unless the
    // outcome was unexpected (then it is kept for inspection).
    if let Err(e) = be.finish(!report.as_expected) {
        say(&format!("cleanup: {e}"));
    }
    let kept_run_dir = if report.as_expected {
        crate::util::cleanup::remove_folder(&prep.run_dir, &ws);
        None
    } else {
        crate::util::cleanup::end_folder(&prep.run_dir, &ws);
        Some(prep.run_dir.clone())
    };
    Ok(Outcome {
        report,
        path,
        kept_run_dir,
        kept_artifacts: keep_dir,
        signature,
    })
}
