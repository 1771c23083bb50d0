//! `rollproof blockers validate|show` — check a blocker map's invariants, or
//! show its blockers as a compact table (or JSON).

use crate::evidence::blockers::category::{Closure, closure};
use crate::evidence::blockers::{Blocker, BlockerMap, Evidence, Violation, validate};
use crate::exit::Status;
use clap::Subcommand;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Validate or show a blocker map (docs/BLOCKERS.md).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    rollproof blockers validate blockers/final-blocker-map.json\n  \
    rollproof blockers show blockers/final-blocker-map.json --wide\n  \
    rollproof blockers show blockers/final-blocker-map.json --json")]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

/// The `blockers` subcommands.
#[derive(Debug, Subcommand)]
pub enum Sub {
    /// Check the map's own invariants and cross-check its evidence (every
    /// report exists, verifies, is PASS and signed by a trusted key; the
    /// evidence log's chain holds; no blocker is closed without backing);
    /// report every violation: exit 0 valid, 1 invalid, 2 unreadable or not
    /// a blocker map.
    #[command(
        after_help = "Example:\n  rollproof blockers validate blockers/final-blocker-map.json"
    )]
    Validate(ValidateArgs),
    /// Show the blockers: id, state, category, what it blocks, who must act,
    /// next action, evidence attached. Long texts are cut with … only on a
    /// terminal (and not with --wide); piped output has them whole.
    #[command(
        after_help = "Examples:\n  rollproof blockers show blockers/final-blocker-map.json\n  \
        rollproof blockers show blockers/final-blocker-map.json --wide"
    )]
    Show(ShowArgs),
}

