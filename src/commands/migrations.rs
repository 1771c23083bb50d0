//! `rollproof migrations DIR`: rehearse a migrations folder step by step,
//! print a progress bar and a summary table, write the sealed folder
//! report, optionally JUnit XML, and map the folder's verdict to the exit
//! code. `--json` prints JSON on every outcome, errors included.

use crate::evidence::report::Verdict;
use crate::exit::Status;
use crate::generate::FillStats;
use crate::migrations::data::{DataPlan, Source};
use crate::migrations::layout::Layout;
use crate::migrations::report::MigrationsReport;
use crate::migrations::run::{Event, Request};
use crate::migrations::select::Selection;
use crate::migrations::step::Transactions;
use anyhow::Context;
use std::path::PathBuf;

/// Rehearse every migration of a folder on a database filled with data:
/// for each step, snapshot → up → measure → down → measure → prove the
/// down restored schema, rows and settings exactly → up again (the schema
/// must equal the first up's). A failing down fails its step only (the
/// snapshot is restored and the run goes on); a failing up stops the run.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The migrations folder.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The folder's layout (default: detected).
    #[arg(long, value_enum)]
    pub layout: Option<Layout>,
    /// Rehearse on this PostgreSQL server instead of SQLite:
    /// postgres://user@host:port/rollproof_<name> (the run creates, and
    /// drops at the end, its own databases `<name>_m<run id>` there).
    #[arg(long, value_name = "URL")]
    pub target_url: Option<String>,
    /// Also allow this PostgreSQL server host (a throwaway server); repeatable.
    #[arg(long, value_name = "HOST")]
    pub allow_host: Vec<String>,
    /// SQLite foreign keys while scripts run (default: as the tool's driver
    /// leaves them; sqlx and plain on, the others off).
    #[arg(long, value_name = "on|off", value_parser = on_off)]
    pub foreign_keys: Option<bool>,
    /// Transactions: `tool` (each tool's rule and its no-transaction
    /// markers), `on` (every script in one), `off` (none).
    #[arg(long, value_enum, default_value = "tool")]
    pub transactions: Transactions,
    /// Rehearse from this version on (earlier ones are applied as setup).
    #[arg(long, value_name = "VERSION")]
    pub from: Option<String>,
    /// Rehearse up to this version (inclusive; later ones are applied as setup).
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,
    /// Rehearse only this version; repeatable.
    #[arg(long, value_name = "VERSION")]
    pub only: Vec<String>,
    /// Rehearse only migrations whose files git says were added or changed
    /// since REV (e.g. origin/main in a pull request).
    #[arg(long, value_name = "REV")]
    pub changed_since: Option<String>,
    /// Data first: rows generated into every empty table before each step
    /// (generic generation on the schema at N−1; default 100; 0: only the
    /// migrations' own rows). With --profile: rows for the tables the
    /// profile does not know.
    #[arg(long, value_name = "N")]
    pub rows: Option<u64>,
    /// Data first from a profile of production (docs/PROFILES.md): its row
    /// counts and value statistics for the tables it knows.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Multiply the profile's row counts by X.
    #[arg(long, value_name = "X", default_value_t = 1.0, requires = "profile")]
    pub scale: f64,
    /// Seed of the generated rows (same folder + seed → same rows).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Irreversible migrations (no down, or an empty one) do not fail the run.
    #[arg(long)]
    pub allow_irreversible: bool,
    /// Print the result as JSON on stdout (on every outcome, errors too).
    #[arg(long)]
    pub json: bool,
    /// Also write JUnit XML (one test case per migration) to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Folder for the sealed report (default: <workspace>/reports, ignored
    /// by git).
    #[arg(long, value_name = "DIR")]
    pub reports: Option<PathBuf>,
    /// Blocker id the report is evidence for (needed to attach it).
    #[arg(long, value_name = "ID", default_value = "")]
    pub blocker: String,
    /// Sign the report with this ed25519 OpenSSH private key (default: the
    /// file named by $ROLLPROOF_SIGNING_KEY): `<report>.json.sig`, checked
    /// with `ssh-keygen -Y verify -n rollproof-report` or `rollproof verify
    /// --trust` (docs/KEYS.md); a signed PASS report can be promoted and
    /// attached to a blocker like a rehearsal's.
    #[arg(long, value_name = "PATH")]
    pub sign_key: Option<PathBuf>,
    /// Keep the run folder (working database and last snapshot) and print it.
    #[arg(long)]
    pub keep: bool,
    /// Workspace folder for the working database (default
    /// $ROLLPROOF_WORKSPACE, else ./rollproof-work).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
}

const AFTER_HELP: &str = "\
Layouts: diesel, sqlx, golang-migrate, dbmate, flyway, plain (docs/MIGRATIONS.md).
A migration without a down, or with an empty or comment-only one, is
\"irreversible\", never a pass.

Exit codes:
  0  every rehearsed step passed (irreversible ones too with --allow-irreversible)
  1  a step failed, or a migration is irreversible
  2  bad input: unreadable folder, unknown layout or version, bad option
  3  refused by the guard (workspace, server or database not allowed)

Examples:
  rollproof migrations examples/migrations/sqlite-dbmate   # some downs fail: exit 1
  rollproof migrations examples/migrations/sqlite-diesel --junit migrations.xml   # exit 1
  rollproof migrations examples/migrations/sqlite-diesel --rows 500 --seed 7   # exit 1
  rollproof migrations examples/migrations/sqlite-dbmate --only 20240302090000 --json
  ssh-keygen -q -t ed25519 -N '' -C ci@example.org -f ci_key
  rollproof migrations examples/migrations/sqlite-dbmate --only 20240302090000 --sign-key ci_key

