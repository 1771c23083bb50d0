//! One folder run, start to end: read the folder, choose the steps, make
//! the working database, run the step loop, build and write the sealed
//! report. The command layer only prints what this returns.

use super::engine::{EngineError, StepEngine};
use super::layout::{Folder, Layout, LayoutError, load};
use super::report::{
    FolderRef, KIND, MigrationsReport, RunnerRecord, SCHEMA_VERSION, SelectionRecord, StepReport,
    StepStatus, Summary,
};
use super::select::{SelectError, Selection, plan};
use super::step::{RunOptions, Transactions};
use super::tool;
use crate::evidence::report::{ReportError, Verdict};
use crate::schema::Dialect;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What to rehearse and how.
#[derive(Debug, Clone)]
pub struct Request {
    /// The migrations folder.
    pub dir: PathBuf,
    /// The layout, or None to detect it.
    pub layout: Option<Layout>,
    /// A PostgreSQL server URL (postgres://…/rollproof_<name>); None: SQLite.
    pub target_url: Option<String>,
    /// Extra allowed PostgreSQL hosts.
    pub allow_hosts: Vec<String>,
    /// SQLite foreign keys, or None for the tool's default.
    pub foreign_keys: Option<bool>,
    /// Transaction rule.
    pub transactions: Transactions,
    /// Which steps to rehearse.
    pub selection: Selection,
    /// Irreversible steps do not fail the folder.
    pub allow_irreversible: bool,
    /// Folder for the report (None: no report written).
    pub reports: Option<PathBuf>,
    /// Blocker the report is evidence for.
    pub blocker: String,
    /// Keep the run folder (working database, snapshot).
    pub keep: bool,
    /// Data first: how empty tables are filled before each step (the
    /// bookkeeping table is excluded by the run itself).
    pub data: super::data::DataPlan,
    /// Sign the report with this key (`<report>.json.sig`, as `rehearse`
    /// signs its reports).
    pub sign_key: Option<std::sync::Arc<crate::evidence::sign::SigningKey>>,
}

/// What the run produced.
#[derive(Debug)]
pub struct Outcome {
    /// The sealed report.
    pub report: MigrationsReport,
    /// Where it was written.
    pub path: Option<PathBuf>,
    /// Its detached signature, when it was signed.
    pub signature: Option<PathBuf>,
    /// The run folder, when kept.
    pub kept: Option<PathBuf>,
}

/// Progress events for the command layer.
pub enum Event<'a> {
    /// The folder was read: its layout and how many steps follow.
    Start {
        /// The folder.
        folder: &'a Folder,
        /// Steps to rehearse.
        rehearsed: usize,
        /// Backend name.
        backend: &'static str,
        /// Where the data comes from, in words (the report's `data`).
        data: String,
    },
    /// A step ended.
    Step(&'a StepReport),
}

/// Why a folder run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum MigrationsError {
    /// The folder could not be read.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The selection is wrong.
    #[error(transparent)]
    Select(#[from] SelectError),
    /// The database could not be driven.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The report could not be written.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// Bad input (options).
    #[error("{0}")]
    Input(String),
}

impl MigrationsError {
    /// For anyhow, keeping a guard refusal recognisable (exit code 3).
    pub fn into_anyhow(self) -> anyhow::Error {
        match self {
            MigrationsError::Engine(e) => e.into_anyhow(),
            other => anyhow::Error::new(other),
        }
    }
}

fn short_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    crate::hash::sha256_hex(format!("migrations:{nanos}:{}", std::process::id()).as_bytes())[..8]
        .to_string()
}

/// Every migration file and its digest, and the manifest digest over them.
fn manifest(f: &Folder) -> Result<(BTreeMap<String, String>, String), LayoutError> {
    let mut files = BTreeMap::new();
    for m in &f.migrations {
        for rel in &m.files {
            let p = f.dir.join(rel);
            let d = crate::hash::file_sha256(&p).map_err(|e| LayoutError::Io {
                path: p.clone(),
                source: e.source,
            })?;
            files.insert(rel.clone(), d.sha256);
        }
    }
    let lines: String = files.iter().map(|(p, h)| format!("{h}  {p}\n")).collect();
    Ok((files, crate::hash::sha256_hex(lines.as_bytes())))
}

fn runner_record(layout: Layout, req: &Request, fk: bool, dialect: Dialect) -> RunnerRecord {
    let table = tool::tool_table(layout).map(str::to_string);
    let bookkeeping = match (tool::bookkeeping_table(layout), layout) {
        (Some(_), _) => "maintained as the tool maintains it, and part of the proof".to_string(),
        (None, Layout::Flyway) => "not maintained: Flyway's undo appends an UNDO_SQL row instead of removing the versioned one, so flyway_schema_history never returns to its before state by design".to_string(),
        (None, _) => "none: the plain layout has no tool".to_string(),
    };
    RunnerRecord {
        bookkeeping_table: table,
        bookkeeping,
        transactions: match req.transactions {
            Transactions::Tool => "tool".into(),
            Transactions::On => "on".into(),
            Transactions::Off => "off".into(),
        },
        foreign_keys: match (dialect, req.foreign_keys) {
            (Dialect::Postgres, _) => "always on (PostgreSQL)".into(),
            (_, None) => format!("tool default ({})", if fk { "on" } else { "off" }),
            (_, Some(v)) => if v { "on".into() } else { "off".into() },
        },
        continue_rule: "a failing or non-restoring down (or redo) fails its step only: the snapshot is restored, the up applied again, and the run goes on; a failing up stops the run (later steps are not run)".into(),
    }
}

