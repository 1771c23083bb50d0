//! `rollproof hash`: every digest a proof report records for a SQLite file,
//! so a reviewer (or a test) can compare them with sha256sum, the sqlite3
//! shell's `.sha3sum` and `tools/logical_hash.py`. Any SQLite file of any
//! schema, no provenance needed: hashing only reads (a WAL-mode file is
//! opened immutable, so not even `-shm` is created). A file whose state is
//! not all in the main file (a `-wal` with content, a hot `-journal`) is
//! refused with what to run: its file digest and its content would describe
//! different states.

use crate::engine::sqlite::logical::TableDigest;
use crate::exit::Status;
use anyhow::Context;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Print the file SHA-256, size, canonical logical hash, per-table digests
/// and the sqlite3 shell's `.sha3sum` digest of SQLite files.
///
/// Any SQLite file, whoever made it: files are opened read-only and never
/// changed; a `-wal` with content or a hot `-journal` beside one is refused
/// (exit 2) with the command that folds it into the file. With
/// --target-url, any PostgreSQL database on a server rollproof may use
/// (loopback, or --allow-host), read in a read-only session.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// SQLite database files to hash.
    #[arg(value_name = "FILE", required_unless_present = "target_url")]
    pub files: Vec<PathBuf>,
    /// Hash a PostgreSQL database instead (a read-only session, one
    /// consistent snapshot): postgres://user@host:port/dbname, any database
    /// the user may read. Prints the PostgreSQL logical digest, the COPY
    /// bytes streamed and the MB/s.
    #[arg(long, value_name = "URL", conflicts_with = "files")]
    pub target_url: Option<String>,
    /// Also allow this PostgreSQL server host (a throwaway server); repeatable.
    #[arg(long, value_name = "HOST", requires = "target_url")]
    pub allow_host: Vec<String>,
    /// Print the result as JSON (an array, one object per file) on stdout.
    #[arg(long)]
    pub json: bool,
}

/// All digests of one file.
#[derive(Debug, Serialize)]
pub struct FileHashes {
    /// The file as given on the command line.
    pub path: String,
    /// SHA-256 of the file's bytes (what `sha256sum` prints).
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// The canonical logical hash (docs/LOGICAL-HASH.md).
    pub logical: Logical,
    /// The sqlite3 shell's `.sha3sum` digest.
    pub sha3sum: Sha3sum,
    /// Freelist pages and non-zero bytes left in unused space (deleted rows
    /// a reader of the raw file can still see).
    pub free_space: crate::engine::sqlite::freespace::FreeSpace,
}

/// The canonical logical hash and its parts.
#[derive(Debug, Serialize)]
pub struct Logical {
    /// Algorithm tag hashed into the digest.
    pub algorithm: &'static str,
    /// The whole-database logical digest.
    pub sha256: String,
    /// Digest of the schema rows alone.
    pub schema_sha256: String,
    /// The hashed settings (journal mode, page size, …) by name.
    pub settings: BTreeMap<String, crate::engine::sqlite::logical::Setting>,
    /// Per-table row counts and digests.
    pub tables: BTreeMap<String, TableDigest>,
}

/// The shell-compatible SHA3 digest and how to reproduce it.
#[derive(Debug, Serialize)]
pub struct Sha3sum {
    /// The shell command line that prints the same digest.
    pub command: &'static str,
    /// Lowercase hex SHA3-256.
    pub digest: String,
}

/// The result of a scoped hashing thread, a panic turned into an error.
fn joined<T, E: Into<anyhow::Error>>(
    r: std::thread::Result<Result<T, E>>,
    path: &Path,
) -> anyhow::Result<T> {
    match r {
        Ok(r) => r.map_err(Into::into),
        Err(_) => Err(anyhow::anyhow!(
            "a hashing thread panicked on {}",
            path.display()
        )),
    }
}

/// Refuse what cannot be hashed as one state: an empty or non-SQLite
/// file, or a file with part of its state beside it.
pub fn check_hashable(path: &Path) -> anyhow::Result<()> {
    use crate::engine::sqlite::{logical, snapshot};
    let shown = path.display();
    // Missing, a folder, empty, not SQLite, truncated: named by one check.
    crate::engine::sqlite::header::check(path)?;
    if logical::wal_has_content(path) {
        anyhow::bail!(
            "{shown} has a write-ahead log beside it ({shown}-wal) whose committed changes may not be in the file: \
             its file SHA-256 and its content would describe different states. Fold the log into the file first, \
             sqlite3 '{shown}' 'PRAGMA wal_checkpoint(TRUNCATE);' (or copy both files and checkpoint the copy), \
             then hash again"
        );
    }
    if snapshot::has_hot_journal(path) {
        anyhow::bail!(
            "{shown} has a hot rollback journal beside it ({shown}-journal): a write was interrupted, and opening \
             the file rolls it back, which is a write. Let SQLite recover it first, \
             sqlite3 '{shown}' 'PRAGMA integrity_check;', then hash again"
        );
    }
    Ok(())
}

