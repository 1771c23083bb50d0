//! `rollproof intake`: take an operator's sanitized dump in as an isolated,
//! secret-scanned clone in the workspace.

use crate::exit::Status;
use crate::intake::{self, IntakeError, Verdict};
use std::path::PathBuf;

/// Take in an operator's sanitized dump (SQLite file or SQL text dump) as an
/// isolated clone in `<workspace>/clones/<name>.db`.
///
/// The dump is only read, and its SHA-256 must be the same before and after.
/// The clone is scanned for secrets before anything runs on it; any finding
/// not allowed by an explicit `--allow` decision refuses the intake (exit 3,
/// no clone kept) and is listed by table, column, row key and kind — never
/// the value. Any clean clone rehearses SQL change scripts, whatever its
/// schema; `births` scenarios need the birth-register surface, and the
/// report says whether the clone has it. Exit 2: unreadable, truncated or
/// not a database.
///
/// With --target-url, the source is PostgreSQL: a pg_dump file (custom or
/// plain format) or, with --from-url, a database read through a read-only
/// session, taken in as the new `rollproof_` database the URL names. The
/// dump's SQL runs as an unprivileged role made for the intake, so it can
/// only touch the new database; the secret scan runs before it counts.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The operator's dump: a SQLite database or a SQL text dump; with
    /// --target-url a pg_dump file (custom or plain format).
    #[arg(
        value_name = "DUMP",
        required_unless_present = "from_url",
        conflicts_with = "from_url"
    )]
    pub dump: Option<PathBuf>,
    /// The new PostgreSQL clone database (a `rollproof_` name on a server
    /// rollproof may use).
    #[arg(long, value_name = "URL")]
    pub target_url: Option<String>,
    /// Take in the PostgreSQL database this URL names, read in a read-only
    /// session (needs --target-url).
    #[arg(long, value_name = "URL", requires = "target_url")]
    pub from_url: Option<String>,
    /// Also allow this PostgreSQL server host (a throwaway server); repeatable.
    #[arg(long, value_name = "HOST", requires = "target_url")]
    pub allow_host: Vec<String>,
    /// Clone name (default: the dump's file stem).
    #[arg(long, value_name = "NAME", conflicts_with = "target_url")]
    pub out: Option<String>,
    /// Allow-list of false positives (TOML; see docs/INTAKE.md).
    #[arg(long, value_name = "FILE")]
    pub allow: Option<PathBuf>,
    /// Replace an existing clone of the same name.
    #[arg(long)]
    pub force: bool,
    /// Print the intake report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Shown by `--help`; run verbatim by tests/cli/examples.rs.
const EXAMPLES: &str = "\
The dump is only read; the clone is secret-scanned before anything runs on
it, and a finding not allowed by --allow refuses the intake (exit 3).
Allow-list format: docs/INTAKE.md.

Examples:
  rollproof intake surrogates/fixtures/tiny-seed7.db --out op
  rollproof guard target rollproof-work/clones/op.db

PostgreSQL (a pg_dump file, or a database read in a read-only session):
  rollproof intake vendor.dump --target-url postgres://localhost/rollproof_vendor
  rollproof intake --from-url postgres://localhost/shop \\
      --target-url postgres://localhost/rollproof_shop";

pub fn run(args: Args) -> anyhow::Result<Status> {
    crate::util::cleanup::on_signal_remove_temporaries();
    if let Some(url) = &args.target_url {
        return run_pg(&args, url);
    }
    let Some(dump) = args.dump.clone() else {
        anyhow::bail!("intake needs a DUMP (or --from-url with --target-url)");
    };
    let opts = intake::Options {
        dump,
        name: args.out.clone(),
        allow: args.allow.clone(),
        force: args.force,
    };
    let report = match intake::intake(&opts) {
        Ok(r) => r,
        // Keep the guard's refusal in the error chain (exit 3).
        Err(IntakeError::Refused(r)) => return Err(anyhow::Error::new(r)),
        Err(e) => return Err(anyhow::Error::new(e).context("intake failed")),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&report);
    }
    renamed_note(&args, &report);
    Ok(match report.verdict {
        Verdict::Accepted => Status::Success,
        Verdict::RefusedSecrets => Status::Refused,
    })
}

