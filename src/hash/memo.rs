//! Remembered file digests, so that one rehearsal reads each state of a
//! gigabyte database once instead of once per step that needs its digest
//! (the guard's checks, the sidecar rebinding, the phase measurements).
//!
//! A digest is remembered for a file *state*: device, inode, size, mtime and
//! ctime, all taken with `fstat` before and after the read and required to
//! be equal. A later request is answered from memory only when the file's
//! state is still exactly that one. Every write changes mtime and ctime, and
//! nobody can set ctime back (only the clock can), so a changed file is
//! always read again. The one gap is timestamp granularity: a write in the
//! same clock tick as the remembered ctime would keep it. So a state is
//! remembered only when its ctime is older than the moment the read began by
//! more than [`SETTLE`] (more than any kernel tick); a write that could
//! collide would have happened before the read and be part of what was read.
//! Filesystems with whole-second timestamps (ctime nanoseconds zero) need a
//! longer settling time, [`SETTLE_COARSE`].
//!
//! The memo lives in this process only and is never written anywhere.

use super::FileDigest;
use std::collections::HashMap;
use std::fs::Metadata;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How much older than the start of a read a file's ctime must be.
pub const SETTLE: Duration = Duration::from_millis(50);
/// The same on filesystems that store whole seconds.
pub const SETTLE_COARSE: Duration = Duration::from_millis(2100);
/// Files at least this large are worth waiting [`SETTLE`] for before a
/// read (waiting is cheaper than a second read of them later).
pub const WAIT_FROM_BYTES: u64 = 64 << 20;

/// One state of one file, as `fstat` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileState {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileState {
    /// The state of a file from its metadata (`None` where the platform does
    /// not give inode and ctime: nothing is remembered there).
    pub fn of(meta: &Metadata) -> Option<FileState> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Some(FileState {
                dev: meta.dev(),
                ino: meta.ino(),
                size: meta.len(),
                mtime: (meta.mtime(), meta.mtime_nsec()),
                ctime: (meta.ctime(), meta.ctime_nsec()),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            None
        }
    }

    /// How long after its ctime this state may be remembered.
    fn settle(&self) -> Duration {
        if self.ctime.1 == 0 && self.mtime.1 == 0 {
            SETTLE_COARSE
        } else {
            SETTLE
        }
    }

    /// The ctime as a point in time (`None` before 1970).
    fn ctime_at(&self) -> Option<SystemTime> {
        let secs = u64::try_from(self.ctime.0).ok()?;
        let nanos = u32::try_from(self.ctime.1).ok()?;
        Some(UNIX_EPOCH + Duration::new(secs, nanos))
    }

    /// True when a read that began at `start` may be remembered.
    fn settled_before(&self, start: SystemTime) -> bool {
        self.ctime_at()
            .and_then(|c| c.checked_add(self.settle()))
            .is_some_and(|c| c < start)
    }
}

/// Remembered digests by (device, inode), each with the state it is for.
type Memo = HashMap<(u64, u64), (FileState, FileDigest)>;

static MEMO: Mutex<Option<Memo>> = Mutex::new(None);

fn with<R>(f: impl FnOnce(&mut Memo) -> R) -> Option<R> {
    let mut g = MEMO.lock().ok()?;
    Some(f(g.get_or_insert_with(HashMap::new)))
}

/// The digest remembered for exactly this state of the file, if any.
pub fn recall(meta: &Metadata) -> Option<FileDigest> {
    let state = FileState::of(meta)?;
    with(|m| match m.get(&(state.dev, state.ino)) {
        Some((s, d)) if *s == state => Some(d.clone()),
        _ => None,
    })
    .flatten()
}

/// The digest remembered for the file at `path` in its current state.
pub fn recall_path(path: &Path) -> Option<FileDigest> {
    recall(&std::fs::metadata(path).ok()?)
}

/// Before reading a large file written just now, wait until its ctime has
/// settled so that its digest can be remembered. Returns when the read
/// should begin.
pub fn settle_before_read(meta: &Metadata) -> SystemTime {
    let now = SystemTime::now();
    if meta.len() < WAIT_FROM_BYTES {
        return now;
    }
    let Some(state) = FileState::of(meta) else {
        return now;
    };
    if state.settle() != SETTLE {
        return now;
    }
    if let Some(ready) = state.ctime_at().and_then(|c| c.checked_add(SETTLE))
        && let Ok(wait) = ready.duration_since(now)
        && wait <= SETTLE
    {
        std::thread::sleep(wait + Duration::from_millis(1));
    }
    SystemTime::now()
}

