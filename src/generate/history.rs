//! The activity timeline: creates (the last `births` of them through
//! `fn_birth_register`), updates and logins, interleaved in time order.
//!
//! Why two threads: every value (fake text, JSON, derived ids) comes from the
//! seeded RNG streams alone, never from the database, so a planner thread can
//! produce the events while this thread writes them. The RNG draws happen in
//! exactly one order, so the file stays byte-identical to a single-threaded
//! run; the planner's work simply leaves SQLite's critical path.

use super::{Col, Counts, Generator, ascii_lower, derived_uuid, make_payload, table_rng};
use crate::surface::{self, Birth};
use crate::timefmt::iso_millis;
use fake::Fake;
use fake::faker::internet::en::{IPv4, UserAgent};
use fake::faker::lorem::en::Word;
use rand::RngExt;
use rusqlite::params;
use serde_json::json;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Events per message between the threads (amortises channel costs).
const BATCH: usize = 512;
/// Batches in flight: bounds the planner's lead, and so memory.
const IN_FLIGHT: usize = 16;

/// Fields every activity row carries.
struct Actor {
    user: String,
    at: String,
    ip: Option<String>,
    agent: Option<String>,
    origin: Option<String>,
}

/// One history event, fully valued.
enum Event {
    /// A plain Directus create (before `fn_birth_register` existed).
    Create {
        actor: Actor,
        item: String,
        status: String,
        kind: String,
        key: String,
        /// The payload, serialised once.
        body: String,
        /// The revision's data = delta.
        fields: String,
    },
    /// A birth through `fn_birth_register`, then its registry status.
    Birth { birth: Birth, status: String },
    /// A status change of a recent object.
    Update {
        actor: Actor,
        target: String,
        status: String,
    },
    /// A login: an activity row only.
    Login { actor: Actor },
}

/// Everything the planner needs: sampling rules and counts, no database.
struct Plan {
    seed: u64,
    counts: Counts,
    kind: Col,
    status: Col,
    payload: Col,
    ip: Col,
    agent: Col,
    origin: Col,
    source: Col,
    birth_status: Col,
}

impl Plan {
    fn new(g: &Generator<'_>) -> Plan {
        let t = "objects";
        let kinds = [
            ("sensor", 0.35),
            ("meter", 0.25),
            ("gateway", 0.2),
            ("valve", 0.12),
            ("pump", 0.08),
        ];
        let statuses = [("published", 0.8), ("draft", 0.15), ("archived", 0.05)];
        let payload = g.col(t, "payload", &[]);
        let payload = if payload.length.is_none() {
            Col {
                length: Some((120, 900)),
                ..payload
            }
        } else {
            payload
        };
        let sources = [
            ("api", 0.6),
            ("import", 0.25),
            ("flow", 0.1),
            ("manual", 0.05),
        ];
        let birth_statuses = [("born", 0.97), ("voided", 0.02), ("superseded", 0.01)];
        Plan {
            seed: g.seed,
            counts: g.counts.clone(),
            kind: g.col(t, "kind", &kinds),
            status: g.col(t, "status", &statuses),
            payload,
            ip: g.col("directus_activity", "ip", &[]),
            agent: g.col("directus_activity", "user_agent", &[]),
            origin: g.col("directus_activity", "origin", &[]),
            source: g.col("birth_registry", "source", &sources),
            birth_status: g.col("birth_registry", "status", &birth_statuses),
        }
    }

    /// Produce every event in order; stops early if the writer hung up.
    fn produce(self, tx: SyncSender<Vec<Event>>) {
        let c = &self.counts;
        let seed = self.seed;
        let mut rng = table_rng(seed, "directus_activity");
        let mut obj_rng = table_rng(seed, "objects");
        let mut birth_rng = table_rng(seed, "birth_registry");
        let plain_creates = c.objects - c.births;
        let (mut created, mut updates_left, mut logins_left) =
            (0u64, c.revisions - c.objects, c.activity - c.revisions);
        let step = (super::HISTORY_SPAN_MS / c.activity.max(1) as i64).max(1);
        let mut batch = Vec::with_capacity(BATCH);
        for event in 0..c.activity {
            let at = iso_millis(
                super::HISTORY_START_MS + event as i64 * step + rng.random_range(0..step),
            );
            let user = derived_uuid(seed, "directus_users", rng.random_range(0..c.users));
            let ip =
                (!self.ip.is_null(&mut rng)).then(|| IPv4().fake_with_rng::<String, _>(&mut rng));
            let agent = (!self.agent.is_null(&mut rng))
                .then(|| UserAgent().fake_with_rng::<String, _>(&mut rng));
            let origin =
                (!self.origin.is_null(&mut rng)).then(|| "https://cms.example.com".to_string());
            let actor = Actor {
                user,
                at,
                ip,
                agent,
                origin,
            };
            let creates_left = c.objects - created;
            let upd_w = if created > 0 { updates_left } else { 0 };
            let pick = rng.random_range(0..(creates_left + upd_w + logins_left).max(1));
            let ev = if pick < creates_left {
                let item = derived_uuid(seed, "objects", created);
                let kind = self.kind.category(&mut obj_rng);
                let status = self.status.category(&mut obj_rng);
                let key = format!(
                    "{}-{}-{:08}",
                    kind,
                    ascii_lower(&Word().fake_with_rng::<String, _>(&mut obj_rng)),
                    created
                );
                let body = make_payload(&mut obj_rng, &self.payload, &kind);
                let ev = if created < plain_creates {
                    // Serialise the payload once and splice it into the
                    // revision: the same bytes `json!` would write.
                    let body = body.to_string();
                    let fields = format!(
                        "{{\"id\":{},\"status\":{},\"kind\":{},\"key\":{},\"payload\":{body}}}",
                        json!(item),
                        json!(status),
                        json!(kind),
                        json!(key)
                    );
                    Event::Create {
                        actor,
                        item,
                        status,
                        kind,
                        key,
                        body,
                        fields,
                    }
                } else {
                    let birth = Birth {
                        item,
                        object_uid: format!("OBJ-{}-{:08}", &actor.at[..4], created),
                        kind,
                        key,
                        status,
                        payload: body,
                        user: actor.user,
                        at: actor.at,
                        source: self.source.category(&mut birth_rng),
                        ip: actor.ip,
                        user_agent: actor.agent,
                        origin: actor.origin,
                    };
                    let status = self.birth_status.category(&mut birth_rng);
                    Event::Birth { birth, status }
                };
                created += 1;
                ev
            } else if pick < creates_left + upd_w {
                // Edits go to recent objects, as in a live registry (and
                // the pages they touch stay in the cache).
                let recent = created.saturating_sub(super::RECENT_OBJECTS);
                let target = derived_uuid(seed, "objects", rng.random_range(recent..created));
                let status = self.status.category(&mut rng);
                updates_left -= 1;
                Event::Update {
                    actor,
                    target,
                    status,
                }
            } else {
                logins_left -= 1;
                Event::Login { actor }
            };
            batch.push(ev);
            if batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                if tx.send(full).is_err() {
                    return;
                }
            }
        }
        if !batch.is_empty() {
            let _ = tx.send(batch);
        }
    }
}

