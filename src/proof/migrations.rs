//! The rules of a migrations step, pure: from what a step recorded (its
//! errors, digests before / after up / after down / after redo, the
//! objects and rows that differ) to its checks, its status and its verdict
//! in words. The rehearsal computes a step's verdict with [`judge`];
//! `rollproof verify` calls the same function on the recorded data and
//! rejects a report whose stored verdict differs.
//!
//! A step passes only when the down restored the before state exactly —
//! the logical digest (schema, every table's rows, the settings it covers)
//! equal — and the redo (up again) gave the first up's schema. Data the up
//! added and the down removed is therefore no finding; data that existed
//! before the up and is gone or changed after the down is a loss.

use crate::evidence::report::{Check, Outcome, TableDiff};
use crate::migrations::engine::ScriptError;
use crate::migrations::report::{ObjectChange, PhaseDelta, StepReport, StepStatus};

/// A step's checks, status and findings.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// Named checks.
    pub checks: Vec<Check>,
    /// The status they give.
    pub status: StepStatus,
    /// The verdict in words.
    pub findings: Vec<String>,
}

fn check(name: &str, ok: bool, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        outcome: if ok { Outcome::Pass } else { Outcome::Fail },
        detail: detail.into(),
    }
}

/// The words for a failed script.
pub fn error_words(what: &str, e: &ScriptError) -> String {
    if e.line == 0 {
        format!("{what} fails: {}", e.message)
    } else {
        format!("{what} errors at line {}: {}", e.line, e.message)
    }
}

/// `1 row`, `2 rows`.
fn rows(n: u64) -> String {
    if n == 1 {
        "1 row".into()
    } else {
        format!("{n} rows")
    }
}

fn short(h: &str) -> &str {
    h.get(..12).unwrap_or(h)
}

