//! `rollproof report show | attest`: read a proof report as a human, or
//! wrap it in an in-toto Statement. Both verify the report first and fail
//! closed when it does not verify.

use crate::exit::Status;
use anyhow::Context;
use std::path::{Path, PathBuf};

/// Show or attest a proof report.
///
/// Examples:
///   rollproof report show reports/births-restore-copy/20261125T231900Z-1a2b3c4d.json
///   rollproof report attest reports/births-restore-copy/20261125T231900Z-1a2b3c4d.json --out proof.intoto.json
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: ReportCommand,
}

/// The `report` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ReportCommand {
    /// Render a report for a human: verdict, phase table, failed checks and
    /// their differences. Exit 1 (with the reasons on top) if it does not verify.
    Show(ShowArgs),
    /// Write an in-toto Statement v1 whose subjects are the surrogate and
    /// the artifacts and whose predicate is the (verified) report.
    Attest(AttestArgs),
}

/// Arguments of `report show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The report JSON.
    #[arg(value_name = "REPORT")]
    pub report: PathBuf,
    /// Print the Markdown rendering (the .md written beside the report).
    #[arg(long)]
    pub markdown: bool,
}

/// Arguments of `report attest`.
#[derive(Debug, clap::Args)]
pub struct AttestArgs {
    /// The report JSON.
    #[arg(value_name = "REPORT")]
    pub report: PathBuf,
    /// Where to write the Statement (default:
    /// <workspace>/attestations/<scenario>/<report name>.intoto.json, never
    /// beside a sealed report); `-` prints it on stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args) -> anyhow::Result<Status> {
    match args.command {
        ReportCommand::Show(a) => show(a),
        ReportCommand::Attest(a) => attest(a),
    }
}

/// Verify a report; print its problems on stderr.
fn checked(path: &Path) -> anyhow::Result<crate::evidence::verify::Checked> {
    let c = crate::evidence::verify::check_file(path, None)?;
    for p in &c.problems {
        eprintln!("rollproof: {}: FAILED ({p})", path.display());
    }
    Ok(c)
}

fn show(a: ShowArgs) -> anyhow::Result<Status> {
    let c = checked(&a.report)?;
    let Some(r) = &c.report else {
        eprintln!(
            "rollproof: {} cannot be shown: it is not a readable report",
            a.report.display()
        );
        return Ok(Status::Failed);
    };
    if !c.ok() {
        let reasons: Vec<String> = c.problems.iter().map(ToString::to_string).collect();
        println!(
            "NOT VERIFIED — do not rely on this report: {}\n",
            reasons.join("; ")
        );
    }
    if a.markdown {
        print!("{}", crate::evidence::render::markdown(r));
    } else {
        print!("{}", crate::evidence::render::text(r));
    }
    Ok(if c.ok() {
        Status::Success
    } else {
        Status::Failed
    })
}

/// Default Statement path: `X.json` → `<workspace>/attestations/<scenario>/X.intoto.json`
/// (in the workspace, so attesting a sealed report never adds a file to
/// the sealed folder).
fn default_out(report: &Path, scenario: &str) -> anyhow::Result<PathBuf> {
    let name = Path::new(report.file_name().unwrap_or_default()).with_extension("intoto.json");
    let dir = crate::guard::workspace::subdir("attestations")?.join(scenario);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir.join(name))
}

fn attest(a: AttestArgs) -> anyhow::Result<Status> {
    let c = checked(&a.report)?;
    let (Some(r), true) = (&c.report, c.ok()) else {
        eprintln!(
            "rollproof: refusing to attest {}: it does not verify",
            a.report.display()
        );
        return Ok(Status::Failed);
    };
    // The predicate is the report exactly as sealed: parse the file again
    // rather than re-serialising the typed struct.
    use crate::util::fsutil::{limit, read_bounded};
    let bytes = read_bounded(&a.report, limit::REPORT, "report")?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not JSON", a.report.display()))?;
    let statement = crate::evidence::attest::statement(r, value);
    let mut text = serde_json::to_vec_pretty(&statement)?;
    text.push(b'\n');
    let out = match a.out {
        Some(o) => o,
        None => default_out(&a.report, &r.scenario.name)?,
    };
    if out.as_os_str() == "-" {
        print!("{}", String::from_utf8_lossy(&text));
        return Ok(Status::Success);
    }
    crate::util::fsutil::prepare_output(&out, a.force)?;
    crate::util::fsutil::write_atomic(&out, &text, a.force)
        .with_context(|| format!("could not write the attestation for {}", a.report.display()))?;
    println!("{}  {}", crate::hash::sha256_hex(&text), out.display());
    eprintln!(
        "rollproof: wrote in-toto Statement ({}) for {}",
        crate::evidence::attest::PREDICATE_TYPE,
        a.report.display()
    );
    Ok(Status::Success)
}