/// Arguments of `blockers validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The blocker map (JSON).
    pub map: PathBuf,
    /// The allowed-signers file the map's evidence must be signed under
    /// (default: `allowed_signers` beside the map).
    #[arg(long, value_name = "ALLOWED_SIGNERS")]
    pub trust: Option<PathBuf>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `blockers show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The blocker map (JSON).
    pub map: PathBuf,
    /// Print the blockers as JSON on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Never cut long cells, even on a terminal.
    #[arg(long, conflicts_with = "json")]
    pub wide: bool,
}

/// Run `blockers`.
pub fn run(args: Args) -> anyhow::Result<Status> {
    match args.command {
        Sub::Validate(a) => run_validate(a),
        Sub::Show(a) => run_show(a),
    }
}

fn load(path: &Path) -> anyhow::Result<BlockerMap> {
    // The error already names the file and the JSON path; no context needed.
    let (map, _) = BlockerMap::load(path)?;
    Ok(map)
}

/// `blockers validate --json` output.
#[derive(Serialize)]
struct ValidateJson<'a> {
    map: String,
    valid: bool,
    blockers: usize,
    open: usize,
    violations: &'a [Violation],
}

fn run_validate(a: ValidateArgs) -> anyhow::Result<Status> {
    let map = load(&a.map)?;
    let mut violations = validate(&map);
    // The evidence is cross-checked against the reports, their signatures
    // and the evidence log; a trust file that exists must also be readable.
    let trust_file = crate::evidence::blockers::trust_path(&a.map, a.trust.as_deref());
    let trust = if a.trust.is_some() || std::fs::symlink_metadata(&trust_file).is_ok() {
        Some(crate::evidence::sign::Trust::load(&trust_file)?)
    } else {
        None
    };
    violations.extend(crate::evidence::blockers::crosscheck::crosscheck(
        &map,
        &a.map,
        trust.as_ref(),
    ));
    let open = map.blockers.iter().filter(|b| b.is_open()).count();
    let name = a.map.display();
    if a.json {
        let out = ValidateJson {
            map: name.to_string(),
            valid: violations.is_empty(),
            blockers: map.blockers.len(),
            open,
            violations: &violations,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for v in &violations {
            println!("{name}: {}: {}", v.at, v.problem);
        }
        if violations.is_empty() {
            println!(
                "{name}: OK ({} blockers, {open} open, {} engineering remaining)",
                map.blockers.len(),
                map.engineering_blockers_remaining
            );
        } else {
            println!("{name}: INVALID ({} violation(s))", violations.len());
        }
    }
    Ok(if violations.is_empty() {
        Status::Success
    } else {
        Status::Failed
    })
}

/// One blocker in `blockers show --json`.
#[derive(Serialize)]
struct BlockerJson<'a> {
    blocker_id: &'a str,
    /// open (closed_this_lane false) or closed.
    open: bool,
    category: &'a str,
    /// The declared terminal class the category belongs to, if any.
    terminal_category: Option<&'static str>,
    /// Whether passing evidence can ever close this blocker.
    closable_by_evidence: bool,
    can_close_now: bool,
    closed_this_lane: bool,
    blocks: &'a [String],
    remaining_actor_input: &'a str,
    next_action: &'a str,
    evidence: &'a [Evidence],
}

/// `blockers show --json` output.
#[derive(Serialize)]
struct ShowJson<'a> {
    map: String,
    valid: bool,
    open_count: u64,
    engineering_blockers_remaining: u64,
    default: Option<&'a str>,
    blockers: Vec<BlockerJson<'a>>,
}

fn run_show(a: ShowArgs) -> anyhow::Result<Status> {
    let map = load(&a.map)?;
    let violations = validate(&map);
    let default = map.get("default").and_then(|v| v.as_str());
    if a.json {
        let blockers = map
            .blockers
            .iter()
            .map(|b| {
                let c = closure(&b.category);
                BlockerJson {
                    blocker_id: &b.id,
                    open: b.is_open(),
                    category: &b.category,
                    terminal_category: match c {
                        Closure::Terminal(t) => Some(t.words()),
                        _ => None,
                    },
                    closable_by_evidence: c == Closure::Engineering,
                    can_close_now: b.can_close_now,
                    closed_this_lane: b.closed_this_lane,
                    blocks: &b.blocks,
                    remaining_actor_input: &b.remaining_actor_input,
                    next_action: &b.next_action,
                    evidence: &b.evidence,
                }
            })
            .collect();
        let out = ShowJson {
            map: a.map.display().to_string(),
            valid: violations.is_empty(),
            open_count: map.open_count,
            engineering_blockers_remaining: map.engineering_blockers_remaining,
            default,
            blockers,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "{}: {} open of {} blockers, {} engineering remaining{}",
            a.map.display(),
            map.open_count,
            map.blockers.len(),
            map.engineering_blockers_remaining,
            default
                .map(|d| format!(", default {d}"))
                .unwrap_or_default()
        );
        use std::io::IsTerminal;
        let clip = !a.wide && std::io::stdout().is_terminal();
        print!("{}", table(&map.blockers, clip));
    }
    if !violations.is_empty() {
        eprintln!(
            "rollproof: warning: {} breaks {} invariant(s); run `rollproof blockers validate {}`",
            a.map.display(),
            violations.len(),
            a.map.display()
        );
    }
    Ok(Status::Success)
}

/// Column caps (characters) that keep a row on one wide terminal line.
const CAPS: [usize; 7] = [32, 10, 50, 24, 26, 40, 48];
const HEADERS: [&str; 7] = [
    "ID",
    "STATE",
    "CATEGORY",
    "BLOCKS",
    "WHO MUST ACT",
    "NEXT ACTION",
    "EVIDENCE",
];

fn clip(s: &str, cap: usize) -> String {
    if s.chars().count() <= cap {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(cap.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

fn state(b: &Blocker) -> &'static str {
    match (b.closed_this_lane, b.can_close_now) {
        (true, _) => "closed",
        (false, true) => "closable",
        (false, false) => "open",
    }
}

/// "none", or how many reports and the latest one's verdict, proof and leg
/// (dates are in `--json`).
fn evidence_summary(ev: &[Evidence]) -> String {
    match ev.last() {
        None => "none".to_string(),
        Some(e) => format!("{}: {} {} {}", ev.len(), e.verdict, e.proof, e.leg),
    }
}

/// The table `blockers show` prints: fixed columns; with `clip` (on a
/// terminal) long texts are cut with `…` (the JSON form has them whole).
pub fn table(blockers: &[Blocker], clip_cells: bool) -> String {
    let rows: Vec<[String; 7]> = blockers
        .iter()
        .map(|b| {
            let cells = [
                b.id.clone(),
                state(b).to_string(),
                b.category.clone(),
                b.blocks.join(", "),
                b.remaining_actor_input.clone(),
                b.next_action.clone(),
                evidence_summary(&b.evidence),
            ];
            let mut out: [String; 7] = Default::default();
            for (i, c) in cells.iter().enumerate() {
                out[i] = if clip_cells {
                    clip(c, CAPS[i])
                } else {
                    c.clone()
                };
            }
            out
        })
        .collect();
    let mut widths = HEADERS.map(|h| h.chars().count());
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let header = HEADERS.map(str::to_string);
    for r in std::iter::once(&header).chain(rows.iter()) {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            line.push_str(c);
            if i + 1 < r.len() {
                let pad = widths[i] - c.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_counts_characters_not_bytes() {
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("abcdé", 4), "abc…");
        assert_eq!(clip("ééééé", 5), "ééééé");
    }
}
