//! A migrations report for a human: the per-step table `rollproof
//! migrations` prints at the end of a run, and the whole rendering `rollproof
//! report show` gives a sealed report (text, or Markdown).

use super::report::{MigrationsReport, StepReport, StepStatus};
use std::fmt::Write;

/// The one-line verdict of a folder run.
pub fn verdict_sentence(r: &MigrationsReport) -> String {
    let rehearsed = r.steps.iter().filter(|s| s.rehearsed).count();
    format!(
        "{}: migrations folder {} ({} layout, {}): {} migrations, {rehearsed} rehearsed",
        r.verdict,
        r.folder.path,
        r.folder.layout,
        r.backend,
        r.steps.len()
    )
}

/// The report as text: what ran, on which data, and every step's verdict.
pub fn text(r: &MigrationsReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}", verdict_sentence(r));
    let _ = writeln!(s);
    let blocker = if r.blocker.is_empty() {
        "(none named)"
    } else {
        &r.blocker
    };
    let _ = writeln!(s, "blocker    {blocker} (leg: {})", r.leg);
    let _ = writeln!(
        s,
        "folder     {} (manifest SHA-256 {})",
        r.folder.path, r.folder.manifest_sha256
    );
    let _ = writeln!(s, "data       {}", r.data);
    let _ = writeln!(
        s,
        "runner     transactions {}, foreign keys {}, bookkeeping {}",
        r.runner.transactions, r.runner.foreign_keys, r.runner.bookkeeping
    );
    let _ = writeln!(
        s,
        "run        {} at {}, rollproof {}, SQLite {}",
        r.run_id, r.started_at, r.rollproof_version, r.sqlite_version
    );
    let _ = writeln!(s, "seal       {}", r.seal);
    let _ = writeln!(s);
    s.push_str(&table(r));
    s
}

/// The report as Markdown: the same facts, the steps as a table.
pub fn markdown(r: &MigrationsReport) -> String {
    let cell = |t: &str| t.replace('|', "\\|").replace('\n', " ");
    let mut s = String::new();
    let _ = writeln!(s, "# Migrations rehearsal: {}\n", cell(&r.folder.path));
    let _ = writeln!(s, "**{}**\n", cell(&verdict_sentence(r)));
    let _ = writeln!(s, "- data: {}", cell(&r.data));
    let _ = writeln!(
        s,
        "- folder manifest SHA-256: `{}`",
        r.folder.manifest_sha256
    );
    let _ = writeln!(
        s,
        "- run `{}` at {}, seal `{}`\n",
        r.run_id, r.started_at, r.seal
    );
    let _ = writeln!(s, "| # | migration | status | verdict |");
    let _ = writeln!(s, "|---|---|---|---|");
    for st in &r.steps {
        let words: Vec<String> = st.findings.iter().map(|f| cell(f)).collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            st.index,
            cell(&label(st)),
            status_word(st.status),
            words.join("<br>")
        );
    }
    s
}

/// A step's status as the table shows it.
pub fn status_word(s: StepStatus) -> &'static str {
    match s {
        StepStatus::Pass => "PASS",
        StepStatus::Fail => "FAIL",
        StepStatus::Irreversible => "IRREVERSIBLE",
        StepStatus::Setup => "setup",
        StepStatus::NotRun => "not run",
    }
}

/// A step's name as shown: version and name.
pub fn label(s: &StepReport) -> String {
    if s.name.is_empty() {
        s.version.clone()
    } else {
        format!("{} {}", s.version, s.name)
    }
}

/// The per-step table with the summary line.
pub fn table(r: &MigrationsReport) -> String {
    let mut out = String::new();
    let width = r
        .steps
        .iter()
        .map(|s| label(s).chars().count())
        .max()
        .unwrap_or(9)
        .clamp(9, 48);
    let _ = writeln!(
        out,
        "{:>3}  {:<width$}  {:<12}  verdict",
        "#", "migration", "status"
    );
    for s in &r.steps {
        let status = status_word(s.status);
        let mut l = label(s);
        if l.chars().count() > width {
            l = l.chars().take(width - 1).collect::<String>() + "…";
        }
        let mut findings = s.findings.iter();
        let _ = writeln!(
            out,
            "{:>3}  {:<width$}  {:<12}  {}",
            s.index,
            l,
            status,
            findings.next().map_or("", String::as_str)
        );
        for f in findings {
            let _ = writeln!(out, "{:>3}  {:<width$}  {:<12}  {f}", "", "", "");
        }
    }
    let m = &r.summary;
    let _ = writeln!(
        out,
        "{}: {} pass, {} fail, {} irreversible{}{}",
        r.verdict,
        m.pass,
        m.fail,
        m.irreversible,
        if m.setup > 0 {
            format!(", {} setup", m.setup)
        } else {
            String::new()
        },
        if m.not_run > 0 {
            format!(", {} not run", m.not_run)
        } else {
            String::new()
        }
    );
    out
}
