//! `rollproof profile`: extract a value-free profile from a database.

use crate::exit::Status;
use crate::profile::extract::{ExtractOptions, extract};
use std::path::PathBuf;

/// Extract a profile (structure and statistics, no row values) from a
/// SQLite database, e.g. an operator's sanitized dump.
///
/// The database is opened read-only and its bytes never change. Only the
/// birth-register surface's tables are profiled; others are listed on
/// stderr as skipped. Category mixes and numeric ranges are value
/// information: they are written only when asked for, and only where the
/// privacy rules of docs/PROFILES.md allow.
///
/// Example:
///   rollproof profile dump.db --out surrogates/profiles/operator.toml --allow-categories
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The SQLite database to profile (opened read-only).
    #[arg(value_name = "DB")]
    pub db: PathBuf,
    /// Output profile (TOML, written atomically).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// `[profile] name` to write (default: the database's file stem).
    #[arg(long)]
    pub name: Option<String>,
    /// Write category mixes of label-like columns with at most 12 distinct
    /// values, each seen at least 5 times.
    #[arg(long)]
    pub allow_categories: bool,
    /// Write numeric ranges of non-key numeric columns, rounded outward to
    /// two significant digits.
    #[arg(long)]
    pub allow_ranges: bool,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<Status> {
    // Named before the database is read: a folder given as --out, an
    // existing file without --force. Missing parent folders are made.
    crate::util::fsutil::prepare_output(&args.out, args.force)?;
    let name = args.name.clone().unwrap_or_else(|| {
        args.db
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "extracted".into())
    });
    let opts = ExtractOptions {
        name,
        allow_categories: args.allow_categories,
        allow_ranges: args.allow_ranges,
    };
    // Every extraction error names the database already.
    let ex = extract(&args.db, &opts)?;
    for t in &ex.skipped {
        eprintln!("rollproof: skipped table {t}: not part of the birth-register surface");
    }
    for t in &ex.missing {
        eprintln!(
            "rollproof: warning: surface table {t} is missing from {}; the profile omits it",
            args.db.display()
        );
    }
    let text = ex.profile.to_toml();
    crate::util::fsutil::write_atomic(&args.out, text.as_bytes(), args.force)?;
    let rows: u64 = ex.profile.tables.values().map(|t| t.rows).sum();
    if args.json {
        let summary = serde_json::json!({
            "out": args.out,
            "tables": ex.profile.tables.len(),
            "rows": rows,
            "skipped": ex.skipped,
            "missing": ex.missing,
        });
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "{}  ({} tables, {} rows)",
            args.out.display(),
            ex.profile.tables.len(),
            rows
        );
    }
    Ok(Status::Success)
}