/// Judge one step from its record.
pub fn judge(s: &StepReport) -> Judgement {
    let mut checks = Vec::new();
    let up_err = s.errors.get("up");
    if s.not_run_because.is_some() {
        return Judgement {
            checks,
            status: StepStatus::NotRun,
            findings: vec![format!(
                "not run: {}",
                s.not_run_because.as_deref().unwrap_or("")
            )],
        };
    }
    checks.push(check(
        "up_runs",
        up_err.is_none(),
        up_err.map_or("the up ran without error".to_string(), |e| {
            error_words("up", e)
        }),
    ));
    if let Some(e) = up_err {
        return Judgement {
            checks,
            status: StepStatus::Fail,
            findings: vec![error_words("up", e)],
        };
    }
    if !s.rehearsed {
        return Judgement {
            checks,
            status: StepStatus::Setup,
            findings: vec!["applied as setup, not rehearsed".into()],
        };
    }
    if let Some(why) = &s.irreversible {
        return Judgement {
            checks,
            status: StepStatus::Irreversible,
            findings: vec![format!("irreversible ({why})")],
        };
    }
    let down_err = s.errors.get("down");
    checks.push(check(
        "down_runs",
        down_err.is_none(),
        down_err.map_or("the down ran without error".to_string(), |e| {
            error_words("down", e)
        }),
    ));
    if let Some(e) = down_err {
        return Judgement {
            checks,
            status: StepStatus::Fail,
            findings: vec![error_words("down", e)],
        };
    }
    let (Some(before), Some(up), Some(down)) = (&s.before, &s.after_up, &s.after_down) else {
        checks.push(check(
            "down_restores_state",
            false,
            "the before, after-up or after-down state was not recorded",
        ));
        return Judgement {
            checks,
            status: StepStatus::Fail,
            findings: vec!["the step's states were not recorded".into()],
        };
    };
    checks.push(check(
        "down_restores_schema",
        down.schema_sha256 == before.schema_sha256,
        format!(
            "schema {} after down vs {} before",
            short(&down.schema_sha256),
            short(&before.schema_sha256)
        ),
    ));
    checks.push(check(
        "down_restores_rows",
        down.tables.is_empty(),
        if down.tables.is_empty() {
            "every table's rows equal the before state".to_string()
        } else {
            format!(
                "{} table(s) differ: {}",
                down.tables.len(),
                down.tables.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        },
    ));
    checks.push(check(
        "down_restores_settings",
        down.settings == before.settings,
        format!(
            "{:?} after down vs {:?} before",
            down.settings, before.settings
        ),
    ));
    checks.push(check(
        "down_restores_state",
        down.sha256 == before.sha256,
        format!(
            "logical {} after down vs {} before",
            short(&down.sha256),
            short(&before.sha256)
        ),
    ));
    let mut findings = down_findings(s, before, up, down);
    let redo_err = s.errors.get("redo");
    checks.push(check(
        "redo_runs",
        redo_err.is_none(),
        redo_err.map_or("up ran again without error".to_string(), |e| {
            error_words("redo (up again)", e)
        }),
    ));
    match (redo_err, &s.after_redo) {
        (Some(e), _) => findings.push(error_words("redo (up again)", e)),
        (None, Some(r)) => {
            let same = r.schema_sha256 == up.schema_sha256;
            checks.push(check(
                "redo_matches_up",
                same,
                format!(
                    "schema {} after redo vs {} after the first up",
                    short(&r.schema_sha256),
                    short(&up.schema_sha256)
                ),
            ));
            if !same {
                let what: Vec<String> = r.schema.iter().take(5).map(object_words).collect();
                findings.push(format!(
                    "redo gives another schema than the first up: {}",
                    if what.is_empty() {
                        "the schema digest differs".to_string()
                    } else {
                        what.join("; ")
                    }
                ));
            }
        }
        (None, None) => checks.push(check("redo_matches_up", false, "the redo was not recorded")),
    }
    let ok = checks.iter().all(|c| c.outcome == Outcome::Pass);
    if ok {
        findings =
            vec!["down restores schema, rows and settings; redo gives the same schema".into()];
    } else if findings.is_empty() {
        findings.push(format!(
            "down leaves another logical state (digest {} vs {} before)",
            short(&down.sha256),
            short(&before.sha256)
        ));
    }
    Judgement {
        checks,
        status: if ok {
            StepStatus::Pass
        } else {
            StepStatus::Fail
        },
        findings,
    }
}

/// What the up did to an object: its definition after the up (outer None:
/// the up did not change it).
fn after_up<'a>(up: &'a PhaseDelta, kind: &str, name: &str) -> Option<Option<&'a String>> {
    up.schema
        .iter()
        .find(|c| c.kind == kind && c.name == name)
        .map(|c| c.after.as_ref())
}

/// `#3 INTEGER NOT NULL` → (3, "INTEGER NOT NULL").
fn column_def(def: &str) -> (Option<&str>, &str) {
    match def.strip_prefix('#').and_then(|d| d.split_once(' ')) {
        Some((pos, rest)) => (Some(pos), rest),
        None => (None, def),
    }
}

fn object_words(c: &ObjectChange) -> String {
    match (&c.before, &c.after) {
        (Some(_), None) => format!("{} `{}` missing", c.kind, c.name),
        (None, Some(_)) => format!("{} `{}` extra", c.kind, c.name),
        _ => format!("{} `{}` differs", c.kind, c.name),
    }
}

fn column_change_words(name: &str, before: &str, after: &str) -> String {
    let ((bp, bt), (ap, at)) = (column_def(before), column_def(after));
    let mut parts = Vec::new();
    if bt != at {
        parts.push(format!("as {at} (was {bt})"));
    }
    if bp != ap {
        parts.push(format!(
            "at position {} (was {})",
            ap.unwrap_or("?"),
            bp.unwrap_or("?")
        ));
    }
    format!("down leaves column `{name}` {}", parts.join(" and "))
}