/// Run the folder rehearsal.
pub fn run(req: &Request, progress: &mut dyn FnMut(Event<'_>)) -> Result<Outcome, MigrationsError> {
    let started = Instant::now();
    let dialect = if req.target_url.is_some() {
        Dialect::Postgres
    } else {
        Dialect::Sqlite
    };
    let folder = load(&req.dir, req.layout, dialect)?;
    let (plan, resolved) = plan(&folder, &req.selection)?;
    let (files, manifest_sha256) = manifest(&folder)?;
    let mut data = req.data.clone();
    data.exclude
        .extend(tool::tool_table(folder.layout).map(str::to_string));
    let fk = req
        .foreign_keys
        .unwrap_or_else(|| tool::default_foreign_keys(folder.layout));
    let opts = RunOptions {
        layout: folder.layout,
        dialect,
        foreign_keys: fk,
        transactions: req.transactions,
        data: data.clone(),
    };
    let run_id = short_id();
    let started_at = crate::util::timefmt::iso_millis(crate::util::timefmt::now_millis());
    let stamp: String = started_at
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .take(15)
        .collect();
    let run_dir = crate::guard::workspace()
        .map_err(EngineError::from)?
        .join("migrations")
        .join(format!("{stamp}Z-{run_id}"));
    let mut engine: Box<dyn StepEngine> = match &req.target_url {
        None => Box::new(super::sqlite::SqliteEngine::create(
            &run_dir,
            &manifest_sha256,
            data.seed,
        )?),
        Some(url) => Box::new(super::postgres::PgEngine::create(
            url,
            &req.allow_hosts,
            &run_id,
            req.keep,
            &req.dir.display().to_string(),
        )?),
    };
    progress(Event::Start {
        folder: &folder,
        rehearsed: plan.iter().filter(|p| **p).count(),
        backend: engine.backend(),
        data: data.describe(),
    });
    let steps = super::step::run(engine.as_mut(), &folder, &plan, &opts, &mut |s| {
        progress(Event::Step(s))
    });
    let cleanup = if req.keep {
        Ok(())
    } else {
        std::fs::remove_dir_all(&run_dir).or_else(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Ok(())
            } else {
                Err(e)
            }
        })
    };
    let steps = steps?;
    cleanup.map_err(|source| EngineError::Io {
        what: "cannot remove the run folder".into(),
        path: run_dir.clone(),
        source,
    })?;
    let mut summary = Summary::default();
    for s in &steps {
        match s.status {
            StepStatus::Pass => summary.pass += 1,
            StepStatus::Fail => summary.fail += 1,
            StepStatus::Irreversible => summary.irreversible += 1,
            StepStatus::Setup => summary.setup += 1,
            StepStatus::NotRun => summary.not_run += 1,
        }
    }
    let statuses: Vec<StepStatus> = steps.iter().map(|s| s.status).collect();
    let verdict = if crate::proof::migrations::folder_passes(&statuses, req.allow_irreversible) {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    let mut report = MigrationsReport {
        kind: KIND.into(),
        schema_version: SCHEMA_VERSION,
        rollproof_version: env!("CARGO_PKG_VERSION").into(),
        sqlite_version: rusqlite::version().into(),
        backend: engine.backend().into(),
        run_id,
        started_at,
        blocker: req.blocker.clone(),
        leg: crate::guard::provenance::LEG_SURROGATE.into(),
        folder: FolderRef {
            path: req.dir.display().to_string(),
            layout: folder.layout.as_str().into(),
            detected: folder.detected,
            manifest_sha256,
            files,
            ignored: folder.ignored.clone(),
        },
        runner: runner_record(folder.layout, req, fk, dialect),
        selection: SelectionRecord {
            from: req.selection.from.clone(),
            to: req.selection.to.clone(),
            only: req.selection.only.clone(),
            changed_since: req
                .selection
                .changed_since
                .as_ref()
                .map(|r| format!("{r} ({})", resolved.clone().unwrap_or_default())),
        },
        data: data.describe(),
        steps,
        summary,
        verdict,
        allow_irreversible: req.allow_irreversible,
        timing_ms: BTreeMap::from([("total".to_string(), started.elapsed().as_millis() as u64)]),
        seal: String::new(),
    };
    let path = match &req.reports {
        Some(dir) => Some(report.write(dir, req.sign_key.as_deref())?),
        None => {
            report.seal()?;
            None
        }
    };
    let signature = path
        .as_deref()
        .filter(|_| req.sign_key.is_some())
        .map(crate::evidence::sign::sig_path);
    Ok(Outcome {
        report,
        path,
        signature,
        kept: req.keep.then_some(run_dir),
    })
}

/// A report folder name from the migrations folder: its own name, or for
/// a folder called `migrations` its parent's name too (`db-migrations`);
/// lowercase letters, digits and `-` only.
pub fn folder_name(dir: &Path) -> String {
    let names: Vec<String> = dir
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let joined = match names.as_slice() {
        [.., parent, last] if last.eq_ignore_ascii_case("migrations") => format!("{parent}-{last}"),
        [.., last] => last.clone(),
        [] => String::new(),
    };
    let clean: String = joined
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let clean = clean.trim_matches('-').to_string();
    if clean.is_empty() {
        "folder".into()
    } else {
        clean
    }
}
