//! The activity timeline: creates (the last `births` of them through
//! `fn_birth_register`), updates and logins, interleaved in time order.
//!
//! Timestamps as Directus writes them: the item's `date_created` (or
//! `date_updated`) is the request's moment, its `directus_activity` row
//! follows 1–7 ms later (what real Directus 12.4 measured). A birth
//! through `fn_birth_register` writes one moment for both, as that
//! function does.
//!
//! Why two threads: every value (fake text, JSON, derived ids) comes from the
//! seeded RNG streams alone, never from the database, so a planner thread can
//! produce the events while this thread writes them. The RNG draws happen in
//! exactly one order, so the file stays byte-identical to a single-threaded
//! run; the planner's work simply leaves SQLite's critical path.
//!
//! Why one text buffer per batch: events hold spans into it, not strings of
//! their own. Freeing millions of small strings on the writer that the
//! planner had allocated made the two threads fight over glibc's arena lock;
//! now the planner frees its temporaries itself and the writer frees two
//! buffers per batch.

use super::{Col, Counts, Generator, ascii_lower, derived_uuid, make_payload, table_rng};
use crate::surface::{self, BirthRef};
use crate::util::timefmt::iso_millis;
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

/// A piece of a batch's text.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    len: u32,
}

/// Events and the text they refer to.
struct Batch {
    text: String,
    events: Vec<Event>,
}

impl Batch {
    fn with_capacity(text: usize) -> Batch {
        Batch {
            text: String::with_capacity(text),
            events: Vec::with_capacity(BATCH),
        }
    }

    fn put(&mut self, s: &str) -> Span {
        let start = self.text.len() as u32;
        self.text.push_str(s);
        Span {
            start,
            len: s.len() as u32,
        }
    }

    fn put_opt(&mut self, s: Option<String>) -> Option<Span> {
        s.map(|s| self.put(&s))
    }

    fn get(&self, s: Span) -> &str {
        &self.text[s.start as usize..(s.start + s.len) as usize]
    }

    fn get_opt(&self, s: Option<Span>) -> Option<&str> {
        s.map(|s| self.get(s))
    }
}

/// Fields every activity row carries.
#[derive(Clone, Copy)]
struct Actor {
    user: Span,
    /// The item's moment.
    at: Span,
    /// The activity row's moment, 1–7 ms later.
    logged: Span,
    ip: Option<Span>,
    agent: Option<Span>,
    origin: Option<Span>,
}

/// The created item, as a plain create and a birth both write it.
#[derive(Clone, Copy)]
struct Created {
    item: Span,
    status: Span,
    kind: Span,
    key: Span,
    /// The payload, serialised once.
    body: Span,
    /// The revision's data = delta.
    fields: Span,
}

/// One history event, fully valued (its text in the batch).
enum Event {
    /// A plain Directus create (before `fn_birth_register` existed).
    Create { actor: Actor, created: Created },
    /// A birth through `fn_birth_register`, then its registry status.
    Birth {
        actor: Actor,
        created: Created,
        object_uid: Span,
        source: Span,
        registry_status: Span,
    },
    /// A status change of a recent object.
    Update {
        actor: Actor,
        target: Span,
        status: Span,
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
    fn produce(self, tx: SyncSender<Batch>) {
        let c = &self.counts;
        let seed = self.seed;
        let mut rng = table_rng(seed, "directus_activity");
        let mut obj_rng = table_rng(seed, "objects");
        let mut birth_rng = table_rng(seed, "birth_registry");
        let plain_creates = c.objects - c.births;
        let (mut created, mut updates_left, mut logins_left) =
            (0u64, c.revisions - c.objects, c.activity - c.revisions);
        let step = (super::HISTORY_SPAN_MS / c.activity.max(1) as i64).max(1);
        let mut text_capacity = 1 << 16;
        let mut batch = Batch::with_capacity(text_capacity);
        for event in 0..c.activity {
            let ms = super::HISTORY_START_MS + event as i64 * step + rng.random_range(0..step);
            let (at, logged) = (iso_millis(ms), iso_millis(ms + rng.random_range(1..=7)));
            let user = derived_uuid(seed, "directus_users", rng.random_range(0..c.users));
            let ip =
                (!self.ip.is_null(&mut rng)).then(|| IPv4().fake_with_rng::<String, _>(&mut rng));
            let agent = (!self.agent.is_null(&mut rng))
                .then(|| UserAgent().fake_with_rng::<String, _>(&mut rng));
            let origin =
                (!self.origin.is_null(&mut rng)).then(|| "https://cms.example.com".to_string());
            let actor = Actor {
                user: batch.put(&user),
                at: batch.put(&at),
                logged: batch.put(&logged),
                ip: batch.put_opt(ip),
                agent: batch.put_opt(agent),
                origin: batch.put_opt(origin),
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
                // Serialise the payload once and splice it into the
                // revision, exactly as fn_birth_register does.
                let body = make_payload(&mut obj_rng, &self.payload, &kind).to_string();
                let fields = surface::submitted_fields(&item, &status, &kind, &key, &body);
                let spans = Created {
                    item: batch.put(&item),
                    status: batch.put(&status),
                    kind: batch.put(&kind),
                    key: batch.put(&key),
                    body: batch.put(&body),
                    fields: batch.put(&fields),
                };
                let ev = if created < plain_creates {
                    Event::Create {
                        actor,
                        created: spans,
                    }
                } else {
                    let object_uid = format!("OBJ-{}-{:08}", &at[..4], created);
                    let source = self.source.category(&mut birth_rng);
                    let registry_status = self.birth_status.category(&mut birth_rng);
                    Event::Birth {
                        actor,
                        created: spans,
                        object_uid: batch.put(&object_uid),
                        source: batch.put(&source),
                        registry_status: batch.put(&registry_status),
                    }
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
                    target: batch.put(&target),
                    status: batch.put(&status),
                }
            } else {
                logins_left -= 1;
                Event::Login { actor }
            };
            batch.events.push(ev);
            if batch.events.len() == BATCH {
                text_capacity = text_capacity.max(batch.text.len());
                let full = std::mem::replace(&mut batch, Batch::with_capacity(text_capacity));
                if tx.send(full).is_err() {
                    return;
                }
            }
        }
        if !batch.events.is_empty() {
            let _ = tx.send(batch);
        }
    }
}

impl Actor {
    /// Insert this actor's `directus_activity` row.
    fn log(
        &self,
        b: &Batch,
        stmt: &mut rusqlite::CachedStatement<'_>,
        action: &str,
        collection: &str,
        item: &str,
    ) -> rusqlite::Result<()> {
        stmt.execute(params![
            action,
            b.get(self.user),
            b.get(self.logged),
            b.get_opt(self.ip),
            b.get_opt(self.agent),
            collection,
            item,
            b.get_opt(self.origin)
        ])?;
        Ok(())
    }
}

impl Generator<'_> {
    /// Plan on a second thread, write here.
    pub(super) fn history(&mut self) -> rusqlite::Result<()> {
        let plan = Plan::new(self);
        let (tx, rx) = sync_channel::<Batch>(IN_FLIGHT);
        std::thread::scope(|s| {
            s.spawn(move || plan.produce(tx));
            // Returning (even early, on an error) drops `rx`, which stops
            // the planner; the scope then joins it.
            self.write_events(rx)
        })
    }

