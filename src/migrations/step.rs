//! The step loop. For every migration N, in the tool's order:
//!
//! 1. the database is at N−1 (every earlier up applied), and its empty
//!    tables are filled with rows (`data`: "data first");
//! 2. measure it (the before state) and snapshot it;
//! 3. run the up as the tool would, measure; run the down, measure;
//! 4. when the down did not restore the before state, diff the rows of
//!    every table whose digest differs against the snapshot;
//! 5. run the up again (redo) and measure its schema;
//! 6. judge the step with the pure rules (`crate::proof::migrations`).
//!
//! **Going on after a failure.** A failing down, a down that does not
//! restore, or a failing redo is a FAIL of that step only: the snapshot is
//! restored, the up applied once more from it, and the run goes on — later
//! migrations need the state after N, not N's down. A failing **up** stops
//! the run: every later migration is written against the schema N leaves,
//! so running them on N−1 would only report errors that are not theirs;
//! they are reported "not run". A migration applied as setup only (outside
//! `--from`/`--to`/`--only`, or unchanged since `--changed-since`) stops
//! the run the same way when its up fails.

use super::engine::{EngineError, ObjectKey, ScriptError, ScriptMode, State, StepEngine};
use super::layout::{Down, Folder, Layout, Migration, Script};
use super::report::{
    FillRecord, ObjectChange, PhaseDelta, PhaseSummary, RedoRecord, ScriptRef, StepReport,
    StepStatus, TableChange, TableState,
};
use super::tool;
use crate::schema::Dialect;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// Rows shown per table in a step's row diff (all are counted).
pub const SHOWN_ROWS: usize = 5;

/// How transactions are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Transactions {
    /// Each tool's own rule and markers.
    Tool,
    /// Every script in a transaction.
    On,
    /// No script in a transaction.
    Off,
}

/// How the loop runs scripts.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The folder's layout.
    pub layout: Layout,
    /// The dialect of the backend.
    pub dialect: Dialect,
    /// SQLite foreign keys.
    pub foreign_keys: bool,
    /// Transaction rule.
    pub transactions: Transactions,
    /// Data first: how empty tables are filled before each step.
    pub data: super::data::DataPlan,
}

impl RunOptions {
    fn mode(&self, s: &Script) -> ScriptMode {
        ScriptMode {
            transaction: match self.transactions {
                Transactions::Tool => s.transaction,
                Transactions::On => true,
                Transactions::Off => false,
            },
            foreign_keys: self.foreign_keys,
        }
    }
}

fn script_ref(s: &Script) -> ScriptRef {
    ScriptRef {
        path: s.path.clone(),
        first_line: s.first_line,
        sha256: s.sha256.clone(),
        transaction: s.transaction,
        no_transaction_marker: s.no_transaction_marker.clone(),
    }
}

/// A state in full, for the step's before.
pub fn summary(s: &State) -> PhaseSummary {
    PhaseSummary {
        sha256: s.logical.sha256.clone(),
        schema_sha256: s.logical.schema_sha256.clone(),
        settings: s.settings.clone(),
        tables: s.logical.tables.len() as u64,
        rows: s.logical.tables.values().map(|t| t.rows).sum(),
    }
}

/// Objects added, removed or changed from `a` to `b`.
pub fn object_changes(
    a: &BTreeMap<ObjectKey, String>,
    b: &BTreeMap<ObjectKey, String>,
) -> Vec<ObjectChange> {
    let keys: BTreeSet<&ObjectKey> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| ObjectChange {
            kind: k.kind.clone(),
            name: k.name.clone(),
            before: a.get(k).cloned(),
            after: b.get(k).cloned(),
        })
        .collect()
}

