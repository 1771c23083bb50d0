//! The migrations rehearsal on a PostgreSQL server.
//!
//! The URL names the server and a `rollproof_` database name; the run
//! creates its own working database `<name>_m<run id>` there (empty, with
//! rollproof's provenance record), and per step a snapshot database
//! `<name>_m<run id>s` cloned from it with `CREATE DATABASE … TEMPLATE`.
//! A restore drops the working database and clones it back from the
//! snapshot. Every database created, written or dropped passes the
//! PostgreSQL guard (loopback or an allowed host, `rollproof_` names,
//! provenance that names the database); nothing else on the server is
//! touched. Both databases are dropped at the end unless the run is kept.
//!
//! **Sandbox** (issue #12 §3): the migrations' SQL runs on its own
//! connection, logged in as the role made for this run
//! (`engine::postgres::sandbox`, the one `rehearse` uses:
//! `rollproof_r_<run id in letters>`, LOGIN NOSUPERUSER NOCREATEDB
//! NOCREATEROLE NOREPLICATION NOBYPASSRLS, member of no role), which owns
//! the working database's objects and nothing else; it is handed the
//! database again after every restore, and dropped at the end. The tool's
//! bookkeeping runs on that connection too (inside the migration's
//! transaction, as the tool runs it). rollproof's own (admin) connection
//! creates, measures, clones and drops databases, and never runs user SQL.

use super::engine::{EngineError, ObjectKey, ScriptError, ScriptMode, State, StepEngine};
use super::layout::Script;
use super::tool::Bookkeeping;
use crate::engine::postgres::catalog::CatalogRow;
use crate::engine::postgres::cluster_lock::ClusterLock;
use crate::engine::postgres::guard::{self, Target};
use crate::engine::postgres::sandbox::Sandbox;
use crate::engine::postgres::{catalog, diff, load, logical, snapshot};
use crate::evidence::report::TableDiff;
use postgres::Client;
use std::collections::BTreeMap;

/// A PostgreSQL migrations rehearsal database.
pub struct PgEngine {
    server: Target,
    work: Target,
    snap: String,
    has_snap: bool,
    /// rollproof's own (admin) connection to the working database.
    client: Option<Client>,
    keep: bool,
    /// The role the migrations run as (None once dropped).
    sandbox: Option<Sandbox>,
    /// The sandbox role's connection to the working database.
    user: Option<Client>,
    /// The server lock (`engine::postgres::cluster_lock`, as rehearse
    /// holds it): from before the working database is made until after
    /// the sandbox role is dropped, so no other run's cluster comparison
    /// sees this run's role; declared last, released last.
    cluster_lock: Option<ClusterLock>,
}

fn derived(base: &str, suffix: &str) -> String {
    let keep = 63usize.saturating_sub(suffix.len()).min(base.len());
    format!("{}{suffix}", &base[..keep])
}

impl PgEngine {
    /// Check `url` with the guard and create the working database.
    pub fn create(
        url: &str,
        allow_hosts: &[String],
        run_id: &str,
        keep: bool,
        folder: &str,
    ) -> Result<PgEngine, EngineError> {
        let allow = guard::allowed_hosts(allow_hosts);
        let server = guard::authorize_url(url, &allow)?;
        let id = run_id.to_ascii_lowercase();
        let work = server.with_db(&derived(&server.dbname, &format!("_m{id}")));
        let snap = derived(&server.dbname, &format!("_m{id}s"));
        let cluster_lock = ClusterLock::take(&work)?;
        let client = load::create_database(&work, false, "migrations rehearsal", folder)?;
        let mut e = PgEngine {
            server,
            work,
            snap,
            has_snap: false,
            client: Some(client),
            keep,
            sandbox: None,
            user: None,
            cluster_lock: Some(cluster_lock),
        };
        // Made after the database, so a refused or failed role leaves
        // nothing behind: finish() drops the database.
        match Sandbox::create(&e.work, &id) {
            Ok(sb) => e.sandbox = Some(sb),
            Err(err) => {
                let _ = e.finish();
                return Err(err.into());
            }
        }
        if let Err(err) = e.give_to_sandbox() {
            let _ = e.finish();
            return Err(err);
        }
        Ok(e)
    }

    /// The sandbox role's name.
    pub fn role(&self) -> Option<&str> {
        self.sandbox.as_ref().map(|s| s.role.as_str())
    }

    /// Hand the working database (its objects, and connecting to it) to
    /// the sandbox role: after it is created, after rollproof's setup,
    /// and after every restore replaced it.
    fn give_to_sandbox(&mut self) -> Result<(), EngineError> {
        let Some(sb) = self.sandbox.clone() else {
            return Ok(());
        };
        let db = self.work.dbname.clone();
        let c = self.client()?;
        sb.grant(c, &db)?;
        Ok(())
    }

