//! `rollproof verify`: the canonical validator of sealed proof reports.

use crate::evidence::verify::{self, Problem};
use crate::exit::Status;
use serde::Serialize;
use std::path::PathBuf;

/// Verify sealed proof reports without trusting them.
///
/// Rejects, with one line per reason: a broken or missing seal; a file that
/// is not byte-for-byte canonical; an unknown schema version; missing or
/// mistyped fields (docs/report.schema.json); a verdict its own checks or
/// hashes contradict (before ≠ after rollback, apply == before, row deltas
/// that do not match the scenario); a byte-exact claim for a method that can
/// only prove logical equality; and, with --artifacts, any recorded digest
/// that the kept files' bytes do not reproduce. Exit 1 when any report fails.
///
/// Example:
///   rollproof verify reports/births-restore-copy/20261125T231900Z-1a2b3c4d.json --artifacts work/keep
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Report JSON files to verify.
    #[arg(value_name = "REPORT", required = true)]
    pub reports: Vec<PathBuf>,
    /// Folder of kept artifacts (`rehearse --keep DIR`): re-hash before.db,
    /// snapshot.db, after-apply.db and after-rollback.db against the report.
    /// Only with a single REPORT.
    #[arg(long, value_name = "DIR")]
    pub artifacts: Option<PathBuf>,
    /// Print the result as JSON (an array, one object per report) on stdout.
    #[arg(long)]
    pub json: bool,
}

/// The machine-readable result for one report.
#[derive(Debug, Serialize)]
struct Outcome {
    report: String,
    ok: bool,
    verdict: Option<String>,
    proof: Option<String>,
    blocker: Option<String>,
    seal: Option<String>,
    problems: Vec<Problem>,
    /// Why the report could not even be read (bad input, exit 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// `bad-input` when `error` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
}

/// A missing `--artifacts` folder is a wrong argument (exit 2), not a
/// failed proof (exit 1).
pub fn artifacts_folder(dir: Option<&std::path::Path>) -> anyhow::Result<()> {
    match dir {
        Some(d) if !d.is_dir() => anyhow::bail!(
            "--artifacts {}: no such folder (give the run folder `rehearse --keep DIR` wrote, DIR/<scenario>/<run>)",
            d.display()
        ),
        _ => Ok(()),
    }
}

pub fn run(args: Args) -> anyhow::Result<Status> {
    if args.artifacts.is_some() && args.reports.len() > 1 {
        anyhow::bail!(
            "--artifacts checks the kept files of one report; give a single REPORT (got {})",
            args.reports.len()
        );
    }
    artifacts_folder(args.artifacts.as_deref())?;
    let mut outcomes = Vec::new();
    let mut unreadable = false;
    for path in &args.reports {
        let shown = path.display().to_string();
        let checked = match verify::check_file(path, args.artifacts.as_deref()) {
            Ok(c) => c,
            Err(e) => {
                let e = anyhow::Error::new(e);
                eprintln!("rollproof: error: {}", crate::exit::describe(&e));
                unreadable = true;
                outcomes.push(Outcome {
                    report: shown,
                    ok: false,
                    verdict: None,
                    proof: None,
                    blocker: None,
                    seal: None,
                    problems: Vec::new(),
                    error: Some(crate::exit::describe(&e)),
                    kind: Some(Status::BadInput.kind()),
                });
                continue;
            }
        };
        let r = checked.report.as_ref();
        outcomes.push(Outcome {
            report: shown,
            ok: checked.ok(),
            verdict: r.map(|r| r.verdict.to_string()),
            proof: r.map(|r| r.proof.to_string()),
            blocker: r.map(|r| r.blocker.clone()),
            seal: r.map(|r| r.seal.clone()),
            problems: checked.problems,
            error: None,
            kind: None,
        });
    }
    let failed = outcomes
        .iter()
        .filter(|o| !o.ok && o.error.is_none())
        .count();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcomes)?);
    } else {
        for o in &outcomes {
            if o.ok {
                let artifacts = if args.artifacts.is_some() {
                    ", artifacts match"
                } else {
                    ""
                };
                println!(
                    "{}: OK ({} {}, sealed {}{artifacts})",
                    o.report,
                    o.verdict.as_deref().unwrap_or("?"),
                    o.proof.as_deref().unwrap_or("?"),
                    o.seal.as_deref().unwrap_or("?"),
                );
            }
            for p in &o.problems {
                println!("{}: FAILED ({p})", o.report);
            }
        }
    }
    if failed > 0 {
        eprintln!(
            "rollproof: {failed} of {} report(s) failed verification",
            args.reports.len()
        );
    }
    Ok(if unreadable {
        Status::BadInput
    } else if failed > 0 {
        Status::Failed
    } else {
        Status::Success
    })
}
