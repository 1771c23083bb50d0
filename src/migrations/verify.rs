//! Verifying a recorded migrations report (`rollproof verify` on a report
//! whose `kind` is `migrations`): its seal and canonical form are checked
//! like every report's (`crate::evidence::verify`); here, every step's
//! checks, status and words are computed again from what the step recorded
//! with the same pure rules the run used (`crate::proof::migrations`), and
//! the counts and the folder's verdict from the steps.

use super::report::{KIND, MigrationsReport, SCHEMA_VERSION, StepStatus, Summary};
use crate::evidence::report::Verdict;
use crate::evidence::verify::Problem;
use serde_json::Value;

/// Read a migrations report from its JSON value, or say why it is none.
pub fn read(v: &Value) -> Result<MigrationsReport, Problem> {
    if v.get("schema_version").and_then(Value::as_u64) != Some(u64::from(SCHEMA_VERSION)) {
        return Err(Problem::new(
            "schema-version",
            format!(
                "unknown migrations schema_version {}: this rollproof reads schema_version {SCHEMA_VERSION}",
                v.get("schema_version").unwrap_or(&Value::Null)
            ),
        ));
    }
    serde_json::from_value::<MigrationsReport>(v.clone())
        .map_err(|e| Problem::new("schema", format!("not a migrations report: {e}")))
        .and_then(|r| {
            if r.kind == KIND {
                Ok(r)
            } else {
                Err(Problem::new("schema", format!("kind is {:?}", r.kind)))
            }
        })
}

/// Problems of a migrations report's content: each step's judgement, the
/// counts and the verdict must be what the recorded data gives.
pub fn problems(r: &MigrationsReport) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut counted = Summary::default();
    for s in &r.steps {
        let j = crate::proof::migrations::judge(s);
        let at = format!("step {} ({})", s.index, s.version);
        if j.status != s.status {
            out.push(Problem::new(
                "migrations-verdict",
                format!(
                    "{at}: recorded status {} but its data gives {}",
                    s.status.as_str(),
                    j.status.as_str()
                ),
            ));
        }
        if j.findings != s.findings {
            out.push(Problem::new(
                "migrations-verdict",
                format!(
                    "{at}: recorded findings {:?} but its data gives {:?}",
                    s.findings, j.findings
                ),
            ));
        }
        if j.checks != s.checks {
            out.push(Problem::new(
                "migrations-verdict",
                format!("{at}: recorded checks differ from what its data gives"),
            ));
        }
        match s.status {
            StepStatus::Pass => counted.pass += 1,
            StepStatus::Fail => counted.fail += 1,
            StepStatus::Irreversible => counted.irreversible += 1,
            StepStatus::Setup => counted.setup += 1,
            StepStatus::NotRun => counted.not_run += 1,
        }
    }
    if counted != r.summary {
        out.push(Problem::new(
            "migrations-verdict",
            format!(
                "summary {:?} does not count the steps ({counted:?})",
                r.summary
            ),
        ));
    }
    let statuses: Vec<StepStatus> = r.steps.iter().map(|s| s.status).collect();
    let want = if crate::proof::migrations::folder_passes(&statuses, r.allow_irreversible) {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    if r.verdict != want {
        out.push(Problem::new(
            "migrations-verdict",
            format!(
                "verdict {} but the steps give {want} (allow_irreversible {})",
                r.verdict, r.allow_irreversible
            ),
        ));
    }
    out
}
