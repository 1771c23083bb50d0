//! `rollproof attach REPORT --map MAP --blocker ID` — verify a proof report,
//! then record it as evidence on a blocker entry (docs/BLOCKERS.md
//! "Attach"). Fail closed: a report that fails verification, a report for
//! another blocker, or a closure the evidence cannot back is refused and the
//! map is left exactly as it was.

use crate::evidence::blockers::attach::{AttachError, relative_to};
use crate::evidence::blockers::validate::backs_closure;
use crate::evidence::blockers::{
    AttachOutcome, BlockerMap, Evidence, EvidenceInput, attach_evidence,
};
use crate::evidence::sign::Trust;
use crate::exit::Status;
use crate::guard::Refusal;
use crate::util::fsutil::{parent_dir, write_atomic};
use anyhow::{Context, anyhow};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Attach a verified proof report to a blocker entry in a blocker map.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  \
    rollproof attach reports/births-copy-restore/20261201T152213Z-2dddf538.json \\\n    \
    --map blockers/final-blocker-map.json --blocker FIX7-P0-DRYRUN-PROD-ROLLBACK-1\n\n\
    Only a report that verifies and is signed by a key the map's trust file lists (namespace\n\
    rollproof-report) is attached: the trust file is --trust FILE, else allowed_signers beside\n\
    the map. Each attach that changes the map appends who, what and which bytes to the\n\
    append-only evidence log beside it (<map stem>.evidence.jsonl; docs/BLOCKERS.md).\n\
    The previous map is kept as MAP.bak. Attaching the same report again changes nothing.\n\n\
    Exit codes: 0 attached (or already attached); 1 the report fails verification or the map\n\
    is invalid; 2 bad input (also: no trust file); 3 refused (unsigned or untrusted report, a\n\
    FAIL or dry-run report, a report in the workspace that was not promoted, a report for\n\
    another blocker, or --close on a blocker the evidence cannot close). Nothing is written\n\
    unless the exit code is 0.")]
pub struct Args {
    /// The sealed proof report (JSON) written by `rollproof rehearse` or
    /// `rollproof migrations`.
    pub report: PathBuf,
    /// The blocker map to record the evidence in.
    #[arg(long, value_name = "MAP")]
    pub map: PathBuf,
    /// `blocker_id` of the blocker the report is evidence for; must be the
    /// blocker the report's scenario declared.
    #[arg(long, value_name = "ID")]
    pub blocker: String,
    /// Also close the blocker (`closed_this_lane: true`, `open_count` − 1).
    /// Refused, and nothing written, unless the category allows closing and
    /// the report is PASS, byte-exact, from a surrogate or clone leg.
    #[arg(long)]
    pub close: bool,
    /// Also re-hash the report's kept artifacts in DIR, as `rollproof verify
    /// --artifacts` does.
    #[arg(long, value_name = "DIR")]
    pub artifacts: Option<PathBuf>,
    /// The allowed-signers file whose keys the map trusts (default:
    /// `allowed_signers` beside the map).
    #[arg(long, value_name = "ALLOWED_SIGNERS")]
    pub trust: Option<PathBuf>,
    /// Print the outcome as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `attach --json` output.
#[derive(Serialize)]
struct AttachJson<'a> {
    map: String,
    report: String,
    blocker: &'a str,
    /// The map was rewritten.
    changed: bool,
    /// A new evidence entry was added.
    added: bool,
    can_close_now: bool,
    closed_this_lane: bool,
    open_count: u64,
    /// Why the evidence cannot close the blocker (None: it can).
    stays_open_because: Option<String>,
    /// Where the previous map was saved (only when the map changed).
    backup: Option<String>,
    evidence: &'a Evidence,
}

/// `MAP.bak`, beside the map.
fn backup_path(map: &Path) -> PathBuf {
    let mut s = map.as_os_str().to_owned();
    s.push(".bak");
    PathBuf::from(s)
}

