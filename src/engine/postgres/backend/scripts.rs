//! Change scripts on the PostgreSQL target: the sandbox role made for the
//! rehearsal (`engine::postgres::sandbox`), its own connection, and the
//! statement runner (`engine::postgres::script`) on it. rollproof's admin
//! connection never runs user SQL.

use super::{PostgresBackend, be_err};
use crate::engine::BackendError;
use crate::engine::postgres::sandbox::Sandbox;
use crate::engine::script::ScriptMode;
use postgres::Client;

impl PostgresBackend {
    /// Create the sandbox role and hand it the target (before the target
    /// is first measured, so every phase sees the same owners).
    pub(super) fn prepare_sandbox(&mut self, mode: &ScriptMode) -> Result<String, BackendError> {
        if !mode.foreign_keys {
            return Err(BackendError::Unsupported(
                "foreign_keys = \"off\" (PostgreSQL always enforces foreign keys)".into(),
            ));
        }
        if self.sandbox.is_none() {
            let sb = Sandbox::create(&self.target, &self.run_id).map_err(be_err)?;
            self.sandbox = Some(sb);
            let db = self.target.dbname.clone();
            self.give_to_sandbox(&db)?;
        }
        let role = self
            .sandbox
            .as_ref()
            .map(|s| s.role.clone())
            .unwrap_or_default();
        Ok(format!(
            "PostgreSQL role {role} made for this rehearsal (LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS, member of no role) owning the rehearsal database's objects, on its own connection; dropped afterwards"
        ))
    }

    /// Hand database `db` (one of ours) to the sandbox role, if there is one.
    pub(super) fn give_to_sandbox(&mut self, db: &str) -> Result<(), BackendError> {
        let Some(sb) = self.sandbox.clone() else {
            return Ok(());
        };
        let mut c = self.target.with_db(db).connect().map_err(be_err)?;
        sb.grant(&mut c, db).map_err(be_err)
    }

    /// The connection that holds (or will hold) the open transaction: the
    /// sandbox role's when scripts run in this rehearsal, else rollproof's.
    pub(super) fn tx_client(&mut self) -> Result<&mut Client, BackendError> {
        if self.sandbox.is_some() {
            self.user_client()
        } else {
            self.client()
        }
    }

    /// The sandbox role's connection to the target.
    fn user_client(&mut self) -> Result<&mut Client, BackendError> {
        if self.user.is_none() {
            let sb = self.sandbox.as_ref().ok_or_else(|| {
                BackendError::Unsupported("a change script before prepare_scripts".into())
            })?;
            self.user = Some(sb.connect(&self.target).map_err(be_err)?);
        }
        self.user
            .as_mut()
            .ok_or_else(|| BackendError::Unsupported("a closed connection".into()))
    }

    /// Run a script on the sandbox role's connection.
    pub(super) fn script_session(
        &mut self,
        sql: &str,
        mode: &ScriptMode,
    ) -> Result<usize, BackendError> {
        let mode = ScriptMode {
            inside_transaction: self.in_tx,
            ..*mode
        };
        let c = self.user_client()?;
        crate::engine::postgres::script::run_script(c, sql, &mode, &mut |_| {})
            .map_err(BackendError::from)
    }
}
