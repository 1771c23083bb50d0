//! Human renderings of a proof report: Markdown (written beside every report
//! JSON and printed by `rollproof report show --markdown`) and plain text for
//! the terminal (`rollproof report show`). Verdict first, then the phase
//! table, then failed checks with what differs, then how to re-check it all
//! by hand. Written for an auditor who has never seen rollproof.

use crate::evidence::report::{
    Check, Diff, ObjectDiff, Outcome, Phase, Proof, Report, SettingDiff, Verdict,
};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The measured phases in order, with their display names.
fn phases(r: &Report) -> Vec<(&'static str, &Phase)> {
    crate::proof::rules::phases(r)
}

fn rows(p: &Phase) -> u64 {
    p.logical.tables.values().map(|t| t.rows).sum()
}

fn opt(s: Option<&str>) -> &str {
    s.unwrap_or("-")
}

/// One sentence saying what the verdict means.
pub fn verdict_sentence(r: &Report) -> String {
    let expected = if r.as_expected {
        format!("as the scenario expected ({})", r.expected_verdict)
    } else {
        format!("NOT as the scenario expected ({})", r.expected_verdict)
    };
    let api_delete = r.rollback.compensation.as_deref() == Some(crate::proof::verdict::API_DELETE);
    let what = match (r.verdict, r.proof) {
        (Verdict::Pass, _) if api_delete => {
            "the births were undone as Directus API deletes would undo them: every table is as before except the history they keep (a delete activity per birth beside its create activity and revision); the before state is not restored, by design"
        }
        (Verdict::Pass, Proof::ByteExact) => {
            "rollback restored the database byte for byte: the file SHA-256 after rollback equals the one before"
        }
        (Verdict::Pass, Proof::LogicalOnly) => {
            "rollback restored the database's content (equal canonical logical hash); this method cannot restore the exact bytes, so no byte-exact claim is made"
        }
        (Verdict::Fail, _) => "the rollback was not proven: see the failed checks below",
    };
    let base = format!("{} ({}): {what}; {expected}.", r.verdict, r.proof);
    match &r.dry_run {
        Some(why) => format!("{base} DRY RUN, not evidence: {why}."),
        None => base,
    }
}

fn failed(r: &Report) -> Vec<&Check> {
    r.checks
        .iter()
        .filter(|c| c.outcome == Outcome::Fail)
        .collect()
}

/// Markdown rendering of a report.
pub fn markdown(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Rollback proof `{}`: **{}** ({})\n",
        r.scenario.name, r.verdict, r.proof
    );
    let _ = writeln!(s, "**Verdict:** {}\n", verdict_sentence(r));
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| Blocker | `{}` (evidence leg: {}) |", r.blocker, r.leg);
    let _ = writeln!(
        s,
        "| Scenario | `{}` — {} (SHA-256 `{}`) |",
        r.scenario.path, r.scenario.description, r.scenario.sha256
    );
    let _ = writeln!(s, "| Surrogate | {} |", surrogate_line(r));
    let _ = writeln!(
        s,
        "| Methods | apply `{}`, snapshot `{}`, rollback `{}` on {} |",
        r.methods.apply, r.methods.snapshot, r.methods.rollback, r.backend
    );
    let _ = writeln!(
        s,
        "| Run | `{}` started {}; rollproof {}, SQLite {} |",
        r.run_id, r.started_at, r.rollproof_version, r.sqlite_version
    );
    let _ = writeln!(s, "| Seal | `{}` |\n", r.seal);
    let _ = writeln!(s, "## Phases\n");
    let _ = writeln!(
        s,
        "| phase | file SHA-256 | logical hash | `.sha3sum` | rows | integrity | time |\n|---|---|---|---|---:|---|---:|"
    );
    for (name, p) in phases(r) {
        let _ = writeln!(
            s,
            "| {name} | `{}` | `{}` | `{}` | {} | {} | {} ms |",
            opt(p.file_sha256.as_deref()),
            p.logical.sha256,
            opt(p.sha3.as_deref()),
            rows(p),
            p.integrity_check,
            p.ms
        );
    }
    let notes: Vec<String> = phases(r)
        .into_iter()
        .filter_map(|(n, p)| p.note.as_ref().map(|note| format!("- {n}: {note}")))
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(s, "\n{}", notes.join("\n"));
    }
    if let Some(f) = free_space_note(r) {
        let _ = writeln!(s, "\n## Free space\n\n{f}");
    }
    let bad = failed(r);
    let _ = writeln!(s, "\n## Failed checks\n");
    if bad.is_empty() {
        let _ = writeln!(s, "None: all {} checks passed.", r.checks.len());
    }
    for c in &bad {
        let _ = writeln!(s, "- **{}**: {}", c.name, c.detail);
    }
    if let Some(d) = &r.diff {
        diff_markdown(&mut s, d);
    }
    if !r.faults.is_empty() {
        let _ = writeln!(s, "\n## Injected faults\n");
        for f in &r.faults {
            let _ = writeln!(s, "- `{}` (injected: {}): {}", f.kind, f.injected, f.detail);
        }
    }
    let _ = writeln!(
        s,
        "\n## All checks\n\n| check | outcome | detail |\n|---|---|---|"
    );
    for c in &r.checks {
        let outcome = if c.outcome == Outcome::Pass {
            "pass"
        } else {
            "**FAIL**"
        };
        let _ = writeln!(
            s,
            "| {} | {outcome} | {} |",
            c.name,
            c.detail.replace('|', "\\|")
        );
    }
    let _ = writeln!(s, "\n## Re-check it yourself\n\n{}", recheck_help(r));
    s
}

