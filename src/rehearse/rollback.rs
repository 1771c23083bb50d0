//! The rollback step: undo the apply by the scenario's method — restore the
//! verified snapshot (possibly staged while after-apply was measured), roll
//! the held transaction back, or compensate (un-register the births made,
//! optionally rewinding sequences, or run the down script in the sandbox)
//! — and record what ran and how it ended. A failed rollback is part of the
//! rehearsal's story; only a guard refusal stops the run.

use super::RehearseError;
use super::apply::script_record;
use super::inputs::Scripts;
use crate::engine::{Backend, BackendError, BirthPlan, RollbackMethod, Snapshot};
use crate::evidence::report::RollbackRecord;
use crate::rehearse::scenario::{Compensation, Scenario};
use std::collections::BTreeMap;

/// What the apply left for the rollback to undo.
pub(super) struct Undo<'a> {
    /// The snapshot to restore from.
    pub snap: &'a Snapshot,
    /// A restore already staged (and committed) while after-apply was
    /// measured, with its result.
    pub staged: Option<Result<(), BackendError>>,
    /// The births plan, for a births compensation.
    pub plan: Option<&'a BirthPlan>,
    /// Births committed.
    pub births_done: u64,
    /// Sequence values before the apply, for `rewind_sequences`.
    pub seq_before: &'a BTreeMap<String, i64>,
}

/// Run the rollback; returns its record and whether a restore was refused
/// because the snapshot no longer held its recorded bytes.
pub(super) fn roll_back(
    be: &mut dyn Backend,
    spec: &Scenario,
    scripts: &Scripts,
    undo: Undo<'_>,
    say: &mut dyn FnMut(&str),
) -> Result<(RollbackRecord, bool), RehearseError> {
    let mut rec = RollbackRecord {
        sql: scripts.down.as_ref().map(|d| d.path.clone()),
        sql_sha256: scripts.down.as_ref().map(|d| d.sha256.clone()),
        rewind_sequences: spec.rollback.rewind_sequences,
        compensation: (spec.rollback.method == RollbackMethod::Compensate && undo.plan.is_some())
            .then(|| spec.rollback.compensation.as_str().to_string()),
        performed: false,
        refused: false,
        error: None,
        script: None,
    };
    let result: Result<(), BackendError> = match spec.rollback.method {
        RollbackMethod::Restore => undo.staged.unwrap_or_else(|| be.restore(undo.snap)),
        RollbackMethod::Transaction => be.rollback_transaction(),
        RollbackMethod::Compensate => match (undo.plan, &scripts.down) {
            (Some(p), _) if spec.rollback.compensation == Compensation::ApiDelete => {
                be.api_delete_births(p, undo.births_done)
            }
            (Some(p), _) => be.compensate_births(p, undo.births_done).and_then(|_| {
                if spec.rollback.rewind_sequences {
                    be.rewind_sequences(undo.seq_before)
                } else {
                    Ok(())
                }
            }),
            (None, Some(d)) => {
                let r = be.run_script(&d.text, &scripts.settings.mode(false));
                rec.script = Some(script_record(d.statements, &r));
                r.map(|_| ())
            }
            (None, None) => Err(BackendError::Unsupported(
                "compensating an sql apply without a down script".into(),
            )),
        },
    };
    let mut refused_corrupt = false;
    match result {
        Ok(()) => rec.performed = true,
        Err(BackendError::Refused(r)) => return Err(r.into()),
        Err(e) => {
            refused_corrupt = matches!(e, BackendError::SnapshotCorrupted { .. });
            rec.refused = refused_corrupt;
            say(&format!("rollback failed: {e}"));
            rec.error = Some(e.to_string());
        }
    }
    Ok((rec, refused_corrupt))
}
