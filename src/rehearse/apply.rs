//! The apply step: births (in one transaction, or one per birth under a
//! fault), or the user's up script statement by statement in the sandbox,
//! either of them possibly hit by a fault (kill, disk-full, io-error),
//! recording what happened. A script that fails part-way is recorded
//! (which statement, which line, why) and the rehearsal goes on to measure
//! and roll back: a half-applied migration is the case users care about.

use super::RehearseError;
use crate::engine::script::{ScriptError, ScriptMode};
use crate::engine::{Backend, BackendError, BirthPlan};
use crate::evidence::report::{FaultRecord, ScriptFailure, ScriptRun};
use crate::rehearse::scenario::{FaultKind, FaultSpec};

/// What the apply did.
#[derive(Default)]
pub(super) struct Applied {
    /// The fault that hit the apply, if any.
    pub faults: Vec<FaultRecord>,
    /// The error that stopped an apply without a fault.
    pub error: Option<String>,
    /// Births committed (plain births apply).
    pub births_done: Option<u64>,
    /// Births reported before a fault stopped the apply.
    pub births_reported: Option<u64>,
    /// How the up script ran.
    pub script: Option<ScriptRun>,
}

/// The up script to apply.
pub(super) struct Up<'a> {
    /// Its text.
    pub sql: &'a str,
    /// Its statement count (from the check before anything ran).
    pub statements: usize,
    /// How it runs.
    pub mode: ScriptMode,
}

/// The report's record of a script failure.
pub(super) fn failure_record(e: &ScriptError) -> ScriptFailure {
    ScriptFailure {
        statement: e.statement_index as u64,
        line: e.line as u64,
        sql: e.sql.clone(),
        message: e.message.clone(),
        denied: e.denied,
        undone: e.undone,
    }
}

/// The report's record of a script run from its result. A backend error
/// that is not a statement's (the connection could not be opened) is
/// recorded as a failure outside the script's statements.
pub(super) fn script_record(statements: usize, r: &Result<usize, BackendError>) -> ScriptRun {
    let total = statements as u64;
    match r {
        Ok(n) => ScriptRun {
            statements: *n as u64,
            completed: *n as u64,
            failure: None,
        },
        Err(BackendError::Script(e)) => ScriptRun {
            statements: total,
            completed: e.statements_done as u64,
            failure: Some(failure_record(e)),
        },
        Err(e) => ScriptRun {
            statements: total,
            completed: 0,
            failure: Some(ScriptFailure {
                statement: 0,
                line: 0,
                sql: "(running the script)".into(),
                message: e.to_string(),
                denied: false,
                undone: false,
            }),
        },
    }
}

/// Run the apply. Guard refusals are errors (exit 3); anything else that
/// stops the apply is recorded and judged by the verdict rules.
pub(super) fn apply(
    be: &mut dyn Backend,
    plan: Option<&BirthPlan>,
    up: Option<&Up<'_>>,
    fault: Option<&FaultSpec>,
) -> Result<Applied, RehearseError> {
    match (plan, up) {
        (Some(p), _) => births(be, p, fault),
        (None, Some(u)) => script(be, u, fault),
        (None, None) => Ok(Applied::default()),
    }
}

/// The fault record of an `io-error` apply (births or script).
fn io_error_record(headroom: u64, k: &crate::engine::KilledApply) -> FaultRecord {
    FaultRecord {
        kind: "io-error".into(),
        injected: k.killed,
        detail: format!(
            "file-size limit of {headroom} bytes above the current size; {}",
            k.detail
        ),
    }
}

/// A guard refusal stops the rehearsal (exit 3); any other error is the
/// apply's, returned as its message for the report.
fn recorded(e: BackendError) -> Result<String, RehearseError> {
    match e {
        BackendError::Refused(r) => Err(r.into()),
        other => Ok(other.to_string()),
    }
}

