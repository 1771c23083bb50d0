//! The PostgreSQL backend: a rehearsal target database on a server, created
//! by rollproof for the rehearsal (`rollproof_…`, with a provenance record).
//!
//! PostgreSQL's files change on reads, VACUUM and rolled-back transactions,
//! so every proof here is logical: phases carry the canonical logical hash
//! of [`crate::engine::postgres::logical`] and no file digest. Snapshots are database
//! clones (`template`) or `pg_dump` files (`pg-dump`); a restore builds the
//! restored database beside the target and only then swaps it in, so a
//! failed restore leaves the target as it was. Every database created or
//! dropped passes the PostgreSQL guard; [`PostgresBackend::finish`] drops
//! the clones it made.
//!
//! User change scripts never run on rollproof's (admin) connection: they
//! run on the sandbox role's own connection (`sandbox`, `scripts`), which
//! also holds the open transaction of a `transaction` rollback.

mod kill;
mod scripts;
mod snap;

use crate::engine::postgres::cluster_lock::ClusterLock;
use crate::engine::postgres::guard::{self, Target};
use crate::engine::postgres::{PgError, logical, snapshot};
use crate::engine::script::ScriptMode;
use crate::engine::{
    Backend, BackendError, BirthPlan, KilledApply, RollbackMethod, Snapshot, SnapshotMethod,
};
use crate::evidence::report::{Diff, Phase};
use postgres::Client;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// A PostgreSQL rehearsal target.
pub struct PostgresBackend {
    target: Target,
    client: Option<Client>,
    in_tx: bool,
    /// Databases this backend created besides the target (snapshots,
    /// scratch restores), dropped by [`PostgresBackend::finish`].
    made: Vec<String>,
    /// The phase measured when a template snapshot was taken (nothing
    /// writes to a snapshot clone, so it is reused by `measure_snapshot`).
    snap_phase: Option<(String, Phase)>,
    /// This rehearsal's run id (names the sandbox role).
    run_id: String,
    /// The sandbox role user scripts run as, once `prepare_scripts` made it.
    sandbox: Option<crate::engine::postgres::sandbox::Sandbox>,
    /// The sandbox role's connection to the target.
    user: Option<Client>,
    /// The server lock (`cluster_lock.rs`), held from before the target is
    /// made until after the sandbox role is dropped; declared last, so
    /// released after everything else is gone.
    cluster_lock: Option<ClusterLock>,
}

fn be_err(e: PgError) -> BackendError {
    match e {
        PgError::Refused(r) => BackendError::Refused(r),
        PgError::Sql { what, db, message } => BackendError::Db {
            what,
            target: db,
            message,
        },
        other => BackendError::Db {
            what: "postgres".into(),
            target: String::new(),
            message: other.to_string(),
        },
    }
}

fn db_err(what: &str, db: &str) -> impl Fn(postgres::Error) -> BackendError {
    let (what, db) = (what.to_string(), db.to_string());
    move |e| BackendError::Db {
        what: what.clone(),
        target: db.clone(),
        message: crate::engine::postgres::message(&e),
    }
}

/// A database name derived from `base` plus `suffix`, within 63 bytes.
fn derived_name(base: &str, suffix: &str) -> String {
    let keep = 63usize.saturating_sub(suffix.len()).min(base.len());
    format!("{}{suffix}", &base[..keep])
}

impl PostgresBackend {
    /// A backend on an existing database rollproof created (guard-checked).
    pub fn open(target: Target) -> Result<PostgresBackend, BackendError> {
        let mut client = target.connect().map_err(be_err)?;
        guard::authorize_existing(&mut client, &target.dbname).map_err(be_err)?;
        Ok(PostgresBackend {
            target,
            client: Some(client),
            in_tx: false,
            made: Vec::new(),
            snap_phase: None,
            run_id: String::new(),
            sandbox: None,
            user: None,
            cluster_lock: None,
        })
    }

    /// The target database.
    pub fn target(&self) -> &Target {
        &self.target
    }