impl Actor {
    /// Insert this actor's `directus_activity` row.
    fn log(
        &self,
        stmt: &mut rusqlite::CachedStatement<'_>,
        action: &str,
        collection: &str,
        item: &str,
    ) -> rusqlite::Result<()> {
        stmt.execute(params![
            action,
            self.user,
            self.at,
            self.ip,
            self.agent,
            collection,
            item,
            self.origin
        ])?;
        Ok(())
    }
}

impl Generator<'_> {
    /// Plan on a second thread, write here.
    pub(super) fn history(&mut self) -> rusqlite::Result<()> {
        let plan = Plan::new(self);
        let (tx, rx) = sync_channel::<Vec<Event>>(IN_FLIGHT);
        std::thread::scope(|s| {
            s.spawn(move || plan.produce(tx));
            // Returning (even early, on an error) drops `rx`, which stops
            // the planner; the scope then joins it.
            self.write_events(rx)
        })
    }

    fn write_events(&mut self, rx: Receiver<Vec<Event>>) -> rusqlite::Result<()> {
        let conn = self.conn;
        let mut objects = conn.prepare_cached(
            "INSERT INTO objects (id, status, kind, key, payload, user_created, date_created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut activity = conn.prepare_cached(
            "INSERT INTO directus_activity (action, \"user\", \"timestamp\", ip, user_agent, collection, item, origin) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        let mut revision = conn.prepare_cached(
            "INSERT INTO directus_revisions (activity, collection, item, data, delta) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        // data = the full read-back of the updated item, as Directus stores it.
        let mut update = conn.prepare_cached(
            "UPDATE objects SET status = ?1, user_updated = ?2, date_updated = ?3 WHERE id = ?4 RETURNING json_object('id', id, 'status', status, 'kind', kind, 'key', key, 'payload', json(payload), 'user_created', user_created, 'date_created', date_created, 'user_updated', user_updated, 'date_updated', date_updated)",
        )?;
        let mut registry_status =
            conn.prepare_cached("UPDATE birth_registry SET status = ?1 WHERE id = ?2")?;
        let mut written = 0u64;
        for batch in rx {
            for ev in batch {
                if written > 0 && written % super::EVENTS_PER_COMMIT == 0 {
                    conn.execute_batch("COMMIT; BEGIN")?;
                }
                written += 1;
                match ev {
                    Event::Create {
                        actor: a,
                        item,
                        status,
                        kind,
                        key,
                        body,
                        fields,
                    } => {
                        objects.execute(params![item, status, kind, key, body, a.user, a.at])?;
                        a.log(&mut activity, "create", surface::COLLECTION, &item)?;
                        let id = conn.last_insert_rowid();
                        revision.execute(params![id, surface::COLLECTION, item, fields, fields])?;
                        self.bar.inc(3);
                    }
                    Event::Birth { birth, status } => {
                        let ids = surface::birth_register(conn, &birth)?;
                        if status != "born" {
                            registry_status.execute(params![status, ids.registry])?;
                        }
                        self.bar.inc(4);
                    }
                    Event::Update {
                        actor: a,
                        target,
                        status,
                    } => {
                        let data: String = update
                            .query_row(params![status, a.user, a.at, target], |r| r.get(0))?;
                        let delta = json!({ "status": status }).to_string();
                        a.log(&mut activity, "update", surface::COLLECTION, &target)?;
                        let id = conn.last_insert_rowid();
                        revision.execute(params![id, surface::COLLECTION, target, data, delta])?;
                        self.bar.inc(2);
                    }
                    Event::Login { actor: a } => {
                        a.log(&mut activity, "login", "directus_users", &a.user)?;
                        self.bar.inc(1);
                    }
                }
            }
        }
        Ok(())
    }
}
