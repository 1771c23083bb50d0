//! `rollproof generate`: write a deterministic surrogate from a profile.

use crate::exit::Status;
use crate::profile::Profile;
use anyhow::Context;
use std::path::PathBuf;

/// Generate a production-shaped, secret-free surrogate SQLite database.
///
/// The same profile, seed and rollproof version always give a byte-identical
/// file; a different seed gives a different one. A format-1 profile is the
/// birth-register surface (SQLite file or PostgreSQL database); a format-2
/// profile (what `rollproof profile` writes) is any schema, generated into a
/// SQLite file by the generic engine.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Profile (TOML) describing production's shape.
    #[arg(long, value_name = "PROFILE")]
    pub profile: PathBuf,
    /// Seed for every generated value.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output SQLite file (written atomically).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "target_url",
        conflicts_with = "target_url"
    )]
    pub out: Option<PathBuf>,
    /// Generate into a new PostgreSQL database instead of a file:
    /// postgres://user@host:port/rollproof_<name> (loopback or a Unix
    /// socket, unless --allow-host names the server). See docs/POSTGRES.md.
    #[arg(long, value_name = "URL")]
    pub target_url: Option<String>,
    /// Also allow this PostgreSQL server host (a throwaway server); repeatable.
    #[arg(long, value_name = "HOST", requires = "target_url")]
    pub allow_host: Vec<String>,
    /// Multiply the row counts of the growing tables (users, objects,
    /// births, revisions, activity), e.g. 12 for about 1 GiB from the default profile.
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// The day (YYYY-MM-DD, UTC) the generated history ends at; it covers
    /// the 1,277 days before it. Default: the profile's `as_of`, else
    /// 2026-07-01 (never the clock). It becomes part of the recipe the
    /// surrogate's provenance records (docs/SURFACE.md).
    #[arg(long, value_name = "DATE", value_parser = parse_as_of)]
    pub as_of: Option<String>,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Shown by `--help`; run verbatim by tests/cli/examples.rs.
const EXAMPLES: &str = "\
The same profile, seed and rollproof version always give a byte-identical
file. --target-url generates into PostgreSQL instead (docs/POSTGRES.md).

Examples:
  rollproof generate --profile surrogates/profiles/default.toml --seed 7 --out work/s.db
  rollproof generate --profile surrogates/profiles/tiny.toml --seed 7 --out work/t.db --json
  rollproof generate --profile surrogates/profiles/tiny.toml --seed 7 --out work/t.db \\
      --scale 2 --force
  rollproof generate --profile surrogates/profiles/tiny.toml --seed 7 --out work/t30.db \\
      --as-of 2026-11-30
  rollproof generate --profile surrogates/directus/directus-12.4.1.toml --out work/dx.db";

pub fn run(args: Args) -> anyhow::Result<Status> {
    // SIGINT/SIGTERM remove this run's temp files and scratch databases.
    crate::util::cleanup::on_signal_remove_temporaries();
    let mut profile = Profile::load(&args.profile)?;
    let label = args.profile.display().to_string();
    if profile.schema.is_some() {
        if args.as_of.is_some() {
            anyhow::bail!(
                "{}: --as-of dates the birth-register surface's generated history; a format-2 profile (any schema) has none",
                args.profile.display()
            );
        }
        return open_schema(&args, &profile);
    }
    if let Some(day) = &args.as_of {
        profile.profile.as_of = Some(day.clone());
    }
    if let Some(url) = &args.target_url {
        let l = crate::engine::postgres::generate_url(
            url,
            &args.allow_host,
            &profile,
            &label,
            args.seed,
            args.scale,
            args.force,
        )?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&l)?);
        } else {
            let rows: u64 = l.rows.values().sum();
            println!(
                "{}  {}  (logical, {} rows, {:.2}s)",
                l.logical.sha256, l.url, rows, l.seconds
            );
        }
        return Ok(Status::Success);
    }
    let out = args
        .out
        .as_deref()
        .context("--out or --target-url is required")?;
    // A folder where the file belongs, or an existing file without
    // --force, is named before any work; missing parent folders are made.
    crate::util::fsutil::prepare_output(out, args.force)?;
    check_space(&profile, args.scale, out)?;
    let g = crate::generate::generate(&profile, &label, args.seed, args.scale, out, args.force)
        .with_context(|| format!("could not generate {}", out.display()))?;
    print_generated(&g, args.json)?;
    Ok(Status::Success)
}

fn print_generated(g: &crate::generate::Generated, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(g)?);
    } else {
        let rows: u64 = g.rows.values().sum();
        println!(
            "{}  {}  ({} bytes, {} rows, {:.2}s)",
            g.sha256,
            g.path.display(),
            g.size,
            rows,
            g.seconds
        );
    }
    Ok(())
}

/// A format-2 profile: its own schema, filled by the generic engine into a
/// SQLite file (every table scaled by `--scale`).
fn open_schema(args: &Args, profile: &Profile) -> anyhow::Result<Status> {
    use crate::generate::{FillStats, SchemaJob, generate_schema};
    if args.target_url.is_some() {
        anyhow::bail!(
            "{}: a format-2 profile (any schema) is generated into a SQLite file; use --out FILE (--target-url takes the birth-register surface's format-1 profiles)",
            args.profile.display()
        );
    }
    let out = args
        .out
        .as_deref()
        .context("--out or --target-url is required")?;
    crate::util::fsutil::prepare_output(out, args.force)?;
    let schema = profile.schema.as_ref().context("format 2 has [schema]")?;
    let (schema, skipped) = crate::generate::sqlite_form(schema)?;
    for k in &skipped {
        eprintln!(
            "rollproof: not in the SQLite surrogate: {} {}: {}",
            k.kind, k.name, k.reason
        );
    }
    let schema = &*schema;
    let stats = FillStats::from(profile);
    let rows = stats.row_counts(args.scale);
    let sha = crate::guard::provenance::profile_sha256(profile);
    let job = SchemaJob {
        schema,
        stats: &stats,
        rows: &rows,
        seed: args.seed,
        scale: args.scale,
        profile_sha256: &sha,
    };
    let g = generate_schema(&job, out, args.force)
        .with_context(|| format!("could not generate {}", out.display()))?;
    print_generated(&g, args.json)?;
    Ok(Status::Success)
}

/// `--as-of`: a real `YYYY-MM-DD` day in the range generation accepts.
fn parse_as_of(s: &str) -> Result<String, String> {
    crate::generate::history_end_ms(Some(s)).map(|_| s.to_string())
}

/// Refuse, before writing anything, a surrogate that cannot fit: the
/// profile's lower-bound size against the free space where it goes.
fn check_space(profile: &Profile, scale: f64, out: &std::path::Path) -> anyhow::Result<()> {
    use indicatif::HumanBytes;
    // A profile generate cannot use is named by generate itself.
    if crate::generate::Counts::from_profile(profile, scale).is_err() {
        return Ok(());
    }
    let need = crate::generate::estimate::min_bytes(profile, scale);
    let dir = crate::util::fsutil::parent_dir(out);
    if let Some(free) = crate::util::fsutil::free_bytes(dir)
        && need > free
    {
        anyhow::bail!(
            "{} would need at least {} (row counts at --scale {scale} times the profile's value lengths), but only {} is free in {}; choose a smaller --scale or another folder",
            out.display(),
            HumanBytes(need),
            HumanBytes(free),
            dir.display()
        );
    }
    if need >= 1 << 30 {
        eprintln!(
            "rollproof: generating at least {} into {}",
            HumanBytes(need),
            out.display()
        );
    }
    Ok(())
}