/// The findings of a down that did not restore the before state.
fn down_findings(
    s: &StepReport,
    before: &crate::migrations::report::PhaseSummary,
    up: &PhaseDelta,
    down: &PhaseDelta,
) -> Vec<String> {
    let mut out = Vec::new();
    let tables_with_columns: std::collections::BTreeSet<&str> = down
        .schema
        .iter()
        .filter(|c| c.kind == "column")
        .filter_map(|c| c.name.rsplit_once('.').map(|(t, _)| t))
        .collect();
    for c in &down.schema {
        let by_up = after_up(up, &c.kind, &c.name);
        match (&c.before, &c.after) {
            (Some(_), None) if by_up == Some(None) => out.push(format!(
                "{} `{}` dropped by up is not restored",
                c.kind, c.name
            )),
            (Some(_), None) => out.push(format!("down drops {} `{}`", c.kind, c.name)),
            (None, Some(_)) => out.push(format!("down leaves {} `{}`", c.kind, c.name)),
            (Some(b), Some(a)) if c.kind == "column" => {
                out.push(column_change_words(&c.name, b, a))
            }
            (Some(_), Some(_)) if tables_with_columns.contains(c.name.as_str()) => {} // said per column
            (Some(_), Some(_)) => out.push(format!(
                "down leaves {} `{}` defined differently",
                c.kind, c.name
            )),
            (None, None) => {}
        }
    }
    for (k, v) in &down.settings {
        if before.settings.get(k) != Some(v) {
            out.push(format!(
                "down leaves {k} {v} (was {})",
                before.settings.get(k).map_or("unset", String::as_str)
            ));
        }
    }
    let diffed: std::collections::BTreeSet<&str> =
        s.row_diffs.iter().map(|t| t.table.as_str()).collect();
    for td in &s.row_diffs {
        out.extend(row_words(td, up));
    }
    for (t, ch) in &down.tables {
        if diffed.contains(t.as_str()) || ch.before.is_none() || ch.after.is_none() {
            continue; // named above, or a whole table added/removed (a schema finding)
        }
        let (b, a) = (
            ch.before.as_ref().map_or(0, |x| x.rows),
            ch.after.as_ref().map_or(0, |x| x.rows),
        );
        // No row diff (the table's columns changed, so rows cannot be
        // matched): name the columns the up dropped, when it dropped some.
        let prefix = format!("{t}.");
        let dropped: Vec<String> = up
            .schema
            .iter()
            .filter(|c| c.kind == "column" && c.before.is_some() && c.after.is_none())
            .filter_map(|c| c.name.strip_prefix(&prefix).map(|n| format!("`{n}`")))
            .collect();
        if dropped.is_empty() {
            out.push(format!(
                "down leaves table `{t}` with other content ({}, was {b})",
                rows(a)
            ));
        } else {
            out.push(format!(
                "down loses data in `{t}` (column {} dropped by up, not restored; {}, was {b})",
                dropped.join(", "),
                rows(a)
            ));
        }
    }
    for (t, ch) in &down.tables {
        if let (Some(b), None) = (&ch.before, &ch.after)
            && b.rows > 0
            && !diffed.contains(t.as_str())
        {
            out.push(format!(
                "down loses {} of `{t}` (the table is gone)",
                rows(b.rows)
            ));
        }
    }
    out
}

/// The sequence segments: SQLite's `sqlite_sequence`, and PostgreSQL's
/// sequence state hashed in the same form and under the same name.
const SEQUENCE_TABLE: &str = "sqlite_sequence";

