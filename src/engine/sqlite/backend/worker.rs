//! The apply worker: a separate `rollproof apply-worker` process that
//! applies births (calling `fn_birth_register` once per birth, each its own
//! transaction, as a client calling the function repeatedly) or a change
//! script (statement by statement in the sandbox), and reports `born N` /
//! `done N` on stdout after every commit or statement. The kill fault
//! SIGKILLs it part-way (a script worker waits after the statement it is to
//! be killed after, so the kill lands at a known point); the io-error fault
//! starts it under a file-size limit (`RLIMIT_FSIZE`, with `SIGXFSZ`
//! ignored) so the kernel fails its writes with `EFBIG`, a real I/O error.

use crate::engine::script::{ScriptError, ScriptMode, TxMode};
use crate::engine::{BackendError, BirthPlan, KilledApply};
use rusqlite::Connection;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

/// A change script for the worker, sent as one JSON line on its stdin.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ScriptJob {
    /// The script.
    pub sql: String,
    /// `PRAGMA foreign_keys`.
    pub foreign_keys: bool,
    /// Transaction wrapping.
    pub transaction: TxMode,
}

/// What a worker process did, as its parent saw it.
struct Driven {
    /// Last count it reported (`born N` / `done N`).
    reported: u64,
    /// The parent SIGKILLed it.
    sent_kill: bool,
    /// Signal that ended it, if any.
    signal: Option<i32>,
    /// It exited with status 0.
    success: bool,
    /// Its exit status, for messages.
    status: String,
    /// Its last `error …` line.
    error: Option<String>,
    /// Its stderr.
    stderr: String,
    /// Its process id.
    pid: u32,
}

/// Start `apply-worker` on `db` with `args`, write `payload` to its stdin
/// (kept open when `hold_stdin`, so a paused worker waits until killed),
/// follow its `<count_prefix> N` lines and SIGKILL it once it reported
/// `kill_after`.
fn drive(
    db: &Path,
    args: &[String],
    payload: &[u8],
    hold_stdin: bool,
    count_prefix: &str,
    kill_after: Option<u64>,
) -> Result<Driven, BackendError> {
    let io = |what: &str| {
        let what = what.to_string();
        move |source| BackendError::Io {
            what: what.clone(),
            path: db.to_path_buf(),
            source,
        }
    };
    let exe =
        std::env::current_exe().map_err(io("cannot find rollproof's own executable to apply"))?;
    let mut child = Command::new(exe)
        .arg("apply-worker")
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io("cannot start the apply worker for"))?;
    let mut stdin = child.stdin.take();
    if let Some(w) = stdin.as_mut() {
        w.write_all(payload)
            .and_then(|()| w.flush())
            .map_err(io("cannot send the job to the apply worker for"))?;
    }
    if !hold_stdin {
        drop(stdin.take());
    }
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| BackendError::Unsupported("a worker without stdout".into()))?;
    let mut d = Driven {
        reported: 0,
        sent_kill: false,
        signal: None,
        success: false,
        status: String::new(),
        error: None,
        stderr: String::new(),
        pid: child.id(),
    };
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if let Some(n) = line.strip_prefix(count_prefix) {
            d.reported = n.trim().parse().unwrap_or(d.reported);
            if kill_after.is_some_and(|k| d.reported >= k) && !d.sent_kill {
                // std's kill() is SIGKILL on Unix: no chance to clean up.
                child
                    .kill()
                    .map_err(io("cannot SIGKILL the apply worker on"))?;
                d.sent_kill = true;
            }
        } else if let Some(e) = line.strip_prefix("error ") {
            d.error = Some(e.to_string());
        }
    }
    drop(stdin);
    let status = child
        .wait()
        .map_err(io("cannot wait for the apply worker on"))?;
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut d.stderr);
    }
    use std::os::unix::process::ExitStatusExt;
    d.signal = status.signal();
    d.success = status.success();
    d.status = status.to_string();
    Ok(d)
}

fn encode<T: serde::Serialize>(db: &Path, what: &str, v: &T) -> Result<Vec<u8>, BackendError> {
    serde_json::to_vec(v).map_err(|e| BackendError::Db {
        what: format!("encode {what}"),
        target: db.display().to_string(),
        message: e.to_string(),
    })
}

fn limit_args(fsize_limit: Option<u64>) -> Vec<String> {
    match fsize_limit {
        Some(limit) => vec!["--fsize-limit".into(), limit.to_string()],
        None => Vec::new(),
    }
}

