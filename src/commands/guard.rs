//! `rollproof guard`: ask the fail-closed guard. `check` answers whether a
//! production-scope action is granted (rollproof never performs it);
//! `grant` writes and signs an owner's grant;
//! `target` whether a database may be written; `url` whether a database URL
//! is a local throwaway; `adopt` makes a guarded working copy.

use crate::exit::Status;
use crate::guard;
use crate::guard::grant::{self, Grant};
use anyhow::Context;
use serde_json::json;
use std::path::PathBuf;

/// Ask the fail-closed guard. Exit 0 allowed, 3 refused, 2 bad input
/// (a missing file, a folder or a file that is not a database; a URL that
/// is not a URL).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  rollproof guard check REAL_RUN                              # no grant: HOLD, exit 3
  rollproof guard target surrogates/fixtures/tiny-seed7.db    # not in the workspace: exit 3
  rollproof guard adopt surrogates/fixtures/tiny-seed7.db rollproof-work/runs/t.db
  rollproof guard target rollproof-work/runs/t.db
  rollproof guard url postgres://localhost/rollproof_rehearsal
  ssh-keygen -q -t ed25519 -N '' -C owner@example.org -f owner_key
  rollproof guard grant REAL_RUN --granted-by owner@example.org --valid-for 4h \\
      --target-digest 661fce8ba6111939cf6cc2a49e8f599b689ec623f78c5d30d9f8cad10f4d793e \\
      --sign-key owner_key --out real-run.toml")]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Is ACTION granted? Production actions (REAL_RUN, QT001, permit,
    /// activation, repoint, cutover) each need their own production grant
    /// bound to the target's digest, signed (GRANT.sig) by the owner key
    /// that --trust lists for granted_by; without --grant the answer is
    /// HOLD. rollproof never performs the action: automation gates on the
    /// exit code.
    #[command(after_help = "Examples:
  rollproof guard check REAL_RUN                     # no grant: HOLD, exit 3
  rollproof guard check cutover --json               # no grant: HOLD, exit 3

A grant (docs/GUARD.md) is given with --grant FILE, bound to the target with
--target-digest SHA256, and counts only when signed by a key that --trust
ALLOWED_SIGNERS lists for its granted_by (namespace rollproof-grant):
  rollproof guard check cutover --grant g.toml --trust owners_allowed_signers \\
      --target-digest SHA256")]
    Check(CheckArgs),
    /// Write an owner's grant for one action on one target, valid from now
    /// for at most 7 days, and sign it (OUT.sig, namespace rollproof-grant)
    /// with the owner's key.
    #[command(after_help = "Examples (the digest is `sha256sum` of the target):
  ssh-keygen -q -t ed25519 -N '' -C owner@example.org -f owner_key
  rollproof guard grant cutover --granted-by owner@example.org --valid-for 2h \\
      --target-digest 661fce8ba6111939cf6cc2a49e8f599b689ec623f78c5d30d9f8cad10f4d793e \\
      --sign-key owner_key --out g.toml")]
    Grant(GrantArgs),
    /// May rollproof write to this database? Only a surrogate or clone in
    /// the workspace whose provenance record and sidecar prove it. Asking
    /// creates nothing (not even the workspace).
    #[command(after_help = "Examples:
  rollproof guard target surrogates/fixtures/tiny-seed7.db   # outside the workspace: exit 3
  rollproof guard adopt surrogates/fixtures/tiny-seed7.db rollproof-work/runs/t.db
  rollproof guard target rollproof-work/runs/t.db --json")]
    Target(TargetArgs),
    /// May rollproof write to this database URL? Only loopback or Unix-socket
    /// PostgreSQL databases named rollproof_*.
    #[command(after_help = "Examples:
  rollproof guard url postgres://localhost/rollproof_x       # allowed, exit 0
  rollproof guard url postgres://db.prod.internal/directus   # refused, exit 3
  rollproof guard url 'not a url'                            # bad input, exit 2")]
    Url(UrlArgs),
    /// Make a guarded working copy of a surrogate or clone in the workspace
    /// (what a rehearsal does before writing). An existing DEST is replaced
    /// only with --force.
    #[command(after_help = "Examples:
  rollproof guard adopt surrogates/fixtures/tiny-seed7.db rollproof-work/runs/t.db
  rollproof guard adopt surrogates/fixtures/tiny-seed7.db rollproof-work/runs/t.db --force")]
    Adopt(AdoptArgs),
}

