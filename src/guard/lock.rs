//! The workspace lock: `<workspace>/.rollproof/lock`, an flock(2) lock.
//!
//! Every rollproof process that uses the workspace holds it *shared* from
//! its first use of the workspace until it exits, so any number of runs go
//! on side by side. `rollproof clean` takes it *exclusive*: it removes a
//! dead run's leftovers only when no other rollproof process uses this
//! workspace at all. That makes the owner check (pid and start time, see
//! [`crate::util::owner`]) a second line, not the only one: a run in another
//! pid namespace (a container sharing the folder) holds the lock too, and
//! the kernel drops the lock of a killed process, so a crash never leaves a
//! stale lock behind.

use super::Refusal;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The lock this process holds: (workspace root, lock file, exclusive).
static HELD: Mutex<Option<(PathBuf, File, bool)>> = Mutex::new(None);

fn lock_path(root: &Path) -> PathBuf {
    root.join(".rollproof").join("lock")
}

fn open(root: &Path) -> Result<File, Refusal> {
    let path = lock_path(root);
    let fail = |e: std::io::Error| {
        Refusal::new(format!(
            "cannot open the workspace lock {}: {e}",
            path.display()
        ))
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(fail)
}

/// Hold the workspace at `root` shared (once per process; a no-op when this
/// process already holds it). Waits while `rollproof clean` runs.
pub fn hold_shared(root: &Path) -> Result<(), Refusal> {
    let mut held = HELD
        .lock()
        .map_err(|_| Refusal::new("workspace lock poisoned"))?;
    if held.as_ref().is_some_and(|(r, _, _)| r == root) {
        return Ok(());
    }
    let file = open(root)?;
    match file.try_lock_shared() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            eprintln!(
                "rollproof: waiting for `rollproof clean` to finish in {}",
                root.display()
            );
            file.lock_shared().map_err(|e| {
                Refusal::new(format!("cannot lock the workspace {}: {e}", root.display()))
            })?;
        }
        Err(TryLockError::Error(e)) => {
            return Err(Refusal::new(format!(
                "cannot lock the workspace {}: {e}",
                root.display()
            )));
        }
    }
    *held = Some((root.to_path_buf(), file, false));
    Ok(())
}

/// Hold the workspace at `root` exclusively (for `clean`): refused while
/// any other rollproof process uses it. Converts this process's shared
/// lock, if it holds one.
pub fn hold_exclusive(root: &Path) -> Result<(), Refusal> {
    let mut held = HELD
        .lock()
        .map_err(|_| Refusal::new("workspace lock poisoned"))?;
    let file = match held.take() {
        Some((r, f, _)) if r == root => f,
        _ => open(root)?,
    };
    match file.try_lock() {
        Ok(()) => {
            *held = Some((root.to_path_buf(), file, true));
            Ok(())
        }
        Err(TryLockError::WouldBlock) => {
            // Keep our shared hold: we still use the workspace.
            let _ = file.try_lock_shared();
            *held = Some((root.to_path_buf(), file, false));
            Err(Refusal::new(format!(
                "another rollproof command is using the workspace {}; clean removes leftovers only while none is (run it again when they are done)",
                root.display()
            )))
        }
        Err(TryLockError::Error(e)) => Err(Refusal::new(format!(
            "cannot lock the workspace {}: {e}",
            root.display()
        ))),
    }
}