/// Remember `digest` for a file read from `start` on, whose metadata was
/// `before` when the read began and `after` when it ended. Nothing is
/// remembered if the file changed meanwhile or had not settled (module
/// docs).
pub fn record(start: SystemTime, before: &Metadata, after: &Metadata, digest: &FileDigest) {
    let (Some(b), Some(a)) = (FileState::of(before), FileState::of(after)) else {
        return;
    };
    if b != a || b.size != digest.size || !b.settled_before(start) {
        return;
    }
    with(|m| m.insert((b.dev, b.ino), (b, digest.clone())));
}

/// This process has just renamed the file now at `path` (same inode). A
/// rename changes ctime but not the bytes; carry the remembered digest to
/// the new state when size and mtime are unchanged.
pub fn renamed(path: &Path) {
    let Some(now) = std::fs::metadata(path)
        .ok()
        .as_ref()
        .and_then(FileState::of)
    else {
        return;
    };
    with(|m| {
        if let Some((s, _)) = m.get_mut(&(now.dev, now.ino))
            && s.size == now.size
            && s.mtime == now.mtime
        {
            *s = now;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{file_sha256, sha256_hex};
    use std::io::{Seek, SeekFrom, Write};

    fn settled_file(dir: &Path, name: &str, data: &[u8]) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, data).unwrap();
        std::thread::sleep(SETTLE + Duration::from_millis(20));
        let state = FileState::of(&std::fs::metadata(&p).unwrap()).unwrap();
        if state.settle() != SETTLE {
            std::thread::sleep(SETTLE_COARSE);
        }
        p
    }

    #[test]
    fn a_settled_file_is_read_once_and_a_changed_one_again() {
        let dir = tempfile::tempdir().unwrap();
        let p = settled_file(dir.path(), "f", b"first bytes!");
        assert_eq!(recall_path(&p), None);
        let d = file_sha256(&p).unwrap();
        assert_eq!(d.sha256, sha256_hex(b"first bytes!"));
        assert_eq!(recall_path(&p), Some(d.clone()));
        // Same size, same length, written in place: the state changes.
        let mut f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        f.write_all(b"FIRST").unwrap();
        drop(f);
        assert_eq!(recall_path(&p), None);
        let d2 = file_sha256(&p).unwrap();
        assert_eq!(d2.sha256, sha256_hex(b"FIRST bytes!"));
    }

    #[test]
    fn a_read_that_began_within_the_settling_time_is_not_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fresh");
        std::fs::write(&p, b"fresh").unwrap();
        let meta = std::fs::metadata(&p).unwrap();
        let state = FileState::of(&meta).unwrap();
        let ctime = state.ctime_at().unwrap();
        let digest = FileDigest {
            sha256: sha256_hex(b"fresh"),
            size: 5,
        };
        // A read that began right after the last write: a write in the same
        // clock tick could follow unseen, so nothing is remembered.
        record(ctime + Duration::from_millis(10), &meta, &meta, &digest);
        assert_eq!(recall_path(&p), None);
        // One that began after the settling time is remembered.
        record(
            ctime + state.settle() + Duration::from_millis(10),
            &meta,
            &meta,
            &digest,
        );
        assert_eq!(recall_path(&p), Some(digest));
    }

    #[test]
    fn an_own_rename_carries_the_digest_and_a_touch_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let p = settled_file(dir.path(), "a", b"renamed bytes");
        let d = file_sha256(&p).unwrap();
        let q = dir.path().join("b");
        std::fs::rename(&p, &q).unwrap();
        renamed(&q);
        assert_eq!(recall_path(&q), Some(d));
        // Setting mtime (as `touch` does) is not a rename: forgotten.
        let f = std::fs::File::options().write(true).open(&q).unwrap();
        f.set_modified(SystemTime::now()).unwrap();
        drop(f);
        renamed(&q);
        assert_eq!(recall_path(&q), None);
    }
}
