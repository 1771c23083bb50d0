//! What an interrupted run must not leave behind.
//!
//! Temporary files and folders rollproof makes are named with their owner
//! (`.rollproof-tmp-<pid>.<start ticks>-…`, see [`temp_prefix`]), so a later
//! run or `rollproof clean` can tell a dead run's leftovers from a live
//! one's. While a command runs they are also listed here; on SIGINT or
//! SIGTERM a watcher thread removes every listed path, then the process
//! exits with 130 (SIGINT) or 143 (SIGTERM), as a shell reports a process
//! killed by that signal. SIGKILL cannot be caught: its leftovers are what
//! the next run and `clean` remove (docs/GUARD.md "Crash hygiene").

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

static REGISTRY: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// Remove `path` (file or folder) if the process is interrupted.
pub fn register(path: &Path) {
    if let Ok(mut r) = REGISTRY.lock() {
        r.insert(path.to_path_buf());
    }
}

/// `path` is finished (committed, removed or kept on purpose).
pub fn unregister(path: &Path) {
    if let Ok(mut r) = REGISTRY.lock() {
        r.remove(path);
    }
}

/// The prefix of every temporary name: `.rollproof-tmp-<pid>.<start>-`.
pub fn temp_prefix() -> String {
    static PREFIX: OnceLock<String> = OnceLock::new();
    PREFIX
        .get_or_init(|| {
            let me = crate::util::owner::Owner::current();
            format!(".rollproof-tmp-{}.{}-", me.pid, me.start_ticks)
        })
        .clone()
}

/// The owner (pid, start ticks) a temporary name carries, if any.
pub fn owner_of_temp(name: &str) -> Option<(u32, u64)> {
    let rest = name.strip_prefix(".rollproof-tmp-")?;
    let (owner, _) = rest.split_once('-')?;
    let (pid, start) = owner.split_once('.')?;
    Some((pid.parse().ok()?, start.parse().ok()?))
}

/// A temporary folder in the system's temp dir, named with its owner and
/// removed on interruption.
pub fn temp_dir() -> std::io::Result<tempfile::TempDir> {
    let d = tempfile::Builder::new().prefix(&temp_prefix()).tempdir()?;
    register(d.path());
    Ok(d)
}

/// Remove everything registered (the watcher calls this on a signal).
fn remove_registered() -> Vec<PathBuf> {
    let paths: Vec<PathBuf> = match REGISTRY.lock() {
        Ok(r) => r.iter().cloned().collect(),
        Err(_) => return Vec::new(),
    };
    let mut removed = Vec::new();
    for p in paths {
        let gone = match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&p).is_ok(),
            Ok(_) => std::fs::remove_file(&p).is_ok(),
            Err(_) => false,
        };
        if gone {
            removed.push(p);
        }
    }
    removed
}

/// Install the SIGINT/SIGTERM watcher (once per process; `generate` and
/// `rehearse` call it first thing).
pub fn on_signal_remove_temporaries() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
            return;
        };
        std::thread::spawn(move || {
            if let Some(sig) = signals.forever().next() {
                let removed = remove_registered();
                let name = if sig == SIGINT { "SIGINT" } else { "SIGTERM" };
                eprintln!(
                    "rollproof: interrupted by {name}; removed {} temporary path(s){}",
                    removed.len(),
                    removed
                        .iter()
                        .map(|p| format!("\n  {}", p.display()))
                        .collect::<String>()
                );
                std::process::exit(128 + sig);
            }
        });
    });
}
