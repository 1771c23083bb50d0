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
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock};

static REGISTRY: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// The signal being handled (0: none). Set before the watcher removes
/// anything, so the main thread, whose files vanish under it, never reports
/// the resulting error (or a success) as the run's outcome.
static INTERRUPTED: AtomicI32 = AtomicI32::new(0);

/// Once a SIGINT/SIGTERM is being handled, never return: the watcher ends
/// the process with 128 + the signal when its removals are done. Called on
/// every way out of a command.
pub fn yield_to_interruption() {
    while INTERRUPTED.load(Ordering::SeqCst) != 0 {
        std::thread::park_timeout(std::time::Duration::from_millis(50));
    }
}

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

/// What else to undo on interruption (PostgreSQL scratch databases): each
/// hook returns what it removed.
static HOOKS: Mutex<Vec<Hook>> = Mutex::new(Vec::new());

/// An interrupt hook: undoes something and says what.
pub type Hook = fn() -> Vec<String>;

/// Run `hook` if the process is interrupted (added once however often
/// this is called with it).
pub fn on_interrupt(hook: Hook) {
    if let Ok(mut h) = HOOKS.lock()
        && !h.contains(&hook)
    {
        h.push(hook);
    }
}

/// Remove everything registered (the watcher calls this on a signal).
fn remove_registered() -> Vec<String> {
    let hooks: Vec<_> = HOOKS.lock().map(|h| h.clone()).unwrap_or_default();
    let mut removed: Vec<String> = hooks.iter().flat_map(|h| h()).collect();
    let paths: Vec<PathBuf> = match REGISTRY.lock() {
        Ok(r) => r.iter().cloned().collect(),
        Err(_) => return removed,
    };
    for p in paths {
        if remove_path(&p) {
            removed.push(p.display().to_string());
        }
    }
    removed
}

/// Remove a file (and SQLite's companions of it) or a folder. The main
/// thread may still be writing into a folder meanwhile, so a failed
/// removal is retried a few times.
fn remove_path(p: &Path) -> bool {
    for _ in 0..5 {
        let gone = match std::fs::symlink_metadata(p) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(p).is_ok(),
            Ok(_) => {
                for suffix in ["-journal", "-wal", "-shm"] {
                    let mut side = p.as_os_str().to_owned();
                    side.push(suffix);
                    let _ = std::fs::remove_file(PathBuf::from(side));
                }
                std::fs::remove_file(p).is_ok()
            }
            Err(_) => return false,
        };
        if gone {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    false
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
                INTERRUPTED.store(sig, Ordering::SeqCst);
                let mut removed = remove_registered();
                // The main thread runs on meanwhile and may have re-created
                // a folder just removed (a --keep folder's run): once more.
                std::thread::sleep(std::time::Duration::from_millis(100));
                for p in remove_registered() {
                    if !removed.contains(&p) {
                        removed.push(p);
                    }
                }
                let name = if sig == SIGINT { "SIGINT" } else { "SIGTERM" };
                eprintln!(
                    "rollproof: interrupted by {name}; removed {} leftover(s){}",
                    removed.len(),
                    removed
                        .iter()
                        .map(|p| format!("\n  removed {p}"))
                        .collect::<String>()
                );
                std::process::exit(128 + sig);
            }
        });
    });
}

/// Marker file inside a run folder or a `--keep` folder while it is being
/// filled: the owner process, as JSON. A folder that still holds it when
/// its owner is dead is a leftover (`rollproof clean`); a finished folder
/// has none.
pub const IN_PROGRESS: &str = ".rollproof-in-progress.json";

/// Where the workspace lists folders in progress outside itself (`--keep`
/// folders), so `clean` can find them: `<workspace>/.rollproof/partial/`.
pub fn partial_dir(workspace: &Path) -> PathBuf {
    workspace.join(".rollproof").join("partial")
}

/// A journal entry of a folder in progress outside the workspace.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partial {
    /// The folder (canonical).
    pub path: PathBuf,
    /// Who fills it.
    pub owner: crate::util::owner::Owner,
}

fn journal_path(workspace: &Path, dir: &Path) -> PathBuf {
    let id = crate::hash::sha256_hex(dir.as_os_str().as_encoded_bytes());
    partial_dir(workspace).join(format!("{}.json", &id[..32]))
}

/// `dir` (just created) is being filled by this process: mark it, remove
/// it on interruption, and, when it lies outside the `workspace`, list it
/// in the workspace's journal.
pub fn begin_folder(dir: &Path, workspace: &Path) -> std::io::Result<()> {
    let dir = dir.canonicalize()?;
    let owner = crate::util::owner::Owner::current();
    let json = serde_json::to_vec_pretty(&owner).map_err(std::io::Error::other)?;
    crate::util::fsutil::write_atomic(&dir.join(IN_PROGRESS), &json, true)
        .map_err(std::io::Error::other)?;
    if !dir.starts_with(workspace) {
        let entry = Partial {
            path: dir.clone(),
            owner,
        };
        let bytes = serde_json::to_vec_pretty(&entry).map_err(std::io::Error::other)?;
        let path = journal_path(workspace, &dir);
        std::fs::create_dir_all(partial_dir(workspace))?;
        crate::util::fsutil::write_atomic(&path, &bytes, true).map_err(std::io::Error::other)?;
    }
    register(&dir);
    Ok(())
}

/// `dir` is complete (kept on purpose): unmark it.
pub fn end_folder(dir: &Path, workspace: &Path) {
    let Ok(dir) = dir.canonicalize() else { return };
    unregister(&dir);
    let _ = std::fs::remove_file(dir.join(IN_PROGRESS));
    let _ = std::fs::remove_file(journal_path(workspace, &dir));
}

/// `dir` was removed on purpose (a run that went as expected).
pub fn remove_folder(dir: &Path, workspace: &Path) {
    let real = dir.canonicalize().ok();
    let _ = std::fs::remove_dir_all(dir);
    if let Some(real) = real {
        unregister(&real);
        let _ = std::fs::remove_file(journal_path(workspace, &real));
    }
}