/// What the file's unused space holds after the rollback, compared with
/// before (SQLite files only): deleted rows stay readable in free space
/// unless `secure_delete` is on, which matters on a real dump.
pub fn free_space_note(r: &Report) -> Option<String> {
    let before = r.phases.before.free_space?;
    let after = r.phases.after_rollback.as_ref()?.free_space?;
    let counts = |f: crate::engine::sqlite::freespace::FreeSpace| {
        format!(
            "{} non-zero bytes on {} pages, {} freelist pages",
            f.residue_bytes, f.residue_pages, f.freelist_pages
        )
    };
    let verdict = if after.residue_bytes > before.residue_bytes {
        "more than before: bytes of rows the change wrote and the rollback deleted may still be \
         readable to anyone who reads the file (SQLite does not overwrite freed space unless \
         `secure_delete` is on; `VACUUM` rewrites the file without them). On a surrogate that is \
         fake data; on a real dump it is not"
    } else {
        "no more than before"
    };
    Some(format!(
        "Unused space after rollback: {}; before: {}. That is {verdict}. \
         (Reported only, not part of the verdict.)",
        counts(after),
        counts(before)
    ))
}

fn surrogate_line(r: &Report) -> String {
    let g = &r.surrogate;
    let mut parts = Vec::new();
    if let Some(p) = &g.profile {
        parts.push(format!(
            "profile `{p}` (SHA-256 `{}`)",
            opt(g.profile_sha256.as_deref())
        ));
    }
    if let Some(seed) = g.seed {
        parts.push(format!("seed {seed}"));
    }
    if let Some(f) = &g.file {
        parts.push(format!("file `{f}`"));
    }
    parts.push(format!("SHA-256 `{}`, {} bytes", g.sha256, g.size));
    if let Some(fid) = g.fidelity {
        parts.push(format!("fidelity {fid:.2}/100"));
    }
    parts.join(", ")
}

