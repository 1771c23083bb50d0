//! The command line: one clap-derived enum, one module per subcommand under
//! `commands/`, each owning its `Args` and `run`.

use crate::commands;
use crate::exit::{EXIT_CODES_HELP, Status};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::ffi::OsString;

/// Rehearse risky database changes on production-shaped surrogates and
/// prove, with SHA-256 evidence, that rollback restores the database exactly.
#[derive(Debug, Parser)]
#[command(
    name = "rollproof",
    version,
    about,
    after_help = EXIT_CODES_HELP,
    after_long_help = concat!(
        "Examples (a first session; every command's --help has more):\n",
        "  rollproof generate --profile surrogates/profiles/default.toml --seed 7 --out work/s.db\n",
        "  rollproof rehearse scenarios/births-copy-restore.toml\n",
        "  rollproof verify rollproof-work/reports/births-copy-restore/*.json\n",
        "\n",
        "Exit codes:\n",
        "  0  success: the proof passed, the check is clean, the map is valid\n",
        "  1  failed: a proof failed, a check found drift, a report or map is invalid\n",
        "  2  bad input: unreadable, malformed or missing input; wrong arguments\n",
        "  3  refused by the guard: target or action not allowed (default HOLD)"
    )
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a deterministic, production-shaped surrogate database.
    Generate(commands::generate::Args),
    /// Extract a value-free profile (shape and statistics) from a database.
    Profile(commands::profile::Args),
    /// Compare a database with a profile and score how closely it matches.
    Fidelity(commands::fidelity::Args),
    /// Run a rehearsal scenario (or a folder of them) and prove the rollback.
    Rehearse(commands::rehearse::Args),
    /// Verify a sealed proof report (and, optionally, the kept artifacts).
    Verify(commands::verify::Args),
    /// Print every digest of SQLite files: file SHA-256, logical hash, .sha3sum.
    Hash(commands::hash::Args),
    /// Show or attest a proof report.
    Report(commands::report::Args),
    /// Write the seal manifest of sealed files under surrogates/ and reports/.
    Seal(commands::seal::Args),
    /// Check the seal manifest against the bytes on disk (CI runs this).
    Check(commands::check::Args),
    /// Validate or show a blocker map.
    Blockers(commands::blockers::Args),
    /// Attach a verified proof report to a blocker entry in a blocker map.
    Attach(commands::attach::Args),
    /// Promote reports from the workspace into the sealed reports/ (and
    /// seal exactly those files).
    Promote(commands::promote::Args),
    /// Remove what dead runs left behind (run folders, partial --keep
    /// folders, temp files, scratch PostgreSQL databases).
    Clean(commands::clean::Args),
    /// Ask the guard whether a production-scope action is granted.
    Guard(commands::guard::Args),
    /// Take in an operator's sanitized dump as an isolated, scanned clone.
    Intake(commands::intake::Args),
    /// Rehearse a migrations folder step by step and prove every down.
    Migrations(commands::migrations::Args),
    /// Internal: the apply worker process a rehearsal starts (kill and
    /// io-error faults, benchmark SQL).
    #[command(hide = true)]
    ApplyWorker(commands::apply_worker::Args),
}

/// Parse and run a whole command line; every outcome becomes an exit
/// status here, and every error is reported the same way
/// ([`crate::exit::report_error`]): a `rollproof: error:` line, plus the
/// `{ "ok": false, … }` object on stdout when the command was given `--json`.
pub fn main<I, T>(args: I) -> Status
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let matches = match Cli::command().try_get_matches_from(&args) {
        Ok(m) => m,
        Err(e) => return usage_error(&e, &args),
    };
    let json = leaf_flag(&matches, "json");
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => return usage_error(&e, &args),
    };
    let outcome = run(cli);
    // An interrupted run's outcome is the signal's (130/143), not the error
    // its vanished temporaries caused meanwhile.
    crate::util::cleanup::yield_to_interruption();
    match outcome {
        Ok(status) => status,
        Err(err) => crate::exit::report_error(&err, json),
    }
}

/// Whether the innermost subcommand was given `--NAME` (a flag).
fn leaf_flag(matches: &clap::ArgMatches, name: &str) -> bool {
    let mut m = matches;
    while let Some((_, sub)) = m.subcommand() {
        m = sub;
    }
    matches!(m.try_get_one::<bool>(name), Ok(Some(true)))
}

/// clap's own output for `--help`, `--version` and usage errors (exit 2:
/// wrong arguments are bad input), plus the JSON error object when the
/// command line asked for `--json`.
fn usage_error(e: &clap::Error, args: &[OsString]) -> Status {
    use clap::error::ErrorKind;
    let _ = e.print();
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        return Status::Success;
    }
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        return Status::BadInput;
    }
    let asked_json = args
        .iter()
        .skip(1)
        .take_while(|a| *a != "--")
        .any(|a| a == "--json");
    if asked_json {
        let text = e.render().to_string();
        let first = text
            .lines()
            .next()
            .unwrap_or("wrong arguments")
            .trim_start_matches("error: ");
        let v = serde_json::json!({ "ok": false, "error": first, "kind": Status::BadInput.kind() });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    }
    Status::BadInput
}

/// Run one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Status> {
    match cli.command {
        Command::Generate(a) => commands::generate::run(a),
        Command::Profile(a) => commands::profile::run(a),
        Command::Fidelity(a) => commands::fidelity::run(a),
        Command::Rehearse(a) => commands::rehearse::run(a),
        Command::Verify(a) => commands::verify::run(a),
        Command::Hash(a) => commands::hash::run(a),
        Command::Report(a) => commands::report::run(a),
        Command::Seal(a) => commands::seal::run(a),
        Command::Check(a) => commands::check::run(a),
        Command::Blockers(a) => commands::blockers::run(a),
        Command::Attach(a) => commands::attach::run(a),
        Command::Promote(a) => commands::promote::run(a),
        Command::Clean(a) => commands::clean::run(a),
        Command::Guard(a) => commands::guard::run(a),
        Command::Intake(a) => commands::intake::run(a),
        Command::Migrations(a) => commands::migrations::run(a),
        Command::ApplyWorker(a) => commands::apply_worker::run(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
        assert!(EXIT_CODES_HELP.contains("3  refused"));
    }
}
