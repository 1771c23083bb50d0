//! Canonical JSON, the one form every seal is computed over: object keys
//! sorted by bytes at every level, no insignificant whitespace (serde_json's
//! compact writer). Reports and the seal manifest both seal this form, so a
//! reviewer re-checks either with the same few lines (tools/report_seal.py).

use serde_json::Value;

/// Sort every object's keys recursively (serde_json keeps insertion order in
/// this crate, so rebuilding in sorted order makes the form canonical).
pub fn canonicalize(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = serde_json::Map::new();
            for k in keys {
                out.insert(k.clone(), canonicalize(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(canonicalize).collect()),
        other => other.clone(),
    }
}

/// Canonical bytes: sorted keys, compact.
pub fn canonical_bytes(v: &Value) -> Vec<u8> {
    // Serialising a Value cannot fail.
    serde_json::to_vec(&canonicalize(v)).unwrap_or_default()
}

/// The seal of a report value: SHA-256 of its canonical bytes without `seal`.
pub fn seal_of(v: &Value) -> String {
    let mut v = v.clone();
    if let Value::Object(m) = &mut v {
        m.remove("seal");
    }
    crate::hash::sha256_hex(&canonical_bytes(&v))
}
