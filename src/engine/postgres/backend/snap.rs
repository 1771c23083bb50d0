//! Snapshots of a PostgreSQL rehearsal target: taking them (template
//! clone or `pg_dump`), measuring and re-verifying them, restoring from them
//! (build beside, then swap in), and diffing the target against one.

use super::{PostgresBackend, be_err, db_err, derived_name};
use crate::engine::postgres::{guard, logical, quote_ident, snapshot};
use crate::engine::{BackendError, Snapshot, SnapshotMethod};
use crate::evidence::report::{Diff, Phase};
use postgres::Client;
use std::path::Path;

impl PostgresBackend {
    /// Measure a snapshot (template: the clone, reusing the phase taken
    /// with it; pg-dump: restored into a scratch database).
    pub(super) fn measure_snapshot_impl(
        &mut self,
        snap: &Snapshot,
        _known: &[(&str, &Phase)],
    ) -> Result<Phase, BackendError> {
        match snap.method {
            SnapshotMethod::Template => match &self.snap_phase {
                Some((name, phase))
                    if *name == snap.location && phase.logical.sha256 == snap.sha256 =>
                {
                    Ok(phase.clone())
                }
                _ => self.measure_db(&snap.location),
            },
            SnapshotMethod::PgDump => {
                // A dump file has no content to hash until restored: restore
                // it into a scratch database, measure that, drop it.
                let scratch = derived_name(&self.target.dbname, "_dumpcheck");
                if snapshot::exists(&self.target, &scratch).map_err(be_err)? {
                    snapshot::drop_database(&self.target, &scratch).map_err(be_err)?;
                }
                snapshot::restore_dump(
                    &self.target,
                    Path::new(&snap.location),
                    &scratch,
                    "snapshot check",
                )
                .map_err(be_err)?;
                // A dump keeps no owners: give the scratch copy to the
                // sandbox role as the target was, so it can equal before.
                let given = self.give_to_sandbox(&scratch);
                let phase = given.and_then(|()| self.measure_db(&scratch));
                let dropped = snapshot::drop_database(&self.target, &scratch).map_err(be_err);
                let mut phase = phase?;
                dropped?;
                phase.note = Some(format!(
                    "the pg_dump file {} restored into a scratch database and measured there",
                    snap.location
                ));
                Ok(phase)
            }
            other => Err(BackendError::Unsupported(format!(
                "snapshot method `{}` on PostgreSQL",
                other.as_str()
            ))),
        }
    }

    /// Take a snapshot of the target.
    pub(super) fn snapshot_impl(
        &mut self,
        method: SnapshotMethod,
        dest: &str,
    ) -> Result<Snapshot, BackendError> {
        self.close()?;
        let live = self.target.dbname.clone();
        match method {
            SnapshotMethod::Template => {
                let name = derived_name(&live, "_snap");
                if snapshot::exists(&self.target, &name).map_err(be_err)? {
                    snapshot::drop_database(&self.target, &name).map_err(be_err)?;
                }
                snapshot::clone_template(&self.target, &live, &name, "snapshot").map_err(be_err)?;
                self.made.push(name.clone());
                let phase = self.measure_db(&name)?;
                let mut c = self.target.with_db(&name).connect().map_err(be_err)?;
                let size: i64 = c
                    .query_one("SELECT pg_database_size(current_database())", &[])
                    .map_err(db_err("pg_database_size", &name))?
                    .get(0);
                let sha256 = phase.logical.sha256.clone();
                self.snap_phase = Some((name.clone(), phase));
                Ok(Snapshot {
                    method,
                    location: name,
                    sha256,
                    size: Some(size.max(0) as u64),
                })
            }
            SnapshotMethod::PgDump => {
                let path = Path::new(dest);
                snapshot::dump(&self.target, &live, path).map_err(be_err)?;
                let f = crate::hash::file_sha256(path).map_err(|e| BackendError::Io {
                    what: "cannot hash".into(),
                    path: path.to_path_buf(),
                    source: e.source,
                })?;
                Ok(Snapshot {
                    method,
                    location: dest.to_string(),
                    sha256: f.sha256,
                    size: Some(f.size),
                })
            }
            other => Err(BackendError::Unsupported(format!(
                "snapshot method `{}` on PostgreSQL (use `template` or `pg-dump`)",
                other.as_str()
            ))),
        }
    }

