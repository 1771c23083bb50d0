//! `rollproof promote`: make chosen reports evidence — copy them from the
//! workspace into the sealed reports/ and seal exactly those entries.

use crate::evidence::promote::{self, PromoteError};
use crate::exit::Status;
use std::path::PathBuf;

/// Promote proof reports into the sealed evidence folder.
///
/// Rehearsals write their reports to the workspace (ignored by git). This
/// is the one command that adds a report to the repository's sealed
/// reports/: each REPORT must verify and must not be a dry run; it is
/// copied, with its Markdown rendering and its detached signature
/// (REPORT.sig) when present, to <to>/<scenario>/<file> (a migrations
/// report: <to>/migrations-<folder>/<file>), and exactly those
/// files are sealed in SEALS.json. Nothing else is sealed.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Report JSON files to promote (usually under rollproof-work/reports/).
    #[arg(value_name = "REPORT", required = true)]
    pub reports: Vec<PathBuf>,
    /// Sealed folder to promote into (default: <root>/reports).
    #[arg(long, value_name = "DIR")]
    pub to: Option<PathBuf>,
    /// Project root holding SEALS.json (default: the nearest folder above
    /// holding .git or SEALS.json, else the current folder).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Print the outcome as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

const AFTER_HELP: &str = "\
Exit codes:
  0  promoted and sealed (promoting the same report again changes nothing)
  1  a report does not verify (nothing promoted)
  2  bad input: unreadable report, destination holds other bytes
  3  refused: a dry run (--profile-override) is never evidence

Examples:
  rollproof rehearse scenarios/births-copy-restore.toml
  rollproof promote rollproof-work/reports/births-copy-restore/*.json
  rollproof promote rollproof-work/reports/births-copy-restore/*.json --json   # again: no change";

pub fn run(args: Args) -> anyhow::Result<Status> {
    let root = super::project_root(args.root.as_deref())?;
    let to = args.to.clone().unwrap_or_else(|| root.join("reports"));
    let out = match promote::promote(&args.reports, &to, &root) {
        Ok(o) => o,
        Err(PromoteError::NotVerified { path, problems }) => {
            for p in &problems {
                eprintln!("rollproof: {}: FAILED ({p})", path.display());
            }
            return Err(crate::exit::Failed::new(format!(
                "{} does not verify; nothing was promoted",
                path.display()
            ))
            .into());
        }
        // Keep the guard's refusal itself in the error chain (exit 3).
        Err(PromoteError::Refused(r)) => return Err(r.into()),
        Err(e) => return Err(e.into()),
    };
    if args.json {
        let mut v = serde_json::to_value(&out)?;
        if let Some(m) = v.as_object_mut() {
            m.insert("ok".into(), true.into());
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for p in &out.promoted {
            println!(
                "{} -> {} (seal {})",
                p.report.display(),
                p.files.join(", "),
                p.seal
            );
        }
        println!(
            "sealed {} new, {} changed in {} (seal {})",
            out.sealed.added.len(),
            out.sealed.changed.len(),
            out.sealed.manifest.display(),
            out.sealed.seal
        );
    }
    Ok(Status::Success)
}