/// A phase as what differs from `before`.
pub fn delta(before: &State, after: &State) -> PhaseDelta {
    let (bt, at) = (&before.logical.tables, &after.logical.tables);
    let names: BTreeSet<&String> = bt.keys().chain(at.keys()).collect();
    let state = |d: Option<&crate::engine::sqlite::logical::TableDigest>| {
        d.map(|d| TableState {
            rows: d.rows,
            sha256: d.sha256.clone(),
        })
    };
    let tables = names
        .into_iter()
        .filter(|t| bt.get(*t) != at.get(*t))
        .map(|t| {
            (
                t.clone(),
                TableChange {
                    before: state(bt.get(t)),
                    after: state(at.get(t)),
                },
            )
        })
        .collect();
    PhaseDelta {
        sha256: after.logical.sha256.clone(),
        schema_sha256: after.logical.schema_sha256.clone(),
        settings: after.settings.clone(),
        tables,
        schema: object_changes(&before.objects, &after.objects),
    }
}

fn new_record(i: usize, m: &Migration, rehearsed: bool, opts: &RunOptions) -> StepReport {
    StepReport {
        down: m.down.script().map(script_ref),
        irreversible: m.down.irreversible_because().map(str::to_string),
        rehearsed,
        foreign_keys: opts.foreign_keys || opts.dialect == Dialect::Postgres,
        ..StepReport::new(i + 1, &m.version, &m.name, script_ref(&m.up))
    }
}

/// Whether the run can go on after a step.
enum Flow {
    Go,
    Stop(String),
}

/// One migration's place in the folder.
struct Ctx<'a> {
    index: usize,
    m: &'a Migration,
    prev: Option<&'a Migration>,
    opts: &'a RunOptions,
}

impl Ctx<'_> {
    fn up(&self, e: &mut dyn StepEngine) -> Result<Result<(), ScriptError>, EngineError> {
        let book = tool::bookkeeping(self.opts.layout, self.opts.dialect, self.m, self.prev, true);
        e.run(&self.m.up, self.opts.mode(&self.m.up), &book)
    }

    fn down(
        &self,
        e: &mut dyn StepEngine,
        s: &Script,
    ) -> Result<Result<(), ScriptError>, EngineError> {
        let book = tool::bookkeeping(
            self.opts.layout,
            self.opts.dialect,
            self.m,
            self.prev,
            false,
        );
        e.run(s, self.opts.mode(s), &book)
    }

    /// Back to the snapshot, then the up once more: the clean state after N.
    fn recover(&self, e: &mut dyn StepEngine, r: &mut StepReport) -> Result<Flow, EngineError> {
        e.restore()?;
        match self.up(e)? {
            Ok(()) => {
                r.continued = Some(
                    "snapshot restored and the up applied again; the run goes on from there".into(),
                );
                Ok(Flow::Go)
            }
            Err(err) => {
                r.continued = Some(format!(
                    "snapshot restored, but the up failed when applied again ({}); the run stops",
                    super::engine::short_sql(&err.message)
                ));
                Ok(Flow::Stop(format!(
                    "migration {} could not be applied again after its step",
                    self.m.label()
                )))
            }
        }
    }
}

