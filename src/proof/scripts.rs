//! The verdict rules about change scripts, pure like the rest of `proof`:
//! `script_completed:<phase>` (the script ran every statement; if not,
//! which statement stopped it, at which line, and the state the database
//! was measured in after it) and, under an apply fault, whether the script
//! stopped part-way with something left to roll back. Everything here is
//! derived from what the report records (`apply.script`,
//! `rollback.script`, the phases), so `verify` can recompute it.

use super::verdict::{check, fmt_deltas, row_deltas};
use crate::evidence::report::{Check, Phase, ScriptRun};

/// A measured phase against before, in words: what a failed script left.
pub fn state_vs_before(before: &Phase, p: Option<&Phase>) -> String {
    let Some(p) = p else {
        return "not measured".into();
    };
    if p.logical.sha256 == before.logical.sha256 {
        return "unchanged: its logical state equals the before state's".into();
    }
    format!(
        "changed: its logical state differs from the before state's ({}; row deltas {})",
        if p.logical.schema_sha256 == before.logical.schema_sha256 {
            "same schema"
        } else {
            "schema differs"
        },
        fmt_deltas(&row_deltas(before, p, true))
    )
}

/// The failure of a script in one line: statement, line, text, message.
fn failure_line(s: &ScriptRun) -> String {
    match &s.failure {
        None => format!(
            "stopped after {} of {} statements",
            s.completed, s.statements
        ),
        Some(f) if f.statement == 0 => format!(
            "rollproof's `{}` after all {} statements {}: {}",
            f.sql,
            s.statements,
            if f.denied { "was refused" } else { "failed" },
            f.message
        ),
        Some(f) => format!(
            "statement {} of {} (line {}) `{}` {}: {}{}",
            f.statement,
            s.statements,
            f.line,
            f.sql,
            if f.denied { "was refused" } else { "failed" },
            f.message,
            match (f.undone, s.completed) {
                (_, 0) => String::new(),
                (true, n) => format!(
                    "; rollproof rolled the {n} statement(s) before it back with the script's transaction"
                ),
                (false, n) => format!("; the {n} statement(s) before it stay applied"),
            }
        ),
    }
}

/// `script_completed:<phase>`: the script ran every statement; when it did
/// not, which statement stopped it and the state measured after it.
pub(crate) fn completed(
    phase: &str,
    s: &ScriptRun,
    before: &Phase,
    after: Option<&Phase>,
) -> Check {
    let ok = s.failure.is_none() && s.completed == s.statements;
    let detail = if ok {
        format!("all {} statements ran", s.statements)
    } else {
        let which = if phase == "apply" {
            "after_apply"
        } else {
            "after_rollback"
        };
        format!(
            "{}; the database was left {} (measured: {which})",
            failure_line(s),
            state_vs_before(before, after)
        )
    };
    check(format!("script_completed:{phase}"), ok, detail)
}

/// `apply_interrupted_part_way` for a change script hit by a fault: it
/// stopped before its last statement.
pub(crate) fn part_way(s: Option<&ScriptRun>, before: &Phase, after: &Phase) -> Check {
    let Some(s) = s else {
        return check(
            "apply_interrupted_part_way",
            false,
            "no record of how the script ran",
        );
    };
    // As for births: part-way means something was committed before the
    // fault, else the rollback has nothing to prove (a script in its own
    // transaction is taken back whole by the crash).
    let changed = after.logical.sha256 != before.logical.sha256;
    let mut detail = format!(
        "the fault stopped the script after {} of {} statements ({}); the database was left {}",
        s.completed,
        s.statements,
        failure_line(s),
        state_vs_before(before, Some(after))
    );
    if !changed {
        detail.push_str(": nothing was left for the rollback to undo (with transaction = \"none\" the statements before the fault stay committed)");
    }
    check(
        "apply_interrupted_part_way",
        s.completed < s.statements && changed,
        detail,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::report::{Outcome, ScriptFailure};
    use crate::proof::verdict::tests::phase;

    fn failed(statement: u64, completed: u64, undone: bool) -> ScriptRun {
        ScriptRun {
            statements: 3,
            completed,
            failure: Some(ScriptFailure {
                statement,
                line: 7,
                sql: "UPDATE t SET x = 1;".into(),
                message: "FOREIGN KEY constraint failed".into(),
                denied: false,
                undone,
            }),
        }
    }

    #[test]
    fn a_failed_script_names_statement_line_and_the_measured_state() {
        let before = phase("f0", "l0", 10);
        let ran = ScriptRun {
            statements: 3,
            completed: 3,
            failure: None,
        };
        let c = completed("apply", &ran, &before, Some(&phase("f1", "l1", 10)));
        assert_eq!(
            (c.name.as_str(), c.outcome),
            ("script_completed:apply", Outcome::Pass)
        );
        let c = completed(
            "apply",
            &failed(2, 1, false),
            &before,
            Some(&phase("f1", "l1", 12)),
        );
        assert_eq!(c.outcome, Outcome::Fail);
        for needle in [
            "statement 2 of 3 (line 7)",
            "FOREIGN KEY",
            "1 statement(s) before it stay applied",
            "left changed",
            "objects +2",
            "(measured: after_apply)",
        ] {
            assert!(c.detail.contains(needle), "{needle}: {}", c.detail);
        }
        let c = completed(
            "rollback",
            &failed(2, 1, true),
            &before,
            Some(&phase("f0", "l0", 10)),
        );
        assert!(
            c.detail
                .contains("rolled the 1 statement(s) before it back"),
            "{}",
            c.detail
        );
        assert!(c.detail.contains("left unchanged") && c.detail.contains("after_rollback"));
    }

    #[test]
    fn part_way_needs_an_unfinished_script_that_left_something_to_roll_back() {
        let before = phase("f0", "l0", 10);
        let killed = ScriptRun {
            statements: 3,
            completed: 1,
            failure: None,
        };
        assert_eq!(
            part_way(Some(&killed), &before, &phase("f1", "l1", 11)).outcome,
            Outcome::Pass
        );
        // Taken back whole (its own transaction): nothing to prove.
        let c = part_way(Some(&killed), &before, &phase("f0", "l0", 10));
        assert_eq!(c.outcome, Outcome::Fail);
        assert!(
            c.detail.contains("nothing was left for the rollback"),
            "{}",
            c.detail
        );
        // Ran to the end: the fault did not land part-way.
        let all = ScriptRun {
            statements: 3,
            completed: 3,
            failure: None,
        };
        assert_eq!(
            part_way(Some(&all), &before, &phase("f1", "l1", 11)).outcome,
            Outcome::Fail
        );
        assert_eq!(
            part_way(None, &before, &phase("f1", "l1", 11)).outcome,
            Outcome::Fail
        );
    }
}
