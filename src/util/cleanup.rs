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
use std::sync::{Mutex, OnceLock, RwLock};

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

/// Shared by every step that creates a path and registers it (or commits
/// one), taken exclusively by the watcher before it removes anything and
/// held until the process exits: a path is either created *and* registered
/// before the removal, or never created at all. Without it, a folder made
/// just before a signal and registered just after survived the removal.
static CREATING: RwLock<()> = RwLock::new(());

/// Run `create` — which makes a path and [`register`]s it, or commits one —
/// as one step with respect to an interruption. Once a signal is being
/// handled it never returns (the watcher ends the process).
pub fn creating<T>(create: impl FnOnce() -> T) -> T {
    thread_local!(static DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) });
    // A nested step runs inside its caller's: it must not wait for the
    // watcher, which waits for the outer step to end.
    if DEPTH.get() == 0 {
        yield_to_interruption();
    }
    let _shared = CREATING.read().unwrap_or_else(|e| e.into_inner());
    DEPTH.set(DEPTH.get() + 1);
    let out = create();
    DEPTH.set(DEPTH.get() - 1);
    out
}

/// The watcher's side of [`CREATING`]: wait for a step in progress to end
/// (at most a few seconds: a step is a mkdir or a rename, and a stuck one
/// must not keep the process from exiting).
fn stop_creating() -> Option<std::sync::RwLockWriteGuard<'static, ()>> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match CREATING.try_write() {
            Ok(g) => return Some(g),
            Err(std::sync::TryLockError::Poisoned(e)) => return Some(e.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(5))
            }
            Err(std::sync::TryLockError::WouldBlock) => return None,
        }
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
    creating(|| {
        let d = tempfile::Builder::new().prefix(&temp_prefix()).tempdir()?;
        register(d.path());
        Ok(d)
    })
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
                let _held = stop_creating();
                let mut removed = remove_registered();
                // Files SQLite itself makes beside a registered one (a
                // journal) are not created through `creating`: once more.
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

/// Create `dir` (and its parents) to be filled by this process: mark it,
/// remove it on interruption, and, when it lies outside the `workspace`,
/// list it in the workspace's journal. One step for the watcher
/// ([`creating`]): a signal never finds it made but not registered.
pub fn begin_folder(dir: &Path, workspace: &Path) -> std::io::Result<()> {
    creating(|| {
        std::fs::create_dir_all(dir)?;
        let dir = dir.canonicalize()?;
        register(&dir);
        mark_folder(&dir, workspace)
    })
}

fn mark_folder(dir: &Path, workspace: &Path) -> std::io::Result<()> {
    let owner = crate::util::owner::Owner::current();
    let json = serde_json::to_vec_pretty(&owner).map_err(std::io::Error::other)?;
    crate::util::fsutil::write_atomic(&dir.join(IN_PROGRESS), &json, true)
        .map_err(std::io::Error::other)?;
    if !dir.starts_with(workspace) {
        let entry = Partial {
            path: dir.to_path_buf(),
            owner,
        };
        let bytes = serde_json::to_vec_pretty(&entry).map_err(std::io::Error::other)?;
        let path = journal_path(workspace, dir);
        std::fs::create_dir_all(partial_dir(workspace))?;
        crate::util::fsutil::write_atomic(&path, &bytes, true).map_err(std::io::Error::other)?;
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    #[test]
    fn the_watcher_waits_for_a_step_in_progress_and_holds_off_the_next() {
        static DONE: AtomicBool = AtomicBool::new(false);
        static NEXT: AtomicBool = AtomicBool::new(false);
        let step = std::thread::spawn(|| {
            creating(|| {
                std::thread::sleep(Duration::from_millis(300));
                DONE.store(true, Ordering::SeqCst);
            })
        });
        std::thread::sleep(Duration::from_millis(50));
        let held = stop_creating().expect("the step ends well within the deadline");
        assert!(DONE.load(Ordering::SeqCst), "the watcher did not wait");
        let next = std::thread::spawn(|| creating(|| NEXT.store(true, Ordering::SeqCst)));
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            !NEXT.load(Ordering::SeqCst),
            "a step ran while the watcher held"
        );
        drop(held);
        next.join().unwrap();
        step.join().unwrap();
        assert!(NEXT.load(Ordering::SeqCst));
    }

    #[test]
    fn begin_folder_creates_registers_and_marks_in_one_step() {
        let ws = tempfile::tempdir().unwrap();
        let d = ws.path().join("a").join("b");
        begin_folder(&d, ws.path()).unwrap();
        let real = d.canonicalize().unwrap();
        assert!(REGISTRY.lock().unwrap().contains(&real));
        assert!(real.join(IN_PROGRESS).is_file());
        remove_folder(&d, ws.path());
        assert!(!d.exists());
        assert!(!REGISTRY.lock().unwrap().contains(&real));
    }
}
