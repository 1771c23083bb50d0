//! `rollproof report show | attest | sign`: read a proof report (a
//! rehearsal's, or a migrations folder run's) as a human, wrap it in a
//! signed in-toto attestation (DSSE envelope), or sign it.
//! All verify the report first and fail closed when it does not verify.

use crate::evidence::sign::SigningKey;
use crate::exit::Status;
use anyhow::Context;
use std::path::{Path, PathBuf};

/// Show, attest or sign a proof report.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  rollproof report show reports/births-copy-restore/20261201T152213Z-2dddf538.json
  ssh-keygen -q -t ed25519 -N '' -C ci@example.org -f ci_key
  rollproof report attest reports/births-copy-restore/20261201T152213Z-2dddf538.json \\
      --sign-key ci_key --out proof.intoto.json")]
pub struct Args {
    #[command(subcommand)]
    pub command: ReportCommand,
}

/// The `report` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ReportCommand {
    /// Render a report for a human: verdict, phase table, failed checks and
    /// their differences. Exit 1 (with the reasons on top) if it does not verify.
    #[command(after_help = "Examples:
  rollproof report show reports/births-copy-restore/20261201T152213Z-2dddf538.json
  rollproof report show reports/births-copy-restore/20261201T152213Z-2dddf538.json --markdown")]
    Show(ShowArgs),
    /// Write a signed DSSE envelope (payloadType application/vnd.in-toto+json)
    /// around an in-toto Statement v1 whose subjects are the surrogate and
    /// the artifacts and whose predicate is the (verified) report.
    #[command(after_help = "Examples (the key: docs/KEYS.md):
  ssh-keygen -q -t ed25519 -N '' -C ci@example.org -f ci_key
  rollproof report attest reports/births-copy-restore/20261201T152213Z-2dddf538.json \\
      --sign-key ci_key
  rollproof report attest reports/births-copy-restore/20261201T152213Z-2dddf538.json \\
      --sign-key ci_key --out proof.intoto.json
  rollproof report attest reports/births-copy-restore/20261201T152213Z-2dddf538.json \\
      --sign-key ci_key --out -")]
    Attest(AttestArgs),
    /// Sign a report that verifies: write `<report>.json.sig` (SSHSIG,
    /// namespace rollproof-report), replacing an older signature (e.g. after
    /// a key rotation, docs/KEYS.md).
    #[command(after_help = "Examples:
  ssh-keygen -q -t ed25519 -N '' -C ci@example.org -f ci_key
  rollproof rehearse scenarios/births-copy-transaction.toml \\
      --profile-override surrogates/profiles/tiny.toml
  rollproof report sign rollproof-work/reports/births-copy-transaction/*.json --sign-key ci_key")]
    Sign(SignArgs),
}

/// Arguments of `report sign`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The report JSON.
    #[arg(value_name = "REPORT")]
    pub report: PathBuf,
    /// The ed25519 OpenSSH private key (default: $ROLLPROOF_SIGNING_KEY).
    #[arg(long, value_name = "PATH")]
    pub sign_key: Option<PathBuf>,
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
    /// Where to write the envelope (default:
    /// <workspace>/attestations/<scenario>/<report name>.intoto.json, never
    /// beside a sealed report); `-` prints it on stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The ed25519 OpenSSH private key that signs the envelope (default:
    /// $ROLLPROOF_SIGNING_KEY).
    #[arg(long, value_name = "PATH")]
    pub sign_key: Option<PathBuf>,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args) -> anyhow::Result<Status> {
    match args.command {
        ReportCommand::Show(a) => show(a),
        ReportCommand::Attest(a) => attest(a),
        ReportCommand::Sign(a) => sign(a),
    }
}

/// The signing key of `--sign-key` or $ROLLPROOF_SIGNING_KEY; none is bad input.
fn signing_key(flag: Option<&Path>, what: &str) -> anyhow::Result<SigningKey> {
    SigningKey::from_flag_or_env(flag)?.ok_or_else(|| {
        anyhow::anyhow!(
            "{what} needs a signing key: give --sign-key PATH or set {} (docs/KEYS.md)",
            crate::evidence::sign::KEY_ENV
        )
    })
}

fn sign(a: SignArgs) -> anyhow::Result<Status> {
    let key = signing_key(a.sign_key.as_deref(), "report sign")?;
    let c = checked(&a.report)?;
    if !c.ok() {
        eprintln!(
            "rollproof: refusing to sign {}: it does not verify",
            a.report.display()
        );
        return Ok(Status::Failed);
    }
    let bytes =
        crate::util::fsutil::read_bounded(&a.report, crate::util::fsutil::limit::REPORT, "report")?;
    let sig = crate::evidence::report::sign_file(&a.report, &bytes, &key)?;
    println!("{}  signed by {}", sig.display(), key.fingerprint());
    Ok(Status::Success)
}

/// Verify a report; print its problems on stderr.
fn checked(path: &Path) -> anyhow::Result<crate::evidence::verify::Checked> {
    let c = crate::evidence::verify::check_file(path, None, None)?;
    for p in &c.problems {
        eprintln!("rollproof: {}: FAILED ({p})", path.display());
    }
    Ok(c)
}

fn show(a: ShowArgs) -> anyhow::Result<Status> {
    let c = checked(&a.report)?;
    let text = match (&c.report, &c.migrations) {
        (Some(r), _) if a.markdown => crate::evidence::render::markdown(r),
        (Some(r), _) => crate::evidence::render::text(r),
        (None, Some(m)) if a.markdown => crate::migrations::render::markdown(m),
        (None, Some(m)) => crate::migrations::render::text(m),
        (None, None) => {
            eprintln!(
                "rollproof: {} cannot be shown: it is not a readable report",
                a.report.display()
            );
            return Ok(Status::Failed);
        }
    };
    if !c.ok() {
        let reasons: Vec<String> = c.problems.iter().map(ToString::to_string).collect();
        println!(
            "NOT VERIFIED — do not rely on this report: {}\n",
            reasons.join("; ")
        );
    }
    print!("{text}");
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
    let key = signing_key(a.sign_key.as_deref(), "report attest")?;
    let c = checked(&a.report)?;
    let (Some(facts), true) = (c.facts(), c.ok()) else {
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
    let statement = match (&c.report, &c.migrations) {
        (Some(r), _) => crate::evidence::attest::statement(r, value),
        (None, Some(m)) => crate::evidence::attest::migrations_statement(m, value),
        (None, None) => anyhow::bail!("{} is not a readable report", a.report.display()),
    };
    let statement = serde_json::to_vec(&statement)?;
    let envelope = crate::evidence::attest::envelope(&statement, &key)?;
    let mut text = serde_json::to_vec_pretty(&envelope)?;
    text.push(b'\n');
    let out = match a.out {
        Some(o) => o,
        None => default_out(&a.report, &facts.name)?,
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
        "rollproof: wrote a DSSE envelope with an in-toto Statement ({}) for {}, signed by {}",
        crate::evidence::attest::PREDICATE_TYPE,
        a.report.display(),
        key.fingerprint()
    );
    Ok(Status::Success)
}
