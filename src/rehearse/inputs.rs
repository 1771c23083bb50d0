//! The scenario's change scripts, read and checked before anything is
//! made: each is UTF-8, has statements, and none of them would end a
//! transaction rollproof holds or nest one in the script's own
//! (`engine::script::precheck`), so such a script is bad input (exit 2)
//! with the statement and line named, not a half-run rehearsal.

use super::RehearseError;
use crate::engine::RollbackMethod;
use crate::engine::script::{Dialect, precheck};
use crate::rehearse::scenario::{ApplyKind, FaultKind, Loaded, ScriptsSpec, Switch};
use std::path::Path;

/// One change script.
pub(super) struct ScriptFile {
    /// Its path, as resolved from the scenario.
    pub path: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// Its text.
    pub text: String,
    /// Its statement count.
    pub statements: usize,
}

/// The scenario's scripts and how they run.
pub(super) struct Scripts {
    /// The up script (apply = sql).
    pub up: Option<ScriptFile>,
    /// The down script (compensate after an sql apply).
    pub down: Option<ScriptFile>,
    /// `[scripts]`.
    pub settings: ScriptsSpec,
}

impl Scripts {
    /// True when the scenario runs any user SQL.
    pub fn any(&self) -> bool {
        self.up.is_some() || self.down.is_some()
    }
}

fn read(sc: &Loaded, p: &Path, field: &str) -> Result<(String, String, String), RehearseError> {
    let path = sc.resolve(p);
    let bad = |what: String| {
        RehearseError::Input(format!(
            "scenario {}: field `{field}`: {what}",
            sc.path.display()
        ))
    };
    use crate::util::fsutil::{limit, read_bounded};
    let bytes = read_bounded(&path, limit::SCRIPT, "script").map_err(|e| bad(e.to_string()))?;
    let text = String::from_utf8(bytes.clone())
        .map_err(|_| bad(format!("{} is not UTF-8", path.display())))?;
    Ok((
        path.display().to_string(),
        crate::hash::sha256_hex(&bytes),
        text,
    ))
}

/// Read and check the scripts of `sc`, to run on PostgreSQL when `on_pg`.
pub(super) fn scripts(sc: &Loaded, on_pg: bool) -> Result<Scripts, RehearseError> {
    let spec = &sc.spec;
    let settings = spec.scripts();
    let dialect = if on_pg {
        Dialect::Postgres
    } else {
        Dialect::Sqlite
    };
    if on_pg && settings.foreign_keys == Switch::Off {
        return Err(RehearseError::Input(format!(
            "scenario {}: field `scripts.foreign_keys`: PostgreSQL always enforces foreign keys; \"off\" is for SQLite",
            sc.path.display()
        )));
    }
    let load = |p: &Path, field: &str, inside: bool| -> Result<ScriptFile, RehearseError> {
        let (path, sha256, text) = read(sc, p, field)?;
        let statements = precheck(&text, dialect, &settings.mode(inside)).map_err(|e| {
            RehearseError::Input(format!(
                "scenario {}: field `{field}`: {path}: {e}",
                sc.path.display()
            ))
        })?;
        Ok(ScriptFile {
            path,
            sha256,
            text,
            statements,
        })
    };
    let in_tx = spec.rollback.method == RollbackMethod::Transaction;
    let up = match (&spec.apply.kind, &spec.apply.up) {
        (ApplyKind::Sql, Some(p)) => Some(load(p, "apply.up", in_tx)?),
        _ => None,
    };
    let down = match &spec.rollback.down {
        Some(p) => Some(load(p, "rollback.down", false)?),
        None => None,
    };
    if let (Some(u), Some(f)) = (&up, &spec.fault)
        && f.kind == FaultKind::Kill
        && f.after.unwrap_or(1) >= u.statements as u64
    {
        return Err(RehearseError::Input(format!(
            "scenario {}: field `fault.after`: must be below the up script's {} statement(s) so the kill lands part-way",
            sc.path.display(),
            u.statements
        )));
    }
    Ok(Scripts { up, down, settings })
}