/// `guard check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// REAL_RUN, QT001 (or apply), permit, activation, repoint, cutover,
    /// rehearsal, surrogate or clone.
    pub action: String,
    /// Grant file (TOML or JSON; see docs/GUARD.md); its signature is FILE.sig.
    #[arg(long, value_name = "FILE")]
    pub grant: Option<PathBuf>,
    /// The owners' allowed-signers file: a grant counts only when signed by
    /// a key it lists for namespace rollproof-grant (required with --grant).
    #[arg(long, value_name = "ALLOWED_SIGNERS")]
    pub trust: Option<PathBuf>,
    /// SHA-256 of the target the action would touch.
    #[arg(long, value_name = "SHA256")]
    pub target_digest: Option<String>,
    /// Print the decision as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `guard grant`.
#[derive(Debug, clap::Args)]
pub struct GrantArgs {
    /// The one action granted (REAL_RUN, QT001, permit, activation, repoint,
    /// cutover, rehearsal, surrogate or clone).
    pub action: String,
    /// SHA-256 of the one target the action may touch.
    #[arg(long, value_name = "SHA256")]
    pub target_digest: String,
    /// Who grants it: the principal the owners' allowed-signers file gives
    /// the signing key.
    #[arg(long, value_name = "PRINCIPAL")]
    pub granted_by: String,
    /// How long it is valid from now: 90m, 24h, 2d (at most 7d).
    #[arg(long, value_name = "SPAN")]
    pub valid_for: String,
    /// The owner's ed25519 OpenSSH private key (never the CI key; no
    /// environment default, so a grant is always signed deliberately).
    #[arg(long, value_name = "KEY")]
    pub sign_key: PathBuf,
    /// Where to write the grant (TOML); the signature goes to OUT.sig.
    /// Never overwrites.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Free text recorded in the grant.
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// Print the grant as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `guard target`.
#[derive(Debug, clap::Args)]
pub struct TargetArgs {
    /// Database file to ask about.
    pub db: PathBuf,
    /// Print the decision as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `guard url`.
#[derive(Debug, clap::Args)]
pub struct UrlArgs {
    /// Database URL to ask about.
    pub url: String,
    /// Print the decision as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `guard adopt`.
#[derive(Debug, clap::Args)]
pub struct AdoptArgs {
    /// Surrogate or clone to copy (only read).
    pub src: PathBuf,
    /// New working copy, inside the workspace.
    pub dest: PathBuf,
    /// Replace DEST if it exists.
    #[arg(long)]
    pub force: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<Status> {
    match args.command {
        Sub::Check(a) => check(a),
        Sub::Grant(a) => make_grant(a),
        Sub::Target(a) => target(a),
        Sub::Url(a) => url(a),
        Sub::Adopt(a) => adopt(a),
    }
}

/// Print an allowed/refused answer and turn it into the exit status.
fn answer(
    json: bool,
    subject: &str,
    allowed: bool,
    reason: &str,
    extra: serde_json::Value,
) -> anyhow::Result<Status> {
    if json {
        let mut v = json!({ "subject": subject, "allowed": allowed, "reason": reason });
        if let (Some(map), serde_json::Value::Object(more)) = (v.as_object_mut(), extra) {
            map.extend(more);
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else if allowed {
        println!("{subject}: ALLOWED ({reason})");
    } else {
        println!("{subject}: REFUSED ({reason})");
    }
    Ok(if allowed {
        Status::Success
    } else {
        Status::Refused
    })
}

fn check(a: CheckArgs) -> anyhow::Result<Status> {
    use crate::evidence::sign::{NS_GRANT, Trust};
    use crate::evidence::verify::signature::detached;
    let now = crate::util::timefmt::now_millis();
    let presented = match &a.grant {
        Some(p) => {
            let (g, bytes) = Grant::load(p)?;
            let Some(t) = &a.trust else {
                anyhow::bail!(
                    "a grant counts only when an owner signed it: give the owners' allowed-signers file with --trust (docs/KEYS.md)"
                );
            };
            let trust = Trust::load(t)?;
            Some((g, detached(p, &bytes, NS_GRANT, &trust, now)))
        }
        None => None,
    };
    if let Some(d) = &a.target_digest
        && !crate::hash::is_sha256_hex(&d.to_ascii_lowercase())
    {
        anyhow::bail!("--target-digest '{d}' is not a SHA-256 (64 hex digits)");
    }
    let d = grant::decide(
        &a.action,
        presented
            .as_ref()
            .map(|(grant, signature)| grant::Presented { grant, signature }),
        a.target_digest.as_deref(),
        now,
    )?;
    let extra = json!({
        "action": d.action,
        "production_scope": grant::is_production(&d.action),
        "grant": a.grant.as_ref().map(|p| p.display().to_string()),
        "target_sha256": a.target_digest.as_ref().map(|t| t.to_ascii_lowercase()),
        "checked_at": crate::util::timefmt::iso_millis(now),
    });
    answer(a.json, &d.action, d.allowed, &d.reason, extra)
}

/// A database file the guard is asked about must at least be one: missing,
/// a folder, or not a SQLite database is bad input (exit 2), not a refusal.
/// A symlink is left to the guard, which refuses it by name.
fn database_file(path: &std::path::Path) -> anyhow::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Ok(()),
        _ => Ok(crate::engine::sqlite::header::check(path)?),
    }
}

fn make_grant(a: GrantArgs) -> anyhow::Result<Status> {
    use crate::evidence::sign::{NS_GRANT, SigningKey, sig_path};
    use crate::util::fsutil::write_atomic;
    let action = grant::canonical_action(&a.action)?;
    let lifetime =
        grant::parse_lifetime(&a.valid_for).map_err(|e| anyhow::anyhow!("--valid-for: {e}"))?;
    // Whole seconds: what a person reads in the file is the exact window.
    let now = crate::util::timefmt::now_millis() / 1000 * 1000;
    let g = Grant {
        action: action.to_string(),
        scope: if grant::is_production(action) {
            "production".into()
        } else {
            action.to_string()
        },
        target_sha256: a.target_digest.to_ascii_lowercase(),
        granted_by: a.granted_by.clone(),
        granted_at: crate::util::timefmt::iso_millis(now),
        expires_at: crate::util::timefmt::iso_millis(now + lifetime),
        note: a.note.clone(),
    };
    g.validate()
        .map_err(|e| anyhow::anyhow!("cannot grant: {e}"))?;
    let key = SigningKey::load(&a.sign_key)?;
    let text = g.to_toml();
    let sig = key.sign(NS_GRANT, text.as_bytes())?;
    let sig_file = sig_path(&a.out);
    if sig_file.exists() {
        anyhow::bail!("{} already exists; remove it first", sig_file.display());
    }
    write_atomic(&a.out, text.as_bytes(), false)?;
    write_atomic(&sig_file, sig.as_bytes(), false)?;
    if a.json {
        let v = json!({
            "grant": a.out.display().to_string(),
            "signature": sig_file.display().to_string(),
            "key": key.fingerprint(),
            "content": g,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "{}: {} on {} granted by {} until {}, signed by {} ({})",
            a.out.display(),
            g.action,
            g.target_sha256,
            g.granted_by,
            g.expires_at,
            key.fingerprint(),
            sig_file.display()
        );
    }
    Ok(Status::Success)
}

fn target(a: TargetArgs) -> anyhow::Result<Status> {
    database_file(&a.db)?;
    let subject = a.db.display().to_string();
    match guard::inspect_target(&a.db) {
        Ok(b) => {
            let reason = format!(
                "{} in the workspace, provenance {} verified, sha256 {}",
                b.kind.as_str(),
                &b.record_id[..16],
                b.sha256
            );
            answer(a.json, &subject, true, &reason, json!({ "target": b }))
        }
        Err(r) => answer(a.json, &subject, false, &r.reason, json!({})),
    }
}

fn url(a: UrlArgs) -> anyhow::Result<Status> {
    let subject = guard::url::shown(&a.url);
    // Text that is not a PostgreSQL URL is bad input (2), not a refusal (3).
    if let Err(guard::url::UrlError::Invalid(m)) = guard::url::check(&a.url, &[]) {
        anyhow::bail!("{m}");
    }
    match guard::authorize_url(&a.url) {
        Ok(()) => answer(
            a.json,
            &subject,
            true,
            "local throwaway database",
            json!({}),
        ),
        Err(r) => answer(a.json, &subject, false, &r.reason, json!({})),
    }
}

fn adopt(a: AdoptArgs) -> anyhow::Result<Status> {
    database_file(&a.src)?;
    if !a.force && std::fs::symlink_metadata(&a.dest).is_ok() {
        return Err(crate::util::fsutil::WriteError::Exists { path: a.dest }.into());
    }
    guard::adopt_copy(&a.src, &a.dest)
        .with_context(|| format!("cannot adopt {} as {}", a.src.display(), a.dest.display()))?;
    let b = guard::inspect_target(&a.dest)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&b)?);
    } else {
        println!(
            "{}  {}  ({}, {})",
            b.sha256,
            b.path.display(),
            b.kind.as_str(),
            b.leg
        );
    }
    Ok(Status::Success)
}
