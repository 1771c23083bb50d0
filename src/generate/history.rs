//! The activity timeline: creates (the last `births` of them through
//! `fn_birth_register`), updates, deletes and logins, interleaved in time
//! order, ending at the profile's as-of day ([`super::history_end_ms`]).
//!
//! Rows as Directus writes them (measured on 12.4.1, docs/SURFACE.md):
//! - a create: the item, a `create` activity, a revision whose `data` =
//!   `delta` = the submitted fields;
//! - an update: an `update` activity, a revision whose `data` is the full
//!   read-back without `user_created`/`user_updated` and whose `delta` is
//!   the changed fields plus `user_updated` and `date_updated`;
//! - a delete (a plain create's item, never a birth: its registry record
//!   holds it): the item goes, a `delete` activity and no revision; the
//!   item's earlier activity and revisions stay;
//! - JSON text as JavaScript serialises it ([`crate::surface::json`]).
//!
//! Timestamps: the item's `date_created` (or `date_updated`) is the
//! request's moment, its `directus_activity` row follows 1–7 ms later. A
//! birth through `fn_birth_register` writes one moment for both, as that
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
use rand_chacha::ChaCha8Rng;
use rusqlite::params;
use serde_json::json;
use std::collections::HashSet;
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
    /// A recent plain create's item deleted through the API.
    Delete { actor: Actor, target: Span },
    /// A login: an activity row only.
    Login { actor: Actor },
}

