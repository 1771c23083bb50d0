//! The order to fill tables in so that every foreign key can point at rows
//! that already exist: parents before children. Self-references and cycles
//! cannot be ordered away; the keys that close them are returned as
//! *deferred* — filled NULL (or left to a deferrable constraint) on insert
//! and set by an UPDATE once their targets exist.

use super::{ForeignKey, Schema};
use std::collections::{BTreeMap, BTreeSet};

/// A fill plan: table order and the foreign keys to fill afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillOrder {
    /// Table keys ([`crate::schema::Table::key`]), parents first. Ties are broken by name, so the order is
    /// deterministic.
    pub tables: Vec<String>,
    /// (table, index into its `foreign_keys`) of each key that points at a
    /// table not yet filled when its own table is: self-references and the
    /// edges that break cycles.
    pub deferred: Vec<(String, usize)>,
}

/// Order the schema's tables (virtual tables included, as leaves).
pub fn fill_order(schema: &Schema) -> FillOrder {
    let keys: Vec<String> = schema.tables.iter().map(|t| t.key()).collect();
    let names: BTreeSet<&str> = keys.iter().map(String::as_str).collect();
    // parents[t] = tables t references (other than itself, existing only)
    let refs: Vec<Vec<String>> = schema
        .tables
        .iter()
        .map(|t| t.foreign_keys.iter().map(|fk| fk.ref_key()).collect())
        .collect();
    let mut parents: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (i, key) in keys.iter().enumerate() {
        let set = parents.entry(key.as_str()).or_default();
        for r in &refs[i] {
            if r != key && names.contains(r.as_str()) {
                set.insert(r.as_str());
            }
        }
    }
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut order: Vec<String> = Vec::new();
    while done.len() < names.len() {
        // Every table whose parents are all filled, smallest name first.
        let ready = names
            .iter()
            .copied()
            .find(|n| !done.contains(n) && parents[n].iter().all(|p| done.contains(p)));
        // In a cycle nothing is ready: take the unfilled table with the
        // fewest unfilled parents (then by name) and defer those keys.
        let next = ready.unwrap_or_else(|| {
            names
                .iter()
                .copied()
                .filter(|n| !done.contains(n))
                .min_by_key(|n| (parents[n].iter().filter(|p| !done.contains(*p)).count(), *n))
                .expect("an unfilled table exists")
        });
        done.insert(next);
        order.push(next.to_string());
    }
    let position: BTreeMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let mut deferred = Vec::new();
    for (t, key) in schema.tables.iter().zip(&keys) {
        for (i, fk) in t.foreign_keys.iter().enumerate() {
            if points_forward(fk, key, &position) {
                deferred.push((key.clone(), i));
            }
        }
    }
    deferred.sort();
    FillOrder {
        tables: order,
        deferred,
    }
}

fn points_forward(fk: &ForeignKey, table: &str, position: &BTreeMap<&str, usize>) -> bool {
    match (position.get(fk.ref_key().as_str()), position.get(table)) {
        (Some(p), Some(me)) => p >= me,
        _ => false, // a key to a table outside the schema cannot be ordered
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    fn order(ddl: &str) -> FillOrder {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(ddl).unwrap();
        fill_order(&crate::schema::sqlite::read(&c).unwrap())
    }

    #[test]
    fn parents_come_first_and_ties_break_by_name() {
        let o = order(
            "CREATE TABLE c (id INTEGER PRIMARY KEY, b INT REFERENCES b(id), a INT REFERENCES a(id));
             CREATE TABLE b (id INTEGER PRIMARY KEY, a INT REFERENCES a(id));
             CREATE TABLE a (id INTEGER PRIMARY KEY);
             CREATE TABLE z (id INTEGER PRIMARY KEY);",
        );
        assert_eq!(o.tables, vec!["a", "b", "c", "z"]);
        assert!(o.deferred.is_empty());
    }

    #[test]
    fn self_references_and_cycles_are_deferred() {
        let o = order(
            "CREATE TABLE emp (id INTEGER PRIMARY KEY, boss INT REFERENCES emp(id), dept INT REFERENCES dept(id));
             CREATE TABLE dept (id INTEGER PRIMARY KEY, head INT REFERENCES emp(id));",
        );
        assert_eq!(o.tables, vec!["dept", "emp"]);
        // dept.head → emp (cycle edge) and emp.boss → emp (self) are deferred.
        assert_eq!(
            o.deferred,
            vec![("dept".to_string(), 0), ("emp".to_string(), 0)]
        );
    }
}