fn row_words(td: &TableDiff, up: &PhaseDelta) -> Vec<String> {
    let t = &td.table;
    if t == SEQUENCE_TABLE {
        return td
            .rows
            .iter()
            .map(|r| {
                let v = |m: &Option<std::collections::BTreeMap<String, String>>| {
                    m.as_ref()
                        .and_then(|m| m.get("seq").cloned())
                        .unwrap_or_else(|| "none".into())
                };
                let name = r.key.trim_start_matches("name=").trim_matches('\'');
                format!(
                    "down does not reset the sequence of `{name}` ({}, was {})",
                    v(&r.after),
                    v(&r.before)
                )
            })
            .collect();
    }
    let n = |k: &str| td.counts.get(k).copied().unwrap_or(0);
    let mut out = Vec::new();
    if n("missing") > 0 {
        out.push(format!("down loses {} of `{t}`", rows(n("missing"))));
    }
    if n("changed") > 0 {
        let cols: Vec<&String> = td.changed_columns.keys().collect();
        let dropped: Vec<String> = cols
            .iter()
            .filter(|c| after_up(up, "column", &format!("{t}.{c}")) == Some(None))
            .map(|c| format!("`{c}`"))
            .collect();
        if !dropped.is_empty() {
            out.push(format!(
                "down loses data in {} of `{t}` (column {} dropped by up, not restored)",
                rows(n("changed")),
                dropped.join(", ")
            ));
        } else {
            let list: Vec<String> = cols.iter().map(|c| format!("`{c}`")).collect();
            out.push(format!(
                "down changes {} of `{t}` (column {})",
                rows(n("changed")),
                list.join(", ")
            ));
        }
    }
    if n("extra") > 0 {
        out.push(format!("down leaves {} more in `{t}`", rows(n("extra"))));
    }
    if out.is_empty() && td.differing_rows > 0 {
        out.push(format!(
            "down leaves {} differing in `{t}`",
            rows(td.differing_rows)
        ));
    }
    out
}