    fn client(&mut self) -> Result<&mut Client, BackendError> {
        if self.client.is_none() {
            let mut c = self.target.connect().map_err(be_err)?;
            guard::authorize_existing(&mut c, &self.target.dbname).map_err(be_err)?;
            self.client = Some(c);
        }
        self.client
            .as_mut()
            .ok_or_else(|| BackendError::Unsupported("a closed connection".into()))
    }

    /// Close the connection (databases used as templates or dropped must
    /// have no sessions).
    fn close(&mut self) -> Result<(), BackendError> {
        if self.in_tx {
            return Err(BackendError::Db {
                what: "close".into(),
                target: self.target.dbname.clone(),
                message: "a transaction is still open".into(),
            });
        }
        self.client = None;
        self.user = None;
        Ok(())
    }

    fn phase(
        digested: logical::Digested,
        checks: (String, u64),
        cluster: crate::engine::postgres::roles::ClusterState,
        note: Option<String>,
        started: Instant,
    ) -> Phase {
        Phase {
            file_sha256: None,
            size: None,
            page_count: None,
            logical: digested.digest,
            integrity_check: checks.0,
            foreign_key_violations: checks.1,
            stray_files: Vec::new(),
            sha3: None,
            free_space: None,
            cluster: Some(cluster),
            derived_from: None,
            note,
            ms: started.elapsed().as_millis() as u64,
        }
    }

    /// Measure database `db` (not the open target connection).
    fn measure_db(&mut self, db: &str) -> Result<Phase, BackendError> {
        let started = Instant::now();
        let mut c = self.target.with_db(db).connect().map_err(be_err)?;
        let digested = logical::digest(&mut c, db).map_err(be_err)?;
        let checks = crate::engine::postgres::checks::run(&mut c, db).map_err(be_err)?;
        // The cluster as the rehearsal sees it: its target's properties,
        // also when measuring a snapshot clone.
        let own = self.sandbox.as_ref().map(|s| s.role.clone());
        let cluster =
            crate::engine::postgres::roles::capture(&mut c, &self.target.dbname, own.as_deref())
                .map_err(be_err)?;
        Ok(Self::phase(digested, checks, cluster, None, started))
    }

    /// The evidence leg of the existing database `url` names (an intake
    /// clone is the operator's real-dump leg, anything else a surrogate),
    /// read from its provenance record after the guard accepted the URL
    /// and the record proved the database is one of rollproof's own.
    pub fn leg_of_database(url: &str, allow_hosts: &[String]) -> Result<String, BackendError> {
        use crate::guard::provenance::{LEG_CLONE, LEG_SURROGATE};
        let allow = guard::allowed_hosts(allow_hosts);
        let source = guard::authorize_url(url, &allow).map_err(be_err)?;
        let mut client = source.connect().map_err(be_err)?;
        let rec = crate::engine::postgres::provenance::verify(&mut client, &source.dbname)
            .map_err(be_err)?;
        Ok(if rec.purpose == "clone" {
            LEG_CLONE
        } else {
            LEG_SURROGATE
        }
        .to_string())
    }

    /// A rehearsal target copied from an existing database: check `url`
    /// with the guard, prove the database it names is one of rollproof's
    /// own (an intake clone, a generated surrogate), and clone it with
    /// `CREATE DATABASE <url's database>_<run_id> TEMPLATE <it>`. The
    /// rehearsal then writes only to the copy; the source is only read
    /// (its other sessions are ended, as a template needs).
    pub fn from_database(
        url: &str,
        allow_hosts: &[String],
        run_id: &str,
    ) -> Result<PostgresBackend, BackendError> {
        let (server, target, lock) = rehearsal_target(url, allow_hosts, run_id)?;
        snapshot::clone_template(&server, &server.dbname, &target.dbname, "rehearsal target")
            .map_err(be_err)?;
        let client = match target.connect() {
            Ok(c) => c,
            Err(e) => {
                let _ = snapshot::drop_database(&target, &target.dbname);
                return Err(be_err(e));
            }
        };
        Ok(Self::rehearsing(target, client, run_id, lock))
    }