/// One line on how a worker ended; `unit` is what it counted.
fn ended(d: &Driven, unit: &str, total: u64, error: Option<String>) -> String {
    let reported = d.reported;
    match (d.signal, error) {
        (Some(9), _) if d.sent_kill => format!(
            "apply worker (pid {}) SIGKILLed after reporting {reported} of {total} {unit}",
            d.pid
        ),
        (Some(s), _) => format!("apply worker died of signal {s} after {reported} {unit}"),
        (None, Some(e)) => format!("apply worker stopped after {reported} of {total} {unit}: {e}"),
        (None, None) if d.success => {
            format!("apply worker finished all {reported} {unit} before the fault could land")
        }
        (None, None) => format!(
            "apply worker exited with {} after {reported} {unit}: {}",
            d.status,
            d.stderr.trim()
        ),
    }
}

/// Start the worker on `db` with `plan`; SIGKILL it once it has reported
/// `kill_after` births, or let it run under `fsize_limit` bytes.
pub fn spawn(
    db: &Path,
    plan: &BirthPlan,
    kill_after: Option<u64>,
    fsize_limit: Option<u64>,
) -> Result<KilledApply, BackendError> {
    let payload = encode(db, "birth plan", plan)?;
    let d = drive(
        db,
        &limit_args(fsize_limit),
        &payload,
        false,
        "born ",
        kill_after,
    )?;
    let reported = d.reported;
    let detail = ended(&d, "births", plan.count, d.error.clone());
    Ok(KilledApply {
        reported,
        killed: (d.sent_kill && d.signal == Some(9))
            || (fsize_limit.is_some() && !d.success && d.signal.is_none()),
        detail,
        failure: None,
    })
}

/// Start the worker on `db` with a change script; SIGKILL it once it has
/// completed `kill_after` statements (it waits there), or let it run under
/// `fsize_limit` bytes.
pub fn spawn_script(
    db: &Path,
    job: &ScriptJob,
    kill_after: Option<u64>,
    fsize_limit: Option<u64>,
) -> Result<KilledApply, BackendError> {
    let mut payload = encode(db, "script job", job)?;
    payload.push(b'\n');
    let mut args = limit_args(fsize_limit);
    args.push("--script".into());
    if let Some(k) = kill_after {
        args.extend(["--pause-after".to_string(), k.to_string()]);
    }
    let d = drive(
        db,
        &args,
        &payload,
        kill_after.is_some(),
        "done ",
        kill_after,
    )?;
    let failure: Option<ScriptError> = d
        .error
        .as_deref()
        .and_then(|e| serde_json::from_str(e).ok());
    let total = crate::engine::script::split(&job.sql, crate::engine::script::Dialect::Sqlite)
        .map_or(0, |s| s.len());
    let reported = d.reported;
    let detail = ended(
        &d,
        "statements",
        total as u64,
        failure.as_ref().map(ToString::to_string),
    );
    Ok(KilledApply {
        reported,
        killed: (d.sent_kill && d.signal == Some(9))
            || (fsize_limit.is_some() && failure.is_some() && d.signal.is_none()),
        detail,
        failure,
    })
}

/// If the stopped worker left a hot journal, let SQLite's own recovery roll
/// the in-flight transaction back (part of the write session the caller
/// authorised before starting the worker) and record what was found.
pub fn recover(target: &Path, mut k: KilledApply) -> Result<KilledApply, BackendError> {
    if !crate::engine::sqlite::snapshot::has_hot_journal(target) {
        return Ok(k);
    }
    let err = |what: &str, e: &dyn std::fmt::Display| BackendError::Db {
        what: what.to_string(),
        target: target.display().to_string(),
        message: e.to_string(),
    };
    let journal = std::fs::metadata(&crate::engine::sqlite::snapshot::sidecars(target)[2])
        .map(|m| m.len())
        .unwrap_or(0);
    let crashed = crate::hash::file_sha256(target).map_err(|e| BackendError::Io {
        what: "cannot hash".into(),
        path: target.to_path_buf(),
        source: e.source,
    })?;
    let c = Connection::open(target).map_err(|e| err("recover", &e))?;
    c.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
        .map_err(|e| err("recover hot journal", &e))?;
    c.close().map_err(|(_, e)| err("close", &e))?;
    k.detail.push_str(&format!(
        "; it left a hot journal ({journal} bytes) beside a main file with SHA-256 {}; SQLite's recovery rolled the in-flight birth back",
        crashed.sha256
    ));
    Ok(k)
}