/// Rehearse migration `c.m` (its database at N−1).
fn rehearse_one(
    e: &mut dyn StepEngine,
    c: &Ctx<'_>,
    r: &mut StepReport,
) -> Result<Flow, EngineError> {
    let before = e.measure()?;
    r.before = Some(summary(&before));
    let Down::Sql(down_script) = &c.m.down else {
        if let Err(err) = c.up(e)? {
            r.errors.insert("up".into(), err);
            return Ok(Flow::Stop(format!("the up of {} failed", c.m.label())));
        }
        r.after_up = Some(delta(&before, &e.measure()?));
        return Ok(Flow::Go);
    };
    e.snapshot()?;
    if let Err(err) = c.up(e)? {
        r.errors.insert("up".into(), err);
        e.restore()?;
        r.continued = Some(
            "snapshot restored; the run stops: every later migration builds on this one".into(),
        );
        return Ok(Flow::Stop(format!("the up of {} failed", c.m.label())));
    }
    let after_up = e.measure()?;
    r.after_up = Some(delta(&before, &after_up));
    if let Err(err) = c.down(e, down_script)? {
        r.errors.insert("down".into(), err);
        return c.recover(e, r);
    }
    let after_down = e.measure()?;
    let d = delta(&before, &after_down);
    if !d.tables.is_empty() {
        let tables: Vec<String> = d.tables.keys().cloned().collect();
        match e.diff(&tables, SHOWN_ROWS) {
            Ok(t) => r.row_diffs = t,
            Err(err) => r.row_diff_error = Some(err.to_string()),
        }
    }
    r.after_down = Some(d);
    match c.up(e)? {
        Err(err) => {
            r.errors.insert("redo".into(), err);
        }
        Ok(()) => {
            let redo = e.measure()?;
            r.after_redo = Some(RedoRecord {
                schema_sha256: redo.logical.schema_sha256.clone(),
                schema: object_changes(&after_up.objects, &redo.objects),
            });
        }
    }
    let j = crate::proof::migrations::judge(r);
    if j.status == StepStatus::Pass {
        r.continued = Some("the run goes on from the state after the redo".into());
        Ok(Flow::Go)
    } else {
        c.recover(e, r)
    }
}

/// Rehearse `folder` on `e`: every migration whose `plan` entry is true is
/// rehearsed, the others applied as setup. `progress` sees each finished
/// step. The records carry their judged checks, status and findings.
pub fn run(
    e: &mut dyn StepEngine,
    folder: &Folder,
    plan: &[bool],
    opts: &RunOptions,
    progress: &mut dyn FnMut(&StepReport),
) -> Result<Vec<StepReport>, EngineError> {
    // The engine is finished on every outcome, so that what it made (a
    // server's databases and sandbox role) never outlives a failed run.
    let steps = run_steps(e, folder, plan, opts, progress);
    let finished = e.finish();
    let steps = steps?;
    finished?;
    Ok(steps)
}

fn run_steps(
    e: &mut dyn StepEngine,
    folder: &Folder,
    plan: &[bool],
    opts: &RunOptions,
    progress: &mut dyn FnMut(&StepReport),
) -> Result<Vec<StepReport>, EngineError> {
    e.setup(&tool::setup_sql(opts.layout, opts.dialect))?;
    let mut out = Vec::new();
    let mut stopped: Option<String> = None;
    for (i, m) in folder.migrations.iter().enumerate() {
        let started = Instant::now();
        let rehearse = plan.get(i).copied().unwrap_or(false);
        let mut r = new_record(i, m, rehearse, opts);
        let c = Ctx {
            index: i,
            m,
            prev: i.checked_sub(1).map(|p| &folder.migrations[p]),
            opts,
        };
        if let Some(why) = &stopped {
            r.not_run_because = Some(why.clone());
        } else {
            let filled = e.fill(&opts.data, i + 1)?;
            if !filled.rows.is_empty() || !filled.skipped.is_empty() {
                r.data = Some(FillRecord {
                    source: opts.data.source_word().into(),
                    rows: filled.rows,
                    skipped: filled.skipped,
                });
            }
            let flow = if rehearse {
                rehearse_one(e, &c, &mut r)?
            } else {
                match c.up(e)? {
                    Ok(()) => Flow::Go,
                    Err(err) => {
                        r.errors.insert("up".into(), err);
                        Flow::Stop(format!("setup migration {} failed", m.label()))
                    }
                }
            };
            if let Flow::Stop(why) = flow {
                stopped = Some(format!("{why} (step {})", c.index + 1));
            }
        }
        let j = crate::proof::migrations::judge(&r);
        r.checks = j.checks;
        r.status = j.status;
        r.findings = j.findings;
        r.ms = started.elapsed().as_millis() as u64;
        progress(&r);
        out.push(r);
    }
    Ok(out)
}
