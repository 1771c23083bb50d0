//! Deterministic birth requests for the `births` apply: request `i` is a
//! pure function of (seed, i, kind mix, acting users), so the engine, the
//! kill-fault worker process and the benchmark's SQL emitter all produce the
//! same requests without holding them in memory.

use super::RehearseError;
use crate::engine::{Backend, BirthPlan};
use crate::generate::{derived_uuid, table_rng};
use crate::rehearse::scenario::{ApplyKind, Loaded};
use crate::surface::{self, Birth};
use crate::util::timefmt::iso_millis;
use fake::Fake;
use fake::faker::internet::en::{IPv4, UserAgent};
use fake::faker::lorem::en::{Sentence, Words};
use rand::RngExt;
use serde_json::json;
use std::collections::BTreeMap;

/// First birth's timestamp on a surrogate of the default as-of day: the
/// end of its generated history (2026-07-01, [`crate::generate::DEFAULT_AS_OF`]).
/// A rehearsal starts its births where its surrogate's history ends
/// ([`plan`]); the benchmark's SQL emitter uses this.
pub const DEFAULT_START_MS: i64 = 1_782_864_000_000;

/// How many users (ids ascending) births are attributed to, at most.
pub const USER_LIMIT: usize = 1000;

/// The births plan of a births scenario (None for an sql apply): its
/// seed, count and kind mix, attributed to the target's first users,
/// starting at `start_ms`: where the surrogate's generated history ends
/// (its profile's as-of day), so births follow the history they join.
pub(super) fn plan(
    be: &mut dyn Backend,
    sc: &Loaded,
    start_ms: i64,
) -> Result<Option<BirthPlan>, RehearseError> {
    let spec = &sc.spec;
    if spec.apply.kind != ApplyKind::Births {
        return Ok(None);
    }
    let missing = be.births_missing()?;
    if !missing.is_empty() {
        return Err(RehearseError::Input(format!(
            "scenario {}: apply.kind = \"births\" needs the birth-register surface, and this database lacks it: {} (a database without the surface still rehearses SQL changes: kind = \"sql\")",
            sc.path.display(),
            missing.join("; ")
        )));
    }
    let users = be.users(USER_LIMIT)?;
    if users.is_empty() {
        return Err(RehearseError::Input(format!(
            "scenario {}: the surrogate has no directus_users to register births as",
            sc.path.display()
        )));
    }
    let kinds: Vec<(String, f64)> = spec
        .apply
        .kinds
        .clone()
        .unwrap_or_else(|| {
            BTreeMap::from([("meter".to_string(), 1.0), ("sensor".to_string(), 1.0)])
        })
        .into_iter()
        .collect();
    Ok(Some(BirthPlan {
        seed: spec.apply.seed.unwrap_or(1),
        count: spec.apply.count.unwrap_or(0),
        kinds,
        users,
        start_ms,
    }))
}

/// The item id of birth `i` (cheap: no other value is derived).
pub fn item_id(plan: &BirthPlan, i: u64) -> String {
    derived_uuid(plan.seed, "rollproof-apply-item", i)
}

/// Birth request `i` of `plan`.
pub fn birth(plan: &BirthPlan, i: u64) -> Birth {
    let mut rng = table_rng(plan.seed, &format!("rollproof-apply-birth-{i}"));
    let total: f64 = plan.kinds.iter().map(|(_, w)| w).sum();
    let mut x = rng.random::<f64>() * total;
    let mut kind = plan
        .kinds
        .last()
        .map(|(k, _)| k.clone())
        .unwrap_or_else(|| "sensor".into());
    for (k, w) in &plan.kinds {
        if x < *w {
            kind = k.clone();
            break;
        }
        x -= w;
    }
    let user = if plan.users.is_empty() {
        String::new()
    } else {
        plan.users[rng.random_range(0..plan.users.len())].clone()
    };
    let at = iso_millis(plan.start_ms + i as i64 * 1000 + rng.random_range(0..1000i64));
    let tags: Vec<String> = Words(1..4).fake_with_rng(&mut rng);
    let payload = json!({
        "title": Sentence(2..6).fake_with_rng::<String, _>(&mut rng),
        "serial": format!("SN-{}-{:06}", kind.to_uppercase(), rng.random_range(0..1_000_000u32)),
        "tags": tags,
        "notes": "registered by a rollproof rehearsal",
    });
    Birth {
        item: item_id(plan, i),
        // A '.' never occurs in generated uids or keys, so these cannot
        // collide with the surrogate's own rows.
        object_uid: format!("OBJ-rollproof.{}-{:08}", plan.seed, i),
        key: format!("{kind}-rollproof.{}-{:08}", plan.seed, i),
        kind,
        status: if rng.random_bool(0.8) {
            "published".into()
        } else {
            "draft".into()
        },
        payload: payload.to_string(),
        user,
        at,
        source: "api".into(),
        ip: Some(IPv4().fake_with_rng::<String, _>(&mut rng)),
        user_agent: Some(UserAgent().fake_with_rng::<String, _>(&mut rng)),
        origin: Some("https://cms.example.com".into()),
    }
}