    /// Re-check a snapshot's recorded digest.
    pub(super) fn verify_snapshot_impl(&mut self, snap: &Snapshot) -> Result<(), BackendError> {
        let actual = match snap.method {
            SnapshotMethod::Template => {
                let mut c = self
                    .target
                    .with_db(&snap.location)
                    .connect()
                    .map_err(be_err)?;
                guard::authorize_existing(&mut c, &snap.location).map_err(be_err)?;
                logical::digest(&mut c, &snap.location)
                    .map_err(be_err)?
                    .digest
                    .sha256
            }
            SnapshotMethod::PgDump => {
                let path = Path::new(&snap.location);
                crate::hash::file_sha256(path)
                    .map_err(|e| BackendError::Io {
                        what: "cannot hash".into(),
                        path: path.to_path_buf(),
                        source: e.source,
                    })?
                    .sha256
            }
            other => {
                return Err(BackendError::Unsupported(format!(
                    "snapshot method `{}` on PostgreSQL",
                    other.as_str()
                )));
            }
        };
        if actual == snap.sha256 {
            Ok(())
        } else {
            Err(BackendError::SnapshotCorrupted {
                location: snap.location.clone(),
                recorded: snap.sha256.clone(),
                actual,
            })
        }
    }

    /// Build `fresh` from the snapshot, then swap it in for the target: the
    /// target is only dropped once the restored copy is complete.
    pub(super) fn restore_into_target(&mut self, snap: &Snapshot) -> Result<(), BackendError> {
        let live = self.target.dbname.clone();
        let fresh = derived_name(&live, "_restoring");
        if snapshot::exists(&self.target, &fresh).map_err(be_err)? {
            snapshot::drop_database(&self.target, &fresh).map_err(be_err)?;
        }
        match snap.method {
            SnapshotMethod::Template => {
                snapshot::clone_template(&self.target, &snap.location, &fresh, "restore")
            }
            SnapshotMethod::PgDump => {
                snapshot::restore_dump(&self.target, Path::new(&snap.location), &fresh, "restore")
            }
            other => {
                return Err(BackendError::Unsupported(format!(
                    "restore from `{}` on PostgreSQL",
                    other.as_str()
                )));
            }
        }
        .map_err(be_err)?;
        snapshot::drop_database(&self.target, &live).map_err(be_err)?;
        let mut admin = self.target.connect_maintenance().map_err(be_err)?;
        admin
            .batch_execute(&format!(
                "ALTER DATABASE {} RENAME TO {}",
                quote_ident(&fresh),
                quote_ident(&live)
            ))
            .map_err(db_err("ALTER DATABASE … RENAME", &live))?;
        let mut c = self.target.connect().map_err(be_err)?;
        guard::record_provenance(
            &mut c,
            &self.target,
            &live,
            "rehearsal target",
            &format!("restored from {}", snap.location),
        )
        .map_err(be_err)?;
        Ok(())
    }

    /// Per-table, row-level differences between a snapshot and the target.
    pub(super) fn diff_impl(
        &mut self,
        before: &Snapshot,
        tables: &[String],
        limit: usize,
    ) -> Result<Diff, BackendError> {
        let (before_db, scratch) = match before.method {
            SnapshotMethod::Template => (before.location.clone(), false),
            SnapshotMethod::PgDump => {
                let scratch = derived_name(&self.target.dbname, "_diffcheck");
                if snapshot::exists(&self.target, &scratch).map_err(be_err)? {
                    snapshot::drop_database(&self.target, &scratch).map_err(be_err)?;
                }
                snapshot::restore_dump(&self.target, Path::new(&before.location), &scratch, "diff")
                    .map_err(be_err)?;
                (scratch, true)
            }
            other => {
                return Err(BackendError::Unsupported(format!(
                    "a diff against `{}` on PostgreSQL",
                    other.as_str()
                )));
            }
        };
        let run = |this: &mut Self| -> Result<Diff, BackendError> {
            let mut b = this.target.with_db(&before_db).connect().map_err(be_err)?;
            guard::authorize_existing(&mut b, &before_db).map_err(be_err)?;
            let db = this.target.dbname.clone();
            let a = this.client()?;
            let schema = |c: &mut Client, name: &str| -> Result<String, BackendError> {
                crate::engine::postgres::catalog::schema_digest(c, name).map_err(be_err)
            };
            let schema_differs = schema(&mut b, &before_db)? != schema(a, &db)?;
            let tables = crate::engine::postgres::diff::diff(&mut b, a, &db, tables, limit)
                .map_err(be_err)?;
            let objects =
                crate::engine::postgres::diff::catalog_objects(&mut b, a, &db).map_err(be_err)?;
            let mut d = Diff {
                from: "before".into(),
                to: "after_rollback".into(),
                schema_differs,
                tables,
                ..Diff::default()
            };
            d.set_objects(objects);
            Ok(d)
        };
        let result = run(self);
        if scratch {
            let dropped = snapshot::drop_database(&self.target, &before_db).map_err(be_err);
            let d = result?;
            dropped?;
            return Ok(d);
        }
        result
    }
}