fn births(
    be: &mut dyn Backend,
    p: &BirthPlan,
    fault: Option<&FaultSpec>,
) -> Result<Applied, RehearseError> {
    let mut out = Applied::default();
    match fault.map(|f| f.kind) {
        Some(FaultKind::Kill) => {
            let after = fault.and_then(|f| f.after).unwrap_or(5);
            let k = be.apply_births_killed(p, after)?;
            out.births_reported = Some(k.reported);
            out.faults.push(FaultRecord {
                kind: "kill".into(),
                injected: k.killed,
                detail: k.detail,
            });
        }
        Some(FaultKind::IoError) => {
            let headroom = fault.and_then(|f| f.headroom).unwrap_or(8192);
            let k = be.apply_births_io_limited(p, headroom)?;
            out.births_reported = Some(k.reported);
            out.faults.push(io_error_record(headroom, &k));
        }
        Some(FaultKind::DiskFull) => {
            let headroom = fault.and_then(|f| f.headroom).unwrap_or(16);
            be.limit_growth(headroom)?;
            let (done, err) = be.apply_births(p, true, &mut |_| {});
            out.births_reported = Some(done);
            let injected = err.as_ref().is_some_and(|e| e.to_string().contains("full"));
            let detail = match &err {
                Some(e) => format!(
                    "max_page_count set to {headroom} pages above the current size; the apply stopped after {done} of {} births: {e}",
                    p.count
                ),
                None => format!(
                    "max_page_count set to {headroom} pages above the current size, but all {done} births fit: the disk never filled"
                ),
            };
            out.faults.push(FaultRecord {
                kind: "disk-full".into(),
                injected,
                detail,
            });
            if let Some(e) = err.filter(|_| !injected) {
                out.error = Some(e.to_string());
            }
        }
        _ => {
            let bar = crate::util::progress::rows_bar(p.count, "applying births");
            let (done, err) = be.apply_births(p, false, &mut |n| bar.set_position(n));
            bar.finish_and_clear();
            out.births_done = Some(done);
            if let Some(e) = err {
                out.error = Some(recorded(e)?);
            }
        }
    }
    Ok(out)
}

fn script(
    be: &mut dyn Backend,
    u: &Up<'_>,
    fault: Option<&FaultSpec>,
) -> Result<Applied, RehearseError> {
    let mut out = Applied::default();
    let total = u.statements as u64;
    let killed_run = |k: &crate::engine::KilledApply| ScriptRun {
        statements: total,
        completed: k.reported,
        failure: k.failure.as_ref().map(failure_record),
    };
    match fault.map(|f| f.kind) {
        Some(FaultKind::Kill) => {
            let after = fault.and_then(|f| f.after).unwrap_or(1);
            let k = be.apply_script_killed(u.sql, &u.mode, after)?;
            out.script = Some(killed_run(&k));
            // A statement that failed before the kill could land is the
            // script's own error, not the fault's.
            out.error = k.failure.as_ref().map(ToString::to_string);
            out.faults.push(FaultRecord {
                kind: "kill".into(),
                injected: k.killed,
                detail: k.detail,
            });
        }
        Some(FaultKind::IoError) => {
            let headroom = fault.and_then(|f| f.headroom).unwrap_or(8192);
            let k = be.apply_script_io_limited(u.sql, &u.mode, headroom)?;
            out.script = Some(killed_run(&k));
            out.faults.push(io_error_record(headroom, &k));
        }
        Some(FaultKind::DiskFull) => {
            let headroom = fault.and_then(|f| f.headroom).unwrap_or(16);
            be.limit_growth(headroom)?;
            let r = be.run_script(u.sql, &u.mode);
            let run = script_record(u.statements, &r);
            let injected = matches!(&r, Err(BackendError::Script(e)) if e.message.contains("full"));
            let detail = match &r {
                Err(e) => format!(
                    "max_page_count set to {headroom} pages above the current size; the script stopped after {} of {total} statements: {e}",
                    run.completed
                ),
                Ok(_) => format!(
                    "max_page_count set to {headroom} pages above the current size, but all {total} statements fit: the disk never filled"
                ),
            };
            out.script = Some(run);
            if let Err(e) = r {
                let message = recorded(e)?;
                if !injected {
                    out.error = Some(message);
                }
            }
            out.faults.push(FaultRecord {
                kind: "disk-full".into(),
                injected,
                detail,
            });
        }
        _ => {
            let r = be.run_script(u.sql, &u.mode);
            out.script = Some(script_record(u.statements, &r));
            if let Err(e) = r {
                out.error = Some(recorded(e)?);
            }
        }
    }
    Ok(out)
}
