//! `rollproof profile`: extract a value-free profile from any database.

use crate::exit::Status;
use crate::profile::extract::{ExtractOptions, Source, extract};
use std::path::PathBuf;

/// Extract a profile — the complete schema and value-free statistics, no
/// row values — from any database: a SQLite file, a live PostgreSQL
/// database (--url), or a PostgreSQL schema-only dump (--schema-dump) with
/// the statistics an operator took on the database (--stats).
///
/// Nothing is written to the source: a SQLite file is opened read-only; a
/// URL is read through a read-only session that touches only the catalog
/// and the statistics views; a dump is restored into a private throwaway
/// cluster that is removed afterwards. Category mixes and numeric and date
/// ranges are value information: written only when asked for, and only
/// where the rules of docs/PROFILES.md allow. A source with no tables is
/// an error (exit 2), never an empty profile.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("source").args(["db", "url", "schema_dump"]))]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The SQLite database to profile (opened read-only).
    #[arg(value_name = "DB")]
    pub db: Option<PathBuf>,
    /// A PostgreSQL database to profile through a read-only session
    /// (loopback or a Unix socket, or a host allowed with --allow-host).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// A PostgreSQL schema-only dump (pg_dump --schema-only, plain or
    /// custom format) to profile.
    #[arg(long, value_name = "FILE")]
    pub schema_dump: Option<PathBuf>,
    /// Statistics for --schema-dump: the output of the query that
    /// --stats-query prints, run on the database the dump came from.
    #[arg(long, value_name = "FILE", requires = "schema_dump")]
    pub stats: Option<PathBuf>,
    /// Print the PostgreSQL statistics query (for --stats) and exit. With
    /// --allow-categories or --allow-ranges it also reads pg_stats'
    /// most-common values and histogram bounds.
    #[arg(long, conflicts_with_all = ["db", "url", "schema_dump", "out"])]
    pub stats_query: bool,
    /// A PostgreSQL server host that may be read besides loopback
    /// (repeatable; also ROLLPROOF_PG_ALLOW_HOSTS).
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_hosts: Vec<String>,
    /// Output profile (TOML, written atomically).
    #[arg(long, value_name = "FILE", required_unless_present = "stats_query")]
    pub out: Option<PathBuf>,
    /// `[profile] name` to write (default: the source's file stem or
    /// database name).
    #[arg(long)]
    pub name: Option<String>,
    /// Write category mixes of label-like columns with at most 12 distinct
    /// values, each seen at least 5 times.
    #[arg(long)]
    pub allow_categories: bool,
    /// Write numeric ranges of non-key numeric columns (rounded outward to
    /// two significant digits) and date ranges (widened to whole months).
    #[arg(long)]
    pub allow_ranges: bool,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
}

fn default_name(args: &Args) -> String {
    let stem = |p: &PathBuf| p.file_stem().map(|s| s.to_string_lossy().into_owned());
    let from_url = |u: &String| {
        let path = u.split('?').next().unwrap_or(u);
        path.rsplit('/')
            .next()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    args.db
        .as_ref()
        .and_then(stem)
        .or_else(|| args.schema_dump.as_ref().and_then(stem))
        .or_else(|| args.url.as_ref().and_then(from_url))
        .unwrap_or_else(|| "extracted".into())
}

/// Shown by `--help`; run verbatim by tests/cli/examples.rs.
const EXAMPLES: &str = "\
Examples:
  rollproof profile surrogates/fixtures/tiny-seed7.db --out work/tiny.toml
  rollproof profile surrogates/fixtures/tiny-seed7.db --out work/tiny.toml --force \\
      --allow-categories --allow-ranges --json
  rollproof profile --stats-query > stats.sql

PostgreSQL (a live database, or a schema-only dump plus the statistics
--stats-query took on the database):
  rollproof profile --url postgres://me@localhost/shop --out shop.toml
  rollproof profile --schema-dump schema.sql --stats stats.json --out shop.toml";

pub fn run(args: Args) -> anyhow::Result<Status> {
    if args.stats_query {
        print!(
            "{}",
            crate::profile::pgstats::query(args.allow_categories || args.allow_ranges)
        );
        return Ok(Status::Success);
    }
    let source = match (&args.db, &args.url, &args.schema_dump) {
        (Some(db), None, None) => Source::Sqlite(db.clone()),
        (None, Some(url), None) => Source::PgUrl {
            url: url.clone(),
            allow_hosts: args.allow_hosts.clone(),
        },
        (None, None, Some(dump)) => Source::PgDump {
            dump: dump.clone(),
            stats: args.stats.clone(),
        },
        _ => anyhow::bail!(
            "name one source to profile: a SQLite file, --url or --schema-dump (see rollproof profile --help)"
        ),
    };
    let out = args.out.clone().expect("clap requires --out");
    // Named before the database is read: a folder given as --out, an
    // existing file without --force. Missing parent folders are made.
    crate::util::fsutil::prepare_output(&out, args.force)?;
    let opts = ExtractOptions {
        name: args.name.clone().unwrap_or_else(|| default_name(&args)),
        allow_categories: args.allow_categories,
        allow_ranges: args.allow_ranges,
    };
    // Every extraction error names its source already.
    let ex = extract(&source, &opts).map_err(|e| match e {
        crate::profile::extract::ExtractError::Pg(
            crate::profile::extract::pg::PgSourceError::Pg(p),
        ) => p.into_anyhow(),
        other => other.into(),
    })?;
    for w in &ex.warnings {
        eprintln!("rollproof: warning: {w}");
    }
    let text = ex.profile.to_toml();
    crate::util::fsutil::write_atomic(&out, text.as_bytes(), args.force)?;
    let rows: u64 = ex.profile.tables.values().map(|t| t.rows).sum();
    let schema = ex.profile.schema.as_ref();
    let count = |f: fn(&crate::schema::Schema) -> usize| schema.map_or(0, f);
    if args.json {
        let summary = serde_json::json!({
            "out": out,
            "source": ex.profile.profile.source,
            "tables": ex.profile.tables.len(),
            "rows": rows,
            "views": count(|s| s.views.len()),
            "triggers": count(|s| s.triggers.len()),
            "indexes": count(|s| s.indexes.len()),
            "routines": count(|s| s.routines.len()),
            "warnings": ex.warnings,
        });
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "{}  ({} tables, {} rows, {} views, {} triggers)",
            out.display(),
            ex.profile.tables.len(),
            rows,
            count(|s| s.views.len()),
            count(|s| s.triggers.len()),
        );
    }
    Ok(Status::Success)
}
