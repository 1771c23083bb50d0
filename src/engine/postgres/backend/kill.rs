//! Fault `kill` on PostgreSQL: the apply runs on its own session — births
//! one transaction each, as a client calling `fn_birth_register`
//! repeatedly; a change script statement by statement on the sandbox
//! role's connection — and once that session has reported `after`
//! committed births or completed statements its server process is
//! terminated with `pg_terminate_backend`: what the server sees when a
//! client dies mid-run. The in-flight birth (or the script's open
//! transaction) is rolled back; what was committed stays. A script session
//! waits after the statement it is to be killed after, so the kill lands at
//! a known point, as the SQLite apply worker does.

use super::{BackendError, BirthPlan, KilledApply, PostgresBackend, be_err, db_err};
use crate::engine::postgres::guard::Target;
use crate::engine::script::{ScriptError, ScriptMode};
use postgres::Client;
use std::sync::mpsc;
use std::time::Duration;

enum Msg {
    Pid(i32),
    Done(u64),
}

/// What the terminating side saw.
struct Terminated {
    /// The session's server process.
    pid: Option<i32>,
    /// The last count it reported.
    seen: u64,
    /// `pg_terminate_backend` said it signalled the process.
    terminated: bool,
}

/// Run `work` on session `c` on its own thread; once it reported `after`
/// units (through the callback it is given), terminate the session's
/// server process. With `pause` the session waits after reporting `after`
/// until the terminate was sent.
fn terminate_after<T: Send + 'static>(
    target: &Target,
    mut c: Client,
    after: u64,
    pause: bool,
    work: impl FnOnce(&mut Client, &mut dyn FnMut(u64)) -> T + Send + 'static,
) -> Result<(Terminated, T), BackendError> {
    let db = target.dbname.clone();
    let pid: i32 = c
        .query_one("SELECT pg_backend_pid()", &[])
        .map_err(db_err("pg_backend_pid", &db))?
        .get(0);
    let (tx, rx) = mpsc::channel();
    let (ack_tx, ack_rx) = mpsc::channel::<()>();
    let _ = tx.send(Msg::Pid(pid));
    let worker = std::thread::spawn(move || {
        let mut report = |n: u64| {
            let _ = tx.send(Msg::Done(n));
            if pause && n == after {
                // Released by the ack or by the other side hanging up.
                let _ = ack_rx.recv();
            }
        };
        work(&mut c, &mut report)
    });
    let mut t = Terminated {
        pid: None,
        seen: 0,
        terminated: false,
    };
    let mut failed = None;
    loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Msg::Pid(p)) => t.pid = Some(p),
            Ok(Msg::Done(n)) => {
                t.seen = n;
                if n >= after
                    && let Some(p) = t.pid
                {
                    let r = target
                        .connect_maintenance()
                        .map_err(be_err)
                        .and_then(|mut a| {
                            a.query_one("SELECT pg_terminate_backend($1)", &[&p])
                                .map_err(db_err("pg_terminate_backend", &db))
                        });
                    match r {
                        Ok(row) => t.terminated = row.get(0),
                        Err(e) => failed = Some(e),
                    }
                    break;
                }
            }
            Err(_) => break,
        }
    }
    drop(ack_tx);
    let out = worker
        .join()
        .map_err(|_| BackendError::Unsupported("a panicked apply session".into()))?;
    match failed {
        Some(e) => Err(e),
        None => Ok((t, out)),
    }
}

pub(super) fn apply_births_killed(
    target: &Target,
    plan: &BirthPlan,
    after: u64,
) -> Result<KilledApply, BackendError> {
    let c = target.connect().map_err(be_err)?;
    let (t, p) = (target.clone(), plan.clone());
    let (term, r) = terminate_after(target, c, after, false, move |c, report| {
        let stmt = c
            .prepare(crate::engine::postgres::schema::CALL_SQL)
            .map_err(db_err("prepare fn_birth_register", &t.dbname))?;
        let mut done = 0u64;
        for i in 0..p.count {
            if let Err(e) =
                crate::engine::postgres::schema::birth_register_with(c, &stmt, &p.birth(i))
            {
                return Ok((done, Some(crate::engine::postgres::message(&e))));
            }
            done += 1;
            report(done);
        }
        Ok::<_, BackendError>((done, None))
    })?;
    let (done, error) = r?;
    let killed = term.terminated && error.is_some();
    let seen = term.seen;
    let detail = match (&error, term.pid) {
        (Some(e), Some(p)) if killed => format!(
            "terminated the apply session's server process {p} (pg_terminate_backend) after it reported {seen} births; it had committed {done}: {e}"
        ),
        (Some(e), _) => format!("the apply session failed by itself after {done} births: {e}"),
        (None, _) => format!("all {done} births committed before the session could be terminated"),
    };
    Ok(KilledApply {
        reported: done,
        killed,
        detail,
        failure: None,
    })
}

impl PostgresBackend {
    /// Fault `kill` on an up script: run it on a fresh connection of the
    /// sandbox role and terminate that session once `after` statements
    /// completed.
    pub(super) fn script_killed(
        &mut self,
        sql: &str,
        mode: &ScriptMode,
        after: u64,
    ) -> Result<KilledApply, BackendError> {
        let sb = self.sandbox.as_ref().ok_or_else(|| {
            BackendError::Unsupported("a change script before prepare_scripts".into())
        })?;
        let c = sb.connect(&self.target).map_err(be_err)?;
        let (sql, mode) = (
            sql.to_string(),
            ScriptMode {
                inside_transaction: false,
                ..*mode
            },
        );
        let (term, r) = terminate_after(&self.target, c, after, true, move |c, report| {
            crate::engine::postgres::script::run_script(c, &sql, &mode, &mut |n| report(n as u64))
        })?;
        Ok(script_outcome(&term, r))
    }
}

/// How a terminated script session ended, for the report.
fn script_outcome(term: &Terminated, r: Result<usize, ScriptError>) -> KilledApply {
    let seen = term.seen;
    match r {
        Ok(n) => KilledApply {
            reported: n as u64,
            killed: false,
            detail: format!(
                "the apply session ran all {n} statements before it could be terminated"
            ),
            failure: None,
        },
        Err(e) if term.terminated => KilledApply {
            reported: e.statements_done as u64,
            killed: true,
            detail: format!(
                "terminated the script session's server process {} (pg_terminate_backend) after it completed {seen} of {} statements; {}",
                term.pid.unwrap_or_default(),
                e.statements_total,
                e.message
            ),
            failure: None,
        },
        Err(e) => KilledApply {
            reported: e.statements_done as u64,
            killed: false,
            detail: format!(
                "the script stopped by itself after {} statements, before the session could be terminated",
                e.statements_done
            ),
            failure: Some(e),
        },
    }
}
