//! `rollproof apply-worker` (hidden): the separate process a rehearsal
//! starts to apply births or a change script so that a fault can hit it for
//! real (SIGKILL, or a file-size limit that fails its writes). For births it
//! reads the birth plan as JSON on stdin, commits each birth on its own, and
//! prints `born N` after every commit; with `--script` it reads a script job
//! (one JSON line), runs it statement by statement in the sandbox and prints
//! `done N` after each statement (waiting after `--pause-after N` until it
//! is killed). With `--emit-sql` it instead prints the SQL the sqlite3
//! shell runs to make the same births (the benchmark's shell baseline).

use crate::engine::BirthPlan;
use crate::exit::Status;
use anyhow::Context;
use std::io::{Read, Write};
use std::path::PathBuf;

/// Apply a birth plan in a separate process (internal; used by `rehearse`).
///
/// Example (benchmark baseline):
///   rollproof apply-worker --db work/s.db --emit-sql --count 1000 --seed 1 | sqlite3 copy.db
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The database (a working copy in the workspace; read-only with --emit-sql).
    #[arg(long, value_name = "FILE")]
    pub db: PathBuf,
    /// Fail writes past this many bytes per file (RLIMIT_FSIZE).
    #[arg(long, value_name = "BYTES")]
    pub fsize_limit: Option<u64>,
    /// The job on stdin is a change script (one JSON line), not a birth plan.
    #[arg(long)]
    pub script: bool,
    /// With --script: after this many statements, wait until killed.
    #[arg(long, value_name = "N", requires = "script")]
    pub pause_after: Option<u64>,
    /// Print the births as sqlite3-shell SQL (one transaction) instead of applying.
    #[arg(long)]
    pub emit_sql: bool,
    /// With --emit-sql: number of births.
    #[arg(long, default_value_t = 1000)]
    pub count: u64,
    /// With --emit-sql: seed of the birth requests.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the file's SHA-256 as the rehearsal computes it (benchmark of
    /// the file-hashing path against sha256sum / openssl).
    #[arg(long)]
    pub file_sha256: bool,
}

pub fn run(args: Args) -> anyhow::Result<Status> {
    if args.emit_sql {
        return emit_sql(&args);
    }
    if args.file_sha256 {
        let d = crate::hash::file_sha256(&args.db)?;
        println!("{}  {}", d.sha256, args.db.display());
        return Ok(Status::Success);
    }
    if args.script {
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        crate::engine::sqlite::backend::run_script_worker(
            &args.db,
            args.fsize_limit,
            args.pause_after,
            &mut input,
            &mut out,
        )
        .with_context(|| format!("apply worker on {}", args.db.display()))?;
        return Ok(Status::Success);
    }
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .context("cannot read the birth plan from stdin")?;
    let plan: BirthPlan =
        serde_json::from_slice(&input).context("the birth plan on stdin is not valid JSON")?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    crate::engine::sqlite::backend::run_worker(&args.db, &plan, args.fsize_limit, &mut out)
        .with_context(|| format!("apply worker on {}", args.db.display()))?;
    Ok(Status::Success)
}

fn emit_sql(args: &Args) -> anyhow::Result<Status> {
    let conn = crate::engine::sqlite::backend::open_ro(&args.db)
        .with_context(|| format!("cannot open {}", args.db.display()))?;
    let mut stmt = conn.prepare("SELECT id FROM directus_users ORDER BY id LIMIT ?1")?;
    let users = stmt
        .query_map([crate::rehearse::births::USER_LIMIT as i64], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()
        .with_context(|| format!("cannot read directus_users from {}", args.db.display()))?;
    let plan = BirthPlan {
        seed: args.seed,
        count: args.count,
        kinds: vec![("meter".into(), 1.0), ("sensor".into(), 1.0)],
        users,
        start_ms: crate::rehearse::births::DEFAULT_START_MS,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    writeln!(out, "PRAGMA foreign_keys = ON;\nBEGIN;")?;
    for i in 0..plan.count {
        out.write_all(crate::rehearse::births::birth_sql(&plan.birth(i)).as_bytes())?;
    }
    writeln!(out, "COMMIT;")?;
    out.flush()?;
    Ok(Status::Success)
}