/// Run `attach`.
pub fn run(args: Args) -> anyhow::Result<Status> {
    crate::commands::verify::artifacts_folder(args.artifacts.as_deref())?;
    let (map, original) = BlockerMap::load(&args.map)?;
    let report_name = args.report.display().to_string();
    let map_name = args.map.display().to_string();

    let trust_file = crate::evidence::blockers::trust_path(&args.map, args.trust.as_deref());
    let trust = Trust::load(&trust_file).with_context(|| {
        format!(
            "attach records only evidence signed by a key the map trusts: give --trust FILE or create {} (docs/KEYS.md); {map_name} is unchanged",
            trust_file.display()
        )
    })?;
    let checked =
        crate::evidence::verify::check_file(&args.report, args.artifacts.as_deref(), Some(&trust))
            .context("cannot verify the report")?;
    let signature = checked.signature.clone();
    // A rehearsal's report or a migrations folder's: the same rules.
    let report = match (checked.ok(), checked.facts()) {
        (true, Some(r)) => r,
        (_, _) => {
            for p in &checked.problems {
                eprintln!("rollproof: {report_name}: FAILED ({p})");
            }
            return Err(crate::exit::Failed::new(format!(
                "refused to attach {report_name}: it fails verification; {map_name} is unchanged"
            ))
            .into());
        }
    };

    let Some(signer) = signature.signer().cloned() else {
        return Err(anyhow::Error::new(Refusal::new(format!(
            "{report_name} is consistent but not evidence ({}; trust file {}); {map_name} is unchanged",
            signature.describe(),
            trust_file.display()
        ))));
    };

    // A failing rehearsal is a finding, not evidence that a blocker is
    // resolved; `blockers validate` would reject it on the map.
    if report.verdict != crate::evidence::report::Verdict::Pass {
        return Err(anyhow::Error::new(Refusal::new(format!(
            "{report_name} has verdict {}: only a PASS is evidence for a blocker; {map_name} is unchanged",
            report.verdict
        ))));
    }
    // A dry run proves the pipeline, not the scenario: never evidence.
    if let Some(why) = &report.dry_run {
        return Err(anyhow::Error::new(Refusal::new(format!(
            "{report_name} is a dry run ({why}); rehearse the scenario as written to make evidence; {map_name} is unchanged"
        ))));
    }

    // Throwaway runs live in the workspace, which git ignores: a map citing
    // one would point at a file no clone of the repository has, and that
    // nobody sealed. Evidence is promoted into the sealed reports/ first.
    let report_real = args
        .report
        .canonicalize()
        .with_context(|| format!("cannot resolve {report_name}"))?;
    if let Some(ws) = crate::guard::workspace::existing()?
        && report_real.starts_with(&ws)
    {
        return Err(anyhow::Error::new(Refusal::new(format!(
            "{report_name} is a run in the workspace {}, not promoted evidence; \
             run `rollproof promote {report_name}` and attach the promoted copy; {map_name} is unchanged",
            ws.display()
        ))));
    }

    // Resolve symlinks so the map is replaced where it really lives and the
    // recorded report path is true relative to it.
    let map_real = args
        .map
        .canonicalize()
        .with_context(|| format!("cannot resolve {map_name}"))?;
    let evidence = Evidence {
        report: relative_to(parent_dir(&map_real), &report_real),
        seal: report.seal.clone(),
        verdict: report.verdict.to_string(),
        proof: report.proof.clone(),
        leg: report.leg.clone(),
        surrogate_sha256: report.subject_sha256.clone(),
        scenario: report.name.clone(),
        rehearsed_at: report.started_at.clone(),
        date: crate::util::timefmt::today(),
    };
    let input = EvidenceInput {
        evidence,
        report_blocker: report.blocker.clone(),
    };

    let outcome = match attach_evidence(&map, &args.blocker, &input, args.close) {
        Ok(o) => o,
        Err(AttachError::InvalidMap(violations)) => {
            for v in &violations {
                eprintln!("rollproof: {map_name}: {}: {}", v.at, v.problem);
            }
            return Err(crate::exit::Failed::new(format!(
                "refused to attach: {map_name} is invalid ({} violation(s)); it is unchanged",
                violations.len()
            ))
            .into());
        }
        Err(e) if e.is_refusal() => {
            return Err(anyhow::Error::new(Refusal::new(format!(
                "{e}; {map_name} is unchanged"
            ))));
        }
        Err(e) => {
            return Err(anyhow!(e).context(format!("cannot attach to {map_name} (unchanged)")));
        }
    };

    let (new_map, changed, added, backup) = match outcome {
        AttachOutcome::Unchanged => (map, false, false, None),
        AttachOutcome::Changed {
            map: new,
            added,
            closed,
            ..
        } => {
            let bak = backup_path(&map_real);
            write_atomic(&bak, &original, true)
                .with_context(|| format!("cannot keep a backup; {map_name} is unchanged"))?;
            log_attach(
                &map_real,
                &report_real,
                &input,
                &args.blocker,
                &signer,
                closed,
            )
            .with_context(|| format!("{map_name} is unchanged"))?;
            // Someone else edited the map while we verified: do not lose their change.
            use crate::util::fsutil::{limit, read_bounded};
            let now = read_bounded(&map_real, limit::MAP, "blocker map")
                .with_context(|| format!("cannot re-read {map_name}"))?;
            if now != original {
                anyhow::bail!(
                    "{map_name} changed on disk while attaching; nothing written, run attach again"
                );
            }
            write_atomic(&map_real, &new.to_bytes(), true)
                .with_context(|| format!("{map_name} is unchanged"))?;
            (
                new,
                true,
                added,
                Some(backup_path(&args.map).display().to_string()),
            )
        }
    };

    // The blocker exists: attach_evidence found it.
    let b = new_map
        .blocker(&args.blocker)
        .ok_or_else(|| anyhow!("blocker {} vanished from the new map", args.blocker))?;
    let stays_open = backs_closure(&b.category, &input.evidence).err();
    if args.json {
        let out = AttachJson {
            map: map_name.clone(),
            report: report_name.clone(),
            blocker: &b.id,
            changed,
            added,
            can_close_now: b.can_close_now,
            closed_this_lane: b.closed_this_lane,
            open_count: new_map.open_count,
            stays_open_because: stays_open.clone(),
            backup,
            evidence: &input.evidence,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else if !changed {
        println!(
            "{report_name}: already attached to {}; {map_name} unchanged",
            b.id
        );
    } else {
        let what = if added { "attached to" } else { "already on" };
        println!(
            "{report_name}: {what} {} in {map_name} ({} {} {}, backup {})",
            b.id,
            input.evidence.verdict,
            input.evidence.proof,
            input.evidence.leg,
            backup.as_deref().unwrap_or("-")
        );
        if b.closed_this_lane {
            println!("{}: closed; open_count is now {}", b.id, new_map.open_count);
        } else if b.can_close_now {
            println!("{}: can_close_now: true (pass --close to close it)", b.id);
        }
    }
    if let Some(why) = &stays_open
        && b.is_open()
    {
        eprintln!(
            "rollproof: note: {} stays open (can_close_now, closed_this_lane and open_count unchanged): {why}",
            b.id
        );
    }
    Ok(Status::Success)
}

/// Append this attach to the map's evidence log (before the map is
/// written: a map change is never without its line).
fn log_attach(
    map: &Path,
    report: &Path,
    input: &EvidenceInput,
    blocker: &str,
    signer: &crate::evidence::sign::Signer,
    closed: bool,
) -> anyhow::Result<()> {
    use crate::evidence::blockers::log;
    use crate::util::fsutil::{limit, read_bounded};
    let bytes = read_bounded(report, limit::REPORT, "report")?;
    let sig = read_bounded(
        &crate::evidence::sign::sig_path(report),
        limit::SIGNATURE,
        "signature",
    )?;
    let path = log::log_path(map);
    let existing = log::read(&path)?;
    let entry = log::Entry {
        seq: 0,
        time: crate::util::timefmt::iso_millis(crate::util::timefmt::now_millis()),
        action: "attach".into(),
        blocker: blocker.to_string(),
        report: input.evidence.report.clone(),
        report_sha256: crate::hash::sha256_hex(&bytes),
        seal: input.evidence.seal.clone(),
        signature_sha256: crate::hash::sha256_hex(&sig),
        signer: signer.principal(),
        signer_key: signer.key.clone(),
        closed,
        prev: String::new(),
    };
    log::append(&path, &existing, entry).map_err(anyhow::Error::msg)?;
    Ok(())
}
