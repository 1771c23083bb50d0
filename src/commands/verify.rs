//! `rollproof verify`: the canonical validator of sealed proof reports.

use crate::evidence::sign::Trust;
use crate::evidence::verify::{self, Problem, Signature};
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
/// that the kept files' bytes do not reproduce. Every check and the verdict
/// are recomputed from the recorded phases with the rehearsal's own rules.
///
/// With --trust ALLOWED_SIGNERS, also the signature (`<report>.json.sig`,
/// or inside a DSSE envelope from `report attest`): a consistent report that
/// is unsigned or signed by a key the file does not list for namespace
/// rollproof-report is NOT EVIDENCE (exit 1).
///
/// Exit codes: 0 every report is consistent (and, with --trust, signed by a
/// trusted key); 1 a report fails, or with --trust is not evidence; 2 a
/// report or the trust file cannot be read.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Report JSON files to verify.
    #[arg(value_name = "REPORT", required = true)]
    pub reports: Vec<PathBuf>,
    /// The folder given to `rehearse --keep`: the run's artifacts under
    /// DIR/<scenario>/<stamp>-<id>/ (before.db, snapshot.db, after-apply.db,
    /// after-rollback.db, report.json) are all required and re-hashed
    /// against the report. Only with a single REPORT.
    #[arg(long, value_name = "DIR")]
    pub artifacts: Option<PathBuf>,
    /// An OpenSSH allowed-signers file: check each report's signature and
    /// signer (docs/KEYS.md).
    #[arg(long, value_name = "ALLOWED_SIGNERS")]
    pub trust: Option<PathBuf>,
    /// Print the result as JSON (an array, one object per report) on stdout.
    #[arg(long)]
    pub json: bool,
}

/// The machine-readable result for one report.
#[derive(Debug, Serialize)]
struct Outcome {
    report: String,
    /// Consistent and, with --trust, signed by a trusted key.
    ok: bool,
    /// Every seal, schema and recomputation check holds.
    consistent: bool,
    /// Consistent and signed by a trusted key (false without --trust).
    evidence: bool,
    signature: Signature,
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
            "--artifacts {}: no such folder (give the folder `rehearse --keep` was given)",
            d.display()
        ),
        _ => Ok(()),
    }
}

/// Shown by `--help`; run verbatim by tests/cli/examples.rs.
const EXAMPLES: &str = "\
One line per report: `path: OK (…)` or `path: FAILED (reason)` per reason.

Examples:
  rollproof verify reports/births-copy-restore/20261201T152213Z-2dddf538.json \\
      --trust blockers/allowed_signers
  rollproof verify reports/births-copy-restore/*.json
  rollproof rehearse scenarios/births-copy-transaction.toml \\
      --profile-override surrogates/profiles/tiny.toml --keep rollproof-work/keep
  rollproof verify rollproof-work/keep/births-copy-transaction/*/report.json \\
      --artifacts rollproof-work/keep";

pub fn run(args: Args) -> anyhow::Result<Status> {
    if args.artifacts.is_some() && args.reports.len() > 1 {
        anyhow::bail!(
            "--artifacts checks the kept files of one report; give a single REPORT (got {})",
            args.reports.len()
        );
    }
    artifacts_folder(args.artifacts.as_deref())?;
    let trust = args.trust.as_deref().map(Trust::load).transpose()?;
    let mut outcomes = Vec::new();
    let mut unreadable = false;
    for path in &args.reports {
        let shown = path.display().to_string();
        let checked = match verify::check_file(path, args.artifacts.as_deref(), trust.as_ref()) {
            Ok(c) => c,
            Err(e) => {
                let e = anyhow::Error::new(e);
                eprintln!("rollproof: error: {}", crate::exit::describe(&e));
                unreadable = true;
                outcomes.push(Outcome {
                    report: shown,
                    ok: false,
                    consistent: false,
                    evidence: false,
                    signature: Signature::NotChecked,
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
        let m = checked.migrations.as_ref();
        outcomes.push(Outcome {
            report: shown,
            ok: checked.ok() && (trust.is_none() || checked.evidence()),
            consistent: checked.ok(),
            evidence: checked.evidence(),
            signature: checked.signature.clone(),
            verdict: r
                .map(|r| r.verdict.to_string())
                .or(m.map(|m| m.verdict.to_string())),
            proof: r
                .map(|r| r.proof.to_string())
                .or(m.map(|_| "migrations".to_string())),
            blocker: r
                .map(|r| r.blocker.clone())
                .or(m.map(|m| m.blocker.clone())),
            seal: r.map(|r| r.seal.clone()).or(m.map(|m| m.seal.clone())),
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
            let artifacts = if args.artifacts.is_some() {
                ", artifacts match"
            } else {
                ""
            };
            let what = format!(
                "{} {}, sealed {}{artifacts}",
                o.verdict.as_deref().unwrap_or("?"),
                o.proof.as_deref().unwrap_or("?"),
                o.seal.as_deref().unwrap_or("?"),
            );
            if o.ok {
                println!("{}: OK ({what}; {})", o.report, o.signature.describe());
            } else if o.consistent {
                println!(
                    "{}: NOT EVIDENCE (consistent, but {}) ({what})",
                    o.report,
                    o.signature.describe()
                );
            }
            for p in &o.problems {
                println!("{}: FAILED ({p})", o.report);
            }
        }
    }
    if failed > 0 {
        let not_evidence = outcomes.iter().filter(|o| o.consistent && !o.ok).count();
        eprintln!(
            "rollproof: {failed} of {} report(s) failed verification{}",
            args.reports.len(),
            if not_evidence > 0 {
                format!(" ({not_evidence} consistent but not evidence)")
            } else {
                String::new()
            }
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