/// Say so when the clone's name is not the dump's: clone names keep only
/// letters, digits, '.', '_' and '-' ("dé mo.db" becomes "d__mo.db").
fn renamed_note(args: &Args, r: &intake::IntakeReport) {
    let (None, Some(clone), Some(dump)) = (&args.out, &r.clone, &args.dump) else {
        return;
    };
    let stem = |p: &std::path::Path| p.file_stem().map(|s| s.to_string_lossy().into_owned());
    if let (Some(dump), Some(name)) = (stem(dump), stem(clone))
        && dump != name
    {
        eprintln!(
            "rollproof: note: the clone of '{dump}' is named '{name}' (clone names keep only letters, digits, '.', '_' and '-'); pass --out NAME to choose another"
        );
    }
}

/// `intake --target-url`: PostgreSQL intake.
fn run_pg(args: &Args, url: &str) -> anyhow::Result<Status> {
    let source = match (&args.dump, &args.from_url) {
        (_, Some(u)) => intake::pg::Source::Url(u.clone()),
        (Some(d), None) => intake::pg::Source::Dump(d.clone()),
        (None, None) => anyhow::bail!("intake --target-url needs a DUMP or --from-url"),
    };
    let opts = intake::pg::Options {
        source,
        target_url: url.to_string(),
        allow_hosts: args.allow_host.clone(),
        allow: args.allow.clone(),
        force: args.force,
    };
    let r = match intake::pg::intake(&opts) {
        Ok(r) => r,
        Err(IntakeError::Refused(r)) => return Err(anyhow::Error::new(r)),
        Err(e) => return Err(anyhow::Error::new(e).context("intake failed")),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!("source {} ({})", r.source, r.source_format);
        print_scan(&r.secrets);
        match &r.clone_url {
            Some(u) => {
                println!(
                    "clone {u} logical sha256 {} ({})",
                    r.logical_sha256.as_deref().unwrap_or(""),
                    r.leg
                );
                println!("rehearsable: {}", r.rehearsable.join(", "));
            }
            None => eprintln!(
                "rollproof: refused: {} secret finding(s) in {}; the clone database was dropped",
                r.secrets.findings_total, r.source
            ),
        }
    }
    Ok(match r.verdict {
        Verdict::Accepted => Status::Success,
        Verdict::RefusedSecrets => Status::Refused,
    })
}

/// The secret scan's lines (never a value).
fn print_scan(s: &intake::scan::ScanResult) {
    println!(
        "secret scan: {} values, {} findings, {} allowed by decision",
        s.values_scanned,
        s.findings_total,
        s.allowed.len()
    );
    for f in &s.findings {
        println!(
            "  secret: {}.{} row {}: {}",
            f.table, f.column, f.row, f.kind
        );
    }
    if s.findings_total > s.findings.len() as u64 {
        println!(
            "  … and {} more",
            s.findings_total - s.findings.len() as u64
        );
    }
    for a in &s.allowed {
        println!(
            "  allowed: {}.{} row {}: {} ({}, by {})",
            a.table, a.column, a.row, a.kind, a.reason, a.by
        );
    }
    for a in &s.unused_allow {
        eprintln!(
            "rollproof: warning: allow entry {}.{} row {} ({}) matched nothing",
            a.table, a.column, a.row, a.kind
        );
    }
}

fn print_text(r: &intake::IntakeReport) {
    let s = &r.secrets;
    println!(
        "source {} ({}): sha256 {} before, {} after: {}",
        r.source,
        r.source_format,
        r.source_sha256_before,
        r.source_sha256_after,
        if r.source_unchanged {
            "unchanged"
        } else {
            "CHANGED"
        }
    );
    print_scan(s);
    let problems = r.surface.problems();
    if problems.is_empty() {
        println!("birth-register surface: complete");
    } else {
        println!(
            "birth-register surface: not complete (births scenarios need it; SQL scenarios do not)"
        );
        for p in &problems {
            println!("  surface: {p}");
        }
    }
    for d in &r.surface.different {
        println!("  surface (differs): {d}");
    }
    match (r.verdict, &r.clone) {
        (Verdict::RefusedSecrets, _) => eprintln!(
            "rollproof: refused: {} secret finding(s) in {}; no clone kept (sanitize the dump, or record a false positive in --allow)",
            s.findings_total, r.source
        ),
        (_, Some(path)) => {
            println!(
                "clone {} sha256 {} ({})",
                path.display(),
                r.clone_sha256.as_deref().unwrap_or(""),
                r.leg.as_deref().unwrap_or("")
            );
            println!("rehearsable: {}", r.rehearsable.join(", "));
        }
        (_, None) => {}
    }
}