Signing (docs/KEYS.md): --sign-key KEY or ROLLPROOF_SIGNING_KEY=KEY writes <report>.json.sig;
a signed PASS report (with --blocker ID) is promoted and attached like a rehearsal's.";

fn on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("`{s}`: say on or off")),
    }
}

/// Run `migrations`.
pub fn run(args: Args) -> anyhow::Result<Status> {
    if let Some(ws) = &args.workspace {
        // SAFETY: set once at command start, before rollproof starts any
        // thread; the guard reads the workspace from this variable.
        unsafe { std::env::set_var(crate::guard::WORKSPACE_ENV, ws) };
    }
    let json = args.json;
    match rehearse(&args) {
        Ok(status) => Ok(status),
        // The common error contract (`ok`, `error`, `kind`), as every
        // command with --json prints it.
        Err(e) if json => Ok(crate::exit::report_error(&e, true)),
        Err(e) => Err(e),
    }
}

/// The data plan from the options.
fn data_plan(args: &Args) -> anyhow::Result<DataPlan> {
    let rows = args.rows.unwrap_or(100);
    let source = match &args.profile {
        Some(p) => {
            if !args.scale.is_finite() || args.scale <= 0.0 {
                anyhow::bail!("--scale {} must be a positive number", args.scale);
            }
            let profile = crate::profile::Profile::load(p)?;
            Source::Profile {
                path: p.display().to_string(),
                stats: FillStats::from(&profile),
                scale: args.scale,
                rows,
            }
        }
        None if rows == 0 => Source::None,
        None => Source::Generated { rows },
    };
    Ok(DataPlan {
        source,
        seed: args.seed,
        exclude: Vec::new(),
    })
}

fn rehearse(args: &Args) -> anyhow::Result<Status> {
    let reports = match &args.reports {
        Some(r) => r.clone(),
        None => crate::guard::workspace()?.join("reports"),
    };
    crate::util::fsutil::writable_dir(&reports).context("--reports")?;
    // A bad key is bad input before anything runs.
    let sign_key = crate::evidence::sign::SigningKey::from_flag_or_env(args.sign_key.as_deref())?
        .map(std::sync::Arc::new);
    let req = Request {
        dir: args.dir.clone(),
        layout: args.layout,
        target_url: args.target_url.clone(),
        allow_hosts: args.allow_host.clone(),
        foreign_keys: args.foreign_keys,
        transactions: args.transactions,
        selection: Selection {
            from: args.from.clone(),
            to: args.to.clone(),
            only: args.only.clone(),
            changed_since: args.changed_since.clone(),
        },
        allow_irreversible: args.allow_irreversible,
        reports: Some(reports),
        blocker: args.blocker.clone(),
        keep: args.keep,
        data: data_plan(args)?,
        sign_key,
    };
    let mut bar: Option<indicatif::ProgressBar> = None;
    let quiet = args.json;
    let mut progress = |ev: Event<'_>| match ev {
        Event::Start {
            folder,
            rehearsed,
            backend,
            data,
        } => {
            if !quiet {
                println!(
                    "rollproof: {} ({} layout{}, {backend}): {} migrations, {rehearsed} rehearsed",
                    folder.dir.display(),
                    folder.layout.as_str(),
                    if folder.detected { ", detected" } else { "" },
                    folder.migrations.len()
                );
            }
            eprintln!("rollproof: data first: {data}");
            bar = Some(crate::util::progress::steps_bar(
                folder.migrations.len() as u64,
                "migrations",
            ));
        }
        Event::Step(s) => {
            if let Some(b) = &bar {
                b.set_message(format!("{} {}", s.version, s.status.as_str()));
                b.inc(1);
            }
        }
    };
    let outcome = crate::migrations::run::run(&req, &mut progress).map_err(|e| e.into_anyhow())?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let r = &outcome.report;
    if let Some(file) = &args.junit {
        crate::migrations::junit::write(r, file)?;
    }
    if args.json {
        print_json(r, outcome.path.as_deref(), outcome.signature.as_deref())?;
    } else {
        print!("{}", crate::migrations::render::table(r));
        if let Some(p) = &outcome.path {
            println!("report: {}", p.display());
        }
        if let Some(p) = &outcome.signature {
            println!("signature: {}", p.display());
        }
    }
    if let Some(k) = &outcome.kept {
        eprintln!("rollproof: run folder kept: {}", k.display());
    }
    Ok(if r.verdict == Verdict::Pass {
        Status::Success
    } else {
        Status::Failed
    })
}

/// The JSON summary: the verdict and, per step, its status and findings.
fn print_json(
    r: &MigrationsReport,
    path: Option<&std::path::Path>,
    signature: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let steps: Vec<serde_json::Value> = r
        .steps
        .iter()
        .map(|s| {
            serde_json::json!({
                "index": s.index,
                "version": s.version,
                "name": s.name,
                "status": s.status,
                "findings": s.findings,
                "errors": s.errors,
                "data": s.data,
                "ms": s.ms,
            })
        })
        .collect();
    let v = serde_json::json!({
        "ok": r.verdict == Verdict::Pass,
        "verdict": r.verdict,
        "folder": r.folder.path,
        "layout": r.folder.layout,
        "backend": r.backend,
        "summary": r.summary,
        "report": path.map(|p| p.display().to_string()),
        "seal": r.seal,
        "signature": signature.map(|p| p.display().to_string()),
        "steps": steps,
    });
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}