/// One line for a differing object: what it is, what happened, and its
/// definition on each side (on one line).
pub fn object_line(o: &ObjectDiff) -> String {
    let one = |t: &Option<String>| {
        t.as_deref()
            .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    match o.change.as_str() {
        "added" => format!("{} {} added: {}", o.kind, o.name, one(&o.after)),
        "removed" => format!("{} {} removed (was: {})", o.kind, o.name, one(&o.before)),
        _ => format!(
            "{} {} changed: {} → {}",
            o.kind,
            o.name,
            one(&o.before),
            one(&o.after)
        ),
    }
}

/// One line for a differing setting.
pub fn setting_line(x: &SettingDiff) -> String {
    format!(
        "setting {}: {} → {}",
        x.name,
        x.before.as_deref().unwrap_or("(none)"),
        x.after.as_deref().unwrap_or("(none)")
    )
}

/// The diff as plain lines (terminal), without row details.
pub fn diff_summary_lines(d: &Diff) -> Vec<String> {
    let mut out: Vec<String> = d.settings.iter().map(setting_line).collect();
    out.extend(d.objects.iter().map(object_line));
    if d.more_objects > 0 {
        out.push(format!("… {} more objects differ", d.more_objects));
    }
    if d.schema_differs && d.objects.is_empty() {
        out.push("schema differs".into());
    }
    out
}

/// The SQL (or definition) of an object on one side, as a fenced block.
fn fenced(s: &mut String, label: &str, text: &Option<String>) {
    if let Some(t) = text {
        let _ = writeln!(
            s,
            "  {label}:\n\n  ```sql\n  {}\n  ```",
            t.replace('\n', "\n  ")
        );
    }
}

fn diff_markdown(s: &mut String, d: &Diff) {
    let _ = writeln!(s, "\n## What differs ({} → {})\n", d.from, d.to);
    for x in &d.settings {
        let _ = writeln!(
            s,
            "- setting `{}`: `{}` → `{}`",
            x.name,
            x.before.as_deref().unwrap_or("(none)"),
            x.after.as_deref().unwrap_or("(none)")
        );
    }
    for o in &d.objects {
        let _ = writeln!(s, "- {} `{}` {}", o.kind, o.name, o.change);
        if o.change != "added" {
            fenced(s, "before", &o.before);
        }
        if o.change != "removed" {
            fenced(s, "after rollback", &o.after);
        }
    }
    if d.more_objects > 0 {
        let _ = writeln!(
            s,
            "- … {} more objects differ (see the JSON report)",
            d.more_objects
        );
    }
    if d.schema_differs && d.objects.is_empty() {
        let _ = writeln!(s, "- the schema differs");
    }
    if let Some(e) = &d.error {
        let _ = writeln!(s, "- no row-level diff: {e}");
    }
    for t in &d.tables {
        let _ = writeln!(
            s,
            "- table `{}`: {} rows before, {} after, {} rows differ",
            t.table, t.before_rows, t.after_rows, t.differing_rows
        );
        for row in &t.rows {
            let _ = writeln!(s, "  - {} `{}`: `{}`", row.change, row.key, row.sql);
        }
    }
}

/// The commands that re-check the report's digests without rollproof.
pub fn recheck_help(r: &Report) -> String {
    let dir = r.artifacts.as_deref().unwrap_or("ARTIFACTS");
    format!(
        "With the kept artifacts in `{dir}` (`rollproof rehearse --keep`):\n\n\
         ```sh\n\
         sha256sum {dir}/*.db                      # = the file SHA-256 column\n\
         sqlite3 -readonly {dir}/before.db \"{}\"   # = the .sha3sum column\n\
         python3 tools/logical_hash.py {dir}/*.db  # = the logical hash column\n\
         rollproof verify REPORT.json --artifacts {dir}\n\
         ```\n\n\
         The seal is the SHA-256 of the report's canonical JSON (keys sorted, no whitespace) without the `seal` key; see docs/REPORT.md.",
        crate::engine::sqlite::sha3sum::DOT_COMMAND
    )
}

/// Plain-text rendering for the terminal.
pub fn text(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}", verdict_sentence(r));
    let _ = writeln!(s);
    let _ = writeln!(s, "scenario   {} ({})", r.scenario.name, r.scenario.path);
    let _ = writeln!(s, "blocker    {} (leg: {})", r.blocker, r.leg);
    let _ = writeln!(s, "surrogate  {}", surrogate_line(r).replace('`', ""));
    let _ = writeln!(
        s,
        "methods    apply {}, snapshot {}, rollback {} on {}",
        r.methods.apply, r.methods.snapshot, r.methods.rollback, r.backend
    );
    let _ = writeln!(
        s,
        "run        {} at {}, rollproof {}, SQLite {}",
        r.run_id, r.started_at, r.rollproof_version, r.sqlite_version
    );
    let _ = writeln!(s, "seal       {}", r.seal);
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<15} {:<64}  {:<64}  {:>8}  {:>8}",
        "phase", "file SHA-256", "logical hash", "rows", "ms"
    );
    for (name, p) in phases(r) {
        let _ = writeln!(
            s,
            "{name:<15} {:<64}  {:<64}  {:>8}  {:>8}",
            opt(p.file_sha256.as_deref()),
            p.logical.sha256,
            rows(p),
            p.ms
        );
        if let Some(sha3) = &p.sha3 {
            let _ = writeln!(s, "{:<15} .sha3sum {sha3}", "");
        }
    }
    if let Some(f) = free_space_note(r) {
        let _ = writeln!(s, "\nfree space: {}", f.replace('`', ""));
    }
    let bad = failed(r);
    let _ = writeln!(s);
    if bad.is_empty() {
        let _ = writeln!(s, "all {} checks passed", r.checks.len());
    } else {
        let _ = writeln!(s, "failed checks:");
        for c in bad {
            let _ = writeln!(s, "  {}: {}", c.name, c.detail);
        }
    }
    if let Some(d) = &r.diff {
        let mut md = String::new();
        diff_markdown(&mut md, d);
        let _ = write!(s, "{}", md.replace('`', "").replace("## ", ""));
    }
    s
}

/// The Markdown file that sits beside a report JSON: same stem, `.md`.
pub fn markdown_path(json: &Path) -> PathBuf {
    json.with_extension("md")
}

/// Write the Markdown rendering beside the report JSON (atomically).
pub fn write_markdown_beside(
    json: &Path,
    r: &Report,
) -> Result<PathBuf, crate::util::fsutil::WriteError> {
    let path = markdown_path(json);
    crate::util::fsutil::write_atomic(&path, markdown(r).as_bytes(), true)?;
    Ok(path)
}