    /// A rehearsal target for any schema: check `url` with the guard,
    /// create the new database `<url's database>_<run_id>` and generate the
    /// format-2 `profile` into it with the generic engine
    /// ([`crate::generate::postgres::generate`]).
    pub fn generated(
        url: &str,
        allow_hosts: &[String],
        run_id: &str,
        profile: &crate::profile::Profile,
        seed: u64,
        scale: f64,
    ) -> Result<PostgresBackend, BackendError> {
        let schema = profile.schema.as_ref().ok_or_else(|| {
            BackendError::Unsupported("a format-1 profile has no [schema]".into())
        })?;
        let sha = crate::guard::provenance::profile_sha256(profile);
        let source = format!("profile_sha256={sha} seed={seed} scale={scale}");
        let stats = crate::generate::FillStats::from(profile);
        let rows = stats.row_counts(scale);
        Self::created(url, allow_hosts, run_id, &source, |client, _| {
            crate::generate::postgres::generate(client, schema, &stats, &rows, seed)
                .map(|_| ())
                .map_err(PgError::Generate)
        })
    }

    /// A rehearsal target: check `url` with the guard (loopback, Unix
    /// socket or an allowed host; a `rollproof_` name), create the new
    /// database `<url's database>_<run_id>` and load the surface tables of
    /// the SQLite surrogate `source` into it.
    pub fn for_rehearsal(
        url: &str,
        allow_hosts: &[String],
        run_id: &str,
        source: &Path,
    ) -> Result<PostgresBackend, BackendError> {
        let what = format!("loaded from {}", source.display());
        Self::created(url, allow_hosts, run_id, &what, |client, db| {
            crate::engine::postgres::load::load_sqlite(source, client, db).map(|_| ())
        })
    }

    /// A new rehearsal target on `url`'s server (the guard's checks, the
    /// server lock), created with provenance `source` and filled by `fill`
    /// (given the client and the database's name); dropped again if the
    /// fill fails.
    fn created(
        url: &str,
        allow_hosts: &[String],
        run_id: &str,
        source: &str,
        fill: impl FnOnce(&mut Client, &str) -> Result<(), PgError>,
    ) -> Result<PostgresBackend, BackendError> {
        let (_, target, lock) = rehearsal_target(url, allow_hosts, run_id)?;
        let mut client = crate::engine::postgres::load::create_database(
            &target,
            false,
            "rehearsal target",
            source,
        )
        .map_err(be_err)?;
        if let Err(e) = fill(&mut client, &target.dbname) {
            drop(client);
            let _ = snapshot::drop_database(&target, &target.dbname);
            return Err(be_err(e));
        }
        Ok(Self::rehearsing(target, client, run_id, lock))
    }

    /// The backend of run `run_id` on its new target, holding the lock.
    fn rehearsing(target: Target, client: Client, run_id: &str, lock: ClusterLock) -> Self {
        PostgresBackend {
            target,
            client: Some(client),
            in_tx: false,
            made: Vec::new(),
            snap_phase: None,
            run_id: run_id.to_string(),
            sandbox: None,
            user: None,
            cluster_lock: Some(lock),
        }
    }
}

/// The guard-checked server of `url` (as given), the run's target on it,
/// `<url's database>_<run_id>`, and the server lock, taken.
fn rehearsal_target(
    url: &str,
    allow_hosts: &[String],
    run_id: &str,
) -> Result<(Target, Target, ClusterLock), BackendError> {
    let allow = guard::allowed_hosts(allow_hosts);
    let server = guard::authorize_url(url, &allow).map_err(be_err)?;
    let name = derived_name(&server.dbname, &format!("_{}", run_id.to_ascii_lowercase()));
    let target = server.with_db(&name);
    let lock = ClusterLock::take(&target).map_err(be_err)?;
    Ok((server, target, lock))
}

