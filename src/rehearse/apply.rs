//! The apply step: births (in one transaction, or one per birth under a
//! fault), the user's up script, or a births apply hit by a fault (kill,
//! disk-full, io-error), recording what happened.

use super::RehearseError;
use crate::engine::{Backend, BackendError, BirthPlan};
use crate::evidence::report::FaultRecord;
use crate::rehearse::scenario::{FaultKind, FaultSpec};

/// What the apply did.
#[derive(Default)]
pub(super) struct Applied {
    /// The fault that hit the apply, if any.
    pub faults: Vec<FaultRecord>,
    /// The error that stopped an apply without a fault.
    pub error: Option<String>,
    /// Births committed (plain births apply).
    pub births_done: Option<u64>,
    /// Births reported before a fault stopped the apply.
    pub births_reported: Option<u64>,
}

/// Run the apply. Guard refusals are errors (exit 3); anything else that
/// stops the apply is recorded and judged by the verdict rules.
pub(super) fn apply(
    be: &mut dyn Backend,
    plan: Option<&BirthPlan>,
    up: Option<&str>,
    fault: Option<&FaultSpec>,
) -> Result<Applied, RehearseError> {
    let mut out = Applied::default();
    match (plan, fault.map(|f| f.kind)) {
        (Some(p), Some(FaultKind::Kill)) => {
            let after = fault.and_then(|f| f.after).unwrap_or(5);
            let k = be.apply_births_killed(p, after)?;
            out.births_reported = Some(k.reported);
            out.faults.push(FaultRecord {
                kind: "kill".into(),
                injected: k.killed,
                detail: k.detail,
            });
        }
        (Some(p), Some(FaultKind::IoError)) => {
            let headroom = fault.and_then(|f| f.headroom).unwrap_or(8192);
            let k = be.apply_births_io_limited(p, headroom)?;
            out.births_reported = Some(k.reported);
            out.faults.push(FaultRecord {
                kind: "io-error".into(),
                injected: k.killed,
                detail: format!(
                    "file-size limit of {headroom} bytes above the current size; {}",
                    k.detail
                ),
            });
        }
        (Some(p), Some(FaultKind::DiskFull)) => {
            let headroom = fault.and_then(|f| f.headroom).unwrap_or(16);
            be.limit_growth(headroom)?;
            let (done, err) = be.apply_births(p, true, &mut |_| {});
            out.births_reported = Some(done);
            let injected = err.as_ref().is_some_and(|e| e.to_string().contains("full"));
            let detail = match &err {
                Some(e) => format!(
                    "max_page_count set to {headroom} pages above the current size; the apply stopped after {done} of {} births: {e}",
                    p.count
                ),
                None => format!(
                    "max_page_count set to {headroom} pages above the current size, but all {done} births fit: the disk never filled"
                ),
            };
            out.faults.push(FaultRecord {
                kind: "disk-full".into(),
                injected,
                detail,
            });
            if let Some(e) = err.filter(|_| !injected) {
                out.error = Some(e.to_string());
            }
        }
        (Some(p), _) => {
            let bar = crate::util::progress::rows_bar(p.count, "applying births");
            let (done, err) = be.apply_births(p, false, &mut |n| bar.set_position(n));
            bar.finish_and_clear();
            out.births_done = Some(done);
            if let Some(e) = err {
                if let BackendError::Refused(r) = e {
                    return Err(r.into());
                }
                out.error = Some(format!("{e}"));
            }
        }
        (None, _) => {
            if let Some(sql) = up
                && let Err(e) = be.run_sql(sql, "apply up script")
            {
                if let BackendError::Refused(r) = e {
                    return Err(r.into());
                }
                out.error = Some(e.to_string());
            }
        }
    }
    Ok(out)
}
