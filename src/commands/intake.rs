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
/// the value. A clone without the full birth-register surface is kept for
/// profiling but exits 1. Exit 2: unreadable, truncated or not a database.
///
/// Example:
///   rollproof intake operator-dump.sqlite --out op-2026-06 --allow allow.toml
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The operator's dump: a SQLite database or a SQL text dump.
    #[arg(value_name = "DUMP")]
    pub dump: PathBuf,
    /// Clone name (default: the dump's file stem).
    #[arg(long, value_name = "NAME")]
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

pub fn run(args: Args) -> anyhow::Result<Status> {
    let opts = intake::Options {
        dump: args.dump.clone(),
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
        Verdict::SurfaceMismatch => Status::Failed,
        Verdict::RefusedSecrets => Status::Refused,
    })
}

/// Say so when the clone's name is not the dump's: clone names keep only
/// letters, digits, '.', '_' and '-' ("dé mo.db" becomes "d__mo.db").
fn renamed_note(args: &Args, r: &intake::IntakeReport) {
    let (None, Some(clone)) = (&args.out, &r.clone) else {
        return;
    };
    let stem = |p: &std::path::Path| p.file_stem().map(|s| s.to_string_lossy().into_owned());
    if let (Some(dump), Some(name)) = (stem(&args.dump), stem(clone))
        && dump != name
    {
        eprintln!(
            "rollproof: note: the clone of '{dump}' is named '{name}' (clone names keep only letters, digits, '.', '_' and '-'); pass --out NAME to choose another"
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
    let problems = r.surface.problems();
    if problems.is_empty() {
        println!("surface: complete");
    } else {
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
        (v, Some(path)) => {
            println!(
                "clone {} sha256 {} ({})",
                path.display(),
                r.clone_sha256.as_deref().unwrap_or(""),
                r.leg.as_deref().unwrap_or("")
            );
            if v == Verdict::SurfaceMismatch {
                eprintln!(
                    "rollproof: clone kept for profiling, but it lacks the birth-register surface: not rehearsable"
                );
            }
        }
        (_, None) => {}
    }
}