impl Backend for PostgresBackend {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn byte_exact_capable(&self, _snapshot: SnapshotMethod, _rollback: RollbackMethod) -> bool {
        // BYTE-EXACT-FACTS: PostgreSQL files change on reads (hint bits),
        // VACUUM and rolled-back transactions; only logical proofs exist.
        false
    }

    fn measure(&mut self, _known: &[(&str, &Phase)]) -> Result<Phase, BackendError> {
        if self.in_tx {
            let started = Instant::now();
            let db = self.target.dbname.clone();
            let own = self.sandbox.as_ref().map(|s| s.role.clone());
            let c = self.tx_client()?;
            let digested = logical::digest_on(c, &db).map_err(be_err)?;
            let checks = crate::engine::postgres::checks::run(c, &db).map_err(be_err)?;
            let cluster =
                crate::engine::postgres::roles::capture(c, &db, own.as_deref()).map_err(be_err)?;
            let note = "measured inside the open transaction: the logical hash and checks see its uncommitted changes".to_string();
            return Ok(Self::phase(digested, checks, cluster, Some(note), started));
        }
        let db = self.target.dbname.clone();
        self.measure_db(&db)
    }

    fn measure_snapshot(
        &mut self,
        snap: &Snapshot,
        _known: &[(&str, &Phase)],
    ) -> Result<Phase, BackendError> {
        self.measure_snapshot_impl(snap, _known)
    }

    fn snapshot(&mut self, method: SnapshotMethod, dest: &str) -> Result<Snapshot, BackendError> {
        self.snapshot_impl(method, dest)
    }

    fn verify_snapshot(&mut self, snap: &Snapshot) -> Result<(), BackendError> {
        self.verify_snapshot_impl(snap)
    }

    fn restore(&mut self, snap: &Snapshot) -> Result<(), BackendError> {
        self.verify_snapshot(snap)?;
        self.close()?;
        self.restore_into_target(snap)?;
        // The restored database is a new one: give it to the sandbox role
        // again, as the before state had it.
        let db = self.target.dbname.clone();
        self.give_to_sandbox(&db)
    }

    fn begin_transaction(&mut self) -> Result<(), BackendError> {
        let db = self.target.dbname.clone();
        self.tx_client()?
            .batch_execute("BEGIN")
            .map_err(db_err("begin transaction", &db))?;
        self.in_tx = true;
        Ok(())
    }

    fn rollback_transaction(&mut self) -> Result<(), BackendError> {
        let db = self.target.dbname.clone();
        self.tx_client()?
            .batch_execute("ROLLBACK")
            .map_err(db_err("rollback transaction", &db))?;
        self.in_tx = false;
        Ok(())
    }