    /// The sandbox role's connection: the only one user SQL runs on.
    fn user_client(&mut self) -> Result<&mut Client, EngineError> {
        if self.user.is_none() {
            let sb = self.sandbox.as_ref().ok_or_else(|| EngineError::Db {
                what: "run a migration".into(),
                message: "the sandbox role was dropped".into(),
            })?;
            self.user = Some(sb.connect(&self.work)?);
        }
        self.user.as_mut().ok_or_else(|| EngineError::Db {
            what: "connect".into(),
            message: "no connection".into(),
        })
    }

    /// Close both connections (a database used as a template, or
    /// dropped, must have no sessions).
    fn close(&mut self) {
        self.client = None;
        self.user = None;
    }

    fn client(&mut self) -> Result<&mut Client, EngineError> {
        if self.client.is_none() {
            let mut c = self.work.connect()?;
            guard::authorize_existing(&mut c, &self.work.dbname)?;
            self.client = Some(c);
        }
        self.client.as_mut().ok_or_else(|| EngineError::Db {
            what: "connect".into(),
            message: "no connection".into(),
        })
    }

    fn drop_snapshot(&mut self) -> Result<(), EngineError> {
        if self.has_snap {
            snapshot::drop_database(&self.server, &self.snap)?;
            self.has_snap = false;
        }
        Ok(())
    }
}

fn pg(what: &str, db: &str) -> impl Fn(postgres::Error) -> EngineError {
    let f = crate::engine::postgres::sql_err(what, db);
    move |e| EngineError::Pg(f(e))
}

/// Catalog items as objects: columns as `table.column` with their position,
/// indexes, constraints and triggers by name (qualified by their table),
/// views, sequences, functions; each table named once more as a `table`
/// object whose definition is its column list.
fn objects(items: Vec<CatalogRow>) -> BTreeMap<ObjectKey, String> {
    let strip = |q: &str| q.strip_prefix("public.").unwrap_or(q).to_string();
    let mut out = BTreeMap::new();
    let mut tables: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut relations: BTreeMap<String, String> = BTreeMap::new();
    for r in items {
        let (kind, obj, sub, def) = (r.kind, strip(&r.obj), r.sub, r.def.unwrap_or_default());
        let (name, def) = match kind.as_str() {
            "column" => {
                let (pos, col) = sub.split_once(' ').unwrap_or(("", sub.as_str()));
                tables.entry(obj.clone()).or_default().push(col.to_string());
                (
                    format!("{obj}.{col}"),
                    format!("#{} {def}", pos.trim_start_matches('0')),
                )
            }
            // Kept with the table, view or sequence it describes (below).
            "relation" => {
                relations.insert(obj, def);
                continue;
            }
            "function" => (format!("{obj}({sub})"), def),
            _ if sub.is_empty() => (obj, def),
            _ => (format!("{sub} on {obj}"), def),
        };
        out.insert(ObjectKey { kind, name }, def);
    }
    for (name, rel) in relations {
        let owner = ["view", "sequence"]
            .into_iter()
            .map(|kind| ObjectKey {
                kind: kind.into(),
                name: name.clone(),
            })
            .find(|k| out.contains_key(k));
        match (owner, tables.get(&name)) {
            (Some(k), _) => {
                let d = out.entry(k).or_default();
                d.push_str(&format!(" ({rel})"));
            }
            (None, Some(cols)) => {
                out.insert(
                    ObjectKey {
                        kind: "table".into(),
                        name,
                    },
                    format!("({}) {rel}", cols.join(", ")),
                );
            }
            (None, None) => {
                out.insert(
                    ObjectKey {
                        kind: "relation".into(),
                        name,
                    },
                    rel,
                );
            }
        }
    }
    out
}

impl StepEngine for PgEngine {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn setup(&mut self, sql: &[String]) -> Result<(), EngineError> {
        let db = self.work.dbname.clone();
        let c = self.client()?;
        for s in sql {
            c.batch_execute(s)
                .map_err(pg("create the bookkeeping table", &db))?;
        }
        // The bookkeeping table is the role's, as the tool's user's.
        self.give_to_sandbox()
    }

    fn run(
        &mut self,
        script: &Script,
        mode: ScriptMode,
        book: &Bookkeeping,
    ) -> Result<Result<(), ScriptError>, EngineError> {
        let role = self.role().unwrap_or_default().to_string();
        let c = self.user_client()?;
        Ok(run_on(c, &role, script, mode, book))
    }