/// Limit the size of files this process may write, and make the kernel
/// fail such writes with EFBIG instead of killing the process.
fn limit_file_size(bytes: u64) -> std::io::Result<()> {
    // SAFETY: plain libc calls with valid arguments, made before any other
    // thread exists in this process.
    unsafe {
        if libc::signal(libc::SIGXFSZ, libc::SIG_IGN) == libc::SIG_ERR {
            return Err(std::io::Error::last_os_error());
        }
        let lim = libc::rlimit {
            rlim_cur: bytes as libc::rlim_t,
            rlim_max: bytes as libc::rlim_t,
        };
        if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The worker's body: apply `plan` to `db`, one transaction per birth,
/// writing `born N` after each commit and `error MSG` on failure.
/// Returns the births committed.
pub fn run_worker(
    db: &Path,
    plan: &BirthPlan,
    fsize_limit: Option<u64>,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    crate::guard::authorize_write(db)?;
    if let Some(limit) = fsize_limit {
        limit_file_size(limit)?;
    }
    let conn = Connection::open(db)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    let mut done = 0;
    for i in 0..plan.count {
        if let Err(e) = crate::surface::birth_register(&conn, &plan.birth(i)) {
            writeln!(out, "error birth {}: {e}", i + 1)?;
            out.flush()?;
            anyhow::bail!("birth {} failed: {e}", i + 1);
        }
        done += 1;
        writeln!(out, "born {done}")?;
        out.flush()?;
    }
    Ok(done)
}

/// The worker's body for a change script: read the job (one JSON line)
/// from `input`, run it on `db` in the sandbox, write `done N` after each
/// statement and, after `pause_after` statements, wait until `input` ends
/// (the parent kills the process there). A failed statement is written as
/// `error <ScriptError as JSON>`. Returns the statements run.
pub fn run_script_worker(
    db: &Path,
    fsize_limit: Option<u64>,
    pause_after: Option<u64>,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> anyhow::Result<usize> {
    crate::guard::authorize_write(db)?;
    let mut line = String::new();
    input.read_line(&mut line)?;
    let job: ScriptJob = serde_json::from_str(&line)?;
    if let Some(limit) = fsize_limit {
        limit_file_size(limit)?;
    }
    let mut conn = Connection::open(db)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let mode = ScriptMode {
        foreign_keys: job.foreign_keys,
        transaction: job.transaction,
        inside_transaction: false,
    };
    let r = crate::engine::sqlite::script::run_script(&mut conn, &job.sql, &mode, &mut |n| {
        let _ = writeln!(out, "done {n}").and_then(|()| out.flush());
        if pause_after == Some(n as u64) {
            // Wait here to be killed: the parent holds our stdin open.
            let _ = std::io::copy(input, &mut std::io::sink());
        }
    });
    match r {
        Ok(n) => Ok(n),
        Err(e) => {
            writeln!(out, "error {}", serde_json::to_string(&e)?)?;
            out.flush()?;
            anyhow::bail!("{e}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recover_rolls_a_hot_journal_back_and_says_so() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a.db"), d.path().join("b.db"));
        let c = Connection::open(&a).unwrap();
        c.execute_batch(
            "CREATE TABLE t(x); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<20000) INSERT INTO t SELECT i FROM n;",
        )
        .unwrap();
        let sum = |p: &Path| -> i64 {
            Connection::open(p)
                .unwrap()
                .query_row("SELECT sum(x) FROM t", [], |r| r.get(0))
                .unwrap()
        };
        let before = sum(&a);
        // A small cache makes the update spill pages into the main file
        // (after syncing the journal): a crash now leaves a hot journal.
        c.execute_batch("PRAGMA cache_size = 5; BEGIN; UPDATE t SET x = x + 1;")
            .unwrap();
        std::fs::copy(&a, &b).unwrap();
        std::fs::copy(
            &crate::engine::sqlite::snapshot::sidecars(&a)[2],
            &crate::engine::sqlite::snapshot::sidecars(&b)[2],
        )
        .unwrap();
        assert!(crate::engine::sqlite::snapshot::has_hot_journal(&b));
        let k = KilledApply {
            reported: 1,
            killed: true,
            detail: "killed".into(),
            failure: None,
        };
        let k = recover(&b, k).unwrap();
        assert!(k.detail.contains("hot journal"), "{}", k.detail);
        assert!(!crate::engine::sqlite::snapshot::sidecars(&b)[2].exists());
        assert_eq!(sum(&b), before);
    }
}
