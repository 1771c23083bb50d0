//! `rollproof rehearse`: run scenarios, print the proof phase by phase,
//! write sealed reports, summarise, and map outcomes to exit codes.

use crate::evidence::report::{Outcome, Report, Verdict};
use crate::exit::Status;
use crate::rehearse::scenario;
use anyhow::Context;
use serde::Serialize;
use std::path::PathBuf;

/// Run rehearsal scenarios: before → snapshot → apply → rollback → after,
/// measured at every phase, judged, and written as sealed proof reports
/// under `<reports>/<scenario-name>/<UTC stamp>-<id>.json` (by default in
/// the workspace, never in the repository's sealed reports/).
///
/// A scenario's outcome is its verdict compared with its `expect`: a
/// scenario built to FAIL (e.g. a subtly wrong down script) that fails is
/// as expected. Exit codes: 0 every scenario ran and its verdict equals its
/// `expect`; 1 at least one verdict differs from its `expect` (a proof that
/// should hold failed, or one that should fail passed); 2 bad input (bad
/// scenario, missing profile or script); 3 refused by the guard. With
/// several scenarios the highest applicable code wins (3 > 2 > 1 > 0).
///
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Scenario files (TOML) or folders of them.
    #[arg(required = true, value_name = "SCENARIO")]
    pub paths: Vec<PathBuf>,
    /// Keep the before, snapshot, after-apply and after-rollback databases
    /// (with SHA256SUMS and the report) under DIR/<scenario>/<run>/.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Print a JSON summary on stdout (phase lines go to stderr).
    #[arg(long)]
    pub json: bool,
    /// Also run the scenarios in subfolders of a SCENARIO folder (e.g.
    /// scenarios/postgres/); without it they are skipped, with a note.
    #[arg(long, short = 'r')]
    pub recursive: bool,
    /// Folder for proof reports (default: <workspace>/reports, ignored by
    /// git). Evidence goes into the sealed reports/ only through
    /// `rollproof promote`.
    #[arg(long, value_name = "DIR")]
    pub reports: Option<PathBuf>,
    /// Workspace folder for working copies and reports (default
    /// $ROLLPROOF_WORKSPACE, else rollproof-work/ at the project root).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Generate every profile-based surrogate from this profile instead
    /// (e.g. surrogates/profiles/tiny.toml for a quick dry run); the report
    /// records the profile actually used.
    #[arg(long, value_name = "PROFILE")]
    pub profile_override: Option<PathBuf>,
    /// Rehearse on this PostgreSQL server instead of each scenario's
    /// `surrogate.url`: postgres://user@host:port/rollproof_<name>; each run
    /// creates (and afterwards drops) its own database there.
    #[arg(long, value_name = "URL")]
    pub target_url: Option<String>,
    /// Also allow this PostgreSQL server host (a throwaway server); repeatable.
    #[arg(long, value_name = "HOST")]
    pub allow_host: Vec<String>,
    /// Sign every report with this ed25519 OpenSSH private key (default:
    /// the file named by $ROLLPROOF_SIGNING_KEY): `<report>.json.sig`,
    /// checked with `ssh-keygen -Y verify -n rollproof-report` or
    /// `rollproof verify --trust` (docs/KEYS.md).
    #[arg(long, value_name = "PATH")]
    pub sign_key: Option<PathBuf>,
}

/// Shown after the options (the subcommand's about line comes from cli.rs).
const AFTER_HELP: &str = "\
Each scenario's verdict (PASS/FAIL) is compared with its `expect`; an
expected FAIL that fails is as expected. Reports:
<reports>/<name>/<UTC>-<id>.json, by default under rollproof-work/reports/
(ignored by git); `rollproof promote REPORT` makes one evidence in reports/.
Format and rules: docs/SCENARIOS.md.

Exit codes:
  0  every scenario ran and its verdict equals its `expect`
  1  a verdict differs from its `expect` (a proof that should hold failed,
     or one built to fail passed)
  2  bad input: invalid scenario, missing profile, script or surrogate
  3  refused by the guard (e.g. the surrogate is not a rollproof database)
  With several scenarios the highest code wins (3 > 2 > 1 > 0).

A folder runs the scenarios in it; its subfolders are named and skipped
unless --recursive (scenarios/postgres/ needs PostgreSQL: docs/POSTGRES.md).

Examples:
  rollproof rehearse scenarios/births-copy-restore.toml
  rollproof rehearse scenarios/ --profile-override surrogates/profiles/tiny.toml   # a dry run
  rollproof rehearse scenarios/fault-kill.toml --keep rollproof-work/keep --json \\
      --profile-override surrogates/profiles/tiny.toml
  ssh-keygen -q -t ed25519 -N '' -C ci@example.org -f ci_key
  rollproof rehearse scenarios/births-copy-transaction.toml --sign-key ci_key \\
      --profile-override surrogates/profiles/tiny.toml

