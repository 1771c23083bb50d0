//! Fault `kill` on PostgreSQL: the births run on their own session (one
//! transaction per birth, as a client calling `fn_birth_register`
//! repeatedly), and once that session has reported `after` committed births
//! its server process is terminated with `pg_terminate_backend` — what the
//! server sees when a client dies mid-transaction: the in-flight birth is
//! rolled back, committed ones stay.

use super::{BackendError, BirthPlan, KilledApply, be_err, db_err};
use crate::engine::postgres::guard::Target;
use std::sync::mpsc;
use std::time::Duration;

enum Msg {
    Pid(i32),
    Done(u64),
}

pub(super) fn apply_births_killed(
    target: &Target,
    plan: &BirthPlan,
    after: u64,
) -> Result<KilledApply, BackendError> {
    let db = target.dbname.clone();
    let (tx, rx) = mpsc::channel();
    let (t, p) = (target.clone(), plan.clone());
    let worker = std::thread::spawn(move || -> Result<(u64, Option<String>), BackendError> {
        let mut c = t.connect().map_err(be_err)?;
        let pid: i32 = c
            .query_one("SELECT pg_backend_pid()", &[])
            .map_err(db_err("pg_backend_pid", &t.dbname))?
            .get(0);
        let stmt = c
            .prepare(crate::engine::postgres::schema::CALL_SQL)
            .map_err(db_err("prepare fn_birth_register", &t.dbname))?;
        let _ = tx.send(Msg::Pid(pid));
        let mut done = 0u64;
        for i in 0..p.count {
            if let Err(e) =
                crate::engine::postgres::schema::birth_register_with(&mut c, &stmt, &p.birth(i))
            {
                return Ok((done, Some(crate::engine::postgres::message(&e))));
            }
            done += 1;
            let _ = tx.send(Msg::Done(done));
        }
        Ok((done, None))
    });
    let mut pid = None;
    let mut seen = 0u64;
    let mut terminated = false;
    loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Msg::Pid(p)) => pid = Some(p),
            Ok(Msg::Done(n)) => {
                seen = n;
                if n >= after
                    && let Some(p) = pid
                {
                    let mut admin = target.connect_maintenance().map_err(be_err)?;
                    terminated = admin
                        .query_one("SELECT pg_terminate_backend($1)", &[&p])
                        .map_err(db_err("pg_terminate_backend", &db))?
                        .get(0);
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let (done, error) = worker
        .join()
        .map_err(|_| BackendError::Unsupported("a panicked apply session".into()))??;
    let killed = terminated && error.is_some();
    let detail = match (&error, pid) {
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
    })
}
