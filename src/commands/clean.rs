//! `rollproof clean`: remove what dead runs left behind (library:
//! [`crate::clean`]), and print every removal.

use crate::exit::Status;

/// Remove the leftovers of rollproof runs that died.
///
/// A run killed (SIGKILL, a crash, a power cut) leaves its run folder, a
/// partial --keep folder, `.rollproof-tmp-*` files and scratch PostgreSQL
/// databases. `clean` removes exactly those whose owner process is dead:
/// run folders still marked in progress, --keep folders the workspace
/// journal lists as partial, temp names carrying a dead owner, and
/// databases this workspace's ledger says it created (never any other
/// database). It holds the workspace lock exclusively, so it refuses (exit
/// 3) while another rollproof command uses the workspace. Folders kept on
/// purpose are never touched.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Only list what would be removed.
    #[arg(long)]
    pub dry_run: bool,
    /// A PostgreSQL URL (with password, if the server needs one) to reach a
    /// server whose leftover databases the ledger lists. Repeatable.
    #[arg(long = "target-url", value_name = "URL")]
    pub target_url: Vec<String>,
    /// Allow this non-local throwaway server host. Repeatable.
    #[arg(long, value_name = "HOST")]
    pub allow_host: Vec<String>,
    /// Print the outcome as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

const AFTER_HELP: &str = "\
Exit codes:
  0  cleaned (also when there was nothing to clean); what was left and why
     is listed
  3  refused: another rollproof command is using the workspace

Examples:
  rollproof clean --dry-run
  rollproof clean --json";

pub fn run(args: Args) -> anyhow::Result<Status> {
    // A server the user names must be one rollproof may reach: fail closed
    // here rather than skip it and report "nothing to clean".
    for url in &args.target_url {
        let parsed =
            crate::guard::url::parse(url).map_err(|e| anyhow::anyhow!("--target-url: {e}"))?;
        crate::guard::url::check_server(&parsed, &args.allow_host)?;
    }
    let opts = crate::clean::Options {
        dry_run: args.dry_run,
        target_urls: args.target_url.clone(),
        allow_hosts: args.allow_host.clone(),
    };
    let out = match crate::clean::clean(&opts) {
        Ok(o) => o,
        Err(crate::clean::CleanError::Refused(r)) => return Err(r.into()),
    };
    if args.json {
        let mut v = serde_json::to_value(&out)?;
        if let Some(m) = v.as_object_mut() {
            m.insert("ok".into(), true.into());
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(Status::Success);
    }
    let verb = if out.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for i in &out.removed {
        println!("{verb} {} {} ({})", i.kind, i.what, i.why);
    }
    for i in &out.left {
        println!("left {} {} ({})", i.kind, i.what, i.why);
    }
    eprintln!(
        "rollproof: clean: {} {} leftover{} in {}{}",
        verb,
        out.removed.len(),
        if out.removed.len() == 1 { "" } else { "s" },
        out.workspace.display(),
        if out.left.is_empty() {
            String::new()
        } else {
            format!("; {} left (listed above)", out.left.len())
        }
    );
    Ok(Status::Success)
}