/// When the `api-delete` compensation deletes birth `i` (docs/SCENARIOS.md):
/// an hour after the last birth's second, one second per delete, the
/// latest birth first (deletes run in reverse order).
pub fn api_delete_at(plan: &BirthPlan, i: u64) -> String {
    let after_births = plan.start_ms + plan.count as i64 * 1000 + 3_600_000;
    iso_millis(after_births + (plan.count.saturating_sub(i + 1)) as i64 * 1000)
}

/// Run `delete` on the Directus API delete of every birth made (the first
/// `done`), latest first: the request as its birth's user, from the
/// birth's client, at [`api_delete_at`].
pub fn for_each_api_delete<E>(
    plan: &BirthPlan,
    done: u64,
    mut delete: impl FnMut(&surface::ApiDelete<'_>) -> Result<(), E>,
) -> Result<(), E> {
    for i in (0..done).rev() {
        let b = birth(plan, i);
        let at = api_delete_at(plan, i);
        delete(&surface::ApiDelete {
            item: &b.item,
            user: &b.user,
            at: &at,
            ip: b.ip.as_deref(),
            user_agent: b.user_agent.as_deref(),
            origin: b.origin.as_deref(),
        })?;
    }
    Ok(())
}

fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn opt(s: &Option<String>) -> String {
    s.as_deref().map(lit).unwrap_or_else(|| "NULL".into())
}

/// The SQL the sqlite3 shell runs to make the same birth as
/// `surface::birth_register` (used by the benchmark's shell baseline).
pub fn birth_sql(b: &Birth) -> String {
    let c = lit(surface::COLLECTION);
    format!(
        "SAVEPOINT fn_birth_register;\n\
INSERT INTO objects (id, status, kind, key, payload, user_created, date_created) VALUES ({item}, {status}, {kind}, {key}, {payload}, {user}, {at});\n\
INSERT INTO directus_activity (action, \"user\", \"timestamp\", ip, user_agent, collection, item, origin) VALUES ('create', {user}, {at}, {ip}, {ua}, {c}, {item}, {origin});\n\
INSERT INTO directus_revisions (activity, collection, item, data, delta, parent, version) VALUES (last_insert_rowid(), {c}, {item}, {fields}, {fields}, NULL, NULL);\n\
INSERT INTO birth_registry (object_uid, kind, born_by, born_at, source, collection, item, status, activity, revision) VALUES ({uid}, {kind}, {user}, {at}, {source}, {c}, {item}, 'born', (SELECT activity FROM directus_revisions WHERE id = last_insert_rowid()), last_insert_rowid());\n\
RELEASE fn_birth_register;\n",
        item = lit(&b.item),
        status = lit(&b.status),
        kind = lit(&b.kind),
        key = lit(&b.key),
        payload = lit(&b.payload),
        user = lit(&b.user),
        at = lit(&b.at),
        ip = opt(&b.ip),
        ua = opt(&b.user_agent),
        origin = opt(&b.origin),
        fields = lit(&b.submitted_fields()),
        uid = lit(&b.object_uid),
        source = lit(&b.source),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    fn plan() -> BirthPlan {
        BirthPlan {
            seed: 3,
            count: 10,
            kinds: vec![("meter".into(), 1.0), ("sensor".into(), 3.0)],
            users: vec!["u1".into(), "u2".into()],
            start_ms: DEFAULT_START_MS,
        }
    }

    #[test]
    fn the_default_start_is_the_end_of_the_default_history() {
        assert_eq!(
            crate::generate::history_end_ms(None).unwrap(),
            DEFAULT_START_MS
        );
    }

    #[test]
    fn requests_are_deterministic_and_distinct() {
        let p = plan();
        assert_eq!(birth(&p, 4), birth(&p, 4));
        assert_ne!(birth(&p, 4).item, birth(&p, 5).item);
        assert_eq!(birth(&p, 4).item, item_id(&p, 4));
        assert!(birth(&p, 4).at < birth(&p, 5).at);
    }

    #[test]
    fn shell_sql_writes_the_same_rows_as_the_function() {
        let p = plan();
        let mk = || {
            let c = Connection::open_in_memory().unwrap();
            surface::create_schema(&c).unwrap();
            c.execute_batch("INSERT INTO directus_users (id) VALUES ('u1'), ('u2');")
                .unwrap();
            c
        };
        let (a, b) = (mk(), mk());
        for i in 0..p.count {
            surface::birth_register(&a, &birth(&p, i)).unwrap();
            b.execute_batch(&birth_sql(&birth(&p, i))).unwrap();
        }
        assert_eq!(
            crate::engine::sqlite::logical::digest_conn(&a).unwrap(),
            crate::engine::sqlite::logical::digest_conn(&b).unwrap()
        );
    }
}
