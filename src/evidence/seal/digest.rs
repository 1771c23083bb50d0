//! Hashing many files at disk / SHA-256 speed: a few worker threads, each
//! streaming files through one reused 1 MiB buffer (memory is `jobs` MiB,
//! whatever the file sizes), sharing one byte-counting progress bar (shown on
//! a TTY only). `sha2` uses SHA-NI where the CPU has it, as
//! [`crate::hash::file_sha256`] does; this variant adds the shared bar and,
//! in the same pass, the digest of a file's first `n` bytes — which is how
//! `check` tells "bytes appended" from "bytes changed" without re-reading.

use crate::hash::{CHUNK, FileDigest, HashError};
use indicatif::ProgressBar;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One file to hash.
#[derive(Debug, Clone)]
pub struct Job {
    /// The file.
    pub path: PathBuf,
    /// Its size as the walk saw it (for the progress bar and scheduling).
    pub size: u64,
    /// Also return the SHA-256 of the first this-many bytes, when the file
    /// is at least that long.
    pub prefix: Option<u64>,
}

/// The result of hashing one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashed {
    /// Digest and length of the whole file as read.
    pub digest: FileDigest,
    /// Digest of the first `Job::prefix` bytes, if asked and long enough.
    pub prefix_sha256: Option<String>,
}

/// Worker threads to use by default: the CPUs there are, at most 4 (more
/// rarely helps: one SHA-NI core already outruns most disks).
pub fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get().min(4))
        .unwrap_or(1)
}

/// Hash every job with `threads` workers; results come back in job order.
pub fn hash_all(jobs: &[Job], threads: usize, message: &str) -> Vec<Result<Hashed, HashError>> {
    let total: u64 = jobs.iter().map(|j| j.size).sum();
    let bar = crate::util::progress::bytes_bar(total, message);
    // Largest first, so one big file does not start last and run alone.
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(jobs[i].size));
    let next = AtomicUsize::new(0);
    let threads = threads.clamp(1, jobs.len().max(1));
    let mut results: Vec<Option<Result<Hashed, HashError>>> =
        (0..jobs.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut buf = vec![0u8; CHUNK];
                    let mut done = Vec::new();
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&i) = order.get(k) else { break };
                        done.push((i, hash_one(&jobs[i], &mut buf, &bar)));
                    }
                    done
                })
            })
            .collect();
        for w in workers {
            if let Ok(done) = w.join() {
                for (i, r) in done {
                    results[i] = Some(r);
                }
            }
        }
    });
    bar.finish_and_clear();
    results
        .into_iter()
        .zip(jobs)
        .map(|(r, job)| {
            r.unwrap_or_else(|| {
                Err(HashError {
                    path: job.path.clone(),
                    source: io::Error::other("the hashing thread stopped unexpectedly"),
                })
            })
        })
        .collect()
}

fn hash_one(job: &Job, buf: &mut [u8], bar: &ProgressBar) -> Result<Hashed, HashError> {
    let err = |source| HashError {
        path: job.path.clone(),
        source,
    };
    // Never blocks: a FIFO swapped in after the walk fails the check below.
    let mut file = crate::util::fsutil::open_regular_io(&job.path).map_err(err)?;
    let before = same_file_as_walked(&file, job).map_err(err)?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut prefix_sha256 = None;
    if job.prefix == Some(0) {
        prefix_sha256 = Some(hex::encode(Sha256::new().finalize()));
    }
    loop {
        let n = match file.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(err(e)),
        };
        let chunk = &buf[..n];
        match job.prefix {
            Some(p) if size < p && size + n as u64 >= p => {
                let cut = (p - size) as usize;
                hasher.update(&chunk[..cut]);
                prefix_sha256 = Some(hex::encode(hasher.clone().finalize()));
                hasher.update(&chunk[cut..]);
            }
            _ => hasher.update(chunk),
        }
        size += n as u64;
        bar.inc(n as u64);
    }
    // Re-stat after hashing: bytes hashed from a file that was renamed
    // away, replaced or written meanwhile say nothing about the path now.
    let after = same_file_as_walked(&file, job).map_err(err)?;
    if after != before || after.size != size {
        return Err(err(io::Error::other(ReplacedDuringCheck)));
    }
    Ok(Hashed {
        digest: FileDigest {
            sha256: hex::encode(hasher.finalize()),
            size,
        },
        prefix_sha256,
    })
}

/// The error of a file that changed or was replaced while it was hashed
/// (`check` reports it as drift `replaced-during-check`).
#[derive(Debug)]
pub struct ReplacedDuringCheck;

impl std::fmt::Display for ReplacedDuringCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("replaced, renamed over or written while it was being hashed")
    }
}

impl std::error::Error for ReplacedDuringCheck {}

/// What identifies a file's state: device, inode, size, modification and
/// change times.
#[derive(Debug, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

/// Fail closed if the path was swapped for a symlink or another file
/// between the walk (which never follows links) and this open (which
/// would); the opened file's stamp.
fn same_file_as_walked(file: &File, job: &Job) -> io::Result<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let opened = file.metadata()?;
    let at_path = std::fs::symlink_metadata(&job.path)?;
    if !at_path.file_type().is_file()
        || !opened.is_file()
        || at_path.ino() != opened.ino()
        || at_path.dev() != opened.dev()
    {
        return Err(io::Error::other(ReplacedDuringCheck));
    }
    Ok(Stamp {
        dev: opened.dev(),
        ino: opened.ino(),
        size: opened.size(),
        mtime: (opened.mtime(), opened.mtime_nsec()),
        ctime: (opened.ctime(), opened.ctime_nsec()),
    })
}

/// True when a hashing error is [`ReplacedDuringCheck`].
pub fn is_replaced(e: &HashError) -> bool {
    e.source
        .get_ref()
        .is_some_and(|inner| inner.is::<ReplacedDuringCheck>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::sha256_hex;

    #[test]
    fn digests_and_prefixes_match_one_shot_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..2 * CHUNK + 5).map(|i| (i * 7 % 253) as u8).collect();
        let mut jobs = Vec::new();
        for (k, len) in [0, 1, CHUNK, CHUNK + 3, 2 * CHUNK + 5]
            .into_iter()
            .enumerate()
        {
            let p = dir.path().join(format!("f{k}"));
            std::fs::write(&p, &data[..len]).unwrap();
            jobs.push(Job {
                path: p,
                size: len as u64,
                prefix: Some((CHUNK + 1) as u64),
            });
        }
        jobs[0].prefix = Some(0);
        let out = hash_all(&jobs, 3, "test");
        for (k, len) in [0, 1, CHUNK, CHUNK + 3, 2 * CHUNK + 5]
            .into_iter()
            .enumerate()
        {
            let h = out[k].as_ref().unwrap();
            assert_eq!(h.digest.sha256, sha256_hex(&data[..len]));
            assert_eq!(h.digest.size, len as u64);
            let want = match k {
                0 => Some(sha256_hex(b"")),
                3 | 4 => Some(sha256_hex(&data[..CHUNK + 1])),
                _ => None,
            };
            assert_eq!(h.prefix_sha256, want, "file {k}");
        }
        let missing = hash_all(
            &[Job {
                path: dir.path().join("nope"),
                size: 0,
                prefix: None,
            }],
            2,
            "test",
        );
        assert!(missing[0].is_err());
    }
}
