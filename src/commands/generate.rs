//! `rollproof generate`: write a deterministic surrogate from a profile.

use crate::exit::Status;
use crate::profile::Profile;
use anyhow::Context;
use std::path::PathBuf;

/// Generate a production-shaped, secret-free surrogate SQLite database.
///
/// The same profile, seed and rollproof version always give a byte-identical
/// file; a different seed gives a different one.
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
      --scale 2 --force";

pub fn run(args: Args) -> anyhow::Result<Status> {
    let profile = Profile::load(&args.profile)?;
    let label = args.profile.display().to_string();
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
    if args.json {
        println!("{}", serde_json::to_string_pretty(&g)?);
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
    Ok(Status::Success)
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