/// Compute every digest of one file: the byte hash, the logical hash and
/// the `.sha3sum` digest each read the file on their own thread.
pub fn hash_file(path: &Path) -> anyhow::Result<FileHashes> {
    check_hashable(path)?;
    let (file, logical, sha3) = std::thread::scope(|s| {
        let sha3 = s.spawn(|| crate::engine::sqlite::sha3sum::sha3sum_file(path));
        let logical = s.spawn(|| -> anyhow::Result<_> {
            let conn = crate::engine::sqlite::logical::open_read_only(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            let digest = crate::engine::sqlite::logical::digest_conn(&conn).with_context(|| {
                format!("cannot compute the logical hash of {}", path.display())
            })?;
            let free = crate::engine::sqlite::freespace::scan(path, &conn)
                .with_context(|| format!("cannot walk the free space of {}", path.display()))?;
            Ok((digest, free))
        });
        let file = crate::hash::file_sha256(path);
        (
            file,
            joined(logical.join(), path),
            joined(sha3.join(), path),
        )
    });
    let (file, (logical, free_space), sha3) = (file?, logical?, sha3?);
    Ok(FileHashes {
        path: path.display().to_string(),
        sha256: file.sha256,
        size: file.size,
        logical: Logical {
            algorithm: crate::engine::sqlite::logical::ALGORITHM,
            sha256: logical.sha256,
            schema_sha256: logical.schema_sha256,
            settings: logical.settings,
            tables: logical.tables,
        },
        sha3sum: Sha3sum {
            command: crate::engine::sqlite::sha3sum::SHELL_COMMAND,
            digest: sha3,
        },
        free_space,
    })
}

/// Shown by `--help`; run verbatim by tests/cli/examples.rs.
const EXAMPLES: &str = "\
Files are only read. A -wal with content or a hot -journal beside a file is
refused (exit 2) with the command that folds it in. A PostgreSQL database:
--target-url postgres://me@localhost:5432/shop (docs/POSTGRES.md).

Examples:
  rollproof hash surrogates/fixtures/tiny-seed7.db
  rollproof hash surrogates/fixtures/tiny-seed7.db --json
  rollproof hash surrogates/fixtures/tiny-seed7.db README.md --json   # not SQLite: exit 2";

pub fn run(args: Args) -> anyhow::Result<Status> {
    if let Some(url) = &args.target_url {
        let h = crate::engine::postgres::hash_url(url, &args.allow_host)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&h)?);
        } else {
            println!(
                "{}  {}  (logical, {})",
                h.logical.sha256,
                h.url,
                crate::engine::postgres::logical::ALGORITHM
            );
            println!("  schema        {}", h.logical.schema_sha256);
            println!(
                "  streamed      {} COPY bytes in {:.2}s ({:.1} MB/s)",
                h.copy_bytes, h.seconds, h.mb_per_s
            );
            for (name, t) in &h.logical.tables {
                println!("  table {name:<24} {:>10} rows  {}", t.rows, t.sha256);
            }
        }
        return Ok(Status::Success);
    }
    // Every file is hashed, even after one fails: the good files' results
    // are printed (in --json, beside an error entry for each bad one) and
    // the exit status is the worst one.
    let mut all = Vec::with_capacity(args.files.len());
    let mut worst = Status::Success;
    for f in &args.files {
        // Every error of hash_file names the file already.
        let one = hash_file(f);
        match one {
            Ok(h) => all.push(Ok(h)),
            Err(e) => {
                eprintln!("rollproof: error: {}", crate::exit::describe(&e));
                let status = Status::for_error(&e);
                worst = worst.max(status);
                let mut v = crate::exit::error_json(&e);
                v["path"] = f.display().to_string().into();
                all.push(Err(v));
            }
        }
    }
    if args.json {
        let items: Vec<serde_json::Value> = all
            .into_iter()
            .map(|r| match r {
                Ok(h) => {
                    let mut v = serde_json::to_value(h).unwrap_or_default();
                    v["ok"] = true.into();
                    v
                }
                Err(v) => v,
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&items)?);
        return Ok(worst);
    }
    let all: Vec<FileHashes> = all.into_iter().filter_map(Result::ok).collect();
    for h in &all {
        println!("{}  {}", h.sha256, h.path);
        println!("  size          {} bytes", h.size);
        println!(
            "  logical       {} ({})",
            h.logical.sha256, h.logical.algorithm
        );
        println!("  schema        {}", h.logical.schema_sha256);
        let settings: Vec<String> = h
            .logical
            .settings
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!("  settings      {}", settings.join(" "));
        println!(
            "  free space    {} freelist pages; {} non-zero bytes in unused space on {} pages",
            h.free_space.freelist_pages, h.free_space.residue_bytes, h.free_space.residue_pages
        );
        println!(
            "  .sha3sum      {} ({})",
            h.sha3sum.digest,
            crate::engine::sqlite::sha3sum::DOT_COMMAND
        );
        for (name, t) in &h.logical.tables {
            println!("  table {name:<24} {:>10} rows  {}", t.rows, t.sha256);
        }
    }
    Ok(worst)
}
