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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_at_every_level_and_the_form_is_compact() {
        let v = json!({"b": {"z": 1, "a": [{"y": true, "x": null}]}, "a": "é", "B": 2});
        assert_eq!(
            String::from_utf8(canonical_bytes(&v)).unwrap(),
            r#"{"B":2,"a":"é","b":{"a":[{"x":null,"y":true}],"z":1}}"#
        );
        // The value is the same, only its keys reordered.
        assert_eq!(canonicalize(&v), v);
        let sorted = canonicalize(&v);
        let keys: Vec<&String> = sorted.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["B", "a", "b"]);
        assert_eq!(canonicalize(&json!([3, "x"])), json!([3, "x"]));
        assert_eq!(canonical_bytes(&json!(7)), b"7");
    }

    #[test]
    fn a_seal_is_the_sha256_of_the_canonical_bytes_without_the_seal() {
        let v = json!({"b": 1, "a": 2});
        let want = crate::hash::sha256_hex(br#"{"a":2,"b":1}"#);
        assert_eq!(seal_of(&v), want);
        // The recorded seal is not part of what it seals…
        assert_eq!(seal_of(&json!({"a": 2, "seal": "x", "b": 1})), want);
        // …everything else is.
        assert_ne!(seal_of(&json!({"a": 2, "b": 2})), want);
        assert_eq!(seal_of(&json!([1])), crate::hash::sha256_hex(b"[1]"));
    }
}
