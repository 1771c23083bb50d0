//! `rollproof fidelity`: score how closely a database matches a profile.

use crate::exit::Status;
use crate::profile::Profile;
use crate::profile::fidelity::FidelityReport;
use std::path::PathBuf;

/// Compare a database with a profile: per table (rows), per profiled
/// column (type, null fraction, distinct ratio, length, numeric and date
/// range overlap, category mix), per foreign key (children per parent) and
/// per unique key (uniqueness), each scored 0..1, and one overall score
/// 0..100 (formula: docs/FIDELITY.md). A database with none of the
/// profile's tables, or a profile with no tables, is an error (exit 2):
/// there is nothing to compare.
///
/// A measurement: exits 0 whatever the score, unless --min-score is given
/// and the score is below it (exit 1).
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The SQLite database to score (opened read-only).
    #[arg(value_name = "DB")]
    pub db: PathBuf,
    /// Profile (TOML) to compare against.
    #[arg(long, value_name = "PROFILE")]
    pub profile: PathBuf,
    /// Compare with the profile's row counts scaled like `generate
    /// --scale`: every table of a format-2 profile; the growing tables
    /// (users, objects, births, revisions, activity) of a format-1 one.
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Exit 1 when the overall score is below this (0..100).
    #[arg(long, value_name = "N")]
    pub min_score: Option<f64>,
    /// Print the full comparison as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Shown by `--help`; run verbatim by tests/cli/examples.rs.
const EXAMPLES: &str = "\
A measurement: exit 0 whatever the score, unless --min-score is given and
the score is below it (exit 1). Formula: docs/FIDELITY.md.

Examples:
  rollproof fidelity surrogates/fixtures/tiny-seed7.db --profile surrogates/profiles/tiny.toml
  rollproof fidelity surrogates/fixtures/tiny-seed7.db \\
      --profile surrogates/profiles/tiny.toml --min-score 90 --json";

pub fn run(args: Args) -> anyhow::Result<Status> {
    if let Some(m) = args.min_score
        && !(0.0..=100.0).contains(&m)
    {
        anyhow::bail!("--min-score {m} must be between 0 and 100");
    }
    if !args.scale.is_finite() || args.scale <= 0.0 {
        anyhow::bail!("--scale {} must be a positive number", args.scale);
    }
    let mut profile = Profile::load(&args.profile)?;
    if args.scale != 1.0 {
        // The same rounding as `generate`, so a scaled surrogate matches.
        let all = profile.schema.is_some();
        for (name, t) in profile.tables.iter_mut() {
            if all || crate::generate::SCALED_TABLES.contains(&name.as_str()) {
                t.rows = (t.rows as f64 * args.scale).round() as u64;
            }
        }
    }
    // Every scoring error names the database already.
    let report = crate::profile::fidelity::score(&args.db, &profile)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&report);
    }
    match args.min_score {
        Some(m) if report.score < m => {
            eprintln!(
                "rollproof: fidelity {:.2} is below --min-score {m}",
                report.score
            );
            Ok(Status::Failed)
        }
        _ => Ok(Status::Success),
    }
}

fn print_text(r: &FidelityReport) {
    for t in &r.tables {
        let actual = t
            .actual_rows
            .map_or_else(|| "missing".to_string(), |n| n.to_string());
        println!(
            "{:<24} rows {:>9} / {:<9} rows {:.3}  table {:.3}",
            t.table, actual, t.expected_rows, t.rows_score, t.score
        );
        for k in &t.keys {
            let bad = below_full(&k.items);
            if !bad.is_empty() {
                println!(
                    "  {} ({}) {:.3}  {}",
                    k.kind,
                    k.columns.join(", "),
                    k.score,
                    bad.join("; ")
                );
            }
        }
        for c in &t.columns {
            let items = below_full(&c.items);
            let detail = if items.is_empty() {
                String::new()
            } else {
                format!("  {}", items.join("; "))
            };
            let present = if c.present { "" } else { " (missing)" };
            println!("  {:<22}{present} {:.3}{detail}", c.column, c.score);
        }
    }
    for t in &r.unprofiled_tables {
        println!("{t:<24} not in the profile (not scored)");
    }
    println!(
        "fidelity {:.2} / 100 against profile '{}'",
        r.score, r.profile
    );
}

/// The items that did not score 1, one "check score (want, have)" each: the
/// lines a reader acts on, shared by the key and the column rows.
fn below_full(items: &[crate::profile::fidelity::Item]) -> Vec<String> {
    items
        .iter()
        .filter(|i| i.score < 1.0)
        .map(|i| {
            format!(
                "{} {:.3} (want {}, have {})",
                i.check, i.score, i.expected, i.actual
            )
        })
        .collect()
}