    fn births_missing(&mut self) -> Result<Vec<String>, BackendError> {
        // Births call the database's own fn_birth_register (production's
        // real function on an operator's dump) as directus_users.
        let db = self.target.dbname.clone();
        let row = self
            .client()?
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'fn_birth_register'
                                AND pg_function_is_visible(oid)),
                        to_regclass('directus_users') IS NOT NULL",
                &[],
            )
            .map_err(db_err("looking for fn_birth_register", &db))?;
        let mut missing = Vec::new();
        if !row.get::<_, bool>(0) {
            missing.push("missing function fn_birth_register".to_string());
        }
        if !row.get::<_, bool>(1) {
            missing.push("missing table directus_users".to_string());
        }
        Ok(missing)
    }

    fn users(&mut self, limit: usize) -> Result<Vec<String>, BackendError> {
        let db = self.target.dbname.clone();
        let rows = self
            .client()?
            .query(
                "SELECT id::text FROM directus_users ORDER BY id LIMIT $1",
                &[&(limit as i64)],
            )
            .map_err(db_err("read directus_users", &db))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn apply_births(
        &mut self,
        plan: &BirthPlan,
        commit_each: bool,
        progress: &mut dyn FnMut(u64),
    ) -> (u64, Option<BackendError>) {
        let db = self.target.dbname.clone();
        let batch = !self.in_tx && !commit_each;
        // Inside the caller's open transaction each call is its own
        // savepoint, as on the SQLite surface: a failed birth undoes only
        // itself and the transaction stays usable for measuring. (A batch
        // is rolled back whole on failure, so it needs none.)
        let nested = self.in_tx;
        let c = match self.client() {
            Ok(c) => c,
            Err(e) => return (0, Some(e)),
        };
        let stmt = match c.prepare(crate::engine::postgres::schema::CALL_SQL) {
            Ok(s) => s,
            Err(e) => return (0, Some(db_err("prepare fn_birth_register", &db)(e))),
        };
        if batch && let Err(e) = c.batch_execute("BEGIN") {
            return (0, Some(db_err("begin", &db)(e)));
        }
        let mut done = 0u64;
        let mut failure = None;
        for i in 0..plan.count {
            if nested && let Err(e) = c.batch_execute("SAVEPOINT fn_birth_register") {
                failure = Some(db_err("savepoint", &db)(e));
                break;
            }
            match crate::engine::postgres::schema::birth_register_with(c, &stmt, &plan.birth(i)) {
                Ok(_) => {
                    if nested && let Err(e) = c.batch_execute("RELEASE fn_birth_register") {
                        failure = Some(db_err("release", &db)(e));
                        break;
                    }
                    done += 1;
                    progress(done);
                }
                Err(e) => {
                    if nested {
                        let _ = c.batch_execute(
                            "ROLLBACK TO fn_birth_register; RELEASE fn_birth_register",
                        );
                    }
                    failure = Some(db_err(&format!("fn_birth_register (birth {})", i + 1), &db)(e));
                    break;
                }
            }
        }
        if batch {
            let end = if failure.is_some() {
                "ROLLBACK"
            } else {
                "COMMIT"
            };
            if let Err(e) = c.batch_execute(end) {
                failure.get_or_insert(db_err(end, &db)(e));
            }
            if failure.is_some() {
                done = 0;
            }
        }
        (done, failure)
    }

    fn prepare_scripts(&mut self, mode: &ScriptMode) -> Result<String, BackendError> {
        self.prepare_sandbox(mode)
    }

    fn run_script(&mut self, sql: &str, mode: &ScriptMode) -> Result<usize, BackendError> {
        self.script_session(sql, mode)
    }

    fn apply_script_killed(
        &mut self,
        sql: &str,
        mode: &ScriptMode,
        after: u64,
    ) -> Result<KilledApply, BackendError> {
        self.script_killed(sql, mode, after)
    }

    fn compensate_births(&mut self, plan: &BirthPlan, done: u64) -> Result<(), BackendError> {
        let db = self.target.dbname.clone();
        let c = self.client()?;
        let mut tx = c.transaction().map_err(db_err("begin", &db))?;
        for i in (0..done).rev() {
            let item = crate::rehearse::births::item_id(plan, i);
            crate::engine::postgres::schema::birth_unregister(&mut tx, &item)
                .map_err(db_err("compensate (birth_unregister)", &db))?;
        }
        tx.commit().map_err(db_err("commit", &db))
    }

    fn api_delete_births(&mut self, plan: &BirthPlan, done: u64) -> Result<(), BackendError> {
        let db = self.target.dbname.clone();
        let c = self.client()?;
        let mut tx = c.transaction().map_err(db_err("begin", &db))?;
        crate::rehearse::births::for_each_api_delete(plan, done, |d| {
            crate::engine::postgres::schema::birth_api_delete(&mut tx, d).map(|_| ())
        })
        .map_err(db_err("compensate (api delete)", &db))?;
        tx.commit().map_err(db_err("commit", &db))
    }

    fn sequences(&mut self) -> Result<BTreeMap<String, i64>, BackendError> {
        let db = self.target.dbname.clone();
        let rows =
            crate::engine::postgres::catalog::sequence_rows(self.client()?, &db).map_err(be_err)?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(|r| (r.name, r.last_value))
            .collect())
    }

    fn rewind_sequences(&mut self, seqs: &BTreeMap<String, i64>) -> Result<(), BackendError> {
        let db = self.target.dbname.clone();
        let c = self.client()?;
        let now = crate::engine::postgres::catalog::sequence_rows(c, &db)
            .map_err(be_err)?
            .unwrap_or_default();
        let mut tx = c.transaction().map_err(db_err("begin", &db))?;
        for row in now {
            match seqs.get(&row.name) {
                Some(v) => tx.execute(
                    "SELECT setval($1::text::regclass, $2, true)",
                    &[&row.sequence, v],
                ),
                // Never used before: back to the unused state.
                None => tx.execute(&format!("ALTER SEQUENCE {} RESTART", row.sequence), &[]),
            }
            .map_err(db_err("rewind sequences", &db))?;
        }
        tx.commit().map_err(db_err("commit", &db))
    }

    fn limit_growth(&mut self, _pages: u64) -> Result<(), BackendError> {
        Err(BackendError::Unsupported(
            "the disk-full fault (PostgreSQL has no per-database size limit)".into(),
        ))
    }

    fn diff(
        &mut self,
        before: &Snapshot,
        tables: &[String],
        limit: usize,
    ) -> Result<Diff, BackendError> {
        self.diff_impl(before, tables, limit)
    }

    fn finish(&mut self, keep_target: bool) -> Result<(), BackendError> {
        if self.in_tx {
            let _ = self.rollback_transaction();
        }
        self.client = None;
        self.user = None;
        let mut first_err = None;
        for db in std::mem::take(&mut self.made) {
            if snapshot::exists(&self.target, &db).unwrap_or(false)
                && let Err(e) = snapshot::drop_database(&self.target, &db)
            {
                first_err.get_or_insert(be_err(e));
            }
        }
        if keep_target {
            // Kept for inspection: no longer a leftover for `clean`.
            let kept = self
                .target
                .connect()
                .and_then(|mut c| super::provenance::keep(&mut c, &self.target.dbname));
            if let Err(e) = kept {
                first_err.get_or_insert(be_err(e));
            }
        } else if snapshot::exists(&self.target, &self.target.dbname).unwrap_or(false)
            && let Err(e) = snapshot::drop_database(&self.target, &self.target.dbname)
        {
            first_err.get_or_insert(be_err(e));
        }
        // After the databases: what the role still holds (a kept target)
        // is handed back first.
        if let Some(sb) = self.sandbox.take()
            && let Err(e) = sb.drop_role(&self.target)
        {
            first_err.get_or_insert(be_err(e));
        }
        // The role is gone: another run may compare the server's roles.
        self.cluster_lock = None;
        first_err.map_or(Ok(()), Err)
    }

    fn apply_births_killed(
        &mut self,
        plan: &BirthPlan,
        after: u64,
    ) -> Result<KilledApply, BackendError> {
        self.close()?;
        kill::apply_births_killed(&self.target, plan, after)
    }

    fn keep_copy(&mut self, dest: &Path) -> Result<(), BackendError> {
        if self.in_tx {
            return Err(BackendError::Unsupported(
                "keeping a copy of an open transaction on PostgreSQL".into(),
            ));
        }
        let live = self.target.dbname.clone();
        snapshot::dump(&self.target, &live, dest).map_err(be_err)
    }
}

impl Drop for PostgresBackend {
    fn drop(&mut self) {
        // Best effort: never leave our clones behind (the target itself is
        // the caller's to keep or drop via `finish`).
        self.client = None;
        self.user = None;
        for db in std::mem::take(&mut self.made) {
            let _ = snapshot::drop_database(&self.target, &db);
        }
        if let Some(sb) = self.sandbox.take() {
            let _ = sb.drop_role(&self.target);
        }
    }
}