Signing (docs/KEYS.md): --sign-key KEY or ROLLPROOF_SIGNING_KEY=KEY writes <report>.json.sig.
With PostgreSQL (docs/POSTGRES.md), --recursive also runs scenarios/postgres/:
  rollproof rehearse scenarios/ --recursive";

/// One line of the JSON summary.
#[derive(Debug, Serialize)]
struct Row {
    /// Scenario file.
    scenario: String,
    /// Scenario name (None when it could not be loaded).
    name: Option<String>,
    /// PASS/FAIL, None when the rehearsal could not run.
    verdict: Option<Verdict>,
    /// The scenario's expected verdict.
    expected_verdict: Option<Verdict>,
    /// verdict == expected.
    as_expected: bool,
    /// byte-exact or logical-only.
    proof: Option<String>,
    /// Report path.
    report: Option<String>,
    /// The report's detached signature (`<report>.json.sig`), when signed.
    signature: Option<String>,
    /// The run's folder of kept artifacts (`--keep DIR/<scenario>/<run>`).
    artifacts: Option<String>,
    /// Total milliseconds.
    ms: Option<u64>,
    /// Error that stopped the rehearsal.
    error: Option<String>,
    /// Exit status of this scenario alone.
    status: u8,
}

pub fn run(args: Args) -> anyhow::Result<Status> {
    if let Some(ws) = &args.workspace {
        // SAFETY: set once at command start, before rollproof starts any
        // thread; the guard reads the workspace from this variable.
        unsafe { std::env::set_var(crate::guard::WORKSPACE_ENV, ws) };
    }
    // After set_var (no thread before it): SIGINT/SIGTERM remove this run's
    // folder, temp files, partial --keep folder and scratch databases.
    crate::util::cleanup::on_signal_remove_temporaries();
    let (files, skipped) = scenario::expand_folders(&args.paths, args.recursive)?;
    for d in &skipped {
        eprintln!(
            "rollproof: note: skipped the subfolder {}/ (pass --recursive to run its scenarios too)",
            d.display()
        );
    }
    let reports = match &args.reports {
        Some(r) => r.clone(),
        None => crate::guard::workspace()?.join("reports"),
    };
    // Outputs are checked before any rehearsal starts, not after the
    // first one has run for minutes: a file where --keep's folder belongs,
    // a read-only --reports.
    crate::util::fsutil::writable_dir(&reports).context("--reports")?;
    if let Some(k) = &args.keep {
        crate::util::fsutil::writable_dir(k).context("--keep")?;
    }
    // A bad key is bad input before anything runs.
    let sign_key = crate::evidence::sign::SigningKey::from_flag_or_env(args.sign_key.as_deref())?
        .map(std::sync::Arc::new);
    let opts = crate::rehearse::Options {
        sign_key,
        keep: args.keep.clone(),
        reports,
        profile_override: args.profile_override.clone(),
        target_url: args.target_url.clone(),
        allow_hosts: args.allow_host.clone(),
    };
    let json = args.json;
    let mut rows = Vec::new();
    for file in &files {
        let mut say = |line: &str| {
            if json {
                eprintln!("rollproof: {line}");
            } else {
                println!("  {line}");
            }
        };
        let res = scenario::load(file)
            .map_err(anyhow::Error::from)
            .and_then(|sc| {
                if !json {
                    println!("== {} ({})", sc.spec.scenario.name, file.display());
                }
                crate::rehearse::run(&sc, &opts, &mut say).map_err(anyhow::Error::from)
            });
        match res {
            Ok(o) => {
                if !json {
                    print_outcome(&o.report, &o.path);
                    if let Some(sig) = &o.signature {
                        println!("  signature: {}", sig.display());
                    }
                    if let Some(k) = &o.kept_artifacts {
                        println!("  artifacts kept in {}", k.display());
                    }
                }
                if let Some(d) = &o.kept_run_dir {
                    eprintln!(
                        "rollproof: outcome differs from the scenario's expectation; run folder kept for inspection: {}",
                        d.display()
                    );
                }
                rows.push(Row {
                    scenario: file.display().to_string(),
                    name: Some(o.report.scenario.name.clone()),
                    verdict: Some(o.report.verdict),
                    expected_verdict: Some(o.report.expected_verdict),
                    as_expected: o.report.as_expected,
                    proof: Some(o.report.proof.to_string()),
                    report: Some(o.path.display().to_string()),
                    signature: o.signature.as_ref().map(|p| p.display().to_string()),
                    artifacts: o.kept_artifacts.as_ref().map(|p| p.display().to_string()),
                    ms: o.report.timing_ms.get("total").copied(),
                    error: None,
                    status: if o.report.as_expected {
                        0
                    } else {
                        Status::Failed as u8
                    },
                });
            }
            Err(e) => {
                // Name the scenario once: most errors already do.
                let text = crate::exit::describe(&e);
                let shown = file.display().to_string();
                if text.contains(&shown) {
                    eprintln!("rollproof: error: {text}");
                } else {
                    eprintln!("rollproof: error: {shown}: {text}");
                }
                rows.push(Row {
                    scenario: file.display().to_string(),
                    name: None,
                    verdict: None,
                    expected_verdict: None,
                    as_expected: false,
                    proof: None,
                    report: None,
                    signature: None,
                    artifacts: None,
                    ms: None,
                    error: Some(crate::exit::describe(&e)),
                    status: Status::for_error(&e) as u8,
                });
            }
        }
    }
    let worst = rows.iter().map(|r| r.status).max().unwrap_or(0);
    let status = match worst {
        0 => Status::Success,
        1 => Status::Failed,
        3 => Status::Refused,
        _ => Status::BadInput,
    };
    if json {
        // The same `ok`/`kind`/`error` as every command's JSON (README
        // "Exit codes"), with every scenario's own result beside them.
        let mut v = serde_json::json!({ "ok": worst == 0, "results": rows });
        if worst != 0 {
            v["kind"] = status.kind().into();
            v["error"] = summary_error(&rows).into();
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else if rows.len() > 1 {
        print_table(&rows);
    }
    Ok(status)
}

/// One line for the JSON `error`: the first scenario that stopped with an
/// error (the same text stderr printed), else how many were not as expected.
fn summary_error(rows: &[Row]) -> String {
    match rows.iter().find_map(|r| r.error.as_deref()) {
        Some(e) => e.to_string(),
        None => {
            let bad = rows.iter().filter(|r| !r.as_expected).count();
            format!("{bad} of {} scenarios not as expected", rows.len())
        }
    }
}

fn print_outcome(r: &Report, path: &std::path::Path) {
    for f in &r.faults {
        println!(
            "  fault {}: {}{}",
            f.kind,
            f.detail,
            if f.injected { "" } else { " (NOT injected)" }
        );
    }
    for c in &r.checks {
        let mark = if c.outcome == Outcome::Pass {
            "ok  "
        } else {
            "FAIL"
        };
        println!("  [{mark}] {:<34} {}", c.name, c.detail);
    }
    if let Some(d) = &r.diff {
        println!("  what the rollback did not restore (before -> after_rollback):");
        for line in crate::evidence::render::diff_summary_lines(d) {
            println!("    {line}");
        }
        if let Some(e) = &d.error {
            println!("    {e}");
        }
        for t in &d.tables {
            println!(
                "    table {}: {} differing row(s) (before {} rows, after {} rows)",
                t.table, t.differing_rows, t.before_rows, t.after_rows
            );
            for row in &t.rows {
                println!("      {} {}: {}", row.change, row.key, row.sql);
            }
            if t.differing_rows as usize > t.rows.len() {
                println!("      … {} more", t.differing_rows as usize - t.rows.len());
            }
        }
    }
    let verdict = match r.verdict {
        Verdict::Pass => format!("PASS ({})", r.proof),
        Verdict::Fail => {
            let failed: Vec<&str> = r
                .checks
                .iter()
                .filter(|c| c.outcome == Outcome::Fail)
                .map(|c| c.name.as_str())
                .collect();
            format!("FAIL ({} failed)", failed.join(", "))
        }
    };
    let verdict = match &r.dry_run {
        Some(_) => format!("{verdict} [DRY RUN, not evidence]"),
        None => verdict,
    };
    println!(
        "  verdict: {verdict}; expected {}: {}",
        r.expected_verdict,
        if r.as_expected {
            "as expected"
        } else {
            "NOT as expected"
        }
    );
    println!("  report: {}", path.display());
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "{:<40} {:<8} {:<8} {:<13} {:>9}  outcome",
        "scenario", "verdict", "expected", "proof", "ms"
    );
    for r in rows {
        let v = |x: Option<Verdict>| x.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
        let outcome = match (&r.error, r.as_expected) {
            (Some(_), _) => "ERROR",
            (None, true) => "as expected",
            (None, false) => "NOT as expected",
        };
        println!(
            "{:<40} {:<8} {:<8} {:<13} {:>9}  {outcome}",
            r.name.clone().unwrap_or_else(|| r.scenario.clone()),
            v(r.verdict),
            v(r.expected_verdict),
            r.proof.clone().unwrap_or_else(|| "-".into()),
            r.ms.map(|m| m.to_string()).unwrap_or_else(|| "-".into())
        );
    }
    let ok = rows.iter().filter(|r| r.status == 0).count();
    println!("{ok} of {} scenarios as expected", rows.len());
}
