//! The apply worker: a separate `rollproof apply-worker` process that calls
//! `fn_birth_register` once per birth, each its own transaction (as a client
//! calling the function repeatedly), and reports `born N` on stdout after
//! every commit. The kill fault SIGKILLs it part-way; the io-error fault
//! starts it under a file-size limit (`RLIMIT_FSIZE`, with `SIGXFSZ`
//! ignored) so the kernel fails its writes with `EFBIG`, a real I/O error.

use crate::engine::{BackendError, BirthPlan, KilledApply};
use rusqlite::Connection;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

/// Start the worker on `db` with `plan`; SIGKILL it once it has reported
/// `kill_after` births, or let it run under `fsize_limit` bytes.
pub fn spawn(
    db: &Path,
    plan: &BirthPlan,
    kill_after: Option<u64>,
    fsize_limit: Option<u64>,
) -> Result<KilledApply, BackendError> {
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
    let mut cmd = Command::new(exe);
    cmd.arg("apply-worker").arg("--db").arg(db);
    if let Some(limit) = fsize_limit {
        cmd.arg("--fsize-limit").arg(limit.to_string());
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io("cannot start the apply worker for"))?;
    let plan_json = serde_json::to_vec(plan).map_err(|e| BackendError::Db {
        what: "encode birth plan".into(),
        target: db.display().to_string(),
        message: e.to_string(),
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(&plan_json)
            .map_err(io("cannot send the plan to the apply worker for"))?;
    }
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| BackendError::Unsupported("a worker without stdout".into()))?;
    let mut reported = 0u64;
    let mut sent_kill = false;
    let mut last_error = None;
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if let Some(n) = line.strip_prefix("born ") {
            reported = n.trim().parse().unwrap_or(reported);
            if kill_after.is_some_and(|k| reported >= k) && !sent_kill {
                // std's kill() is SIGKILL on Unix: no chance to clean up.
                child
                    .kill()
                    .map_err(io("cannot SIGKILL the apply worker on"))?;
                sent_kill = true;
            }
        } else if let Some(e) = line.strip_prefix("error ") {
            last_error = Some(e.to_string());
        }
    }
    let status = child
        .wait()
        .map_err(io("cannot wait for the apply worker on"))?;
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    use std::os::unix::process::ExitStatusExt;
    let signal = status.signal();
    let killed = sent_kill && signal == Some(9);
    let detail = match (signal, last_error) {
        (Some(9), _) if sent_kill => format!(
            "apply worker (pid {}) SIGKILLed after reporting {reported} of {} births",
            child.id(),
            plan.count
        ),
        (Some(s), _) => format!("apply worker died of signal {s} after {reported} births"),
        (None, Some(e)) => format!(
            "apply worker stopped after {reported} of {} births: {e}",
            plan.count
        ),
        (None, None) if status.success() => {
            format!("apply worker finished all {reported} births before the fault could land")
        }
        (None, None) => format!(
            "apply worker exited with {status} after {reported} births: {}",
            stderr.trim()
        ),
    };
    Ok(KilledApply {
        reported,
        killed: killed || (fsize_limit.is_some() && !status.success() && signal.is_none()),
        detail,
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
        };
        let k = recover(&b, k).unwrap();
        assert!(k.detail.contains("hot journal"), "{}", k.detail);
        assert!(!crate::engine::sqlite::snapshot::sidecars(&b)[2].exists());
        assert_eq!(sum(&b), before);
    }
}