    fn measure(&mut self) -> Result<State, EngineError> {
        let db = self.work.dbname.clone();
        let c = self.client()?;
        let digested = logical::digest(c, &db)?;
        let items = catalog::describe(c, &db)?;
        Ok(State {
            logical: digested.digest,
            settings: BTreeMap::new(),
            objects: objects(items),
        })
    }

    fn snapshot(&mut self) -> Result<(), EngineError> {
        self.close();
        self.drop_snapshot()?;
        snapshot::clone_template(
            &self.server,
            &self.work.dbname,
            &self.snap,
            "migrations snapshot",
        )?;
        self.has_snap = true;
        Ok(())
    }

    fn restore(&mut self) -> Result<(), EngineError> {
        self.close();
        if !self.has_snap {
            return Err(EngineError::Db {
                what: "restore".into(),
                message: "no snapshot was taken".into(),
            });
        }
        snapshot::drop_database(&self.server, &self.work.dbname)?;
        snapshot::clone_template(
            &self.server,
            &self.snap,
            &self.work.dbname,
            "migrations rehearsal",
        )?;
        self.give_to_sandbox()
    }

    fn diff(&mut self, tables: &[String], limit: usize) -> Result<Vec<TableDiff>, EngineError> {
        let mut before = self.server.with_db(&self.snap).connect()?;
        guard::authorize_existing(&mut before, &self.snap)?;
        let db = self.work.dbname.clone();
        let after = self.client()?;
        Ok(diff::diff(&mut before, after, &db, tables, limit)?)
    }

    fn fill(
        &mut self,
        plan: &super::data::DataPlan,
        step: usize,
    ) -> Result<super::data::Filled, EngineError> {
        if plan.source == super::data::Source::None {
            return Ok(super::data::Filled::default());
        }
        // Rows are rollproof's own writes: the admin connection, never
        // the sandbox role's (docs/MIGRATIONS.md "Data first").
        let c = self.client()?;
        Ok(super::data_pg::fill(c, plan, step)?)
    }

    fn location(&self) -> String {
        self.work.display.clone()
    }

    fn finish(&mut self) -> Result<(), EngineError> {
        self.close();
        // The role goes first (also from a kept database: what it owned
        // there is handed back to rollproof's user).
        let dropped = match self.sandbox.take() {
            Some(sb) => sb.drop_role(&self.work).map_err(EngineError::from),
            None => Ok(()),
        };
        if !self.keep {
            self.drop_snapshot()?;
            snapshot::drop_database(&self.server, &self.work.dbname)?;
        }
        // The role is gone: another run may compare the server's roles.
        self.cluster_lock = None;
        dropped
    }
}

fn bookkeeping_error(sql: &str, e: &postgres::Error) -> ScriptError {
    ScriptError {
        statement_index: 0,
        line: 0,
        sql: super::engine::short_sql(sql),
        message: format!(
            "the tool's own bookkeeping failed: {}",
            crate::engine::postgres::message(e)
        ),
    }
}

fn ours(c: &mut Client, sql: &[String], own_tx: bool) -> Result<(), ScriptError> {
    if sql.is_empty() {
        return Ok(());
    }
    let mut batch = sql.join(";\n");
    if own_tx {
        batch = format!("BEGIN;\n{batch};\nCOMMIT;");
    }
    c.batch_execute(&batch).map_err(|e| {
        if own_tx {
            let _ = c.batch_execute("ROLLBACK");
        }
        bookkeeping_error(&batch, &e)
    })
}

/// The tool's run of one script: as on SQLite (`super::sqlite`), each
/// statement its own simple-query message.
fn run_on(
    c: &mut Client,
    role: &str,
    script: &Script,
    mode: ScriptMode,
    book: &Bookkeeping,
) -> Result<(), ScriptError> {
    ours(c, &book.before, true)?;
    if mode.transaction {
        c.batch_execute("BEGIN")
            .map_err(|e| bookkeeping_error("BEGIN", &e))?;
    }
    let body = super::runner::run_postgres(c, &script.sql, script.first_line, role)
        .and_then(|()| ours(c, &book.inside, false))
        .and_then(|()| {
            if mode.transaction {
                c.batch_execute("COMMIT").map_err(|e| ScriptError {
                    statement_index: 0,
                    line: 0,
                    sql: "COMMIT".into(),
                    message: crate::engine::postgres::message(&e),
                })
            } else {
                Ok(())
            }
        });
    if let Err(e) = body {
        // An aborted transaction (ours or one the script opened) must end.
        let _ = c.batch_execute("ROLLBACK");
        return Err(e);
    }
    ours(c, &book.after, true)
}