/// Everything the planner needs: sampling rules and counts, no database.
struct Plan {
    seed: u64,
    counts: Counts,
    /// First moment of the history (epoch ms).
    start_ms: i64,
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
            start_ms: g.start_ms,
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
        let deletes = deletes(c);
        // Deleted items are created too: `objects` ends at its profiled count.
        let to_create = c.objects + deletes;
        let plain_creates = to_create - c.births;
        let mut left = Left {
            creates: to_create,
            updates: c.revisions - c.objects - deletes,
            deletes,
            logins: c.activity - c.revisions - deletes,
        };
        let mut created = 0u64;
        let mut deleted: HashSet<u64> = HashSet::new();
        let step = (super::HISTORY_SPAN_MS / c.activity.max(1) as i64).max(1);
        let mut text_capacity = 1 << 16;
        let mut batch = Batch::with_capacity(text_capacity);
        for event in 0..c.activity {
            let ms = self.start_ms + event as i64 * step + rng.random_range(0..step);
            let actor = self.actor(&mut rng, &mut batch, ms);
            let live = created - deleted.len() as u64;
            let deletable = created.min(plain_creates) - deleted.len() as u64;
            let upd_w = if live > 0 { left.updates } else { 0 };
            let del_w = if deletable > 0 { left.deletes } else { 0 };
            let pick = rng.random_range(0..(left.creates + upd_w + del_w + left.logins).max(1));
            let ev = if pick < left.creates {
                let birth = created >= plain_creates;
                let ev = self.create(
                    &mut obj_rng,
                    &mut birth_rng,
                    &mut batch,
                    actor,
                    created,
                    birth,
                );
                created += 1;
                left.creates -= 1;
                ev
            } else if pick < left.creates + upd_w {
                // Edits go to recent objects, as in a live registry (and
                // the pages they touch stay in the cache).
                let target = pick_live(&mut rng, created, &deleted);
                let status = self.status.category(&mut rng);
                left.updates -= 1;
                Event::Update {
                    actor,
                    target: batch.put(&derived_uuid(seed, "objects", target)),
                    status: batch.put(&status),
                }
            } else if pick < left.creates + upd_w + del_w {
                let target = pick_live(&mut rng, created.min(plain_creates), &deleted);
                deleted.insert(target);
                left.deletes -= 1;
                Event::Delete {
                    actor,
                    target: batch.put(&derived_uuid(seed, "objects", target)),
                }
            } else {
                left.logins = left.logins.saturating_sub(1);
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

    /// The acting user and request fields of the event at `ms`.
    fn actor(&self, rng: &mut ChaCha8Rng, batch: &mut Batch, ms: i64) -> Actor {
        let (at, logged) = (iso_millis(ms), iso_millis(ms + rng.random_range(1..=7)));
        let user = derived_uuid(
            self.seed,
            "directus_users",
            rng.random_range(0..self.counts.users),
        );
        let ip = (!self.ip.is_null(rng)).then(|| IPv4().fake_with_rng::<String, _>(rng));
        let agent = (!self.agent.is_null(rng)).then(|| UserAgent().fake_with_rng::<String, _>(rng));
        let origin = (!self.origin.is_null(rng)).then(|| "https://cms.example.com".to_string());
        Actor {
            user: batch.put(&user),
            at: batch.put(&at),
            logged: batch.put(&logged),
            ip: batch.put_opt(ip),
            agent: batch.put_opt(agent),
            origin: batch.put_opt(origin),
        }
    }

    /// Create number `n`: a plain Directus create, or a birth.
    fn create(
        &self,
        obj_rng: &mut ChaCha8Rng,
        birth_rng: &mut ChaCha8Rng,
        batch: &mut Batch,
        actor: Actor,
        n: u64,
        birth: bool,
    ) -> Event {
        let item = derived_uuid(self.seed, "objects", n);
        let kind = self.kind.category(obj_rng);
        let status = self.status.category(obj_rng);
        let key = format!(
            "{}-{}-{:08}",
            kind,
            ascii_lower(&Word().fake_with_rng::<String, _>(obj_rng)),
            n
        );
        // Serialise the payload once, as JavaScript does, and splice it
        // into the revision, exactly as fn_birth_register does.
        let body = surface::json::stringify(&make_payload(obj_rng, &self.payload, &kind));
        let fields = surface::submitted_fields(&item, &status, &kind, &key, &body);
        let created = Created {
            item: batch.put(&item),
            status: batch.put(&status),
            kind: batch.put(&kind),
            key: batch.put(&key),
            body: batch.put(&body),
            fields: batch.put(&fields),
        };
        if !birth {
            return Event::Create { actor, created };
        }
        let at = batch.get(actor.at);
        let object_uid = format!("OBJ-{}-{:08}", &at[..4], n);
        let source = self.source.category(birth_rng);
        let registry_status = self.birth_status.category(birth_rng);
        Event::Birth {
            actor,
            created,
            object_uid: batch.put(&object_uid),
            source: batch.put(&source),
            registry_status: batch.put(&registry_status),
        }
    }
}

/// Events of each kind still to plan.
struct Left {
    creates: u64,
    updates: u64,
    deletes: u64,
    logins: u64,
}

/// Deletes in the history: one per 20 plain creates (at least one when
/// there is any), within what the revision and activity counts leave (a
/// deleted item's create is one more revision, its delete one more
/// activity row, so as many updates and logins fewer).
fn deletes(c: &Counts) -> u64 {
    let plain = c.objects - c.births;
    plain
        .div_ceil(20)
        .min(c.revisions - c.objects)
        .min(c.activity - c.revisions)
}

/// An object index below `below` that is not deleted, drawn among the
/// [`super::RECENT_OBJECTS`] most recent (the nearest live one after the
/// draw, wrapping; the whole range if all recent ones are deleted). The
/// caller makes sure a live one exists.
fn pick_live(rng: &mut ChaCha8Rng, below: u64, deleted: &HashSet<u64>) -> u64 {
    let lo = below.saturating_sub(super::RECENT_OBJECTS);
    let drawn = rng.random_range(lo..below);
    let window = (drawn..below).chain(lo..drawn);
    window
        .chain(0..lo)
        .find(|i| !deleted.contains(i))
        .unwrap_or(drawn)
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
        // data = the full read-back of the updated item, as Directus stores
        // it: every field in column order except user_created/user_updated.
        let mut update = conn.prepare_cached(
            "UPDATE objects SET status = ?1, user_updated = ?2, date_updated = ?3 WHERE id = ?4 RETURNING json_object('id', id, 'status', status, 'date_created', date_created, 'date_updated', date_updated, 'kind', kind, 'key', key, 'payload', json(payload))",
        )?;
        let mut delete = conn.prepare_cached("DELETE FROM objects WHERE id = ?1")?;
        let mut registry_status_stmt =
            conn.prepare_cached("UPDATE birth_registry SET status = ?1 WHERE id = ?2")?;
        let mut written = 0u64;
        // delta = the changed fields, then what Directus fills in on update.
        let delta_of = |status: &str, user: &str, at: &str| {
            json!({ "status": status, "user_updated": user, "date_updated": at }).to_string()
        };
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
                            delta_of(status, b.get(a.user), b.get(a.at))
                        ])?;
                        self.bar.inc(2);
                    }
                    Event::Delete { actor: a, target } => {
                        let target = b.get(target);
                        delete.execute([target])?;
                        a.log(&b, &mut activity, "delete", surface::COLLECTION, target)?;
                        self.bar.inc(1);
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