    fn write_events(&mut self, rx: Receiver<Batch>) -> rusqlite::Result<()> {
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
        let mut registry_status_stmt =
            conn.prepare_cached("UPDATE birth_registry SET status = ?1 WHERE id = ?2")?;
        let mut written = 0u64;
        let delta_of = |status: &str| json!({ "status": status }).to_string();
        for b in rx {
            for ev in &b.events {
                if written > 0 && written.is_multiple_of(super::EVENTS_PER_COMMIT) {
                    conn.execute_batch("COMMIT; BEGIN")?;
                }
                written += 1;
                match *ev {
                    Event::Create {
                        actor: a,
                        created: c,
                    } => {
                        let item = b.get(c.item);
                        objects.execute(params![
                            item,
                            b.get(c.status),
                            b.get(c.kind),
                            b.get(c.key),
                            b.get(c.body),
                            b.get(a.user),
                            b.get(a.at)
                        ])?;
                        a.log(&b, &mut activity, "create", surface::COLLECTION, item)?;
                        let id = conn.last_insert_rowid();
                        let fields = b.get(c.fields);
                        revision.execute(params![id, surface::COLLECTION, item, fields, fields])?;
                        self.bar.inc(3);
                    }
                    Event::Birth {
                        actor: a,
                        created: c,
                        object_uid,
                        source,
                        registry_status,
                    } => {
                        let ids = surface::birth_register_ref(
                            conn,
                            &BirthRef {
                                item: b.get(c.item),
                                object_uid: b.get(object_uid),
                                kind: b.get(c.kind),
                                key: b.get(c.key),
                                status: b.get(c.status),
                                payload: b.get(c.body),
                                user: b.get(a.user),
                                at: b.get(a.at),
                                source: b.get(source),
                                ip: b.get_opt(a.ip),
                                user_agent: b.get_opt(a.agent),
                                origin: b.get_opt(a.origin),
                                fields: b.get(c.fields),
                            },
                        )?;
                        let registry_status = b.get(registry_status);
                        if registry_status != "born" {
                            registry_status_stmt.execute(params![registry_status, ids.registry])?;
                        }
                        self.bar.inc(4);
                    }
                    Event::Update {
                        actor: a,
                        target,
                        status,
                    } => {
                        let (target, status) = (b.get(target), b.get(status));
                        let data: String = update.query_row(
                            params![status, b.get(a.user), b.get(a.at), target],
                            |r| r.get(0),
                        )?;
                        a.log(&b, &mut activity, "update", surface::COLLECTION, target)?;
                        let id = conn.last_insert_rowid();
                        revision.execute(params![
                            id,
                            surface::COLLECTION,
                            target,
                            data,
                            delta_of(status)
                        ])?;
                        self.bar.inc(2);
                    }
                    Event::Login { actor: a } => {
                        a.log(&b, &mut activity, "login", "directus_users", b.get(a.user))?;
                        self.bar.inc(1);
                    }
                }
            }
        }
        Ok(())
    }
}