/// The folder's verdict: FAIL when any step failed, or (unless allowed)
/// any step is irreversible.
pub fn folder_passes(statuses: &[StepStatus], allow_irreversible: bool) -> bool {
    statuses.iter().all(|s| match s {
        StepStatus::Pass | StepStatus::Setup => true,
        StepStatus::Irreversible => allow_irreversible,
        StepStatus::Fail | StepStatus::NotRun => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::report::RowDiff;
    use crate::migrations::report::{PhaseSummary, RedoRecord, ScriptRef, TableChange, TableState};
    use std::collections::BTreeMap;

    fn script() -> ScriptRef {
        ScriptRef {
            path: "1/up.sql".into(),
            first_line: 1,
            sha256: "0".repeat(64),
            transaction: true,
            no_transaction_marker: None,
        }
    }

    fn phase(sha: &str, schema: &str) -> PhaseDelta {
        PhaseDelta {
            sha256: sha.into(),
            schema_sha256: schema.into(),
            settings: BTreeMap::new(),
            tables: BTreeMap::new(),
            schema: Vec::new(),
        }
    }

    /// A step whose down restored everything.
    fn passing() -> StepReport {
        StepReport {
            down: Some(script()),
            before: Some(PhaseSummary {
                sha256: "b".into(),
                schema_sha256: "bs".into(),
                settings: BTreeMap::new(),
                tables: 1,
                rows: 3,
            }),
            after_up: Some(phase("u", "us")),
            after_down: Some(phase("b", "bs")),
            after_redo: Some(RedoRecord {
                schema_sha256: "us".into(),
                schema: Vec::new(),
            }),
            ..StepReport::new(1, "1", "a", script())
        }
    }

    fn col(name: &str, before: Option<&str>, after: Option<&str>) -> ObjectChange {
        ObjectChange {
            kind: "column".into(),
            name: name.into(),
            before: before.map(str::to_string),
            after: after.map(str::to_string),
        }
    }

    #[test]
    fn a_restoring_down_passes_and_a_digest_mismatch_alone_fails() {
        let j = judge(&passing());
        assert_eq!(j.status, StepStatus::Pass, "{:?}", j.checks);
        assert_eq!(j.checks.len(), 8);
        // Same schema, tables and settings recorded, other digest: still a FAIL.
        let mut s = passing();
        s.after_down.as_mut().unwrap().sha256 = "x".into();
        let j = judge(&s);
        assert_eq!(j.status, StepStatus::Fail);
        assert!(
            j.findings[0].starts_with("down leaves another logical state"),
            "{:?}",
            j.findings
        );
    }

    #[test]
    fn irreversible_setup_not_run_and_failing_scripts() {
        let mut s = passing();
        s.irreversible = Some("empty down".into());
        assert_eq!(judge(&s).findings, vec!["irreversible (empty down)"]);
        assert_eq!(judge(&s).status, StepStatus::Irreversible);
        let mut s = passing();
        s.rehearsed = false;
        assert_eq!(judge(&s).status, StepStatus::Setup);
        let mut s = passing();
        s.not_run_because = Some("the up of 2 failed".into());
        assert_eq!(judge(&s).status, StepStatus::NotRun);
        let mut s = passing();
        s.errors.insert(
            "down".into(),
            ScriptError {
                statement_index: 2,
                line: 3,
                sql: "DROP TABLE x;".into(),
                message: "no such table: x".into(),
            },
        );
        let j = judge(&s);
        assert_eq!(
            (j.status, j.findings[0].as_str()),
            (StepStatus::Fail, "down errors at line 3: no such table: x")
        );
    }

    #[test]
    fn findings_name_objects_rows_sequences_and_the_up_that_dropped_a_column() {
        let mut s = passing();
        s.after_up.as_mut().unwrap().schema = vec![col("t.note", Some("#3 TEXT"), None)];
        let down = s.after_down.as_mut().unwrap();
        down.sha256 = "d".into();
        down.schema_sha256 = "ds".into();
        down.schema = vec![
            ObjectChange {
                kind: "index".into(),
                name: "ix".into(),
                before: None,
                after: Some("CREATE INDEX ix".into()),
            },
            col("t.note", Some("#3 TEXT"), Some("#4 INTEGER")),
        ];
        let st = |rows| {
            Some(TableState {
                rows,
                sha256: "h".into(),
            })
        };
        down.tables.insert(
            "t".into(),
            TableChange {
                before: st(830),
                after: st(830),
            },
        );
        down.tables.insert(
            "sqlite_sequence".into(),
            TableChange {
                before: st(1),
                after: st(1),
            },
        );
        let mut t = crate::evidence::report::TableDiff::new("t");
        for i in 0..830 {
            t.record(
                RowDiff {
                    change: "changed".into(),
                    key: format!("id={i}"),
                    before: Some(BTreeMap::from([("note".to_string(), "'x'".to_string())])),
                    after: Some(BTreeMap::from([("note".to_string(), "NULL".to_string())])),
                    sql: String::new(),
                },
                5,
            );
        }
        let mut seq = crate::evidence::report::TableDiff::new("sqlite_sequence");
        seq.record(
            RowDiff {
                change: "changed".into(),
                key: "name='t'".into(),
                before: Some(BTreeMap::from([("seq".to_string(), "830".to_string())])),
                after: Some(BTreeMap::from([("seq".to_string(), "832".to_string())])),
                sql: String::new(),
            },
            5,
        );
        s.row_diffs = vec![t, seq];
        s.after_redo = Some(RedoRecord {
            schema_sha256: "other".into(),
            schema: vec![col("t.x", None, Some("#1 TEXT"))],
        });
        let j = judge(&s);
        assert_eq!(j.status, StepStatus::Fail);
        assert_eq!(
            j.findings,
            vec![
                "down leaves index `ix`",
                "down leaves column `t.note` as INTEGER (was TEXT) and at position 4 (was 3)",
                "down loses data in 830 rows of `t` (column `note` dropped by up, not restored)",
                "down does not reset the sequence of `t` (832, was 830)",
                "redo gives another schema than the first up: column `t.x` extra",
            ]
        );
        let failed: Vec<&str> = j
            .checks
            .iter()
            .filter(|c| c.outcome == Outcome::Fail)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            failed,
            [
                "down_restores_schema",
                "down_restores_rows",
                "down_restores_state",
                "redo_matches_up"
            ]
        );
    }

    #[test]
    fn the_folder_fails_on_any_failed_or_unallowed_irreversible_step() {
        use StepStatus::*;
        assert!(folder_passes(&[Pass, Setup], false));
        assert!(!folder_passes(&[Pass, Irreversible], false));
        assert!(folder_passes(&[Pass, Irreversible], true));
        assert!(!folder_passes(&[Fail], true));
        assert!(!folder_passes(&[NotRun], true));
    }
}
