//! `rollproof seal`: write SEALS.json, the manifest of every sealed file
//! under the sealed folders, and (re)generate surrogate fixtures on request.

use crate::evidence::seal::build::NewFixture;
use crate::evidence::seal::{self, Recipe, SealOptions};
use crate::exit::Status;
use anyhow::Context;
use std::path::PathBuf;

/// Write the seal manifest (SEALS.json at the root) of every file under the
/// sealed folders (default: reports/ and surrogates/), with its SHA-256 and
/// size, plus a seal over the manifest itself.
///
/// With PATHS, only those files or folders are (re)sealed or, when gone,
/// dropped. Refuses symlinks, special files and paths outside the sealed
/// folders, and an existing manifest whose seal is broken (see `--force`).
/// Format: docs/SEALS.md.
#[derive(Debug, clap::Args)]
#[command(after_long_help = HELP)]
pub struct Args {
    /// Files or folders to (re)seal, relative to the root; default: all.
    #[arg(value_name = "PATHS")]
    pub paths: Vec<String>,
    /// Repository root where SEALS.json is written (default: the nearest folder at
    /// or above the current one holding .git or SEALS.json, else the
    /// current folder).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Regenerate every fixture the manifest records (from its profile, seed
    /// and scale), then re-seal everything: the one command to run after the
    /// generator or a profile changed.
    #[arg(long, conflicts_with = "paths")]
    pub regenerate_fixtures: bool,
    /// Generate this fixture (root-relative path) and record its recipe.
    #[arg(
        long,
        value_name = "FILE",
        requires = "profile",
        conflicts_with = "paths"
    )]
    pub fixture: Option<String>,
    /// Profile (root-relative, itself sealed) for --fixture.
    #[arg(long, value_name = "PROFILE", requires = "fixture")]
    pub profile: Option<String>,
    /// Seed for --fixture.
    #[arg(long, default_value_t = 1, requires = "fixture")]
    pub seed: u64,
    /// Row-count scale for --fixture.
    #[arg(long, default_value_t = 1.0, requires = "fixture")]
    pub scale: f64,
    /// Replace the list of sealed folders (repeatable), e.g. --sealed-dir surrogates.
    #[arg(long = "sealed-dir", value_name = "DIR")]
    pub sealed_dirs: Vec<String>,
    /// Re-seal even if the existing manifest is invalid or its seal broken.
    #[arg(long)]
    pub force: bool,
    /// Hashing threads (default: CPUs, at most 4).
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Shown by `rollproof seal --help`.
const HELP: &str = "\
Examples:
  rollproof seal                          # seal everything as it is now
  rollproof seal reports/births-copy-restore   # (re)seal one folder's files
  rollproof seal --regenerate-fixtures    # rebuild the fixtures, re-seal all
  rollproof seal --fixture surrogates/fixtures/tiny-seed7.db \\
      --profile surrogates/profiles/tiny.toml --seed 7

Format and workflow: docs/SEALS.md";

pub fn run(args: Args) -> anyhow::Result<Status> {
    let fixture = match (&args.fixture, &args.profile) {
        (Some(path), Some(profile)) => Some(NewFixture {
            path: path.clone(),
            recipe: Recipe {
                profile: profile.clone(),
                seed: args.seed,
                scale: args.scale,
            },
        }),
        _ => None,
    };
    let root = super::project_root(args.root.as_deref())?;
    let opts = SealOptions {
        root: root.clone(),
        paths: args.paths.clone(),
        sealed_dirs: args.sealed_dirs.clone(),
        fixture,
        regenerate_fixtures: args.regenerate_fixtures,
        force: args.force,
        jobs: args.jobs.unwrap_or_else(seal::digest::default_jobs),
    };
    let out = seal::seal(&opts).with_context(|| {
        format!(
            "could not seal under {}; SEALS.json was not written",
            root.display()
        )
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for p in &out.regenerated {
            println!("regenerated {p}");
        }
        for (what, list) in [
            ("added", &out.added),
            ("changed", &out.changed),
            ("removed", &out.removed),
        ] {
            for p in list {
                println!("{what} {p}");
            }
        }
        println!(
            "sealed {} files ({} bytes) in {} (seal {})",
            out.files,
            out.bytes,
            out.manifest.display(),
            out.seal
        );
    }
    Ok(Status::Success)
}
